#include "config.h"
#include "image.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "digest.h"
#include "json-cleanup.h"
#include "reference.h"

static int record_path(const char *id, char *buf, size_t len, struct strata_error **err) {
  if (!strata_digest_valid(id))
    return strata_error_set(err, 0, "invalid image ID '%s'", id);
  snprintf(buf, len, "images/%s.json", strata_digest_hex(id));
  return 0;
}

int strata_image_load(struct strata_store *store, const char *id, json_t **record,
                      struct strata_error **err) {
  char path[128];
  if (record_path(id, path, sizeof(path), err) < 0)
    return -1;
  return strata_store_read_json(store, path, record, err);
}

int strata_image_save(struct strata_store *store, json_t *record, struct strata_error **err) {
  char path[128];
  const char *id = json_string_value(json_object_get(record, "id"));
  if (id == NULL || record_path(id, path, sizeof(path), err) < 0)
    return strata_error_set(err, 0, "image record without a valid id");
  return strata_store_write_json(store, path, record, err);
}

int strata_image_remove_record(struct strata_store *store, const char *id,
                               struct strata_error **err) {
  char path[128];
  if (record_path(id, path, sizeof(path), err) < 0)
    return -1;
  return strata_store_remove(store, path, err);
}

char **strata_image_list(struct strata_store *store, struct strata_error **err) {
  char **hex = strata_store_list(store, "images", err);
  if (hex == NULL)
    return NULL;
  for (char **h = hex; *h; h++) {
    char *id = NULL;
    if (asprintf(&id, "sha256:%s", *h) < 0) {
      strv_free(hex);
      strata_error_set(err, ENOMEM, "cannot list images");
      return NULL;
    }
    free(*h);
    *h = id;
  }
  return hex;
}

int strata_names_load(struct strata_store *store, json_t **names, struct strata_error **err) {
  int r = strata_store_read_json(store, "repositories.json", names, err);
  if (r < 0)
    return -1;
  if (r == 1 || !json_is_object(*names)) {
    json_decref(*names);
    *names = json_object();
  }
  return 0;
}

int strata_names_save(struct strata_store *store, json_t *names, struct strata_error **err) {
  return strata_store_write_json(store, "repositories.json", names, err);
}

static int str_cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

char **strata_names_of(json_t *names, const char *id) {
  const char *key;
  json_t *val;
  size_t n = 0;
  char **v = calloc(json_object_size(names) + 1, sizeof(char *));
  if (v == NULL)
    return NULL;
  json_object_foreach(names, key, val) {
    if (json_is_string(val) && strcmp(json_string_value(val), id) == 0)
      v[n++] = strdup(key);
  }
  qsort(v, n, sizeof(char *), str_cmp);
  return v;
}

char *strata_image_normalize_name(const char *what, struct strata_error **err) {
  struct strata_reference *ref = NULL;
  char *s;
  if (strata_reference_parse(what, &ref, err) < 0)
    return NULL;
  s = strata_reference_string(ref);
  strata_reference_free(ref);
  if (s == NULL)
    strata_error_set(err, ENOMEM, "cannot normalise '%s'", what);
  return s;
}

static bool is_hex(const char *s) {
  if (*s == '\0')
    return false;
  for (; *s; s++)
    if (!isxdigit((unsigned char)*s) || isupper((unsigned char)*s))
      return false;
  return true;
}

int strata_image_resolve(struct strata_store *store, const char *what, char **id, char **name,
                         struct strata_error **err) {
  cleanup_json json_t *names = NULL;
  cleanup_strv char **ids = NULL;
  const char *hex = what;
  json_t *hit;

  if (name)
    *name = NULL;
  if (strata_names_load(store, &names, err) < 0)
    return -1;
  /* a name first, as Docker does: "busybox" is a name even if hex-like */
  if (strncmp(what, "sha256:", 7) != 0) {
    cleanup_error struct strata_error *perr = NULL;
    cleanup_free char *full = strata_image_normalize_name(what, &perr);
    if (full != NULL) {
      hit = json_object_get(names, full);
      if (hit == NULL && strchr(what, '/') == NULL) {
        /* a short name also finds a local image: "x:1" -> "localhost/x:1" */
        cleanup_free char *local = NULL;
        if (asprintf(&local, "localhost/%s", what) >= 0) {
          cleanup_free char *flocal = strata_image_normalize_name(local, NULL);
          if (flocal != NULL && (hit = json_object_get(names, flocal)) != NULL) {
            free(full);
            full = steal_ptr(flocal);
          }
        }
      }
      if (json_is_string(hit)) {
        *id = strdup(json_string_value(hit));
        if (name)
          *name = steal_ptr(full);
        return 0;
      }
    }
  } else {
    hex = what + 7;
  }
  if (!is_hex(hex) || strlen(hex) > STRATA_DIGEST_HEX_LEN)
    return 1;
  ids = strata_image_list(store, err);
  if (ids == NULL)
    return -1;
  *id = NULL;
  for (char **i = ids; *i; i++) {
    if (strncmp(*i + 7, hex, strlen(hex)) == 0) {
      if (*id != NULL) {
        free(*id);
        *id = NULL;
        return strata_error_set(err, 0, "image ID prefix '%s' is ambiguous", what);
      }
      *id = strdup(*i);
    }
  }
  return *id ? 0 : 1;
}
