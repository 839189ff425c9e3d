#include "config.h"
#include "layer.h"

#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "node-set.h"
#include "safe-path.h"

#define LOG_DOMAIN "layer"

#define WHITEOUT_PREFIX ".wh."
#define WHITEOUT_META_PREFIX ".wh..wh."
#define WHITEOUT_OPAQUE ".wh..wh..opq"
#define OVERLAY_OPAQUE_XATTR "trusted.overlay.opaque"

struct dir_time {
  char *path;
  dev_t dev;
  ino_t ino;
  struct timespec ts[2];
};

struct apply_state {
  int rootfd;
  enum strata_whiteout_mode mode;
  struct strata_layer_stats *stats;
  /* Only in-place whiteouts need to tell this layer's files from the lower
   * layers' ones.  Names are keyed by their real parent directory rather
   * than by path, so an entry reached through a symlinked parent is still
   * recognised. */
  struct node_set written; /* (parent dev, parent ino, name) created or updated here */
  struct node_set fresh;   /* directories this layer created: nothing lower is inside */
  struct dir_time *times;
  size_t ntimes, times_cap;
  /* A detached stage's (struct strata_layer_deps): the directories made as
   * implied parents, keyed by inode, each with its path as value until an
   * entry of its own names it (the value is then dropped). */
  struct strata_layer_deps *deps;
  struct node_set implied;
  char *root_path; /* where ROOTFD is, to name what open_parent makes */
  bool root_explicit;
};

/* What make_room() found at the name. */
enum room { ROOM_EMPTY, ROOM_REPLACED, ROOM_KEPT_DIR };

struct entry_ctx {
  struct archive_entry *entry;
  const char *name; /* as written in the archive, for messages */
  const char *path; /* cleaned, relative to the root */
  const char *base; /* last component of path */
  int pfd;          /* O_PATH fd of the parent directory */
  struct stat pst;  /* of pfd */
};

/* S: an inode this layer just made (hardlinks and whiteouts make none
 * that take space) */
static void count_disk(struct apply_state *st, const struct stat *s) {
  if (st->stats)
    st->stats->disk += (uint64_t)s->st_blocks * 512;
}

static bool tracking(const struct apply_state *st) { return st->mode == STRATA_WHITEOUT_IN_PLACE; }

static int mark_written(struct apply_state *st, const struct entry_ctx *e,
                        struct strata_error **err) {
  bool added;
  if (tracking(st) && !node_set_add(&st->written, e->pst.st_dev, e->pst.st_ino, e->base, &added))
    return strata_error_set(err, ENOMEM, "layer entry '%s'", e->name);
  return 0;
}

static int mark_fresh(struct apply_state *st, const struct stat *dst, const char *name,
                      struct strata_error **err) {
  bool added;
  if (tracking(st) && !node_set_add(&st->fresh, dst->st_dev, dst->st_ino, NULL, &added))
    return strata_error_set(err, ENOMEM, "layer entry '%s'", name);
  return 0;
}

static bool is_fresh_dir(const struct apply_state *st, const struct stat *s) {
  return S_ISDIR(s->st_mode) && node_set_has(&st->fresh, s->st_dev, s->st_ino, NULL);
}

static void entry_times(struct archive_entry *entry, struct timespec ts[2]) {
  ts[1].tv_sec = 0;
  ts[1].tv_nsec = UTIME_OMIT;
  if (archive_entry_mtime_is_set(entry)) {
    ts[1].tv_sec = archive_entry_mtime(entry);
    ts[1].tv_nsec = archive_entry_mtime_nsec(entry);
  }
  ts[0] = ts[1];
  if (archive_entry_atime_is_set(entry)) {
    ts[0].tv_sec = archive_entry_atime(entry);
    ts[0].tv_nsec = archive_entry_atime_nsec(entry);
  }
}

static int entry_owner(const struct entry_ctx *e, uid_t *uid, gid_t *gid,
                       struct strata_error **err) {
  int64_t u = archive_entry_uid(e->entry), g = archive_entry_gid(e->entry);

  /* (uid_t)-1 would mean "leave unchanged" to chown */
  if (u < 0 || u >= (int64_t)UINT32_MAX || g < 0 || g >= (int64_t)UINT32_MAX)
    return strata_error_set(err, ERANGE, "layer entry '%s' has an invalid owner %lld:%lld", e->name,
                            (long long)u, (long long)g);
  *uid = (uid_t)u;
  *gid = (gid_t)g;
  return 0;
}

static bool skip_xattr(const char *xname) {
  /* overlayfs metadata (opaque, redirect, metacopy...) from a layer would
   * let it rewire the merged view; "user.overlay." is the same thing when
   * overlay is mounted with userxattr. */
  return strncmp(xname, "trusted.overlay.", 16) == 0 || strncmp(xname, "user.overlay.", 13) == 0 ||
         strcmp(xname, "security.selinux") == 0;
}

static int apply_xattrs(int fd, const struct entry_ctx *e, struct strata_error **err) {
  const char *xname;
  const void *value;
  size_t size;

  archive_entry_xattr_reset(e->entry);
  while (archive_entry_xattr_next(e->entry, &xname, &value, &size) == ARCHIVE_OK) {
    if (xname == NULL)
      continue;
    if (skip_xattr(xname)) {
      log_debug("layer entry '%s': dropping xattr '%s'", e->name, xname);
      continue;
    }
    if (fsetxattr(fd, xname, value, size, 0) < 0) {
      if (errno == ENOTSUP || errno == EOPNOTSUPP) {
        log_warning("layer entry '%s': xattr '%s' not supported here, skipped", e->name, xname);
        continue;
      }
      return strata_error_set(err, errno, "cannot set xattr '%s' on '%s'", xname, e->name);
    }
  }
  return 0;
}

/* Owner first: chown clears setuid/setgid and file capabilities, so the
 * mode and the xattrs must come after it. */
static int apply_fd_metadata(int fd, const struct entry_ctx *e, struct strata_error **err) {
  uid_t uid;
  gid_t gid;

  if (entry_owner(e, &uid, &gid, err) < 0)
    return -1;
  if (fchown(fd, uid, gid) < 0)
    return strata_error_set(err, errno, "cannot chown '%s' to %u:%u", e->name, (unsigned)uid,
                            (unsigned)gid);
  if (fchmod(fd, archive_entry_perm(e->entry) & 07777) < 0)
    return strata_error_set(err, errno, "cannot chmod '%s'", e->name);
  return apply_xattrs(fd, e, err);
}

static int record_dir_time(struct apply_state *st, int fd, const struct entry_ctx *e,
                           struct strata_error **err) {
  struct dir_time *t;
  struct stat s;

  if (fstat(fd, &s) < 0)
    return strata_error_set(err, errno, "cannot stat '%s'", e->name);
  if (st->ntimes == st->times_cap) {
    size_t cap = st->times_cap ? st->times_cap * 2 : 64;
    struct dir_time *n = reallocarray(st->times, cap, sizeof(*n));
    if (n == NULL)
      return strata_error_set(err, ENOMEM, "layer entry '%s'", e->name);
    st->times = n;
    st->times_cap = cap;
  }
  t = &st->times[st->ntimes];
  t->path = strdup(e->path);
  if (t->path == NULL)
    return strata_error_set(err, ENOMEM, "layer entry '%s'", e->name);
  t->dev = s.st_dev;
  t->ino = s.st_ino;
  entry_times(e->entry, t->ts);
  st->ntimes++;
  return 0;
}

/* Directory times are set last: every entry created inside a directory
 * bumps its mtime.  The path is looked up again (inside the root) and must
 * still lead to the same directory; one that a later entry replaced or
 * removed is skipped. */
static int apply_dir_times(struct apply_state *st, struct strata_error **err) {
  for (size_t i = 0; i < st->ntimes; i++) {
    struct dir_time *t = &st->times[i];
    cleanup_error struct strata_error *local = NULL;
    cleanup_close int fd = -1;
    struct stat s;

    fd = strata_open_in_root(st->rootfd, t->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0, &local);
    if (fd < 0) {
      log_debug("directory '%s' is gone, not setting its times: %s", t->path, local->msg);
      continue;
    }
    if (fstat(fd, &s) < 0)
      return strata_error_set(err, errno, "cannot stat '%s'", t->path);
    if (s.st_dev != t->dev || s.st_ino != t->ino)
      continue;
    if (futimens(fd, t->ts) < 0)
      return strata_error_set(err, errno, "cannot set times of '%s'", t->path);
  }
  return 0;
}

/* The path of directory FD relative to the root, or NULL when it cannot
 * be told (or is not under the root). */
static char *path_in_root(struct apply_state *st, int fd) {
  char proc[64], buf[PATH_MAX];
  size_t rl;
  ssize_t n;

  if (st->root_path == NULL) {
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", st->rootfd);
    n = readlink(proc, buf, sizeof(buf) - 1);
    if (n <= 0)
      return NULL;
    buf[n] = '\0';
    st->root_path = strdup(buf);
    if (st->root_path == NULL)
      return NULL;
  }
  snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
  n = readlink(proc, buf, sizeof(buf) - 1);
  if (n <= 0)
    return NULL;
  buf[n] = '\0';
  rl = strlen(st->root_path);
  if (strcmp(st->root_path, "/") == 0)
    rl = 0;
  if (strncmp(buf, st->root_path, rl) != 0 || (buf[rl] != '/' && buf[rl] != '\0'))
    return NULL;
  return strdup(buf + rl + (buf[rl] == '/'));
}

/* Directory S (open as FD) was made as an implied parent: in a detached
 * stage it stands for whatever the parent's tree has there. */
static int note_implied(struct apply_state *st, int fd, const struct stat *s, const char *name,
                        struct strata_error **err) {
  struct node *n;
  bool added;

  if (st->deps == NULL)
    return 0;
  n = node_set_add(&st->implied, s->st_dev, s->st_ino, NULL, &added);
  if (n == NULL)
    return strata_error_set(err, ENOMEM, "layer entry '%s'", name);
  if (added) {
    n->value = path_in_root(st, fd);
    /* nowhere to settle it: only the parent's tree can place it */
    if (n->value == NULL)
      st->deps->needs_parent = true;
  }
  return 0;
}

/* Directory S got an entry of its own: its attributes are the layer's. */
static void note_explicit(struct apply_state *st, const struct stat *s) {
  struct node *n;
  if (st->deps == NULL)
    return;
  n = node_set_find(&st->implied, s->st_dev, s->st_ino, NULL);
  if (n != NULL) {
    free(n->value);
    n->value = NULL;
  }
}

/* Hands what a detached stage depends on to st->deps. */
static int collect_deps(struct apply_state *st, struct strata_error **err) {
  struct strata_layer_deps *d = st->deps;
  size_t n = st->root_explicit ? 0 : 1;

  for (size_t i = 0; i < st->implied.cap; i++)
    if (st->implied.slots[i].used && st->implied.slots[i].value != NULL)
      n++;
  d->implied = calloc(n + 1, sizeof(*d->implied));
  if (d->implied == NULL)
    return strata_error_set(err, ENOMEM, "cannot read layer");
  if (!st->root_explicit && (d->implied[d->nimplied++] = strdup("")) == NULL)
    return strata_error_set(err, ENOMEM, "cannot read layer");
  for (size_t i = 0; i < st->implied.cap; i++)
    if (st->implied.slots[i].used && st->implied.slots[i].value != NULL)
      d->implied[d->nimplied++] = steal_ptr(st->implied.slots[i].value);
  return 0;
}

void strata_layer_deps_clear(struct strata_layer_deps *d) {
  for (size_t i = 0; i < d->nimplied; i++)
    free(d->implied[i]);
  free(d->implied);
  *d = (struct strata_layer_deps){0};
}

/* Opens the directory PARENT inside the root (O_PATH), symlinks on the way
 * resolving inside it.  With CREATE, missing directories are made like
 * implied tar parents: 0755, owned by us. */
static int open_parent(struct apply_state *st, const char *parent, const char *name, bool create,
                       struct strata_error **err) {
  cleanup_free char *prefix = strdup(parent);
  cleanup_free char *rest = NULL;
  cleanup_close int fd = -1;
  char *save = NULL;

  if (prefix == NULL)
    return strata_error_set(err, ENOMEM, "layer entry '%s'", name);
  for (;;) {
    cleanup_error struct strata_error *local = NULL;
    char *slash;

    fd = strata_open_in_root(st->rootfd, prefix, O_PATH | O_DIRECTORY, 0, &local);
    if (fd >= 0)
      break;
    if (local->errnum == ENOTDIR)
      return strata_error_set(err, 0, "parent of layer entry '%s' is not a directory", name);
    if (local->errnum != ENOENT || !create || *prefix == '\0') {
      strata_error_move(err, &local);
      return strata_error_wrap(err, "layer entry '%s'", name);
    }
    slash = strrchr(prefix, '/');
    if (slash != NULL)
      *slash = '\0';
    else
      *prefix = '\0';
  }
  if (strlen(prefix) == strlen(parent))
    return steal_fd(fd);

  /* Everything from here on did not resolve, so the directories made are
   * new.  Walking them again with O_NOFOLLOW catches a dangling symlink
   * that mkdir -p would have gone through. */
  rest = strdup(parent + strlen(prefix) + (*prefix ? 1 : 0));
  if (rest == NULL)
    return strata_error_set(err, ENOMEM, "layer entry '%s'", name);
  if (strata_mkdir_p_at(fd, rest, 0755, err) < 0) {
    if (st->deps != NULL) /* (see below) */
      st->deps->needs_parent = true;
    return strata_error_wrap(err, "cannot create parents of layer entry '%s'", name);
  }
  for (char *comp = strtok_r(rest, "/", &save); comp != NULL; comp = strtok_r(NULL, "/", &save)) {
    int next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    struct stat s;

    if (next < 0) {
      /* in a detached stage, a symlink of the layer's own may lead to a
       * directory only the parent has */
      if (st->deps != NULL)
        st->deps->needs_parent = true;
      return strata_error_set(err, errno, "cannot create parent '%s' of layer entry '%s'", comp,
                              name);
    }
    close(fd);
    fd = next;
    /* mkdir's mode went through the umask */
    if (fstat(fd, &s) < 0 || fchmod(fd, 0755) < 0)
      return strata_error_set(err, errno, "cannot create parent '%s' of layer entry '%s'", comp,
                              name);
    if (mark_fresh(st, &s, name, err) < 0 || note_implied(st, fd, &s, name, err) < 0)
      return -1;
  }
  return steal_fd(fd);
}

/* Clears the way for a new entry at e->base: an existing directory is kept
 * when a directory is wanted, anything else is removed. */
static int make_room(const struct entry_ctx *e, bool want_dir, struct stat *old,
                     struct strata_error **err) {
  if (fstatat(e->pfd, e->base, old, AT_SYMLINK_NOFOLLOW) < 0) {
    if (errno == ENOENT)
      return ROOM_EMPTY;
    return strata_error_set(err, errno, "cannot stat '%s'", e->name);
  }
  if (want_dir && S_ISDIR(old->st_mode))
    return ROOM_KEPT_DIR;
  if (strata_remove_tree_at(e->pfd, e->base, err) < 0)
    return strata_error_wrap(err, "cannot replace '%s'", e->name);
  return ROOM_REPLACED;
}

static int write_data(struct apply_state *st, struct archive *a, int fd, const struct entry_ctx *e,
                      struct strata_error **err) {
  for (;;) {
    const void *buf;
    size_t size;
    la_int64_t offset;
    int r = archive_read_data_block(a, &buf, &size, &offset);

    if (r == ARCHIVE_EOF)
      break;
    if (r == ARCHIVE_WARN)
      log_warning("layer entry '%s': %s", e->name, archive_error_string(a));
    else if (r != ARCHIVE_OK)
      return strata_error_set(err, 0, "truncated layer at entry '%s': %s", e->name,
                              archive_error_string(a));
    if (offset < 0)
      return strata_error_set(err, EINVAL, "layer entry '%s' has a negative data offset", e->name);
    /* sparse entries come as blocks at increasing offsets; holes are
     * left unwritten */
    for (const char *p = buf; size > 0;) {
      ssize_t w = pwrite(fd, p, size, (off_t)offset);
      if (w < 0) {
        if (errno == EINTR)
          continue;
        return strata_error_set(err, errno, "cannot write '%s'", e->name);
      }
      if (w == 0)
        return strata_error_set(err, EIO, "cannot write '%s'", e->name);
      p += w;
      size -= (size_t)w;
      offset += w;
      if (st->stats)
        st->stats->size += (uint64_t)w;
    }
  }
  /* a trailing hole is only visible through the size */
  if (archive_entry_size_is_set(e->entry) && archive_entry_size(e->entry) >= 0 &&
      ftruncate(fd, (off_t)archive_entry_size(e->entry)) < 0)
    return strata_error_set(err, errno, "cannot set the size of '%s'", e->name);
  return 0;
}

static int apply_file(struct apply_state *st, struct archive *a, const struct entry_ctx *e,
                      struct strata_error **err) {
  cleanup_close int fd = -1;
  struct timespec ts[2];
  struct stat old;

  if (make_room(e, false, &old, err) < 0)
    return -1;
  fd = openat(e->pfd, e->base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    return strata_error_set(err, errno, "cannot create '%s'", e->name);
  if (mark_written(st, e, err) < 0 || write_data(st, a, fd, e, err) < 0 ||
      apply_fd_metadata(fd, e, err) < 0)
    return -1;
  entry_times(e->entry, ts);
  if (futimens(fd, ts) < 0)
    return strata_error_set(err, errno, "cannot set times of '%s'", e->name);
  if (st->stats && fstat(fd, &old) == 0) /* delayed allocation counts already */
    count_disk(st, &old);
  return 0;
}

static int set_overlay_opaque(int dfd, const char *name, struct strata_error **err) {
  if (fsetxattr(dfd, OVERLAY_OPAQUE_XATTR, "y", 1, 0) < 0)
    return strata_error_set(err, errno, "cannot mark '%s' opaque", name);
  return 0;
}

static int apply_dir(struct apply_state *st, const struct entry_ctx *e, struct strata_error **err) {
  cleanup_close int fd = -1;
  struct stat old, s;
  int room = make_room(e, true, &old, err);

  if (room < 0)
    return -1;
  if (room != ROOM_KEPT_DIR && mkdirat(e->pfd, e->base, 0700) < 0)
    return strata_error_set(err, errno, "cannot create directory '%s'", e->name);
  fd = openat(e->pfd, e->base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return strata_error_set(err, errno, "cannot open directory '%s'", e->name);
  if (fstat(fd, &s) < 0)
    return strata_error_set(err, errno, "cannot stat '%s'", e->name);
  if (mark_written(st, e, err) < 0)
    return -1;
  note_explicit(st, &s);
  if (room != ROOM_KEPT_DIR) {
    if (mark_fresh(st, &s, e->name, err) < 0)
      return -1;
    count_disk(st, &s);
  }
  /* This directory replaces a whiteout from earlier in the same layer: it
   * must not merge with the lower one it whited out. */
  if (st->mode == STRATA_WHITEOUT_OVERLAY && room == ROOM_REPLACED && S_ISCHR(old.st_mode) &&
      old.st_rdev == makedev(0, 0) && set_overlay_opaque(fd, e->name, err) < 0)
    return -1;
  if (apply_fd_metadata(fd, e, err) < 0)
    return -1;
  return record_dir_time(st, fd, e, err);
}

static int apply_symlink(struct apply_state *st, const struct entry_ctx *e,
                         struct strata_error **err) {
  const char *target = archive_entry_symlink(e->entry);
  struct timespec ts[2];
  struct stat old;
  uid_t uid;
  gid_t gid;

  if (target == NULL)
    target = archive_entry_symlink_utf8(e->entry);
  if (target == NULL || *target == '\0')
    return strata_error_set(err, 0, "symlink '%s' has no target", e->name);
  if (entry_owner(e, &uid, &gid, err) < 0 || make_room(e, false, &old, err) < 0)
    return -1;
  if (symlinkat(target, e->pfd, e->base) < 0)
    return strata_error_set(err, errno, "cannot create symlink '%s'", e->name);
  if (mark_written(st, e, err) < 0)
    return -1;
  if (st->stats && fstatat(e->pfd, e->base, &old, AT_SYMLINK_NOFOLLOW) == 0)
    count_disk(st, &old); /* a long target takes a block */
  if (fchownat(e->pfd, e->base, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
    return strata_error_set(err, errno, "cannot chown '%s'", e->name);
  entry_times(e->entry, ts);
  if (utimensat(e->pfd, e->base, ts, AT_SYMLINK_NOFOLLOW) < 0)
    return strata_error_set(err, errno, "cannot set times of '%s'", e->name);
  return 0;
}

/* linkat(AT_EMPTY_PATH) needs CAP_DAC_READ_SEARCH on older kernels; the
 * same link can be made by name, from the target's parent. */
static int link_by_name(struct apply_state *st, const struct entry_ctx *e, const char *tpath,
                        const struct stat *tst, struct strata_error **err) {
  const char *slash = strrchr(tpath, '/');
  const char *tbase = slash ? slash + 1 : tpath;
  cleanup_free char *tparent = slash ? strndup(tpath, (size_t)(slash - tpath)) : strdup("");
  cleanup_close int tpfd = -1;
  struct stat s;

  if (tparent == NULL)
    return strata_error_set(err, ENOMEM, "layer entry '%s'", e->name);
  tpfd = open_parent(st, tparent, e->name, false, err);
  if (tpfd < 0)
    return -1;
  if (linkat(tpfd, tbase, e->pfd, e->base, 0) < 0)
    return strata_error_set(err, errno, "cannot link '%s' to '%s'", e->name, tpath);
  /* the name must still lead to the inode opened before */
  if (fstatat(e->pfd, e->base, &s, AT_SYMLINK_NOFOLLOW) < 0)
    return strata_error_set(err, errno, "cannot stat '%s'", e->name);
  if (s.st_dev != tst->st_dev || s.st_ino != tst->st_ino) {
    unlinkat(e->pfd, e->base, 0);
    return strata_error_set(err, 0, "hardlink target '%s' of layer entry '%s' changed", tpath,
                            e->name);
  }
  return 0;
}

static int apply_hardlink(struct apply_state *st, const struct entry_ctx *e, const char *target,
                          struct strata_error **err) {
  cleanup_error struct strata_error *local = NULL;
  cleanup_free char *tpath = strata_clean_path(target);
  cleanup_close int tfd = -1;
  struct stat tst, old;

  if (tpath == NULL) {
    if (errno == EINVAL)
      return strata_error_set(err, 0,
                              "hardlink target '%s' of layer entry '%s' escapes the layer root",
                              target, e->name);
    return strata_error_set(err, errno, "layer entry '%s'", e->name);
  }
  if (*tpath == '\0')
    return strata_error_set(err, 0, "layer entry '%s' is a hardlink to the layer root", e->name);
  /* the parents resolve inside the root; the last component is not
   * followed, so a link to a symlink links the symlink itself */
  tfd = strata_open_in_root(st->rootfd, tpath, O_PATH | O_NOFOLLOW, 0, &local);
  if (tfd < 0) {
    /* in a detached stage, the target may be the parent's file */
    if (st->deps != NULL && (local->errnum == ENOENT || local->errnum == ENOTDIR))
      st->deps->needs_parent = true;
    if (local->errnum == ENOENT || local->errnum == ENOTDIR)
      return strata_error_set(err, 0, "hardlink target '%s' of layer entry '%s' does not exist",
                              target, e->name);
    strata_error_move(err, &local);
    return strata_error_wrap(err, "hardlink target of layer entry '%s'", e->name);
  }
  if (fstat(tfd, &tst) < 0)
    return strata_error_set(err, errno, "cannot stat '%s'", target);
  if (S_ISDIR(tst.st_mode))
    return strata_error_set(err, 0, "layer entry '%s' is a hardlink to directory '%s'", e->name,
                            target);

  /* a link to itself, or a repeated link: already there */
  if (fstatat(e->pfd, e->base, &old, AT_SYMLINK_NOFOLLOW) == 0 && old.st_dev == tst.st_dev &&
      old.st_ino == tst.st_ino)
    return mark_written(st, e, err);
  if (make_room(e, false, &old, err) < 0)
    return -1;
  if (linkat(tfd, "", e->pfd, e->base, AT_EMPTY_PATH) < 0) {
    if (errno != ENOENT)
      return strata_error_set(err, errno, "cannot link '%s' to '%s'", e->name, target);
    if (link_by_name(st, e, tpath, &tst, err) < 0)
      return -1;
  }
  return mark_written(st, e, err);
}

static int apply_node(struct apply_state *st, const struct entry_ctx *e,
                      struct strata_error **err) {
  mode_t type = archive_entry_filetype(e->entry);
  dev_t rdev = 0;
  struct timespec ts[2];
  struct stat old;
  uid_t uid;
  gid_t gid;

  if (type != AE_IFIFO) {
    if (geteuid() != 0) {
      log_warning("not root: skipping device node '%s'", e->name);
      return 1;
    }
    rdev = makedev((unsigned)archive_entry_rdevmajor(e->entry),
                   (unsigned)archive_entry_rdevminor(e->entry));
  }
  if (entry_owner(e, &uid, &gid, err) < 0 || make_room(e, false, &old, err) < 0)
    return -1;
  if (mknodat(e->pfd, e->base, type | 0600, rdev) < 0) {
    /* root in a user namespace may not make devices */
    if (errno == EPERM && type != AE_IFIFO) {
      log_warning("not allowed to create device node '%s', skipped", e->name);
      return 1;
    }
    return strata_error_set(err, errno, "cannot create '%s'", e->name);
  }
  if (mark_written(st, e, err) < 0)
    return -1;
  /* The name was just made by mknodat, so it is not a symlink and
   * fchmodat (which always follows) acts on the node itself. */
  if (fchownat(e->pfd, e->base, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
    return strata_error_set(err, errno, "cannot chown '%s'", e->name);
  if (fchmodat(e->pfd, e->base, archive_entry_perm(e->entry) & 07777, 0) < 0)
    return strata_error_set(err, errno, "cannot chmod '%s'", e->name);
  entry_times(e->entry, ts);
  if (utimensat(e->pfd, e->base, ts, AT_SYMLINK_NOFOLLOW) < 0)
    return strata_error_set(err, errno, "cannot set times of '%s'", e->name);
  return 0;
}

static int prune_lower(struct apply_state *st, int dfd, const char *name,
                       struct strata_error **err);

/* Hides what lower layers left at NAME inside PFD (with status CST).
 * WRITTEN says this layer wrote NAME itself.  A directory from below that
 * this layer wrote into, even only as an implied parent, is pruned rather
 * than removed, so the layer's own files inside it survive; it goes away
 * once nothing of this layer is left in it. */
static int hide_lower(struct apply_state *st, int pfd, const struct stat *pst, const char *name,
                      const struct stat *cst, struct strata_error **err) {
  bool written = node_set_has(&st->written, pst->st_dev, pst->st_ino, name);
  cleanup_close int cfd = -1;

  /* nothing from below can be inside a directory this layer made */
  if (is_fresh_dir(st, cst))
    return 0;
  if (!S_ISDIR(cst->st_mode)) {
    if (written)
      return 0;
    if (strata_remove_tree_at(pfd, name, err) < 0)
      return strata_error_wrap(err, "cannot remove '%s'", name);
    return 0;
  }
  if (cst->st_dev != pst->st_dev)
    return strata_error_set(err, EXDEV, "refusing to remove '%s' on another mount", name);
  cfd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (cfd < 0)
    return strata_error_set(err, errno, "cannot open '%s'", name);
  if (prune_lower(st, cfd, name, err) < 0)
    return -1;
  if (!written && unlinkat(pfd, name, AT_REMOVEDIR) < 0 && errno != ENOTEMPTY && errno != EEXIST)
    return strata_error_set(err, errno, "cannot remove directory '%s'", name);
  return 0;
}

/* Empties directory DFD of everything lower layers put there. */
static int prune_lower(struct apply_state *st, int dfd, const char *name,
                       struct strata_error **err) {
  cleanup_dir DIR *d = NULL;
  struct dirent *de;
  struct stat dst;
  int fd2;

  if (fstat(dfd, &dst) < 0)
    return strata_error_set(err, errno, "cannot stat '%s'", name);
  fd2 = fcntl(dfd, F_DUPFD_CLOEXEC, 3);
  if (fd2 < 0)
    return strata_error_set(err, errno, "cannot read directory '%s'", name);
  d = fdopendir(fd2);
  if (d == NULL) {
    int e = errno;
    close(fd2);
    return strata_error_set(err, e, "cannot read directory '%s'", name);
  }
  while ((errno = 0, de = readdir(d)) != NULL) {
    struct stat cst;

    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
      continue;
    if (fstatat(dfd, de->d_name, &cst, AT_SYMLINK_NOFOLLOW) < 0) {
      if (errno == ENOENT)
        continue;
      return strata_error_set(err, errno, "cannot stat '%s' in '%s'", de->d_name, name);
    }
    if (hide_lower(st, dfd, &dst, de->d_name, &cst, err) < 0)
      return strata_error_wrap(err, "in '%s'", name);
  }
  if (errno != 0)
    return strata_error_set(err, errno, "cannot read directory '%s'", name);
  return 0;
}

/* Is directory FD the root (reached by a symlink to "/", say)? */
static bool is_root(const struct apply_state *st, int fd) {
  struct stat a, b;
  return fstat(fd, &a) == 0 && fstat(st->rootfd, &b) == 0 && a.st_dev == b.st_dev &&
         a.st_ino == b.st_ino;
}

static int apply_opaque(struct apply_state *st, const struct entry_ctx *e, const char *parent,
                        struct strata_error **err) {
  cleanup_close int pfd = -1, dfd = -1;

  pfd = open_parent(st, parent, e->name, true, err);
  if (pfd < 0)
    return -1;
  dfd = openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    return strata_error_set(err, errno, "cannot open the directory of '%s'", e->name);
  /* overlay merges the roots of its layers whatever their xattrs: an
   * opaque root takes a whiteout for each of the parent's entries */
  if (st->deps != NULL && is_root(st, dfd)) {
    st->deps->needs_parent = true;
    return strata_error_set(err, 0, "layer entry '%s' hides the whole parent tree", e->name);
  }
  if (st->mode == STRATA_WHITEOUT_OVERLAY)
    return set_overlay_opaque(dfd, e->name, err);
  return prune_lower(st, dfd, *parent ? parent : "/", err);
}

static int apply_whiteout(struct apply_state *st, const struct entry_ctx *e, const char *parent,
                          struct strata_error **err) {
  const char *victim = e->base + strlen(WHITEOUT_PREFIX);
  cleanup_close int pfd = -1;
  struct stat vst, pst;

  if (strcmp(e->base, WHITEOUT_OPAQUE) == 0)
    return apply_opaque(st, e, parent, err);
  if (*victim == '\0' || strcmp(victim, ".") == 0 || strcmp(victim, "..") == 0)
    return strata_error_set(err, 0, "whiteout '%s' does not name a file", e->name);
  if (strncmp(e->base, WHITEOUT_META_PREFIX, strlen(WHITEOUT_META_PREFIX)) == 0) {
    log_warning("skipping aufs metadata entry '%s'", e->name);
    return 1;
  }

  if (st->mode == STRATA_WHITEOUT_OVERLAY) {
    pfd = open_parent(st, parent, e->name, true, err);
    if (pfd < 0)
      return -1;
    if (fstatat(pfd, victim, &vst, AT_SYMLINK_NOFOLLOW) == 0) {
      cleanup_close int dfd = -1;
      /* The diff started empty, so this is the layer's own entry: it
       * stays.  A directory must still hide its lower contents. */
      if (!S_ISDIR(vst.st_mode))
        return 0;
      dfd = openat(pfd, victim, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (dfd < 0)
        return strata_error_set(err, errno, "cannot open '%s'", victim);
      return set_overlay_opaque(dfd, e->name, err);
    }
    if (errno != ENOENT)
      return strata_error_set(err, errno, "cannot stat '%s'", victim);
    if (mknodat(pfd, victim, S_IFCHR | 0000, makedev(0, 0)) < 0)
      return strata_error_set(err, errno, "cannot create whiteout '%s'", e->name);
    return 0;
  }

  {
    cleanup_error struct strata_error *local = NULL;
    pfd = strata_open_in_root(st->rootfd, parent, O_PATH | O_DIRECTORY, 0, &local);
    if (pfd < 0) {
      /* nothing below to hide */
      if (local->errnum == ENOENT || local->errnum == ENOTDIR)
        return 0;
      strata_error_move(err, &local);
      return strata_error_wrap(err, "whiteout '%s'", e->name);
    }
  }
  if (fstat(pfd, &pst) < 0)
    return strata_error_set(err, errno, "cannot stat the directory of '%s'", e->name);
  if (fstatat(pfd, victim, &vst, AT_SYMLINK_NOFOLLOW) < 0) {
    if (errno == ENOENT)
      return 0;
    return strata_error_set(err, errno, "cannot stat '%s'", victim);
  }
  /* whiteouts only hide lower layers; this layer's own entries stay */
  if (hide_lower(st, pfd, &pst, victim, &vst, err) < 0)
    return strata_error_wrap(err, "whiteout '%s'", e->name);
  return 0;
}

static int apply_root(struct apply_state *st, struct entry_ctx *e, struct strata_error **err) {
  cleanup_close int fd = -1;

  if (archive_entry_hardlink(e->entry) != NULL || archive_entry_filetype(e->entry) != AE_IFDIR)
    return strata_error_set(err, 0, "layer entry '%s' would replace the layer root", e->name);
  fd = strata_open_in_root(st->rootfd, "", O_RDONLY | O_DIRECTORY, 0, err);
  if (fd < 0)
    return strata_error_wrap(err, "layer entry '%s'", e->name);
  if (apply_fd_metadata(fd, e, err) < 0)
    return -1;
  st->root_explicit = true;
  return record_dir_time(st, fd, e, err);
}

/* Returns 0 when applied, 1 when skipped, negative on error. */
static int apply_entry(struct apply_state *st, struct archive *a, struct archive_entry *entry,
                       const char *name, struct strata_error **err) {
  cleanup_free char *path = strata_clean_path(name);
  cleanup_free char *parent = NULL;
  cleanup_close int pfd = -1;
  struct entry_ctx e = {.entry = entry, .name = name, .pfd = -1};
  const char *hardlink;
  char *slash;

  if (path == NULL) {
    if (errno == EINVAL)
      return strata_error_set(err, 0, "layer entry '%s' escapes the layer root", name);
    return strata_error_set(err, errno, "layer entry '%s'", name);
  }
  e.path = path;
  if (*path == '\0')
    return apply_root(st, &e, err);

  /* aufs bookkeeping (.wh..wh.plnk and friends) is not content */
  if (strncmp(path, WHITEOUT_META_PREFIX, strlen(WHITEOUT_META_PREFIX)) == 0 &&
      strcmp(path, WHITEOUT_OPAQUE) != 0) {
    log_warning("skipping aufs metadata entry '%s'", name);
    return 1;
  }

  slash = strrchr(path, '/');
  parent = slash ? strndup(path, (size_t)(slash - path)) : strdup("");
  if (parent == NULL)
    return strata_error_set(err, ENOMEM, "layer entry '%s'", name);
  e.base = slash ? slash + 1 : path;

  if (strncmp(e.base, WHITEOUT_PREFIX, strlen(WHITEOUT_PREFIX)) == 0)
    return apply_whiteout(st, &e, parent, err);

  pfd = open_parent(st, parent, name, true, err);
  if (pfd < 0)
    return -1;
  e.pfd = pfd;
  if (fstat(pfd, &e.pst) < 0)
    return strata_error_set(err, errno, "cannot stat the directory of '%s'", name);

  hardlink = archive_entry_hardlink(entry);
  if (hardlink == NULL)
    hardlink = archive_entry_hardlink_utf8(entry);
  if (hardlink != NULL)
    return apply_hardlink(st, &e, hardlink, err);

  switch (archive_entry_filetype(entry)) {
  case AE_IFREG:
    return apply_file(st, a, &e, err);
  case AE_IFDIR:
    return apply_dir(st, &e, err);
  case AE_IFLNK:
    return apply_symlink(st, &e, err);
  case AE_IFCHR:
  case AE_IFBLK:
  case AE_IFIFO:
    return apply_node(st, &e, err);
  case AE_IFSOCK:
    log_warning("skipping socket '%s'", name);
    return 1;
  default:
    return strata_error_set(err, EINVAL, "layer entry '%s' has an unknown type 0%o", name,
                            (unsigned)archive_entry_filetype(entry));
  }
}

static const char *entry_name(struct archive_entry *entry) {
  const char *name = archive_entry_pathname(entry);
  return name != NULL ? name : archive_entry_pathname_utf8(entry);
}

int strata_layer_apply(int rootfd, struct archive *a, enum strata_whiteout_mode mode,
                       struct strata_layer_stats *stats, struct strata_error **err) {
  return strata_layer_apply_hooked(rootfd, a, mode, stats, NULL, err);
}

int strata_layer_apply_hooked(int rootfd, struct archive *a, enum strata_whiteout_mode mode,
                              struct strata_layer_stats *stats,
                              const struct strata_layer_hooks *hooks, struct strata_error **err) {
  struct apply_state st = {.rootfd = rootfd, .mode = mode, .stats = stats,
                           .deps = hooks != NULL ? hooks->deps : NULL};
  struct archive_entry *entry = archive_entry_new();
  cleanup_free char *last = NULL;
  int ret = -1;

  if (entry == NULL)
    return strata_error_set(err, ENOMEM, "cannot read layer");
  if (mode != STRATA_WHITEOUT_IN_PLACE && mode != STRATA_WHITEOUT_OVERLAY) {
    strata_error_set(err, EINVAL, "unknown whiteout mode %d", (int)mode);
    goto out;
  }
  if (st.deps != NULL && mode != STRATA_WHITEOUT_OVERLAY) {
    strata_error_set(err, EINVAL, "a detached stage takes whiteouts in overlay form");
    goto out;
  }
  for (;;) {
    const char *name;
    int r = archive_read_next_header2(a, entry);
    /* the payload starts where the header ends */
    la_int64_t data_offset = archive_filter_bytes(a, 0);

    if (r == ARCHIVE_EOF)
      break;
    /* ARCHIVE_RETRY is a damaged header: retrying would resync past it
     * and silently drop entries */
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
      if (last != NULL)
        strata_error_set(err, 0, "truncated or corrupt layer after entry '%s': %s", last,
                         archive_error_string(a));
      else
        strata_error_set(err, 0, "truncated or corrupt layer: %s", archive_error_string(a));
      goto out;
    }
    name = entry_name(entry);
    if (name == NULL) {
      strata_error_set(err, EINVAL, "layer entry without a name after '%s'",
                       last ? last : "(start)");
      goto out;
    }
    /* e.g. a name that has no form in the current locale: it is applied
     * with its bytes as they are */
    if (r == ARCHIVE_WARN)
      log_info("layer entry '%s': %s", name, archive_error_string(a));
    /* the hook hears of a file's payload before apply_entry reads it, so a
     * listener that buffers the raw stream (tar-split) can drop the payload
     * as it passes instead of holding a whole big file */
    if (hooks != NULL && hooks->file != NULL && archive_entry_filetype(entry) == AE_IFREG &&
        archive_entry_hardlink(entry) == NULL && archive_entry_hardlink_utf8(entry) == NULL &&
        archive_entry_sparse_count(entry) == 0 && archive_entry_size(entry) > 0 &&
        data_offset >= 0) {
      cleanup_free char *clean = strata_clean_path(name);
      /* aufs bookkeeping is skipped below, so it is not a file of the layer */
      if (clean != NULL && *clean != '\0' &&
          strncmp(clean, WHITEOUT_META_PREFIX, strlen(WHITEOUT_META_PREFIX)) != 0)
        hooks->file(hooks->arg, (uint64_t)data_offset, (uint64_t)archive_entry_size(entry), clean);
    }
    r = apply_entry(&st, a, entry, name, err);
    if (r < 0)
      goto out;
    if (r == 0 && stats)
      stats->entries++;
    free(last);
    last = strdup(name);
  }
  if (apply_dir_times(&st, err) < 0)
    goto out;
  if (st.deps != NULL && collect_deps(&st, err) < 0)
    goto out;
  ret = 0;
out:
  archive_entry_free(entry);
  node_set_free(&st.written);
  node_set_free(&st.fresh);
  node_set_free(&st.implied);
  free(st.root_path);
  for (size_t i = 0; i < st.ntimes; i++)
    free(st.times[i].path);
  free(st.times);
  return ret;
}
