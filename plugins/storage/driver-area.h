/* What the in-tree storage drivers share: their area (DATA, opened once,
 * with its folders layers/, staging/ and containers/), the checks of the IDs
 * they are handed, and the ops that are the same whatever a layer is made of
 * (a folder, a subvolume, an overlay diff).
 *
 * Compiled into each driver: a plugin still gets nothing from the core but
 * the host table, and exports nothing but its entry point (PLUGIN_LDFLAGS
 * hides these functions).  Not an interface for other plugins: it may change
 * with the drivers. */
#ifndef STRATA_DRIVER_AREA_H
#define STRATA_DRIVER_AREA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <strata/plugin/host.h>
#include <strata/plugin/plugin.h>
#include <strata/plugin/storage.h>

struct driver_area;

/* Removes NAME in DIR (both relative to DATA); a missing NAME is fine. */
typedef int driver_remove_fn(struct driver_area *a, const char *dir, const char *name,
                             struct strata_error **err);

/* Drops the leftover NAME found in DIR by driver_area_clear (and says so,
 * in the driver's words, when it cannot). */
typedef void driver_drop_fn(struct driver_area *a, const char *dir, const char *name);

/* A driver's state: this, or a struct that starts with it. */
struct driver_area {
  const struct strata_host *host;
  const char *domain;      /* for the log ("storage.copy") */
  char *data_dir;          /* DATA (owned) */
  int datafd;              /* -1 until first use */
  const char *const *dirs; /* the folders DATA holds (NULL-terminated) */
  const char *rootfs;      /* a container's root below containers/ID ("" for that folder) */
  driver_remove_fn *remove; /* how a layer or container goes; NULL: as a plain tree */
};

/* init: *STATE gets a zeroed SIZE-byte state (SIZE >= sizeof(struct
 * driver_area)) that starts as PROTO with the host, a copy of CTX's data
 * dir and no fd yet.  WHAT names the driver in the error ("cannot start the
 * WHAT driver").  The state is freed with driver_area_free. */
int driver_area_new(const struct strata_host *h, const struct strata_plugin_context *ctx,
                    const struct driver_area *proto, size_t size, const char *what, void **state,
                    struct strata_error **err);
/* fini: closes DATA and frees the state. */
void driver_area_free(void *state);

/* Opens (creating) DATA and its folders, once; returns the fd (the area
 * keeps it) or -1. */
int driver_area_fd(struct driver_area *a, struct strata_error **err);

/* Whether ID is a layer or container ID: lower-case hex, 1 to 128 digits,
 * so it is always one plain name. */
bool driver_valid_id(const char *id);

/* Checks ID ("invalid WHAT" when it is not one) and opens DATA: 0 or -1. */
int driver_area_use(struct driver_area *a, const char *id, const char *what,
                    struct strata_error **err);

/* Removes NAME in DIR the driver's way (a->remove). */
int driver_area_remove(struct driver_area *a, const char *dir, const char *name,
                       struct strata_error **err);
/* The same on a failure path, where the first error is the one to report:
 * whatever goes wrong here is dropped. */
void driver_area_discard(struct driver_area *a, const char *dir, const char *name);

/* Calls DROP for every entry of DATA/DIR whose name WANT accepts (names
 * starting with '.' never).  An unreadable DIR is skipped. */
void driver_area_clear(struct driver_area *a, const char *dir, bool (*want)(const char *name),
                       driver_drop_fn *drop);
bool driver_any_name(const char *name);
bool driver_new_name(const char *name); /* "ID.new": a container being made */
/* recover's common part: opens DATA, then drops every layer being written
 * (staging/) and every container being made (containers/ID.new). */
int driver_area_recover(struct driver_area *a, driver_drop_fn *drop, struct strata_error **err);

/* layer_stage's start: checks ID and PARENT, opens DATA and removes what an
 * interrupted run left of this very layer (staging/ID, layers/ID). */
int driver_stage_begin(struct driver_area *a, const char *id, const char *parent,
                       struct strata_error **err);
/* container_create's start: checks ID and LAYER, opens DATA and removes a
 * leftover containers/ID.new. */
int driver_create_begin(struct driver_area *a, const char *id, const char *layer,
                        struct strata_error **err);

/* Ops whose STATE is a struct driver_area. */
/* layer_commit's common part: syncs and closes the stage, then moves
 * staging/ID to layers/ID. */
int driver_layer_commit(void *state, const char *id, struct strata_layer_stage *stage,
                        struct strata_error **err);
void driver_layer_abort(void *state, const char *id, struct strata_layer_stage *stage);
int driver_layer_remove(void *state, const char *id, struct strata_error **err);
/* *PATH (caller frees) is DATA/containers/ID/ROOTFS, which must be a
 * directory (not a symlink to one). */
int driver_container_mount(void *state, const char *id, char **path, struct strata_error **err);
/* for a driver whose containers' roots are plain folders: nothing mounted */
int driver_container_unmount(void *state, const char *id, struct strata_error **err);
int driver_container_remove(void *state, const char *id, struct strata_error **err);
/* all that DATA/layers/ID and DATA/containers/ID hold */
int driver_layer_usage(void *state, const char *id, uint64_t *bytes, struct strata_error **err);
int driver_container_usage(void *state, const char *id, uint64_t *bytes,
                           struct strata_error **err);
/* For drivers whose every tree is whole: the upper is ID's tree, the lower
 * its parent layer's, and the core compares them. */
int driver_diff_whole(void *state, const char *id, const char *parent, enum strata_diff_kind kind,
                      struct strata_diff_dirs *out, struct strata_error **err);

/* Gives directory DST the owner, mode, times and xattrs of directory SRC,
 * never overlay's own xattrs (an xattr that cannot be set is logged, not
 * fatal).  WHAT names SRC in errors. */
int driver_copy_dir_attrs(struct driver_area *a, int src, int dst, const char *what,
                          struct strata_error **err);

#endif
