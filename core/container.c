#include "config.h"
#include "container.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "cleanup.h"
#include "json-cleanup.h"
#include "names.h"

static bool valid_id(const char *id) {
  if (strlen(id) != 64)
    return false;
  for (const char *p = id; *p; p++)
    if (!isxdigit((unsigned char)*p) || isupper((unsigned char)*p))
      return false;
  return true;
}

static int record_path(const char *id, char *buf, size_t len, struct strata_error **err) {
  if (!valid_id(id))
    return strata_error_set(err, 0, "invalid container ID '%s'", id);
  snprintf(buf, len, "containers/%s.json", id);
  return 0;
}

int strata_container_load(struct strata_store *store, const char *id, json_t **record,
                          struct strata_error **err) {
  char path[128];
  if (record_path(id, path, sizeof(path), err) < 0)
    return -1;
  return strata_store_read_json(store, path, record, err);
}

int strata_container_save(struct strata_store *store, json_t *record, struct strata_error **err) {
  char path[128];
  const char *id = json_string_value(json_object_get(record, "Id"));
  if (id == NULL || record_path(id, path, sizeof(path), err) < 0)
    return strata_error_set(err, 0, "container record without a valid Id");
  return strata_store_write_json(store, path, record, err);
}

int strata_container_remove_record(struct strata_store *store, const char *id,
                                   struct strata_error **err) {
  char path[128];
  if (record_path(id, path, sizeof(path), err) < 0)
    return -1;
  return strata_store_remove(store, path, err);
}

char **strata_container_list(struct strata_store *store, struct strata_error **err) {
  return strata_store_list(store, "containers", err);
}

static const char *record_name(json_t *rec) {
  const char *n = json_string_value(json_object_get(rec, "Name"));
  if (n && *n == '/')
    n++;
  return n ? n : "";
}

int strata_container_resolve(struct strata_store *store, const char *what, char **id,
                             struct strata_error **err) {
  cleanup_strv char **ids = strata_container_list(store, err);
  const char *name = what[0] == '/' ? what + 1 : what;
  char *prefix_hit = NULL;
  size_t wl = strlen(what);
  int nprefix = 0;

  if (ids == NULL)
    return -1;
  if (*what == '\0')
    return 1;
  /* exact ID, then exact name, then unique ID prefix: Docker's order */
  for (char **i = ids; *i; i++) {
    if (strcmp(*i, what) == 0) {
      *id = strdup(*i);
      return 0;
    }
  }
  for (char **i = ids; *i; i++) {
    cleanup_json json_t *rec = NULL;
    if (strata_container_load(store, *i, &rec, NULL) == 0 && strcmp(record_name(rec), name) == 0) {
      *id = strdup(*i);
      return 0;
    }
  }
  for (char **i = ids; *i; i++) {
    if (strncmp(*i, what, wl) == 0) {
      nprefix++;
      prefix_hit = *i;
    }
  }
  if (nprefix > 1)
    return strata_error_set(err, 0, "multiple containers match '%s'; use more of the ID", what);
  if (nprefix == 1) {
    *id = strdup(prefix_hit);
    return 0;
  }
  return 1;
}

char *strata_container_new_id(void) {
  unsigned char r[32];
  char *id = malloc(65);
  if (id == NULL || getrandom(r, sizeof(r), 0) != sizeof(r)) {
    free(id);
    return NULL;
  }
  for (int i = 0; i < 32; i++)
    sprintf(id + 2 * i, "%02x", r[i]);
  return id;
}

int strata_container_name_taken(struct strata_store *store, const char *name,
                                struct strata_error **err) {
  cleanup_strv char **ids = strata_container_list(store, err);
  if (ids == NULL)
    return -1;
  for (char **i = ids; *i; i++) {
    cleanup_json json_t *rec = NULL;
    if (strata_container_load(store, *i, &rec, NULL) == 0 && strcmp(record_name(rec), name) == 0)
      return 1;
  }
  return 0;
}

char *strata_container_new_name(struct strata_store *store, struct strata_error **err) {
  char buf[96];
  for (int tries = 0; tries < 64; tries++) {
    uint64_t r;
    int taken;
    if (getrandom(&r, sizeof(r), 0) != sizeof(r)) {
      strata_error_set(err, errno, "cannot pick a container name");
      return NULL;
    }
    strata_random_name(r, buf, sizeof(buf));
    if (tries > 8) /* crowded: add a digit, as Docker does on retry */
      snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%u", (unsigned)(r >> 56) % 10);
    taken = strata_container_name_taken(store, buf, err);
    if (taken < 0)
      return NULL;
    if (!taken)
      return strdup(buf);
  }
  strata_error_set(err, 0, "cannot find a free container name");
  return NULL;
}

char *strata_now_rfc3339(void) {
  struct timespec ts;
  struct tm tm;
  char buf[64], *out = NULL;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  if (asprintf(&out, "%s.%09ldZ", buf, ts.tv_nsec) < 0)
    return NULL;
  return out;
}
