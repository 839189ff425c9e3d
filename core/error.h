/* Errors: every fallible call takes `struct strata_error **err`, returns
 * negative on failure and fills *err; callers wrap it with context. */
#ifndef STRATA_CORE_ERROR_H
#define STRATA_CORE_ERROR_H

#include <stdarg.h>

struct strata_error {
  int errnum;  /* errno of the root cause, 0 if none */
  char *msg;   /* full message, context first */
};

/* Sets *err (freeing an older one) and returns -1.  When errnum is not 0,
 * ": strerror(errnum)" is appended. */
int strata_error_set(struct strata_error **err, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int strata_error_setv(struct strata_error **err, int errnum, const char *fmt, va_list ap);
/* Prefixes the message of *err with "context: "; returns -1. */
int strata_error_wrap(struct strata_error **err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int strata_error_wrapv(struct strata_error **err, const char *fmt, va_list ap);
void strata_error_free(struct strata_error *err);
/* Releases *err and sets it to NULL. */
void strata_error_clear(struct strata_error **err);
/* Hands *FROM over to *ERR (freeing an older one; dropped when ERR is
 * NULL), leaving *FROM NULL; returns -1. */
int strata_error_move(struct strata_error **err, struct strata_error **from);

#endif
