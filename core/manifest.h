/* Image manifests, indexes and configs: OCI and Docker schema2, parsed and
 * checked once here for every transport. */
#ifndef STRATA_CORE_MANIFEST_H
#define STRATA_CORE_MANIFEST_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "error.h"

#define STRATA_MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define STRATA_MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define STRATA_MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define STRATA_MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define STRATA_MANIFEST_MAX (4u << 20) /* manifests and configs larger than this are refused */

enum strata_manifest_kind {
  STRATA_MANIFEST_IMAGE = 1, /* a single image manifest */
  STRATA_MANIFEST_INDEX = 2, /* an OCI index or Docker manifest list */
};

struct strata_descriptor {
  char *media_type;
  char *digest;
  int64_t size;
  char *os, *architecture, *variant; /* from "platform", index entries only */
};

struct strata_manifest {
  enum strata_manifest_kind kind;
  char *media_type;
  struct strata_descriptor config;       /* images */
  struct strata_descriptor *layers;      /* images */
  size_t nlayers;
  struct strata_descriptor *manifests;   /* indexes */
  size_t nmanifests;
};

/* Parses DATA (LEN bytes).  DECLARED is the media type the source announced
 * (may be NULL); a body whose own mediaType contradicts it, a schema1
 * manifest, or anything malformed is refused. */
int strata_manifest_parse(const char *data, size_t len, const char *declared,
                          struct strata_manifest **out, struct strata_error **err);
void strata_manifest_free(struct strata_manifest *m);

/* The host platform as OCI spells it ("linux", "amd64", "" or "v8"). */
void strata_host_platform(const char **os, const char **arch, const char **variant);
/* Parses "os/arch[/variant]". */
int strata_platform_parse(const char *s, char **os, char **arch, char **variant,
                          struct strata_error **err);
/* Picks the entry of index M for OS/ARCH/VARIANT (VARIANT NULL or "" matches
 * any, preferring an exact match).  Never falls back to another arch. */
int strata_manifest_pick(const struct strata_manifest *m, const char *os, const char *arch,
                         const char *variant, const struct strata_descriptor **out,
                         struct strata_error **err);

/* An image config: the document plus its rootfs.diff_ids. */
struct strata_image_config {
  json_t *doc;
  char **diff_ids; /* NULL-terminated */
  size_t ndiff_ids;
};
int strata_image_config_parse(const char *data, size_t len, struct strata_image_config **out,
                              struct strata_error **err);
void strata_image_config_free(struct strata_image_config *c);

/* chain_id(0) = diff_id(0); chain_id(n) = sha256(chain_id(n-1) + " " + diff_id(n)).
 * OUT must hold N entries of STRATA_DIGEST_STR_LEN + 1 bytes. */
void strata_chain_ids(char *const *diff_ids, size_t n, char (*out)[72]);

#endif
