#include "config.h"
#include "error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void strata_error_free(struct strata_error *err) {
  if (err == NULL)
    return;
  free(err->msg);
  free(err);
}

void strata_error_clear(struct strata_error **err) {
  if (err == NULL)
    return;
  strata_error_free(*err);
  *err = NULL;
}

int strata_error_move(struct strata_error **err, struct strata_error **from) {
  struct strata_error *e = *from;
  *from = NULL;
  if (err == NULL) {
    strata_error_free(e);
    return -1;
  }
  strata_error_free(*err);
  *err = e;
  return -1;
}

int strata_error_setv(struct strata_error **err, int errnum, const char *fmt, va_list ap) {
  char *msg = NULL;
  struct strata_error *e;

  if (err == NULL)
    return -1;
  if (vasprintf(&msg, fmt, ap) < 0)
    msg = NULL;
  if (msg != NULL && errnum != 0) {
    char *full = NULL;
    if (asprintf(&full, "%s: %s", msg, strerror(errnum)) >= 0) {
      free(msg);
      msg = full;
    }
  }
  e = calloc(1, sizeof(*e));
  if (e == NULL) {
    free(msg);
    return -1; /* out of memory: the caller still sees failure */
  }
  e->errnum = errnum;
  e->msg = msg != NULL ? msg : strdup("out of memory");
  strata_error_free(*err);
  *err = e;
  return -1;
}

int strata_error_set(struct strata_error **err, int errnum, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  strata_error_setv(err, errnum, fmt, ap);
  va_end(ap);
  return -1;
}

int strata_error_wrapv(struct strata_error **err, const char *fmt, va_list ap) {
  char *ctx = NULL, *full = NULL;

  if (err == NULL || *err == NULL)
    return -1;
  if (vasprintf(&ctx, fmt, ap) < 0)
    return -1;
  if (asprintf(&full, "%s: %s", ctx, (*err)->msg ? (*err)->msg : "") >= 0) {
    free((*err)->msg);
    (*err)->msg = full;
  }
  free(ctx);
  return -1;
}

int strata_error_wrap(struct strata_error **err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  strata_error_wrapv(err, fmt, ap);
  va_end(ap);
  return -1;
}
