/* storage driver "copy": every layer and every container is a full tree.
 *
 *   DATA/layers/ID/        committed layers (immutable)
 *   DATA/staging/ID/       a layer being written (on the parent's tree)
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
 * once. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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

#define DOMAIN "storage.copy"

static const struct strata_host *host;

struct copy_state {
  char *data_dir;
  int datafd; /* -1 until first use */
};

static int copy_init(const struct strata_host *h, const struct strata_plugin_context *ctx,
                     void **state, struct strata_error **err) {
  struct copy_state *s;
  host = h;
  if (h->size < offsetof(struct strata_host, link_tree) + sizeof(h->link_tree))
    return h->error(err, 0, "the copy driver needs a core with link_tree (ABI 1.3)");
  s = calloc(1, sizeof(*s));
  if (s == NULL || (s->data_dir = strdup(ctx->data_dir)) == NULL) {
    free(s);
    return host->error(err, ENOMEM, "cannot start the copy driver");
  }
  s->datafd = -1;
  *state = s;
  return 0;
}

static void copy_fini(void *state) {
  struct copy_state *s = state;
  if (s == NULL)
    return;
  if (s->datafd >= 0)
    close(s->datafd);
  free(s->data_dir);
  free(s);
}

/* Opens (creating) the driver's area and its folders. */
static int data_fd(struct copy_state *s, struct strata_error **err) {
  static const char *const dirs[] = {"layers", "staging", "containers", NULL};
  if (s->datafd < 0)
    s->datafd = host->open_area(s->data_dir, dirs, err);
  return s->datafd;
}

static int copy_probe(void *state, struct strata_error **err) {
  return data_fd(state, err) < 0 ? -1 : 0;
}

static int remove_in(struct copy_state *s, const char *dir, const char *name,
                     struct strata_error **err) {
  int fd = openat(s->datafd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int r;
  if (fd < 0)
    return host->error(err, errno, "cannot open '%s/%s'", s->data_dir, dir);
  r = host->remove_tree_at(fd, name, err);
  close(fd);
  return r;
}

/* Makes the tree SRC (relative to the data dir) in the existing DST: a
 * copy, or with USAGE a tree of hardlinks (*USAGE: what it took). */
static int copy_whole(struct copy_state *s, const char *src, int dstfd, uint64_t *usage,
                      struct strata_error **err) {
  int in = openat(s->datafd, src, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  int r;

  if (in < 0)
    return host->error(err, errno, "cannot open '%s/%s'", s->data_dir, src);
  r = usage ? host->link_tree(in, dstfd, usage, err) : host->copy_tree(in, dstfd, 0, err);
  close(in);
  return r;
}

static bool valid_id(const char *id) {
  if (id == NULL || *id == '\0' || strlen(id) > 128)
    return false;
  for (const char *p = id; *p; p++)
    if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
      return false;
  return true;
}

static int copy_layer_stage(void *state, const char *id, const char *parent,
                            struct strata_layer_stage *stage, struct strata_error **err) {
  struct copy_state *s = state;
  char path[256];
  uint64_t usage = 0;
  struct stat st;
  int fd;

  if (!valid_id(id) || (parent && !valid_id(parent)))
    return host->error(err, 0, "invalid layer ID");
  if (data_fd(s, err) < 0)
    return -1;
  /* leftovers of an interrupted run for this very layer */
  if (remove_in(s, "staging", id, err) < 0 || remove_in(s, "layers", id, err) < 0)
    return -1;
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
      struct strata_error *e2 = NULL;
      close(fd);
      remove_in(s, "staging", id, &e2);
      host->error_free(e2);
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

static int copy_layer_commit(void *state, const char *id, struct strata_layer_stage *stage,
                             struct strata_error **err) {
  struct copy_state *s = state;
  char from[256], to[256];
  if (stage->dirfd >= 0) {
    close(stage->dirfd);
    stage->dirfd = -1;
  }
  snprintf(from, sizeof(from), "staging/%s", id);
  snprintf(to, sizeof(to), "layers/%s", id);
  if (renameat(s->datafd, from, s->datafd, to) < 0)
    return host->error(err, errno, "cannot publish layer '%s'", id);
  return 0;
}

static void copy_layer_abort(void *state, const char *id, struct strata_layer_stage *stage) {
  struct copy_state *s = state;
  struct strata_error *e = NULL;
  if (stage->dirfd >= 0) {
    close(stage->dirfd);
    stage->dirfd = -1;
  }
  if (valid_id(id) && s->datafd >= 0 && remove_in(s, "staging", id, &e) < 0)
    host->log(STRATA_LOG_WARNING, DOMAIN, "cannot remove staged layer %s", id);
  host->error_free(e);
}

static int copy_layer_remove(void *state, const char *id, struct strata_error **err) {
  struct copy_state *s = state;
  if (!valid_id(id))
    return host->error(err, 0, "invalid layer ID");
  if (data_fd(s, err) < 0)
    return -1;
  return remove_in(s, "layers", id, err);
}

static int copy_container_create(void *state, const char *id, const char *layer,
                                 struct strata_error **err) {
  struct copy_state *s = state;
  char tmp[256], rootfs[300], lpath[256], final[256];
  int fd;

  if (!valid_id(id) || !valid_id(layer))
    return host->error(err, 0, "invalid container or layer ID");
  if (data_fd(s, err) < 0)
    return -1;
  snprintf(tmp, sizeof(tmp), "containers/%s.new", id);
  snprintf(rootfs, sizeof(rootfs), "%s/rootfs", tmp);
  snprintf(lpath, sizeof(lpath), "layers/%s", layer);
  snprintf(final, sizeof(final), "containers/%s", id);
  {
    char name[200];
    snprintf(name, sizeof(name), "%s.new", id);
    if (remove_in(s, "containers", name, err) < 0)
      return -1;
  }
  if (mkdirat(s->datafd, tmp, 0700) < 0 || mkdirat(s->datafd, rootfs, 0755) < 0)
    return host->error(err, errno, "cannot create '%s/%s'", s->data_dir, tmp);
  fd = openat(s->datafd, rootfs, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 || copy_whole(s, lpath, fd, NULL, err) < 0) {
    struct strata_error *e2 = NULL;
    char name[200];
    if (fd < 0)
      host->error(err, errno, "cannot open '%s'", rootfs);
    else
      close(fd);
    snprintf(name, sizeof(name), "%s.new", id);
    remove_in(s, "containers", name, &e2);
    host->error_free(e2);
    return host->error_wrap(err, "cannot make the root of container %.12s", id);
  }
  close(fd);
  if (renameat(s->datafd, tmp, s->datafd, final) < 0)
    return host->error(err, errno, "cannot publish container '%s'", id);
  return 0;
}

static int copy_container_mount(void *state, const char *id, char **path,
                                struct strata_error **err) {
  struct copy_state *s = state;
  struct stat st;
  if (!valid_id(id))
    return host->error(err, 0, "invalid container ID");
  if (asprintf(path, "%s/containers/%s/rootfs", s->data_dir, id) < 0)
    return host->error(err, ENOMEM, "cannot mount container");
  if (stat(*path, &st) < 0 || !S_ISDIR(st.st_mode)) {
    int e = errno;
    host->error(err, e, "container %.12s has no root file system", id);
    free(*path);
    *path = NULL;
    return -1;
  }
  return 0;
}

static int copy_container_unmount(void *state, const char *id, struct strata_error **err) {
  return 0; /* nothing is mounted: the rootfs is a plain directory */
}

static int copy_container_remove(void *state, const char *id, struct strata_error **err) {
  struct copy_state *s = state;
  if (!valid_id(id))
    return host->error(err, 0, "invalid container ID");
  if (data_fd(s, err) < 0)
    return -1;
  return remove_in(s, "containers", id, err);
}

/* a copy costs all of its tree */
static int copy_container_usage(void *state, const char *id, uint64_t *bytes,
                                struct strata_error **err) {
  struct copy_state *s = state;
  char path[256];
  if (!valid_id(id))
    return host->error(err, 0, "invalid container ID");
  if (data_fd(s, err) < 0)
    return -1;
  snprintf(path, sizeof(path), "containers/%s", id);
  return host->disk_usage(s->datafd, path, -1, bytes, err);
}

/* Removes the entries of DATA/DIR whose name ends in SUFFIX ("" for all). */
static void remove_matching(struct copy_state *s, const char *dir, const char *suffix) {
  int fd = openat(s->datafd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  size_t sl = strlen(suffix);
  DIR *d;
  struct dirent *de;

  if (fd < 0)
    return;
  d = fdopendir(fd);
  if (d == NULL) {
    close(fd);
    return;
  }
  while ((de = readdir(d)) != NULL) {
    size_t l = strlen(de->d_name);
    struct strata_error *e = NULL;
    if (de->d_name[0] == '.' || l <= sl || strcmp(de->d_name + l - sl, suffix) != 0)
      continue;
    if (host->remove_tree_at(fd, de->d_name, &e) < 0)
      host->log(STRATA_LOG_WARNING, DOMAIN, "cannot remove '%s/%s/%s'", s->data_dir, dir,
                de->d_name);
    host->error_free(e);
  }
  closedir(d);
}

static int copy_recover(void *state, struct strata_error **err) {
  struct copy_state *s = state;
  if (data_fd(s, err) < 0)
    return -1;
  remove_matching(s, "staging", "");        /* layers being written */
  remove_matching(s, "containers", ".new"); /* containers being made */
  return 0;
}

/* Every tree is whole: the core compares ID's tree with its parent's. */
static int copy_diff_dirs(void *state, const char *id, const char *parent,
                          enum strata_diff_kind kind, struct strata_diff_dirs *out,
                          struct strata_error **err) {
  struct copy_state *s = state;
  char **lowers = calloc(2, sizeof(*lowers));
  char *upper = NULL;

  if (lowers == NULL)
    return host->error(err, ENOMEM, "cannot list changes");
  if (!valid_id(id) || (parent && !valid_id(parent))) {
    free(lowers);
    return host->error(err, 0, "invalid layer or container ID");
  }
  if ((kind == STRATA_DIFF_CONTAINER
           ? asprintf(&upper, "%s/containers/%s/rootfs", s->data_dir, id)
           : asprintf(&upper, "%s/layers/%s", s->data_dir, id)) < 0 ||
      (parent && asprintf(&lowers[0], "%s/layers/%s", s->data_dir, parent) < 0)) {
    free(lowers);
    return host->error(err, ENOMEM, "cannot list changes");
  }
  out->flags = 0;
  out->upper = upper;
  out->lowers = lowers;
  return 0;
}

static const struct strata_storage_ops copy_ops = {
    .version = STRATA_STORAGE_OPS_VERSION,
    .probe = copy_probe,
    .recover = copy_recover,
    .layer_stage = copy_layer_stage,
    .layer_commit = copy_layer_commit,
    .layer_abort = copy_layer_abort,
    .layer_remove = copy_layer_remove,
    .container_create = copy_container_create,
    .container_mount = copy_container_mount,
    .container_unmount = copy_container_unmount,
    .diff_dirs = copy_diff_dirs,
    .container_remove = copy_container_remove,
    .container_usage = copy_container_usage,
};

static const struct strata_plugin_info copy_info = {
    STRATA_PLUGIN_INFO_INIT(STRATA_PLUGIN_STORAGE, "copy", PACKAGE_VERSION,
                            "full copy of every layer and container; works on any file system",
                            "Apache-2.0"),
    .init = copy_init,
    .fini = copy_fini,
    .ops = &copy_ops,
};

STRATA_PLUGIN_DEFINE(copy_info)
