/* The template engine's public face: parsing, rendering, and Docker's
 * --format conventions (json shorthand, table prefix, \t and \n escapes,
 * header rows, tab alignment). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "json-cleanup.h"
#include "table.h"
#include "template-internal.h"

int strata_template_parse(const char *text, struct strata_template **out,
                          struct strata_error **err) {
  return strata_tpl_parse(text ? text : "", out, err);
}

int strata_template_render(const struct strata_template *tpl, json_t *dot,
                           const struct strata_template_options *opts, char **out, size_t *len,
                           struct strata_error **err) {
  struct tpl_buf b = {0};
  if (strata_tpl_execute(tpl, dot, opts, false, &b, err) < 0) {
    strata_tpl_buf_free(&b);
    return -1;
  }
  if (b.s == NULL && (b.s = strdup("")) == NULL)
    return strata_error_set(err, ENOMEM, "template output");
  *out = b.s;
  if (len)
    *len = b.len;
  return 0;
}

/* Writes B to OUT only when R (what filled it) succeeded: Docker prints
 * nothing of an object whose template failed.  Frees B. */
static int emit(struct tpl_buf *b, int r, FILE *out) {
  if (r >= 0 && b->len)
    fwrite(b->s, 1, b->len, out);
  strata_tpl_buf_free(b);
  return r < 0 ? -1 : 0;
}

int strata_template_execute(const struct strata_template *tpl, json_t *dot,
                            const struct strata_template_options *opts, FILE *out,
                            struct strata_error **err) {
  struct tpl_buf b = {0};
  return emit(&b, strata_tpl_execute(tpl, dot, opts, false, &b, err), out);
}

char *strata_template_unescape(const char *s) {
  size_t n = strlen(s);
  char *r = malloc(n + 1), *w = r;
  if (r == NULL)
    return NULL;
  /* strings.NewReplacer(`\t`, "\t", `\n`, "\n"): left to right, no
   * rescanning of what was replaced */
  for (size_t k = 0; k < n; k++) {
    if (s[k] == '\\' && (s[k + 1] == 't' || s[k + 1] == 'n')) {
      *w++ = s[k + 1] == 't' ? '\t' : '\n';
      k++;
    } else {
      *w++ = s[k];
    }
  }
  *w = '\0';
  return r;
}

int strata_template_prepare(const char *format, struct strata_template_format *f,
                            struct strata_error **err) {
  const char *s = format ? format : "";
  size_t n;
  char *trimmed;
  *f = (struct strata_template_format){0};
  if (strcmp(s, "json") == 0) {
    f->json = true;
    s = "{{json .}}";
  } else if (strncmp(s, "table", 5) == 0) {
    f->table = true;
    s += 5;
  }
  /* strings.Trim(format, " "): spaces only, not tabs or newlines */
  while (*s == ' ')
    s++;
  n = strlen(s);
  while (n > 0 && s[n - 1] == ' ')
    n--;
  trimmed = strndup(s, n);
  if (trimmed == NULL)
    return strata_error_set(err, ENOMEM, "format");
  f->text = strata_template_unescape(trimmed);
  free(trimmed);
  if (f->text == NULL)
    return strata_error_set(err, ENOMEM, "format");
  return 0;
}

void strata_template_format_clear(struct strata_template_format *f) {
  free(f->text);
  *f = (struct strata_template_format){0};
}

/* Every row, each followed by a newline, into B. */
static int render_rows(const struct strata_template *tpl, json_t *const *rows, size_t nrows,
                       const struct strata_template_options *opts, struct tpl_buf *b,
                       struct strata_error **err) {
  for (size_t i = 0; i < nrows; i++) {
    if (strata_tpl_execute(tpl, rows[i], opts, false, b, err) < 0)
      return -1;
    strata_tpl_buf_putc(b, '\n');
  }
  return 0;
}

int strata_template_render_rows(const struct strata_template *tpl, json_t *const *rows,
                                size_t nrows, const struct strata_template_options *opts,
                                FILE *out, struct strata_error **err) {
  struct tpl_buf b = {0};
  return emit(&b, render_rows(tpl, rows, nrows, opts, &b, err), out);
}

int strata_template_render_table(const struct strata_template *tpl, json_t *const *rows,
                                 size_t nrows, const struct strata_template_header *headers,
                                 const struct strata_template_options *opts, FILE *out,
                                 struct strata_error **err) {
  struct tpl_buf body = {0}, all = {0};
  cleanup_json json_t *hdr = json_object();
  struct strata_error *herr = NULL;

  if (hdr == NULL)
    return strata_error_set(err, ENOMEM, "table header");
  if (render_rows(tpl, rows, nrows, opts, &body, err) < 0) {
    strata_tpl_buf_free(&body);
    return -1;
  }
  for (const struct strata_template_header *h = headers; h && h->field; h++)
    json_object_set_new(hdr, h->field, json_string(h->text ? h->text : ""));
  /* Docker ignores errors here: the header is whatever was printed before
   * the failure (the rows, which ran the same template, already passed).
   * The header map is a map, not a struct, so no strict mode. */
  strata_tpl_execute(tpl, hdr, NULL, true, &all, &herr);
  strata_error_free(herr);
  strata_tpl_buf_putc(&all, '\n');
  if (body.len)
    strata_tpl_buf_add(&all, body.s, body.len);
  strata_tpl_buf_free(&body);
  if (all.oom) {
    strata_tpl_buf_free(&all);
    return strata_error_set(err, ENOMEM, "table");
  }
  strata_table_write_tabbed(all.s, all.len, out);
  strata_tpl_buf_free(&all);
  return 0;
}
