/* The pull flow, owned once here for every transport: fetch the manifest,
 * verify it, pick the platform, fetch and verify the config, import every
 * missing layer, then publish the image record and its name. */
#ifndef STRATA_CORE_PULL_H
#define STRATA_CORE_PULL_H

#include <stdbool.h>
#include <stdio.h>

#include <strata/plugin/transport.h>

#include "context.h"
#include "error.h"
#include "progress.h"

#define STRATA_PULL_DEFAULT_DOWNLOADS 3
#define STRATA_PULL_MAX_DOWNLOADS 64

struct strata_pull_options {
  const char *platform; /* "os/arch[/variant]", NULL for the host's */
  bool quiet;           /* print nothing but errors */
  FILE *out;            /* where the transcript goes */
  enum strata_tls_verify tls_verify; /* --tls-verify; 0 (default) lets the config decide */
  enum strata_progress_mode progress; /* how the transcript looks (auto: tty or plain) */
  unsigned max_downloads; /* layers fetched at once; 0: the config's, else 3 */
};

/* Pulls WHAT ("oci:/dir:tag", "docker://x", "busybox:1").  On success
 * *image_id (optional) gets the image ID (malloc'd) and *name (optional) the
 * full name it was tagged with.  Takes the store's exclusive lock. */
int strata_pull(struct strata_context *ctx, const char *what, const struct strata_pull_options *opts,
                char **image_id, char **name, struct strata_error **err);

#endif
