/* Path operations that never leave a root directory: every lookup goes
 * through openat2(RESOLVE_IN_ROOT), and nothing follows a final symlink unless
 * asked.  These back the layer engine and the host table's fs services. */
#ifndef STRATA_CORE_SAFE_PATH_H
#define STRATA_CORE_SAFE_PATH_H

#include <stdint.h>
#include <sys/types.h>

#include "error.h"

/* openat2(rootfd, path, flags, mode) with RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS:
 * symlinks and ".." resolve as if rootfd were "/".  Returns an fd (the caller
 * closes it) or negative with *err set (errno kept in (*err)->errnum). */
int strata_open_in_root(int rootfd, const char *path, int flags, mode_t mode,
                        struct strata_error **err);
/* Same, but also fails (ELOOP) on any symlink on the way. */
int strata_open_in_root_nofollow(int rootfd, const char *path, int flags, mode_t mode,
                                 struct strata_error **err);

/* mkdir -p PATH below DIRFD (resolved in root); new directories get MODE. */
int strata_mkdir_p_at(int dirfd, const char *path, mode_t mode, struct strata_error **err);

/* Remove NAME (a single component) inside DIRFD and everything below it,
 * never following symlinks and never crossing into another mount.  A missing
 * NAME is not an error. */
int strata_remove_tree_at(int dirfd, const char *name, struct strata_error **err);
/* Remove every entry inside DIRFD, keeping the directory itself. */
int strata_empty_dir_at(int dirfd, struct strata_error **err);

/* Lexically clean a layer path: strip leading "/" and "./", fold "//" and
 * ".", resolve ".." against what came before.  Returns a malloc'd relative
 * path ("" for the root itself), or NULL with errno=EINVAL if it climbs
 * above the root. */
char *strata_clean_path(const char *path);

/* Write all of BUF to FD, retrying on EINTR and short writes. */
int strata_write_all(int fd, const void *buf, size_t len);

#endif
