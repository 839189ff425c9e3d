#include "config.h"
#include "auth-file.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "json-cleanup.h"
#include "safe-path.h"
#include "store.h"

#define AUTH_FILE_MAX (1u << 20)

char *strata_auth_file_path(void) {
  const char *dcfg = getenv("DOCKER_CONFIG");
  const char *home = getenv("HOME");
  char *path = NULL;

  if (dcfg != NULL && *dcfg)
    return asprintf(&path, "%s/config.json", dcfg) < 0 ? NULL : path;
  if (home == NULL || *home == '\0') {
    struct passwd *pw = getpwuid(getuid());
    home = pw ? pw->pw_dir : NULL;
  }
  if (home == NULL)
    return NULL;
  return asprintf(&path, "%s/.docker/config.json", home) < 0 ? NULL : path;
}

static bool is_hub(const char *host) {
  return strcasecmp(host, "docker.io") == 0 || strcasecmp(host, "index.docker.io") == 0 ||
         strcasecmp(host, "registry-1.docker.io") == 0;
}

/* "https://h:5000/v1/" -> "h:5000" (lower case) */
static char *host_of(const char *s) {
  const char *p = s, *end;
  char *h;
  if (strncasecmp(p, "https://", 8) == 0)
    p += 8;
  else if (strncasecmp(p, "http://", 7) == 0)
    p += 7;
  end = p + strcspn(p, "/");
  h = strndup(p, (size_t)(end - p));
  for (char *c = h; c && *c; c++)
    *c = (char)tolower((unsigned char)*c);
  return h;
}

int strata_auth_server(const char *server, char **domain, char **key, struct strata_error **err) {
  cleanup_free char *host = host_of(server && *server ? server : "docker.io");

  if (host == NULL)
    return strata_error_set(err, ENOMEM, "cannot log in");
  if (*host == '\0' || strspn(host, "abcdefghijklmnopqrstuvwxyz0123456789.-:[]") != strlen(host))
    return strata_error_set(err, 0, "invalid registry '%s'", server);
  if (is_hub(host)) {
    *domain = strdup("docker.io");
    *key = strdup(STRATA_DOCKER_HUB_KEY);
  } else {
    *domain = strdup(host);
    *key = strdup(host);
  }
  if (*domain == NULL || *key == NULL) {
    free(*domain);
    free(*key);
    return strata_error_set(err, ENOMEM, "cannot log in");
  }
  return 0;
}

static bool same_registry(const char *a, const char *b) {
  cleanup_free char *ha = host_of(a);
  cleanup_free char *hb = host_of(b);
  if (ha == NULL || hb == NULL)
    return false;
  return strcmp(ha, hb) == 0 || (is_hub(ha) && is_hub(hb));
}

/* The file's document: an empty object when it does not exist. */
static int load(const char *path, json_t **doc, struct strata_error **err) {
  cleanup_free char *data = NULL;
  size_t len = 0;
  json_error_t jerr;

  if (strata_read_file_at(AT_FDCWD, path, AUTH_FILE_MAX, &data, &len, err) < 0) {
    if (err && *err && (*err)->errnum == ENOENT) {
      strata_error_clear(err);
      *doc = json_object();
      return *doc ? 0 : strata_error_set(err, ENOMEM, "cannot read '%s'", path);
    }
    return -1;
  }
  *doc = len ? json_loadb(data, len, 0, &jerr) : json_object();
  if (*doc == NULL)
    return strata_error_set(err, 0, "'%s' line %d: %s", path, jerr.line, jerr.text);
  if (!json_is_object(*doc)) {
    json_decref(*doc);
    return strata_error_set(err, 0, "'%s' is not a JSON object", path);
  }
  return 0;
}

/* Replaces PATH with DOC: a temporary file beside it, 0600, synced, renamed
 * over it, so a reader sees the old file or the new one, never a half. */
static int save(const char *path, json_t *doc, struct strata_error **err) {
  cleanup_free char *dir = strdup(path);
  cleanup_free char *tmp = NULL;
  cleanup_free char *text = json_dumps(doc, JSON_INDENT(1) | JSON_SORT_KEYS);
  cleanup_close int fd = -1;
  char *slash;

  if (dir == NULL || text == NULL)
    return strata_error_set(err, ENOMEM, "cannot write '%s'", path);
  slash = strrchr(dir, '/');
  if (slash != NULL && slash != dir) {
    *slash = '\0';
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
      return strata_error_set(err, errno, "cannot create '%s'", dir);
  }
  if (asprintf(&tmp, "%s.tmp-XXXXXX", path) < 0) {
    tmp = NULL;
    return strata_error_set(err, ENOMEM, "cannot write '%s'", path);
  }
  fd = mkostemp(tmp, O_CLOEXEC);
  if (fd < 0)
    return strata_error_set(err, errno, "cannot create a file beside '%s'", path);
  if (fchmod(fd, 0600) < 0 || strata_write_all(fd, text, strlen(text)) < 0 ||
      strata_write_all(fd, "\n", 1) < 0 || fsync(fd) < 0 || rename(tmp, path) < 0) {
    int e = errno;
    unlink(tmp);
    return strata_error_set(err, e, "cannot write '%s'", path);
  }
  return 0;
}

char *strata_auth_file_user(const char *path, const char *key) {
  cleanup_json json_t *doc = NULL;
  const char *b64;
  unsigned char *out;
  char *user = NULL, *colon;
  size_t n;

  if (load(path, &doc, NULL) < 0)
    return NULL;
  b64 = json_string_value(json_object_get(json_object_get(json_object_get(doc, "auths"), key),
                                          "auth"));
  if (b64 == NULL || (n = strlen(b64)) == 0 || n % 4 != 0)
    return NULL;
  out = calloc(1, n + 1);
  if (out == NULL || EVP_DecodeBlock(out, (const unsigned char *)b64, (int)n) < 0) {
    free(out);
    return NULL;
  }
  colon = strchr((char *)out, ':');
  if (colon != NULL)
    user = strndup((char *)out, (size_t)(colon - (char *)out));
  explicit_bzero(out, n);
  free(out);
  return user;
}

int strata_auth_file_store(const char *path, const char *key, const char *user,
                           const char *password, struct strata_error **err) {
  cleanup_json json_t *doc = NULL;
  cleanup_free char *pair = NULL;
  cleanup_free unsigned char *b64 = NULL;
  json_t *auths;
  size_t n;
  int r;

  if (load(path, &doc, err) < 0)
    return -1;
  auths = json_object_get(doc, "auths");
  if (auths == NULL) {
    auths = json_object();
    json_object_set_new(doc, "auths", auths);
  } else if (!json_is_object(auths)) {
    return strata_error_set(err, 0, "'%s': \"auths\" is not an object", path);
  }
  if (asprintf(&pair, "%s:%s", user, password) < 0) {
    pair = NULL;
    return strata_error_set(err, ENOMEM, "cannot store the credentials");
  }
  n = strlen(pair);
  b64 = malloc(4 * ((n + 2) / 3) + 1);
  if (b64 == NULL)
    return strata_error_set(err, ENOMEM, "cannot store the credentials");
  EVP_EncodeBlock(b64, (const unsigned char *)pair, (int)n);
  explicit_bzero(pair, n);
  /* the entry is replaced whole: no stale "email" or identity token */
  json_object_set_new(auths, key, json_pack("{s:s}", "auth", (char *)b64));
  r = save(path, doc, err);
  explicit_bzero(b64, strlen((char *)b64));
  return r;
}

int strata_auth_file_remove(const char *path, const char *key, bool *found,
                            struct strata_error **err) {
  cleanup_json json_t *doc = NULL;
  json_t *auths, *v;
  const char *k;
  void *tmp;

  *found = false;
  if (access(path, F_OK) < 0)
    return 0;
  if (load(path, &doc, err) < 0)
    return -1;
  auths = json_object_get(doc, "auths");
  json_object_foreach_safe(auths, tmp, k, v) {
    if (same_registry(k, key)) {
      json_object_del(auths, k);
      *found = true;
    }
  }
  return *found ? save(path, doc, err) : 0;
}
