/* isolation backend "chroot": runs the process chrooted into the
 * container's root file system, as the image's user, in the foreground.
 *
 * It does NOT isolate: the process shares the host's PID, network, mount,
 * IPC and UTS namespaces and keeps root's full capabilities.  It exists for
 * debugging and for hosts where namespaces are unavailable; `strata info`
 * says so. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <strata/plugin/host.h>
#include <strata/plugin/isolation.h>

/* Does SPEC carry the members of ABI 1.2 (stdio, started)? */
#define SPEC_HAS_1_2(spec) ((spec)->size >= offsetof(struct strata_run_spec, opaque) + sizeof(void *))

static const struct strata_host *host;
static volatile pid_t child_pid;

static int chroot_init(const struct strata_host *h, const struct strata_plugin_context *ctx,
                       void **state, struct strata_error **err) {
  host = h;
  *state = NULL;
  return 0;
}

static int chroot_probe(void *state, struct strata_error **err) {
  if (geteuid() != 0)
    return host->error(err, EPERM, "chroot needs root");
  return 0;
}

static void forward_signal(int sig) {
  if (child_pid > 0)
    kill(child_pid, sig);
}

/* What the child tells the parent when it cannot exec: stage and errno. */
struct exec_failure {
  int stage; /* 0 setup, 1 exec */
  int errnum;
  char what[256];
};

static void report(int fd, int stage, int errnum, const char *what) {
  struct exec_failure f = {.stage = stage, .errnum = errnum};
  snprintf(f.what, sizeof(f.what), "%s", what);
  if (write(fd, &f, sizeof(f)) < 0) {
    /* nothing more can be said */
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

/* execve with a PATH search done with the container's PATH, inside the
 * chroot: the host's PATH means nothing there. */
static void exec_in_container(const struct strata_run_spec *spec, int fd) {
  const char *cmd = spec->argv[0];
  const char *path = env_get(spec->env, "PATH");
  char buf[PATH_MAX];
  int saw_eacces = 0;

  if (strchr(cmd, '/') != NULL) {
    execve(cmd, (char *const *)spec->argv, (char *const *)spec->env);
    report(fd, 1, errno, cmd);
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
        saw_eacces = 1;
      else if (errno != ENOENT && errno != ENOTDIR)
        report(fd, 1, errno, buf);
    }
    if (end == NULL)
      break;
    path = end + 1;
  }
  report(fd, 1, saw_eacces ? EACCES : ENOENT, cmd);
}

static void child(const struct strata_run_spec *spec, int fd) {
  char cwd[PATH_MAX];
  gid_t groups[256];
  size_t ng = spec->ngroups < 256 ? spec->ngroups : 256;
  sigset_t none;

  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  signal(SIGHUP, SIG_DFL);
  signal(SIGQUIT, SIG_DFL);
  if (SPEC_HAS_1_2(spec)) {
    /* the streams the core chose, moved above 2 first so none clobbers another */
    int tmp[3];
    for (int i = 0; i < 3; i++)
      if ((tmp[i] = spec->stdio[i] >= 0 ? fcntl(spec->stdio[i], F_DUPFD_CLOEXEC, 3) : -1) < 0 &&
          spec->stdio[i] >= 0)
        report(fd, 0, errno, "standard streams");
    for (int i = 0; i < 3; i++)
      if (tmp[i] >= 0 && dup2(tmp[i], i) < 0)
        report(fd, 0, errno, "standard streams");
  }
  /* -t: the core's terminal becomes the controlling one of a new session */
  if (spec->tty && isatty(0) && (setsid() < 0 || ioctl(0, TIOCSCTTY, 0) < 0))
    report(fd, 0, errno, "controlling terminal");
  if (chdir(spec->rootfs) < 0 || chroot(".") < 0)
    report(fd, 0, errno, "chroot");
  if (chdir(spec->cwd) < 0)
    report(fd, 0, errno, "chdir to the working directory");
  /* the working directory must be what was asked for, inside the root */
  if (getcwd(cwd, sizeof(cwd)) == NULL || cwd[0] != '/')
    report(fd, 0, errno ? errno : ENOENT, "working directory outside the container");
  for (size_t i = 0; i < ng; i++)
    groups[i] = spec->groups[i];
  if (setgroups(ng, groups) < 0)
    report(fd, 0, errno, "setgroups");
  if (setgid(spec->gid) < 0)
    report(fd, 0, errno, "setgid");
  if (setuid(spec->uid) < 0)
    report(fd, 0, errno, "setuid");
  exec_in_container(spec, fd);
}

static int chroot_run(void *state, const struct strata_run_spec *spec, struct strata_error **err) {
  int pipefd[2];
  pid_t pid;
  int status;
  struct exec_failure f;
  ssize_t n;
  struct sigaction sa = {.sa_handler = forward_signal}, old[4];
  static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

  if (pipe2(pipefd, O_CLOEXEC) < 0)
    return host->error(err, errno, "cannot start container");
  pid = fork();
  if (pid < 0) {
    close(pipefd[0]);
    close(pipefd[1]);
    return host->error(err, errno, "cannot start container");
  }
  if (pid == 0) {
    close(pipefd[0]);
    child(spec, pipefd[1]);
    _exit(127);
  }
  child_pid = pid;
  sigemptyset(&sa.sa_mask);
  for (int i = 0; i < 4; i++)
    sigaction(sigs[i], &sa, &old[i]);
  close(pipefd[1]);
  do
    n = read(pipefd[0], &f, sizeof(f));
  while (n < 0 && errno == EINTR);
  close(pipefd[0]);
  if (n == 0 && SPEC_HAS_1_2(spec) && spec->started != NULL)
    spec->started(spec->opaque, pid);
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
    ;
  for (int i = 0; i < 4; i++)
    sigaction(sigs[i], &old[i], NULL);
  child_pid = 0;
  if (n == (ssize_t)sizeof(f)) {
    f.what[sizeof(f.what) - 1] = '\0';
    if (f.stage == 1 && (f.errnum == ENOENT || f.errnum == ENOTDIR)) {
      host->error(err, 0, "exec: \"%s\": executable file not found in $PATH", f.what);
      return STRATA_RUN_NOT_FOUND;
    }
    if (f.stage == 1) {
      host->error(err, f.errnum, "exec: \"%s\"", f.what);
      return STRATA_RUN_CANNOT_EXEC;
    }
    host->error(err, f.errnum, "cannot start container: %s", f.what);
    return STRATA_RUN_ENGINE_ERROR;
  }
  {
    int code = strata_run_exit_code(status);
    if (code >= 0)
      return code;
  }
  return host->error(err, 0, "container ended in an unknown way");
}

/* The container's root is /proc/PID/root (spec->rootfs): chrooting there
 * is all an exec needs, as run shares every namespace with the host too. */
static int chroot_exec(void *state, const struct strata_run_spec *spec, int pid,
                       struct strata_error **err) {
  (void)pid;
  return chroot_run(state, spec, err);
}

static const struct strata_isolation_ops chroot_ops = {
    .version = STRATA_ISOLATION_OPS_VERSION,
    /* no STRATA_ISOLATION_CAP_ISOLATES: it does not isolate */
    .caps = STRATA_ISOLATION_CAP_EXEC,
    .probe = chroot_probe,
    .run = chroot_run,
    .exec = chroot_exec,
};

static const struct strata_plugin_info chroot_info = {
    STRATA_PLUGIN_INFO_INIT(STRATA_PLUGIN_ISOLATION, "chroot", PACKAGE_VERSION,
                            "chroot only, NO isolation: shares the host's namespaces and "
                            "capabilities (debugging, odd hosts)",
                            "Apache-2.0"),
    .init = chroot_init,
    .ops = &chroot_ops,
};

STRATA_PLUGIN_DEFINE(chroot_info)
