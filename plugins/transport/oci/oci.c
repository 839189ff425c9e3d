/* transport "oci": reads an OCI image layout directory.
 *
 *   oci:DIR[:TAG]   the manifest in DIR/index.json whose
 *                   org.opencontainers.image.ref.name is TAG (or the only
 *                   manifest, when the index has one and no TAG is given)
 *
 * Only moves bytes: the core verifies every digest.  Digests are checked for
 * form before they become file names, and every read is bounded. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <strata/plugin/host.h>
#include <strata/plugin/transport.h>

#define INDEX_MAX (4u << 20)
#define REF_NAME "org.opencontainers.image.ref.name"

static const struct strata_host *host;

struct session {
  int dirfd;
  char *dir;
  char *tag; /* NULL: the only manifest */
};

static int oci_init(const struct strata_host *h, const struct strata_plugin_context *ctx,
                    void **state, struct strata_error **err) {
  host = h;
  *state = NULL;
  return 0;
}

static bool valid_digest(const char *d) {
  if (d == NULL || strncmp(d, "sha256:", 7) != 0 || strlen(d) != 71)
    return false;
  for (const char *p = d + 7; *p; p++)
    if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
      return false;
  return true;
}

static int oci_open(void *state, const char *location, void **out, struct strata_error **err) {
  struct session *s;
  char *colon;
  struct stat st;

  s = calloc(1, sizeof(*s));
  if (s == NULL || (s->dir = strdup(location)) == NULL) {
    free(s);
    return host->error(err, ENOMEM, "cannot open OCI layout");
  }
  /* DIR:TAG, where a ':' inside DIR is kept if what follows has a '/' */
  colon = strrchr(s->dir, ':');
  if (colon != NULL && strchr(colon, '/') == NULL) {
    *colon = '\0';
    if (colon[1] != '\0')
      s->tag = strdup(colon + 1);
  }
  if (*s->dir == '\0') {
    free(s->dir);
    free(s->tag);
    free(s);
    return host->error(err, 0, "invalid OCI layout reference 'oci:%s': no directory", location);
  }
  s->dirfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (s->dirfd < 0 || fstatat(s->dirfd, "oci-layout", &st, 0) < 0) {
    int e = errno;
    host->error(err, e, "'%s' is not an OCI image layout", s->dir);
    if (s->dirfd >= 0)
      close(s->dirfd);
    free(s->dir);
    free(s->tag);
    free(s);
    return -1;
  }
  *out = s;
  return 0;
}

static void oci_close(void *session) {
  struct session *s = session;
  if (s == NULL)
    return;
  close(s->dirfd);
  free(s->dir);
  free(s->tag);
  free(s);
}

/* Reads a file of the layout (never following a symlink out of it) up to MAX. */
static int read_file(struct session *s, const char *path, size_t max, char **data, size_t *len,
                     struct strata_error **err) {
  int fd = host->open_in_root(s->dirfd, path, O_RDONLY, 0, err);
  struct stat st;
  char *buf;
  size_t have = 0;

  if (fd < 0)
    return host->error_wrap(err, "OCI layout '%s'", s->dir);
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return host->error(err, EINVAL, "OCI layout '%s': '%s' is not a file", s->dir, path);
  }
  if ((size_t)st.st_size > max) {
    close(fd);
    return host->error(err, EFBIG, "OCI layout '%s': '%s' is too large", s->dir, path);
  }
  buf = malloc((size_t)st.st_size + 1);
  if (buf == NULL) {
    close(fd);
    return host->error(err, ENOMEM, "cannot read '%s'", path);
  }
  while (have < (size_t)st.st_size) {
    ssize_t r = read(fd, buf + have, (size_t)st.st_size - have);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      break;
    have += (size_t)r;
  }
  close(fd);
  buf[have] = '\0';
  *data = buf;
  *len = have;
  return 0;
}

static char *blob_path(const char *digest) {
  char *p = NULL;
  if (asprintf(&p, "blobs/sha256/%s", digest + 7) < 0)
    return NULL;
  return p;
}

static char *dup_str(json_t *o, const char *k) {
  json_t *v = json_object_get(o, k);
  return json_is_string(v) ? strdup(json_string_value(v)) : NULL;
}

/* Finds the descriptor for the session's tag in index.json. */
static int find_descriptor(struct session *s, char **digest, char **media_type,
                           struct strata_error **err) {
  char *data = NULL;
  size_t len = 0;
  json_error_t jerr;
  json_t *index, *manifests, *hit = NULL, *m;
  size_t i;
  int ret = -1;

  if (read_file(s, "index.json", INDEX_MAX, &data, &len, err) < 0)
    return -1;
  index = json_loadb(data, len, 0, &jerr);
  free(data);
  if (index == NULL)
    return host->error(err, 0, "OCI layout '%s': invalid index.json: %s", s->dir, jerr.text);
  manifests = json_object_get(index, "manifests");
  if (!json_is_array(manifests)) {
    host->error(err, 0, "OCI layout '%s': index.json has no manifests", s->dir);
    goto out;
  }
  json_array_foreach(manifests, i, m) {
    const char *name = json_string_value(json_object_get(json_object_get(m, "annotations"), REF_NAME));
    if (s->tag != NULL ? (name && strcmp(name, s->tag) == 0)
                       : (name && strcmp(name, "latest") == 0)) {
      hit = m;
      break;
    }
  }
  if (hit == NULL && s->tag == NULL && json_array_size(manifests) == 1)
    hit = json_array_get(manifests, 0);
  if (hit == NULL) {
    host->error(err, 0, "OCI layout '%s' has no image tagged '%s'", s->dir,
                s->tag ? s->tag : "latest");
    goto out;
  }
  *digest = dup_str(hit, "digest");
  *media_type = dup_str(hit, "mediaType");
  if (!valid_digest(*digest)) {
    host->error(err, 0, "OCI layout '%s': invalid digest '%s' in index.json", s->dir,
                *digest ? *digest : "");
    free(*digest);
    free(*media_type);
    *digest = *media_type = NULL;
    goto out;
  }
  ret = 0;
out:
  json_decref(index);
  return ret;
}

static char *image_name(struct session *s) {
  const char *base;
  size_t n = strlen(s->dir);
  char *trimmed = strdup(s->dir), *name = NULL, *p;

  if (trimmed == NULL)
    return NULL;
  while (n > 1 && trimmed[n - 1] == '/')
    trimmed[--n] = '\0';
  base = strrchr(trimmed, '/');
  base = base ? base + 1 : trimmed;
  /* a repository name is lowercase [a-z0-9._-] */
  if (asprintf(&name, "localhost/%s:%s", base, s->tag ? s->tag : "latest") < 0)
    name = NULL;
  for (p = name ? name + 10 : NULL; p && *p && *p != ':'; p++) {
    if (*p >= 'A' && *p <= 'Z')
      *p = (char)(*p - 'A' + 'a');
    else if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' || *p == '-' ||
               *p == '_'))
      *p = '-';
  }
  free(trimmed);
  return name;
}

static int oci_get_manifest(void *session, const char *reference,
                            struct strata_manifest_reply *reply, struct strata_error **err) {
  struct session *s = session;
  char *digest = NULL, *media_type = NULL, *path;
  int r;

  if (reference == NULL) {
    if (find_descriptor(s, &digest, &media_type, err) < 0)
      return -1;
    reply->name = image_name(s);
  } else {
    if (!valid_digest(reference))
      return host->error(err, 0, "invalid manifest reference '%s'", reference);
    digest = strdup(reference);
  }
  path = blob_path(digest);
  r = path ? read_file(s, path, INDEX_MAX, &reply->data, &reply->len, err)
           : host->error(err, ENOMEM, "cannot read manifest");
  free(path);
  if (r < 0) {
    free(digest);
    free(media_type);
    return -1;
  }
  reply->digest = digest;
  reply->media_type = media_type;
  return 0;
}

static int oci_get_blob(void *session, const char *digest, uint64_t offset,
                        const struct strata_blob_sink *sink, struct strata_error **err) {
  struct session *s = session;
  char *path;
  int fd;
  char *buf;
  int ret = 0;

  if (!valid_digest(digest))
    return host->error(err, 0, "invalid blob digest '%s'", digest);
  path = blob_path(digest);
  if (path == NULL)
    return host->error(err, ENOMEM, "cannot read blob");
  fd = host->open_in_root(s->dirfd, path, O_RDONLY, 0, err);
  free(path);
  if (fd < 0)
    return host->error_wrap(err, "OCI layout '%s': blob %s", s->dir, digest);
  if (offset > 0 && lseek(fd, (off_t)offset, SEEK_SET) < 0) {
    close(fd);
    return host->error(err, errno, "cannot seek in blob %s", digest);
  }
  buf = malloc(1 << 20);
  if (buf == NULL) {
    close(fd);
    return host->error(err, ENOMEM, "cannot read blob %s", digest);
  }
  for (;;) {
    ssize_t n = read(fd, buf, 1 << 20);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      ret = host->error(err, errno, "cannot read blob %s", digest);
      break;
    }
    if (n == 0)
      break;
    if (sink->write(sink->arg, buf, (size_t)n, err) < 0) {
      ret = -1;
      break;
    }
  }
  free(buf);
  close(fd);
  return ret;
}

static const struct strata_transport_ops oci_ops = {
    .version = STRATA_TRANSPORT_OPS_VERSION,
    .open = oci_open,
    .close = oci_close,
    .get_manifest = oci_get_manifest,
    .get_blob = oci_get_blob,
};

static const struct strata_plugin_info oci_info = {
    STRATA_PLUGIN_INFO_INIT(STRATA_PLUGIN_TRANSPORT, "oci", PACKAGE_VERSION,
                            "OCI image layout directories (oci:DIR[:TAG])", "Apache-2.0"),
    .init = oci_init,
    .ops = &oci_ops,
};

STRATA_PLUGIN_DEFINE(oci_info)
