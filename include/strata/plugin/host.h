/* Services the core offers plugins.  A plugin never links against core
 * internals: it receives this table in init and calls through it.
 * The table only grows by appending; check `size` before using a member that
 * came after the first release. */
#ifndef STRATA_PLUGIN_HOST_H
#define STRATA_PLUGIN_HOST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

struct strata_error;

enum strata_log_level {
  STRATA_LOG_ERROR = 0,
  STRATA_LOG_WARNING = 1,
  STRATA_LOG_INFO = 2,
  STRATA_LOG_DEBUG = 3,
};

#define STRATA_HOST_VERSION 1

struct strata_host {
  uint32_t version; /* STRATA_HOST_VERSION at the time the core was built */
  uint32_t size;    /* sizeof (struct strata_host) in the core */

  /* Logging: domain names the caller ("storage.copy"). */
  void (*log)(enum strata_log_level level, const char *domain, const char *fmt, ...)
      __attribute__((format(printf, 3, 4)));

  /* Errors: fill *err (if err is not NULL) with errnum (0 for none) and a
   * message; always returns -1 so a plugin can `return host->error(...)`. */
  int (*error)(struct strata_error **err, int errnum, const char *fmt, ...)
      __attribute__((format(printf, 3, 4)));
  /* Prefix an existing error with context ("cannot create layer: ..."); returns -1. */
  int (*error_wrap)(struct strata_error **err, const char *fmt, ...)
      __attribute__((format(printf, 2, 3)));

  /* Releases an error the plugin chose to swallow. */
  void (*error_free)(struct strata_error *err);

  /* Safe file system operations, all relative to a directory fd and never
   * leaving it: paths are resolved as if dirfd were "/" (RESOLVE_IN_ROOT). */
  int (*open_in_root)(int rootfd, const char *path, int flags, mode_t mode,
                      struct strata_error **err);
  /* Remove NAME under DIRFD and everything below it, without following
   * symlinks.  A missing NAME is not an error. */
  int (*remove_tree_at)(int dirfd, const char *name, struct strata_error **err);
  /* mkdir -p of PATH relative to DIRFD (each component created 0700 unless
   * it exists). */
  int (*mkdir_p_at)(int dirfd, const char *path, mode_t mode, struct strata_error **err);

  /* Since ABI 1.1: the plugin's own area.  Creates DIR (0700) and each of
   * SUBDIRS (a NULL-terminated list of names, may be NULL) inside it, then
   * returns an O_DIRECTORY fd of DIR that the plugin owns, or -1 with *err. */
  int (*open_area)(const char *dir, const char *const *subdirs, struct strata_error **err);

  /* Since ABI 1.2: copies everything inside directory SRCFD into the
   * existing directory DSTFD, then SRCFD's own owner, mode, xattrs and times
   * onto DSTFD.  Never follows a name; hardlinks stay hardlinks; files are
   * cloned (FICLONE) where the file system can, else copied over their data
   * segments only (holes stay holes), several at once.  FLAGS:
   * STRATA_COPY_*.  Check `size` before calling it. */
  int (*copy_tree)(int srcfd, int dstfd, unsigned flags, struct strata_error **err);

  /* Since ABI 1.2: the disk space the directory PATH below DIRFD (DIRFD
   * itself when PATH is NULL or "") holds: allocated blocks, each inode
   * once, not crossing into other mounts, into *BYTES.  PATH is opened
   * without following a symlink.  With REFFD >= 0 (a tree it was
   * snapshotted from), an entry found at the same path in REFFD with the
   * same inode and ctime is shared with it and not counted: what the tree
   * holds on its own. */
  int (*disk_usage)(int dirfd, const char *path, int reffd, uint64_t *bytes,
                    struct strata_error **err);

  /* Since ABI 1.3: the tree copy_tree makes, but every non-directory in it
   * is a hardlink to SRCFD's (a name that cannot take another link gets a
   * copy), so the two trees share their files: only for a tree nobody
   * writes into in place, like a layer staged on its parent's.  *BYTES
   * gets the disk the new tree took (its directories and any copies).
   * Check `size` before calling it. */
  int (*link_tree)(int srcfd, int dstfd, uint64_t *bytes, struct strata_error **err);
};

/* copy_tree: leave out overlayfs's own xattrs (trusted.overlay.*): for a
 * copy taken through an overlay mount. */
#define STRATA_COPY_DROP_OVERLAY_XATTRS 0x1u

#ifdef __cplusplus
}
#endif
#endif
