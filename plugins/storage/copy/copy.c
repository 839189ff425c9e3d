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

static int copy_layer_stage(void *state, const char *id, const char *parent,
                            struct strata_layer_stage *stage, struct strata_error **err) {
  struct driver_area *s = state;
  char path[256];
  uint64_t usage = 0;
  struct stat st;
  int fd;

  if (driver_stage_begin(s, id, parent, err) < 0)
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
    .probe = copy_probe,
    .recover = copy_recover,
    .layer_stage = copy_layer_stage,
    .layer_commit = driver_layer_commit,
    .layer_abort = driver_layer_abort,
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
