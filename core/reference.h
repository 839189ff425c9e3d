/* Image references the way Docker spells them: [domain/]path[:tag][@digest],
 * normalised to a full name ("busybox" -> "docker.io/library/busybox:latest")
 * and shown back in the familiar short form. */
#ifndef STRATA_CORE_REFERENCE_H
#define STRATA_CORE_REFERENCE_H

#include "error.h"

#define STRATA_DEFAULT_DOMAIN "docker.io"
#define STRATA_DEFAULT_TAG "latest"

struct strata_reference {
  char *domain; /* "docker.io", "localhost", "127.0.0.1:5000" */
  char *path;   /* "library/busybox" */
  char *tag;    /* "1", or NULL when only a digest was given */
  char *digest; /* "sha256:...", or NULL */
};

/* Parses S; a missing domain becomes docker.io (+ "library/" for single
 * component paths) and a missing tag "latest" unless a digest is given.
 * Returns 0 and a new reference in *out (free with strata_reference_free). */
int strata_reference_parse(const char *s, struct strata_reference **out, struct strata_error **err);
void strata_reference_free(struct strata_reference *ref);

/* "domain/path:tag" (or "@digest"); malloc'd. */
char *strata_reference_string(const struct strata_reference *ref);
/* "domain/path" without tag; malloc'd. */
char *strata_reference_repository(const struct strata_reference *ref);
/* Shorten a full repository name for display as Docker does:
 * "docker.io/library/busybox" -> "busybox", "docker.io/x/y" -> "x/y". Returns
 * a pointer into NAME. */
const char *strata_reference_familiar(const char *name);

/* Splits a user's image argument into transport and location:
 * "docker://x" -> ("docker", "x"); "oci:/dir:tag" -> ("oci", "/dir:tag") when
 * "oci" is in KNOWN (a NULL-terminated list); anything else -> ("docker", S).
 * *transport and *location are malloc'd. */
int strata_reference_split_transport(const char *s, const char *const *known, char **transport,
                                     char **location);

#endif
