/* storage driver "copy": every layer and every container is a full tree.
 *
 *   DATA/layers/ID/        committed layers (immutable)
 *   DATA/staging/ID/       a layer being written (the parent's tree copied in)
 *   DATA/containers/ID/rootfs
 *   DATA/containers/ID.new/ a container being made
 *
 * Works on any file system.  Whiteouts are applied in place on the copy of
 * the parent.  Files are cloned with FICLONE where the file system can, and
 * copied with copy_file_range otherwise. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdbool.h>
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

/* hard links met while copying: (dev, ino) of the source -> path in the copy */
struct link_entry {
  dev_t dev;
  ino_t ino;
  char *path;
};
struct copy_job {
  struct link_entry *links;
  size_t nlinks, cap;
  bool try_clone;
};

static int copy_init(const struct strata_host *h, const struct strata_plugin_context *ctx,
                     void **state, struct strata_error **err) {
  struct copy_state *s = calloc(1, sizeof(*s));
  host = h;
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

static int copy_data(int in, int out, off_t size, struct copy_job *job) {
  off_t done = 0;
  if (job->try_clone && size > 0) {
    if (ioctl(out, FICLONE, in) == 0)
      return 0;
    if (errno == EOPNOTSUPP || errno == EXDEV || errno == EINVAL || errno == ENOTTY)
      job->try_clone = false; /* no reflinks here: stop asking */
  }
  while (done < size) {
    ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t)(size - done), 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == ENOSYS || errno == EXDEV || errno == EINVAL || errno == EOPNOTSUPP)) {
      char buf[65536];
      for (;;) {
        ssize_t r = read(in, buf, sizeof(buf));
        if (r < 0 && errno == EINTR)
          continue;
        if (r < 0)
          return -1;
        if (r == 0)
          return 0;
        for (ssize_t w = 0; w < r;) {
          ssize_t k = write(out, buf + w, (size_t)(r - w));
          if (k < 0 && errno == EINTR)
            continue;
          if (k < 0)
            return -1;
          w += k;
        }
      }
    }
    if (n < 0)
      return -1;
    if (n == 0)
      break;
    done += n;
  }
  return 0;
}

static void copy_xattrs_fd(int in, int out) {
  char list[8192], val[65536];
  ssize_t n = flistxattr(in, list, sizeof(list));
  for (ssize_t off = 0; n > 0 && off < n; off += (ssize_t)strlen(list + off) + 1) {
    ssize_t vl = fgetxattr(in, list + off, val, sizeof(val));
    if (vl >= 0 && fsetxattr(out, list + off, val, (size_t)vl, 0) < 0)
      host->log(STRATA_LOG_DEBUG, DOMAIN, "cannot copy xattr %s: %s", list + off, strerror(errno));
  }
}

/* xattrs, owner, mode and times of IN onto OUT.  chown comes before chmod:
 * it clears setuid/setgid, which chmod then restores. */
static int copy_metadata_fd(int in, int out, const struct stat *st, const char *what,
                            struct strata_error **err) {
  struct timespec times[2] = {st->st_atim, st->st_mtim};
  copy_xattrs_fd(in, out);
  if (fchown(out, st->st_uid, st->st_gid) < 0 || fchmod(out, st->st_mode & 07777) < 0 ||
      futimens(out, times) < 0)
    return host->error(err, errno, "cannot set metadata of '%s'", what);
  return 0;
}

static const char *link_find(struct copy_job *job, const struct stat *st) {
  for (size_t i = 0; i < job->nlinks; i++)
    if (job->links[i].dev == st->st_dev && job->links[i].ino == st->st_ino)
      return job->links[i].path;
  return NULL;
}

static void link_add(struct copy_job *job, const struct stat *st, const char *path) {
  if (job->nlinks == job->cap) {
    size_t cap = job->cap ? job->cap * 2 : 64;
    struct link_entry *n = realloc(job->links, cap * sizeof(*n));
    if (n == NULL)
      return;
    job->links = n;
    job->cap = cap;
  }
  job->links[job->nlinks++] = (struct link_entry){st->st_dev, st->st_ino, strdup(path)};
}

static int copy_tree(int srcdir, int dstdir, int dstroot, const char *relpath, struct copy_job *job,
                     struct strata_error **err);

/* Copies entry NAME of SRCDIR into DSTDIR, RELPATH being its path in the copy. */
static int copy_entry(int srcdir, int dstdir, int dstroot, const char *name, const char *relpath,
                      struct copy_job *job, struct strata_error **err) {
  struct stat st;
  struct timespec times[2];

  if (fstatat(srcdir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return host->error(err, errno, "cannot stat '%s'", relpath);
  times[0] = st.st_atim;
  times[1] = st.st_mtim;
  if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
    const char *first = link_find(job, &st);
    if (first != NULL) {
      if (linkat(dstroot, first, dstdir, name, 0) < 0)
        return host->error(err, errno, "cannot link '%s' to '%s'", relpath, first);
      return 0;
    }
    link_add(job, &st, relpath);
  }
  if (S_ISDIR(st.st_mode)) {
    int in, out, r;
    if (mkdirat(dstdir, name, 0700) < 0)
      return host->error(err, errno, "cannot create '%s'", relpath);
    in = openat(srcdir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    out = openat(dstdir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (in < 0 || out < 0) {
      int e = errno;
      if (in >= 0)
        close(in);
      if (out >= 0)
        close(out);
      return host->error(err, e, "cannot open '%s'", relpath);
    }
    r = copy_tree(in, out, dstroot, relpath, job, err);
    if (r == 0)
      r = copy_metadata_fd(in, out, &st, relpath, err);
    close(in);
    close(out);
    return r;
  }
  if (S_ISREG(st.st_mode)) {
    int in = openat(srcdir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    int out = in < 0 ? -1
                     : openat(dstdir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                              0600);
    int r = 0;
    if (in < 0 || out < 0) {
      int e = errno;
      if (in >= 0)
        close(in);
      return host->error(err, e, "cannot copy '%s'", relpath);
    }
    if (copy_data(in, out, st.st_size, job) < 0)
      r = host->error(err, errno, "cannot copy '%s'", relpath);
    if (r == 0)
      r = copy_metadata_fd(in, out, &st, relpath, err);
    close(in);
    close(out);
    return r;
  }
  if (S_ISLNK(st.st_mode)) {
    char target[PATH_MAX + 1];
    ssize_t n = readlinkat(srcdir, name, target, PATH_MAX);
    if (n < 0)
      return host->error(err, errno, "cannot read link '%s'", relpath);
    target[n] = '\0';
    if (symlinkat(target, dstdir, name) < 0)
      return host->error(err, errno, "cannot create link '%s'", relpath);
    if (fchownat(dstdir, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0 ||
        utimensat(dstdir, name, times, AT_SYMLINK_NOFOLLOW) < 0)
      return host->error(err, errno, "cannot set metadata of '%s'", relpath);
    return 0;
  }
  /* devices, FIFOs, sockets (overlay-style whiteouts never get here) */
  if (mknodat(dstdir, name, st.st_mode, st.st_rdev) < 0)
    return host->error(err, errno, "cannot create node '%s'", relpath);
  if (fchownat(dstdir, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0 ||
      fchmodat(dstdir, name, st.st_mode & 07777, 0) < 0 ||
      utimensat(dstdir, name, times, AT_SYMLINK_NOFOLLOW) < 0)
    return host->error(err, errno, "cannot set metadata of '%s'", relpath);
  return 0;
}

static int copy_tree(int srcdir, int dstdir, int dstroot, const char *relpath, struct copy_job *job,
                     struct strata_error **err) {
  int fd = fcntl(srcdir, F_DUPFD_CLOEXEC, 3);
  DIR *d;
  struct dirent *de;
  int r = 0;

  if (fd < 0)
    return host->error(err, errno, "cannot read '%s'", relpath);
  d = fdopendir(fd);
  if (d == NULL) {
    close(fd);
    return host->error(err, errno, "cannot read '%s'", relpath);
  }
  while (r == 0 && (de = readdir(d)) != NULL) {
    char *child = NULL;
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
      continue;
    if (asprintf(&child, "%s%s%s", relpath, *relpath ? "/" : "", de->d_name) < 0)
      r = host->error(err, ENOMEM, "cannot copy");
    else
      r = copy_entry(srcdir, dstdir, dstroot, de->d_name, child, job, err);
    free(child);
  }
  closedir(d);
  return r;
}

/* Copies the tree SRC (relative to the data dir) into the existing DST. */
static int copy_whole(struct copy_state *s, const char *src, int dstfd, struct strata_error **err) {
  struct copy_job job = {.try_clone = true};
  int in = openat(s->datafd, src, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  struct stat st;
  int r;

  if (in < 0)
    return host->error(err, errno, "cannot open '%s/%s'", s->data_dir, src);
  r = copy_tree(in, dstfd, dstfd, "", &job, err);
  if (r == 0 && fstat(in, &st) == 0)
    r = copy_metadata_fd(in, dstfd, &st, src, err);
  for (size_t i = 0; i < job.nlinks; i++)
    free(job.links[i].path);
  free(job.links);
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
    if (copy_whole(s, ppath, fd, err) < 0) {
      struct strata_error *e2 = NULL;
      close(fd);
      remove_in(s, "staging", id, &e2);
      host->error_free(e2);
      return host->error_wrap(err, "cannot copy parent layer");
    }
  }
  stage->dirfd = fd;
  stage->whiteout_mode = STRATA_WHITEOUT_IN_PLACE;
  return 0;
}

static int copy_layer_commit(void *state, const char *id, struct strata_layer_stage *stage,
                             struct strata_error **err) {
  struct copy_state *s = state;
  char from[256], to[256];
  if (stage->dirfd >= 0) {
    syncfs(stage->dirfd);
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
  if (fd < 0 || copy_whole(s, lpath, fd, err) < 0) {
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
