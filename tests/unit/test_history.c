#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "history.h"
#include "unit.h"

static json_t *load(const char *text) {
  json_error_t jerr;
  json_t *j = json_loads(text, 0, &jerr);

  if (j == NULL)
    fail_msg("bad test JSON: %s", jerr.text);
  return j;
}

/* A busybox-like image: ADD (layer), CMD (empty), then two RUNs (layers),
 * one with a comment, and a trailing empty LABEL. */
static const char config_text[] =
    "{\"created\": \"2024-02-02T00:00:00Z\", \"history\": ["
    " {\"created\": \"2024-01-01T00:00:00Z\", \"created_by\": \"/bin/sh -c #(nop) ADD file:abc in / \"},"
    " {\"created\": \"2024-01-01T00:00:01Z\", \"created_by\": \"/bin/sh -c #(nop)  CMD [\\\"sh\\\"]\","
    "  \"empty_layer\": true},"
    " {\"created\": \"2024-01-01T00:00:02Z\", \"created_by\": \"RUN apk add curl\", \"comment\": \"buildkit.dockerfile.v0\"},"
    " {\"created_by\": \"RUN true\", \"empty_layer\": false},"
    " {\"created\": \"2024-01-01T00:00:04Z\", \"created_by\": \"LABEL a=b\", \"empty_layer\": true}"
    "]}";

static void test_history__rows_follow_history(void **state) {
  json_t *config = load(config_text);
  json_t *sizes = load("[4261550, 7340032, 0]");
  struct strata_history_row *rows = NULL;
  struct strata_error *err = NULL;
  size_t n = 0;

  (void)state;
  assert_int_equal(strata_history_rows(config, sizes, &rows, &n, &err), 0);
  assert_null(err);
  assert_int_equal(n, 5);

  assert_false(rows[0].empty_layer);
  assert_int_equal(rows[0].layer, 0);
  assert_int_equal(rows[0].size, 4261550);
  assert_string_equal(rows[0].created, "2024-01-01T00:00:00Z");
  assert_string_equal(rows[0].created_by, "/bin/sh -c #(nop) ADD file:abc in / ");
  assert_string_equal(rows[0].comment, "");

  assert_true(rows[1].empty_layer);
  assert_int_equal(rows[1].layer, -1);
  assert_int_equal(rows[1].size, 0);
  assert_string_equal(rows[1].created_by, "/bin/sh -c #(nop)  CMD [\"sh\"]");

  assert_false(rows[2].empty_layer);
  assert_int_equal(rows[2].layer, 1);
  assert_int_equal(rows[2].size, 7340032);
  assert_string_equal(rows[2].comment, "buildkit.dockerfile.v0");

  /* "empty_layer": false is a layer; a missing "created" is NULL */
  assert_false(rows[3].empty_layer);
  assert_int_equal(rows[3].layer, 2);
  assert_int_equal(rows[3].size, 0);
  assert_null(rows[3].created);

  assert_true(rows[4].empty_layer);
  assert_int_equal(rows[4].layer, -1);
  assert_int_equal(rows[4].size, 0);
  assert_string_equal(rows[4].created_by, "LABEL a=b");

  free(rows);
  json_decref(sizes);
  json_decref(config);
}

static void test_history__strings_point_into_config(void **state) {
  json_t *config = load(config_text);
  json_t *sizes = load("[1, 2, 3]");
  struct strata_history_row *rows = NULL;
  struct strata_error *err = NULL;
  size_t n = 0;
  json_t *h2 = json_array_get(json_object_get(config, "history"), 2);

  (void)state;
  assert_int_equal(strata_history_rows(config, sizes, &rows, &n, &err), 0);
  assert_ptr_equal(rows[2].created_by, json_string_value(json_object_get(h2, "created_by")));
  assert_ptr_equal(rows[2].comment, json_string_value(json_object_get(h2, "comment")));
  free(rows);
  json_decref(sizes);
  json_decref(config);
}

static void test_history__empty_layer_sizes_never_taken(void **state) {
  /* empty_layer entries between layers must not consume a size */
  json_t *config = load("{\"history\": [{\"empty_layer\": true}, {\"empty_layer\": true},"
                        " {\"created_by\": \"a\"}, {\"empty_layer\": true}, {\"created_by\": \"b\"}]}");
  json_t *sizes = load("[111, 222]");
  struct strata_history_row *rows = NULL;
  struct strata_error *err = NULL;
  size_t n = 0;

  (void)state;
  assert_int_equal(strata_history_rows(config, sizes, &rows, &n, &err), 0);
  assert_int_equal(n, 5);
  assert_int_equal(rows[0].layer, -1);
  assert_int_equal(rows[1].layer, -1);
  assert_int_equal(rows[2].layer, 0);
  assert_int_equal(rows[2].size, 111);
  assert_string_equal(rows[2].created_by, "a");
  assert_int_equal(rows[3].layer, -1);
  assert_int_equal(rows[3].size, 0);
  assert_int_equal(rows[4].layer, 1);
  assert_int_equal(rows[4].size, 222);
  free(rows);
  json_decref(sizes);
  json_decref(config);
}

static void test_history__too_many_non_empty_entries(void **state) {
  json_t *config = load("{\"history\": [{\"created_by\": \"a\"}, {\"created_by\": \"b\"},"
                        " {\"created_by\": \"c\", \"empty_layer\": true}, {\"created_by\": \"d\"}]}");
  json_t *sizes = load("[1, 2]");
  struct strata_history_row *rows = (struct strata_history_row *)0x1;
  struct strata_error *err = NULL;
  size_t n = 12345;

  (void)state;
  assert_true(strata_history_rows(config, sizes, &rows, &n, &err) < 0);
  assert_error_contains(err, "too many non-empty layers");
  assert_ptr_equal(rows, (struct strata_history_row *)0x1);
  assert_int_equal(n, 12345);
  strata_error_free(err);
  json_decref(sizes);
  json_decref(config);
}

static void test_history__non_empty_entries_without_layers(void **state) {
  json_t *config = load("{\"history\": [{\"created_by\": \"a\"}]}");
  struct strata_history_row *rows = NULL;
  struct strata_error *err = NULL;
  size_t n = 0;

  (void)state;
  /* no layers at all (no sizes array) */
  assert_true(strata_history_rows(config, NULL, &rows, &n, &err) < 0);
  assert_error_contains(err, "too many non-empty layers");
  strata_error_free(err);
  json_decref(config);
}

static void test_history__only_empty_entries(void **state) {
  json_t *config = load("{\"history\": [{\"created_by\": \"ENV a=b\", \"empty_layer\": true}]}");
  json_t *sizes = load("[]");
  struct strata_history_row *rows = NULL;
  struct strata_error *err = NULL;
  size_t n = 0;

  (void)state;
  assert_int_equal(strata_history_rows(config, sizes, &rows, &n, &err), 0);
  assert_int_equal(n, 1);
  assert_true(rows[0].empty_layer);
  assert_int_equal(rows[0].layer, -1);
  free(rows);
  json_decref(sizes);
  json_decref(config);
}

static void test_history__no_history_one_row_per_layer(void **state) {
  json_t *config = load("{\"created\": \"2023-05-06T07:08:09Z\", \"rootfs\": {}}");
  json_t *sizes = load("[10, 20, 30]");
  struct strata_history_row *rows = NULL;
  struct strata_error *err = NULL;
  size_t n = 0;

  (void)state;
  assert_int_equal(strata_history_rows(config, sizes, &rows, &n, &err), 0);
  assert_int_equal(n, 3);
  for (int i = 0; i < 3; i++) {
    assert_int_equal(rows[i].layer, i);
    assert_int_equal(rows[i].size, (uint64_t)(10 * (i + 1)));
    assert_false(rows[i].empty_layer);
    assert_string_equal(rows[i].created_by, "");
    assert_string_equal(rows[i].comment, "");
    /* the image's own creation time stands in */
    assert_string_equal(rows[i].created, "2023-05-06T07:08:09Z");
  }
  free(rows);
  json_decref(sizes);
  json_decref(config);
}

static void test_history__empty_history_array_is_no_history(void **state) {
  json_t *config = load("{\"history\": []}");
  json_t *sizes = load("[5, 6]");
  struct strata_history_row *rows = NULL;
  struct strata_error *err = NULL;
  size_t n = 0;

  (void)state;
  assert_int_equal(strata_history_rows(config, sizes, &rows, &n, &err), 0);
  assert_int_equal(n, 2);
  assert_int_equal(rows[0].layer, 0);
  assert_int_equal(rows[0].size, 5);
  assert_int_equal(rows[1].layer, 1);
  assert_int_equal(rows[1].size, 6);
  assert_null(rows[0].created);
  free(rows);
  json_decref(sizes);
  json_decref(config);
}

static void test_history__no_history_no_layers(void **state) {
  json_t *config = load("{}");
  json_t *sizes = load("[]");
  struct strata_history_row *rows = NULL;
  struct strata_error *err = NULL;
  size_t n = 99;

  (void)state;
  assert_int_equal(strata_history_rows(config, sizes, &rows, &n, &err), 0);
  assert_int_equal(n, 0);
  free(rows);
  json_decref(sizes);
  json_decref(config);
}

static void test_history__large_layer_size(void **state) {
  json_t *config = load("{\"history\": [{\"created_by\": \"a\"}]}");
  json_t *sizes = load("[6000000000]");
  struct strata_history_row *rows = NULL;
  struct strata_error *err = NULL;
  size_t n = 0;

  (void)state;
  assert_int_equal(strata_history_rows(config, sizes, &rows, &n, &err), 0);
  assert_true(rows[0].size == UINT64_C(6000000000));
  free(rows);
  json_decref(sizes);
  json_decref(config);
}

static void test_history__fewer_entries_than_layers(void **state) {
  /* as `docker history`: the rows follow the history, extra layers are not shown */
  json_t *config = load("{\"history\": [{\"created_by\": \"a\"}]}");
  json_t *sizes = load("[1, 2, 3]");
  struct strata_history_row *rows = NULL;
  struct strata_error *err = NULL;
  size_t n = 0;

  (void)state;
  assert_int_equal(strata_history_rows(config, sizes, &rows, &n, &err), 0);
  assert_int_equal(n, 1);
  assert_int_equal(rows[0].layer, 0);
  assert_int_equal(rows[0].size, 1);
  free(rows);
  json_decref(sizes);
  json_decref(config);
}

#define T(name) cmocka_unit_test(test_history__##name)

int main(void) {
  const struct CMUnitTest tests[] = {
      T(rows_follow_history),
      T(strings_point_into_config),
      T(empty_layer_sizes_never_taken),
      T(too_many_non_empty_entries),
      T(non_empty_entries_without_layers),
      T(only_empty_entries),
      T(no_history_one_row_per_layer),
      T(empty_history_array_is_no_history),
      T(no_history_no_layers),
      T(large_layer_size),
      T(fewer_entries_than_layers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
