#include "config.h"
#include "commands.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "container.h"

int cli_fail(struct strata_error *err, int code) {
  fprintf(stderr, "strata: error: %s\n", err && err->msg ? err->msg : "unknown error");
  strata_error_free(err);
  return code;
}

int cli_failf(int code, const char *fmt, ...) {
  va_list ap;
  fputs("strata: error: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  return code;
}

int cli_usage(const char *cmd, int code, const char *fmt, ...) {
  va_list ap;
  fputs("strata: error: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, ". See 'strata %s --help'.\n", cmd);
  return code;
}

int cli_parse_bool(const char *s, bool *out) {
  if (s == NULL || strcmp(s, "true") == 0 || strcmp(s, "1") == 0 || strcmp(s, "t") == 0 ||
      strcmp(s, "TRUE") == 0 || strcmp(s, "True") == 0) {
    *out = true;
    return 0;
  }
  if (strcmp(s, "false") == 0 || strcmp(s, "0") == 0 || strcmp(s, "f") == 0 ||
      strcmp(s, "FALSE") == 0 || strcmp(s, "False") == 0) {
    *out = false;
    return 0;
  }
  return -1;
}

void cli_help(const char *cmd, const char *text) {
  (void)cmd;
  fputs(text, stdout);
}

int cli_print_rows(const char *format, const char *default_format, json_t *const *rows,
                   size_t nrows, const struct strata_template_header *headers,
                   const char *type_name, const struct strata_template_method *methods) {
  struct strata_template_format f = {0};
  struct strata_template *tpl = NULL;
  struct strata_error *err = NULL;
  struct strata_template_options opts = {
      .flags = STRATA_TEMPLATE_STRICT, .type_name = type_name, .methods = methods};
  int r;

  if (strata_template_prepare(format && *format ? format : default_format, &f, &err) < 0)
    return cli_fail(err, EXIT_ENGINE);
  if (f.table && f.text[0] == '\0') {
    /* a bare "table" means the command's default table */
    strata_template_format_clear(&f);
    if (strata_template_prepare(default_format, &f, &err) < 0)
      return cli_fail(err, EXIT_ENGINE);
  }
  if (strata_template_parse(f.text, &tpl, &err) < 0) {
    strata_template_format_clear(&f);
    return cli_fail(err, EXIT_ENGINE);
  }
  if (f.json)
    opts.flags &= ~STRATA_TEMPLATE_STRICT;
  if (f.table)
    r = strata_template_render_table(tpl, rows, nrows, headers, &opts, stdout, &err);
  else
    r = strata_template_render_rows(tpl, rows, nrows, &opts, stdout, &err);
  strata_template_free(tpl);
  strata_template_format_clear(&f);
  return r < 0 ? cli_fail(err, EXIT_ENGINE) : 0;
}

int cli_find_container(struct strata_context *ctx, const char *what, int code, char **id,
                       json_t **rec) {
  struct strata_error *err = NULL;
  int r;
  *id = NULL;
  if (rec)
    *rec = NULL;
  if (strata_context_store(ctx, false, &err) < 0)
    return cli_fail(err, code);
  r = strata_container_resolve(ctx->store, what, id, &err);
  if (r < 0)
    return cli_fail(err, code);
  if (r == 1)
    return cli_failf(code, "No such container: %s", what);
  if (rec == NULL)
    return 0;
  r = strata_container_load(ctx->store, *id, rec, &err);
  if (r != 0) {
    free(*id);
    *id = NULL;
    return r == 1 ? cli_failf(code, "No such container: %s", what) : cli_fail(err, code);
  }
  return 0;
}
