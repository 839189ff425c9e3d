/* The pure parts of the container lifecycle: signal names, the start time
 * in /proc/PID/stat, ps's status text, container states from records, and
 * Docker's json-file log lines. */
#include "config.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "jsonlog.h"
#include "lifecycle.h"
#include "unit.h"

/* ------------------------------------------------------------------ signals */

static void test_lifecycle__signal_names(void **state) {
  (void)state;
  assert_int_equal(strata_signal_parse("KILL"), SIGKILL);
  assert_int_equal(strata_signal_parse("SIGKILL"), SIGKILL);
  assert_int_equal(strata_signal_parse("sigterm"), SIGTERM);
  assert_int_equal(strata_signal_parse("term"), SIGTERM);
  assert_int_equal(strata_signal_parse("USR1"), SIGUSR1);
  assert_int_equal(strata_signal_parse("SIGWINCH"), SIGWINCH);
  assert_int_equal(strata_signal_parse("9"), 9);
  assert_int_equal(strata_signal_parse("15"), 15);
  assert_int_equal(strata_signal_parse("RTMIN"), SIGRTMIN);
  assert_int_equal(strata_signal_parse("RTMIN+2"), SIGRTMIN + 2);
  assert_int_equal(strata_signal_parse("SIGRTMAX-1"), SIGRTMAX - 1);
}

static void test_lifecycle__signal_refused(void **state) {
  (void)state;
  assert_int_equal(strata_signal_parse(""), -1);
  assert_int_equal(strata_signal_parse(NULL), -1);
  assert_int_equal(strata_signal_parse("0"), -1);
  assert_int_equal(strata_signal_parse("-9"), -1);
  assert_int_equal(strata_signal_parse("9x"), -1);
  assert_int_equal(strata_signal_parse("1000"), -1);
  assert_int_equal(strata_signal_parse("SIG"), -1);
  assert_int_equal(strata_signal_parse("NOPE"), -1);
  assert_int_equal(strata_signal_parse("RTMIN-1"), -1);
  assert_int_equal(strata_signal_parse("RTMAX+1"), -1);
  assert_int_equal(strata_signal_parse("RTMIN+99"), -1);
}

/* ------------------------------------------------------------------ /proc/PID/stat */

static void test_lifecycle__stat_start_time(void **state) {
  /* field 22 is the start time; the command may hold blanks and ')' */
  const char *plain = "1234 (sleep) S 1 1234 1234 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 "
                      "987654 2000 100 18446744073709551615";
  const char *odd = "77 (a) b (c) ) R 1 77 77 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 42 0 0";
  (void)state;
  assert_int_equal(strata_stat_start_time(plain), 987654);
  assert_int_equal(strata_stat_start_time(odd), 42);
  assert_int_equal(strata_stat_start_time("1 (x) S 1 2 3"), 0);
  assert_int_equal(strata_stat_start_time("garbage"), 0);
  assert_int_equal(strata_stat_start_time(NULL), 0);
}

static void test_lifecycle__proc_is(void **state) {
  unsigned long long me = strata_proc_start_time(getpid());
  (void)state;
  assert_true(me > 0);
  assert_true(strata_proc_is(getpid(), me));
  assert_true(strata_proc_is(getpid(), 0));
  /* the same PID started at another time is another process */
  assert_false(strata_proc_is(getpid(), me + 1));
  assert_false(strata_proc_is(0, 0));
  assert_false(strata_proc_is(-1, 0));
}

/* ------------------------------------------------------------------ status */

static void status_is(enum strata_container_state s, int code, time_t started, time_t finished,
                      time_t now, const char *want) {
  char buf[96];
  strata_container_status_text(s, code, started, finished, now, buf, sizeof(buf));
  if (strcmp(buf, want) != 0)
    fail_msg("status '%s', want '%s'", buf, want);
}

static void test_lifecycle__status_text(void **state) {
  time_t now = 1700000000;
  (void)state;
  status_is(STRATA_STATE_RUNNING, 0, now - 240, 0, now, "Up 4 minutes");
  status_is(STRATA_STATE_RUNNING, 0, now, 0, now, "Up Less than a second");
  status_is(STRATA_STATE_RUNNING, 0, now - 1, 0, now, "Up 1 second");
  status_is(STRATA_STATE_RUNNING, 0, now - 3 * 3600, 0, now, "Up 3 hours");
  status_is(STRATA_STATE_EXITED, 0, now - 60, now - 20, now, "Exited (0) 20 seconds ago");
  status_is(STRATA_STATE_EXITED, 137, now - 600, now - 90, now, "Exited (137) About a minute ago");
  /* without a finish time, the start time stands in */
  status_is(STRATA_STATE_EXITED, 255, now - 7200, 0, now, "Exited (255) 2 hours ago");
  status_is(STRATA_STATE_CREATED, 0, 0, 0, now, "Created");
}

static json_t *record(const char *status, int code, int monitor) {
  return json_pack("{s:{s:s, s:i, s:i, s:i, s:s, s:s}}", "State", "Status", status, "ExitCode",
                   code, "Pid", 0, "StrataMonitorPid", monitor, "StartedAt",
                   "2023-11-14T22:13:20Z", "FinishedAt", "0001-01-01T00:00:00Z");
}

static void test_lifecycle__state_from_record(void **state) {
  json_t *r;
  int code = -1;
  (void)state;
  r = record("created", 0, 0);
  assert_int_equal(strata_container_state(r, &code), STRATA_STATE_CREATED);
  json_decref(r);
  r = record("exited", 3, 0);
  assert_int_equal(strata_container_state(r, &code), STRATA_STATE_EXITED);
  assert_int_equal(code, 3);
  json_decref(r);
  /* a live monitor: running */
  r = record("running", 0, (int)getpid());
  assert_int_equal(strata_container_state(r, &code), STRATA_STATE_RUNNING);
  json_decref(r);
  /* its monitor is gone (PID beyond pid_max): exited, code unknown */
  r = record("running", 0, 0x7ffffff0);
  assert_int_equal(strata_container_state(r, &code), STRATA_STATE_EXITED);
  assert_int_equal(code, STRATA_EXIT_UNKNOWN);
  json_decref(r);
  /* a monitor PID reused by another process (another start time) */
  r = record("running", 0, (int)getpid());
  json_object_set_new(json_object_get(r, "State"), "StrataMonitorStart",
                      json_integer((json_int_t)strata_proc_start_time(getpid()) + 5));
  assert_int_equal(strata_container_state(r, NULL), STRATA_STATE_EXITED);
  json_decref(r);
}

/* ------------------------------------------------------------------ json-file */

static void test_lifecycle__jsonlog_format(void **state) {
  size_t n = 0;
  char *line;
  (void)state;
  line = strata_jsonlog_format(STRATA_STREAM_STDOUT, "hello\n", 6, "2024-01-02T03:04:05.5Z", &n);
  assert_string_equal(line, "{\"log\":\"hello\\n\",\"stream\":\"stdout\","
                            "\"time\":\"2024-01-02T03:04:05.5Z\"}\n");
  assert_int_equal(n, strlen(line));
  free(line);
  /* Go's escaping: quotes, backslashes, control and HTML characters; bad
   * UTF-8 becomes U+FFFD, good UTF-8 stays */
  line = strata_jsonlog_format(STRATA_STREAM_STDERR, "a\"b\\c\t\x01<&>\xff\xc3\xa9", 13, "T",
                               NULL);
  assert_string_equal(line, "{\"log\":\"a\\\"b\\\\c\\t\\u0001\\u003c\\u0026\\u003e\\ufffd\xc3\xa9\","
                            "\"stream\":\"stderr\",\"time\":\"T\"}\n");
  free(line);
  /* a NUL byte is data too */
  line = strata_jsonlog_format(STRATA_STREAM_STDOUT, "x\0y", 3, "T", NULL);
  assert_contains(line, "\"x\\u0000y\"");
  free(line);
}

static void test_lifecycle__jsonlog_roundtrip(void **state) {
  const char data[] = "a\"b\\c\t\x01<&>\xc3\xa9\0z\r\n";
  struct strata_jsonlog_entry e;
  size_t n = 0;
  char *line = strata_jsonlog_format(STRATA_STREAM_STDERR, data, sizeof(data) - 1, "2024-05-06T07:08:09.123456789Z", &n);
  (void)state;
  assert_int_equal(strata_jsonlog_parse(line, n, &e), 0);
  assert_int_equal(e.stream, STRATA_STREAM_STDERR);
  assert_int_equal(e.len, sizeof(data) - 1);
  assert_memory_equal(e.log, data, e.len);
  assert_string_equal(e.time, "2024-05-06T07:08:09.123456789Z");
  strata_jsonlog_entry_clear(&e);
  free(line);
}

static void test_lifecycle__jsonlog_parse_refuses(void **state) {
  struct strata_jsonlog_entry e;
  const char *bad[] = {"", "{}", "not json", "{\"log\":1,\"stream\":\"stdout\"}",
                       "{\"log\":\"x\",\"stream\":\"stdin\"}", "{\"log\":\"x\"}"};
  (void)state;
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    if (strata_jsonlog_parse(bad[i], strlen(bad[i]), &e) == 0)
      fail_msg("'%s' parsed as a log entry", bad[i]);
  /* Docker's own lines parse, with or without the time */
  assert_int_equal(strata_jsonlog_parse("{\"log\":\"hi\\n\",\"stream\":\"stdout\"}\n", 33, &e), 0);
  assert_int_equal(e.len, 3);
  strata_jsonlog_entry_clear(&e);
}

struct collected {
  char msgs[8][64];
  size_t lens[8];
  size_t n;
};

static void collect(void *data, const char *msg, size_t len) {
  struct collected *c = data;
  assert_true(c->n < 8);
  memcpy(c->msgs[c->n], msg, len < 64 ? len : 64);
  c->lens[c->n++] = len;
}

static void test_lifecycle__jsonlog_split(void **state) {
  static struct strata_jsonlog_splitter s;
  struct collected c = {0};
  static char big[STRATA_JSONLOG_MAX_LINE + 10];
  (void)state;
  /* lines across reads, two in one read, the rest at the end */
  strata_jsonlog_split(&s, "hel", 3, collect, &c);
  assert_int_equal(c.n, 0);
  strata_jsonlog_split(&s, "lo\nab\ncd\nta", 11, collect, &c);
  assert_int_equal(c.n, 3);
  assert_memory_equal(c.msgs[0], "hello\n", 6);
  assert_int_equal(c.lens[0], 6);
  assert_memory_equal(c.msgs[1], "ab\n", 3);
  assert_memory_equal(c.msgs[2], "cd\n", 3);
  strata_jsonlog_flush(&s, collect, &c);
  assert_int_equal(c.n, 4);
  assert_int_equal(c.lens[3], 2);
  strata_jsonlog_flush(&s, collect, &c);
  assert_int_equal(c.n, 4);
  /* a line longer than Docker's limit is cut into partial messages */
  memset(big, 'x', sizeof(big));
  big[sizeof(big) - 1] = '\n';
  c.n = 0;
  strata_jsonlog_split(&s, big, sizeof(big), collect, &c);
  assert_int_equal(c.n, 2);
  assert_int_equal(c.lens[0], STRATA_JSONLOG_MAX_LINE);
  assert_int_equal(c.lens[1], 10);
}

#define T(name) cmocka_unit_test(test_lifecycle__##name)
int main(void) {
  const struct CMUnitTest tests[] = {
      T(signal_names),       T(signal_refused),   T(stat_start_time),
      T(proc_is),            T(status_text),      T(state_from_record),
      T(jsonlog_format),     T(jsonlog_roundtrip), T(jsonlog_parse_refuses),
      T(jsonlog_split),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
