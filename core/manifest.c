#include "config.h"
#include "manifest.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "cleanup.h"
#include "digest.h"
#include "json-cleanup.h"

static void descriptor_clear(struct strata_descriptor *d) {
  free(d->media_type);
  free(d->digest);
  free(d->os);
  free(d->architecture);
  free(d->variant);
  memset(d, 0, sizeof(*d));
}

void strata_manifest_free(struct strata_manifest *m) {
  if (m == NULL)
    return;
  free(m->media_type);
  descriptor_clear(&m->config);
  for (size_t i = 0; i < m->nlayers; i++)
    descriptor_clear(&m->layers[i]);
  free(m->layers);
  for (size_t i = 0; i < m->nmanifests; i++)
    descriptor_clear(&m->manifests[i]);
  free(m->manifests);
  free(m);
}

static char *dup_string(json_t *obj, const char *key) {
  json_t *v = json_object_get(obj, key);
  return json_is_string(v) ? strdup(json_string_value(v)) : NULL;
}

static int parse_descriptor(json_t *j, struct strata_descriptor *d, const char *what,
                            struct strata_error **err) {
  json_t *size = json_object_get(j, "size");
  json_t *platform = json_object_get(j, "platform");

  if (!json_is_object(j))
    return strata_error_set(err, 0, "invalid manifest: %s is not an object", what);
  d->media_type = dup_string(j, "mediaType");
  d->digest = dup_string(j, "digest");
  if (d->digest == NULL || !strata_digest_valid(d->digest))
    return strata_error_set(err, 0, "invalid manifest: %s has an invalid digest '%s'", what,
                            d->digest ? d->digest : "");
  if (!json_is_integer(size) || json_integer_value(size) < 0)
    return strata_error_set(err, 0, "invalid manifest: %s %s has no valid size", what, d->digest);
  d->size = json_integer_value(size);
  if (json_is_object(platform)) {
    d->os = dup_string(platform, "os");
    d->architecture = dup_string(platform, "architecture");
    d->variant = dup_string(platform, "variant");
  }
  return 0;
}

static bool is_schema1(const char *mt) {
  return mt != NULL && strncmp(mt, "application/vnd.docker.distribution.manifest.v1", 47) == 0;
}

static bool is_index_type(const char *mt) {
  return mt && (strcmp(mt, STRATA_MT_OCI_INDEX) == 0 || strcmp(mt, STRATA_MT_DOCKER_LIST) == 0);
}

static bool is_manifest_type(const char *mt) {
  return mt &&
         (strcmp(mt, STRATA_MT_OCI_MANIFEST) == 0 || strcmp(mt, STRATA_MT_DOCKER_MANIFEST) == 0);
}

/* Generic types say nothing about the body, so they cannot contradict it. */
static bool is_generic_type(const char *mt) {
  return mt == NULL || *mt == '\0' || strcmp(mt, "application/json") == 0 ||
         strcmp(mt, "application/octet-stream") == 0 || strcmp(mt, "text/plain") == 0;
}

int strata_manifest_parse(const char *data, size_t len, const char *declared,
                          struct strata_manifest **out, struct strata_error **err) {
  cleanup_json json_t *doc = NULL;
  json_error_t jerr;
  json_t *schema, *layers, *manifests;
  struct strata_manifest *m;
  const char *mt;

  if (len > STRATA_MANIFEST_MAX)
    return strata_error_set(err, 0, "manifest is too large (%zu bytes, at most %u)", len,
                            STRATA_MANIFEST_MAX);
  if (is_schema1(declared))
    return strata_error_set(err, 0, "unsupported manifest type '%s' (schema 1 is deprecated)",
                            declared);
  doc = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
  if (doc == NULL || !json_is_object(doc))
    return strata_error_set(err, 0, "invalid manifest: %s", doc ? "not an object" : jerr.text);
  schema = json_object_get(doc, "schemaVersion");
  if (json_is_integer(schema) && json_integer_value(schema) == 1)
    return strata_error_set(err, 0, "unsupported manifest: schema 1 is deprecated");
  if (!json_is_integer(schema) || json_integer_value(schema) != 2)
    return strata_error_set(err, 0, "invalid manifest: schemaVersion must be 2");

  m = calloc(1, sizeof(*m));
  if (m == NULL)
    return strata_error_set(err, ENOMEM, "cannot parse manifest");
  m->media_type = dup_string(doc, "mediaType");
  mt = m->media_type;
  if (mt != NULL && declared != NULL && !is_generic_type(declared) && strcmp(mt, declared) != 0) {
    strata_error_set(err, 0, "manifest media type '%s' contradicts its body ('%s')", declared, mt);
    goto fail;
  }
  if (mt == NULL && !is_generic_type(declared))
    mt = declared;
  layers = json_object_get(doc, "layers");
  manifests = json_object_get(doc, "manifests");
  if (is_index_type(mt) || (mt == NULL && json_is_array(manifests) && layers == NULL)) {
    if (!json_is_array(manifests) || layers != NULL) {
      strata_error_set(err, 0, "invalid index: it needs 'manifests' and no 'layers'");
      goto fail;
    }
    m->kind = STRATA_MANIFEST_INDEX;
    m->nmanifests = json_array_size(manifests);
    m->manifests = calloc(m->nmanifests + 1, sizeof(*m->manifests));
    for (size_t i = 0; i < m->nmanifests; i++)
      if (parse_descriptor(json_array_get(manifests, i), &m->manifests[i], "index entry", err) < 0)
        goto fail;
  } else if (is_manifest_type(mt) || (mt == NULL && json_is_array(layers))) {
    if (!json_is_array(layers) || manifests != NULL) {
      strata_error_set(err, 0, "invalid manifest: it needs 'layers' and no 'manifests'");
      goto fail;
    }
    m->kind = STRATA_MANIFEST_IMAGE;
    if (parse_descriptor(json_object_get(doc, "config"), &m->config, "config", err) < 0)
      goto fail;
    m->nlayers = json_array_size(layers);
    m->layers = calloc(m->nlayers + 1, sizeof(*m->layers));
    for (size_t i = 0; i < m->nlayers; i++)
      if (parse_descriptor(json_array_get(layers, i), &m->layers[i], "layer", err) < 0)
        goto fail;
  } else {
    strata_error_set(err, 0, "unsupported manifest type '%s'", mt ? mt : "(none)");
    goto fail;
  }
  *out = m;
  return 0;
fail:
  strata_manifest_free(m);
  return -1;
}

void strata_host_platform(const char **os, const char **arch, const char **variant) {
  static struct utsname u;
  static bool done;
  if (!done) {
    uname(&u);
    done = true;
  }
  *os = "linux";
  *variant = "";
  if (strcmp(u.machine, "x86_64") == 0)
    *arch = "amd64";
  else if (strcmp(u.machine, "aarch64") == 0) {
    *arch = "arm64";
    *variant = "v8";
  } else if (strncmp(u.machine, "armv7", 5) == 0) {
    *arch = "arm";
    *variant = "v7";
  } else if (strncmp(u.machine, "armv6", 5) == 0) {
    *arch = "arm";
    *variant = "v6";
  } else if (strcmp(u.machine, "i686") == 0 || strcmp(u.machine, "i386") == 0)
    *arch = "386";
  else if (strcmp(u.machine, "ppc64le") == 0)
    *arch = "ppc64le";
  else if (strcmp(u.machine, "s390x") == 0)
    *arch = "s390x";
  else if (strcmp(u.machine, "riscv64") == 0)
    *arch = "riscv64";
  else
    *arch = u.machine;
}

int strata_platform_parse(const char *s, char **os, char **arch, char **variant,
                          struct strata_error **err) {
  cleanup_free char *copy = strdup(s);
  char *a, *v;
  if (copy == NULL)
    return strata_error_set(err, ENOMEM, "cannot parse platform");
  a = strchr(copy, '/');
  if (a == NULL || a == copy || a[1] == '\0' || a[1] == '/')
    return strata_error_set(err, 0, "invalid platform '%s': want os/arch[/variant]", s);
  *a++ = '\0';
  v = strchr(a, '/');
  if (v != NULL) {
    *v++ = '\0';
    if (*v == '\0' || strchr(v, '/') != NULL)
      return strata_error_set(err, 0, "invalid platform '%s': want os/arch[/variant]", s);
  }
  *os = strdup(copy);
  *arch = strdup(a);
  *variant = strdup(v ? v : "");
  return 0;
}

int strata_manifest_pick(const struct strata_manifest *m, const char *os, const char *arch,
                         const char *variant, const struct strata_descriptor **out,
                         struct strata_error **err) {
  const struct strata_descriptor *fallback = NULL;
  for (size_t i = 0; i < m->nmanifests; i++) {
    const struct strata_descriptor *d = &m->manifests[i];
    if (d->os == NULL || d->architecture == NULL)
      continue;
    if (strcmp(d->os, os) != 0 || strcmp(d->architecture, arch) != 0)
      continue;
    if (variant == NULL || *variant == '\0' || (d->variant && strcmp(d->variant, variant) == 0)) {
      if (variant != NULL && *variant && d->variant && strcmp(d->variant, variant) == 0) {
        *out = d;
        return 0;
      }
      if (fallback == NULL)
        fallback = d;
    } else if ((d->variant == NULL || *d->variant == '\0') && fallback == NULL) {
      /* an entry without a variant serves any variant of its arch */
      fallback = d;
    }
  }
  if (fallback != NULL) {
    *out = fallback;
    return 0;
  }
  return strata_error_set(err, 0, "no matching manifest for %s/%s%s%s in the manifest list entries",
                          os, arch, (variant && *variant) ? "/" : "", variant ? variant : "");
}

void strata_image_config_free(struct strata_image_config *c) {
  if (c == NULL)
    return;
  json_decref(c->doc);
  strv_free(c->diff_ids);
  free(c);
}

int strata_image_config_parse(const char *data, size_t len, struct strata_image_config **out,
                              struct strata_error **err) {
  json_error_t jerr;
  json_t *rootfs, *ids;
  struct strata_image_config *c;

  if (len > STRATA_MANIFEST_MAX)
    return strata_error_set(err, 0, "image config is too large (%zu bytes)", len);
  c = calloc(1, sizeof(*c));
  if (c == NULL)
    return strata_error_set(err, ENOMEM, "cannot parse image config");
  c->doc = json_loadb(data, len, 0, &jerr);
  if (c->doc == NULL || !json_is_object(c->doc)) {
    bool parsed = c->doc != NULL;
    strata_image_config_free(c);
    return strata_error_set(err, 0, "invalid image config: %s",
                            parsed ? "not an object" : jerr.text);
  }
  rootfs = json_object_get(c->doc, "rootfs");
  ids = json_object_get(rootfs, "diff_ids");
  if (!json_is_array(ids)) {
    strata_image_config_free(c);
    return strata_error_set(err, 0, "invalid image config: no rootfs.diff_ids");
  }
  c->ndiff_ids = json_array_size(ids);
  c->diff_ids = calloc(c->ndiff_ids + 1, sizeof(char *));
  for (size_t i = 0; c->diff_ids && i < c->ndiff_ids; i++) {
    json_t *v = json_array_get(ids, i);
    if (!json_is_string(v) || !strata_digest_valid(json_string_value(v))) {
      strata_image_config_free(c);
      return strata_error_set(err, 0, "invalid image config: diff_id %zu is not a sha256 digest", i);
    }
    c->diff_ids[i] = strdup(json_string_value(v));
  }
  *out = c;
  return 0;
}

void strata_chain_ids(char *const *diff_ids, size_t n, char (*out)[72]) {
  for (size_t i = 0; i < n; i++) {
    if (i == 0) {
      snprintf(out[0], 72, "%s", diff_ids[0]);
    } else {
      char buf[2 * STRATA_DIGEST_STR_LEN + 2];
      int l = snprintf(buf, sizeof(buf), "%s %s", out[i - 1], diff_ids[i]);
      strata_digest_buffer(buf, (size_t)l, out[i]);
    }
  }
}
