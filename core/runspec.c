#include "config.h"
#include "runspec.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "json-cleanup.h"
#include "safe-path.h"
#include "store.h"

#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static json_t *strv_to_json(char **v) {
  json_t *a = json_array();
  for (char **p = v; p && *p; p++)
    json_array_append_new(a, json_string(*p));
  return a;
}

/* Replaces or appends KEY=VALUE in ENV (a JSON array of strings). */
static void env_set(json_t *env, const char *kv) {
  const char *eq = strchr(kv, '=');
  size_t klen = eq ? (size_t)(eq - kv) : strlen(kv);
  size_t i;
  json_t *v;
  json_array_foreach(env, i, v) {
    const char *s = json_string_value(v);
    if (s && strncmp(s, kv, klen) == 0 && (s[klen] == '=' || s[klen] == '\0')) {
      json_array_set_new(env, i, json_string(kv));
      return;
    }
  }
  json_array_append_new(env, json_string(kv));
}

static bool env_has(json_t *env, const char *key) {
  size_t klen = strlen(key), i;
  json_t *v;
  json_array_foreach(env, i, v) {
    const char *s = json_string_value(v);
    if (s && strncmp(s, key, klen) == 0 && s[klen] == '=')
      return true;
  }
  return false;
}

int strata_runspec_merge(json_t *image_config, const struct strata_run_flags *flags,
                         const char *id, const char *image, json_t **config,
                         struct strata_error **err) {
  json_t *c = json_object();
  json_t *ienv = json_object_get(image_config, "Env");
  json_t *env = json_is_array(ienv) ? json_deep_copy(ienv) : json_array();
  json_t *entrypoint, *cmd;
  const char *wd = json_string_value(json_object_get(image_config, "WorkingDir"));
  const char *user = json_string_value(json_object_get(image_config, "User"));
  json_t *labels = json_object_get(image_config, "Labels");
  char hostname[256];

  if (c == NULL || env == NULL)
    return strata_error_set(err, ENOMEM, "cannot build the container config");
  /* Docker: --entrypoint replaces the image's and drops its Cmd */
  if (flags->entrypoint != NULL) {
    entrypoint = json_array();
    if (*flags->entrypoint)
      json_array_append_new(entrypoint, json_string(flags->entrypoint));
    cmd = flags->cmd && flags->cmd[0] ? strv_to_json(flags->cmd) : json_array();
  } else {
    json_t *ie = json_object_get(image_config, "Entrypoint");
    json_t *ic = json_object_get(image_config, "Cmd");
    entrypoint = json_is_array(ie) ? json_deep_copy(ie) : json_array();
    if (flags->cmd && flags->cmd[0])
      cmd = strv_to_json(flags->cmd);
    else
      cmd = json_is_array(ic) ? json_deep_copy(ic) : json_array();
  }
  if (json_array_size(entrypoint) == 0 && json_array_size(cmd) == 0) {
    json_decref(entrypoint);
    json_decref(cmd);
    json_decref(env);
    json_decref(c);
    return strata_error_set(err, 0, "no command specified");
  }
  for (char **e = flags->env; e && *e; e++) {
    if (strchr(*e, '=') != NULL) {
      env_set(env, *e);
    } else {
      /* "-e NAME" takes NAME from the caller's environment, or drops it */
      const char *val = getenv(*e);
      if (val != NULL) {
        cleanup_free char *kv = NULL;
        if (asprintf(&kv, "%s=%s", *e, val) >= 0)
          env_set(env, kv);
      }
    }
  }
  if (!env_has(env, "PATH"))
    json_array_insert_new(env, 0, json_string(DEFAULT_PATH));
  snprintf(hostname, sizeof(hostname), "%.12s", id);
  /* Docker: a container on the host's network takes the host's name */
  if (flags->network != NULL && strcmp(flags->network, "host") == 0 &&
      gethostname(hostname, sizeof(hostname)) < 0)
    snprintf(hostname, sizeof(hostname), "%.12s", id);
  hostname[sizeof(hostname) - 1] = '\0';
  json_object_set_new(c, "Hostname", json_string(flags->hostname ? flags->hostname : hostname));
  json_object_set_new(c, "Env", env);
  json_object_set_new(c, "Cmd", cmd);
  json_object_set_new(c, "Entrypoint", json_array_size(entrypoint) ? entrypoint : json_null());
  if (json_array_size(entrypoint) == 0)
    json_decref(entrypoint);
  json_object_set_new(c, "WorkingDir",
                      json_string(flags->workdir ? flags->workdir : (wd && *wd ? wd : "/")));
  json_object_set_new(c, "User", json_string(flags->user ? flags->user : (user ? user : "")));
  json_object_set_new(c, "Labels", json_is_object(labels) ? json_deep_copy(labels) : json_object());
  json_object_set_new(c, "Tty", json_boolean(flags->tty));
  json_object_set_new(c, "OpenStdin", json_boolean(flags->interactive));
  json_object_set_new(c, "Image", json_string(image));
  if (flags->workdir && flags->workdir[0] != '/') {
    json_decref(c);
    return strata_error_set(err, 0, "the working directory '%s' is invalid, it needs to be an "
                                    "absolute path", flags->workdir);
  }
  *config = c;
  return 0;
}

int strata_runspec_command(json_t *config, json_t **path, json_t **args,
                           struct strata_error **err) {
  json_t *all = json_array();
  json_t *ep = json_object_get(config, "Entrypoint");
  json_t *cmd = json_object_get(config, "Cmd");
  if (json_is_array(ep))
    json_array_extend(all, ep);
  if (json_is_array(cmd))
    json_array_extend(all, cmd);
  if (json_array_size(all) == 0) {
    json_decref(all);
    return strata_error_set(err, 0, "no command specified");
  }
  *path = json_incref(json_array_get(all, 0));
  json_array_remove(all, 0);
  *args = all;
  return 0;
}

/* Splits a colon-separated line into at most N fields (in place). */
static size_t split_fields(char *line, char **f, size_t n) {
  size_t k = 0;
  f[k++] = line;
  for (char *p = line; *p && k < n; p++)
    if (*p == ':') {
      *p = '\0';
      f[k++] = p + 1;
    }
  return k;
}

static bool parse_id(const char *s, uint32_t *out) {
  char *end;
  unsigned long v;
  if (s == NULL || *s == '\0' || !isdigit((unsigned char)*s))
    return false;
  errno = 0;
  v = strtoul(s, &end, 10);
  if (errno || *end || v > UINT32_MAX)
    return false;
  *out = (uint32_t)v;
  return true;
}

static char *read_db(int rootfd, const char *path) {
  cleanup_close int fd = strata_open_in_root(rootfd, path, O_RDONLY, 0, NULL);
  char *data = NULL;
  if (fd < 0)
    return NULL;
  if (strata_read_fd(fd, 4u << 20, &data, NULL, NULL) < 0)
    return NULL;
  return data;
}

int strata_runspec_resolve_user(int rootfd, const char *user, uint32_t *uid, uint32_t *gid,
                                uint32_t **groups, size_t *ngroups, char **home,
                                struct strata_error **err) {
  cleanup_free char *spec = strdup(user ? user : "");
  cleanup_free char *passwd = read_db(rootfd, "/etc/passwd");
  cleanup_free char *group = read_db(rootfd, "/etc/group");
  char *uname = spec, *gname = spec ? strchr(spec, ':') : NULL;
  const char *username = NULL;
  bool found_user = false;
  uint32_t *gv = NULL;
  size_t ng = 0;

  if (spec == NULL)
    return strata_error_set(err, ENOMEM, "cannot resolve user");
  if (gname)
    *gname++ = '\0';
  *uid = 0;
  *gid = 0;
  *home = NULL;
  /* passwd: name:x:uid:gid:gecos:home:shell */
  if (*uname == '\0')
    uname = "0";
  for (char *save = NULL, *line = passwd ? strtok_r(passwd, "\n", &save) : NULL; line;
       line = strtok_r(NULL, "\n", &save)) {
    char *f[7];
    uint32_t pu, pg;
    if (split_fields(line, f, 7) < 7 || !parse_id(f[2], &pu) || !parse_id(f[3], &pg))
      continue;
    if (strcmp(f[0], uname) == 0 || (isdigit((unsigned char)uname[0]) && parse_id(uname, uid) &&
                                     *uid == pu)) {
      *uid = pu;
      *gid = pg;
      free(*home);
      *home = strdup(f[5]);
      username = f[0];
      found_user = true;
      break;
    }
  }
  if (!found_user) {
    if (!parse_id(uname, uid))
      return strata_error_set(err, 0, "unable to find user %s: no matching entries in passwd file",
                              uname);
    *gid = 0;
  }
  if (*home == NULL)
    *home = strdup("/");
  /* group: name:x:gid:members */
  if (gname != NULL && *gname) {
    bool found = false;
    cleanup_free char *g2 = group ? strdup(group) : NULL;
    for (char *save = NULL, *line = g2 ? strtok_r(g2, "\n", &save) : NULL; line;
         line = strtok_r(NULL, "\n", &save)) {
      char *f[4];
      uint32_t gg;
      if (split_fields(line, f, 4) < 3 || !parse_id(f[2], &gg))
        continue;
      if (strcmp(f[0], gname) == 0) {
        *gid = gg;
        found = true;
        break;
      }
    }
    if (!found && !parse_id(gname, gid))
      return strata_error_set(err, 0, "unable to find group %s: no matching entries in group file",
                              gname);
  }
  /* supplementary groups: every group listing the user by name */
  if (username != NULL && group != NULL && (gname == NULL || *gname == '\0')) {
    for (char *save = NULL, *line = strtok_r(group, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
      char *f[4];
      uint32_t gg;
      if (split_fields(line, f, 4) < 4 || !parse_id(f[2], &gg))
        continue;
      for (char *s2 = NULL, *m = strtok_r(f[3], ",", &s2); m; m = strtok_r(NULL, ",", &s2)) {
        if (strcmp(m, username) == 0) {
          uint32_t *nv = realloc(gv, (ng + 1) * sizeof(*gv));
          if (nv) {
            gv = nv;
            gv[ng++] = gg;
          }
          break;
        }
      }
    }
  }
  *groups = gv;
  *ngroups = ng;
  return 0;
}

static char **json_to_strv(json_t *a) {
  size_t n = json_array_size(a), k = 0, i;
  json_t *v;
  char **out = calloc(n + 1, sizeof(char *));
  if (out == NULL)
    return NULL;
  json_array_foreach(a, i, v) if (json_is_string(v)) out[k++] = strdup(json_string_value(v));
  return out;
}

int strata_runspec_build(json_t *config, const char *id, const char *rootfs,
                         struct strata_runspec *rs, struct strata_error **err) {
  cleanup_close int rootfd = -1;
  cleanup_free char *home = NULL;
  json_t *all = json_array();
  json_t *env;
  size_t ngroups = 0;

  memset(rs, 0, sizeof(*rs));
  rootfd = open(rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0) {
    json_decref(all);
    return strata_error_set(err, errno, "cannot open the container's root '%s'", rootfs);
  }
  if (json_is_array(json_object_get(config, "Entrypoint")))
    json_array_extend(all, json_object_get(config, "Entrypoint"));
  if (json_is_array(json_object_get(config, "Cmd")))
    json_array_extend(all, json_object_get(config, "Cmd"));
  if (json_array_size(all) == 0) {
    json_decref(all);
    return strata_error_set(err, 0, "no command specified");
  }
  rs->argv = json_to_strv(all);
  json_decref(all);
  if (strata_runspec_resolve_user(rootfd, json_string_value(json_object_get(config, "User")),
                                  &rs->spec.uid, &rs->spec.gid, &rs->groups, &ngroups, &home,
                                  err) < 0) {
    strata_runspec_clear(rs);
    return -1;
  }
  env = json_deep_copy(json_object_get(config, "Env"));
  if (!json_is_array(env)) {
    json_decref(env);
    env = json_array();
  }
  {
    cleanup_free char *h = NULL;
    if (asprintf(&h, "HOSTNAME=%s", json_string_value(json_object_get(config, "Hostname"))) >= 0 &&
        !env_has(env, "HOSTNAME"))
      json_array_append_new(env, json_string(h));
  }
  if (!env_has(env, "HOME")) {
    cleanup_free char *h = NULL;
    if (asprintf(&h, "HOME=%s", home) >= 0)
      json_array_append_new(env, json_string(h));
  }
  if (json_is_true(json_object_get(config, "Tty")) && !env_has(env, "TERM"))
    json_array_append_new(env, json_string("TERM=xterm"));
  rs->env = json_to_strv(env);
  json_decref(env);
  rs->cwd = strdup(json_string_value(json_object_get(config, "WorkingDir")) ?: "/");
  rs->rootfs = strdup(rootfs);
  rs->id = strdup(id);
  rs->hostname = strdup(json_string_value(json_object_get(config, "Hostname")) ?: "");
  rs->spec.size = sizeof(rs->spec);
  rs->spec.id = rs->id;
  rs->spec.rootfs = rs->rootfs;
  rs->spec.argv = (const char *const *)rs->argv;
  rs->spec.env = (const char *const *)rs->env;
  rs->spec.cwd = rs->cwd;
  rs->spec.ngroups = ngroups;
  rs->spec.groups = rs->groups;
  rs->spec.hostname = rs->hostname;
  rs->spec.tty = json_is_true(json_object_get(config, "Tty"));
  rs->spec.interactive = json_is_true(json_object_get(config, "OpenStdin"));
  return 0;
}

void strata_runspec_clear(struct strata_runspec *rs) {
  strv_free(rs->argv);
  strv_free(rs->env);
  free(rs->cwd);
  free(rs->groups);
  free(rs->rootfs);
  free(rs->id);
  free(rs->hostname);
  free(rs->mounts);
  strv_free(rs->mount_strings);
  memset(rs, 0, sizeof(*rs));
}

/* ---------------------------------------------------------------- HostConfig: capabilities, mounts, security */

/* The kernel's capability names, by number (linux/capability.h). */
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
#define N_CAP_NAMES ((int)(sizeof(cap_names) / sizeof(cap_names[0])))

int strata_cap_from_name(const char *name) {
  const char *n = strncasecmp(name, "CAP_", 4) == 0 ? name + 4 : name;
  for (int i = 0; i < N_CAP_NAMES; i++)
    if (strcasecmp(cap_names[i] + 4, n) == 0)
      return i;
  return -1;
}

const char *strata_cap_name(int cap) {
  return cap >= 0 && cap < N_CAP_NAMES ? cap_names[cap] : NULL;
}

/* Every capability the running kernel has (Docker's "ALL"). */
static uint64_t all_caps(void) {
  int last = N_CAP_NAMES - 1;
  cleanup_close int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
  char buf[16] = "";
  if (fd >= 0 && read(fd, buf, sizeof(buf) - 1) > 0 && atoi(buf) > 0 && atoi(buf) < 63)
    last = atoi(buf);
  return (1ULL << (last + 1)) - 1;
}

/* "-v" and "--tmpfs" destinations: absolute, clean, not the root, and not
 * below /proc, /sys or /dev, which the backends build themselves. */
static int check_destination(const char *what, const char *d, struct strata_error **err) {
  static const char *const reserved[] = {"/proc", "/sys", "/dev"};
  if (d[0] != '/')
    return strata_error_set(err, 0, "invalid %s '%s': the container path must be absolute", what, d);
  if (strcmp(d, "/") == 0 || strspn(d, "/") == strlen(d))
    return strata_error_set(err, 0, "invalid %s '%s': the destination can't be '/'", what, d);
  for (const char *p = d; *p; p++)
    if (p[0] == '/' && p[1] == '.' && p[2] == '.' && (p[3] == '/' || p[3] == '\0'))
      return strata_error_set(err, 0, "invalid %s '%s': '..' is not allowed in the container "
                                      "path", what, d);
  for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
    size_t n = strlen(reserved[i]);
    if (strncmp(d, reserved[i], n) == 0 && (d[n] == '/' || d[n] == '\0'))
      return strata_error_set(err, 0, "invalid %s '%s': mounts over %s are not supported", what,
                              d, reserved[i]);
  }
  return 0;
}

/* -v HOST:CTR[:OPTS] -> its parts (HOST and CTR malloc'd), *ro. */
static int parse_bind(const char *spec, char **src, char **dst, bool *ro,
                      struct strata_error **err) {
  cleanup_free char *copy = strdup(spec);
  char *c1, *c2;
  *src = *dst = NULL;
  *ro = false;
  if (copy == NULL)
    return strata_error_set(err, ENOMEM, "cannot parse -v %s", spec);
  c1 = strchr(copy, ':');
  if (c1 == NULL)
    return strata_error_set(err, 0, "invalid volume specification '%s': anonymous volumes are "
                                    "not supported, use -v HOST-PATH:CONTAINER-PATH", spec);
  *c1++ = '\0';
  c2 = strchr(c1, ':');
  if (c2 != NULL)
    *c2++ = '\0';
  if (copy[0] != '/')
    return strata_error_set(err, 0, "invalid volume specification '%s': named volumes are not "
                                    "supported, the host path must be absolute", spec);
  for (char *save = NULL, *o = c2 ? strtok_r(c2, ",", &save) : NULL; o;
       o = strtok_r(NULL, ",", &save)) {
    if (strcmp(o, "ro") == 0)
      *ro = true;
    else if (strcmp(o, "rw") == 0)
      *ro = false;
    else
      return strata_error_set(err, 0, "invalid volume specification '%s': unknown option '%s' "
                                      "(ro and rw are supported)", spec, o);
  }
  if (check_destination("volume specification", c1, err) < 0)
    return -1;
  *src = strdup(copy);
  *dst = strdup(c1);
  if (*src == NULL || *dst == NULL) {
    free(*src);
    free(*dst);
    return strata_error_set(err, ENOMEM, "cannot parse -v %s", spec);
  }
  return 0;
}

/* --tmpfs options: mount flags by name, the rest is tmpfs's own data. */
static uint32_t tmpfs_flags(const char *opts, char *data, size_t datalen) {
  static const struct { const char *name; uint32_t set, clear; } words[] = {
      {"ro", STRATA_MOUNT_RDONLY, 0},     {"rw", 0, STRATA_MOUNT_RDONLY},
      {"nosuid", STRATA_MOUNT_NOSUID, 0}, {"suid", 0, STRATA_MOUNT_NOSUID},
      {"nodev", STRATA_MOUNT_NODEV, 0},   {"dev", 0, STRATA_MOUNT_NODEV},
      {"noexec", STRATA_MOUNT_NOEXEC, 0}, {"exec", 0, STRATA_MOUNT_NOEXEC},
  };
  /* Docker's defaults for --tmpfs */
  uint32_t f = STRATA_MOUNT_NOSUID | STRATA_MOUNT_NODEV | STRATA_MOUNT_NOEXEC;
  cleanup_free char *copy = strdup(opts ? opts : "");
  data[0] = '\0';
  for (char *save = NULL, *o = copy ? strtok_r(copy, ",", &save) : NULL; o;
       o = strtok_r(NULL, ",", &save)) {
    bool known = false;
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
      if (strcmp(o, words[i].name) == 0) {
        f = (f | words[i].set) & ~words[i].clear;
        known = true;
      }
    if (!known && strlen(data) + strlen(o) + 2 < datalen) {
      if (data[0])
        strcat(data, ",");
      strcat(data, o);
    }
  }
  return f;
}

int strata_runspec_host_config(const struct strata_run_flags *flags, json_t *hc,
                               struct strata_error **err) {
  json_t *add = json_array(), *drop = json_array(), *tmpfs = json_object();
  bool nnp = false;

  if (add == NULL || drop == NULL || tmpfs == NULL) {
    json_decref(add);
    json_decref(drop);
    json_decref(tmpfs);
    return strata_error_set(err, ENOMEM, "cannot build the host config");
  }
  json_object_set_new(hc, "CapAdd", add);
  json_object_set_new(hc, "CapDrop", drop);
  json_object_set_new(hc, "Tmpfs", tmpfs);
  for (int pass = 0; pass < 2; pass++)
    for (char **c = pass ? flags->cap_drop : flags->cap_add; c && *c; c++) {
      int n = strcasecmp(*c, "ALL") == 0 ? -2 : strata_cap_from_name(*c);
      if (n == -1)
        return strata_error_set(err, 0, "invalid %s: unknown capability: \"%s\"",
                                pass ? "CapDrop" : "CapAdd", *c);
      json_array_append_new(pass ? drop : add, json_string(n == -2 ? "ALL" : cap_names[n]));
    }
  for (char **o = flags->security_opt; o && *o; o++) {
    if (strcmp(*o, "no-new-privileges") == 0 || strcmp(*o, "no-new-privileges:true") == 0 ||
        strcmp(*o, "no-new-privileges=true") == 0)
      nnp = true;
    else if (strcmp(*o, "no-new-privileges:false") == 0 ||
             strcmp(*o, "no-new-privileges=false") == 0)
      nnp = false;
    else
      return strata_error_set(err, 0, "invalid --security-opt: \"%s\" (this build supports "
                                      "no-new-privileges only)", *o);
  }
  json_object_set_new(hc, "SecurityOpt", json_array());
  if (nnp)
    json_array_append_new(json_object_get(hc, "SecurityOpt"), json_string("no-new-privileges"));
  if (flags->network != NULL && strcmp(flags->network, "none") != 0 &&
      strcmp(flags->network, "host") != 0)
    return strata_error_set(err, 0, "network mode \"%s\" is not supported: use --network none "
                                    "(loopback only, the default) or --network host",
                            flags->network);
  json_object_set_new(hc, "NetworkMode", json_string(flags->network ? flags->network : "none"));
  if (flags->userns != NULL && *flags->userns && strcmp(flags->userns, "host") != 0 &&
      strcmp(flags->userns, "auto") != 0)
    return strata_error_set(err, 0, "user namespace mode \"%s\" is not supported: use "
                                    "--userns auto or --userns host", flags->userns);
  json_object_set_new(hc, "UsernsMode", json_string(flags->userns && strcmp(flags->userns, "auto") == 0
                                                        ? "auto" : ""));
  for (char **b = flags->binds; b && *b; b++) {
    cleanup_free char *src = NULL, *dst = NULL;
    bool ro;
    if (parse_bind(*b, &src, &dst, &ro, err) < 0)
      return -1;
  }
  json_object_set_new(hc, "Binds", flags->binds && flags->binds[0] ? strv_to_json(flags->binds)
                                                                   : json_null());
  for (char **t = flags->tmpfs; t && *t; t++) {
    cleanup_free char *path = strdup(*t);
    char *colon = path ? strchr(path, ':') : NULL;
    if (path == NULL)
      return strata_error_set(err, ENOMEM, "cannot parse --tmpfs");
    if (colon)
      *colon++ = '\0';
    if (check_destination("--tmpfs", path, err) < 0)
      return -1;
    json_object_set_new(tmpfs, path, json_string(colon ? colon : ""));
  }
  json_object_set_new(hc, "Privileged", json_boolean(flags->privileged));
  json_object_set_new(hc, "ReadonlyRootfs", json_boolean(flags->read_only));
  return 0;
}

static bool json_strv_has(json_t *a, const char *s) {
  size_t i;
  json_t *v;
  json_array_foreach(a, i, v) if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
      return true;
  return false;
}

/* Docker's TweakCapabilities: ALL in CapAdd starts from every capability,
 * ALL in CapDrop from none; otherwise the defaults; then the other list. */
static uint64_t effective_caps(json_t *hc) {
  json_t *add = json_object_get(hc, "CapAdd"), *drop = json_object_get(hc, "CapDrop");
  uint64_t all = all_caps(), caps = STRATA_DEFAULT_CAPS;
  size_t i;
  json_t *v;
  if (json_is_true(json_object_get(hc, "Privileged")))
    return all;
  if (json_strv_has(add, "ALL"))
    caps = all;
  else if (json_strv_has(drop, "ALL"))
    caps = 0;
  json_array_foreach(add, i, v) {
    int n = strata_cap_from_name(json_string_value(v) ?: "");
    if (n >= 0)
      caps |= 1ULL << n;
  }
  json_array_foreach(drop, i, v) {
    int n = strata_cap_from_name(json_string_value(v) ?: "");
    if (n >= 0)
      caps &= ~(1ULL << n);
  }
  return caps & all;
}

static size_t path_depth(const char *p) {
  size_t n = 0;
  for (; *p; p++)
    if (*p == '/' && p[1] != '/' && p[1] != '\0')
      n++;
  return n;
}

int strata_runspec_apply_host_config(struct strata_runspec *rs, json_t *hc,
                                     struct strata_error **err) {
  json_t *binds = json_object_get(hc, "Binds"), *tmpfs = json_object_get(hc, "Tmpfs");
  json_t *range = json_object_get(hc, "StrataUsernsRange");
  size_t n = json_array_size(binds) + json_object_size(tmpfs), k = 0, s = 0, i;
  const char *key;
  json_t *v;

  rs->spec.caps = effective_caps(hc);
  rs->spec.run_flags = 0;
  if (json_is_true(json_object_get(hc, "Privileged")))
    rs->spec.run_flags |= STRATA_RUN_PRIVILEGED;
  if (json_strv_has(json_object_get(hc, "SecurityOpt"), "no-new-privileges"))
    rs->spec.run_flags |= STRATA_RUN_NO_NEW_PRIVS;
  if (strcmp(json_string_value(json_object_get(hc, "NetworkMode")) ?: "", "host") == 0)
    rs->spec.run_flags |= STRATA_RUN_NETWORK_HOST;
  if (json_is_true(json_object_get(hc, "ReadonlyRootfs")))
    rs->spec.run_flags |= STRATA_RUN_READ_ONLY;
  if (json_array_size(range) == 3) {
    rs->spec.userns_uid = (uint32_t)json_integer_value(json_array_get(range, 0));
    rs->spec.userns_gid = (uint32_t)json_integer_value(json_array_get(range, 1));
    rs->spec.userns_size = (uint32_t)json_integer_value(json_array_get(range, 2));
  }
  if (n == 0)
    return 0;
  rs->mounts = calloc(n, sizeof(*rs->mounts));
  rs->mount_strings = calloc(3 * n + 1, sizeof(char *));
  if (rs->mounts == NULL || rs->mount_strings == NULL)
    return strata_error_set(err, ENOMEM, "cannot prepare the container's mounts");
  json_array_foreach(binds, i, v) {
    char *src, *dst;
    bool ro;
    if (parse_bind(json_string_value(v) ?: "", &src, &dst, &ro, err) < 0)
      return -1;
    rs->mount_strings[s++] = src;
    rs->mount_strings[s++] = dst;
    rs->mounts[k++] = (struct strata_mount){.type = STRATA_MOUNT_BIND, .source = src,
                                            .destination = dst,
                                            .flags = ro ? STRATA_MOUNT_RDONLY : 0};
  }
  json_object_foreach(tmpfs, key, v) {
    char data[512];
    uint32_t f = tmpfs_flags(json_string_value(v), data, sizeof(data));
    char *dst = strdup(key), *d = strdup(data);
    if (dst == NULL || d == NULL) {
      free(dst);
      free(d);
      return strata_error_set(err, ENOMEM, "cannot prepare the container's mounts");
    }
    rs->mount_strings[s++] = dst;
    rs->mount_strings[s++] = d;
    rs->mounts[k++] = (struct strata_mount){.type = STRATA_MOUNT_TMPFS, .destination = dst,
                                            .data = *d ? d : NULL, .flags = f};
  }
  /* parents before children, as Docker sorts them; stable otherwise */
  for (size_t a = 1; a < k; a++)
    for (size_t b = a; b > 0 && path_depth(rs->mounts[b - 1].destination) >
                                    path_depth(rs->mounts[b].destination); b--) {
      struct strata_mount t = rs->mounts[b];
      rs->mounts[b] = rs->mounts[b - 1];
      rs->mounts[b - 1] = t;
    }
  rs->spec.nmounts = k;
  rs->spec.mounts = rs->mounts;
  return 0;
}
