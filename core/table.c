#include "config.h"
#include "table.h"

#include <stdbool.h>
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

/* ------------------------------------------------------------------ tabwriter
 *
 * A port of Go's text/tabwriter (Writer.Write, Flush, format, writeLines)
 * restricted to the settings Docker uses: escapes and HTML filtering are
 * off there, so they are not implemented. */

struct tw_cell {
  size_t size;  /* bytes */
  size_t width; /* characters */
};

struct tw_line {
  struct tw_cell *cells;
  size_t n, cap;
};

struct tabwriter {
  char *buf; /* the cells' text, terminators removed */
  size_t len, cap;
  struct tw_line *lines;
  size_t nlines, caplines;
  size_t *widths;
  size_t nwidths, capwidths;
  struct tw_cell cell; /* the current, unterminated cell */
  FILE *out;
  bool oom;
};

static size_t text_width_n(const char *s, size_t n) {
  size_t w = 0;
  for (size_t k = 0; k < n; k++)
    if (((unsigned char)s[k] & 0xc0) != 0x80)
      w++;
  return w;
}

static void tw_append(struct tabwriter *w, const char *s, size_t n) {
  if (w->len + n > w->cap) {
    size_t cap = w->cap ? w->cap : 256;
    char *nb;
    while (cap < w->len + n)
      cap *= 2;
    nb = realloc(w->buf, cap);
    if (nb == NULL) {
      w->oom = true;
      return;
    }
    w->buf = nb;
    w->cap = cap;
  }
  memcpy(w->buf + w->len, s, n);
  w->len += n;
  w->cell.size += n;
  w->cell.width += text_width_n(s, n);
}

static void tw_add_line(struct tabwriter *w) {
  if (w->nlines == w->caplines) {
    size_t cap = w->caplines ? w->caplines * 2 : 16;
    struct tw_line *nl = realloc(w->lines, cap * sizeof(*nl));
    if (nl == NULL) {
      w->oom = true;
      return;
    }
    w->lines = nl;
    w->caplines = cap;
  }
  w->lines[w->nlines++] = (struct tw_line){0};
}

static size_t tw_terminate_cell(struct tabwriter *w) {
  struct tw_line *l = &w->lines[w->nlines - 1];
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 8;
    struct tw_cell *nc = realloc(l->cells, cap * sizeof(*nc));
    if (nc == NULL) {
      w->oom = true;
      return l->n;
    }
    l->cells = nc;
    l->cap = cap;
  }
  l->cells[l->n++] = w->cell;
  w->cell = (struct tw_cell){0};
  return l->n;
}

static size_t tw_write_lines(struct tabwriter *w, size_t pos, size_t line0, size_t line1) {
  for (size_t i = line0; i < line1; i++) {
    struct tw_line *l = &w->lines[i];
    for (size_t j = 0; j < l->n; j++) {
      struct tw_cell *c = &l->cells[j];
      fwrite(w->buf + pos, 1, c->size, w->out);
      pos += c->size;
      if (j < w->nwidths)
        for (size_t k = c->width; k < w->widths[j]; k++)
          fputc(' ', w->out);
    }
    if (i + 1 == w->nlines) {
      fwrite(w->buf + pos, 1, w->cell.size, w->out);
      pos += w->cell.size;
    } else {
      fputc('\n', w->out);
    }
  }
  return pos;
}

/* Does line L have a cell in COLUMN that is not its last one? */
static bool tw_in_column(const struct tw_line *l, size_t column) { return column + 1 < l->n; }

static size_t tw_format(struct tabwriter *w, size_t pos, size_t line0, size_t line1) {
  size_t column = w->nwidths;
  for (size_t this = line0; this < line1; this++) {
    size_t width = MIN_WIDTH;
    if (!tw_in_column(&w->lines[this], column))
      continue;
    /* a block of consecutive lines with a cell in this column */
    pos = tw_write_lines(w, pos, line0, this);
    line0 = this;
    for (; this < line1 && tw_in_column(&w->lines[this], column); this++)
      if (w->lines[this].cells[column].width + PADDING > width)
        width = w->lines[this].cells[column].width + PADDING;
    if (w->nwidths == w->capwidths) {
      size_t cap = w->capwidths ? w->capwidths * 2 : 8;
      size_t *nw = realloc(w->widths, cap * sizeof(*nw));
      if (nw == NULL) {
        w->oom = true;
        return pos;
      }
      w->widths = nw;
      w->capwidths = cap;
    }
    w->widths[w->nwidths++] = width;
    pos = tw_format(w, pos, line0, this);
    w->nwidths--;
    line0 = this;
  }
  return tw_write_lines(w, pos, line0, line1);
}

static void tw_reset(struct tabwriter *w) {
  for (size_t i = 0; i < w->nlines; i++)
    free(w->lines[i].cells);
  w->nlines = 0;
  w->len = 0;
  w->cell = (struct tw_cell){0};
  w->nwidths = 0;
  tw_add_line(w);
}

static void tw_flush(struct tabwriter *w) {
  if (!w->oom)
    tw_format(w, 0, 0, w->nlines);
  tw_reset(w);
}

void strata_table_write_tabbed(const char *text, size_t len, FILE *out) {
  struct tabwriter w = {.out = out};
  size_t n = 0;

  tw_add_line(&w);
  for (size_t i = 0; i < len && !w.oom; i++) {
    char ch = text[i];
    size_t ncells;
    if (ch != '\t' && ch != '\v' && ch != '\n' && ch != '\f')
      continue;
    tw_append(&w, text + n, i - n);
    n = i + 1;
    ncells = tw_terminate_cell(&w);
    if (ch == '\n' || ch == '\f') {
      tw_add_line(&w);
      /* a line of one cell ends every column block: flush what we have */
      if (ch == '\f' || ncells == 1)
        tw_flush(&w);
    }
  }
  tw_append(&w, text + n, len - n);
  if (w.cell.size > 0)
    tw_terminate_cell(&w);
  tw_flush(&w);
  for (size_t i = 0; i < w.nlines; i++)
    free(w.lines[i].cells);
  free(w.lines);
  free(w.widths);
  free(w.buf);
}
