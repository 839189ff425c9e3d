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

#define STRATA_TRANSPORT_OPS_VERSION 3

/* caps bits */
/* Locations are image references ("busybox:1", "127.0.0.1:5000/x@sha256:..."):
 * the core parses and normalises them and hands the parts over in
 * struct strata_transport_options, so every registry transport names images
 * the same way (ops version >= 2, with open_with_options). */
#define STRATA_TRANSPORT_CAP_REFERENCE (1u << 0)

/* What the user said about TLS for one pull (--tls-verify). */
enum strata_tls_verify {
  STRATA_TLS_VERIFY_DEFAULT = 0, /* not said: the transport's configuration decides */
  STRATA_TLS_VERIFY_ON = 1,      /* --tls-verify=true: verify even an insecure registry */
  STRATA_TLS_VERIFY_OFF = 2,     /* --tls-verify=false: no verification, plain HTTP allowed */
};

/* Per-pull options (ops version >= 2).  Pointers belong to the core and are
 * valid until open_with_options returns: copy what you keep. */
struct strata_transport_options {
  uint32_t size;       /* sizeof, set by the core */
  uint32_t tls_verify; /* enum strata_tls_verify */
  /* With STRATA_TRANSPORT_CAP_REFERENCE: the parsed, normalised reference
   * (NULL otherwise). */
  const char *name;    /* the full name: "docker.io/library/busybox:1", "h:5000/x@sha256:..." */
  const char *domain;  /* "docker.io", "127.0.0.1:5000" */
  const char *path;    /* "library/busybox" */
  const char *tag;     /* "1", or NULL when pulling by digest */
  const char *digest;  /* "sha256:...", or NULL */
};

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
  uint64_t caps;    /* STRATA_TRANSPORT_CAP_* */

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

  /* version >= 2, may be NULL: open with per-pull options.  When set, the
   * core calls it instead of open. */
  int (*open_with_options)(void *state, const char *location,
                           const struct strata_transport_options *opts, void **session,
                           struct strata_error **err);

  /* Since ABI 1.2 (version >= 3), may be NULL: the images SESSION's
   * location holds, each as a location this transport opens as that one
   * image ("FILE:busybox:1", "FILE:@2"); one per name an image has.
   * *locations is a NULL-terminated array, it and its strings malloc'd and
   * freed by the core with free().  `strata load` pulls each. */
  int (*list_images)(void *session, char ***locations, struct strata_error **err);
  /* version >= 3 (ABI 1.2), may be NULL. */

  /* A second session on the image SESSION was opened for, sharing what it
   * learnt (endpoint, tokens) but nothing mutable: the core calls get_blob
   * on each session from its own thread at the same time, so layers
   * download in parallel.  Closed with close.  NULL: blobs are fetched one
   * at a time. */
  int (*session_clone)(void *session, void **clone, struct strata_error **err);

  /* strata login: do USERNAME and PASSWORD open the registry OPTS->domain
   * (OPTS->path, tag and digest are NULL)?  0 when the registry accepts
   * them (or wants none), negative with *err saying why not.  The plugin
   * stores nothing: the core writes the credentials file. */
  int (*check_auth)(void *state, const struct strata_transport_options *opts,
                    const char *username, const char *password, struct strata_error **err);
};

#ifdef __cplusplus
}
#endif
#endif
