#include "config.h"
#include "safe-path.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"

static int sys_openat2(int dirfd, const char *path, int flags, mode_t mode, uint64_t resolve) {
  struct open_how how = {.flags = (uint64_t)flags, .mode = (uint64_t)mode, .resolve = resolve};
  int fd;
  /* openat2 refuses a mode without O_CREAT/O_TMPFILE */
  if (!(flags & (O_CREAT | __O_TMPFILE)))
    how.mode = 0;
  int tries = 0;
  do
    fd = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
  while (fd < 0 && errno == EINTR && ++tries < 64);
  return fd;
}

/* The same resolution as openat2(RESOLVE_IN_ROOT), done one component at a
 * time from fds: ".." never climbs above ROOTFD, an absolute symlink starts
 * again at ROOTFD, and every open is O_NOFOLLOW relative to a directory
 * already reached.  openat2 answers EAGAIN to any ".." walked while a rename
 * or mount happened anywhere on the system, and always for some ".." on
 * overlayfs (a staging mount), so this walk is its fallback.
 * NOFOLLOW_ALL fails with ELOOP on any symlink. */
#define WALK_MAX_DEPTH 4096
#define WALK_MAX_LINKS 40

struct walk {
  int *fds; /* fds[0] is the root (not ours); fds[1..n-1] are ours */
  size_t n, cap;
  char *queue; /* the components still to walk, '/'-separated */
};

static void walk_free(struct walk *w) {
  for (size_t i = 1; i < w->n; i++)
    close(w->fds[i]);
  free(w->fds);
  free(w->queue);
}

static int walk_push(struct walk *w, int fd) {
  if (w->n == w->cap) {
    size_t cap = w->cap ? w->cap * 2 : 32;
    int *n = cap > WALK_MAX_DEPTH ? NULL : reallocarray(w->fds, cap, sizeof(*n));
    if (n == NULL) {
      int e = cap > WALK_MAX_DEPTH ? ENAMETOOLONG : ENOMEM;
      if (w->n > 0) /* fds[0] is the caller's */
        close(fd);
      errno = e;
      return -1;
    }
    w->fds = n;
    w->cap = cap;
  }
  w->fds[w->n++] = fd;
  return 0;
}

/* Puts TARGET in front of what is left of the queue (REST). */
static int walk_prepend(struct walk *w, const char *target, const char *rest) {
  char *q;
  if (asprintf(&q, "%s%s%s", target, *rest ? "/" : "", rest) < 0) {
    errno = ENOMEM;
    return -1;
  }
  free(w->queue);
  w->queue = q;
  return 0;
}

static int walk_in_root(int rootfd, const char *path, int flags, mode_t mode, bool nofollow_all) {
  struct walk w = {0};
  const char *p;
  int links = 0, ret = -1, e = 0;

  if (walk_push(&w, rootfd) < 0)
    return -1;
  w.queue = strdup(path);
  if (w.queue == NULL) {
    e = ENOMEM;
    goto out;
  }
  p = w.queue;
  for (;;) {
    int top = w.fds[w.n - 1];
    char comp[NAME_MAX + 1];
    const char *end;
    size_t len;
    bool last;
    struct stat st;

    while (*p == '/')
      p++;
    if (*p == '\0') {
      /* the path ends at a directory already reached ("", ".", "a/..") */
      ret = openat(top, ".", (flags & ~(O_CREAT | O_EXCL)) | O_CLOEXEC, mode);
      e = errno;
      goto out;
    }
    end = strchr(p, '/');
    len = end ? (size_t)(end - p) : strlen(p);
    if (len > NAME_MAX) {
      e = ENAMETOOLONG;
      goto out;
    }
    memcpy(comp, p, len);
    comp[len] = '\0';
    p += len;
    while (*p == '/')
      p++;
    last = *p == '\0';
    if (strcmp(comp, ".") == 0)
      continue;
    if (strcmp(comp, "..") == 0) {
      if (w.n > 1)
        close(w.fds[--w.n]);
      continue;
    }
    if (fstatat(top, comp, &st, AT_SYMLINK_NOFOLLOW) < 0) {
      e = errno;
      goto out;
    }
    if (S_ISLNK(st.st_mode) && (!last || !(flags & O_NOFOLLOW))) {
      char target[PATH_MAX + 1];
      ssize_t n;
      if (nofollow_all || ++links > WALK_MAX_LINKS) {
        e = ELOOP;
        goto out;
      }
      n = readlinkat(top, comp, target, PATH_MAX);
      if (n < 0) {
        e = errno;
        goto out;
      }
      target[n] = '\0';
      if (target[0] == '/')
        while (w.n > 1)
          close(w.fds[--w.n]);
      if (walk_prepend(&w, target, p) < 0) {
        e = errno;
        goto out;
      }
      p = w.queue;
      continue;
    }
    if (last) {
      ret = openat(top, comp, flags | O_NOFOLLOW | O_CLOEXEC, mode);
      e = errno;
      /* O_PATH|O_NOFOLLOW of a symlink is the symlink itself */
      goto out;
    }
    if (!S_ISDIR(st.st_mode)) {
      e = ENOTDIR;
      goto out;
    }
    {
      int fd = openat(top, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0 || walk_push(&w, fd) < 0) {
        e = errno;
        goto out;
      }
    }
  }
out:
  walk_free(&w);
  if (ret < 0)
    errno = e;
  return ret;
}

/* openat2 in ROOTFD, or the walk when openat2 cannot be sure of "..". */
static int open_in_root(int rootfd, const char *path, int flags, mode_t mode, bool nofollow_all) {
  uint64_t resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  int fd;

  if (nofollow_all)
    resolve |= RESOLVE_NO_SYMLINKS;
  fd = sys_openat2(rootfd, *path ? path : ".", flags | O_CLOEXEC, mode, resolve);
  if (fd < 0 && (errno == EAGAIN || errno == ENOSYS))
    fd = walk_in_root(rootfd, path, flags, mode, nofollow_all);
  return fd;
}

int strata_open_in_root(int rootfd, const char *path, int flags, mode_t mode,
                        struct strata_error **err) {
  int fd = open_in_root(rootfd, path, flags, mode, false);
  if (fd < 0)
    return strata_error_set(err, errno, "cannot open '%s'", *path ? path : "/");
  return fd;
}

int strata_open_in_root_nofollow(int rootfd, const char *path, int flags, mode_t mode,
                                 struct strata_error **err) {
  int fd = open_in_root(rootfd, path, flags, mode, true);
  if (fd < 0)
    return strata_error_set(err, errno, "cannot open '%s'", path);
  return fd;
}

int strata_mkdir_p_at(int dirfd, const char *path, mode_t mode, struct strata_error **err) {
  cleanup_free char *copy = strdup(path);
  cleanup_free char *prefix = NULL;
  size_t plen = 0;
  int cur;

  if (copy == NULL || (prefix = calloc(1, strlen(path) + 2)) == NULL)
    return strata_error_set(err, ENOMEM, "cannot create '%s'", path);
  cur = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
  if (cur < 0)
    return strata_error_set(err, errno, "cannot create '%s'", path);
  for (char *save = NULL, *comp = strtok_r(copy, "/", &save); comp != NULL;
       comp = strtok_r(NULL, "/", &save)) {
    int next;
    /* the name itself is made in the resolved parent (mkdirat follows
     * nothing); the walk to it always starts again from the root, so
     * absolute symlinks and ".." resolve against the root, never above,
     * and a dangling symlink on the way is an error (ENOENT) */
    if (mkdirat(cur, comp, mode) < 0 && errno != EEXIST) {
      int e = errno;
      close(cur);
      return strata_error_set(err, e, "cannot create directory '%s' in '%s'", comp, path);
    }
    if (plen > 0)
      prefix[plen++] = '/';
    strcpy(prefix + plen, comp);
    plen += strlen(comp);
    next = open_in_root(dirfd, prefix, O_PATH | O_DIRECTORY, 0, false);
    if (next < 0) {
      int e = errno;
      close(cur);
      return strata_error_set(err, e, "cannot open directory '%s'", prefix);
    }
    close(cur);
    cur = next;
  }
  close(cur);
  return 0;
}

static int empty_dir(int dfd, dev_t dev, struct strata_error **err);

static int remove_entry(int dirfd, const char *name, dev_t dev, struct strata_error **err) {
  struct stat st;

  if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
    if (errno == ENOENT)
      return 0;
    return strata_error_set(err, errno, "cannot stat '%s'", name);
  }
  if (S_ISDIR(st.st_mode)) {
    cleanup_close int fd = -1;
    if (st.st_dev != dev && dev != (dev_t)-1)
      return strata_error_set(err, EXDEV, "refusing to remove '%s' on another mount", name);
    fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      /* a 0000 directory we own: make it readable, then try again */
      if (errno == EACCES && fchmodat(dirfd, name, 0700, 0) == 0)
        fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0)
        return strata_error_set(err, errno, "cannot open '%s'", name);
    }
    if (empty_dir(fd, st.st_dev, err) < 0)
      return strata_error_wrap(err, "cannot remove '%s'", name);
    if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
      return strata_error_set(err, errno, "cannot remove directory '%s'", name);
    return 0;
  }
  if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
    return strata_error_set(err, errno, "cannot remove '%s'", name);
  return 0;
}

static int empty_dir(int dfd, dev_t dev, struct strata_error **err) {
  int fd2 = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC); /* own offset */
  cleanup_dir DIR *d = NULL;
  struct dirent *de;

  if (fd2 < 0)
    return strata_error_set(err, errno, "cannot read directory");
  d = fdopendir(fd2);
  if (d == NULL) {
    int e = errno;
    close(fd2);
    return strata_error_set(err, e, "cannot read directory");
  }
  while ((errno = 0, de = readdir(d)) != NULL) {
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
      continue;
    if (remove_entry(dfd, de->d_name, dev, err) < 0)
      return -1;
  }
  if (errno != 0)
    return strata_error_set(err, errno, "cannot read directory");
  return 0;
}

int strata_remove_tree_at(int dirfd, const char *name, struct strata_error **err) {
  struct stat st;
  if (fstat(dirfd, &st) < 0)
    return strata_error_set(err, errno, "cannot stat directory holding '%s'", name);
  return remove_entry(dirfd, name, st.st_dev, err);
}

int strata_empty_dir_at(int dirfd, struct strata_error **err) {
  struct stat st;
  if (fstat(dirfd, &st) < 0)
    return strata_error_set(err, errno, "cannot stat directory");
  return empty_dir(dirfd, st.st_dev, err);
}

char *strata_clean_path(const char *path) {
  size_t n = strlen(path);
  char *out = malloc(n + 1);
  size_t len = 0;
  const char *p = path;

  if (out == NULL)
    return NULL;
  while (*p) {
    const char *start, *end;
    size_t clen;
    while (*p == '/')
      p++;
    if (!*p)
      break;
    start = p;
    end = strchr(p, '/');
    if (end == NULL)
      end = p + strlen(p);
    clen = (size_t)(end - start);
    p = end;
    if (clen == 1 && start[0] == '.')
      continue;
    if (clen == 2 && start[0] == '.' && start[1] == '.') {
      char *slash;
      if (len == 0) {
        free(out);
        errno = EINVAL;
        return NULL;
      }
      out[len] = '\0';
      slash = strrchr(out, '/');
      len = slash ? (size_t)(slash - out) : 0;
      continue;
    }
    if (len > 0)
      out[len++] = '/';
    memcpy(out + len, start, clen);
    len += clen;
  }
  out[len] = '\0';
  return out;
}

int strata_write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t w = write(fd, p, len);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    p += w;
    len -= (size_t)w;
  }
  return 0;
}
