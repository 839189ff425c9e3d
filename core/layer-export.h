/* The reverse direction of the layer engine: what changed in a layer or a
 * container compared with the layers below it, and that change set written
 * as an OCI layer tar (whiteouts ".wh.NAME", opaque markers ".wh..wh..opq").
 *
 * The storage driver only says where the trees are (diff_dirs): an overlay
 * diff holds exactly the changes, in overlay's form; whole trees (btrfs,
 * copy) are compared with the parent's.  Every walk is fd-relative and never
 * follows a symlink, so a container's own links cannot lead it elsewhere.
 *
 * Also the exact regeneration of an imported layer: the import keeps the
 * tar stream's headers and padding (a "tar-split" record, as Docker and
 * containers/storage do) and the regular files' contents are read back from
 * the layer's tree, so the stream hashes to the original diff ID again. */
#ifndef STRATA_CORE_LAYER_EXPORT_H
#define STRATA_CORE_LAYER_EXPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <strata/plugin/storage.h>

#include "digest.h"
#include "error.h"

/* One change, as `docker diff` shows it. */
struct strata_change {
  char *path;   /* relative to the root, no leading '/': "etc/passwd" */
  char kind;    /* 'A' added, 'C' changed, 'D' deleted */
  bool opaque;  /* a directory hiding everything below it (written as ".wh..wh..opq") */
  bool covered; /* a deletion implied by an opaque parent: no whiteout of its own */
};

struct strata_changes {
  struct strata_change *v;
  size_t n, cap;
};

/* Appends a change (PATH is copied).  Returns 0 or -1 (ENOMEM). */
int strata_changes_add(struct strata_changes *c, const char *path, char kind, bool opaque,
                       bool covered);
/* Docker's order: by path, byte by byte, so a directory comes before what
 * is inside it. */
void strata_changes_sort(struct strata_changes *c);
void strata_changes_free(struct strata_changes *c);
/* Is PATH inside directory DIR (both relative)? */
bool strata_path_within(const char *path, const char *dir);

/* Lists the changes of DIRS->upper against DIRS->lowers (see struct
 * strata_diff_dirs), sorted. */
int strata_changes_collect(const struct strata_diff_dirs *dirs, struct strata_changes *out,
                           struct strata_error **err);

/* Where layer tar bytes go: WRITE gets every byte in order. */
struct strata_tar_sink {
  int (*write)(void *arg, const void *buf, size_t len, struct strata_error **err);
  void *arg;
};

/* Writes CHANGES (sorted) as an uncompressed PAX layer tar, taking entries
 * from the tree UPPER (an absolute path).  Hardlinks between written files
 * stay hardlinks; xattrs are kept except trusted.overlay.* and
 * security.selinux; deletions become whiteouts. */
int strata_layer_export(const char *upper, const struct strata_changes *changes,
                        const struct strata_tar_sink *sink, struct strata_error **err);

/* ---- tar-split: keeping what it takes to write an imported layer again */

struct strata_tar_split;

struct strata_tar_split *strata_tar_split_new(void);
void strata_tar_split_free(struct strata_tar_split *s);
/* Hands over the raw stream bytes [OFFSET, OFFSET+LEN), in order. */
int strata_tar_split_feed(struct strata_tar_split *s, uint64_t offset, const void *buf, size_t len);
/* The payload of the regular file PATH (relative, cleaned) is the SIZE bytes
 * at OFFSET: they are not kept, but read back from the tree later. */
int strata_tar_split_file(struct strata_tar_split *s, uint64_t offset, uint64_t size,
                          const char *path);
/* Ends the stream at TOTAL bytes and returns the record (malloc'd). */
int strata_tar_split_finish(struct strata_tar_split *s, uint64_t total, char **data, size_t *len,
                            struct strata_error **err);

/* The size of the stream a record describes. */
int strata_tar_split_size(const char *data, size_t len, uint64_t *size, struct strata_error **err);
/* Writes the stream a record describes, file contents read from the tree
 * ROOT (an absolute path), into SINK, and fills DIGEST with its digest. */
int strata_tar_split_replay(const char *data, size_t len, const char *root,
                            const struct strata_tar_sink *sink,
                            char digest[STRATA_DIGEST_STR_LEN + 1], struct strata_error **err);

#endif
