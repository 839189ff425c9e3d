/* isolation backend "namespaces": runs the container's process as PID 1 of
 * its own mount, PID, UTS, IPC, network and cgroup namespaces, pivoted into
 * the container's root file system, with Docker's default mounts, masked
 * and read-only paths, /etc/hostname and /etc/hosts, capability set and,
 * when asked, cgroup limits (--memory, --pids-limit, --cpus).  The process
 * runs in the foreground; run() returns its exit code.
 *
 * The engine clones once, straight into the namespaces (CLONE_VM |
 * CLONE_VFORK, as posix_spawn does: see clone_child): the child is PID 1 of
 * the new PID namespace, joins its cgroups, unshares its cgroup namespace,
 * builds the mount tree, drops privileges and execs the user's command.
 * Setup errors travel back through a close-on-exec pipe, so the parent
 * learns whether the exec happened from the pipe alone.
 *
 * Network: `--network none` semantics, the new network namespace holds only
 * the loopback device, brought up; `--network host` keeps the host's.
 * Security settings of the run spec (ABI 1.2): the capability set,
 * --privileged, no-new-privileges, --read-only, -v and --tmpfs mounts, and
 * a user namespace (see userns_*). */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/magic.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sys/capability.h>
#include <termios.h>

#include <strata/plugin/host.h>
#include <strata/plugin/isolation.h>

#include "../backend-common.h"

#define DOMAIN "isolation.namespaces"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

#define NS_FLAGS                                                                                 \
  (CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWCGROUP)

static const struct strata_host *host;

struct ns_state {
  char *data_dir; /* <root>/plugins/isolation-namespaces: per-run /etc files */
};

static const char *const etc_files[] = {"hostname", "hosts"};

/* Docker's default capabilities (moby oci/caps/defaults.go): the bounding
 * set is exactly these, 0x00000000a80425fb. */
static const cap_value_t default_caps[] = {
    CAP_CHOWN,  CAP_DAC_OVERRIDE, CAP_FSETID,           CAP_FOWNER,      CAP_MKNOD,
    CAP_NET_RAW, CAP_SETGID,      CAP_SETUID,           CAP_SETFCAP,     CAP_SETPCAP,
    CAP_NET_BIND_SERVICE,         CAP_SYS_CHROOT,       CAP_KILL,        CAP_AUDIT_WRITE,
};
#define N_DEFAULT_CAPS (sizeof(default_caps) / sizeof(default_caps[0]))

/* The ABI 1.2 members of a spec (SPEC_HAS_1_2), or Docker's defaults for an
 * older core. */
static uint64_t spec_caps(const struct strata_run_spec *spec) {
  uint64_t m = 0;
  if (SPEC_HAS_1_2(spec))
    return spec->caps;
  for (size_t i = 0; i < N_DEFAULT_CAPS; i++)
    m |= 1ULL << default_caps[i];
  return m;
}
static uint32_t spec_flags(const struct strata_run_spec *spec) {
  return SPEC_HAS_1_2(spec) ? spec->run_flags : 0;
}

/* The device nodes every container gets: bind mounts of the host's nodes
 * onto empty files, as runc and crun do outside a user namespace (no mknod,
 * so no device the host does not already expose). */
static const char *const dev_nodes[] = {"null", "zero", "full", "random", "urandom", "tty"};
static const char *const dev_links[][2] = {
    {"/proc/self/fd", "fd"},       {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"},
    {"/proc/self/fd/2", "stderr"}, {"pts/ptmx", "ptmx"},         {"/proc/kcore", "core"},
};

/* ---------------------------------------------------------------- host cgroup layout */

/* What the container's /sys/fs/cgroup mirrors: the host's hierarchies, found
 * before cloning so the child only mounts. */
#define MAX_CGROUP_MOUNTS 32
struct cgroup_mount {
  char name[64];  /* entry under /sys/fs/cgroup */
  char opts[192]; /* v1: controllers and name=; empty for cgroup2 */
  char link[64];  /* non-empty: a symlink to this target instead of a mount */
  bool v2;
};
struct cgroup_layout {
  enum { CG_NONE, CG_V2, CG_V1 } mode;
  size_t n;
  struct cgroup_mount m[MAX_CGROUP_MOUNTS];
};

/* Is TOKEN a controller the kernel knows (a line of /proc/cgroups)? */
static bool is_controller(const char *controllers, const char *token) {
  size_t n = strlen(token);
  for (const char *p = controllers; (p = strstr(p, token)) != NULL; p += n)
    if ((p == controllers || p[-1] == ' ') && p[n] == ' ')
      return true;
  return false;
}

static void cgroup_layout_read(struct cgroup_layout *cg) {
  struct statfs sf;
  char controllers[1024] = " ", line[4096];
  FILE *f;
  DIR *d;
  struct dirent *de;

  cg->mode = CG_NONE;
  cg->n = 0;
  if (statfs("/sys/fs/cgroup", &sf) < 0)
    return;
  if (sf.f_type == CGROUP2_SUPER_MAGIC) {
    cg->mode = CG_V2;
    return;
  }
  if (sf.f_type != TMPFS_MAGIC)
    return;
  /* v1 or the v1/v2 hybrid: one mount per hierarchy under a tmpfs */
  f = fopen("/proc/cgroups", "re");
  if (f != NULL) {
    while (fgets(line, sizeof(line), f) != NULL) {
      char name[64];
      if (line[0] != '#' && sscanf(line, "%63s", name) == 1 &&
          strlen(controllers) + strlen(name) + 2 < sizeof(controllers)) {
        strcat(controllers, name);
        strcat(controllers, " ");
      }
    }
    fclose(f);
  }
  f = fopen("/proc/self/mountinfo", "re");
  if (f == NULL)
    return;
  while (fgets(line, sizeof(line), f) != NULL && cg->n < MAX_CGROUP_MOUNTS) {
    char mnt[PATH_MAX], fstype[32], opts[1024];
    char *sep = strstr(line, " - "), *save = NULL;
    struct cgroup_mount *m = &cg->m[cg->n];
    if (sep == NULL || sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1 ||
        sscanf(sep + 3, "%31s %*s %1023s", fstype, opts) != 2)
      continue;
    if (strncmp(mnt, "/sys/fs/cgroup/", 15) != 0 || strchr(mnt + 15, '/') != NULL ||
        strchr(mnt, '\\') != NULL || strlen(mnt + 15) >= sizeof(m->name))
      continue;
    memset(m, 0, sizeof(*m));
    if (strcmp(fstype, "cgroup2") == 0) {
      m->v2 = true;
    } else if (strcmp(fstype, "cgroup") == 0) {
      /* keep what selects the hierarchy: its controllers and its name */
      for (char *t = strtok_r(opts, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (strncmp(t, "name=", 5) != 0 && !is_controller(controllers, t))
          continue;
        if (strlen(m->opts) + strlen(t) + 2 >= sizeof(m->opts))
          break;
        if (m->opts[0])
          strcat(m->opts, ",");
        strcat(m->opts, t);
      }
      if (m->opts[0] == '\0')
        continue;
    } else {
      continue;
    }
    strcpy(m->name, mnt + 15);
    cg->n++;
  }
  fclose(f);
  /* cpu -> cpu,cpuacct and the like */
  d = opendir("/sys/fs/cgroup");
  while (d != NULL && (de = readdir(d)) != NULL && cg->n < MAX_CGROUP_MOUNTS) {
    struct cgroup_mount *m = &cg->m[cg->n];
    ssize_t k;
    if (de->d_type != DT_LNK || strlen(de->d_name) >= sizeof(m->name))
      continue;
    memset(m, 0, sizeof(*m));
    k = readlinkat(dirfd(d), de->d_name, m->link, sizeof(m->link) - 1);
    if (k <= 0 || strchr(m->link, '/') != NULL)
      continue;
    strcpy(m->name, de->d_name);
    cg->n++;
  }
  if (d != NULL)
    closedir(d);
  cg->mode = CG_V1;
}

/* ---------------------------------------------------------------- resource limits */

/* The cgroups one container's limits live in: one per hierarchy that holds
 * a controller it needs (v1: memory, pids and cpu may be three; v2: one). */
#define MAX_LIMIT_DIRS 4
struct cgroup_limits {
  size_t n;
  char dir[MAX_LIMIT_DIRS][PATH_MAX];
  int procs[MAX_LIMIT_DIRS]; /* cgroup.procs, opened by the parent, written by the child */
};

static bool has_token(const char *list, const char *tok) {
  size_t n = strlen(tok);
  for (const char *p = list; p && *p; p = strchr(p, ','), p = p ? p + 1 : NULL)
    if (strncmp(p, tok, n) == 0 && (p[n] == ',' || p[n] == '\0' || p[n] == '\n'))
      return true;
  return false;
}

static int write_cgroup_file(const char *dir, const char *file, const char *value,
                             struct strata_error **err) {
  char path[PATH_MAX + 64];
  size_t len = strlen(value);
  int fd;
  snprintf(path, sizeof(path), "%s/%s", dir, file);
  fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0 || write(fd, value, len) != (ssize_t)len) {
    int e = errno;
    if (fd >= 0)
      close(fd);
    return host->error(err, e, "cannot write '%s' to %s", value, path);
  }
  close(fd);
  return 0;
}

/* The engine's own cgroup in the v1 hierarchy holding CONTROLLER. */
static int own_cgroup_v1(const char *controller, char *out, size_t outlen) {
  char line[4096];
  FILE *f = fopen("/proc/self/cgroup", "re");
  int r = -1;
  while (f != NULL && r < 0 && fgets(line, sizeof(line), f) != NULL) {
    char *c = strchr(line, ':'), *p = c ? strchr(c + 1, ':') : NULL;
    if (p == NULL)
      continue;
    *p = '\0';
    if (!has_token(c + 1, controller))
      continue;
    p[strcspn(p + 1, "\n") + 1] = '\0';
    snprintf(out, outlen, "%s", strcmp(p + 1, "/") == 0 ? "" : p + 1);
    r = 0;
  }
  if (f != NULL)
    fclose(f);
  return r;
}

/* Makes (once) the container's cgroup in the hierarchy that has CONTROLLER
 * and returns its path in *DIR and whether it is cgroup v2.
 *   v1: below the engine's own cgroup (<mount>/<engine's>/strata-ID), so
 *       whatever contains the engine contains the container too;
 *   v2: <mount>/strata/ID, because v2 cannot enable a controller below a
 *       cgroup that holds a process (the engine's does), and the root may. */
static int limits_dir(const struct cgroup_layout *cg, const char *id, const char *controller,
                      struct cgroup_limits *lim, const char **dir, bool *v2,
                      struct strata_error **err) {
  char base[PATH_MAX], path[PATH_MAX + 256], own[PATH_MAX / 2], ctl[256] = "";
  const struct cgroup_mount *v1 = NULL, *unified = NULL;
  int fd;

  for (size_t i = 0; i < cg->n; i++) {
    if (cg->m[i].link[0])
      continue;
    if (cg->m[i].v2)
      unified = &cg->m[i];
    else if (has_token(cg->m[i].opts, controller))
      v1 = &cg->m[i];
  }
  if (v1 != NULL) {
    if (own_cgroup_v1(controller, own, sizeof(own)) < 0)
      return host->error(err, 0, "cannot find the engine's %s cgroup", controller);
    snprintf(base, sizeof(base), "/sys/fs/cgroup/%s%s", v1->name, own);
    snprintf(path, sizeof(path), "%s/strata-%s", base, id);
    *v2 = false;
  } else {
    if (cg->mode == CG_V2)
      snprintf(base, sizeof(base), "/sys/fs/cgroup");
    else if (unified != NULL)
      snprintf(base, sizeof(base), "/sys/fs/cgroup/%s", unified->name);
    else
      return host->error(err, 0, "no cgroup hierarchy has the %s controller", controller);
    snprintf(path, sizeof(path), "%s/cgroup.controllers", base);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      ssize_t k = read(fd, ctl, sizeof(ctl) - 1);
      ctl[k > 0 ? k : 0] = '\0';
      close(fd);
    }
    for (char *p = ctl; *p; p++)
      if (*p == ' ')
        *p = ',';
    if (!has_token(ctl, controller))
      return host->error(err, 0, "no cgroup hierarchy has the %s controller", controller);
    snprintf(path, sizeof(path), "+%s", controller);
    if (write_cgroup_file(base, "cgroup.subtree_control", path, err) < 0)
      return -1;
    strcat(base, "/strata");
    if (mkdir(base, 0755) < 0 && errno != EEXIST)
      return host->error(err, errno, "cannot create the cgroup %s", base);
    if (write_cgroup_file(base, "cgroup.subtree_control", path, err) < 0)
      return -1;
    snprintf(path, sizeof(path), "%s/%s", base, id);
    *v2 = true;
  }
  for (size_t i = 0; i < lim->n; i++)
    if (strcmp(lim->dir[i], path) == 0) {
      *dir = lim->dir[i];
      return 0;
    }
  if (lim->n == MAX_LIMIT_DIRS)
    return host->error(err, 0, "too many cgroup hierarchies");
  if (strlen(path) + sizeof("/cgroup.procs") > sizeof(lim->dir[0]))
    return host->error(err, ENAMETOOLONG, "cannot create a cgroup for %s", controller);
  if (mkdir(path, 0755) < 0 && errno != EEXIST)
    return host->error(err, errno, "cannot create the cgroup %s", path);
  strcpy(lim->dir[lim->n], path);
  strcat(path, "/cgroup.procs");
  lim->procs[lim->n] = open(path, O_WRONLY | O_CLOEXEC);
  if (lim->procs[lim->n] < 0)
    return host->error(err, errno, "cannot open %s", path);
  *dir = lim->dir[lim->n++];
  return 0;
}

static void limits_remove(struct cgroup_limits *lim) {
  for (size_t i = lim->n; i-- > 0;) {
    close(lim->procs[i]);
    /* the PID namespace is gone once its PID 1 is reaped, but a v1 cgroup
     * may stay busy for a moment while the kernel lets go of it */
    for (int tries = 0; rmdir(lim->dir[i]) < 0 && errno == EBUSY && tries < 50; tries++)
      usleep(2000);
  }
  lim->n = 0;
}

/* Docker's cgroup settings for --memory (memory-swap left at its default,
 * twice the memory), --pids-limit and --cpus (a 100 ms CFS period). */
static int limits_create(const struct cgroup_layout *cg, const struct strata_run_spec *spec,
                         struct cgroup_limits *lim, struct strata_error **err) {
  bool has_limits = spec->size >= offsetof(struct strata_run_spec, nano_cpus) + sizeof(int64_t);
  const char *dir;
  char v[64];
  bool v2;

  lim->n = 0;
  if (!has_limits)
    return 0;
  if (spec->memory > 0) {
    if (limits_dir(cg, spec->id, "memory", lim, &dir, &v2, err) < 0)
      goto fail;
    snprintf(v, sizeof(v), "%lld", (long long)spec->memory);
    if (write_cgroup_file(dir, v2 ? "memory.max" : "memory.limit_in_bytes", v, err) < 0)
      goto fail;
    snprintf(v, sizeof(v), "%lld", (long long)(v2 ? spec->memory : 2 * spec->memory));
    snprintf(v + 32, 32, "%s", v2 ? "memory.swap.max" : "memory.memsw.limit_in_bytes");
    {
      char probe[PATH_MAX + 64];
      snprintf(probe, sizeof(probe), "%s/%s", dir, v + 32);
      if (access(probe, F_OK) == 0 && write_cgroup_file(dir, v + 32, v, err) < 0)
        goto fail;
    }
  }
  if (spec->pids_limit > 0) {
    if (limits_dir(cg, spec->id, "pids", lim, &dir, &v2, err) < 0)
      goto fail;
    snprintf(v, sizeof(v), "%lld", (long long)spec->pids_limit);
    if (write_cgroup_file(dir, "pids.max", v, err) < 0)
      goto fail;
  }
  if (spec->nano_cpus > 0) {
    long long quota = spec->nano_cpus / 10000; /* of a 100000 us period */
    if (quota < 1000)
      quota = 1000; /* the kernel's minimum */
    if (limits_dir(cg, spec->id, "cpu", lim, &dir, &v2, err) < 0)
      goto fail;
    if (v2) {
      snprintf(v, sizeof(v), "%lld 100000", quota);
      if (write_cgroup_file(dir, "cpu.max", v, err) < 0)
        goto fail;
    } else {
      snprintf(v, sizeof(v), "%lld", quota);
      if (write_cgroup_file(dir, "cpu.cfs_period_us", "100000", err) < 0 ||
          write_cgroup_file(dir, "cpu.cfs_quota_us", v, err) < 0)
        goto fail;
    }
  }
  return 0;
fail:
  limits_remove(lim);
  return host->error_wrap(err, "cannot set the container's resource limits");
}

/* ---------------------------------------------------------------- the child */

static void xmount(const char *src, const char *target, const char *fstype, unsigned long flags,
                   const char *data) {
  if (mount(src, target, fstype, flags, data) < 0)
    child_fail(CHILD_STAGE_SETUP, errno, "cannot mount %s on /%s",
               fstype ? fstype : src ? src : "(remount)", target);
}

/* Opens NAME (a top-level directory of the image: proc, sys, dev) without
 * following a symlink: an image that ships /proc -> / would otherwise have
 * the engine mount over the host's directories.  A missing one is made. */
static int open_top_dir(int rootfd, const char *name) {
  struct stat st;
  int fd;
  if (fstatat(rootfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
    if (errno != ENOENT)
      child_fail(CHILD_STAGE_SETUP, errno, "cannot inspect /%s in the image", name);
    if (mkdirat(rootfd, name, 0755) < 0 && errno != EEXIST)
      child_fail(CHILD_STAGE_SETUP, errno, "cannot create /%s in the container", name);
  } else if (S_ISLNK(st.st_mode)) {
    child_fail(CHILD_STAGE_REFUSED, 0, "the image's /%s is a symbolic link; refusing to run it",
               name);
  } else if (!S_ISDIR(st.st_mode)) {
    child_fail(CHILD_STAGE_REFUSED, 0, "the image's /%s is not a directory; refusing to run it",
               name);
  }
  fd = openat(rootfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    child_fail(errno == ELOOP || errno == ENOTDIR ? CHILD_STAGE_REFUSED : CHILD_STAGE_SETUP, errno,
               "cannot open /%s in the image", name);
  return fd;
}

/* Mounts onto the directory FD was opened on, whatever its name became. */
static void mount_on_fd(int fd, const char *what, const char *src, const char *fstype,
                        unsigned long flags, const char *data) {
  char target[64];
  snprintf(target, sizeof(target), "/proc/self/fd/%d", fd);
  if (mount(src, target, fstype, flags, data) < 0)
    child_fail(CHILD_STAGE_SETUP, errno, "cannot mount %s on /%s", fstype, what);
}

/* The flags a read-only remount must keep (a bind remount replaces them). */
static unsigned long mount_flags_of(const char *path) {
  struct statvfs sv;
  unsigned long f = 0;
  if (statvfs(path, &sv) < 0)
    return 0;
  if (sv.f_flag & ST_NOSUID)
    f |= MS_NOSUID;
  if (sv.f_flag & ST_NODEV)
    f |= MS_NODEV;
  if (sv.f_flag & ST_NOEXEC)
    f |= MS_NOEXEC;
  if (sv.f_flag & ST_NOATIME)
    f |= MS_NOATIME;
  if (sv.f_flag & ST_NODIRATIME)
    f |= MS_NODIRATIME;
  if (sv.f_flag & ST_RELATIME)
    f |= MS_RELATIME;
  return f;
}

static void setup_dev(int rootfd) {
  int devfd = open_top_dir(rootfd, "dev");
  mount_on_fd(devfd, "dev", "tmpfs", "tmpfs", MS_NOSUID | MS_STRICTATIME,
              "mode=755,size=65536k");
  close(devfd);
  /* from here on "dev" is our own tmpfs: no name below it comes from the image */
  for (size_t i = 0; i < sizeof(dev_nodes) / sizeof(dev_nodes[0]); i++) {
    char src[32], dst[32];
    int fd;
    snprintf(src, sizeof(src), "/dev/%s", dev_nodes[i]);
    snprintf(dst, sizeof(dst), "dev/%s", dev_nodes[i]);
    fd = openat(rootfd, dst, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0666);
    if (fd < 0)
      child_fail(CHILD_STAGE_SETUP, errno, "cannot create /%s", dst);
    close(fd);
    xmount(src, dst, NULL, MS_BIND, NULL);
  }
  if (mkdirat(rootfd, "dev/pts", 0755) < 0 || mkdirat(rootfd, "dev/shm", 01777) < 0 ||
      mkdirat(rootfd, "dev/mqueue", 0755) < 0)
    child_fail(CHILD_STAGE_SETUP, errno, "cannot populate /dev");
  xmount("devpts", "dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
         "newinstance,ptmxmode=0666,mode=0620,gid=5");
  xmount("shm", "dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k");
  xmount("mqueue", "dev/mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  for (size_t i = 0; i < sizeof(dev_links) / sizeof(dev_links[0]); i++) {
    char dst[32];
    snprintf(dst, sizeof(dst), "dev/%s", dev_links[i][1]);
    /* runc's rule: /dev/core only when there is a /proc/kcore */
    if (strcmp(dev_links[i][1], "core") == 0 && faccessat(rootfd, "proc/kcore", F_OK, 0) < 0)
      continue;
    if (symlinkat(dev_links[i][0], rootfd, dst) < 0)
      child_fail(CHILD_STAGE_SETUP, errno, "cannot create /%s", dst);
  }
}

/* Binds the engine's /etc/hostname and /etc/hosts over the image's, as
 * Docker does, so they never land in the container's writable layer.  The
 * parent made the mount points (etc_files_prepare) with proper errors; this
 * resolves them again, inside the root, in the container's mount namespace
 * (a descriptor from the parent's namespace cannot be mounted on).  Done
 * before /proc, /dev and /sys are mounted: an image whose /etc/hosts is a
 * symlink resolves to one of its own files, never to a kernel file. */
static void bind_etc_files(int rootfd, const char *dir) {
  for (size_t i = 0; dir != NULL && i < sizeof(etc_files) / sizeof(etc_files[0]); i++) {
    char src[PATH_MAX + 16], dst[32], target[64];
    struct stat st;
    int fd;
    snprintf(src, sizeof(src), "%s/%s", dir, etc_files[i]);
    snprintf(dst, sizeof(dst), "/etc/%s", etc_files[i]);
    /* O_NONBLOCK: never hang on a FIFO */
    errno = 0;
    fd = host->open_in_root(rootfd, dst, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0, NULL);
    if (fd < 0)
      child_fail(CHILD_STAGE_SETUP, errno, "cannot open %s in the container", dst);
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
      child_fail(CHILD_STAGE_REFUSED, 0, "the image's %s is not a regular file; refusing to run it",
                 dst);
    snprintf(target, sizeof(target), "/proc/self/fd/%d", fd);
    if (mount(src, target, NULL, MS_BIND, NULL) < 0)
      child_fail(CHILD_STAGE_SETUP, errno, "cannot mount %s", dst);
    close(fd);
  }
}

static void setup_cgroup(int rootfd, const struct cgroup_layout *cg) {
  const unsigned long ro = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;
  if (cg->mode == CG_NONE)
    return;
  if (cg->mode == CG_V2) {
    xmount("cgroup", "sys/fs/cgroup", "cgroup2", ro, NULL);
    return;
  }
  /* The cgroup namespace makes each hierarchy's root the container's own
   * cgroup, so fresh mounts show the container its subtree only. */
  xmount("tmpfs", "sys/fs/cgroup", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755");
  for (size_t i = 0; i < cg->n; i++) {
    const struct cgroup_mount *m = &cg->m[i];
    char dst[128];
    snprintf(dst, sizeof(dst), "sys/fs/cgroup/%s", m->name);
    if (m->link[0]) {
      if (symlinkat(m->link, rootfd, dst) < 0)
        child_fail(CHILD_STAGE_SETUP, errno, "cannot create /%s", dst);
      continue;
    }
    if (mkdirat(rootfd, dst, 0755) < 0)
      child_fail(CHILD_STAGE_SETUP, errno, "cannot create /%s", dst);
    if (m->v2)
      xmount("cgroup", dst, "cgroup2", ro, NULL);
    else if (mount("cgroup", dst, "cgroup", ro, m->opts) < 0)
      child_fail(CHILD_STAGE_SETUP, errno, "cannot mount the cgroup hierarchy %s on /%s", m->opts,
                 dst);
  }
  xmount(NULL, "sys/fs/cgroup", NULL, MS_REMOUNT | ro, "mode=755");
}

/* Docker's masked paths: files get /dev/null bound over them, directories
 * an empty read-only tmpfs; its read-only paths are bound onto themselves
 * read-only. */
static void mask_paths(int rootfd) {
  for (size_t i = 0; i < docker_n_masked_paths; i++) {
    const char *p = docker_masked_paths[i] + 1; /* relative to the new root */
    struct stat st;
    if (fstatat(rootfd, p, &st, AT_SYMLINK_NOFOLLOW) < 0) {
      if (errno == ENOENT)
        continue;
      child_fail(CHILD_STAGE_SETUP, errno, "cannot mask /%s", p);
    }
    if (S_ISDIR(st.st_mode))
      xmount("tmpfs", p, "tmpfs", MS_RDONLY, NULL);
    else
      xmount("/dev/null", p, NULL, MS_BIND, NULL);
  }
  for (size_t i = 0; i < docker_n_readonly_paths; i++) {
    const char *p = docker_readonly_paths[i] + 1;
    struct stat st;
    if (fstatat(rootfd, p, &st, AT_SYMLINK_NOFOLLOW) < 0) {
      if (errno == ENOENT)
        continue;
      child_fail(CHILD_STAGE_SETUP, errno, "cannot make /%s read-only", p);
    }
    xmount(p, p, NULL, MS_BIND | MS_REC, NULL);
    xmount(NULL, p, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | mount_flags_of(p), NULL);
  }
}

static void loopback_up(void) {
  struct ifreq ifr;
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0)
    child_fail(CHILD_STAGE_SETUP, errno, "cannot bring up the loopback device");
  memset(&ifr, 0, sizeof(ifr));
  strcpy(ifr.ifr_name, "lo");
  if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
    child_fail(CHILD_STAGE_SETUP, errno, "cannot bring up the loopback device");
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
    child_fail(CHILD_STAGE_SETUP, errno, "cannot bring up the loopback device");
  close(s);
}

/* -v and --tmpfs, on the targets the parent made (mounts_prepare), opened
 * again here inside the root: a symlink in the image resolves inside it. */
static void user_mounts(int rootfd, const struct strata_run_spec *spec) {
  for (size_t i = 0; SPEC_HAS_1_2(spec) && i < spec->nmounts; i++) {
    const struct strata_mount *m = &spec->mounts[i];
    unsigned long fl = 0;
    char target[64];
    int fd;
    if (m->flags & STRATA_MOUNT_NOSUID)
      fl |= MS_NOSUID;
    if (m->flags & STRATA_MOUNT_NODEV)
      fl |= MS_NODEV;
    if (m->flags & STRATA_MOUNT_NOEXEC)
      fl |= MS_NOEXEC;
    fd = host->open_in_root(rootfd, m->destination, O_PATH | O_CLOEXEC, 0, NULL);
    if (fd < 0)
      child_fail(CHILD_STAGE_SETUP, errno, "cannot open the mount point %s in the container",
                 m->destination);
    snprintf(target, sizeof(target), "/proc/self/fd/%d", fd);
    if (m->type == STRATA_MOUNT_TMPFS) {
      if (mount("tmpfs", target, "tmpfs", fl | (m->flags & STRATA_MOUNT_RDONLY ? MS_RDONLY : 0),
                m->data) < 0)
        child_fail(CHILD_STAGE_SETUP, errno, "cannot mount a tmpfs on %s", m->destination);
      close(fd);
      continue;
    }
    if (mount(m->source, target, NULL, MS_BIND | MS_REC, NULL) < 0)
      child_fail(CHILD_STAGE_SETUP, errno, "cannot bind-mount %s on %s", m->source, m->destination);
    close(fd);
    if (!(m->flags & STRATA_MOUNT_RDONLY))
      continue;
    /* the remount must name the new mount, not the directory under it */
    fd = host->open_in_root(rootfd, m->destination, O_PATH | O_CLOEXEC, 0, NULL);
    if (fd < 0)
      child_fail(CHILD_STAGE_SETUP, errno, "cannot open the mount point %s in the container",
                 m->destination);
    snprintf(target, sizeof(target), "/proc/self/fd/%d", fd);
    if (mount(NULL, target, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | mount_flags_of(target),
              NULL) < 0)
      child_fail(CHILD_STAGE_SETUP, errno, "cannot make %s read-only", m->destination);
    close(fd);
  }
}

/* --privileged: every device node of the host's /dev (below DIR, relative
 * to ROOTFD), bound onto empty files in the container's /dev tmpfs, as the
 * standard nodes are.  getdents64 on the stack: the child may not
 * allocate (see clone_child). */
static void host_devices(int rootfd, const char *dir, int depth) {
  char buf[4096], path[PATH_MAX + 2];
  int hfd;
  long n;
  snprintf(path, sizeof(path), "/%s", dir);
  hfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (hfd < 0)
    return;
  while ((n = syscall(SYS_getdents64, hfd, buf, sizeof(buf))) > 0) {
    for (long off = 0; off < n;) {
      struct linux_dirent64 {
        uint64_t d_ino;
        int64_t d_off;
        unsigned short d_reclen;
        unsigned char d_type;
        char d_name[];
      } *de = (void *)(buf + off);
      char rel[PATH_MAX];
      struct stat st;
      int fd;
      off += de->d_reclen;
      if (de->d_name[0] == '.' || (depth == 0 && (strcmp(de->d_name, "pts") == 0 ||
                                                  strcmp(de->d_name, "shm") == 0 ||
                                                  strcmp(de->d_name, "mqueue") == 0)))
        continue;
      if ((size_t)snprintf(rel, sizeof(rel), "%s/%s", dir, de->d_name) >= sizeof(rel) ||
          fstatat(hfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        continue;
      if (S_ISDIR(st.st_mode) && depth < 4) {
        if (mkdirat(rootfd, rel, 0755) < 0 && errno != EEXIST)
          child_fail(CHILD_STAGE_SETUP, errno, "cannot create /%s", rel);
        host_devices(rootfd, rel, depth + 1);
        continue;
      }
      if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode))
        continue;
      fd = openat(rootfd, rel, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0666);
      if (fd < 0) {
        if (errno == EEXIST)
          continue; /* a standard node, already there */
        child_fail(CHILD_STAGE_SETUP, errno, "cannot create /%s", rel);
      }
      close(fd);
      snprintf(path, sizeof(path), "/%s", rel);
      xmount(path, rel, NULL, MS_BIND, NULL);
    }
  }
  close(hfd);
}

/* Builds the container's mount tree on a bind of ROOTFS and pivots into it. */
static void setup_rootfs(const struct strata_run_spec *spec, const struct cgroup_layout *cg,
                         const char *etc_dir) {
  int rootfd, fd;

  /* nothing done here may reach the host's mount tree */
  xmount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
  /* refuse a /proc or /sys symlink before anything is mounted on it */
  rootfd = open(spec->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0)
    child_fail(CHILD_STAGE_SETUP, errno, "cannot open the root file system '%s'", spec->rootfs);
  close(open_top_dir(rootfd, "proc"));
  close(open_top_dir(rootfd, "sys"));
  close(open_top_dir(rootfd, "dev"));
  close(rootfd);
  /* pivot_root needs the new root to be a mount point */
  if (mount(spec->rootfs, spec->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
    child_fail(CHILD_STAGE_SETUP, errno, "cannot bind-mount the root file system '%s'",
               spec->rootfs);
  if (chdir(spec->rootfs) < 0)
    child_fail(CHILD_STAGE_SETUP, errno, "cannot enter the root file system '%s'", spec->rootfs);
  rootfd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0)
    child_fail(CHILD_STAGE_SETUP, errno, "cannot open the root file system '%s'", spec->rootfs);

  bind_etc_files(rootfd, etc_dir);
  user_mounts(rootfd, spec);
  fd = open_top_dir(rootfd, "proc");
  mount_on_fd(fd, "proc", "proc", "proc", MS_NOSUID | MS_NOEXEC | MS_NODEV, NULL);
  close(fd);
  setup_dev(rootfd);
  if (spec_flags(spec) & STRATA_RUN_PRIVILEGED)
    host_devices(rootfd, "dev", 0);
  fd = open_top_dir(rootfd, "sys");
  mount_on_fd(fd, "sys", "sysfs", "sysfs",
              (spec_flags(spec) & STRATA_RUN_PRIVILEGED ? 0 : MS_RDONLY) | MS_NOSUID | MS_NOEXEC |
                  MS_NODEV,
              NULL);
  close(fd);
  setup_cgroup(rootfd, cg);
  /* Docker: a privileged container has no masked or read-only paths */
  if (!(spec_flags(spec) & STRATA_RUN_PRIVILEGED))
    mask_paths(rootfd);
  close(rootfd);
  if ((spec_flags(spec) & STRATA_RUN_READ_ONLY) &&
      mount(NULL, ".", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | mount_flags_of("."), NULL) < 0)
    child_fail(CHILD_STAGE_SETUP, errno, "cannot make the root file system read-only");

  /* pivot_root(".", ".") stacks the old root on top of the new one; the
   * detach then drops it, and with it every path to the host's tree. */
  if (syscall(SYS_pivot_root, ".", ".") < 0)
    child_fail(CHILD_STAGE_SETUP, errno, "cannot pivot_root into '%s'", spec->rootfs);
  if (umount2(".", MNT_DETACH) < 0)
    child_fail(CHILD_STAGE_SETUP, errno, "cannot detach the host's root");
  if (chdir("/") < 0)
    child_fail(CHILD_STAGE_SETUP, errno, "cannot enter the container's root");
}

/* Docker's capability rules: the bounding set is the default set; root gets
 * it as permitted and effective too; any other user gets nothing (the
 * kernel clears permitted and effective on setuid away from 0, KEEPCAPS is
 * off); inheritable and ambient are empty for everyone. */
static void drop_bounding_set(uint64_t caps) {
  int last = cap_max_bits() - 1;
  for (int c = 0; c <= last; c++) {
    bool keep = c < 64 && (caps & (1ULL << c));
    if (!keep && cap_drop_bound(c) < 0 && errno != EINVAL)
      child_fail(CHILD_STAGE_SETUP, errno, "cannot drop capability %d from the bounding set", c);
  }
  if (CAP_AMBIENT_SUPPORTED() && cap_reset_ambient() < 0)
    child_fail(CHILD_STAGE_SETUP, errno, "cannot clear the ambient capabilities");
}

/* The capability state the container's process ends with, built by the
 * parent (libcap allocates; the child must not, see clone_child). */
static cap_t container_caps(uint32_t uid, uint64_t caps) {
  cap_t now = cap_get_proc(), want = cap_init();
  int last = cap_max_bits() - 1;
  if (now == NULL || want == NULL) {
    cap_free(now);
    cap_free(want);
    return NULL;
  }
  for (cap_value_t c = 0; uid == 0 && c <= last && c < 64; c++) {
    cap_flag_value_t have = CAP_CLEAR;
    /* an engine that lacks one cannot give it */
    if (!(caps & (1ULL << c)) || cap_get_flag(now, c, CAP_PERMITTED, &have) < 0 ||
        have != CAP_SET)
      continue;
    cap_set_flag(want, CAP_PERMITTED, 1, &c, CAP_SET);
    cap_set_flag(want, CAP_EFFECTIVE, 1, &c, CAP_SET);
  }
  cap_free(now);
  return want;
}

/* Closes every descriptor but 0, 1, 2 and the report pipe (which is
 * close-on-exec).  Done for real, not just marked close-on-exec, before the
 * chdir: runc CVE-2024-21626 was a leaked directory fd reached through a
 * working directory of /proc/self/fd/N. */
static void close_fds(void) {
  int fd = child_report_fd;
  if (fd > 3 && syscall(SYS_close_range, 3U, (unsigned)fd - 1, 0U) < 0 && errno != ENOSYS)
    child_fail(CHILD_STAGE_SETUP, errno, "cannot close the engine's file descriptors");
  if (syscall(SYS_close_range, (unsigned)fd + 1, ~0U, 0U) < 0) {
    long max = sysconf(_SC_OPEN_MAX);
    if (errno != ENOSYS)
      child_fail(CHILD_STAGE_SETUP, errno, "cannot close the engine's file descriptors");
    for (int i = 3; i < (max > 0 ? max : 65536); i++)
      if (i != fd)
        close(i);
  }
}

/* A standard stream the caller left closed may have been reused by one of
 * the engine's own descriptors (all close-on-exec): give the container
 * /dev/null there instead, as Docker does, never the engine's file. */
static void sanitize_std_fds(void) {
  for (int i = 0; i < 3; i++) {
    int fl = fcntl(i, F_GETFD), n;
    if (fl >= 0 && !(fl & FD_CLOEXEC))
      continue;
    n = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (n < 0)
      child_fail(CHILD_STAGE_SETUP, errno, "cannot open /dev/null");
    if (n == i) {
      if (fcntl(i, F_SETFD, 0) < 0)
        child_fail(CHILD_STAGE_SETUP, errno, "cannot set up the standard streams");
      continue;
    }
    if (dup2(n, i) < 0)
      child_fail(CHILD_STAGE_SETUP, errno, "cannot set up the standard streams");
    close(n);
  }
}

/* ABI 1.2: the standard streams the core chose for the process.  Moved
 * above 2 first, so that one stream's source never clobbers another's. */
static void setup_stdio(const struct strata_run_spec *spec) {
  int tmp[3];
  for (int i = 0; i < 3; i++) {
    tmp[i] = -1;
    if (spec->stdio[i] >= 0 && (tmp[i] = fcntl(spec->stdio[i], F_DUPFD_CLOEXEC, 3)) < 0)
      child_fail(CHILD_STAGE_SETUP, errno, "cannot set up the standard streams");
  }
  for (int i = 0; i < 3; i++)
    if (tmp[i] >= 0 && (dup2(tmp[i], i) < 0 || close(tmp[i]) < 0))
      child_fail(CHILD_STAGE_SETUP, errno, "cannot set up the standard streams");
}

/* -t: the terminal is made inside the container, from its own devpts, so
 * `tty` names /dev/pts/N there; the slave becomes the controlling terminal
 * of a new session and the standard streams, the master goes to the core
 * over the console socket.  Runs after pivot_root. */
static void setup_console(const struct strata_run_spec *spec) {
  struct winsize ws = {.ws_row = spec->console_rows, .ws_col = spec->console_cols};
  char byte = 0, cbuf[CMSG_SPACE(sizeof(int))];
  struct iovec iov = {.iov_base = &byte, .iov_len = 1};
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                     .msg_controllen = sizeof(cbuf)};
  struct cmsghdr *c;
  int master, slave, unlock = 0;

  master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0)
    child_fail(CHILD_STAGE_SETUP, errno, "cannot open the container's /dev/ptmx");
  if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
    child_fail(CHILD_STAGE_SETUP, errno, "cannot unlock the container's terminal");
  slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0)
    child_fail(CHILD_STAGE_SETUP, errno, "cannot open the container's terminal");
  if (ws.ws_row && ws.ws_col && ioctl(slave, TIOCSWINSZ, &ws) < 0)
    child_fail(CHILD_STAGE_SETUP, errno, "cannot set the terminal's size");
  /* the user owns the terminal, as with Docker */
  if (fchown(slave, spec->uid, (gid_t)-1) < 0)
    child_fail(CHILD_STAGE_SETUP, errno, "cannot give the terminal to uid %u", spec->uid);
  if (setsid() < 0 || ioctl(slave, TIOCSCTTY, 0) < 0)
    child_fail(CHILD_STAGE_SETUP, errno, "cannot make the terminal the controlling one");
  for (int i = 0; i < 3; i++)
    if (dup2(slave, i) < 0)
      child_fail(CHILD_STAGE_SETUP, errno, "cannot set up the standard streams");
  if (slave > 2)
    close(slave);
  m.msg_controllen = CMSG_SPACE(sizeof(int));
  c = CMSG_FIRSTHDR(&m);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &master, sizeof(int));
  if (sendmsg(spec->console_socket, &m, MSG_NOSIGNAL) != 1)
    child_fail(CHILD_STAGE_SETUP, errno, "cannot hand the terminal to the engine");
  close(master);
}

/* A terminal the core made (stdio) becomes the controlling terminal of a
 * new session. */
static void adopt_terminal(void) {
  if (isatty(STDIN_FILENO) && (setsid() < 0 || ioctl(STDIN_FILENO, TIOCSCTTY, 0) < 0))
    child_fail(CHILD_STAGE_SETUP, errno, "cannot make the terminal the controlling one");
}

/* The start of run's and exec's child: a clean signal state and the
 * failure pipe's write end PIPE_WRITE moved to child_report_fd. */
static void child_begin(int pipe_write) {
  sigset_t none;

  /* the engine's dispositions (an ignored SIGPIPE) would survive exec */
  for (int s = 1; s < NSIG; s++)
    signal(s, SIG_DFL);
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  /* above the standard streams even when the engine ran with one closed,
   * so close_fds() can keep 0, 1 and 2 and close everything else */
  child_report_fd = fcntl(pipe_write, F_DUPFD_CLOEXEC, 3);
  if (child_report_fd < 0)
    _exit(127);
  close(pipe_write);
}

/* -t: a terminal of the container's own (console socket) or the core's;
 * then no standard stream may be one of the engine's descriptors. */
static void setup_terminal(const struct strata_run_spec *spec) {
  if (spec->tty && SPEC_HAS_1_2(spec) && spec->console_socket >= 0)
    setup_console(spec);
  else if (spec->tty)
    adopt_terminal();
  sanitize_std_fds();
}

/* The image's user: bounding set, groups, uid and gid, capabilities, and
 * no-new-privileges when asked (for exec too, as Docker's exec keeps the
 * container's setting). */
static void become_user(const struct strata_run_spec *spec, cap_t caps) {
  gid_t groups[256];
  size_t ng = spec->ngroups < 256 ? spec->ngroups : 256;

  drop_bounding_set(spec_caps(spec));
  for (size_t i = 0; i < ng; i++)
    groups[i] = spec->groups[i];
  if (setgroups(ng, groups) < 0)
    child_fail(CHILD_STAGE_SETUP, errno, "setgroups");
  if (setgid(spec->gid) < 0)
    child_fail(CHILD_STAGE_SETUP, errno, "setgid %u", spec->gid);
  if (setuid(spec->uid) < 0)
    child_fail(CHILD_STAGE_SETUP, errno, "setuid %u", spec->uid);
  if (cap_set_proc(caps) < 0)
    child_fail(CHILD_STAGE_SETUP, errno, "cannot set capabilities");
  if ((spec_flags(spec) & STRATA_RUN_NO_NEW_PRIVS) && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    child_fail(CHILD_STAGE_SETUP, errno, "cannot set no-new-privileges");
}

/* The end of run's and exec's child, once it is the image's user: the
 * working directory, then the command. */
static void __attribute__((noreturn)) enter_and_exec(const struct strata_run_spec *spec) {
  char cwd[PATH_MAX];

  /* a foreground container must not outlive its engine (cleared by setuid,
   * so set after it) */
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  close_fds();
  if (chdir(spec->cwd) < 0)
    child_fail(CHILD_STAGE_SETUP, errno, "cannot change to the working directory '%s'", spec->cwd);
  /* After pivot_root the host's tree is detached: a directory outside the
   * container makes getcwd fail (glibc refuses "(unreachable)/..."). */
  if (getcwd(cwd, sizeof(cwd)) == NULL || cwd[0] != '/')
    child_fail(CHILD_STAGE_SETUP, errno ? errno : ENOENT,
               "the working directory '%s' is outside the container", spec->cwd);

  /* /proc/self/exe (runc CVE-2019-5736): this process stops being the
   * engine at the execve below, and the engine never re-executes itself in
   * the container.  The parent engine process lives in the host's PID
   * namespace, which the container's /proc does not show, so no process of
   * the container can reach the engine's binary through /proc/PID/exe. */
  child_exec(spec);
}

/* What the parent hands the child (shared memory: read only). */
struct child_args {
  const struct strata_run_spec *spec;
  const struct cgroup_layout *cg;
  const char *etc_dir; /* NULL: no /etc/hostname and /etc/hosts */
  cap_t caps;
  int pipe_read, pipe_write;
  const struct cgroup_limits *limits;
};

static void __attribute__((noreturn)) child_main(const struct child_args *a) {
  const struct strata_run_spec *spec = a->spec;

  umask(022);
  close(a->pipe_read);
  child_begin(a->pipe_write);
  if (SPEC_HAS_1_2(spec))
    setup_stdio(spec);

  /* Join the container's cgroups, then make the cgroup namespace: its root
   * is where the process stands at unshare time, so the container sees its
   * own cgroup as "/" (clone's CLONE_NEWCGROUP would root it at the
   * engine's). */
  for (size_t i = 0; i < a->limits->n; i++)
    if (write(a->limits->procs[i], "0", 1) != 1)
      child_fail(CHILD_STAGE_SETUP, errno, "cannot join the cgroup %s", a->limits->dir[i]);
  if (unshare(CLONE_NEWCGROUP) < 0)
    child_fail(CHILD_STAGE_SETUP, errno, "cannot create a cgroup namespace");

  /* Until its execve this process is the engine's binary: non-dumpable, no
   * process of the container may open its /proc/PID/exe or mem (runc
   * CVE-2019-5736).  The flag belongs to the memory map this child shares
   * with the engine (CLONE_VM), so the engine is covered too; execve gives
   * the container's command a fresh one. */
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
    child_fail(CHILD_STAGE_SETUP, errno, "cannot make the engine non-dumpable");
  setup_rootfs(spec, a->cg, a->etc_dir);
  setup_terminal(spec);
  if (!(spec_flags(spec) & STRATA_RUN_NETWORK_HOST))
    loopback_up();
  if (spec->hostname && *spec->hostname &&
      sethostname(spec->hostname, strlen(spec->hostname)) < 0)
    child_fail(CHILD_STAGE_SETUP, errno, "cannot set the host name '%s'", spec->hostname);

  become_user(spec, a->caps);
  enter_and_exec(spec);
}

/* ---------------------------------------------------------------- the engine side */

static int ns_init(const struct strata_host *h, const struct strata_plugin_context *ctx,
                   void **state, struct strata_error **err) {
  struct ns_state *st = calloc(1, sizeof(*st));
  host = h;
  if (st == NULL || (ctx->data_dir && (st->data_dir = strdup(ctx->data_dir)) == NULL)) {
    free(st);
    return host->error(err, ENOMEM, "cannot start the namespaces backend");
  }
  *state = st;
  return 0;
}

static void ns_fini(void *state) {
  struct ns_state *st = state;
  if (st != NULL)
    free(st->data_dir);
  free(st);
}

/* Writes this run's /etc/hostname and /etc/hosts under DATA_DIR/ID and
 * returns that directory's fd (the caller removes ID when the container
 * ends), or -1 with *err set. */
static int etc_files_write(const char *data_dir, const struct strata_run_spec *spec,
                           char *path, size_t pathlen, struct strata_error **err) {
  char hostname[300], host_hosts[65536];
  const char *hosts = container_hosts_text(spec_flags(spec) & STRATA_RUN_NETWORK_HOST,
                                           host_hosts, sizeof(host_hosts));
  int top, dir;

  if (mkdir(data_dir, 0700) < 0 && errno != EEXIST) {
    /* <root>/plugins may not exist yet */
    int slash = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    int r = slash < 0 ? -1 : host->mkdir_p_at(slash, data_dir, 0700, err);
    if (slash >= 0)
      close(slash);
    if (r < 0)
      return slash < 0 ? host->error(err, errno, "cannot create '%s'", data_dir) : -1;
  }
  top = open(data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (top < 0)
    return host->error(err, errno, "cannot open '%s'", data_dir);
  if (mkdirat(top, spec->id, 0700) < 0 && errno != EEXIST) {
    int e = errno;
    close(top);
    return host->error(err, e, "cannot create '%s/%s'", data_dir, spec->id);
  }
  dir = openat(top, spec->id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  snprintf(hostname, sizeof(hostname), "%s\n", spec->hostname ? spec->hostname : "");
  if (dir < 0 || write_text_at(dir, "hostname", hostname) < 0 ||
      write_text_at(dir, "hosts", hosts) < 0) {
    int e = errno;
    if (dir >= 0)
      close(dir);
    close(top);
    return host->error(err, e, "cannot write the container's /etc files in '%s'", data_dir);
  }
  close(dir);
  snprintf(path, pathlen, "%s/%s", data_dir, spec->id);
  return top;
}

static int child_entry(void *arg) {
  child_main(arg);
}

static int probe_entry(void *arg) {
  return 0;
}

/* Starts FN(ARG) in new namespaces, as posix_spawn does: CLONE_VM |
 * CLONE_VFORK on a stack of its own, the parent suspended until the child
 * execs or exits.  Copying the engine's page tables (fork) costs several
 * milliseconds on a virtual machine; this does not.  The price: until its
 * exec the child shares the engine's memory, so it never allocates (libcap
 * state and paths are prepared by the parent), and only writes its own
 * stack and child_report_fd.  Its file table and signal dispositions are its own
 * (no CLONE_FILES, no CLONE_SIGHAND). */
static pid_t clone_child(int (*fn)(void *), void *arg, unsigned long flags) {
  const size_t size = 1 << 20;
  void *stack = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK,
                     -1, 0);
  pid_t pid;
  int e;
  if (stack == MAP_FAILED)
    return -1;
  pid = clone(fn, (char *)stack + size, flags | CLONE_VM | CLONE_VFORK | SIGCHLD, arg);
  e = errno;
  munmap(stack, size);
  errno = e;
  return pid;
}

static int ns_probe(void *state, struct strata_error **err) {
  pid_t pid;
  int status;

  if (CAP_IS_SUPPORTED(CAP_SETPCAP) == 0)
    return host->error(err, 0, "the kernel does not support capability bounding sets");
  pid = clone_child(probe_entry, NULL, NS_FLAGS);
  if (pid < 0)
    return host->error(err, errno,
                       "cannot create mount, PID, UTS, IPC, network and cgroup namespaces");
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR)
      return host->error(err, errno, "cannot create namespaces");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return host->error(err, 0, "a process in new namespaces did not exit cleanly");
  return 0;
}

/* Makes /etc/hostname and /etc/hosts exist in ROOTFS as regular files (the
 * mount points for bind_etc_files), resolved inside it. */
static int etc_files_prepare(const char *rootfs, struct strata_error **err) {
  int rootfd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0)
    return host->error(err, errno, "cannot open the root file system '%s'", rootfs);
  if (host->mkdir_p_at(rootfd, "etc", 0755, err) < 0) {
    close(rootfd);
    return host->error_wrap(err, "cannot create /etc in the container");
  }
  for (size_t i = 0; i < sizeof(etc_files) / sizeof(etc_files[0]); i++) {
    char dst[32];
    struct stat st;
    int fd;
    snprintf(dst, sizeof(dst), "/etc/%s", etc_files[i]);
    fd = host->open_in_root(rootfd, dst, O_RDONLY | O_CREAT | O_NONBLOCK | O_NOCTTY | O_CLOEXEC,
                            0644, err);
    if (fd < 0) {
      close(rootfd);
      return host->error_wrap(err, "cannot create %s in the container", dst);
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
      close(fd);
      close(rootfd);
      return host->error(err, 0, "the image's %s is not a regular file; refusing to run it", dst);
    }
    close(fd);
  }
  close(rootfd);
  return 0;
}

/* Makes the mount points of -v and --tmpfs in ROOTFS, resolved inside it:
 * a directory, or an empty file for a bind of a file.  As Docker does,
 * they stay in the container's writable layer. */
static int mounts_prepare(const char *rootfs, const struct strata_run_spec *spec,
                          struct strata_error **err) {
  int rootfd;
  if (!SPEC_HAS_1_2(spec) || spec->nmounts == 0)
    return 0;
  rootfd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0)
    return host->error(err, errno, "cannot open the root file system '%s'", rootfs);
  for (size_t i = 0; i < spec->nmounts; i++) {
    const struct strata_mount *m = &spec->mounts[i];
    struct stat st;
    bool file = m->type == STRATA_MOUNT_BIND && stat(m->source, &st) == 0 && !S_ISDIR(st.st_mode);
    char parent[PATH_MAX];
    int fd;
    if (m->type == STRATA_MOUNT_BIND && access(m->source, F_OK) < 0) {
      close(rootfd);
      return host->error(err, errno, "invalid mount source '%s'", m->source);
    }
    if (!file) {
      if (host->mkdir_p_at(rootfd, m->destination, 0755, err) < 0)
        goto fail;
      continue;
    }
    snprintf(parent, sizeof(parent), "%s", m->destination);
    *strrchr(parent, '/') = '\0';
    if (parent[0] && host->mkdir_p_at(rootfd, parent, 0755, err) < 0)
      goto fail;
    fd = host->open_in_root(rootfd, m->destination,
                            O_RDONLY | O_CREAT | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0644, err);
    if (fd < 0)
      goto fail;
    close(fd);
    continue;
  fail:
    close(rootfd);
    return host->error_wrap(err, "cannot create the mount point %s in the container",
                            m->destination);
  }
  close(rootfd);
  return 0;
}

/* The container's mounts died with its mount namespace: drop the files. */
static void etc_files_remove(int top, const char *id) {
  struct strata_error *e = NULL;
  if (top < 0)
    return;
  if (host->remove_tree_at(top, id, &e) < 0) {
    host->log(STRATA_LOG_WARNING, DOMAIN, "cannot remove the /etc files of %.12s", id);
    host->error_free(e);
  }
  close(top);
}

static int ns_run(void *state, const struct strata_run_spec *spec, struct strata_error **err) {
  struct ns_state *st = state;
  struct cgroup_layout cg;
  struct child_failure f;
  char etc_dir[PATH_MAX];
  int etc_top = -1;
  struct child_args args;
  struct cgroup_limits limits;
  cap_t caps;
  sigset_t saved;
  int pipefd[2], status, failed;
  pid_t pid;

  if (run_spec_check(host, spec, err) < 0)
    return STRATA_RUN_ENGINE_ERROR;
  cgroup_layout_read(&cg);
  if (st != NULL && st->data_dir != NULL) {
    if (etc_files_prepare(spec->rootfs, err) < 0 || mounts_prepare(spec->rootfs, spec, err) < 0)
      return STRATA_RUN_ENGINE_ERROR;
    etc_top = etc_files_write(st->data_dir, spec, etc_dir, sizeof(etc_dir), err);
    if (etc_top < 0)
      return STRATA_RUN_ENGINE_ERROR;
  }
  if (limits_create(&cg, spec, &limits, err) < 0) {
    etc_files_remove(etc_top, spec->id);
    return STRATA_RUN_ENGINE_ERROR;
  }
  caps = container_caps(spec->uid, spec_caps(spec));
  if (caps == NULL) {
    int e = errno;
    limits_remove(&limits);
    etc_files_remove(etc_top, spec->id);
    return host->error(err, e, "cannot prepare the container's capabilities");
  }
  if (pipe2(pipefd, O_CLOEXEC) < 0) {
    int e = errno;
    cap_free(caps);
    limits_remove(&limits);
    etc_files_remove(etc_top, spec->id);
    return host->error(err, e, "cannot start container");
  }
  /* no signal may arrive between the clone and knowing the child's PID */
  child_signals_block(&saved);
  args = (struct child_args){.spec = spec, .cg = &cg, .etc_dir = etc_top >= 0 ? etc_dir : NULL,
                             .caps = caps, .pipe_read = pipefd[0], .pipe_write = pipefd[1],
                             .limits = &limits};
  pid = clone_child(child_entry, &args,
                    NS_FLAGS & ~CLONE_NEWCGROUP &
                        ~(spec_flags(spec) & STRATA_RUN_NETWORK_HOST ? CLONE_NEWNET : 0));
  cap_free(caps);
  if (pid < 0) {
    int e = errno;
    sigprocmask(SIG_SETMASK, &saved, NULL);
    close(pipefd[0]);
    close(pipefd[1]);
    limits_remove(&limits);
    etc_files_remove(etc_top, spec->id);
    return host->error(err, e, "cannot create the container's namespaces");
  }
  close(pipefd[1]);
  failed = child_wait(spec, pid, pid, pipefd[0], &saved, &status, &f);
  limits_remove(&limits);
  etc_files_remove(etc_top, spec->id);
  if (failed)
    return child_failure_result(host, &f, "cannot start container", err);
  return child_exit_result(host, status, "container", err);
}

/* ---------------------------------------------------------------- exec */

/* The namespaces to join, in setns order: the user namespace first (it
 * owns the others), the mount namespace last (it changes our root). */
static const char *const exec_namespaces[] = {"user", "cgroup", "ipc", "uts", "net", "pid", "mnt"};
#define N_EXEC_NS (sizeof(exec_namespaces) / sizeof(exec_namespaces[0]))

/* Moves this process into the cgroups of PID (host paths from
 * /proc/PID/cgroup), so an exec'd process counts against the container's
 * limits.  Best effort: a hierarchy strata cannot find is left alone. */
static void join_cgroups_of(int pid) {
  char path[64], line[4096];
  FILE *f;
  snprintf(path, sizeof(path), "/proc/%d/cgroup", pid);
  f = fopen(path, "re");
  while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
    char *c = strchr(line, ':'), *p = c ? strchr(c + 1, ':') : NULL, dir[PATH_MAX + 64];
    const char *hier;
    int fd;
    if (p == NULL)
      continue;
    *p++ = '\0';
    p[strcspn(p, "\n")] = '\0';
    hier = c + 1;
    if (*hier == '\0') /* cgroup v2: the unified hierarchy of a hybrid host, or the root */
      hier = access("/sys/fs/cgroup/unified/cgroup.procs", F_OK) == 0 ? "unified" : "";
    else if (strncmp(hier, "name=", 5) == 0)
      hier += 5;
    snprintf(dir, sizeof(dir), "/sys/fs/cgroup/%s%s/cgroup.procs", hier, p);
    fd = open(dir, O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
      if (write(fd, "0", 1) != 1) {
        /* best effort, see above */
      }
      close(fd);
    }
  }
  if (f != NULL)
    fclose(f);
}

/* The exec'd process itself, in all the container's namespaces. */
static void __attribute__((noreturn)) exec_child(const struct strata_run_spec *spec, cap_t caps,
                                                 int pipe_write) {
  child_begin(pipe_write);
  setup_stdio(spec);
  setup_terminal(spec);
  become_user(spec, caps);
  enter_and_exec(spec);
}

/* Joins PID's namespaces in a forked child, which forks the process that
 * execs (joining a PID namespace applies to children only) and passes on
 * its exit status: the caller waits for the first child, learns the second
 * one's host PID through a pipe, and forwards signals to it. */
static int ns_exec(void *state, const struct strata_run_spec *spec, int pid,
                   struct strata_error **err) {
  int nsfd[N_EXEC_NS], pipefd[2], pidpipe[2], status, target = 0;
  struct child_failure f;
  cap_t caps;
  ssize_t n;
  pid_t mid;

  (void)state;
  if (!SPEC_HAS_1_2(spec))
    return host->error(err, 0, "exec needs a run spec of plugin ABI 1.2");
  if (spec->argv == NULL || spec->argv[0] == NULL)
    return host->error(err, 0, "no command specified");
  for (size_t i = 0; i < N_EXEC_NS; i++) {
    char p[64], self[64];
    struct stat a, b;
    snprintf(p, sizeof(p), "/proc/%d/ns/%s", pid, exec_namespaces[i]);
    snprintf(self, sizeof(self), "/proc/self/ns/%s", exec_namespaces[i]);
    nsfd[i] = open(p, O_RDONLY | O_CLOEXEC);
    if (nsfd[i] < 0 && errno != ENOENT) {
      int e = errno;
      for (size_t k = 0; k < i; k++)
        if (nsfd[k] >= 0)
          close(nsfd[k]);
      return host->error(err, e, "cannot open %s: is the container running?", p);
    }
    /* one we share already (the user namespace without --userns) is left */
    if (nsfd[i] >= 0 && fstat(nsfd[i], &a) == 0 && stat(self, &b) == 0 && a.st_ino == b.st_ino &&
        a.st_dev == b.st_dev) {
      close(nsfd[i]);
      nsfd[i] = -1;
    }
  }
  caps = container_caps(spec->uid, spec_caps(spec));
  if (caps == NULL || pipe2(pipefd, O_CLOEXEC) < 0 || pipe2(pidpipe, O_CLOEXEC) < 0) {
    int e = errno;
    for (size_t k = 0; k < N_EXEC_NS; k++)
      if (nsfd[k] >= 0)
        close(nsfd[k]);
    cap_free(caps);
    return host->error(err, e, "cannot start the process");
  }
  mid = fork();
  if (mid == 0) {
    pid_t child;
    int st;
    close(pipefd[0]);
    close(pidpipe[0]);
    /* a ^C meant for the process reaches it through the caller */
    for (int i = 0; i < CHILD_NSIGNALS; i++)
      signal(child_signals[i], SIG_IGN);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    /* the engine's binary is about to enter the container: no process in
     * there may open its /proc/PID/exe or mem before the execve (runc
     * CVE-2019-5736), as in a run */
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
      _exit(125);
    child_report_fd = pipefd[1];
    join_cgroups_of(pid);
    for (size_t i = 0; i < N_EXEC_NS; i++)
      if (nsfd[i] >= 0 && setns(nsfd[i], 0) < 0)
        child_fail(CHILD_STAGE_SETUP, errno, "cannot join the container's %s namespace",
                   exec_namespaces[i]);
    child = fork();
    if (child < 0)
      child_fail(CHILD_STAGE_SETUP, errno, "cannot start the process");
    if (child == 0)
      exec_child(spec, caps, pipefd[1]);
    close(pipefd[1]);
    if (write(pidpipe[1], &child, sizeof(child)) != sizeof(child))
      kill(child, SIGKILL);
    close(pidpipe[1]);
    child_waitpid(child, &st);
    _exit(WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 255);
  }
  for (size_t k = 0; k < N_EXEC_NS; k++)
    if (nsfd[k] >= 0)
      close(nsfd[k]);
  cap_free(caps);
  close(pipefd[1]);
  close(pidpipe[1]);
  if (mid < 0) {
    int e = errno;
    close(pipefd[0]);
    close(pidpipe[0]);
    return host->error(err, e, "cannot start the process");
  }
  do
    n = read(pidpipe[0], &target, sizeof(target));
  while (n < 0 && errno == EINTR);
  close(pidpipe[0]);
  /* signals and started() go to the process itself, not to MID */
  if (child_wait(spec, mid, n == sizeof(target) ? target : 0, pipefd[0], NULL, &status, &f))
    return child_failure_result(host, &f, "cannot exec in the container", err);
  if (WIFEXITED(status))
    return WEXITSTATUS(status);
  return host->error(err, 0, "the process ended in an unknown way");
}

static const struct strata_isolation_ops ns_ops = {
    .version = STRATA_ISOLATION_OPS_VERSION,
    .caps = STRATA_ISOLATION_CAP_ISOLATES | STRATA_ISOLATION_CAP_LIMITS |
            STRATA_ISOLATION_CAP_SECURITY | STRATA_ISOLATION_CAP_EXEC |
            STRATA_ISOLATION_CAP_CONSOLE,
    .probe = ns_probe,
    .run = ns_run,
    .exec = ns_exec,
};

static const struct strata_plugin_info ns_info = {
    STRATA_PLUGIN_INFO_INIT(STRATA_PLUGIN_ISOLATION, "namespaces", PACKAGE_VERSION,
                            "Linux namespaces (mount, PID, UTS, IPC, network: loopback only, "
                            "cgroup), pivot_root, Docker's default capabilities and masked paths",
                            "Apache-2.0"),
    .init = ns_init,
    .fini = ns_fini,
    .ops = &ns_ops,
};

STRATA_PLUGIN_DEFINE(ns_info)
