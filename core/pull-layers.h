/* The layer half of a pull: parallel downloads streamed straight into
 * verification and extraction.
 *
 * Up to max_downloads threads fetch blobs, each through its own transport
 * session (session_clone), lowest layer first.  Every byte goes to
 * ROOT/downloads/HEX.partial and into the blob's running sha256; the layer
 * engine reads the same file behind the download, a few hundred kilobytes
 * at a time, so extraction starts with the first bytes and memory stays
 * flat whatever the layer's size.  A few extraction threads each write a
 * layer into a stage of its own; with a driver that can stage a layer
 * before its parent is published (overlay, copy), independent layers are written
 * at once, otherwise one after the other.  The main thread publishes them
 * in order (a child's chain ID, and its tree, build on its parent's).  The
 * file is the buffer between download and extraction: a download runs
 * ahead of an extraction that waits, and a pull killed with SIGKILL leaves
 * what it had for the next one to resume with a Range
 * request.  The extraction only sees the end of a blob once its size and
 * digest are checked, and a layer is published only after its diff_id
 * matched; layers already in the store are not fetched. */
#ifndef STRATA_CORE_PULL_LAYERS_H
#define STRATA_CORE_PULL_LAYERS_H

#include <stdbool.h>
#include <stdint.h>

#include <strata/plugin/transport.h>

#include "context.h"
#include "error.h"
#include "manifest.h"
#include "progress.h"

struct strata_pull_layer {
  const struct strata_descriptor *desc;
  const char *chain_id;
  const char *parent_chain_id; /* NULL for the base layer */
  const char *diff_id;
  uint64_t size; /* out: bytes of file content (from the record when it existed) */
};

struct strata_pull_layers_options {
  struct strata_context *ctx;
  const struct strata_transport_ops *ops;
  void *session;          /* the pull's session; more are cloned from it */
  unsigned max_downloads; /* >= 1 */
  struct strata_progress *progress;
};

/* Brings every layer of LAYERS (base first) into the store.  On failure the
 * staged layer is thrown away and no partial download is left, except the
 * bytes of a transfer the network cut (kept for the next pull to resume);
 * layers published before the failure are the caller's to collect. */
int strata_pull_layers(const struct strata_pull_layers_options *o, struct strata_pull_layer *layers,
                       size_t n, struct strata_error **err);

#endif
