#include "config.h"
#include "runspec.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
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
  char hostname[13];

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
  memset(rs, 0, sizeof(*rs));
}
