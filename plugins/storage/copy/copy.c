/* storage driver "copy": every layer and every container is a full tree.
 *
 *   DATA/layers/ID/        committed layers (immutable)
 *   DATA/staging/ID/       a layer being written (on the parent's tree)
 *   DATA/staging/ID.detached/{diff,parent,tree}
 *                          one written beside a parent not yet published
 *   DATA/containers/ID/rootfs
 *   DATA/containers/ID.new/ a container being made
 *
 * Works on any file system.  A layer is never written in place once
 * committed, and the layer engine replaces a file rather than writing into
 * it, so a layer is staged on a tree of hardlinks to its parent's files
 * (the host's link_tree): its own directories, shared files.  Whiteouts are
 * applied in place on that tree.  A container writes into its files, so it
 * gets a real copy (the host's copy_tree): clones (FICLONE) where the file
 * system can, else copy_file_range over the data segments, several files at
 * once.
 *
 * A detached stage (STRATA_STAGE_DETACHED) is an empty diff in overlay
 * form, written while the parent is; at commit the parent's link tree is
 * made and the diff moved into it (renames within one file system). */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <strata/plugin/host.h>
#include <strata/plugin/storage.h>

#include "../driver-area.h"

#define DOMAIN "storage.copy"

static const struct strata_host *host;

static const char *const copy_dirs[] = {"layers", "staging", "containers", NULL};
static const struct driver_area copy_area = {
    .domain = DOMAIN, .dirs = copy_dirs, .rootfs = "rootfs"};

static int copy_init(const struct strata_host *h, const struct strata_plugin_context *ctx,
                     void **state, struct strata_error **err) {
  host = h;
  if (h->size < offsetof(struct strata_host, link_tree) + sizeof(h->link_tree))
    return h->error(err, 0, "the copy driver needs a core with link_tree (ABI 1.3)");
  return driver_area_new(h, ctx, &copy_area, sizeof(copy_area), "copy", state, err);
}

static int copy_probe(void *state, struct strata_error **err) {
  return driver_area_fd(state, err) < 0 ? -1 : 0;
}

/* Makes the tree SRC (relative to the data dir) in the existing DST: a
 * copy, or with USAGE a tree of hardlinks (*USAGE: what it took). */
static int copy_whole(struct driver_area *s, const char *src, int dstfd, uint64_t *usage,
                      struct strata_error **err) {
  int in = openat(s->datafd, src, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  int r;

  if (in < 0)
    return host->error(err, errno, "cannot open '%s/%s'", s->data_dir, src);
  r = usage ? host->link_tree(in, dstfd, usage, err) : host->copy_tree(in, dstfd, 0, err);
  close(in);
  return r;
}

/* ------------------------------------------------------------------ detached stages */

static bool is_whiteout(const struct stat *st) {
  return S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0);
}

static bool is_opaque(int fd) {
  char v[2];
  return fgetxattr(fd, "trusted.overlay.opaque", v, sizeof(v)) == 1 && v[0] == 'y';
}

/* The names in directory FD (NULL-terminated, malloc'd), read before any
 * is moved. */
static char **dir_names(int fd) {
  int dupfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *d = dupfd < 0 ? NULL : fdopendir(dupfd);
  char **v = calloc(1, sizeof(*v));
  size_t n = 0;
  struct dirent *de;

  if (d == NULL || v == NULL) {
    if (d)
      closedir(d);
    else if (dupfd >= 0)
      close(dupfd);
    free(v);
    return NULL;
  }
  while ((de = readdir(d)) != NULL) {
    char **nv;
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
      continue;
    nv = realloc(v, (n + 2) * sizeof(*v));
    if (nv == NULL || (nv[n] = strdup(de->d_name)) == NULL) {
      v = nv ? nv : v;
      v[n] = NULL;
      for (size_t i = 0; i < n; i++)
        free(v[i]);
      free(v);
      closedir(d);
      return NULL;
    }
    v = nv;
    v[++n] = NULL;
  }
  closedir(d);
  return v;
}

/* Moves what overlay-form diff directory DFD holds into tree directory
 * TFD: a whiteout removes, a directory merges (an opaque one replaces the
 * tree's), anything else replaces.  Nothing on either side is followed. */
static int merge_diff(struct driver_area *s, int dfd, int tfd, const char *path,
                      struct strata_error **err) {
  char **names = dir_names(dfd);
  int r = 0;

  if (names == NULL)
    return host->error(err, errno ? errno : ENOMEM, "cannot read '%s'", path);
  for (size_t i = 0; r == 0 && names[i] != NULL; i++) {
    const char *name = names[i];
    struct stat ds, ts;
    bool have = fstatat(tfd, name, &ts, AT_SYMLINK_NOFOLLOW) == 0;

    if (fstatat(dfd, name, &ds, AT_SYMLINK_NOFOLLOW) < 0) {
      r = host->error(err, errno, "cannot stat '%s/%s'", path, name);
      break;
    }
    if (is_whiteout(&ds)) {
      if (have)
        r = host->remove_tree_at(tfd, name, err);
      continue;
    }
    if (S_ISDIR(ds.st_mode)) {
      char sub[PATH_MAX];
      int sd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), st = -1;
      snprintf(sub, sizeof(sub), "%s/%s", path, name);
      if (sd < 0) {
        r = host->error(err, errno, "cannot open '%s'", sub);
        break;
      }
      /* a directory over a file, or an opaque one: the tree's goes */
      if (have && (!S_ISDIR(ts.st_mode) || is_opaque(sd))) {
        r = host->remove_tree_at(tfd, name, err);
        have = false;
      }
      if (r == 0 && !have && mkdirat(tfd, name, 0700) < 0)
        r = host->error(err, errno, "cannot create '%s'", sub);
      if (r == 0 && (st = openat(tfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
        r = host->error(err, errno, "cannot open '%s'", sub);
      if (r == 0)
        r = merge_diff(s, sd, st, sub, err);
      /* after its entries moved in, which changed its times */
      if (r == 0)
        r = driver_copy_dir_attrs(s, sd, st, sub, err);
      close(sd);
      if (st >= 0)
        close(st);
      continue;
    }
    if (have && S_ISDIR(ts.st_mode))
      r = host->remove_tree_at(tfd, name, err);
    if (r == 0 && renameat(dfd, name, tfd, name) < 0)
      r = host->error(err, errno, "cannot move '%s/%s' into the layer", path, name);
  }
  for (size_t i = 0; names[i] != NULL; i++)
    free(names[i]);
  free(names);
  return r;
}

/* staging/ID.detached: the diff to write into (its fd in *DIRFD) and the
 * parent to merge it with at commit. */
static int stage_detached(struct driver_area *s, const char *id, const char *parent,
                          int *dirfd, struct strata_error **err) {
  char dir[256], path[300];
  int fd;

  snprintf(dir, sizeof(dir), "staging/%s.detached", id);
  snprintf(path, sizeof(path), "%s/diff", dir);
  if (mkdirat(s->datafd, dir, 0700) < 0 || mkdirat(s->datafd, path, 0755) < 0)
    return host->error(err, errno, "cannot create '%s/%s'", s->data_dir, path);
  fd = openat(s->datafd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return host->error(err, errno, "cannot open '%s/%s'", s->data_dir, path);
  snprintf(path, sizeof(path), "%s/parent", dir);
  {
    int pf = openat(s->datafd, path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    size_t len = strlen(parent);
    if (pf < 0 || write(pf, parent, len) != (ssize_t)len) {
      int e = errno;
      if (pf >= 0)
        close(pf);
      close(fd);
      return host->error(err, e, "cannot write '%s/%s'", s->data_dir, path);
    }
    close(pf);
  }
  /* mkdir's mode went through the umask */
  if (fchmod(fd, 0755) < 0) {
    close(fd);
    return host->error(err, errno, "cannot set the mode of '%s/%s'", s->data_dir, dir);
  }
  *dirfd = fd;
  return 0;
}

/* The commit of a detached stage: the parent's link tree, the diff moved
 * into it, published.  Returns 1 when ID was not staged detached. */
static int commit_detached(struct driver_area *s, const char *id, struct strata_layer_stage *stage,
                           struct strata_error **err) {
  char dir[256], path[300], parent[80], ppath[256], to[256];
  uint64_t usage = 0;
  ssize_t n;
  int pf, tfd, r;

  snprintf(dir, sizeof(dir), "staging/%s.detached", id);
  snprintf(path, sizeof(path), "%s/parent", dir);
  pf = openat(s->datafd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (pf < 0)
    return errno == ENOENT ? 1 : host->error(err, errno, "cannot open '%s/%s'", s->data_dir, path);
  n = read(pf, parent, sizeof(parent) - 1);
  close(pf);
  if (n <= 0)
    return host->error(err, errno, "cannot read '%s/%s'", s->data_dir, path);
  parent[n] = '\0';
  if (!driver_valid_id(parent))
    return host->error(err, 0, "staged layer %.12s has a damaged parent", id);
  snprintf(path, sizeof(path), "%s/tree", dir);
  snprintf(ppath, sizeof(ppath), "layers/%s", parent);
  if (mkdirat(s->datafd, path, 0755) < 0)
    return host->error(err, errno, "cannot create '%s/%s'", s->data_dir, path);
  tfd = openat(s->datafd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (tfd < 0)
    return host->error(err, errno, "cannot open '%s/%s'", s->data_dir, path);
  r = copy_whole(s, ppath, tfd, &usage, err);
  if (r == 0)
    r = merge_diff(s, stage->dirfd, tfd, "", err);
  if (r == 0)
    r = driver_copy_dir_attrs(s, stage->dirfd, tfd, "/", err);
  close(tfd);
  if (r < 0)
    return host->error_wrap(err, "cannot put layer %.12s on its parent", id);
  if (stage->size >= offsetof(struct strata_layer_stage, usage) + sizeof(stage->usage))
    stage->usage += usage;
  close(stage->dirfd);
  stage->dirfd = -1;
  snprintf(to, sizeof(to), "layers/%s", id);
  if (renameat(s->datafd, path, s->datafd, to) < 0)
    return host->error(err, errno, "cannot publish layer '%s'", id);
  snprintf(path, sizeof(path), "%s.detached", id);
  driver_area_discard(s, "staging", path);
  return 0;
}

static int copy_layer_commit(void *state, const char *id, struct strata_layer_stage *stage,
                             struct strata_error **err) {
  int r = commit_detached(state, id, stage, err);
  return r == 1 ? driver_layer_commit(state, id, stage, err) : r;
}

static void copy_layer_abort(void *state, const char *id, struct strata_layer_stage *stage) {
  char name[200];
  driver_layer_abort(state, id, stage);
  snprintf(name, sizeof(name), "%s.detached", id);
  if (driver_valid_id(id))
    driver_area_discard(state, "staging", name);
}

/* ------------------------------------------------------------------ layers */

static int copy_layer_stage(void *state, const char *id, const char *parent,
                            struct strata_layer_stage *stage, struct strata_error **err) {
  struct driver_area *s = state;
  char path[256];
  uint64_t usage = 0;
  struct stat st;
  int fd = -1;

  if (driver_stage_begin(s, id, parent, err) < 0)
    return -1;
  snprintf(path, sizeof(path), "%s.detached", id);
  driver_area_discard(s, "staging", path);
  if (parent != NULL &&
      stage->size >= offsetof(struct strata_layer_stage, flags) + sizeof(stage->flags) &&
      (stage->flags & STRATA_STAGE_DETACHED)) {
    if (stage_detached(s, id, parent, &fd, err) < 0) {
      driver_area_discard(s, "staging", path);
      return -1;
    }
    /* the diff's root; the parent's tree comes at commit */
    stage->usage = fstat(fd, &st) == 0 ? (uint64_t)st.st_blocks * 512 : 0;
    stage->dirfd = fd;
    stage->whiteout_mode = STRATA_WHITEOUT_OVERLAY;
    return 0;
  }
  snprintf(path, sizeof(path), "staging/%s", id);
  if (mkdirat(s->datafd, path, 0755) < 0)
    return host->error(err, errno, "cannot create '%s/%s'", s->data_dir, path);
  fd = openat(s->datafd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return host->error(err, errno, "cannot open '%s/%s'", s->data_dir, path);
  if (parent != NULL) {
    char ppath[256];
    snprintf(ppath, sizeof(ppath), "layers/%s", parent);
    if (copy_whole(s, ppath, fd, &usage, err) < 0) {
      close(fd);
      driver_area_discard(s, "staging", id);
      return host->error_wrap(err, "cannot stage on the parent layer");
    }
  }
  /* the layer's disk: its root, its directories, anything copied */
  if (stage->size >= offsetof(struct strata_layer_stage, usage) + sizeof(stage->usage) &&
      fstat(fd, &st) == 0)
    stage->usage = usage + (uint64_t)st.st_blocks * 512;
  stage->dirfd = fd;
  stage->whiteout_mode = STRATA_WHITEOUT_IN_PLACE;
  return 0;
}

static int copy_container_create(void *state, const char *id, const char *layer,
                                 struct strata_error **err) {
  struct driver_area *s = state;
  char name[200], tmp[256], rootfs[300], lpath[256], final[256];
  int fd;

  if (driver_create_begin(s, id, layer, err) < 0)
    return -1;
  snprintf(name, sizeof(name), "%s.new", id);
  snprintf(tmp, sizeof(tmp), "containers/%s", name);
  snprintf(rootfs, sizeof(rootfs), "%s/rootfs", tmp);
  snprintf(lpath, sizeof(lpath), "layers/%s", layer);
  snprintf(final, sizeof(final), "containers/%s", id);
  if (mkdirat(s->datafd, tmp, 0700) < 0 || mkdirat(s->datafd, rootfs, 0755) < 0)
    return host->error(err, errno, "cannot create '%s/%s'", s->data_dir, tmp);
  fd = openat(s->datafd, rootfs, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 || copy_whole(s, lpath, fd, NULL, err) < 0) {
    if (fd < 0)
      host->error(err, errno, "cannot open '%s'", rootfs);
    else
      close(fd);
    driver_area_discard(s, "containers", name);
    return host->error_wrap(err, "cannot make the root of container %.12s", id);
  }
  close(fd);
  if (renameat(s->datafd, tmp, s->datafd, final) < 0)
    return host->error(err, errno, "cannot publish container '%s'", id);
  return 0;
}

static void drop_leftover(struct driver_area *s, const char *dir, const char *name) {
  struct strata_error *e = NULL;
  if (driver_area_remove(s, dir, name, &e) < 0)
    host->log(STRATA_LOG_WARNING, DOMAIN, "cannot remove '%s/%s/%s'", s->data_dir, dir, name);
  host->error_free(e);
}

static int copy_recover(void *state, struct strata_error **err) {
  return driver_area_recover(state, drop_leftover, err);
}

/* Every tree is whole: the core compares ID's tree with its parent's
 * (driver_diff_whole).  A copy costs all of its tree (driver_container_usage);
 * its root is a plain directory, nothing is mounted (driver_container_unmount). */
static const struct strata_storage_ops copy_ops = {
    .version = STRATA_STORAGE_OPS_VERSION,
    .caps = STRATA_STORAGE_CAP_DETACHED_STAGE,
    .probe = copy_probe,
    .recover = copy_recover,
    .layer_stage = copy_layer_stage,
    .layer_commit = copy_layer_commit,
    .layer_abort = copy_layer_abort,
    .layer_remove = driver_layer_remove,
    .container_create = copy_container_create,
    .container_mount = driver_container_mount,
    .container_unmount = driver_container_unmount,
    .diff_dirs = driver_diff_whole,
    .container_remove = driver_container_remove,
    .container_usage = driver_container_usage,
};

static const struct strata_plugin_info copy_info = {
    STRATA_PLUGIN_INFO_INIT(STRATA_PLUGIN_STORAGE, "copy", PACKAGE_VERSION,
                            "full copy of every layer and container; works on any file system",
                            "Apache-2.0"),
    .init = copy_init,
    .fini = driver_area_free,
    .ops = &copy_ops,
};

STRATA_PLUGIN_DEFINE(copy_info)
