#include "config.h"
#include "lifecycle.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cleanup.h"
#include "container.h"
#include "humanize.h"
#include "json-cleanup.h"

static const struct {
  const char *name;
  int sig;
} signals[] = {
    {"HUP", SIGHUP},       {"INT", SIGINT},       {"QUIT", SIGQUIT},     {"ILL", SIGILL},
    {"TRAP", SIGTRAP},     {"ABRT", SIGABRT},     {"IOT", SIGIOT},       {"BUS", SIGBUS},
    {"FPE", SIGFPE},       {"KILL", SIGKILL},     {"USR1", SIGUSR1},     {"SEGV", SIGSEGV},
    {"USR2", SIGUSR2},     {"PIPE", SIGPIPE},     {"ALRM", SIGALRM},     {"TERM", SIGTERM},
    {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD},     {"CLD", SIGCHLD},      {"CONT", SIGCONT},
    {"STOP", SIGSTOP},     {"TSTP", SIGTSTP},     {"TTIN", SIGTTIN},     {"TTOU", SIGTTOU},
    {"URG", SIGURG},       {"XCPU", SIGXCPU},     {"XFSZ", SIGXFSZ},     {"VTALRM", SIGVTALRM},
    {"PROF", SIGPROF},     {"WINCH", SIGWINCH},   {"IO", SIGIO},         {"POLL", SIGPOLL},
    {"PWR", SIGPWR},       {"SYS", SIGSYS},
};

int strata_signal_parse(const char *s) {
  char *end;
  long n;
  if (s == NULL || *s == '\0')
    return -1;
  if (isdigit((unsigned char)*s)) {
    errno = 0;
    n = strtol(s, &end, 10);
    /* Docker refuses 0 and numbers past the last real-time signal */
    if (errno || *end || n <= 0 || n > SIGRTMAX)
      return -1;
    return (int)n;
  }
  if (strncasecmp(s, "SIG", 3) == 0)
    s += 3;
  for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
    if (strcasecmp(s, signals[i].name) == 0)
      return signals[i].sig;
  /* RTMIN, RTMIN+N, RTMAX, RTMAX-N */
  if (strncasecmp(s, "RTMIN", 5) == 0 || strncasecmp(s, "RTMAX", 5) == 0) {
    bool min = strncasecmp(s, "RTMIN", 5) == 0;
    int base = min ? SIGRTMIN : SIGRTMAX;
    s += 5;
    if (*s == '\0')
      return base;
    if ((min && *s != '+') || (!min && *s != '-') || !isdigit((unsigned char)s[1]))
      return -1;
    errno = 0;
    n = strtol(s + 1, &end, 10);
    if (errno || *end)
      return -1;
    n = min ? base + n : base - n;
    return n >= SIGRTMIN && n <= SIGRTMAX ? (int)n : -1;
  }
  return -1;
}

unsigned long long strata_stat_start_time(const char *text) {
  /* "PID (COMM) STATE PPID ...": COMM may hold blanks and parentheses, so
   * count the fields after the last ')'; starttime is field 22 */
  const char *p = text ? strrchr(text, ')') : NULL;
  int field = 2;
  if (p == NULL)
    return 0;
  p++;
  while (*p && field < 22) {
    while (*p == ' ')
      p++;
    if (*p == '\0')
      return 0;
    field++;
    if (field == 22)
      break;
    while (*p && *p != ' ')
      p++;
  }
  if (field != 22 || !isdigit((unsigned char)*p))
    return 0;
  return strtoull(p, NULL, 10);
}

unsigned long long strata_proc_start_time(int pid) {
  char path[64], buf[1024];
  ssize_t n;
  int fd;
  if (pid <= 0)
    return 0;
  snprintf(path, sizeof(path), "/proc/%d/stat", pid);
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return 0;
  n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0)
    return 0;
  buf[n] = '\0';
  /* a zombie has exited: it is not running any more */
  {
    const char *p = strrchr(buf, ')');
    if (p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X'))
      return 0;
  }
  return strata_stat_start_time(buf);
}

bool strata_proc_is(int pid, unsigned long long start) {
  unsigned long long now;
  if (pid <= 0)
    return false;
  now = strata_proc_start_time(pid);
  if (now == 0)
    return false;
  return start == 0 || now == start;
}

static int state_int(json_t *st, const char *key) {
  return (int)json_integer_value(json_object_get(st, key));
}

static unsigned long long state_u64(json_t *st, const char *key) {
  return (unsigned long long)json_integer_value(json_object_get(st, key));
}

enum strata_container_state strata_container_state(json_t *rec, int *exit_code) {
  json_t *st = json_object_get(rec, "State");
  const char *status = json_string_value(json_object_get(st, "Status"));
  int code = state_int(st, "ExitCode");
  enum strata_container_state s = STRATA_STATE_CREATED;

  if (status != NULL && strcmp(status, "running") == 0) {
    /* the monitor is what records the exit: while it lives, the container
     * counts as running; a record from before the monitor existed names the
     * process that waited for the container as Pid */
    int mpid = state_int(st, "StrataMonitorPid");
    bool alive = mpid > 0 ? strata_proc_is(mpid, state_u64(st, "StrataMonitorStart"))
                          : strata_proc_is(state_int(st, "Pid"), 0);
    if (alive)
      s = STRATA_STATE_RUNNING;
    else {
      s = STRATA_STATE_EXITED;
      code = STRATA_EXIT_UNKNOWN;
    }
  } else if (status != NULL && strcmp(status, "exited") == 0) {
    s = STRATA_STATE_EXITED;
  }
  if (exit_code)
    *exit_code = code;
  return s;
}

void strata_container_status_text(enum strata_container_state state, int exit_code,
                                  time_t started, time_t finished, time_t now, char *buf,
                                  size_t len) {
  char d[64];
  switch (state) {
  case STRATA_STATE_RUNNING:
    strata_human_duration(difftime(now, started > 0 ? started : now), d, sizeof(d));
    snprintf(buf, len, "Up %s", d);
    break;
  case STRATA_STATE_EXITED:
    strata_human_ago(finished > 0 ? finished : started > 0 ? started : now, now, d, sizeof(d));
    snprintf(buf, len, "Exited (%d) %s", exit_code, d);
    break;
  default:
    snprintf(buf, len, "Created");
  }
}

void strata_container_status(json_t *rec, time_t now, char *buf, size_t len) {
  json_t *st = json_object_get(rec, "State");
  time_t started = 0, finished = 0;
  int code = 0;
  enum strata_container_state s = strata_container_state(rec, &code);
  strata_parse_rfc3339(json_string_value(json_object_get(st, "StartedAt")), &started);
  strata_parse_rfc3339(json_string_value(json_object_get(st, "FinishedAt")), &finished);
  /* "0001-01-01T00:00:00Z" parses to a time long before 1970 */
  if (started < 0)
    started = 0;
  if (finished < started)
    finished = 0;
  strata_container_status_text(s, code, started, finished, now, buf, len);
}

int strata_container_wait(struct strata_store *store, const char *id, int timeout_ms,
                          int *exit_code, struct strata_error **err) {
  for (int waited = 0;; waited += 50) {
    cleanup_json json_t *rec = NULL;
    int r = strata_container_load(store, id, &rec, err);
    if (r == 1)
      return 2;
    if (r < 0)
      return -1;
    if (strata_container_state(rec, exit_code) != STRATA_STATE_RUNNING)
      return 0;
    if (timeout_ms >= 0 && waited >= timeout_ms)
      return 1;
    usleep(50 * 1000);
  }
}

int strata_container_signal(json_t *rec, int sig, struct strata_error **err) {
  json_t *st = json_object_get(rec, "State");
  int pid = state_int(st, "Pid");
  unsigned long long start = state_u64(st, "StrataPidStart");
  if (strata_container_state(rec, NULL) != STRATA_STATE_RUNNING) {
    /* a monitor that died may have left the container's process behind
     * (a backend that does not tie it to the monitor): that still gets it */
    if (pid > 0 && start > 0 && strata_proc_is(pid, start))
      kill(pid, sig);
    return 1;
  }
  if (pid <= 0 || (start > 0 && !strata_proc_is(pid, start))) {
    /* no PID recorded (a backend before ABI 1.2): the monitor forwards */
    pid = state_int(st, "StrataMonitorPid");
    if (pid <= 0)
      pid = state_int(st, "Pid");
  }
  if (pid <= 0)
    return 1;
  if (kill(pid, sig) < 0 && errno != ESRCH)
    return strata_error_set(err, errno, "cannot send signal %d to process %d", sig, pid);
  return 0;
}

int strata_container_stop(struct strata_store *store, const char *id, int sig, int timeout,
                          struct strata_error **err) {
  cleanup_json json_t *rec = NULL;
  int code, r;

  r = strata_container_load(store, id, &rec, err);
  if (r != 0)
    return r == 1 ? strata_error_set(err, 0, "No such container: %s", id) : -1;
  if (sig <= 0) {
    const char *s = json_string_value(
        json_object_get(json_object_get(rec, "Config"), "StopSignal"));
    sig = s ? strata_signal_parse(s) : -1;
    if (sig <= 0)
      sig = SIGTERM;
  }
  r = strata_container_signal(rec, sig, err);
  if (r < 0)
    return -1;
  if (r == 1)
    return 0;
  r = strata_container_wait(store, id, timeout < 0 ? -1 : timeout * 1000, &code, err);
  if (r < 0)
    return -1;
  if (r == 1) {
    json_decref(rec);
    rec = NULL;
    if (strata_container_load(store, id, &rec, err) < 0)
      return -1;
    if (rec != NULL && strata_container_signal(rec, SIGKILL, err) < 0)
      return -1;
    /* SIGKILL cannot be refused; the monitor then records the exit */
    r = strata_container_wait(store, id, 30 * 1000, &code, err);
    if (r < 0)
      return -1;
    if (r == 1)
      return strata_error_set(err, 0, "container %.12s did not stop after SIGKILL", id);
  }
  return 0;
}
