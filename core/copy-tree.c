#include "config.h"
#include "copy-tree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cleanup.h"
#include "node-set.h"
#include "safe-path.h"

/* A few threads walk the tree at once, each taking a directory from a
 * shared stack and doing all the work of its entries itself: a tree of
 * small files is bound by the system calls per file (create, copy, owner,
 * mode, xattrs, times) far more than by bytes, and handing each file to
 * another thread cost a wake-up per file.  A directory waiting on the stack
 * is its path, not an open fd, so any depth and width fits the fd limit;
 * it is opened again beneath the roots, never through a symlink.
 * Directory times are set last, once nothing more is made inside. */

#define MAX_THREADS 4

/* a directory still to copy: its path below both roots, and the group an
 * inode made in its copy is born with */
struct dir_job {
  char *rel;
  gid_t gid;
};

/* a directory's times, set once nothing more is made inside it */
struct dir_meta {
  struct timespec ts[2];
  char *rel;
};

struct copier {
  unsigned flags;
  int srcroot, dstroot;
  uid_t uid;    /* who a new inode is born to */
  gid_t gid;    /* ... in a directory without setgid */
  bool measure; /* disk is wanted */
  bool try_clone;
  uint64_t disk; /* what the new inodes took (atomic) */
  pthread_mutex_t lock;
  pthread_cond_t cond;
  /* under lock */
  struct dir_job *stack;
  size_t nstack, stack_cap;
  size_t busy; /* threads inside a directory */
  struct dir_meta *dirs;
  size_t ndirs, dirs_cap;
  struct node_set links; /* inodes with several names: the first copy's path,
                          * NULL while that copy is being made */
  struct strata_error *err; /* the first error */
};

/* flags of our own, beside the host's STRATA_COPY_* */
#define COPY_LINK_FILES 0x100u /* strata_link_tree */

static bool failed(struct copier *c) {
  bool f;
  pthread_mutex_lock(&c->lock);
  f = c->err != NULL;
  pthread_mutex_unlock(&c->lock);
  return f;
}

static int fail(struct copier *c, int errnum, const char *fmt, const char *rel) {
  pthread_mutex_lock(&c->lock);
  if (c->err == NULL)
    strata_error_set(&c->err, errnum, fmt, *rel ? rel : "/");
  pthread_cond_broadcast(&c->cond);
  pthread_mutex_unlock(&c->lock);
  return -1;
}

static void copy_xattrs(struct copier *c, int in, int out) {
  char list[16384];
  ssize_t n = flistxattr(in, list, sizeof(list));
  for (ssize_t off = 0; n > 0 && off < n; off += (ssize_t)strlen(list + off) + 1) {
    const char *x = list + off;
    char val[65536];
    ssize_t vl;
    if ((c->flags & STRATA_COPY_DROP_OVERLAY_XATTRS) && strncmp(x, "trusted.overlay.", 16) == 0)
      continue;
    vl = fgetxattr(in, x, val, sizeof(val));
    if (vl >= 0)
      fsetxattr(out, x, val, (size_t)vl, 0); /* best effort: the target may not take it */
  }
}

/* The group a new inode gets in a directory whose mode and group are
 * DMODE and DGID. */
static gid_t born_gid(const struct copier *c, mode_t dmode, gid_t dgid) {
  return (dmode & S_ISGID) ? dgid : c->gid;
}

/* chown before chmod: chown clears setuid/setgid (and file capabilities,
 * so the xattrs come after it too).  NEED_CHOWN: the new inode was not born
 * with the owner it needs (most of an image is root's, like the copier). */
static int copy_meta_fd(struct copier *c, int in, int out, const struct stat *st,
                        bool need_chown) {
  struct timespec ts[2] = {st->st_atim, st->st_mtim};
  if ((need_chown && fchown(out, st->st_uid, st->st_gid) < 0) ||
      fchmod(out, st->st_mode & 07777) < 0)
    return -1;
  copy_xattrs(c, in, out);
  return S_ISDIR(st->st_mode) ? 0 : futimens(out, ts);
}

static int copy_range(int in, int out, off_t off, off_t end) {
  while (off < end) {
    loff_t a = off, b = off;
    ssize_t n = copy_file_range(in, &a, out, &b, (size_t)(end - off), 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == ENOSYS || errno == EXDEV || errno == EINVAL || errno == EOPNOTSUPP)) {
      char buf[65536];
      while (off < end) {
        size_t want = (size_t)(end - off) < sizeof(buf) ? (size_t)(end - off) : sizeof(buf);
        ssize_t r = pread(in, buf, want, off);
        if (r < 0 && errno == EINTR)
          continue;
        if (r <= 0)
          return r < 0 ? -1 : 0;
        for (ssize_t w = 0; w < r;) {
          ssize_t k = pwrite(out, buf + w, (size_t)(r - w), off + w);
          if (k < 0 && errno == EINTR)
            continue;
          if (k < 0)
            return -1;
          w += k;
        }
        off += r;
      }
      return 0;
    }
    if (n < 0)
      return -1;
    if (n == 0)
      return 0; /* the file shrank under us */
    off += n;
  }
  return 0;
}

/* A clone when the file system shares extents; otherwise only the data
 * segments are copied (SEEK_DATA/SEEK_HOLE), so a sparse file stays sparse:
 * a layer may hold a terabyte of hole. */
static int copy_data(struct copier *c, int in, int out, const struct stat *st) {
  off_t off = 0, size = st->st_size;
  if (size == 0)
    return 0;
  if (__atomic_load_n(&c->try_clone, __ATOMIC_RELAXED)) {
    if (ioctl(out, FICLONE, in) == 0)
      return 0;
    if (errno == EOPNOTSUPP || errno == EXDEV || errno == EINVAL || errno == ENOTTY ||
        errno == ENOSYS)
      __atomic_store_n(&c->try_clone, false, __ATOMIC_RELAXED);
  }
  /* as many blocks as bytes: no hole to keep, nothing to seek for */
  if ((off_t)st->st_blocks * 512 >= size)
    return copy_range(in, out, 0, size);
  while (off < size) {
    off_t data = lseek(in, off, SEEK_DATA), hole;
    if (data < 0) {
      if (errno == ENXIO)
        break; /* only a hole is left */
      if (errno != EINVAL && errno != EOPNOTSUPP)
        return -1;
      data = off; /* no SEEK_DATA here: all of it is data */
      hole = size;
    } else {
      hole = lseek(in, data, SEEK_HOLE);
      if (hole < 0)
        hole = size;
    }
    if (hole > size)
      hole = size;
    if (copy_range(in, out, data, hole) < 0)
      return -1;
    off = hole;
  }
  return ftruncate(out, size);
}

/* Adds what the inode made (FD, or NAME below the directory FD) takes. */
static void count_disk(struct copier *c, int fd, const char *name) {
  struct stat st;
  if ((name ? fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) : fstat(fd, &st)) == 0)
    __atomic_add_fetch(&c->disk, (uint64_t)st.st_blocks * 512, __ATOMIC_RELAXED);
}

/* Grows *ARR (of *CAP elements of SIZE bytes) to hold one more. */
static bool grow(void **arr, size_t *cap, size_t len, size_t size) {
  void *n;
  if (len < *cap)
    return true;
  n = reallocarray(*arr, *cap ? *cap * 2 : 64, size);
  if (n == NULL)
    return false;
  *arr = n;
  *cap = *cap ? *cap * 2 : 64;
  return true;
}

static int push_dir(struct copier *c, const char *rel, gid_t gid) {
  char *copy = strdup(rel);
  pthread_mutex_lock(&c->lock);
  if (copy == NULL ||
      !grow((void **)&c->stack, &c->stack_cap, c->nstack, sizeof(*c->stack))) {
    pthread_mutex_unlock(&c->lock);
    free(copy);
    return fail(c, ENOMEM, "cannot copy '%s'", rel);
  }
  c->stack[c->nstack++] = (struct dir_job){copy, gid};
  pthread_cond_signal(&c->cond);
  pthread_mutex_unlock(&c->lock);
  return 0;
}

static int note_dir_times(struct copier *c, const char *rel, const struct stat *st) {
  char *copy = strdup(rel);
  pthread_mutex_lock(&c->lock);
  if (copy == NULL || !grow((void **)&c->dirs, &c->dirs_cap, c->ndirs, sizeof(*c->dirs))) {
    pthread_mutex_unlock(&c->lock);
    free(copy);
    return fail(c, ENOMEM, "cannot copy '%s'", rel);
  }
  c->dirs[c->ndirs++] = (struct dir_meta){.ts = {st->st_atim, st->st_mtim}, .rel = copy};
  pthread_mutex_unlock(&c->lock);
  return 0;
}

/* For an inode with several names: 1 when NAME was made as a link to the
 * copy an earlier name got, 0 when this name is the first (the caller makes
 * the copy, then calls link_made), -1 on error. */
static int link_earlier(struct copier *c, const struct stat *st, int dst, const char *name,
                        const char *rel) {
  struct node *n;
  bool added;
  int r = 0;

  pthread_mutex_lock(&c->lock);
  n = node_set_add(&c->links, st->st_dev, st->st_ino, NULL, &added);
  if (n != NULL && !added) {
    /* another thread may still be making the first copy */
    while (n->value == NULL && c->err == NULL) {
      pthread_cond_wait(&c->cond, &c->lock);
      n = node_set_find(&c->links, st->st_dev, st->st_ino, NULL);
    }
    r = c->err != NULL ? -1 : linkat(c->dstroot, n->value, dst, name, 0) < 0 ? -2 : 1;
  }
  pthread_mutex_unlock(&c->lock);
  if (n == NULL)
    return fail(c, ENOMEM, "cannot copy '%s'", rel);
  if (r == -2)
    return fail(c, errno, "cannot link '%s'", rel);
  return r;
}

static void link_made(struct copier *c, const struct stat *st, const char *rel) {
  struct node *n;
  pthread_mutex_lock(&c->lock);
  n = node_set_find(&c->links, st->st_dev, st->st_ino, NULL);
  if (n != NULL && n->value == NULL && (n->value = strdup(rel)) == NULL && c->err == NULL)
    strata_error_set(&c->err, ENOMEM, "cannot copy '%s'", rel);
  pthread_cond_broadcast(&c->cond);
  pthread_mutex_unlock(&c->lock);
}

static int copy_file(struct copier *c, int src, int dst, const char *name, const char *rel,
                     const struct stat *st, bool need_chown) {
  int in = openat(src, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), out, r = 0;
  if (in < 0)
    return fail(c, errno, "cannot open '%s'", rel);
  out = openat(dst, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (out < 0) {
    int e = errno;
    close(in);
    return fail(c, e, "cannot create '%s'", rel);
  }
  if (copy_data(c, in, out, st) < 0)
    r = fail(c, errno, "cannot copy '%s'", rel);
  else if (copy_meta_fd(c, in, out, st, need_chown) < 0)
    r = fail(c, errno, "cannot set metadata of '%s'", rel);
  else if (c->measure)
    count_disk(c, out, NULL);
  close(in);
  close(out);
  return r;
}

/* Copies entry NAME of the directory SRC into DST; GID: the group an inode
 * made in DST is born with.  A subdirectory is made here and its contents
 * left on the stack. */
static int copy_entry(struct copier *c, int src, int dst, gid_t gid, const char *name,
                      const char *rel) {
  struct stat st;
  struct timespec ts[2];
  bool need_chown, shared;
  int r;

  if (fstatat(src, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return fail(c, errno, "cannot stat '%s'", rel);
  need_chown = st.st_uid != c->uid || st.st_gid != gid;
  ts[0] = st.st_atim;
  ts[1] = st.st_mtim;
  if ((c->flags & COPY_LINK_FILES) && !S_ISDIR(st.st_mode)) {
    if (linkat(src, name, dst, name, 0) == 0)
      return 0;
    if (errno != EMLINK && errno != EPERM)
      return fail(c, errno, "cannot link '%s'", rel);
    /* as many names as the file system allows (or, in a user namespace,
     * an owner we may not link for): this name gets a copy of its own,
     * which the inode's further names then share */
  }
  shared = !S_ISDIR(st.st_mode) && st.st_nlink > 1;
  if (shared && (r = link_earlier(c, &st, dst, name, rel)) != 0)
    return r < 0 ? -1 : 0;
  if (S_ISDIR(st.st_mode)) {
    int in, out;
    if (mkdirat(dst, name, 0700) < 0)
      return fail(c, errno, "cannot create '%s'", rel);
    in = openat(src, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    out = in < 0 ? -1 : openat(dst, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (in < 0 || out < 0) {
      int e = errno;
      if (in >= 0)
        close(in);
      return fail(c, e, "cannot open '%s'", rel);
    }
    if (c->measure)
      count_disk(c, out, NULL);
    r = copy_meta_fd(c, in, out, &st, need_chown);
    close(in);
    close(out);
    if (r < 0)
      return fail(c, errno, "cannot set metadata of '%s'", rel);
    if (note_dir_times(c, rel, &st) < 0)
      return -1;
    return push_dir(c, rel, born_gid(c, st.st_mode, st.st_gid));
  }
  if (S_ISREG(st.st_mode)) {
    r = copy_file(c, src, dst, name, rel, &st, need_chown);
  } else if (S_ISLNK(st.st_mode)) {
    char target[PATH_MAX + 1];
    ssize_t n = readlinkat(src, name, target, PATH_MAX);
    if (n < 0)
      return fail(c, errno, "cannot read link '%s'", rel);
    target[n] = '\0';
    if (symlinkat(target, dst, name) < 0 ||
        (need_chown && fchownat(dst, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0) ||
        utimensat(dst, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
      return fail(c, errno, "cannot create link '%s'", rel);
    if (c->measure)
      count_disk(c, dst, name);
    r = 0;
  } else if (mknodat(dst, name, st.st_mode, st.st_rdev) < 0 ||
             (need_chown && fchownat(dst, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0) ||
             fchmodat(dst, name, st.st_mode & 07777, 0) < 0 ||
             utimensat(dst, name, ts, AT_SYMLINK_NOFOLLOW) < 0) {
    /* devices, FIFOs, sockets: the name was just made, so fchmodat (which
     * follows) reaches the node itself */
    return fail(c, errno, "cannot create node '%s'", rel);
  } else {
    r = 0;
  }
  if (shared)
    link_made(c, &st, rel); /* further names may now link to it */
  return r;
}

/* Opens directory REL below ROOT (the root itself for ""), never through a
 * symlink: every name on the way is one this copy made or read as a
 * directory. */
static int open_below(int root, const char *rel) {
  struct strata_error *e = NULL;
  int fd;
  if (*rel == '\0')
    return fcntl(root, F_DUPFD_CLOEXEC, 3);
  fd = strata_open_in_root_nofollow(root, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, &e);
  if (fd < 0) {
    errno = e && e->errnum ? e->errnum : EIO;
    strata_error_free(e);
  }
  return fd;
}

static int copy_dir(struct copier *c, const struct dir_job *job) {
  int src = open_below(c->srcroot, job->rel), dst, fd;
  cleanup_dir DIR *d = NULL;
  struct dirent *de;
  int r = 0;

  dst = src < 0 ? -1 : open_below(c->dstroot, job->rel);
  fd = dst < 0 ? -1 : openat(src, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || (d = fdopendir(fd)) == NULL) {
    int e = errno;
    if (fd >= 0)
      close(fd);
    if (src >= 0)
      close(src);
    if (dst >= 0)
      close(dst);
    return fail(c, e, "cannot read '%s'", job->rel);
  }
  while (r == 0 && (errno = 0, de = readdir(d)) != NULL) {
    char *child;
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
      continue;
    if (failed(c)) {
      r = -1;
      break;
    }
    if (asprintf(&child, "%s%s%s", job->rel, *job->rel ? "/" : "", de->d_name) < 0) {
      r = fail(c, ENOMEM, "cannot copy '%s'", job->rel);
      break;
    }
    r = copy_entry(c, src, dst, job->gid, de->d_name, child);
    free(child);
  }
  if (r == 0 && errno != 0)
    r = fail(c, errno, "cannot read '%s'", job->rel);
  close(src);
  close(dst);
  return r;
}

static void *walker(void *arg) {
  struct copier *c = arg;
  pthread_mutex_lock(&c->lock);
  for (;;) {
    struct dir_job job;
    while (c->nstack == 0 && c->busy > 0 && c->err == NULL)
      pthread_cond_wait(&c->cond, &c->lock);
    if (c->err != NULL || c->nstack == 0)
      break; /* failed, or nothing queued and nobody left to queue more */
    job = c->stack[--c->nstack];
    c->busy++;
    pthread_mutex_unlock(&c->lock);
    copy_dir(c, &job);
    free(job.rel);
    pthread_mutex_lock(&c->lock);
    c->busy--;
    if (c->busy == 0 && c->nstack == 0)
      pthread_cond_broadcast(&c->cond);
  }
  pthread_cond_broadcast(&c->cond);
  pthread_mutex_unlock(&c->lock);
  return NULL;
}

static int copy_tree(int srcfd, int dstfd, unsigned flags, uint64_t *disk,
                     struct strata_error **err) {
  struct copier c = {.flags = flags,
                     .srcroot = srcfd,
                     .dstroot = dstfd,
                     .try_clone = true,
                     .uid = geteuid(),
                     .gid = getegid(),
                     .measure = disk != NULL};
  pthread_t threads[MAX_THREADS];
  size_t nthreads = 0;
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  size_t want = cpus > 1 ? (size_t)cpus : 1;
  struct stat st;

  if (want > MAX_THREADS)
    want = MAX_THREADS;
  pthread_mutex_init(&c.lock, NULL);
  pthread_cond_init(&c.cond, NULL);
  if (fstat(dstfd, &st) < 0)
    fail(&c, errno, "cannot stat '%s'", "");
  else
    push_dir(&c, "", born_gid(&c, st.st_mode, st.st_gid));
  /* this thread walks too */
  while (nthreads + 1 < want && pthread_create(&threads[nthreads], NULL, walker, &c) == 0)
    nthreads++;
  walker(&c);
  for (size_t i = 0; i < nthreads; i++)
    pthread_join(threads[i], NULL);

  for (size_t i = 0; i < c.nstack; i++) /* left by a failure */
    free(c.stack[i].rel);
  for (size_t i = 0; i < c.ndirs; i++) {
    struct dir_meta *m = &c.dirs[i];
    if (c.err == NULL && utimensat(dstfd, m->rel, m->ts, AT_SYMLINK_NOFOLLOW) < 0)
      fail(&c, errno, "cannot set the times of '%s'", m->rel);
    free(m->rel);
  }
  if (c.err == NULL && fstat(srcfd, &st) == 0 && copy_meta_fd(&c, srcfd, dstfd, &st, true) == 0) {
    struct timespec ts[2] = {st.st_atim, st.st_mtim};
    if (futimens(dstfd, ts) < 0)
      fail(&c, errno, "cannot set the times of '%s'", "/");
  } else if (c.err == NULL)
    fail(&c, errno, "cannot set metadata of '%s'", "/");
  node_set_free(&c.links);
  free(c.stack);
  free(c.dirs);
  pthread_cond_destroy(&c.cond);
  pthread_mutex_destroy(&c.lock);
  if (c.err != NULL) {
    if (err != NULL) {
      strata_error_free(*err);
      *err = c.err;
    } else
      strata_error_free(c.err);
    return -1;
  }
  if (disk != NULL)
    *disk = c.disk;
  return 0;
}

int strata_copy_tree(int srcfd, int dstfd, unsigned flags, struct strata_error **err) {
  return copy_tree(srcfd, dstfd, flags & ~COPY_LINK_FILES, NULL, err);
}

int strata_link_tree(int srcfd, int dstfd, uint64_t *bytes, struct strata_error **err) {
  return copy_tree(srcfd, dstfd, COPY_LINK_FILES, bytes, err);
}

/* ------------------------------------------------------------------ disk usage */

struct usage_walk {
  dev_t dev;
  uint64_t bytes;
  struct node_set seen; /* inodes with more than one link, counted once */
};

/* false the first time (and when out of memory: counted twice then) */
static bool seen_before(struct usage_walk *u, const struct stat *st) {
  bool added;
  return node_set_add(&u->seen, st->st_dev, st->st_ino, NULL, &added) != NULL && !added;
}

/* Opens directory NAME below AT for a walk that only reads: without
 * touching its atime (a snapshot's directories would each be copied on
 * write just to note the read), when the kernel lets us. */
static int open_dir_noatime(int at, const char *name) {
  int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
  if (fd < 0 && errno == EPERM)
    fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  return fd;
}

/* REF: the same directory in the reference tree, or -1. */
static int usage_dir(struct usage_walk *u, int dfd, int ref, struct strata_error **err) {
  int fd = open_dir_noatime(dfd, ".");
  cleanup_dir DIR *d = NULL;
  struct dirent *de;

  if (fd < 0 || (d = fdopendir(fd)) == NULL) {
    int e = errno;
    if (fd >= 0)
      close(fd);
    return strata_error_set(err, e, "cannot read a directory to measure it");
  }
  while ((errno = 0, de = readdir(d)) != NULL) {
    struct stat st, rst;
    bool shared, ref_ok;
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
      continue;
    if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
      if (errno == ENOENT)
        continue;
      return strata_error_set(err, errno, "cannot stat '%s'", de->d_name);
    }
    if (st.st_dev != u->dev)
      continue; /* a mount inside: not ours to count */
    ref_ok = ref >= 0 && fstatat(ref, de->d_name, &rst, AT_SYMLINK_NOFOLLOW) == 0;
    shared = ref_ok && rst.st_ino == st.st_ino && rst.st_ctim.tv_sec == st.st_ctim.tv_sec &&
             rst.st_ctim.tv_nsec == st.st_ctim.tv_nsec && (rst.st_mode & S_IFMT) == (st.st_mode & S_IFMT);
    if (!shared && !(st.st_nlink > 1 && !S_ISDIR(st.st_mode) && seen_before(u, &st)))
      u->bytes += (uint64_t)st.st_blocks * 512;
    if (S_ISDIR(st.st_mode)) {
      int child = open_dir_noatime(dfd, de->d_name);
      int rchild = -1, r;
      if (child < 0)
        return strata_error_set(err, errno, "cannot open '%s'", de->d_name);
      if (ref_ok && S_ISDIR(rst.st_mode))
        rchild = open_dir_noatime(ref, de->d_name);
      r = usage_dir(u, child, rchild, err);
      close(child);
      if (rchild >= 0)
        close(rchild);
      if (r < 0)
        return -1;
    }
  }
  if (errno != 0)
    return strata_error_set(err, errno, "cannot read a directory to measure it");
  return 0;
}

int strata_disk_usage(int at, const char *path, int reffd, uint64_t *bytes,
                      struct strata_error **err) {
  struct usage_walk u = {0};
  struct stat st;
  cleanup_close int fd = -1;
  int dirfd = at, r;

  if (path != NULL && *path != '\0') {
    fd = open_dir_noatime(at, path);
    if (fd < 0)
      return strata_error_set(err, errno, "cannot open '%s' to measure it", path);
    dirfd = fd;
  }
  if (fstat(dirfd, &st) < 0)
    return strata_error_set(err, errno, "cannot stat a directory to measure it");
  u.dev = st.st_dev;
  u.bytes = reffd >= 0 ? 0 : (uint64_t)st.st_blocks * 512;
  r = usage_dir(&u, dirfd, reffd, err);
  node_set_free(&u.seen);
  if (r == 0)
    *bytes = u.bytes;
  return r;
}
