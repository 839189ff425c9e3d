#include "config.h"
#include "commands.h"

#include <stdarg.h>
#include <string.h>

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
