#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "filter.h"
#include "unit.h"

static const char *const keys[] = {"status", "name", "label", NULL};

/* Parses ARGS (NULL-terminated) into a filter object; fails the test on error. */
static json_t *parse(const char *const *args) {
  json_t *f = NULL;
  struct strata_error *err = NULL;
  for (; *args; args++) {
    if (strata_filter_add(&f, *args, keys, &err) != 0)
      fail_msg("'%s': %s", *args, err ? err->msg : "?");
  }
  return f;
}

static void test_filter__parse_groups_by_key(void **state) {
  const char *args[] = {"status=exited", " Status = running ", "name=web", NULL};
  json_t *f = parse(args), *v;
  (void)state;
  v = strata_filter_values(f, "status");
  assert_int_equal(json_array_size(v), 2);
  assert_string_equal(json_string_value(json_array_get(v, 0)), "exited");
  assert_string_equal(json_string_value(json_array_get(v, 1)), "running");
  assert_int_equal(json_array_size(strata_filter_values(f, "name")), 1);
  assert_true(strata_filter_has(f, "name"));
  assert_false(strata_filter_has(f, "label"));
  assert_null(strata_filter_values(f, "label"));
  json_decref(f);
}

static void test_filter__value_may_hold_equals(void **state) {
  const char *args[] = {"label=a=b=c", NULL};
  json_t *f = parse(args);
  (void)state;
  assert_string_equal(json_string_value(json_array_get(strata_filter_values(f, "label"), 0)),
                      "a=b=c");
  json_decref(f);
}

static void test_filter__errors(void **state) {
  json_t *f = NULL;
  struct strata_error *err = NULL;
  (void)state;
  assert_true(strata_filter_add(&f, "foo=bar", keys, &err) < 0);
  assert_error_contains(err, "invalid filter 'foo'");
  strata_error_clear(&err);
  assert_true(strata_filter_add(&f, "status", keys, &err) < 0);
  assert_error_contains(err, "bad format of filter (expected name=value)");
  strata_error_clear(&err);
  assert_null(f);
}

static bool is_even_len(const char *value, void *data) {
  (void)data;
  return strlen(value) % 2 == 0;
}

static void test_filter__any_is_or_of_one_key(void **state) {
  const char *one[] = {"name=abc", NULL}, *two[] = {"name=abc", "name=ab", NULL};
  json_t *f1 = parse(one), *f2 = parse(two);
  (void)state;
  assert_false(strata_filter_any(f1, "name", is_even_len, NULL));
  assert_true(strata_filter_any(f2, "name", is_even_len, NULL));
  /* an absent key constrains nothing */
  assert_true(strata_filter_any(f1, "status", is_even_len, NULL));
  assert_true(strata_filter_any(NULL, "status", is_even_len, NULL));
  json_decref(f1);
  json_decref(f2);
}

static void test_filter__regexp(void **state) {
  const char *args[] = {"name=^we.$", "name=db", NULL}, *bad[] = {"name=a(", NULL};
  json_t *f = parse(args), *b = parse(bad);
  (void)state;
  assert_true(strata_filter_match_regexp(f, "name", "web"));
  assert_true(strata_filter_match_regexp(f, "name", "my-db-1"));
  assert_false(strata_filter_match_regexp(f, "name", "webs"));
  assert_false(strata_filter_match_regexp(f, "name", "cache"));
  /* an invalid expression still matches by equality */
  assert_true(strata_filter_match_regexp(b, "name", "a("));
  assert_false(strata_filter_match_regexp(b, "name", "a"));
  assert_true(strata_filter_match_regexp(f, "status", "anything"));
  json_decref(f);
  json_decref(b);
}

static void test_filter__labels_are_and(void **state) {
  const char *args[] = {"label=a", "label=b=2", NULL}, *empty[] = {"label=c=", NULL};
  json_t *f = parse(args), *e = parse(empty);
  json_t *both = json_pack("{s:s, s:s}", "a", "x", "b", "2");
  json_t *wrong = json_pack("{s:s, s:s}", "a", "x", "b", "3");
  json_t *onlya = json_pack("{s:s}", "a", "x");
  json_t *cempty = json_pack("{s:s}", "c", "");
  (void)state;
  assert_true(strata_filter_match_labels(f, "label", both));
  assert_false(strata_filter_match_labels(f, "label", wrong));
  assert_false(strata_filter_match_labels(f, "label", onlya));
  assert_false(strata_filter_match_labels(f, "label", NULL));
  assert_true(strata_filter_match_labels(e, "label", cempty));
  assert_false(strata_filter_match_labels(e, "label", onlya));
  assert_true(strata_filter_match_labels(NULL, "label", NULL));
  json_decref(f);
  json_decref(e);
  json_decref(both);
  json_decref(wrong);
  json_decref(onlya);
  json_decref(cempty);
}

static void test_filter__check_values(void **state) {
  const char *good[] = {"status=exited", "status=created", NULL};
  const char *badv[] = {"status=exited", "status=foo", NULL};
  const char *const allowed[] = {"created", "running", "exited", NULL};
  json_t *g = parse(good), *b = parse(badv);
  struct strata_error *err = NULL;
  (void)state;
  assert_int_equal(strata_filter_check_values(g, "status", allowed, &err), 0);
  assert_true(strata_filter_check_values(b, "status", allowed, &err) < 0);
  assert_error_contains(err, "invalid filter 'status=foo'");
  strata_error_clear(&err);
  assert_int_equal(strata_filter_check_values(NULL, "status", allowed, &err), 0);
  json_decref(g);
  json_decref(b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_filter__parse_groups_by_key),
      cmocka_unit_test(test_filter__value_may_hold_equals),
      cmocka_unit_test(test_filter__errors),
      cmocka_unit_test(test_filter__any_is_or_of_one_key),
      cmocka_unit_test(test_filter__regexp),
      cmocka_unit_test(test_filter__labels_are_and),
      cmocka_unit_test(test_filter__check_values),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
