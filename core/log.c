#include "config.h"
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static enum strata_log_level current_level = STRATA_LOG_WARNING;

void strata_log_set_level(enum strata_log_level level) { current_level = level; }
enum strata_log_level strata_log_get_level(void) { return current_level; }

int strata_log_parse_level(const char *name) {
  static const char *const names[] = {"error", "warn", "info", "debug"};
  for (int i = 0; i < 4; i++)
    if (strcmp(name, names[i]) == 0)
      return i;
  if (strcmp(name, "warning") == 0)
    return STRATA_LOG_WARNING;
  return -1;
}

void strata_log(enum strata_log_level level, const char *domain, const char *fmt, ...) {
  static const char *const tags[] = {"error", "warning", "info", "debug"};
  va_list ap;

  if (level > current_level)
    return;
  fprintf(stderr, "strata: %s: [%s] ", tags[level], domain);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}
