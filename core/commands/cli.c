#include "config.h"
#include "commands.h"

#include <getopt.h>
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

static int cli_argc;
static char **cli_argv;

void cli_set_args(int argc, char **argv) {
  cli_argc = argc;
  cli_argv = argv;
}

/* What getopt_long refused, in Docker's words, from the arguments it was
 * given (main turns getopt's own two-line messages off). */
static void print_bad_option(void) {
  const char *tok = optind >= 1 && optind - 1 < cli_argc ? cli_argv[optind - 1] : NULL;
  if (tok == NULL || tok[0] != '-') {
    fputs("invalid option", stderr);
  } else if (tok[1] == '-') {
    /* getopt_long leaves optopt 0 for an unknown long option and sets it
     * to the option's value when its argument is missing */
    fprintf(stderr, optopt ? "flag needs an argument: %s" : "unknown flag: %s", tok);
  } else if (optopt && optind == cli_argc && tok[strlen(tok) - 1] == optopt) {
    fprintf(stderr, "unknown shorthand flag or missing value: '%c' in %s", optopt, tok);
  } else {
    /* inside a cluster (-qz), optind may still point at the cluster */
    const char *t = optind < cli_argc && cli_argv[optind][0] == '-' && strchr(cli_argv[optind], optopt)
                        ? cli_argv[optind]
                        : tok;
    fprintf(stderr, "unknown shorthand flag: '%c' in %s", optopt, t);
  }
}

int cli_bad_option(const char *cmd) {
  fputs("strata: error: ", stderr);
  print_bad_option();
  fprintf(stderr, ". See 'strata %s --help'.\n", cmd);
  return EXIT_ENGINE;
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

int cli_print_docs(const char *format, json_t *const *docs, size_t ndocs) {
  /* documents are maps, as behind `docker inspect`: an unknown key prints
   * "<no value>" instead of failing */
  struct strata_template_options opts = {.flags = 0};
  struct strata_template_format f = {0};
  struct strata_template *tpl = NULL;
  struct strata_error *err = NULL;
  int r;

  if (strata_template_prepare(format, &f, &err) < 0 ||
      strata_template_parse(f.text, &tpl, &err) < 0) {
    strata_template_format_clear(&f);
    return cli_fail(err, EXIT_ENGINE);
  }
  r = strata_template_render_rows(tpl, docs, ndocs, &opts, stdout, &err);
  strata_template_free(tpl);
  strata_template_format_clear(&f);
  return r < 0 ? cli_fail(err, EXIT_ENGINE) : 0;
}

int cli_args_only(const char *cmd, const char *help, int argc, char **argv, int min, bool exact) {
  static const struct option opts[] = {
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  int c = getopt_long(argc, argv, "+h", opts, NULL);
  if (c == 'h') {
    cli_help(cmd, help);
    return 0;
  }
  if (c != -1)
    return cli_bad_option(cmd);
  if (exact && argc - optind != min)
    return cli_usage(cmd, EXIT_ENGINE, "\"%s\" requires exactly %d argument%s", cmd, min,
                     min == 1 ? "" : "s");
  if (argc - optind < min)
    return cli_usage(cmd, EXIT_ENGINE, "\"%s\" requires at least %d argument%s", cmd, min,
                     min == 1 ? "" : "s");
  return -1;
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
