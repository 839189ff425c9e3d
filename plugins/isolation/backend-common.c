/* What the in-tree isolation backends share; see backend-common.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend-common.h"

const int child_signals[CHILD_NSIGNALS] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

int child_report_fd = -1;

/* whom the handlers forward to: a handler gets nothing but the signal */
static volatile pid_t forward_pid;

static void forward_signal(int sig) {
  if (forward_pid > 0)
    kill(forward_pid, sig);
}

void child_signals_block(sigset_t *saved) {
  sigset_t block;
  sigemptyset(&block);
  for (int i = 0; i < CHILD_NSIGNALS; i++)
    sigaddset(&block, child_signals[i]);
  sigprocmask(SIG_BLOCK, &block, saved);
}

void child_waitpid(pid_t pid, int *status) {
  while (waitpid(pid, status, 0) < 0 && errno == EINTR)
    ;
}

int child_wait(const struct strata_run_spec *spec, pid_t pid, pid_t target, int report,
               const sigset_t *mask, int *status, struct child_failure *f) {
  struct sigaction sa = {.sa_handler = forward_signal}, old[CHILD_NSIGNALS];
  ssize_t n = -1;

  forward_pid = target;
  sigemptyset(&sa.sa_mask);
  for (int i = 0; i < CHILD_NSIGNALS; i++)
    sigaction(child_signals[i], &sa, &old[i]);
  if (mask != NULL)
    sigprocmask(SIG_SETMASK, mask, NULL);
  if (report >= 0) {
    do
      n = read(report, f, sizeof(*f));
    while (n < 0 && errno == EINTR);
    close(report);
  }
  /* end of file without a record: close-on-exec closed the pipe, the
   * command runs */
  if (n == 0 && target > 0 && SPEC_HAS_1_2(spec) && spec->started != NULL)
    spec->started(spec->opaque, target);
  child_waitpid(pid, status);
  for (int i = 0; i < CHILD_NSIGNALS; i++)
    sigaction(child_signals[i], &old[i], NULL);
  forward_pid = 0;
  return n == (ssize_t)sizeof(*f);
}

int child_failure_result(const struct strata_host *host, struct child_failure *f,
                         const char *what, struct strata_error **err) {
  f->what[sizeof(f->what) - 1] = '\0';
  if (f->stage == CHILD_STAGE_EXEC && (f->errnum == ENOENT || f->errnum == ENOTDIR)) {
    host->error(err, 0, "exec: \"%s\": executable file not found in $PATH", f->what);
    return STRATA_RUN_NOT_FOUND;
  }
  if (f->stage == CHILD_STAGE_EXEC) {
    host->error(err, f->errnum, "exec: \"%s\"", f->what);
    return STRATA_RUN_CANNOT_EXEC;
  }
  host->error(err, f->errnum, "%s: %s", what, f->what);
  return STRATA_RUN_ENGINE_ERROR;
}

int child_exit_result(const struct strata_host *host, int status, const char *who,
                      struct strata_error **err) {
  int code = strata_run_exit_code(status);
  if (code >= 0)
    return code;
  return host->error(err, 0, "%s ended in an unknown way", who);
}

void child_fail(int stage, int errnum, const char *fmt, ...) {
  struct child_failure f = {.stage = stage, .errnum = errnum};
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(f.what, sizeof(f.what), fmt, ap);
  va_end(ap);
  if (write(child_report_fd, &f, sizeof(f)) < 0) {
    /* the parent is gone: nobody to tell */
  }
  _exit(127);
}

static const char *env_get(const char *const *env, const char *key) {
  size_t kl = strlen(key);
  for (; env && *env; env++)
    if (strncmp(*env, key, kl) == 0 && (*env)[kl] == '=')
      return *env + kl + 1;
  return NULL;
}

void child_exec(const struct strata_run_spec *spec) {
  const char *cmd = spec->argv[0];
  const char *path = env_get(spec->env, "PATH");
  char buf[PATH_MAX];
  bool saw_eacces = false;

  if (strchr(cmd, '/') != NULL) {
    execve(cmd, (char *const *)spec->argv, (char *const *)spec->env);
    child_fail(CHILD_STAGE_EXEC, errno, "%s", cmd);
  }
  if (path == NULL)
    path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  while (*path) {
    const char *end = strchr(path, ':');
    size_t n = end ? (size_t)(end - path) : strlen(path);
    if (n > 0 && n + strlen(cmd) + 2 < sizeof(buf)) {
      memcpy(buf, path, n);
      buf[n] = '/';
      strcpy(buf + n + 1, cmd);
      execve(buf, (char *const *)spec->argv, (char *const *)spec->env);
      if (errno == EACCES)
        saw_eacces = true;
      else if (errno != ENOENT && errno != ENOTDIR)
        child_fail(CHILD_STAGE_EXEC, errno, "%s", buf);
    }
    if (end == NULL)
      break;
    path = end + 1;
  }
  child_fail(CHILD_STAGE_EXEC, saw_eacces ? EACCES : ENOENT, "%s", cmd);
}

const char docker_hosts_file[] = "127.0.0.1\tlocalhost\n"
                                 "::1\tlocalhost ip6-localhost ip6-loopback\n"
                                 "fe00::0\tip6-localnet\n"
                                 "ff00::0\tip6-mcastprefix\n"
                                 "ff02::1\tip6-allnodes\n"
                                 "ff02::2\tip6-allrouters\n";

const char *const docker_masked_paths[] = {
    "/proc/asound",        "/proc/acpi",        "/proc/kcore",       "/proc/keys",
    "/proc/latency_stats", "/proc/timer_list",  "/proc/timer_stats", "/proc/sched_debug",
    "/proc/scsi",          "/sys/firmware",     "/sys/devices/virtual/powercap",
};
const size_t docker_n_masked_paths = sizeof(docker_masked_paths) / sizeof(docker_masked_paths[0]);

const char *const docker_readonly_paths[] = {
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};
const size_t docker_n_readonly_paths =
    sizeof(docker_readonly_paths) / sizeof(docker_readonly_paths[0]);

const char *container_hosts_text(bool host_network, char *buf, size_t len) {
  int fd;
  ssize_t k;
  if (!host_network)
    return docker_hosts_file;
  fd = open("/etc/hosts", O_RDONLY | O_CLOEXEC);
  k = fd < 0 ? -1 : read(fd, buf, len - 1);
  if (fd >= 0)
    close(fd);
  if (k < 0)
    return docker_hosts_file;
  buf[k] = '\0';
  return buf;
}

int write_text_at(int dirfd, const char *name, const char *text) {
  size_t len = strlen(text);
  int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0)
    return -1;
  if (fchmod(fd, 0644) < 0 || write(fd, text, len) != (ssize_t)len) {
    int e = errno;
    close(fd);
    errno = e ? e : EIO;
    return -1;
  }
  return close(fd);
}

int run_spec_check(const struct strata_host *host, const struct strata_run_spec *spec,
                   struct strata_error **err) {
  if (spec->argv == NULL || spec->argv[0] == NULL)
    return host->error(err, 0, "no command specified");
  if (strchr(spec->id, '/') != NULL || spec->id[0] == '.')
    return host->error(err, 0, "invalid container ID '%s'", spec->id);
  return 0;
}
