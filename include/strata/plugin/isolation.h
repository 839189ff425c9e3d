/* Isolation backend ABI.  The core builds one run spec (image config merged
 * with the user's flags) and hands it to the backend, which starts the
 * process in the container's root file system. */
#ifndef STRATA_PLUGIN_ISOLATION_H
#define STRATA_PLUGIN_ISOLATION_H

#include <stddef.h>
#include <stdint.h>
#include <strata/plugin/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

#define STRATA_ISOLATION_OPS_VERSION 1

/* caps bits */
#define STRATA_ISOLATION_CAP_ISOLATES (1u << 0) /* separates the process from the host */
#define STRATA_ISOLATION_CAP_LIMITS (1u << 1)   /* enforces memory, pids_limit, nano_cpus */
/* ABI 1.2 */
#define STRATA_ISOLATION_CAP_EXEC (1u << 2)    /* has exec(): enters a running container */
#define STRATA_ISOLATION_CAP_CONSOLE (1u << 3) /* makes the terminal inside the container (tty) */

/* Return values of run() besides an exit code >= 0. */
#define STRATA_RUN_ENGINE_ERROR (-1)  /* engine failure: exit 125 */
#define STRATA_RUN_CANNOT_EXEC (-126) /* found but cannot be executed: exit 126 */
#define STRATA_RUN_NOT_FOUND (-127)   /* command not found: exit 127 */

struct strata_run_spec {
  uint32_t size;             /* sizeof, set by the core */
  const char *id;            /* container ID */
  const char *rootfs;        /* mounted root file system */
  const char *const *argv;   /* NULL-terminated, argv[0] is the command */
  const char *const *env;    /* NULL-terminated "K=V" strings */
  const char *cwd;           /* absolute, inside the rootfs */
  uint32_t uid;
  uint32_t gid;
  size_t ngroups;            /* supplementary groups */
  const uint32_t *groups;
  const char *hostname;
  int tty;                   /* allocate a terminal */
  int interactive;           /* keep stdin open */
  /* Appended after ABI 1.0: read only when `size` covers them.  0 means no
   * limit.  A backend without STRATA_ISOLATION_CAP_LIMITS never sees them
   * set: the core refuses such a run. */
  int64_t memory;     /* --memory, bytes */
  int64_t pids_limit; /* --pids-limit, processes (-1: unlimited) */
  int64_t nano_cpus;  /* --cpus, in billionths of a CPU */
  /* ABI 1.2, read only when `size` covers them. */
  int stdio[3];       /* the process's fds 0, 1, 2; -1: the caller's own */
  /* tty with STRATA_ISOLATION_CAP_CONSOLE: the backend opens a terminal
   * inside the container, makes its slave the process's stdio and
   * controlling terminal, and sends the master over this unix socket
   * (SCM_RIGHTS, one byte of data) before the exec.  Without the cap, or
   * when -1, the core hands a terminal in stdio[] and the backend only makes
   * fd 0 the controlling terminal of a new session. */
  int console_socket;
  uint16_t console_rows, console_cols; /* the terminal's first size; 0: leave it */
  /* When set, called once from run() (or exec()) after the command was
   * executed, with its PID as the host sees it, before waiting for it. */
  void (*started)(void *opaque, int pid);
  void *opaque;
};

struct strata_isolation_ops {
  uint32_t version; /* STRATA_ISOLATION_OPS_VERSION */
  uint64_t caps;    /* STRATA_ISOLATION_CAP_* */

  /* Can this backend run containers on this host?  0, or negative with *err. */
  int (*probe)(void *state, struct strata_error **err);

  /* Run SPEC in the foreground and wait.  Returns the exit code (128+N for
   * a signal N), or one of STRATA_RUN_* with *err set. */
  int (*run)(void *state, const struct strata_run_spec *spec, struct strata_error **err);

  /* ABI 1.2, with STRATA_ISOLATION_CAP_EXEC: run SPEC (argv, env, cwd, uid,
   * gid, groups, tty, stdio, console) in the foreground inside the running
   * container whose first process is PID (host PID), and wait.  spec->rootfs
   * is that process's root ("/proc/PID/root").  Returns as run() does. */
  int (*exec)(void *state, const struct strata_run_spec *spec, int pid, struct strata_error **err);
};

#ifdef __cplusplus
}
#endif
#endif
