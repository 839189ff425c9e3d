/* The layer engine: applies a layer's tar stream to a directory without ever
 * touching anything outside it.  libarchive is used as a reader only; every
 * path is resolved inside the root (openat2 RESOLVE_IN_ROOT), files are made
 * with O_NOFOLLOW|O_EXCL and all metadata is set through fds or NOFOLLOW
 * calls. */
#ifndef STRATA_CORE_LAYER_H
#define STRATA_CORE_LAYER_H

#include <stdbool.h>
#include <stdint.h>
#include <archive.h>
#include <strata/plugin/storage.h>

#include "error.h"

struct strata_layer_stats {
  uint64_t size;    /* bytes of regular-file content written */
  uint64_t entries; /* tar entries applied */
  uint64_t disk;    /* what the inodes made took on disk: a layer's usage is
                     * recorded as it is written, never walked */
};

/* Read every entry of A (opened by the caller, tar format, already
 * decompressed) and apply it under ROOTFD.  MODE says how whiteouts land
 * (see enum strata_whiteout_mode).  On failure the tree is left as it is:
 * the caller throws the staged layer away. */
int strata_layer_apply(int rootfd, struct archive *a, enum strata_whiteout_mode mode,
                       struct strata_layer_stats *stats, struct strata_error **err);

/* What a layer written into a detached stage (STRATA_STAGE_DETACHED: an
 * empty directory, its parent's tree out of sight) took from that tree
 * without seeing it, for the import to settle once the parent is there. */
struct strata_layer_deps {
  /* Directories the layer made only because entries lie inside them, with
   * no entry of their own: real paths relative to the root, "" for the
   * root itself.  Through the parent's tree they would have been the
   * parent's directories (or symlinks leading elsewhere). */
  char **implied;
  size_t nimplied;
  /* An entry cannot be written without the parent's files (a hardlink to
   * one of them): the layer must be staged again on top of its parent. */
  bool needs_parent;
};
void strata_layer_deps_clear(struct strata_layer_deps *d);

/* What the import wants to hear of while a layer is applied. */
struct strata_layer_hooks {
  /* Regular file PATH (cleaned) got the whole payload of its entry, the
   * SIZE bytes at OFFSET of the uncompressed stream.  Not fatal. */
  void (*file)(void *arg, uint64_t offset, uint64_t size, const char *path);
  void *arg;
  /* When set, the root is a detached stage (whiteouts in overlay form):
   * what the layer takes from its unseen parent is recorded here.  On a
   * failure with DEPS->needs_parent set, the layer is not bad: it needs
   * staging on its parent. */
  struct strata_layer_deps *deps;
};

/* strata_layer_apply, telling HOOKS (may be NULL) as it goes. */
int strata_layer_apply_hooked(int rootfd, struct archive *a, enum strata_whiteout_mode mode,
                              struct strata_layer_stats *stats,
                              const struct strata_layer_hooks *hooks, struct strata_error **err);

#endif
