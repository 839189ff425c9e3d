/* Helpers shared by the unit tests.  Include after <cmocka.h>. */
#ifndef STRATA_TESTS_UNIT_H
#define STRATA_TESTS_UNIT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

/* The message of ERR contains NEEDLE. */
#define assert_error_contains(err, needle)                                                     \
  do {                                                                                         \
    const struct strata_error *e_ = (err);                                                     \
    assert_non_null(e_);                                                                       \
    assert_non_null(e_->msg);                                                                  \
    if (strstr(e_->msg, (needle)) == NULL)                                                     \
      fail_msg("error '%s' does not contain '%s'", e_->msg, (needle));                         \
  } while (0)

/* S contains NEEDLE. */
#define assert_contains(s, needle)                                                             \
  do {                                                                                         \
    const char *s_ = (s);                                                                      \
    assert_non_null(s_);                                                                       \
    if (strstr(s_, (needle)) == NULL)                                                          \
      fail_msg("'%s' does not contain '%s'", s_, (needle));                                    \
  } while (0)

#define assert_not_contains(s, needle)                                                         \
  do {                                                                                         \
    const char *s_ = (s);                                                                      \
    assert_non_null(s_);                                                                       \
    if (strstr(s_, (needle)) != NULL)                                                          \
      fail_msg("'%s' contains '%s'", s_, (needle));                                            \
  } while (0)

/* Either both NULL or equal strings. */
#define assert_string_or_null_equal(a, b)                                                      \
  do {                                                                                         \
    const char *a_ = (a), *b_ = (b);                                                           \
    if (a_ == NULL || b_ == NULL) {                                                            \
      if (a_ != b_)                                                                            \
        fail_msg("'%s' != '%s'", a_ ? a_ : "(null)", b_ ? b_ : "(null)");                      \
    } else {                                                                                   \
      assert_string_equal(a_, b_);                                                             \
    }                                                                                          \
  } while (0)

#endif
