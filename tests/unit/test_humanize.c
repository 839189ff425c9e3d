#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "humanize.h"
#include "table.h"
#include "unit.h"

/* ------------------------------------------------------------------ sizes */

static void size_is(uint64_t bytes, const char *want) {
  char buf[32];

  memset(buf, 'x', sizeof(buf));
  strata_human_size(bytes, buf, sizeof(buf));
  if (strcmp(buf, want) != 0)
    fail_msg("%llu bytes: '%s', want '%s'", (unsigned long long)bytes, buf, want);
}

static void test_humanize__size(void **state) {
  (void)state;
  size_is(0, "0B");
  size_is(1, "1B");
  size_is(999, "999B");
  size_is(1000, "1kB");
  size_is(1024, "1.02kB");
  size_is(1234, "1.23kB");
  size_is(1500, "1.5kB");
  size_is(1980000, "1.98MB");
  size_is(4261550, "4.26MB");
  size_is(12345678, "12.3MB");
  size_is(124000000, "124MB");
  size_is(1000000000, "1GB");
  size_is(UINT64_C(2500000000000), "2.5TB");
  size_is(UINT64_C(1000000000000000000), "1EB");
  size_is(UINT64_MAX, "18.4EB");
}

static void test_humanize__size_truncates_safely(void **state) {
  char buf[4];

  (void)state;
  strata_human_size(124000000, buf, sizeof(buf));
  assert_string_equal(buf, "124");
}

/* ------------------------------------------------------------------ durations */

#define SEC 1.0
#define MIN (60 * SEC)
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)
#define WEEK (7 * DAY)
#define MONTH (30 * DAY)
#define YEAR (365 * DAY)

static void duration_is(double seconds, const char *want) {
  char buf[64];

  strata_human_duration(seconds, buf, sizeof(buf));
  if (strcmp(buf, want) != 0)
    fail_msg("%.3f s: '%s', want '%s'", seconds, buf, want);
}

static void test_humanize__duration_seconds(void **state) {
  (void)state;
  duration_is(0, "Less than a second");
  duration_is(0.45, "Less than a second");
  duration_is(0.999, "Less than a second");
  duration_is(-5, "Less than a second");
  duration_is(1, "1 second");
  duration_is(1.9, "1 second");
  duration_is(2, "2 seconds");
  duration_is(45, "45 seconds");
  duration_is(59, "59 seconds");
  duration_is(59.99, "59 seconds");
}

static void test_humanize__duration_minutes(void **state) {
  (void)state;
  duration_is(60, "About a minute");
  duration_is(1 * MIN, "About a minute");
  duration_is(119, "About a minute");
  duration_is(120, "2 minutes");
  duration_is(3 * MIN, "3 minutes");
  duration_is(35 * MIN + 40, "35 minutes");
  duration_is(45 * MIN, "45 minutes");
  duration_is(59 * MIN, "59 minutes");
  duration_is(59 * MIN + 59, "59 minutes");
}

static void test_humanize__duration_hours(void **state) {
  (void)state;
  /* hours round: int(hours + 0.5) */
  duration_is(1 * HOUR, "About an hour");
  duration_is(1 * HOUR + 29 * MIN, "About an hour");
  duration_is(1 * HOUR + 29 * MIN + 59, "About an hour");
  duration_is(1 * HOUR + 30 * MIN, "2 hours");
  duration_is(1 * HOUR + 31 * MIN, "2 hours");
  duration_is(1 * HOUR + 59 * MIN, "2 hours");
  duration_is(3 * HOUR, "3 hours");
  duration_is(3 * HOUR + 29 * MIN, "3 hours");
  duration_is(3 * HOUR + 31 * MIN, "4 hours");
  duration_is(24 * HOUR, "24 hours");
  duration_is(1 * DAY + 12 * HOUR, "36 hours");
  duration_is(47 * HOUR + 29 * MIN, "47 hours");
  duration_is(47 * HOUR + 30 * MIN, "2 days"); /* rounds to 48 hours */
}

static void test_humanize__duration_days_weeks(void **state) {
  (void)state;
  duration_is(2 * DAY, "2 days");
  duration_is(7 * DAY, "7 days");
  duration_is(13 * DAY + 5 * HOUR, "13 days");
  duration_is(13 * DAY + 23 * HOUR + 29 * MIN, "13 days");
  duration_is(13 * DAY + 23 * HOUR + 30 * MIN, "2 weeks");
  duration_is(2 * WEEK, "2 weeks");
  duration_is(2 * WEEK + 4 * DAY, "2 weeks");
  duration_is(3 * WEEK, "3 weeks");
  duration_is(4 * WEEK + 3 * DAY, "4 weeks");
  duration_is(1 * MONTH, "4 weeks");
  duration_is(1 * MONTH + 2 * WEEK, "6 weeks");
  duration_is(59 * DAY, "8 weeks");
}

static void test_humanize__duration_months_years(void **state) {
  (void)state;
  duration_is(2 * MONTH, "2 months");
  duration_is(2 * MONTH + 2 * WEEK, "2 months");
  duration_is(3 * MONTH + 1 * WEEK, "3 months");
  duration_is(5 * MONTH + 2 * WEEK, "5 months");
  duration_is(13 * MONTH, "13 months");
  duration_is(1 * YEAR, "12 months");
  duration_is(23 * MONTH, "23 months");
  duration_is(24 * MONTH, "24 months");
  duration_is(2 * YEAR - 1 * HOUR, "24 months");
  duration_is(2 * YEAR, "2 years");
  /* years use the whole hours, not the rounded ones */
  duration_is(3 * YEAR - 30 * MIN, "2 years");
  duration_is(24 * MONTH + 2 * WEEK, "2 years");
  duration_is(3 * YEAR + 2 * MONTH, "3 years");
  duration_is(10 * YEAR, "10 years");
}

static void test_humanize__ago(void **state) {
  char buf[64];
  time_t now = 1700000000;

  (void)state;
  strata_human_ago(now - 3600, now, buf, sizeof(buf));
  assert_string_equal(buf, "About an hour ago");
  strata_human_ago(now, now, buf, sizeof(buf));
  assert_string_equal(buf, "Less than a second ago");
  strata_human_ago(now - 3 * 86400, now, buf, sizeof(buf));
  assert_string_equal(buf, "3 days ago");
  strata_human_ago(now - 2 * 365 * 86400, now, buf, sizeof(buf));
  assert_string_equal(buf, "2 years ago");
}

/* ------------------------------------------------------------------ RFC 3339 */

#define JAN1_2024 ((time_t)1704067200)

static void rfc3339_is(const char *s, time_t want) {
  time_t t = 0;

  if (strata_parse_rfc3339(s, &t) != 0)
    fail_msg("'%s' refused", s);
  if (t != want)
    fail_msg("'%s' -> %lld, want %lld", s, (long long)t, (long long)want);
}

static void rfc3339_fails(const char *s) {
  time_t t = 12345;

  if (strata_parse_rfc3339(s, &t) == 0)
    fail_msg("'%s' accepted as %lld", s ? s : "(null)", (long long)t);
  assert_int_equal(t, 12345);
}

static void test_humanize__rfc3339_utc(void **state) {
  (void)state;
  rfc3339_is("2024-01-01T00:00:00Z", JAN1_2024);
  rfc3339_is("2024-01-01T00:00:00z", JAN1_2024);
  rfc3339_is("1970-01-01T00:00:00Z", 0);
  rfc3339_is("2024-02-29T12:34:56Z", (time_t)1709210096);
}

static void test_humanize__rfc3339_fraction(void **state) {
  (void)state;
  rfc3339_is("2024-01-01T00:00:00.5Z", JAN1_2024);
  rfc3339_is("2024-01-01T00:00:00.123456789Z", JAN1_2024);
  rfc3339_is("2024-01-01T00:00:00.999999999Z", JAN1_2024);
  rfc3339_is("2024-01-01T02:00:00.000000001+02:00", JAN1_2024);
}

static void test_humanize__rfc3339_offsets(void **state) {
  (void)state;
  rfc3339_is("2024-01-01T02:00:00+02:00", JAN1_2024);
  rfc3339_is("2023-12-31T19:00:00-05:00", JAN1_2024);
  rfc3339_is("2024-01-01T05:30:00+05:30", JAN1_2024);
  rfc3339_is("2024-01-01T00:00:00+00:00", JAN1_2024);
  rfc3339_is("2024-01-01T00:00:00-00:00", JAN1_2024);
}

static void test_humanize__rfc3339_garbage(void **state) {
  (void)state;
  rfc3339_fails(NULL);
  rfc3339_fails("");
  rfc3339_fails("garbage");
  rfc3339_fails("2024-01-01");
  rfc3339_fails("2024-01-01T00:00:00");      /* no zone */
  rfc3339_fails("2024-01-01T00:00:00Zjunk");
  rfc3339_fails("2024-01-01T00:00:00+0200"); /* RFC 3339 wants the colon */
  rfc3339_fails("2024-01-01T00:00:00+02");
  rfc3339_fails("2024-01-01T00:00:00+02:00x");
  rfc3339_fails("2024-13-01T00:00:00Z");
  rfc3339_fails("2024-01-01 00:00:00Z");
  rfc3339_fails("2024-01-01T00:00:00.123");
  rfc3339_fails("2024-01-01T25:00:00Z");
}

static void test_humanize__rfc3339_short_offset(void **state) {
  /* The string ends early but the bytes after its NUL are NULs too: a
   * parser that steps over a fixed 6-byte offset without checking lands on
   * the second NUL and accepts it (reading past the string). */
  static const char one_minute_digit[] = "2024-01-01T00:00:00+02:0\0\0\0\0";
  static const char one_hour_digit[] = "2024-01-01T00:00:00+2:00\0\0\0\0";

  (void)state;
  rfc3339_fails(one_minute_digit);
  rfc3339_fails(one_hour_digit);
}

static void test_humanize__rfc3339_empty_fraction(void **state) {
  (void)state;
  /* RFC 3339 and Go's time.Parse need at least one digit after '.' */
  rfc3339_fails("2024-01-01T00:00:00.Z");
}

/* ------------------------------------------------------------------ tables */

/* Runs the table through open_memstream and returns what was printed. */
static char *render(struct strata_table *t) {
  char *out = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&out, &len);

  assert_non_null(f);
  strata_table_flush(t, f);
  assert_int_equal(fclose(f), 0);
  return out;
}

static void add3(struct strata_table *t, const char *a, const char *b, const char *c) {
  const char *cells[] = {a, b, c};
  strata_table_add(t, cells);
}

static void test_humanize__table_docker_images(void **state) {
  struct strata_table *t = strata_table_new(3);
  char *out;

  (void)state;
  add3(t, "REPOSITORY", "TAG", "IMAGE ID");
  add3(t, "busybox", "latest", "a416a98b71e2");
  add3(t, "localhost/x", "1", "0123456789ab");
  out = render(t);
  /* col 1: max(10, 11 + 3) = 14; col 2: max(10, 6 + 3) = 10; last unpadded */
  assert_string_equal(out,
                      "REPOSITORY    TAG       IMAGE ID\n"
                      "busybox       latest    a416a98b71e2\n"
                      "localhost/x   1         0123456789ab\n");
  free(out);
}

static void test_humanize__table_min_width(void **state) {
  struct strata_table *t = strata_table_new(3);
  char *out;

  (void)state;
  add3(t, "A", "B", "C");
  add3(t, "", "", "");
  out = render(t);
  assert_string_equal(out,
                      "A         B         C\n"
                      "                    \n");
  free(out);
}

static void test_humanize__table_padding_three(void **state) {
  struct strata_table *t = strata_table_new(2);
  const char *r1[] = {"exactly-10", "x"};
  const char *r2[] = {"8chars!!", "y"};
  char *out;

  (void)state;
  strata_table_add(t, r1);
  strata_table_add(t, r2);
  out = render(t);
  /* 10 + 3 = 13 > 10 */
  assert_string_equal(out,
                      "exactly-10   x\n"
                      "8chars!!     y\n");
  free(out);

  t = strata_table_new(2);
  {
    const char *r[] = {"7chars!", "z"};
    strata_table_add(t, r);
  }
  out = render(t);
  /* 7 + 3 = 10: exactly the minimum */
  assert_string_equal(out, "7chars!   z\n");
  free(out);
}

static void test_humanize__table_last_column_unpadded(void **state) {
  struct strata_table *t = strata_table_new(2);
  const char *r1[] = {"a", "a-long-last-column"};
  const char *r2[] = {"b", "s"};
  char *out;

  (void)state;
  strata_table_add(t, r1);
  strata_table_add(t, r2);
  out = render(t);
  assert_string_equal(out,
                      "a         a-long-last-column\n"
                      "b         s\n");
  free(out);
}

static void test_humanize__table_utf8_ellipsis(void **state) {
  struct strata_table *t = strata_table_new(2);
  /* "…" is 3 bytes but one column: both cells are 12 columns wide */
  const char *r1[] = {"/bin/sh -c \xe2\x80\xa6", "x"};
  const char *r2[] = {"/bin/sh -c e", "y"};
  const char *r3[] = {"\xe2\x80\xa6", "z"};
  char *out;

  (void)state;
  strata_table_add(t, r1);
  strata_table_add(t, r2);
  strata_table_add(t, r3);
  out = render(t);
  assert_string_equal(out,
                      "/bin/sh -c \xe2\x80\xa6   x\n"
                      "/bin/sh -c e   y\n"
                      "\xe2\x80\xa6              z\n");
  free(out);
}

static void test_humanize__table_single_column_and_null_cells(void **state) {
  struct strata_table *t = strata_table_new(1);
  const char *r1[] = {"only"};
  const char *r2[] = {NULL};
  struct strata_table *t2 = strata_table_new(2);
  const char *r3[] = {NULL, "v"};
  char *out;

  (void)state;
  strata_table_add(t, r1);
  strata_table_add(t, r2);
  out = render(t);
  assert_string_equal(out, "only\n\n");
  free(out);

  strata_table_add(t2, r3);
  out = render(t2);
  assert_string_equal(out, "          v\n");
  free(out);
}

static void test_humanize__table_many_rows_and_copies(void **state) {
  struct strata_table *t = strata_table_new(2);
  char cell[32], *out, *p;
  int lines = 0;

  (void)state;
  /* more rows than the first allocation; cells are copied on add */
  for (int i = 0; i < 100; i++) {
    const char *row[] = {cell, "v"};
    snprintf(cell, sizeof(cell), "row-%d", i);
    strata_table_add(t, row);
  }
  snprintf(cell, sizeof(cell), "overwritten");
  out = render(t);
  assert_not_contains(out, "overwritten");
  for (p = out; *p; p++)
    lines += *p == '\n';
  assert_int_equal(lines, 100);
  assert_true(strncmp(out, "row-0     v\n", 12) == 0);
  assert_contains(out, "\nrow-99    v\n");
  free(out);
}

static void test_humanize__table_empty(void **state) {
  char *out;

  (void)state;
  out = render(strata_table_new(3));
  assert_string_equal(out, "");
  free(out);
  /* NULL tables are ignored */
  strata_table_add(NULL, NULL);
  strata_table_flush(NULL, stdout);
}

#define T(name) cmocka_unit_test(test_humanize__##name)

int main(void) {
  const struct CMUnitTest tests[] = {
      T(size),
      T(size_truncates_safely),
      T(duration_seconds),
      T(duration_minutes),
      T(duration_hours),
      T(duration_days_weeks),
      T(duration_months_years),
      T(ago),
      T(rfc3339_utc),
      T(rfc3339_fraction),
      T(rfc3339_offsets),
      T(rfc3339_garbage),
      T(rfc3339_short_offset),
      T(rfc3339_empty_fraction),
      T(table_docker_images),
      T(table_min_width),
      T(table_padding_three),
      T(table_last_column_unpadded),
      T(table_utf8_ellipsis),
      T(table_single_column_and_null_cells),
      T(table_many_rows_and_copies),
      T(table_empty),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
