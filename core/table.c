#include "config.h"
#include "table.h"

#include <stdlib.h>
#include <string.h>

#define MIN_WIDTH 10
#define PADDING 3

struct strata_table {
  size_t ncols, nrows, cap;
  char **cells; /* nrows * ncols */
};

struct strata_table *strata_table_new(size_t ncols) {
  struct strata_table *t = calloc(1, sizeof(*t));
  if (t)
    t->ncols = ncols;
  return t;
}

void strata_table_add(struct strata_table *t, const char *const *cells) {
  if (t == NULL)
    return;
  if (t->nrows == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 16;
    char **nc = realloc(t->cells, cap * t->ncols * sizeof(char *));
    if (nc == NULL)
      return;
    t->cells = nc;
    t->cap = cap;
  }
  for (size_t c = 0; c < t->ncols; c++)
    t->cells[t->nrows * t->ncols + c] = strdup(cells[c] ? cells[c] : "");
  t->nrows++;
}

/* Width in characters, counting each UTF-8 sequence once (like Go's runes). */
static size_t text_width(const char *s) {
  size_t w = 0;
  for (; *s; s++)
    if (((unsigned char)*s & 0xc0) != 0x80)
      w++;
  return w;
}

void strata_table_flush(struct strata_table *t, FILE *out) {
  size_t *width;
  if (t == NULL)
    return;
  width = calloc(t->ncols, sizeof(size_t));
  for (size_t c = 0; width && c + 1 < t->ncols; c++) {
    width[c] = MIN_WIDTH;
    for (size_t r = 0; r < t->nrows; r++) {
      size_t w = text_width(t->cells[r * t->ncols + c]) + PADDING;
      if (w > width[c])
        width[c] = w;
    }
  }
  for (size_t r = 0; r < t->nrows; r++) {
    for (size_t c = 0; c < t->ncols; c++) {
      const char *cell = t->cells[r * t->ncols + c];
      fputs(cell, out);
      if (c + 1 < t->ncols && width)
        for (size_t k = text_width(cell); k < width[c]; k++)
          fputc(' ', out);
      free(t->cells[r * t->ncols + c]);
    }
    fputc('\n', out);
  }
  free(width);
  free(t->cells);
  free(t);
}
