/* storage driver "btrfs": a subvolume per layer and per container.
 *
 *   DATA/layers/ID          committed layers: read-only subvolumes
 *   DATA/staging/ID         a layer being written: a writable snapshot of its
 *                           parent's subvolume (or a new, empty subvolume)
 *   DATA/containers/ID      a container's root: a writable snapshot of its
 *                           image's top layer
 *   DATA/containers/ID.new  a container being made
 *
 * A snapshot shares every extent with its source, so a layer costs only what
 * it changes and a container costs nothing until it writes.  Whiteouts are
 * applied in place on the snapshot.  The store must be on btrfs; everything
 * is done with the kernel's ioctls, never with the btrfs tool. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/btrfs.h>
#include <linux/magic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <strata/plugin/host.h>
#include <strata/plugin/storage.h>

#include "../driver-area.h"

#define DOMAIN "storage.btrfs"

/* the inode number of every subvolume's root directory */
#define SUBVOL_ROOT_INO 256

static const struct strata_host *host;

static int remove_in(struct driver_area *s, const char *dir, const char *name,
                     struct strata_error **err);

static const char *const btrfs_dirs[] = {"layers", "staging", "containers", NULL};
static const struct driver_area btrfs_area = {
    .domain = DOMAIN, .dirs = btrfs_dirs, .rootfs = "", .remove = remove_in};

static int btrfs_init(const struct strata_host *h, const struct strata_plugin_context *ctx,
                      void **state, struct strata_error **err) {
  host = h;
  return driver_area_new(h, ctx, &btrfs_area, sizeof(btrfs_area), "btrfs", state, err);
}

static int btrfs_probe(void *state, struct strata_error **err) {
  struct driver_area *s = state;
  struct statfs sfs;
  if (driver_area_fd(s, err) < 0)
    return -1;
  if (fstatfs(s->datafd, &sfs) < 0)
    return host->error(err, errno, "cannot stat the file system of '%s'", s->data_dir);
  if (sfs.f_type != BTRFS_SUPER_MAGIC)
    return host->error(err, 0,
                       "btrfs driver needs the store on a btrfs file system ('%s' is not on btrfs)",
                       s->data_dir);
  return 0;
}

static int open_dir(struct driver_area *s, const char *dir, struct strata_error **err) {
  int fd = openat(s->datafd, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return host->error(err, errno, "cannot open '%s/%s'", s->data_dir, dir);
  return fd;
}

static int set_readonly(int fd, bool ro) {
  uint64_t flags;
  if (ioctl(fd, BTRFS_IOC_SUBVOL_GETFLAGS, &flags) < 0)
    return -1;
  if (((flags & BTRFS_SUBVOL_RDONLY) != 0) == ro)
    return 0;
  flags = ro ? (flags | BTRFS_SUBVOL_RDONLY) : (flags & ~(uint64_t)BTRFS_SUBVOL_RDONLY);
  return ioctl(fd, BTRFS_IOC_SUBVOL_SETFLAGS, &flags);
}

static int destroy_subvol(int dirfd, const char *name) {
  struct btrfs_ioctl_vol_args_v2 v2;
  struct btrfs_ioctl_vol_args v1;

  memset(&v2, 0, sizeof(v2));
  snprintf(v2.name, sizeof(v2.name), "%s", name);
  if (ioctl(dirfd, BTRFS_IOC_SNAP_DESTROY_V2, &v2) == 0)
    return 0;
  if (errno != ENOTTY && errno != EOPNOTSUPP && errno != EINVAL)
    return -1;
  /* kernels before 5.7 */
  memset(&v1, 0, sizeof(v1));
  snprintf(v1.name, sizeof(v1.name), "%s", name);
  return ioctl(dirfd, BTRFS_IOC_SNAP_DESTROY, &v1);
}

/* Removes NAME in DIR (relative to DATA): a subvolume is destroyed (made
 * writable first: a read-only one may not be), anything else removed as a
 * tree.  A missing NAME is fine. */
static int remove_in(struct driver_area *s, const char *dir, const char *name,
                     struct strata_error **err) {
  struct stat st;
  int dfd = open_dir(s, dir, err), r = 0;

  if (dfd < 0)
    return -1;
  if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
    int e = errno;
    close(dfd);
    return e == ENOENT ? 0 : host->error(err, e, "cannot stat '%s/%s/%s'", s->data_dir, dir, name);
  }
  if (S_ISDIR(st.st_mode) && st.st_ino == SUBVOL_ROOT_INO) {
    int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
      if (set_readonly(fd, false) < 0)
        host->log(STRATA_LOG_DEBUG, DOMAIN, "cannot make '%s/%s' writable: %s", dir, name,
                  strerror(errno));
      close(fd);
    }
    if (destroy_subvol(dfd, name) < 0)
      r = host->error(err, errno, "cannot delete subvolume '%s/%s/%s'", s->data_dir, dir, name);
  } else {
    r = host->remove_tree_at(dfd, name, err);
  }
  close(dfd);
  return r;
}

/* Makes NAME in DIR a writable snapshot of subvolume SRC (relative to DATA),
 * or a new empty subvolume when SRC is NULL. */
static int make_subvol(struct driver_area *s, const char *src, const char *dir, const char *name,
                       struct strata_error **err) {
  int dfd = open_dir(s, dir, err), sfd = -1, r = 0;

  if (dfd < 0)
    return -1;
  if (src != NULL) {
    struct btrfs_ioctl_vol_args_v2 args;
    sfd = open_dir(s, src, err);
    if (sfd < 0) {
      close(dfd);
      return -1;
    }
    memset(&args, 0, sizeof(args));
    args.fd = sfd;
    snprintf(args.name, sizeof(args.name), "%s", name);
    if (ioctl(dfd, BTRFS_IOC_SNAP_CREATE_V2, &args) < 0)
      r = host->error(err, errno, "cannot snapshot '%s/%s' as '%s/%s'", s->data_dir, src, dir,
                      name);
    close(sfd);
  } else {
    struct btrfs_ioctl_vol_args args;
    memset(&args, 0, sizeof(args));
    snprintf(args.name, sizeof(args.name), "%s", name);
    if (ioctl(dfd, BTRFS_IOC_SUBVOL_CREATE, &args) < 0)
      r = host->error(err, errno, "cannot create subvolume '%s/%s/%s'", s->data_dir, dir, name);
  }
  close(dfd);
  return r;
}

static int btrfs_layer_stage(void *state, const char *id, const char *parent,
                             struct strata_layer_stage *stage, struct strata_error **err) {
  struct driver_area *s = state;
  char path[200], ppath[200];
  int fd;

  if (driver_stage_begin(s, id, parent, err) < 0)
    return -1;
  if (parent != NULL)
    snprintf(ppath, sizeof(ppath), "layers/%s", parent);
  if (make_subvol(s, parent ? ppath : NULL, "staging", id, err) < 0)
    return host->error_wrap(err, "cannot stage layer %.12s", id);
  snprintf(path, sizeof(path), "staging/%s", id);
  fd = openat(s->datafd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 || (parent == NULL && fchmod(fd, 0755) < 0)) {
    host->error(err, errno, "cannot open '%s/%s'", s->data_dir, path);
    if (fd >= 0)
      close(fd);
    driver_area_discard(s, "staging", id);
    return -1;
  }
  stage->dirfd = fd;
  stage->whiteout_mode = STRATA_WHITEOUT_IN_PLACE;
  return 0;
}

static int btrfs_layer_commit(void *state, const char *id, struct strata_layer_stage *stage,
                              struct strata_error **err) {
  struct driver_area *s = state;
  char to[200];
  int fd, r = 0;

  if (driver_layer_commit(state, id, stage, err) < 0)
    return -1;
  snprintf(to, sizeof(to), "layers/%s", id);
  /* a committed layer never changes: let the kernel hold it to that */
  fd = openat(s->datafd, to, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 || set_readonly(fd, true) < 0)
    r = host->error(err, errno, "cannot make layer '%s' read-only", id);
  if (fd >= 0)
    close(fd);
  if (r < 0)
    driver_area_discard(s, "layers", id);
  return r;
}

static int btrfs_container_create(void *state, const char *id, const char *layer,
                                  struct strata_error **err) {
  struct driver_area *s = state;
  char name[200], tmp[220], final[200], lpath[200];

  if (driver_create_begin(s, id, layer, err) < 0)
    return -1;
  snprintf(name, sizeof(name), "%s.new", id);
  snprintf(tmp, sizeof(tmp), "containers/%s", name);
  snprintf(final, sizeof(final), "containers/%s", id);
  snprintf(lpath, sizeof(lpath), "layers/%s", layer);
  if (make_subvol(s, lpath, "containers", name, err) < 0)
    return host->error_wrap(err, "cannot make the root of container %.12s", id);
  if (renameat(s->datafd, tmp, s->datafd, final) < 0) {
    host->error(err, errno, "cannot publish container '%s'", id);
    driver_area_discard(s, "containers", name);
    return -1;
  }
  return 0;
}

/* The layer a subvolume was snapshotted from (its parent UUID), opened, or
 * -1: a snapshot shares every untouched file with its source. */
static int open_source(struct driver_area *s, int fd) {
  struct btrfs_ioctl_get_subvol_info_args info, li;
  static const uint8_t zero[BTRFS_UUID_SIZE];
  DIR *d;
  struct dirent *de;
  int lfd, found = -1;

  if (ioctl(fd, BTRFS_IOC_GET_SUBVOL_INFO, &info) < 0 ||
      memcmp(info.parent_uuid, zero, sizeof(zero)) == 0)
    return -1;
  lfd = openat(s->datafd, "layers", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (lfd < 0 || (d = fdopendir(lfd)) == NULL) {
    if (lfd >= 0)
      close(lfd);
    return -1;
  }
  while (found < 0 && (de = readdir(d)) != NULL) {
    int c;
    if (!driver_valid_id(de->d_name))
      continue;
    c = openat(lfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (c < 0)
      continue;
    if (ioctl(c, BTRFS_IOC_GET_SUBVOL_INFO, &li) >= 0 &&
        memcmp(li.uuid, info.parent_uuid, BTRFS_UUID_SIZE) == 0)
      found = c;
    else
      close(c);
  }
  closedir(d);
  return found;
}

/* What the subvolume DIR/ID holds beyond the snapshot it was made from.
 * Only containers are measured so: a layer's usage is what the core wrote
 * into its snapshot, counted as it wrote (layer_usage is NULL). */
static int own_usage(struct driver_area *s, const char *dir, const char *id, uint64_t *bytes,
                     struct strata_error **err) {
  char path[256];
  int fd, ref, r;
  if (driver_area_use(s, id, "ID", err) < 0)
    return -1;
  snprintf(path, sizeof(path), "%s/%s", dir, id);
  fd = openat(s->datafd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return host->error(err, errno, "cannot open '%s/%s'", s->data_dir, path);
  ref = open_source(s, fd);
  r = host->disk_usage(fd, NULL, ref, bytes, err);
  close(fd);
  if (ref >= 0)
    close(ref);
  return r;
}

static int btrfs_container_usage(void *state, const char *id, uint64_t *bytes,
                                 struct strata_error **err) {
  return own_usage(state, "containers", id, bytes, err);
}

static void drop_leftover(struct driver_area *s, const char *dir, const char *name) {
  struct strata_error *e = NULL;
  if (remove_in(s, dir, name, &e) < 0)
    host->log(STRATA_LOG_WARNING, DOMAIN, "cannot remove leftover '%s/%s'", dir, name);
  host->error_free(e);
}

static int btrfs_recover(void *state, struct strata_error **err) {
  return driver_area_recover(state, drop_leftover, err);
}

/* Snapshots are whole trees: the core compares ID's subvolume with its
 * parent's (driver_diff_whole: a generic walk; btrfs's own send/compare is
 * not used).  A subvolume is always reachable: nothing is mounted
 * (driver_container_unmount). */
static const struct strata_storage_ops btrfs_ops = {
    .version = STRATA_STORAGE_OPS_VERSION,
    .probe = btrfs_probe,
    .recover = btrfs_recover,
    .layer_stage = btrfs_layer_stage,
    .layer_commit = btrfs_layer_commit,
    .layer_abort = driver_layer_abort,
    .layer_remove = driver_layer_remove,
    .container_create = btrfs_container_create,
    .container_mount = driver_container_mount,
    .container_unmount = driver_container_unmount,
    .diff_dirs = driver_diff_whole,
    .container_remove = driver_container_remove,
    .container_usage = btrfs_container_usage,
};

static const struct strata_plugin_info btrfs_info = {
    STRATA_PLUGIN_INFO_INIT(STRATA_PLUGIN_STORAGE, "btrfs", PACKAGE_VERSION,
                            "a btrfs subvolume per layer, snapshots for children and containers",
                            "Apache-2.0"),
    .init = btrfs_init,
    .fini = driver_area_free,
    .ops = &btrfs_ops,
};

STRATA_PLUGIN_DEFINE(btrfs_info)
