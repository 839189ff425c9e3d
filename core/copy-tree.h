/* Copying a whole tree: the storage drivers' copy of a parent layer, of a
 * layer into a container, and overlay's flattening all go through here
 * (the host table's copy_tree). */
#ifndef STRATA_CORE_COPY_TREE_H
#define STRATA_CORE_COPY_TREE_H

#include <strata/plugin/host.h>

#include "error.h"

/* Copies everything inside directory SRCFD into the existing directory
 * DSTFD, then SRCFD's own owner, mode, xattrs and times onto DSTFD.
 * Names are never followed; hardlinks inside the tree stay hardlinks;
 * files are cloned (FICLONE) where the file system can, else copied with
 * copy_file_range over their data segments only (holes stay holes), by a
 * few threads at once.  FLAGS: STRATA_COPY_*. */
int strata_copy_tree(int srcfd, int dstfd, unsigned flags, struct strata_error **err);

/* The host table's link_tree: the same tree as strata_copy_tree makes,
 * but every non-directory in it is a hardlink to SRCFD's, so the two share
 * their files; a name that cannot take another link gets a copy.  Only for
 * a tree nobody writes into in place (a layer).  *BYTES gets what the new
 * tree took: its directories and any copies. */
int strata_link_tree(int srcfd, int dstfd, uint64_t *bytes, struct strata_error **err);

/* The host table's disk_usage: allocated bytes under the directory PATH
 * below AT (AT itself when PATH is NULL or ""), each inode once; with
 * REFFD >= 0, leaving out what is shared with that tree (same path, inode
 * and ctime: a snapshot's untouched files). */
int strata_disk_usage(int at, const char *path, int reffd, uint64_t *bytes,
                      struct strata_error **err);

#endif
