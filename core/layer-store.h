/* Layer records (layers/HEX.json, keyed by chain ID) and the import of a
 * layer blob: decompress, hash the tar stream, apply it through the layer
 * engine into the storage driver's staged layer, check the diff ID, then
 * publish.  Also the garbage collection of layers nothing uses. */
#ifndef STRATA_CORE_LAYER_STORE_H
#define STRATA_CORE_LAYER_STORE_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "context.h"
#include "decompress.h"
#include "error.h"

/* Returns 1 when the record does not exist. */
int strata_layer_load(struct strata_store *store, const char *chain_id, json_t **record,
                      struct strata_error **err);
bool strata_layer_exists(struct strata_store *store, const char *chain_id);

struct strata_layer_import {
  const char *chain_id;         /* the new layer */
  const char *parent_chain_id;  /* NULL for a base layer */
  const char *diff_id;          /* expected digest of the uncompressed tar */
  const char *blob_digest;      /* digest of the compressed blob, for the record */
  uint64_t blob_size;
  /* When set, the blob's bytes come through READ instead of FD: a download
   * still in progress streams straight into extraction.  READ must only
   * report the end once the blob's digest has been checked. */
  strata_read_fn read;
  void *read_arg;
  /* May be NULL.  READ is called from a thread of the import's own; when
   * the import gives up before the end, CANCEL(READ_ARG) is called from
   * another thread, and a READ waiting for bytes must then return -1. */
  void (*cancel)(void *read_arg);
  /* May be NULL.  Starts READ over from the blob's first byte: a layer
   * begun detached may have to be written again (see
   * strata_layer_import_finish).  Never called while READ is in use. */
  int (*rewind)(void *read_arg, struct strata_error **err);
};

/* Imports the layer blob readable from FD (positioned at its start), or
 * through li->read.  On failure nothing is published and the staged layer
 * is thrown away. */
int strata_layer_import(struct strata_context *ctx, int fd, const struct strata_layer_import *li,
                        uint64_t *size, struct strata_error **err);

/* An import in two halves, so that several layers of one image are
 * written at once and published in order.  LI (and what it points to)
 * must outlive the staged layer. */
struct strata_layer_staged;

/* The first half: stages the layer and writes its blob into it.  With
 * DETACHED, the parent need not be published yet, when the storage driver
 * can stage that way (STRATA_STORAGE_CAP_DETACHED_STAGE; otherwise the
 * parent must be published).  Threads may run this at once; the driver's
 * own calls are made one at a time. */
int strata_layer_import_begin(struct strata_context *ctx, int fd,
                              const struct strata_layer_import *li, bool detached,
                              struct strata_layer_staged **out, struct strata_error **err);
/* The second half, once the parent is published: a detached stage takes
 * the attributes of the parent's directories it only implied, or, when it
 * cannot stand without the parent's tree (a hardlink to a parent's file,
 * a path through the parent's symlink), is written again on the parent
 * (with LI->rewind); then the layer is published.  Frees S. */
int strata_layer_import_finish(struct strata_context *ctx, struct strata_layer_staged *s,
                               uint64_t *size, struct strata_error **err);
/* Throws S away (NULL is fine). */
void strata_layer_import_abort(struct strata_layer_staged *s);

/* Removes every layer that no image and no container needs.  Needs the
 * exclusive lock and the storage driver.  FN (may be NULL) hears of each
 * chain ID removed. */
int strata_layer_gc(struct strata_context *ctx, void (*fn)(const char *chain_id, void *arg),
                    void *arg, struct strata_error **err);

/* Asks the storage driver where the changes of layer or container ID (hex)
 * are; PARENT_CHAIN is the chain ID of the layer below (NULL for a base
 * layer).  Fails with a clear message when the driver cannot say. */
#include <strata/plugin/storage.h>
int strata_storage_diff_dirs(struct strata_context *ctx, const char *id, const char *parent_chain,
                             enum strata_diff_kind kind, struct strata_diff_dirs *out,
                             struct strata_error **err);
void strata_diff_dirs_clear(struct strata_diff_dirs *d);

/* The init layer of TOP (Docker's "-init" layer): an empty /proc, /sys,
 * /dev, /etc/hostname, /etc/hosts and /etc/resolv.conf wherever the image
 * lacks them, so a backend's mount points never land in a container's
 * writable layer.  One per image top layer, shared by its containers, made
 * on first use (needs the exclusive lock); *init_chain gets its chain ID. */
int strata_layer_init(struct strata_context *ctx, const char *top, char **init_chain,
                      struct strata_error **err);

#endif
