/* isolation backend "oci-runtime": hands the run spec to an OCI runtime
 * (runc, crun) as a bundle.  For hosts that standardise on one of those.
 *
 * run() writes <data>/ID/config.json (OCI runtime spec 1.0) from the same
 * run spec the namespaces backend gets: process (args, env, cwd, user and
 * supplementary groups, capabilities, rlimits, noNewPrivileges), root,
 * hostname, Docker's mounts, masked and read-only paths, the namespaces,
 * cgroup limits; plus /etc/hostname and /etc/hosts bound from the bundle.
 * Then it runs `RUNTIME --root <data>/state run --bundle <data>/ID ID` in
 * the foreground with the caller's standard streams, forwards SIGINT,
 * SIGTERM, SIGHUP and SIGQUIT, and passes the exit code through (the
 * runtime exits with the container's code, 128+N for a signal).  The
 * runtime's own errors go to a JSON log file, which tells them apart from
 * the container's exit code 1 and gives 126/127 for a command that cannot
 * be executed or is not found.
 *
 * The runtime: the "runtime" key of the configuration (the core sets it
 * from the global --runtime flag), a path or a name looked up on PATH;
 * otherwise the first of crun and runc on PATH.  No user namespace (the
 * runtime would need an idmapped root this backend does not make). */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include <strata/plugin/host.h>
#include <strata/plugin/isolation.h>

#include "../backend-common.h"

#define DOMAIN "isolation.oci-runtime"

extern char **environ;

static const struct strata_host *host;

struct oci_state {
  char *data_dir;    /* <root>/plugins/isolation-oci-runtime */
  char *configured;  /* the "runtime" key, or NULL */
  char runtime[PATH_MAX];
};

/* Capability names by number, as the OCI spec spells them. */
static const char *const cap_names[] = {
    "CAP_CHOWN",           "CAP_DAC_OVERRIDE",  "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
    "CAP_FSETID",          "CAP_KILL",          "CAP_SETGID",          "CAP_SETUID",
    "CAP_SETPCAP",         "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",       "CAP_NET_RAW",       "CAP_IPC_LOCK",        "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",      "CAP_SYS_RAWIO",     "CAP_SYS_CHROOT",      "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",       "CAP_SYS_ADMIN",     "CAP_SYS_BOOT",        "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",    "CAP_SYS_TIME",      "CAP_SYS_TTY_CONFIG",  "CAP_MKNOD",
    "CAP_LEASE",           "CAP_AUDIT_WRITE",   "CAP_AUDIT_CONTROL",   "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",    "CAP_MAC_ADMIN",     "CAP_SYSLOG",          "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",   "CAP_AUDIT_READ",    "CAP_PERFMON",         "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
};
#define N_CAPS (sizeof(cap_names) / sizeof(cap_names[0]))
#define DEFAULT_CAPS 0x00000000a80425fbULL

#define SPEC_HAS(spec, member)                                                                     \
  ((spec)->size >= offsetof(struct strata_run_spec, member) + sizeof((spec)->member))

/* NAME as given (a path, or a name searched on PATH) -> OUT. */
static bool find_program(const char *name, char *out, size_t outlen) {
  const char *path = getenv("PATH");
  if (strchr(name, '/') != NULL) {
    if (access(name, X_OK) < 0)
      return false;
    snprintf(out, outlen, "%s", name);
    return true;
  }
  if (path == NULL || *path == '\0')
    path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  while (*path) {
    const char *end = strchr(path, ':');
    size_t n = end ? (size_t)(end - path) : strlen(path);
    struct stat st;
    if (n > 0 && (size_t)snprintf(out, outlen, "%.*s/%s", (int)n, path, name) < outlen &&
        stat(out, &st) == 0 && S_ISREG(st.st_mode) && access(out, X_OK) == 0)
      return true;
    if (end == NULL)
      break;
    path = end + 1;
  }
  return false;
}

static int oci_init(const struct strata_host *h, const struct strata_plugin_context *ctx,
                    void **state, struct strata_error **err) {
  struct oci_state *st = calloc(1, sizeof(*st));
  host = h;
  if (st == NULL || (ctx->data_dir && (st->data_dir = strdup(ctx->data_dir)) == NULL)) {
    free(st);
    return host->error(err, ENOMEM, "cannot start the oci-runtime backend");
  }
  if (ctx->size >= offsetof(struct strata_plugin_context, config_json) + sizeof(char *) &&
      ctx->config_json != NULL) {
    json_t *doc = json_loads(ctx->config_json, 0, NULL);
    const char *r = json_string_value(json_object_get(doc, "runtime"));
    if (r != NULL && *r && (st->configured = strdup(r)) == NULL) {
      json_decref(doc);
      free(st->data_dir);
      free(st);
      return host->error(err, ENOMEM, "cannot start the oci-runtime backend");
    }
    json_decref(doc);
  }
  *state = st;
  return 0;
}

static void oci_fini(void *state) {
  struct oci_state *st = state;
  if (st == NULL)
    return;
  free(st->data_dir);
  free(st->configured);
  free(st);
}

static int oci_probe(void *state, struct strata_error **err) {
  struct oci_state *st = state;
  if (st->configured != NULL) {
    if (!find_program(st->configured, st->runtime, sizeof(st->runtime)))
      return host->error(err, 0, "the OCI runtime '%s' (--runtime, config key \"runtime\") is "
                                 "not an executable file", st->configured);
    return 0;
  }
  if (find_program("crun", st->runtime, sizeof(st->runtime)) ||
      find_program("runc", st->runtime, sizeof(st->runtime)))
    return 0;
  return host->error(err, 0, "no OCI runtime found: neither crun nor runc is on PATH (install "
                             "one, or name it with --runtime PATH)");
}

/* ---------------------------------------------------------------- config.json */

static json_t *strv(const char *const *v) {
  json_t *a = json_array();
  for (; v && *v; v++)
    json_array_append_new(a, json_string(*v));
  return a;
}

static json_t *strs(const char *const *v, size_t n) {
  json_t *a = json_array();
  for (size_t i = 0; i < n; i++)
    json_array_append_new(a, json_string(v[i]));
  return a;
}

static json_t *mount_obj(const char *dst, const char *type, const char *src,
                         const char *const *opts) {
  return json_pack("{s:s, s:s, s:s, s:o}", "destination", dst, "type", type, "source", src,
                   "options", strv(opts));
}

static json_t *caps_list(uint64_t caps) {
  json_t *a = json_array();
  for (size_t c = 0; c < N_CAPS; c++)
    if (caps & (1ULL << c))
      json_array_append_new(a, json_string(cap_names[c]));
  return a;
}

/* --privileged: every device node directly under the host's /dev, as
 * Docker lists them for runc (which makes them in the container). */
static json_t *host_devices(void) {
  json_t *a = json_array();
  DIR *d = opendir("/dev");
  struct dirent *de;
  while (d != NULL && (de = readdir(d)) != NULL) {
    struct stat st;
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "/dev/%s", de->d_name);
    if (lstat(path, &st) < 0 || !(S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)))
      continue;
    json_array_append_new(a, json_pack("{s:s, s:s, s:I, s:I, s:i, s:i, s:i}", "path", path,
                                       "type", S_ISCHR(st.st_mode) ? "c" : "b", "major",
                                       (json_int_t)major(st.st_rdev), "minor",
                                       (json_int_t)minor(st.st_rdev), "fileMode",
                                       (int)(st.st_mode & 07777), "uid", (int)st.st_uid, "gid",
                                       (int)st.st_gid));
  }
  if (d != NULL)
    closedir(d);
  return a;
}

/* The engine's bounding set: a runtime cannot give what the engine lacks
 * (root here may lack CAP_SYS_RESOURCE), and would fail trying. */
static uint64_t engine_bounding_set(void) {
  FILE *f = fopen("/proc/self/status", "re");
  char line[256];
  unsigned long long v = ~0ULL;
  while (f != NULL && fgets(line, sizeof(line), f) != NULL)
    if (sscanf(line, "CapBnd: %llx", &v) == 1)
      break;
  if (f != NULL)
    fclose(f);
  return v;
}

static json_t *build_config(const struct strata_run_spec *spec, const char *bundle) {
  static const char *const proc_opts[] = {"nosuid", "noexec", "nodev", NULL};
  static const char *const dev_opts[] = {"nosuid", "strictatime", "mode=755", "size=65536k", NULL};
  static const char *const pts_opts[] = {"nosuid", "noexec", "newinstance", "ptmxmode=0666",
                                         "mode=0620", "gid=5", NULL};
  static const char *const shm_opts[] = {"nosuid", "noexec", "nodev", "mode=1777",
                                         "size=65536k", NULL};
  static const char *const mq_opts[] = {"nosuid", "noexec", "nodev", NULL};
  static const char *const sys_ro[] = {"nosuid", "noexec", "nodev", "ro", NULL};
  static const char *const sys_rw[] = {"nosuid", "noexec", "nodev", NULL};
  static const char *const cg_opts[] = {"nosuid", "noexec", "nodev", "relatime", "ro", NULL};
  static const char *const etc_opts[] = {"rbind", "rprivate", NULL};
  uint64_t caps = (SPEC_HAS(spec, caps) ? spec->caps : DEFAULT_CAPS) & engine_bounding_set();
  uint32_t flags = SPEC_HAS(spec, run_flags) ? spec->run_flags : 0;
  bool privileged = flags & STRATA_RUN_PRIVILEGED;
  json_t *process, *mounts, *linux_, *ns, *res, *gids, *caps_obj, *rl;
  char path[PATH_MAX + 32];
  struct rlimit lim;

  gids = json_array();
  for (size_t i = 0; i < spec->ngroups; i++)
    json_array_append_new(gids, json_integer(spec->groups[i]));
  /* Docker: a process that is not root starts with no effective or
   * permitted capabilities; the bounding set stays */
  caps_obj = json_pack("{s:o, s:o, s:o, s:[], s:[]}", "bounding", caps_list(caps), "effective",
                       caps_list(spec->uid == 0 ? caps : 0), "permitted",
                       caps_list(spec->uid == 0 ? caps : 0), "inheritable", "ambient");
  /* the engine's own limits, never more: root here may lack
   * CAP_SYS_RESOURCE, and the runtime would fail to raise them */
  rl = json_array();
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0)
    json_array_append_new(rl, json_pack("{s:s, s:I, s:I}", "type", "RLIMIT_NOFILE", "hard",
                                        (json_int_t)lim.rlim_max, "soft",
                                        (json_int_t)lim.rlim_cur));
  process = json_pack("{s:b, s:{s:I, s:I, s:o}, s:o, s:o, s:s, s:o, s:o, s:b}", "terminal", 0,
                      "user", "uid", (json_int_t)spec->uid, "gid", (json_int_t)spec->gid,
                      "additionalGids", gids, "args", strv(spec->argv), "env", strv(spec->env),
                      "cwd", spec->cwd, "capabilities", caps_obj, "rlimits", rl,
                      "noNewPrivileges", (flags & STRATA_RUN_NO_NEW_PRIVS) != 0);

  mounts = json_array();
  json_array_append_new(mounts, mount_obj("/proc", "proc", "proc", proc_opts));
  json_array_append_new(mounts, mount_obj("/dev", "tmpfs", "tmpfs", dev_opts));
  json_array_append_new(mounts, mount_obj("/dev/pts", "devpts", "devpts", pts_opts));
  json_array_append_new(mounts, mount_obj("/sys", "sysfs", "sysfs", privileged ? sys_rw : sys_ro));
  json_array_append_new(mounts, mount_obj("/sys/fs/cgroup", "cgroup", "cgroup", cg_opts));
  json_array_append_new(mounts, mount_obj("/dev/mqueue", "mqueue", "mqueue", mq_opts));
  json_array_append_new(mounts, mount_obj("/dev/shm", "tmpfs", "shm", shm_opts));
  snprintf(path, sizeof(path), "%s/hostname", bundle);
  json_array_append_new(mounts, mount_obj("/etc/hostname", "bind", path, etc_opts));
  snprintf(path, sizeof(path), "%s/hosts", bundle);
  json_array_append_new(mounts, mount_obj("/etc/hosts", "bind", path, etc_opts));
  for (size_t i = 0; SPEC_HAS(spec, mounts) && i < spec->nmounts; i++) {
    const struct strata_mount *m = &spec->mounts[i];
    const char *o[8];
    size_t k = 0;
    json_t *opts;
    if (m->type == STRATA_MOUNT_BIND)
      o[k++] = "rbind";
    if (m->flags & STRATA_MOUNT_RDONLY)
      o[k++] = "ro";
    if (m->flags & STRATA_MOUNT_NOSUID)
      o[k++] = "nosuid";
    if (m->flags & STRATA_MOUNT_NODEV)
      o[k++] = "nodev";
    if (m->flags & STRATA_MOUNT_NOEXEC)
      o[k++] = "noexec";
    opts = strs(o, k);
    if (m->type == STRATA_MOUNT_TMPFS && m->data != NULL && *m->data) {
      char *copy = strdup(m->data), *save = NULL;
      for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t; t = strtok_r(NULL, ",", &save))
        json_array_append_new(opts, json_string(t));
      free(copy);
    }
    json_array_append_new(mounts, json_pack("{s:s, s:s, s:s, s:o}", "destination",
                                            m->destination, "type",
                                            m->type == STRATA_MOUNT_BIND ? "bind" : "tmpfs",
                                            "source",
                                            m->type == STRATA_MOUNT_BIND ? m->source : "tmpfs",
                                            "options", opts));
  }

  ns = json_pack("[{s:s}, {s:s}, {s:s}, {s:s}, {s:s}]", "type", "pid", "type", "ipc", "type",
                 "uts", "type", "mount", "type", "cgroup");
  if (!(flags & STRATA_RUN_NETWORK_HOST))
    json_array_append_new(ns, json_pack("{s:s}", "type", "network"));
  res = json_object();
  json_object_set_new(res, "devices",
                      privileged ? json_pack("[{s:b, s:s}]", "allow", 1, "access", "rwm")
                                 : json_pack("[{s:b, s:s}]", "allow", 0, "access", "rwm"));
  if (SPEC_HAS(spec, nano_cpus)) {
    if (spec->memory > 0)
      json_object_set_new(res, "memory", json_pack("{s:I, s:I}", "limit", (json_int_t)spec->memory,
                                                   "swap", (json_int_t)(2 * spec->memory)));
    if (spec->pids_limit > 0)
      json_object_set_new(res, "pids", json_pack("{s:I}", "limit", (json_int_t)spec->pids_limit));
    if (spec->nano_cpus > 0) {
      long long quota = spec->nano_cpus / 10000;
      json_object_set_new(res, "cpu", json_pack("{s:I, s:I}", "quota",
                                                (json_int_t)(quota < 1000 ? 1000 : quota),
                                                "period", (json_int_t)100000));
    }
  }
  linux_ = json_pack("{s:o, s:o, s:o, s:o}", "namespaces", ns, "resources", res, "maskedPaths",
                     privileged ? json_array() : strs(docker_masked_paths, docker_n_masked_paths),
                     "readonlyPaths",
                     privileged ? json_array()
                                : strs(docker_readonly_paths, docker_n_readonly_paths));
  if (privileged)
    json_object_set_new(linux_, "devices", host_devices());
  return json_pack("{s:s, s:o, s:{s:s, s:b}, s:s, s:o, s:o}", "ociVersion", "1.0.2", "process",
                   process, "root", "path", spec->rootfs, "readonly",
                   (flags & STRATA_RUN_READ_ONLY) != 0, "hostname",
                   spec->hostname ? spec->hostname : "", "mounts", mounts, "linux", linux_);
}

/* ---------------------------------------------------------------- the bundle */

/* DIR/NAME gets TEXT. */
static int write_file(const char *dir, const char *name, const char *text) {
  char path[PATH_MAX + 64];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  return write_text_at(AT_FDCWD, path, text);
}

static int write_bundle(const char *bundle, const struct strata_run_spec *spec,
                        struct strata_error **err) {
  char hostname[300], host_hosts[65536];
  const char *hosts;
  json_t *cfg = build_config(spec, bundle);
  char *text = cfg ? json_dumps(cfg, JSON_INDENT(2)) : NULL;
  int r;

  json_decref(cfg);
  if (text == NULL)
    return host->error(err, ENOMEM, "cannot build the OCI runtime configuration");
  hosts = container_hosts_text(SPEC_HAS(spec, run_flags) &&
                                   (spec->run_flags & STRATA_RUN_NETWORK_HOST),
                               host_hosts, sizeof(host_hosts));
  snprintf(hostname, sizeof(hostname), "%s\n", spec->hostname ? spec->hostname : "");
  r = write_file(bundle, "config.json", text);
  free(text);
  if (r < 0 || write_file(bundle, "hostname", hostname) < 0 ||
      write_file(bundle, "hosts", hosts) < 0)
    return host->error(err, errno, "cannot write the OCI bundle in '%s'", bundle);
  return 0;
}

/* The runtime's last error line from its JSON log, or "" if it logged none. */
static void runtime_error(const char *log, char *out, size_t outlen) {
  FILE *f = fopen(log, "re");
  char line[4096];
  out[0] = '\0';
  while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
    json_t *j = json_loads(line, 0, NULL);
    const char *lvl = json_string_value(json_object_get(j, "level"));
    const char *msg = json_string_value(json_object_get(j, "msg"));
    if (lvl && msg && (strcmp(lvl, "error") == 0 || strcmp(lvl, "fatal") == 0))
      snprintf(out, outlen, "%s", msg);
    json_decref(j);
  }
  if (f != NULL)
    fclose(f);
}

static int oci_run(void *state, const struct strata_run_spec *spec, struct strata_error **err) {
  struct oci_state *st = state;
  char bundle[PATH_MAX], statedir[PATH_MAX], log[PATH_MAX + 16], msg[2048];
  const char *argv[12];
  int top, status, r, k = 0;
  sigset_t saved;
  pid_t pid;

  if (run_spec_check(host, spec, err) < 0)
    return STRATA_RUN_ENGINE_ERROR;
  if (st->runtime[0] == '\0' && oci_probe(st, err) < 0)
    return STRATA_RUN_ENGINE_ERROR;
  if (spec->tty)
    host->log(STRATA_LOG_WARNING, DOMAIN,
              "-t: no pseudo-terminal is allocated yet; the container shares the caller's "
              "standard streams");
  top = host->open_area(st->data_dir, (const char *const[]){"state", NULL}, err);
  if (top < 0)
    return STRATA_RUN_ENGINE_ERROR;
  snprintf(bundle, sizeof(bundle), "%s/%s", st->data_dir, spec->id);
  snprintf(statedir, sizeof(statedir), "%s/state", st->data_dir);
  snprintf(log, sizeof(log), "%s/runtime.log", bundle);
  if ((mkdirat(top, spec->id, 0700) < 0 && errno != EEXIST)) {
    r = host->error(err, errno, "cannot create the bundle '%s'", bundle);
    close(top);
    return r;
  }
  if (write_bundle(bundle, spec, err) < 0)
    goto fail;
  unlink(log);
  argv[k++] = st->runtime;
  argv[k++] = "--root";
  argv[k++] = statedir;
  argv[k++] = "--log";
  argv[k++] = log;
  argv[k++] = "--log-format";
  argv[k++] = "json";
  argv[k++] = "run";
  argv[k++] = "--bundle";
  argv[k++] = bundle;
  argv[k++] = spec->id;
  argv[k] = NULL;

  child_signals_block(&saved);
  {
    posix_spawnattr_t attr;
    sigset_t none, dfl;
    sigemptyset(&none);
    sigfillset(&dfl);
    posix_spawnattr_init(&attr);
    /* the runtime starts with no signal blocked or ignored (SIGPIPE) */
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &dfl);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    r = posix_spawn(&pid, st->runtime, NULL, &attr, (char *const *)argv, environ);
    posix_spawnattr_destroy(&attr);
  }
  if (r != 0) {
    sigprocmask(SIG_SETMASK, &saved, NULL);
    host->error(err, r, "cannot run the OCI runtime %s", st->runtime);
    goto fail;
  }
  /* no failure pipe: the runtime's own errors are in its log */
  child_wait(spec, pid, pid, -1, &saved, &status, NULL);
  runtime_error(log, msg, sizeof(msg));
  {
    struct strata_error *e = NULL;
    if (host->remove_tree_at(top, spec->id, &e) < 0) {
      host->log(STRATA_LOG_WARNING, DOMAIN, "cannot remove the bundle of %.12s", spec->id);
      host->error_free(e);
    }
    close(top);
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) != 0 && msg[0]) {
    /* the runtime failed, not the container */
    if (strstr(msg, "executable file not found") || strstr(msg, "no such file or directory")) {
      host->error(err, 0, "%s", msg);
      return STRATA_RUN_NOT_FOUND;
    }
    if (strstr(msg, "permission denied") || strstr(msg, "exec format error")) {
      host->error(err, 0, "%s", msg);
      return STRATA_RUN_CANNOT_EXEC;
    }
    host->error(err, 0, "%s: %s", st->runtime, msg);
    return STRATA_RUN_ENGINE_ERROR;
  }
  return child_exit_result(host, status, "the OCI runtime", err);

fail: {
  struct strata_error *e = NULL;
  if (host->remove_tree_at(top, spec->id, &e) < 0)
    host->error_free(e);
  close(top);
}
  return STRATA_RUN_ENGINE_ERROR;
}

static const struct strata_isolation_ops oci_ops = {
    .version = STRATA_ISOLATION_OPS_VERSION,
    .caps = STRATA_ISOLATION_CAP_ISOLATES | STRATA_ISOLATION_CAP_LIMITS |
            STRATA_ISOLATION_CAP_SECURITY,
    .probe = oci_probe,
    .run = oci_run,
};

static const struct strata_plugin_info oci_info = {
    STRATA_PLUGIN_INFO_INIT(STRATA_PLUGIN_ISOLATION, "oci-runtime", PACKAGE_VERSION,
                            "an OCI runtime (crun, runc; --runtime PATH) run on a bundle written "
                            "from the run spec",
                            "Apache-2.0"),
    .init = oci_init,
    .fini = oci_fini,
    .ops = &oci_ops,
};

STRATA_PLUGIN_DEFINE(oci_info)
