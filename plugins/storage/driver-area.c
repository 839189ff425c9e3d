/* What the in-tree storage drivers share; see driver-area.h. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "driver-area.h"

int driver_area_new(const struct strata_host *h, const struct strata_plugin_context *ctx,
                    const struct driver_area *proto, size_t size, const char *what, void **state,
                    struct strata_error **err) {
  struct driver_area *a = calloc(1, size);
  char *dir = strdup(ctx->data_dir);

  if (a == NULL || dir == NULL) {
    free(a);
    free(dir);
    return h->error(err, ENOMEM, "cannot start the %s driver", what);
  }
  *a = *proto;
  a->host = h;
  a->data_dir = dir;
  a->datafd = -1;
  *state = a;
  return 0;
}

void driver_area_free(void *state) {
  struct driver_area *a = state;
  if (a == NULL)
    return;
  if (a->datafd >= 0)
    close(a->datafd);
  free(a->data_dir);
  free(a);
}

int driver_area_fd(struct driver_area *a, struct strata_error **err) {
  if (a->datafd < 0)
    a->datafd = a->host->open_area(a->data_dir, a->dirs, err);
  return a->datafd;
}

bool driver_valid_id(const char *id) {
  if (id == NULL || *id == '\0' || strlen(id) > 128)
    return false;
  for (const char *p = id; *p; p++)
    if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
      return false;
  return true;
}

int driver_area_use(struct driver_area *a, const char *id, const char *what,
                    struct strata_error **err) {
  if (!driver_valid_id(id))
    return a->host->error(err, 0, "invalid %s", what);
  return driver_area_fd(a, err) < 0 ? -1 : 0;
}

/* the plain way: NAME is a tree like any other */
static int remove_tree_in(struct driver_area *a, const char *dir, const char *name,
                          struct strata_error **err) {
  int fd = openat(a->datafd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int r;
  if (fd < 0)
    return a->host->error(err, errno, "cannot open '%s/%s'", a->data_dir, dir);
  r = a->host->remove_tree_at(fd, name, err);
  close(fd);
  return r;
}

int driver_area_remove(struct driver_area *a, const char *dir, const char *name,
                       struct strata_error **err) {
  return (a->remove ? a->remove : remove_tree_in)(a, dir, name, err);
}

void driver_area_discard(struct driver_area *a, const char *dir, const char *name) {
  struct strata_error *e = NULL;
  driver_area_remove(a, dir, name, &e);
  a->host->error_free(e);
}

void driver_area_clear(struct driver_area *a, const char *dir, bool (*want)(const char *name),
                       driver_drop_fn *drop) {
  int fd = openat(a->datafd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *d = fd < 0 ? NULL : fdopendir(fd);
  struct dirent *de;

  if (d == NULL) {
    if (fd >= 0)
      close(fd);
    return;
  }
  while ((de = readdir(d)) != NULL)
    if (de->d_name[0] != '.' && want(de->d_name))
      drop(a, dir, de->d_name);
  closedir(d);
}

bool driver_any_name(const char *name) {
  (void)name;
  return true;
}

bool driver_new_name(const char *name) {
  size_t l = strlen(name);
  return l > 4 && strcmp(name + l - 4, ".new") == 0;
}

int driver_area_recover(struct driver_area *a, driver_drop_fn *drop, struct strata_error **err) {
  if (driver_area_fd(a, err) < 0)
    return -1;
  driver_area_clear(a, "staging", driver_any_name, drop);     /* layers being written */
  driver_area_clear(a, "containers", driver_new_name, drop); /* containers being made */
  return 0;
}

int driver_stage_begin(struct driver_area *a, const char *id, const char *parent,
                       struct strata_error **err) {
  if (!driver_valid_id(id) || (parent && !driver_valid_id(parent)))
    return a->host->error(err, 0, "invalid layer ID");
  if (driver_area_fd(a, err) < 0)
    return -1;
  /* leftovers of an interrupted run for this very layer */
  if (driver_area_remove(a, "staging", id, err) < 0 ||
      driver_area_remove(a, "layers", id, err) < 0)
    return -1;
  return 0;
}

int driver_create_begin(struct driver_area *a, const char *id, const char *layer,
                        struct strata_error **err) {
  char name[200];
  if (!driver_valid_id(id) || !driver_valid_id(layer))
    return a->host->error(err, 0, "invalid container or layer ID");
  if (driver_area_fd(a, err) < 0)
    return -1;
  snprintf(name, sizeof(name), "%s.new", id);
  return driver_area_remove(a, "containers", name, err);
}

int driver_layer_commit(void *state, const char *id, struct strata_layer_stage *stage,
                        struct strata_error **err) {
  struct driver_area *a = state;
  char from[200], to[200];
  if (stage->dirfd >= 0) {
    close(stage->dirfd);
    stage->dirfd = -1;
  }
  snprintf(from, sizeof(from), "staging/%s", id);
  snprintf(to, sizeof(to), "layers/%s", id);
  if (renameat(a->datafd, from, a->datafd, to) < 0)
    return a->host->error(err, errno, "cannot publish layer '%s'", id);
  return 0;
}

void driver_layer_abort(void *state, const char *id, struct strata_layer_stage *stage) {
  struct driver_area *a = state;
  struct strata_error *e = NULL;
  if (stage->dirfd >= 0) {
    close(stage->dirfd);
    stage->dirfd = -1;
  }
  if (driver_valid_id(id) && a->datafd >= 0 && driver_area_remove(a, "staging", id, &e) < 0)
    a->host->log(STRATA_LOG_WARNING, a->domain, "cannot remove staged layer %s", id);
  a->host->error_free(e);
}

int driver_layer_remove(void *state, const char *id, struct strata_error **err) {
  struct driver_area *a = state;
  if (driver_area_use(a, id, "layer ID", err) < 0)
    return -1;
  return driver_area_remove(a, "layers", id, err);
}

int driver_container_mount(void *state, const char *id, char **path, struct strata_error **err) {
  struct driver_area *a = state;
  struct stat st;
  if (!driver_valid_id(id))
    return a->host->error(err, 0, "invalid container ID");
  if (asprintf(path, "%s/containers/%s%s%s", a->data_dir, id, *a->rootfs ? "/" : "",
               a->rootfs) < 0) {
    *path = NULL;
    return a->host->error(err, ENOMEM, "cannot mount container");
  }
  /* the driver made it a directory: a symlink there was planted */
  if (lstat(*path, &st) < 0 || !S_ISDIR(st.st_mode)) {
    a->host->error(err, errno, "container %.12s has no root file system", id);
    free(*path);
    *path = NULL;
    return -1;
  }
  return 0;
}

int driver_container_unmount(void *state, const char *id, struct strata_error **err) {
  (void)state;
  (void)id;
  (void)err;
  return 0;
}

int driver_container_remove(void *state, const char *id, struct strata_error **err) {
  struct driver_area *a = state;
  if (driver_area_use(a, id, "container ID", err) < 0)
    return -1;
  return driver_area_remove(a, "containers", id, err);
}

static int usage_of(struct driver_area *a, const char *dir, const char *id, const char *what,
                    uint64_t *bytes, struct strata_error **err) {
  char path[256];
  if (driver_area_use(a, id, what, err) < 0)
    return -1;
  snprintf(path, sizeof(path), "%s/%s", dir, id);
  return a->host->disk_usage(a->datafd, path, -1, bytes, err);
}

int driver_layer_usage(void *state, const char *id, uint64_t *bytes, struct strata_error **err) {
  return usage_of(state, "layers", id, "layer ID", bytes, err);
}

int driver_container_usage(void *state, const char *id, uint64_t *bytes,
                           struct strata_error **err) {
  return usage_of(state, "containers", id, "container ID", bytes, err);
}

int driver_diff_whole(void *state, const char *id, const char *parent, enum strata_diff_kind kind,
                      struct strata_diff_dirs *out, struct strata_error **err) {
  struct driver_area *a = state;
  const char *root = kind == STRATA_DIFF_CONTAINER ? a->rootfs : "";
  char **lowers = calloc(2, sizeof(*lowers));
  char *upper = NULL;

  if (lowers == NULL)
    return a->host->error(err, ENOMEM, "cannot list changes");
  if (!driver_valid_id(id) || (parent && !driver_valid_id(parent))) {
    free(lowers);
    return a->host->error(err, 0, "invalid layer or container ID");
  }
  if (asprintf(&upper, "%s/%s/%s%s%s", a->data_dir,
               kind == STRATA_DIFF_CONTAINER ? "containers" : "layers", id, *root ? "/" : "",
               root) < 0 ||
      (parent && asprintf(&lowers[0], "%s/layers/%s", a->data_dir, parent) < 0)) {
    free(lowers);
    return a->host->error(err, ENOMEM, "cannot list changes");
  }
  out->flags = 0;
  out->upper = upper;
  out->lowers = lowers;
  return 0;
}

int driver_copy_dir_attrs(struct driver_area *a, int src, int dst, const char *what,
                          struct strata_error **err) {
  struct stat st;
  char list[16384];
  ssize_t n;

  if (fstat(src, &st) < 0)
    return a->host->error(err, errno, "cannot stat '%s'", what);
  n = flistxattr(src, list, sizeof(list));
  for (ssize_t off = 0; n > 0 && off < n; off += (ssize_t)strlen(list + off) + 1) {
    const char *x = list + off;
    char val[65536];
    ssize_t vl;
    if (strncmp(x, "trusted.overlay.", 16) == 0 || strncmp(x, "user.overlay.", 13) == 0)
      continue;
    vl = fgetxattr(src, x, val, sizeof(val));
    if (vl >= 0 && fsetxattr(dst, x, val, (size_t)vl, 0) < 0)
      a->host->log(STRATA_LOG_DEBUG, a->domain, "cannot copy xattr %s of '%s': %s", x, what,
                   strerror(errno));
  }
  /* the mode after the owner: chown clears setuid and setgid */
  if (fchown(dst, st.st_uid, st.st_gid) < 0 || fchmod(dst, st.st_mode & 07777) < 0)
    return a->host->error(err, errno, "cannot set the attributes of '%s'", what);
  {
    struct timespec ts[2] = {st.st_atim, st.st_mtim};
    if (futimens(dst, ts) < 0)
      return a->host->error(err, errno, "cannot set the times of '%s'", what);
  }
  return 0;
}
