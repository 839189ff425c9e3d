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
/* ABI 1.2: honours caps, run_flags and mounts (without it the core refuses
 * anything but the defaults), and userns_* */
#define STRATA_ISOLATION_CAP_SECURITY (1u << 2)
#define STRATA_ISOLATION_CAP_USERNS (1u << 3)
/* ABI 1.2, too */
#define STRATA_ISOLATION_CAP_EXEC (1u << 4)    /* has exec(): enters a running container */
#define STRATA_ISOLATION_CAP_CONSOLE (1u << 5) /* makes the terminal inside the container (tty) */

/* Return values of run() besides an exit code >= 0. */
#define STRATA_RUN_ENGINE_ERROR (-1)  /* engine failure: exit 125 */
#define STRATA_RUN_CANNOT_EXEC (-126) /* found but cannot be executed: exit 126 */
#define STRATA_RUN_NOT_FOUND (-127)   /* command not found: exit 127 */

/* A mount the user asked for (-v, --tmpfs), ABI 1.2. */
#define STRATA_MOUNT_BIND 0  /* source is a host path */
#define STRATA_MOUNT_TMPFS 1 /* source is NULL */
#define STRATA_MOUNT_RDONLY (1u << 0)
#define STRATA_MOUNT_NOSUID (1u << 1)
#define STRATA_MOUNT_NODEV (1u << 2)
#define STRATA_MOUNT_NOEXEC (1u << 3)
struct strata_mount {
  uint32_t type;           /* STRATA_MOUNT_BIND or STRATA_MOUNT_TMPFS */
  uint32_t flags;          /* STRATA_MOUNT_RDONLY ... */
  const char *source;      /* absolute host path (bind), NULL (tmpfs) */
  const char *destination; /* absolute path in the container, resolved inside its root */
  const char *data;        /* tmpfs options ("size=64m,mode=1777"), or NULL */
};

/* spec->run_flags bits, ABI 1.2 */
#define STRATA_RUN_PRIVILEGED (1u << 0)    /* --privileged: all caps, no masks, the host's devices */
#define STRATA_RUN_NO_NEW_PRIVS (1u << 1)  /* --security-opt no-new-privileges */
#define STRATA_RUN_NETWORK_HOST (1u << 2)  /* --network host: share the host's network namespace */
#define STRATA_RUN_READ_ONLY (1u << 3)     /* --read-only: the root file system is mounted read-only */

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
  /* Appended in ABI 1.2: read only when `size` covers them (a backend
   * reading an older spec uses Docker's defaults: the 14 default
   * capabilities, no flags, no mounts, no user namespace). */
  uint64_t caps;       /* capability set, bit N = capability N: the bounding set, and the
                          permitted and effective sets of a root process */
  uint32_t run_flags;  /* STRATA_RUN_PRIVILEGED ... */
  size_t nmounts;      /* -v and --tmpfs, in the order given */
  const struct strata_mount *mounts;
  /* User namespace (--userns): when userns_size is not 0, container IDs
   * 0..userns_size-1 map to host IDs userns_uid.. and userns_gid.. */
  uint32_t userns_uid;
  uint32_t userns_gid;
  uint32_t userns_size;
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

/* A wait status as a container's exit code, the way Docker reports it:
 * the code itself, or 128+N for a signal N; -1 for neither. */
#include <sys/wait.h>
static inline int strata_run_exit_code(int status) {
  if (WIFEXITED(status))
    return WEXITSTATUS(status);
  if (WIFSIGNALED(status))
    return 128 + WTERMSIG(status);
  return -1;
}

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
