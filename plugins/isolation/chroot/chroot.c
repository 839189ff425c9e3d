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

#include "../backend-common.h"

static const struct strata_host *host;

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

static void child(const struct strata_run_spec *spec) {
  char cwd[PATH_MAX];
  gid_t groups[256];
  size_t ng = spec->ngroups < 256 ? spec->ngroups : 256;
  sigset_t none;

  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  for (int i = 0; i < CHILD_NSIGNALS; i++)
    signal(child_signals[i], SIG_DFL);
  if (SPEC_HAS_1_2(spec)) {
    /* the streams the core chose, moved above 2 first so none clobbers another */
    int tmp[3];
    for (int i = 0; i < 3; i++)
      if ((tmp[i] = spec->stdio[i] >= 0 ? fcntl(spec->stdio[i], F_DUPFD_CLOEXEC, 3) : -1) < 0 &&
          spec->stdio[i] >= 0)
        child_fail(CHILD_STAGE_SETUP, errno, "standard streams");
    for (int i = 0; i < 3; i++)
      if (tmp[i] >= 0 && dup2(tmp[i], i) < 0)
        child_fail(CHILD_STAGE_SETUP, errno, "standard streams");
  }
  /* -t: the core's terminal becomes the controlling one of a new session */
  if (spec->tty && isatty(0) && (setsid() < 0 || ioctl(0, TIOCSCTTY, 0) < 0))
    child_fail(CHILD_STAGE_SETUP, errno, "controlling terminal");
  if (chdir(spec->rootfs) < 0 || chroot(".") < 0)
    child_fail(CHILD_STAGE_SETUP, errno, "chroot");
  if (chdir(spec->cwd) < 0)
    child_fail(CHILD_STAGE_SETUP, errno, "chdir to the working directory");
  /* the working directory must be what was asked for, inside the root */
  if (getcwd(cwd, sizeof(cwd)) == NULL || cwd[0] != '/')
    child_fail(CHILD_STAGE_SETUP, errno ? errno : ENOENT,
               "working directory outside the container");
  for (size_t i = 0; i < ng; i++)
    groups[i] = spec->groups[i];
  if (setgroups(ng, groups) < 0)
    child_fail(CHILD_STAGE_SETUP, errno, "setgroups");
  if (setgid(spec->gid) < 0)
    child_fail(CHILD_STAGE_SETUP, errno, "setgid");
  if (setuid(spec->uid) < 0)
    child_fail(CHILD_STAGE_SETUP, errno, "setuid");
  child_exec(spec);
}

static int chroot_run(void *state, const struct strata_run_spec *spec, struct strata_error **err) {
  int pipefd[2];
  pid_t pid;
  int status;
  struct child_failure f;

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
    child_report_fd = pipefd[1];
    child(spec);
    _exit(127);
  }
  close(pipefd[1]);
  if (child_wait(spec, pid, pid, pipefd[0], NULL, &status, &f))
    return child_failure_result(host, &f, "cannot start container", err);
  return child_exit_result(host, status, "container", err);
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
