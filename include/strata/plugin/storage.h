/* Storage driver ABI.  A driver keeps layers (immutable once committed) and
 * gives each container a root file system with its own writable top.  The
 * core's layer engine writes layer contents; the driver only says where and
 * how whiteouts must be represented. */
#ifndef STRATA_PLUGIN_STORAGE_H
#define STRATA_PLUGIN_STORAGE_H

#include <stdint.h>
#include <strata/plugin/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

#define STRATA_STORAGE_OPS_VERSION 2

/* How the layer engine applies OCI whiteouts into a staged layer. */
enum strata_whiteout_mode {
  /* The staged directory already holds the parent's full tree: delete
   * whited-out paths in place (copy, btrfs). */
  STRATA_WHITEOUT_IN_PLACE = 0,
  /* The staged directory is an empty diff: record whiteouts as 0:0 character
   * devices and opaque directories as the overlay xattr (overlay). */
  STRATA_WHITEOUT_OVERLAY = 1,
};

/* A staged layer: the core writes into dirfd, then commits or aborts. */
struct strata_layer_stage {
  uint32_t size;               /* sizeof, set by the core */
  int dirfd;                   /* set by the driver: open O_DIRECTORY fd of the layer's root */
  uint32_t whiteout_mode;      /* set by the driver: enum strata_whiteout_mode */
  /* Since ABI 1.3: set by the driver when `size` covers it: the bytes of
   * disk the staged directory took before the core wrote into it (a copy
   * of the parent's tree, say; 0 for a snapshot or an empty directory).
   * The core adds what it writes and records the sum as the layer's disk
   * usage. */
  uint64_t usage;
  /* Since ABI 1.4: set by the core before layer_stage, read by the driver
   * only when `size` covers it.  STRATA_STAGE_* */
  uint32_t flags;
};

/* Capabilities a driver declares in strata_storage_ops.caps. */
/* Since ABI 1.4: layer_stage takes STRATA_STAGE_DETACHED. */
#define STRATA_STORAGE_CAP_DETACHED_STAGE (1ull << 0)

/* flags of struct strata_layer_stage */
/* Since ABI 1.4, only for a driver with STRATA_STORAGE_CAP_DETACHED_STAGE:
 * the parent may still be staged, being written by another thread (the
 * core publishes it before this layer).  The driver must not read it: it
 * gives an empty directory for the layer's own entries, whiteouts in
 * overlay form (whiteout_mode STRATA_WHITEOUT_OVERLAY), and ties the layer
 * to its parent at layer_commit.  The core fixes up, before the commit,
 * what depends on the parent's tree (the attributes of directories it only
 * implies), and stages the layer again in order when it cannot.  A commit
 * that cannot tie the layer to its parent this way (a stack too deep, say)
 * fails with EXDEV and leaves the stage for layer_abort; the core then
 * stages the layer again without the flag. */
#define STRATA_STAGE_DETACHED (1u << 0)

/* What diff_dirs is asked about (ABI 1.2). */
enum strata_diff_kind {
  STRATA_DIFF_LAYER = 0,     /* a committed layer */
  STRATA_DIFF_CONTAINER = 1, /* a container's writable layer */
};

/* flags of struct strata_diff_dirs */
/* UPPER holds exactly the changes, in overlay form: 0:0 character devices
 * are whiteouts and trusted.overlay.opaque="y" marks an opaque directory;
 * LOWERS is the parent's stack of such diffs, top first.  Without it, UPPER
 * is the full tree and LOWERS holds at most one entry, the parent's full
 * tree (none for a base layer). */
#define STRATA_DIFF_PURE (1u << 0)

/* Where the changes of a layer or container are (ABI 1.2).  The driver
 * fills every member but size; strings are malloc'd and freed by the core
 * with free(), LOWERS being a NULL-terminated malloc'd array. */
struct strata_diff_dirs {
  uint32_t size;  /* sizeof, set by the core */
  uint32_t flags; /* STRATA_DIFF_* */
  char *upper;    /* absolute path */
  char **lowers;  /* absolute paths, NULL-terminated (may be empty) */
};

struct strata_storage_ops {
  uint32_t version; /* STRATA_STORAGE_OPS_VERSION */
  uint64_t caps;    /* STRATA_STORAGE_CAP_* (0 before ABI 1.4) */

  /* Can this driver work on this host with its store at ctx->data_dir?
   * Returns 0 if so; otherwise negative with *err saying why. */
  int (*probe)(void *state, struct strata_error **err);

  /* Remove leftovers of interrupted work (staged layers, half-made
   * containers).  Called with the store's exclusive lock held. */
  int (*recover)(void *state, struct strata_error **err);

  /* Stage layer ID on top of PARENT (NULL for a base layer).  Fills *stage. */
  int (*layer_stage)(void *state, const char *id, const char *parent,
                     struct strata_layer_stage *stage, struct strata_error **err);
  /* Publish a staged layer atomically; closes stage->dirfd.  Syncing is
   * the core's (config key storage-sync): a driver need not syncfs. */
  int (*layer_commit)(void *state, const char *id, struct strata_layer_stage *stage,
                      struct strata_error **err);
  /* Throw a staged layer away; closes stage->dirfd.  Never fails. */
  void (*layer_abort)(void *state, const char *id, struct strata_layer_stage *stage);
  /* Delete a committed layer. */
  int (*layer_remove)(void *state, const char *id, struct strata_error **err);

  /* Make the writable layer of container ID on top of layer LAYER. */
  int (*container_create)(void *state, const char *id, const char *layer,
                          struct strata_error **err);
  /* Mount (if needed) and return the rootfs path in *path (malloc'd; the
   * caller frees it). */
  int (*container_mount)(void *state, const char *id, char **path, struct strata_error **err);
  int (*container_unmount)(void *state, const char *id, struct strata_error **err);
  int (*container_remove)(void *state, const char *id, struct strata_error **err);

  /* Since ABI 1.2 (version >= 2), may be NULL: where the files of layer or
   * container ID are and what to compare them with.  PARENT is the layer
   * below (the container's image layer, NULL for a base layer).  The trees
   * stay valid while the caller holds the store lock; a container's upper
   * need not be mounted. */
  int (*diff_dirs)(void *state, const char *id, const char *parent, enum strata_diff_kind kind,
                   struct strata_diff_dirs *out, struct strata_error **err);
  /* Since version 2 (ABI 1.2); NULL when the driver cannot tell.  The bytes
   * of disk committed layer ID holds on its own (what removing it frees).
   * The core calls it once, at import, and records the figure.  Leave it
   * NULL when a layer is a whole tree (a snapshot or copy of its parent):
   * since ABI 1.3 the core then counts what it writes into the stage and
   * adds stage->usage, and never walks the tree. */
  int (*layer_usage)(void *state, const char *id, uint64_t *bytes, struct strata_error **err);
  /* The same for container ID: its writable layer, all of it for a driver
   * that copies.  Called when the container is made, when it stops and
   * when a user asks (ps --size). */
  int (*container_usage)(void *state, const char *id, uint64_t *bytes, struct strata_error **err);
};

#ifdef __cplusplus
}
#endif
#endif
