/* Transport ABI.  A transport only moves bytes: it fetches manifests and
 * blobs for a location ("oci:/path/layout:tag" hands the transport
 * "/path/layout:tag").  The core verifies every digest, parses, picks the
 * platform and applies layers, so every transport gets that for free. */
#ifndef STRATA_PLUGIN_TRANSPORT_H
#define STRATA_PLUGIN_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>
#include <strata/plugin/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

#define STRATA_TRANSPORT_OPS_VERSION 1

/* A manifest (or index) as fetched.  Every pointer is malloc'd by the
 * plugin and freed by the core with free(). */
struct strata_manifest_reply {
  uint32_t size;      /* sizeof, set by the core before the call */
  char *data;         /* the exact bytes */
  size_t len;
  char *media_type;   /* as the source declared it, or NULL */
  char *digest;       /* the digest the source promised ("sha256:..."), or NULL */
  char *name;         /* the name to tag the pulled image with ("localhost/x:1"), or NULL */
};

/* Where blob bytes go.  write returns 0, or negative with *err set. */
struct strata_blob_sink {
  int (*write)(void *arg, const void *buf, size_t len, struct strata_error **err);
  void *arg;
};

struct strata_transport_ops {
  uint32_t version; /* STRATA_TRANSPORT_OPS_VERSION */
  uint64_t caps;    /* reserved, 0 */

  /* Open LOCATION (the reference without the "name:" prefix). */
  int (*open)(void *state, const char *location, void **session, struct strata_error **err);
  void (*close)(void *session);

  /* Fetch a manifest.  REFERENCE NULL means the one LOCATION names; a
   * "sha256:..." string means that digest (a child of an index). */
  int (*get_manifest)(void *session, const char *reference, struct strata_manifest_reply *reply,
                      struct strata_error **err);

  /* Stream blob DIGEST from byte OFFSET into SINK. */
  int (*get_blob)(void *session, const char *digest, uint64_t offset,
                  const struct strata_blob_sink *sink, struct strata_error **err);
};

#ifdef __cplusplus
}
#endif
#endif
