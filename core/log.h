/* One logger with levels; every file names its domain ("store",
 * "storage.copy").  Debug output is off unless --log-level debug. */
#ifndef STRATA_CORE_LOG_H
#define STRATA_CORE_LOG_H

#include <strata/plugin/host.h>

void strata_log(enum strata_log_level level, const char *domain, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void strata_log_set_level(enum strata_log_level level);
enum strata_log_level strata_log_get_level(void);
/* "error", "warn", "info", "debug" -> level; -1 if unknown. */
int strata_log_parse_level(const char *name);

#define log_error(...) strata_log(STRATA_LOG_ERROR, LOG_DOMAIN, __VA_ARGS__)
#define log_warning(...) strata_log(STRATA_LOG_WARNING, LOG_DOMAIN, __VA_ARGS__)
#define log_info(...) strata_log(STRATA_LOG_INFO, LOG_DOMAIN, __VA_ARGS__)
#define log_debug(...) strata_log(STRATA_LOG_DEBUG, LOG_DOMAIN, __VA_ARGS__)

#endif
