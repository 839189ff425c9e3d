#include "config.h"
#include "layer-store.h"

#include <archive.h>
#include <pthread.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "container.h"
#include "decompress.h"
#include "digest.h"
#include "image.h"
#include "json-cleanup.h"
#include "layer.h"
#include "layer-export.h"
#include "log.h"
#include "read-ahead.h"
#include "safe-path.h"

#define LOG_DOMAIN "layer-store"
/* the most diffs a detached stage is settled through (overlay's own limit
 * is 500): a deeper stack is written again on its parent instead */
#define STRATA_OVERLAY_SETTLE_MAX 512

/* Several layers of one image are written at once (a pull's extraction
 * threads): the driver's own calls are made one at a time. */
static pthread_mutex_t driver_lock = PTHREAD_MUTEX_INITIALIZER;

static int record_path(const char *chain_id, char *buf, size_t len, struct strata_error **err) {
  if (!strata_digest_valid(chain_id))
    return strata_error_set(err, 0, "invalid chain ID '%s'", chain_id);
  snprintf(buf, len, "layers/%s.json", strata_digest_hex(chain_id));
  return 0;
}

int strata_layer_load(struct strata_store *store, const char *chain_id, json_t **record,
                      struct strata_error **err) {
  char path[128];
  if (record_path(chain_id, path, sizeof(path), err) < 0)
    return -1;
  return strata_store_read_json(store, path, record, err);
}

bool strata_layer_exists(struct strata_store *store, const char *chain_id) {
  json_t *rec = NULL;
  bool complete;
  if (strata_layer_load(store, chain_id, &rec, NULL) != 0)
    return false;
  complete = !json_is_true(json_object_get(rec, "incomplete"));
  json_decref(rec);
  return complete;
}

/* libarchive pulls the tar stream through this reader; a thread of its own
 * decompresses and hashes it a few chunks ahead (read-ahead.c): one pass
 * gives both the tree and the diff ID. */
struct tar_reader {
  struct strata_decompressor *dec;
  struct strata_hasher *diff;
  struct strata_read_ahead *ahead;
  char pad[512 + 1024]; /* the end a writer left out */
  uint64_t total;    /* bytes of the real stream */
  bool padded;       /* the synthetic end was handed out */
  struct strata_error *err;
  struct strata_tar_split *split; /* headers and padding kept to write the layer again */
};

static void split_file(void *arg, uint64_t offset, uint64_t size, const char *path) {
  struct tar_reader *r = arg;
  if (r->split != NULL)
    strata_tar_split_file(r->split, offset, size, path);
}

static la_ssize_t tar_read(struct archive *a, void *arg, const void **out) {
  struct tar_reader *r = arg;
  const void *buf;
  ssize_t n;

  if (r->padded)
    return 0;
  n = strata_read_ahead_next(r->ahead, &buf, &r->err);
  if (n < 0) {
    archive_set_error(a, EIO, "%s", r->err ? r->err->msg : "read error");
    return -1;
  }
  if (n == 0) {
    /* Some writers (umoci insert) end a layer without the last record's
     * padding or the end-of-archive blocks; podman and Docker accept such
     * layers.  Hand libarchive the missing zeros, outside the diff ID: a
     * layer really cut short still fails its diff ID check. */
    size_t pad = (size_t)((512 - r->total % 512) % 512) + 1024;
    memset(r->pad, 0, pad);
    r->padded = true;
    *out = r->pad;
    return (la_ssize_t)pad;
  }
  if (r->split != NULL)
    strata_tar_split_feed(r->split, r->total, buf, (size_t)n);
  r->total += (uint64_t)n;
  *out = buf;
  return n;
}

/* What is left after the tar end marker still belongs to the diff ID. */
static int drain(struct tar_reader *r) {
  if (r->padded)
    return 0;
  for (;;) {
    const void *buf;
    ssize_t n = strata_read_ahead_next(r->ahead, &buf, &r->err);
    if (n < 0)
      return -1;
    if (n == 0)
      return 0;
    if (r->split != NULL)
      strata_tar_split_feed(r->split, r->total, buf, (size_t)n);
    r->total += (uint64_t)n;
  }
}

/* Records in REC the disk committed layer HEX takes, so that `system df`
 * reads a record and never walks a layer.  A driver that can tell on the
 * cheap says (an overlay layer's directory holds only its own files); for
 * the others it is what the stage took before (STAGE->usage) plus WRITTEN,
 * what the layer engine made in it, counted as it wrote: a snapshot or
 * hardlinked copy of the parent is a whole tree, too big to walk. */
static void record_usage(const struct strata_storage_ops *ops, void *state, const char *hex,
                         const struct strata_layer_stage *stage, uint64_t written, json_t *rec) {
  cleanup_error struct strata_error *e = NULL;
  uint64_t du = stage->usage + written;
  if (ops->version >= 2 && ops->layer_usage != NULL && ops->layer_usage(state, hex, &du, &e) < 0) {
    log_warning("cannot measure layer %.12s: %s", hex, e->msg);
    return;
  }
  json_object_set_new(rec, "disk_usage", json_integer((json_int_t)du));
}

/* *SPLIT gets the tar-split record of the stream, or NULL when it could
 * not be made (the layer is still good; it just cannot be written again
 * byte for byte).  The stream is FD, or LI's read callback when it has one. */
static int apply_stream(int fd, const struct strata_layer_import *li, int rootfd,
                        enum strata_whiteout_mode mode, const char *what,
                        char diff_id[STRATA_DIGEST_STR_LEN + 1], struct strata_layer_stats *stats,
                        char **split, size_t *split_len, struct strata_layer_deps *deps,
                        struct strata_error **err) {
  struct tar_reader r = {0};
  struct strata_layer_hooks hooks = {.file = split_file, .arg = &r, .deps = deps};
  struct archive *a = NULL;
  int ret = -1;

  if ((li->read != NULL ? strata_decompressor_new_reader(li->read, li->read_arg, &r.dec, err)
                        : strata_decompressor_new(fd, &r.dec, err)) < 0)
    return strata_error_wrap(err, "layer %s", what);
  r.diff = strata_hasher_new();
  r.split = strata_tar_split_new();
  a = archive_read_new();
  if (r.diff == NULL || a == NULL) {
    strata_error_set(err, ENOMEM, "cannot read layer %s", what);
    goto out;
  }
  if (strata_read_ahead_new(r.dec, r.diff, &r.ahead, err) < 0)
    goto out;
  archive_read_support_format_tar(a);
  archive_read_support_format_gnutar(a);
  if (archive_read_open(a, &r, NULL, tar_read, NULL) != ARCHIVE_OK) {
    if (r.err)
      *err = steal_ptr(r.err);
    else
      strata_error_set(err, 0, "cannot read layer %s: %s", what, archive_error_string(a));
    strata_error_wrap(err, "layer %s", what);
    goto out;
  }
  if (strata_layer_apply_hooked(rootfd, a, mode, stats, &hooks, err) < 0) {
    if (r.err) /* the real cause is the stream, not the tar parser */
      strata_error_move(err, &r.err);
    strata_error_wrap(err, "layer %s", what);
    goto out;
  }
  if (drain(&r) < 0) {
    *err = steal_ptr(r.err);
    strata_error_wrap(err, "layer %s", what);
    goto out;
  }
  /* the thread is done with the hash once it is gone */
  strata_read_ahead_free(steal_ptr(r.ahead));
  strata_hasher_final(r.diff, diff_id);
  *split = NULL;
  *split_len = 0;
  if (r.split != NULL) {
    cleanup_error struct strata_error *e = NULL;
    if (strata_tar_split_finish(r.split, r.total, split, split_len, &e) < 0)
      log_warning("layer %s: %s; it cannot be saved byte for byte", what, e->msg);
  }
  ret = 0;
out:
  strata_tar_split_free(r.split);
  if (a)
    archive_read_free(a);
  if (ret < 0 && r.ahead != NULL && li->cancel != NULL)
    li->cancel(li->read_arg); /* its thread may be waiting for bytes */
  strata_read_ahead_free(r.ahead); /* before what its thread reads and hashes */
  strata_error_free(r.err);
  strata_hasher_free(r.diff);
  strata_decompressor_free(r.dec);
  return ret;
}

/* Hands a staged layer to its driver for publication.  With the config key
 * storage-sync set, the layer's file system is synced first, so a power
 * cut never leaves a published layer whose files never reached the disk.
 * It is off by default, as with Docker, Podman and containerd: a killed
 * process loses nothing either way (the page cache holds what was written),
 * and syncfs waits for every dirty page of the file system, whoever wrote
 * it, so its cost has no bound this pull controls. */
static int commit_stage(struct strata_context *ctx, const struct strata_storage_ops *ops,
                        void *state, const char *hex, struct strata_layer_stage *stage,
                        struct strata_error **err) {
  json_t *sync = ctx->cfg ? json_object_get(ctx->cfg->doc, "storage-sync") : NULL;
  int r;
  if (json_is_true(sync) && stage->dirfd >= 0 && syncfs(stage->dirfd) < 0)
    log_warning("cannot sync layer %.12s to disk: %s", hex, strerror(errno));
  pthread_mutex_lock(&driver_lock);
  r = ops->layer_commit(state, hex, stage, err);
  pthread_mutex_unlock(&driver_lock);
  return r;
}

/* ---------------------------------------------------------------- import */

struct strata_layer_staged {
  struct strata_layer_import li;
  char path[128]; /* the layer's record */
  int fd;
  const struct strata_storage_ops *ops;
  void *state;
  const char *hex;
  const char *driver;
  bool detached; /* written into a detached stage */
  bool staged;   /* STAGE is live */
  bool redo;     /* to be written again on its published parent */
  struct strata_layer_stage stage;
  struct strata_layer_stats stats;
  struct strata_layer_deps deps;
  char *split;
  size_t split_len;
};

static void drop_stage(struct strata_layer_staged *s) {
  if (!s->staged)
    return;
  pthread_mutex_lock(&driver_lock);
  s->ops->layer_abort(s->state, s->hex, &s->stage);
  pthread_mutex_unlock(&driver_lock);
  s->staged = false;
}

static void staged_free(struct strata_layer_staged *s) {
  drop_stage(s);
  strata_layer_deps_clear(&s->deps);
  free(s->split);
  free(s);
}

/* Stages S's layer (DETACHED: see STRATA_STAGE_DETACHED) and writes its
 * blob into it, from its first byte.  A detached stage that turns out to
 * need its parent's files is dropped and S marked to be written again. */
static int fill(struct strata_layer_staged *s, bool detached, struct strata_error **err) {
  const struct strata_layer_import *li = &s->li;
  cleanup_error struct strata_error *local = NULL;
  char diff_id[STRATA_DIGEST_STR_LEN + 1];
  int r;

  s->stage = (struct strata_layer_stage){.size = sizeof(s->stage), .dirfd = -1,
                                         .flags = detached ? STRATA_STAGE_DETACHED : 0};
  s->detached = detached;
  s->redo = false;
  s->stats = (struct strata_layer_stats){0};
  strata_layer_deps_clear(&s->deps);
  free(steal_ptr(s->split));
  s->split_len = 0;
  pthread_mutex_lock(&driver_lock);
  r = s->ops->layer_stage(s->state, s->hex,
                          li->parent_chain_id ? strata_digest_hex(li->parent_chain_id) : NULL,
                          &s->stage, err);
  pthread_mutex_unlock(&driver_lock);
  if (r < 0)
    return strata_error_wrap(err, "cannot stage layer %s", li->blob_digest);
  s->staged = true;
  if (detached)
    log_debug("layer %.12s: written beside its parent, which is not published yet", s->hex);
  if (detached && s->stage.whiteout_mode != STRATA_WHITEOUT_OVERLAY) {
    drop_stage(s);
    return strata_error_set(err, 0, "storage driver '%s' gave a detached stage in-place whiteouts",
                            s->driver);
  }
  if (apply_stream(s->fd, li, s->stage.dirfd, (enum strata_whiteout_mode)s->stage.whiteout_mode,
                   li->blob_digest, diff_id, &s->stats, &s->split, &s->split_len,
                   detached ? &s->deps : NULL, &local) < 0) {
    drop_stage(s);
    /* The parent's tree may have been what was missing, even where the
     * engine cannot tell (deps.needs_parent): the layer is written again
     * on it, and fails there if it is bad (a bad stream fails again). */
    if (detached && local->errnum != ECANCELED) {
      log_debug("layer %.12s%s failed beside its parent (%s): it is written again on it", s->hex,
                s->deps.needs_parent ? ", which needs its parent's tree," : "", local->msg);
      s->redo = true;
      return 0;
    }
    return strata_error_move(err, &local);
  }
  if (strcmp(diff_id, li->diff_id) != 0) {
    drop_stage(s);
    return strata_error_set(err, 0,
                            "layer %s: uncompressed digest %s does not match the config's diff_id %s",
                            li->blob_digest, diff_id, li->diff_id);
  }
  return 0;
}

int strata_layer_import_begin(struct strata_context *ctx, int fd,
                              const struct strata_layer_import *li, bool detached,
                              struct strata_layer_staged **out, struct strata_error **err) {
  struct strata_layer_staged *s;

  *out = NULL;
  s = calloc(1, sizeof(*s));
  if (s == NULL)
    return strata_error_set(err, ENOMEM, "cannot import layer %s", li->blob_digest);
  if (record_path(li->chain_id, s->path, sizeof(s->path), err) < 0) {
    free(s);
    return -1;
  }
  s->li = *li;
  s->fd = fd;
  s->hex = strata_digest_hex(li->chain_id);
  if (strata_context_storage(ctx, &s->ops, &s->state, err) < 0) {
    free(s);
    return -1;
  }
  s->driver = ctx->storage->info->name;
  /* only a driver that says it can, and only a layer with a parent */
  detached = detached && li->parent_chain_id != NULL &&
             (s->ops->caps & STRATA_STORAGE_CAP_DETACHED_STAGE) != 0;
  if (fill(s, detached, err) < 0) {
    staged_free(s);
    return -1;
  }
  *out = s;
  return 0;
}

void strata_layer_import_abort(struct strata_layer_staged *s) {
  if (s != NULL)
    staged_free(s);
}

/* Gives directory DST the owner, mode and xattrs of SRC (never overlay's
 * own), as a copy-up through the parent's tree would have. */
static int copy_dir_attrs(int src, int dst, const char *what, struct strata_error **err) {
  char list[16384];
  struct stat st;
  ssize_t n;

  if (fstat(src, &st) < 0)
    return strata_error_set(err, errno, "cannot stat '%s'", what);
  n = flistxattr(src, list, sizeof(list));
  if (n < 0 && errno != ENOTSUP)
    return strata_error_set(err, errno, "cannot list the xattrs of '%s'", what);
  for (ssize_t off = 0; n > 0 && off < n; off += (ssize_t)strlen(list + off) + 1) {
    const char *x = list + off;
    char val[65536];
    ssize_t vl;
    if (strncmp(x, "trusted.overlay.", 16) == 0 || strncmp(x, "user.overlay.", 13) == 0)
      continue;
    vl = fgetxattr(src, x, val, sizeof(val));
    if (vl < 0 || fsetxattr(dst, x, val, (size_t)vl, 0) < 0)
      return strata_error_set(err, errno, "cannot copy xattr %s of '%s'", x, what);
  }
  /* the mode after the owner: chown clears setuid and setgid */
  if (fchown(dst, st.st_uid, st.st_gid) < 0 || fchmod(dst, st.st_mode & 07777) < 0)
    return strata_error_set(err, errno, "cannot set the attributes of '%s'", what);
  return 0;
}

static bool is_opaque(int fd) {
  char v[2];
  return fgetxattr(fd, "trusted.overlay.opaque", v, sizeof(v)) == 1 && v[0] == 'y';
}

/* The directory PATH is in the merged view of the overlay-form diffs
 * DIRS (topmost first): an fd of its topmost part, or -1 with errno
 * ENOENT (absent or whited out) or ENOTDIR (something else is there,
 * a symlink say). */
static int merged_dir(const int *dirs, size_t n, const char *path) {
  cleanup_free int *cur = calloc(n + 1, sizeof(int)), *next = calloc(n + 1, sizeof(int));
  cleanup_free char *copy = strdup(path);
  size_t ncur = 0, nnext;
  char *save = NULL;
  int e = 0;

  if (cur == NULL || next == NULL || copy == NULL) {
    errno = ENOMEM;
    return -1;
  }
  for (size_t i = 0; i < n; i++) {
    cur[ncur] = openat(dirs[i], ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (cur[ncur] < 0) {
      e = errno;
      goto out;
    }
    ncur++;
  }
  for (char *c = strtok_r(copy, "/", &save); c != NULL; c = strtok_r(NULL, "/", &save)) {
    nnext = 0;
    for (size_t i = 0; i < ncur; i++) {
      struct stat st;
      int fd;
      if (fstatat(cur[i], c, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        if (errno == ENOENT)
          continue;
        e = errno;
        break;
      }
      if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0))
        break; /* a whiteout: nothing below counts */
      if (!S_ISDIR(st.st_mode)) {
        if (nnext == 0)
          e = ENOTDIR;
        break; /* a directory above hides it, and what is below it */
      }
      fd = openat(cur[i], c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0) {
        e = errno;
        break;
      }
      next[nnext++] = fd;
      if (is_opaque(fd))
        break;
    }
    for (size_t i = 0; i < ncur; i++)
      close(cur[i]);
    ncur = 0;
    for (size_t i = 0; i < nnext; i++)
      cur[ncur++] = next[i];
    if (e == 0 && ncur == 0)
      e = ENOENT;
    if (e != 0)
      goto out;
  }
out:
  if (e != 0 || ncur == 0) {
    for (size_t i = 0; i < ncur; i++)
      close(cur[i]);
    errno = e ? e : ENOENT;
    return -1;
  }
  for (size_t i = 1; i < ncur; i++)
    close(cur[i]);
  return cur[0];
}

/* Now that its parent is published, gives each directory a detached stage
 * only implied the attributes the parent's tree has there.  Returns 1
 * when the stage cannot stand as it is (a path the parent has as a symlink
 * or a file, or not at all): it must be written again on the parent. */
static int settle(struct strata_context *ctx, struct strata_layer_staged *s,
                  struct strata_error **err) {
  struct strata_diff_dirs dd = {0};
  cleanup_json json_t *prec = NULL;
  cleanup_error struct strata_error *local = NULL;
  const char *grand;
  int dirs[STRATA_OVERLAY_SETTLE_MAX + 1];
  size_t ndirs = 0;
  int ret = 1;

  if (s->deps.nimplied == 0)
    return 0;
  if (strata_layer_load(ctx->store, s->li.parent_chain_id, &prec, err) != 0)
    return -1;
  grand = json_string_value(json_object_get(prec, "parent"));
  pthread_mutex_lock(&driver_lock);
  if (strata_storage_diff_dirs(ctx, strata_digest_hex(s->li.parent_chain_id), grand,
                               STRATA_DIFF_LAYER, &dd, &local) < 0) {
    pthread_mutex_unlock(&driver_lock);
    log_debug("layer %.12s: %s", s->hex, local->msg);
    return 1;
  }
  pthread_mutex_unlock(&driver_lock);
  /* a diff in overlay form is read through the stack below it; any other
   * is the parent's whole tree */
  dirs[ndirs] = open(dd.upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirs[ndirs] < 0)
    goto out;
  ndirs++;
  for (char **l = dd.lowers; (dd.flags & STRATA_DIFF_PURE) && l && *l; l++) {
    if (ndirs == STRATA_OVERLAY_SETTLE_MAX)
      goto out;
    dirs[ndirs] = open(*l, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirs[ndirs] < 0)
      goto out;
    ndirs++;
  }
  for (size_t i = 0; i < s->deps.nimplied; i++) {
    const char *p = s->deps.implied[i];
    cleanup_close int src = merged_dir(dirs, ndirs, p), dst = -1;
    if (src < 0) {
      log_debug("layer %.12s: its directory '/%s' is not one of its parent's (%s): it is "
                "written again on its parent", s->hex, p, strerror(errno));
      goto out;
    }
    dst = strata_open_in_root(s->stage.dirfd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0, &local);
    if (dst < 0) {
      /* gone since (an entry replaced it): nothing to settle */
      if (local->errnum == ENOENT)
        continue;
      goto out;
    }
    if (copy_dir_attrs(src, dst, p, err) < 0) {
      ret = -1;
      goto out;
    }
  }
  ret = 0;
out:
  for (size_t i = 0; i < ndirs; i++)
    close(dirs[i]);
  strata_diff_dirs_clear(&dd);
  return ret;
}

/* Starts S's blob over from its first byte. */
static int rewind_blob(struct strata_layer_staged *s, struct strata_error **err) {
  if (s->li.read != NULL) {
    if (s->li.rewind == NULL)
      return strata_error_set(err, 0, "layer %s cannot be read again", s->li.blob_digest);
    return s->li.rewind(s->li.read_arg, err);
  }
  if (lseek(s->fd, 0, SEEK_SET) < 0)
    return strata_error_set(err, errno, "cannot read layer %s again", s->li.blob_digest);
  return 0;
}

int strata_layer_import_finish(struct strata_context *ctx, struct strata_layer_staged *s,
                               uint64_t *size, struct strata_error **err) {
  const struct strata_layer_import *li = &s->li;
  char split_path[128];
  cleanup_json json_t *rec = NULL;
  int r;

  if (s->detached && !s->redo) {
    r = settle(ctx, s, err);
    if (r < 0)
      goto fail;
    if (r > 0) {
      drop_stage(s);
      s->redo = true;
    }
  }
  for (;;) {
    cleanup_error struct strata_error *local = NULL;
    if (s->redo) {
      log_info("layer %.12s: writing it again on its parent", s->hex);
      if (rewind_blob(s, err) < 0 || fill(s, false, err) < 0)
        goto fail;
    }
    *size = s->stats.size;
    json_decref(rec);
    rec = json_pack("{s:s, s:s, s:o, s:s, s:I, s:I, s:s}", "chain_id", li->chain_id, "diff_id",
                    li->diff_id, "parent",
                    li->parent_chain_id ? json_string(li->parent_chain_id) : json_null(),
                    "blob_digest", li->blob_digest, "blob_size", (json_int_t)li->blob_size, "size",
                    (json_int_t)*size, "driver", ctx->storage->info->name);
    if (rec == NULL) {
      strata_error_set(err, ENOMEM, "cannot record layer");
      goto fail;
    }
    /* The record goes first, marked incomplete, so that a crash between the
     * driver's commit and the final record leaves a record the garbage
     * collector finds, never an orphan tree nobody knows of. */
    json_object_set_new(rec, "incomplete", json_true());
    if (strata_store_write_json(ctx->store, s->path, rec, err) < 0)
      goto fail;
    if (commit_stage(ctx, s->ops, s->state, s->hex, &s->stage, &local) == 0)
      break;
    strata_store_remove(ctx->store, s->path, NULL);
    /* a detached stage the driver cannot tie to its parent as it is */
    if (s->detached && local->errnum == EXDEV) {
      log_debug("layer %.12s: %s", s->hex, local->msg);
      drop_stage(s);
      s->redo = true;
      continue;
    }
    s->staged = false; /* a failed commit disposes of the stage */
    strata_error_move(err, &local);
    strata_error_wrap(err, "cannot commit layer %s", li->blob_digest);
    goto fail;
  }
  s->staged = false;
  record_usage(s->ops, s->state, s->hex, &s->stage, s->stats.disk, rec);
  json_object_del(rec, "incomplete");
  snprintf(split_path, sizeof(split_path), "layers/%s.tar-split", s->hex);
  if (s->split != NULL) {
    cleanup_error struct strata_error *e = NULL;
    if (strata_store_write_file(ctx->store, split_path, s->split, s->split_len, &e) < 0)
      log_warning("cannot keep the tar-split record of layer %s: %s", li->chain_id, e->msg);
  }
  if (strata_store_write_json(ctx->store, s->path, rec, err) < 0) {
    cleanup_error struct strata_error *e = NULL;
    strata_store_remove(ctx->store, split_path, NULL);
    pthread_mutex_lock(&driver_lock);
    s->ops->layer_remove(s->state, s->hex, &e);
    pthread_mutex_unlock(&driver_lock);
    strata_store_remove(ctx->store, s->path, NULL);
    goto fail;
  }
  staged_free(s);
  return 0;
fail:
  staged_free(s);
  return -1;
}

int strata_layer_import(struct strata_context *ctx, int fd, const struct strata_layer_import *li,
                        uint64_t *size, struct strata_error **err) {
  struct strata_layer_staged *s;
  if (strata_layer_import_begin(ctx, fd, li, false, &s, err) < 0)
    return -1;
  return strata_layer_import_finish(ctx, s, size, err);
}

/* Adds CHAIN and its ancestors to LIVE. */
static void mark_chain(struct strata_store *store, json_t *live, const char *chain) {
  char cur[STRATA_DIGEST_STR_LEN + 1];
  while (chain != NULL && json_object_get(live, chain) == NULL) {
    cleanup_json json_t *rec = NULL;
    const char *parent;
    json_object_set_new(live, chain, json_true());
    if (strata_layer_load(store, chain, &rec, NULL) != 0)
      return;
    parent = json_string_value(json_object_get(rec, "parent"));
    if (parent == NULL || !strata_digest_valid(parent))
      return;
    snprintf(cur, sizeof(cur), "%s", parent);
    chain = cur;
  }
}

int strata_layer_gc(struct strata_context *ctx, void (*fn)(const char *chain_id, void *arg),
                    void *arg, struct strata_error **err) {
  const struct strata_storage_ops *ops;
  void *state;
  cleanup_json json_t *live = json_object();
  cleanup_strv char **images = NULL;
  cleanup_strv char **containers = NULL;
  cleanup_strv char **layers = NULL;

  if (strata_context_storage(ctx, &ops, &state, err) < 0)
    return -1;
  images = strata_image_list(ctx->store, err);
  containers = images ? strata_container_list(ctx->store, err) : NULL;
  layers = containers ? strata_store_list(ctx->store, "layers", err) : NULL;
  if (layers == NULL)
    return -1;
  for (char **i = images; *i; i++) {
    cleanup_json json_t *rec = NULL;
    json_t *ls;
    size_t k;
    json_t *v;
    if (strata_image_load(ctx->store, *i, &rec, err) < 0)
      return -1;
    ls = json_object_get(rec, "layers");
    json_array_foreach(ls, k, v) mark_chain(ctx->store, live, json_string_value(v));
  }
  for (char **c = containers; *c; c++) {
    cleanup_json json_t *rec = NULL;
    if (strata_container_load(ctx->store, *c, &rec, err) < 0)
      return -1;
    mark_chain(ctx->store, live, json_string_value(json_object_get(rec, "StrataLayer")));
  }
  for (char **l = layers; *l; l++) {
    char chain[80], path[128];
    cleanup_error struct strata_error *e = NULL;
    snprintf(chain, sizeof(chain), "sha256:%s", *l);
    if (json_object_get(live, chain) != NULL)
      continue;
    {
      /* an image's init layer lives as long as the image: `run --rm`
       * would otherwise make it again on every run */
      cleanup_json json_t *rec = NULL;
      if (strata_layer_load(ctx->store, chain, &rec, NULL) == 0 &&
          json_is_true(json_object_get(rec, "init")) &&
          json_object_get(rec, "incomplete") == NULL &&
          json_string_value(json_object_get(rec, "parent")) != NULL &&
          json_object_get(live, json_string_value(json_object_get(rec, "parent"))) != NULL)
        continue;
    }
    log_debug("removing unused layer %s", chain);
    if (ops->layer_remove(state, *l, &e) < 0) {
      log_warning("cannot remove layer %s: %s", chain, e->msg);
      continue;
    }
    snprintf(path, sizeof(path), "layers/%s.tar-split", *l);
    strata_store_remove(ctx->store, path, NULL);
    snprintf(path, sizeof(path), "layers/%s.json", *l);
    if (strata_store_remove(ctx->store, path, err) < 0)
      return -1;
    if (fn != NULL)
      fn(chain, arg);
  }
  return 0;
}

int strata_storage_diff_dirs(struct strata_context *ctx, const char *id, const char *parent_chain,
                             enum strata_diff_kind kind, struct strata_diff_dirs *out,
                             struct strata_error **err) {
  const struct strata_storage_ops *ops;
  void *state;

  memset(out, 0, sizeof(*out));
  out->size = sizeof(*out);
  if (strata_context_storage(ctx, &ops, &state, err) < 0)
    return -1;
  if (ops->version < 2 || ops->diff_dirs == NULL)
    return strata_error_set(err, 0, "storage driver '%s' cannot list changes (it predates ABI 1.2)",
                            ctx->storage->info->name);
  if (parent_chain != NULL && !strata_digest_valid(parent_chain))
    return strata_error_set(err, 0, "invalid chain ID '%s'", parent_chain);
  if (ops->diff_dirs(state, id, parent_chain ? strata_digest_hex(parent_chain) : NULL, kind, out,
                     err) < 0)
    return -1;
  if (out->upper == NULL || out->lowers == NULL) {
    strata_diff_dirs_clear(out);
    return strata_error_set(err, 0, "storage driver '%s' gave no directories",
                            ctx->storage->info->name);
  }
  return 0;
}

void strata_diff_dirs_clear(struct strata_diff_dirs *d) {
  free(d->upper);
  for (char **l = d->lowers; l && *l; l++)
    free(*l);
  free(d->lowers);
  d->upper = NULL;
  d->lowers = NULL;
}

/* ---------------------------------------------------------------- init layers */

/* What an isolation backend mounts on, made in the init layer when the
 * image lacks it: directories first, then the files in /etc. */
static const char *const init_dirs[] = {"proc", "sys", "dev", "etc"};
static const char *const init_files[] = {"etc/hostname", "etc/hosts", "etc/resolv.conf"};

/* *DISK gets what the entries made take. */
static int fill_init_layer(int rootfd, uint64_t *disk, struct strata_error **err) {
  struct stat st;
  *disk = 0;
  for (size_t i = 0; i < sizeof(init_dirs) / sizeof(init_dirs[0]); i++) {
    if (fstatat(rootfd, init_dirs[i], &st, AT_SYMLINK_NOFOLLOW) == 0)
      continue; /* whatever the image has (a symlink is the backend's to refuse) */
    if (errno != ENOENT)
      return strata_error_set(err, errno, "cannot inspect /%s", init_dirs[i]);
    if ((mkdirat(rootfd, init_dirs[i], 0755) < 0 && errno != EEXIST) ||
        fchmodat(rootfd, init_dirs[i], 0755, 0) < 0) /* mkdir went through the umask */
      return strata_error_set(err, errno, "cannot create /%s", init_dirs[i]);
    if (fstatat(rootfd, init_dirs[i], &st, AT_SYMLINK_NOFOLLOW) == 0)
      *disk += (uint64_t)st.st_blocks * 512;
  }
  for (size_t i = 0; i < sizeof(init_files) / sizeof(init_files[0]); i++) {
    cleanup_close int fd = -1;
    if (fstatat(rootfd, init_files[i], &st, AT_SYMLINK_NOFOLLOW) == 0)
      continue;
    if (errno == ENOTDIR || errno == ELOOP)
      continue; /* /etc is not a directory: left to the backend */
    if (errno != ENOENT)
      return strata_error_set(err, errno, "cannot inspect /%s", init_files[i]);
    /* "etc" was checked to be a directory, not a symlink, above or made */
    if (fstatat(rootfd, "etc", &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
      continue;
    fd = openat(rootfd, init_files[i], O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0 || fchmod(fd, 0644) < 0)
      return strata_error_set(err, errno, "cannot create /%s", init_files[i]);
    if (fstat(fd, &st) == 0)
      *disk += (uint64_t)st.st_blocks * 512;
  }
  return 0;
}

int strata_layer_init(struct strata_context *ctx, const char *top, char **init_chain,
                      struct strata_error **err) {
  const struct strata_storage_ops *ops;
  void *state;
  struct strata_layer_stage stage = {.size = sizeof(stage), .dirfd = -1};
  char chain[STRATA_DIGEST_STR_LEN + 1], path[128];
  cleanup_free char *seed = NULL;
  cleanup_json json_t *rec = NULL;
  const char *hex;
  uint64_t disk;

  if (asprintf(&seed, "strata init layer v1 on %s", top) < 0)
    return strata_error_set(err, ENOMEM, "cannot create the init layer");
  strata_digest_buffer(seed, strlen(seed), chain);
  hex = strata_digest_hex(chain);
  *init_chain = strdup(chain);
  if (*init_chain == NULL)
    return strata_error_set(err, ENOMEM, "cannot create the init layer");
  if (strata_layer_exists(ctx->store, chain))
    return 0;
  if (strata_context_storage(ctx, &ops, &state, err) < 0 ||
      record_path(chain, path, sizeof(path), err) < 0)
    goto fail;
  if (ops->layer_stage(state, hex, strata_digest_hex(top), &stage, err) < 0) {
    strata_error_wrap(err, "cannot stage the init layer");
    goto fail;
  }
  if (fill_init_layer(stage.dirfd, &disk, err) < 0) {
    ops->layer_abort(state, hex, &stage);
    strata_error_wrap(err, "cannot create the init layer");
    goto fail;
  }
  rec = json_pack("{s:s, s:n, s:s, s:b, s:I, s:s, s:b}", "chain_id", chain, "diff_id", "parent",
                  top, "init", 1, "size", (json_int_t)0, "driver", ctx->storage->info->name,
                  "incomplete", 1);
  if (rec == NULL || strata_store_write_json(ctx->store, path, rec, err) < 0) {
    if (rec == NULL)
      strata_error_set(err, ENOMEM, "cannot record the init layer");
    ops->layer_abort(state, hex, &stage);
    goto fail;
  }
  if (commit_stage(ctx, ops, state, hex, &stage, err) < 0) {
    strata_store_remove(ctx->store, path, NULL);
    strata_error_wrap(err, "cannot commit the init layer");
    goto fail;
  }
  record_usage(ops, state, hex, &stage, disk, rec);
  json_object_del(rec, "incomplete");
  if (strata_store_write_json(ctx->store, path, rec, err) < 0)
    goto fail; /* the incomplete record lets the garbage collector find it */
  return 0;
fail:
  free(*init_chain);
  *init_chain = NULL;
  return -1;
}
