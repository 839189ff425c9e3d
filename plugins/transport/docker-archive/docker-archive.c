/* transport "docker-archive": reads `docker save` tarballs.
 *
 *   docker-archive:FILE          the only image in FILE
 *   docker-archive:FILE:NAME     the image FILE's manifest.json tags NAME
 *   docker-archive:FILE:@N       the Nth image of manifest.json (from 0)
 *
 * FILE is a tar (plain or compressed: gzip, bzip2, xz, zstd) holding
 * manifest.json ([{"Config": ..., "RepoTags": [...], "Layers": [...]}]) and
 * the members it names: the config and the layer tars (plain or gzip), in
 * the legacy layout (HEX.json, HEX/layer.tar) or the OCI-style one Docker 25
 * writes (blobs/sha256/HEX).  The plugin hands the core a Docker schema2
 * manifest made from manifest.json, with each member's digest and size, and
 * streams members as blobs; the core verifies digests and diff IDs.
 *
 * The archive is hostile input: member names are checked (no absolute path,
 * no "..") before anything is used, manifest.json and configs are read only
 * up to a bound, and a member is found by its exact cleaned name. */
#include "config.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <strata/plugin/host.h>
#include <strata/plugin/transport.h>

#define MANIFEST_JSON_MAX (4u << 20) /* the same bound the core puts on manifests */
#define CONFIG_MAX (4u << 20)
#define MAX_MEMBERS 100000
#define MAX_LINK_HOPS 8
#define READ_BLOCK (1u << 20)

#define MT_CONFIG "application/vnd.docker.container.image.v1+json"
#define MT_LAYER "application/vnd.docker.image.rootfs.diff.tar"
#define MT_LAYER_GZIP "application/vnd.docker.image.rootfs.diff.tar.gzip"
#define MT_LAYER_ZSTD "application/vnd.oci.image.layer.v1.tar+zstd"
#define MT_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"

static const struct strata_host *host;

struct member {
  char *name;
  char *link; /* a symlink member: the member it points at (cleaned), else NULL */
  bool regular;
  int64_t size;
};

struct blob {
  char digest[72];
  char *member; /* the regular member holding it */
  int64_t size;
};

struct session {
  char *path;
  char *ref; /* NULL, "@N" or a name */
  struct member *members;
  size_t nmembers;
  json_t *manifest; /* manifest.json */
  struct blob *blobs;
  size_t nblobs;
};

static int da_init(const struct strata_host *h, const struct strata_plugin_context *ctx,
                   void **state, struct strata_error **err) {
  (void)ctx;
  (void)err;
  host = h;
  *state = NULL;
  return 0;
}

/* ------------------------------------------------------------------ names */

/* Cleans a member name: strips "./", folds "//"; NULL for an absolute name
 * or one with a ".." component (the caller refuses the archive). */
static char *clean_member(const char *name) {
  char *out = malloc(strlen(name) + 1), *o = out;
  const char *p = name;

  if (out == NULL || *name == '/')
    goto bad;
  while (*p) {
    const char *end = strchr(p, '/');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    if (n == 2 && p[0] == '.' && p[1] == '.')
      goto bad;
    if (n > 0 && !(n == 1 && p[0] == '.')) {
      if (o != out)
        *o++ = '/';
      memcpy(o, p, n);
      o += n;
    }
    p += n;
    while (*p == '/')
      p++;
  }
  *o = '\0';
  if (*out == '\0')
    goto bad;
  return out;
bad:
  free(out);
  return NULL;
}

/* Joins a symlink's TARGET to the directory of member NAME, cleaned; NULL
 * when it climbs out of the archive. */
static char *resolve_link(const char *name, const char *target) {
  char *joined = NULL, *out = NULL;
  const char *slash = strrchr(name, '/');
  char **parts;
  size_t n = 0;

  if (*target == '/')
    return NULL;
  if (asprintf(&joined, "%.*s%s%s", slash ? (int)(slash - name) : 0, name, slash ? "/" : "",
               target) < 0)
    return NULL;
  parts = calloc(strlen(joined) + 1, sizeof(*parts));
  if (parts == NULL) {
    free(joined);
    return NULL;
  }
  for (char *save = NULL, *c = strtok_r(joined, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
    if (strcmp(c, ".") == 0)
      continue;
    if (strcmp(c, "..") == 0) {
      if (n == 0)
        goto out;
      n--;
      continue;
    }
    parts[n++] = c;
  }
  if (n == 0)
    goto out;
  {
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
      len += strlen(parts[i]) + 1;
    out = malloc(len);
    if (out != NULL) {
      *out = '\0';
      for (size_t i = 0; i < n; i++) {
        if (i)
          strcat(out, "/");
        strcat(out, parts[i]);
      }
    }
  }
out:
  free(parts);
  free(joined);
  return out;
}

static struct member *find_member(struct session *s, const char *name) {
  /* a later member of the same name replaces an earlier one, as tar does */
  for (size_t i = s->nmembers; i > 0; i--)
    if (strcmp(s->members[i - 1].name, name) == 0)
      return &s->members[i - 1];
  return NULL;
}

/* The regular member NAME stands for, following symlink members. */
static struct member *regular_member(struct session *s, const char *name,
                                     struct strata_error **err) {
  struct member *m = NULL;
  const char *cur = name;
  for (int hop = 0; hop <= MAX_LINK_HOPS; hop++) {
    m = find_member(s, cur);
    if (m == NULL) {
      host->error(err, 0, "docker archive '%s' has no member '%s' (named in manifest.json)",
                  s->path, name);
      return NULL;
    }
    if (m->regular)
      return m;
    if (m->link == NULL)
      break;
    cur = m->link;
  }
  host->error(err, 0, "docker archive '%s': member '%s' is not a file", s->path, name);
  return NULL;
}

/* ------------------------------------------------------------------ reading the tar */

static struct archive *open_archive(struct session *s, struct strata_error **err) {
  struct archive *a = archive_read_new();
  if (a == NULL) {
    host->error(err, ENOMEM, "cannot read docker archive '%s'", s->path);
    return NULL;
  }
  archive_read_support_filter_gzip(a);
  archive_read_support_filter_bzip2(a);
  archive_read_support_filter_xz(a);
  archive_read_support_filter_zstd(a);
  archive_read_support_format_tar(a);
  archive_read_support_format_gnutar(a);
  if (archive_read_open_filename(a, s->path, 64 * 1024) != ARCHIVE_OK) {
    host->error(err, archive_errno(a) > 0 ? archive_errno(a) : 0,
                "cannot open docker archive '%s': %s", s->path, archive_error_string(a));
    archive_read_free(a);
    return NULL;
  }
  return a;
}

static int archive_failed(struct session *s, struct archive *a, struct strata_error **err) {
  return host->error(err, 0, "docker archive '%s' is damaged: %s", s->path,
                     archive_error_string(a) ? archive_error_string(a) : "read error");
}

/* Reads the current member (at most MAX bytes) into memory. */
static int read_member(struct session *s, struct archive *a, const char *name, size_t max,
                       char **data, size_t *len, struct strata_error **err) {
  char *buf;
  size_t have = 0;

  buf = malloc(max + 1);
  if (buf == NULL)
    return host->error(err, ENOMEM, "cannot read '%s'", name);
  for (;;) {
    la_ssize_t n = archive_read_data(a, buf + have, max + 1 - have);
    if (n < 0) {
      free(buf);
      return archive_failed(s, a, err);
    }
    if (n == 0)
      break;
    have += (size_t)n;
    if (have > max) {
      free(buf);
      return host->error(err, EFBIG, "docker archive '%s': '%s' is too large (over %zu bytes)",
                         s->path, name, max);
    }
  }
  buf[have] = '\0';
  *data = buf;
  *len = have;
  return 0;
}

/* One pass over the archive: checks every member name, indexes the members
 * and reads manifest.json. */
static int index_archive(struct session *s, struct strata_error **err) {
  struct archive *a = open_archive(s, err);
  struct archive_entry *e;
  char *mdata = NULL;
  size_t mlen = 0;
  int ret = -1;

  if (a == NULL)
    return -1;
  for (;;) {
    int r = archive_read_next_header(a, &e);
    const char *raw;
    char *name;
    struct member *m;

    if (r == ARCHIVE_EOF)
      break;
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
      archive_failed(s, a, err);
      goto out;
    }
    raw = archive_entry_pathname(e);
    if (raw == NULL) {
      host->error(err, 0, "docker archive '%s' has a member without a name", s->path);
      goto out;
    }
    name = clean_member(raw);
    if (name == NULL) {
      if (*raw == '/')
        host->error(err, 0, "docker archive '%s': member '%s' has an absolute name", s->path, raw);
      else
        host->error(err, 0, "docker archive '%s': member '%s' escapes the archive", s->path, raw);
      goto out;
    }
    if (s->nmembers >= MAX_MEMBERS) {
      free(name);
      host->error(err, 0, "docker archive '%s' has too many members", s->path);
      goto out;
    }
    {
      struct member *nm = realloc(s->members, (s->nmembers + 1) * sizeof(*nm));
      if (nm == NULL) {
        free(name);
        host->error(err, ENOMEM, "cannot read docker archive '%s'", s->path);
        goto out;
      }
      s->members = nm;
    }
    m = &s->members[s->nmembers++];
    memset(m, 0, sizeof(*m));
    m->name = name;
    m->regular = archive_entry_filetype(e) == AE_IFREG && archive_entry_hardlink(e) == NULL;
    m->size = archive_entry_size(e);
    if (archive_entry_hardlink(e) != NULL || archive_entry_filetype(e) == AE_IFLNK) {
      const char *t = archive_entry_hardlink(e);
      /* a hardlink names a member; a symlink is relative to its directory */
      m->link = t ? clean_member(t) : resolve_link(name, archive_entry_symlink(e) ?: "");
      if (m->link == NULL) {
        host->error(err, 0, "docker archive '%s': link '%s' points outside the archive", s->path,
                    raw);
        goto out;
      }
    }
    if (m->regular && strcmp(name, "manifest.json") == 0) {
      free(mdata);
      mdata = NULL;
      if (read_member(s, a, name, MANIFEST_JSON_MAX, &mdata, &mlen, err) < 0)
        goto out;
    }
  }
  if (mdata == NULL) {
    host->error(err, 0, "'%s' is not a docker archive: it has no manifest.json", s->path);
    goto out;
  }
  {
    json_error_t jerr;
    s->manifest = json_loadb(mdata, mlen, 0, &jerr);
    if (!json_is_array(s->manifest) || json_array_size(s->manifest) == 0) {
      host->error(err, 0, "docker archive '%s': manifest.json is not a list of images%s%s",
                  s->path, s->manifest ? "" : ": ", s->manifest ? "" : jerr.text);
      goto out;
    }
  }
  ret = 0;
out:
  free(mdata);
  archive_read_free(a);
  return ret;
}

/* Finds regular member NAME and hands its bytes from OFFSET to FN. */
static int stream_member(struct session *s, const char *name, uint64_t offset,
                         int (*fn)(void *arg, const void *buf, size_t len, struct strata_error **err),
                         void *arg, struct strata_error **err) {
  struct archive *a = open_archive(s, err);
  struct archive_entry *e;
  char *buf = NULL;
  int ret = -1;

  if (a == NULL)
    return -1;
  for (;;) {
    int r = archive_read_next_header(a, &e);
    char *n;
    bool hit;
    if (r == ARCHIVE_EOF) {
      host->error(err, 0, "docker archive '%s' has no member '%s'", s->path, name);
      goto out;
    }
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
      archive_failed(s, a, err);
      goto out;
    }
    n = clean_member(archive_entry_pathname(e) ?: "/");
    hit = n != NULL && strcmp(n, name) == 0 && archive_entry_filetype(e) == AE_IFREG &&
          archive_entry_hardlink(e) == NULL;
    free(n);
    if (hit)
      break;
  }
  buf = malloc(READ_BLOCK);
  if (buf == NULL) {
    host->error(err, ENOMEM, "cannot read '%s'", name);
    goto out;
  }
  for (uint64_t pos = 0;;) {
    la_ssize_t n = archive_read_data(a, buf, READ_BLOCK);
    size_t skip;
    if (n < 0) {
      archive_failed(s, a, err);
      goto out;
    }
    if (n == 0)
      break;
    skip = pos >= offset ? 0 : (offset - pos < (uint64_t)n ? (size_t)(offset - pos) : (size_t)n);
    pos += (uint64_t)n;
    if ((size_t)n > skip && fn(arg, buf + skip, (size_t)n - skip, err) < 0)
      goto out;
  }
  ret = 0;
out:
  free(buf);
  archive_read_free(a);
  return ret;
}

/* ------------------------------------------------------------------ digests */

struct hash_state {
  EVP_MD_CTX *md;
  int64_t len;
  unsigned char head[4];
  size_t nhead;
};

static int hash_write(void *arg, const void *buf, size_t len, struct strata_error **err) {
  struct hash_state *h = arg;
  (void)err;
  if (h->nhead < sizeof(h->head)) {
    size_t k = sizeof(h->head) - h->nhead < len ? sizeof(h->head) - h->nhead : len;
    memcpy(h->head + h->nhead, buf, k);
    h->nhead += k;
  }
  EVP_DigestUpdate(h->md, buf, len);
  h->len += (int64_t)len;
  return 0;
}

/* Digest, size and first bytes of member NAME (cached per member). */
static int member_digest(struct session *s, const char *name, struct blob **out,
                         unsigned char head[4], size_t *nhead, struct strata_error **err) {
  struct hash_state h = {0};
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  struct blob *b;
  int r;

  h.md = EVP_MD_CTX_new();
  if (h.md == NULL || EVP_DigestInit_ex(h.md, EVP_sha256(), NULL) != 1) {
    EVP_MD_CTX_free(h.md);
    return host->error(err, ENOMEM, "cannot hash '%s'", name);
  }
  r = stream_member(s, name, 0, hash_write, &h, err);
  if (r == 0)
    EVP_DigestFinal_ex(h.md, md, &mdlen);
  EVP_MD_CTX_free(h.md);
  if (r < 0)
    return -1;
  b = realloc(s->blobs, (s->nblobs + 1) * sizeof(*b));
  if (b == NULL)
    return host->error(err, ENOMEM, "cannot read docker archive '%s'", s->path);
  s->blobs = b;
  b = &s->blobs[s->nblobs];
  strcpy(b->digest, "sha256:");
  for (unsigned i = 0; i < mdlen && i < 32; i++)
    sprintf(b->digest + 7 + 2 * i, "%02x", md[i]);
  b->member = strdup(name);
  b->size = h.len;
  if (b->member == NULL)
    return host->error(err, ENOMEM, "cannot read docker archive '%s'", s->path);
  s->nblobs++;
  *out = b;
  if (head != NULL) {
    memcpy(head, h.head, h.nhead);
    *nhead = h.nhead;
  }
  return 0;
}

/* ------------------------------------------------------------------ choosing an image */

/* "docker.io/library/busybox:1" and "busybox:1" are one name; a name
 * without a tag means ":latest". */
static char *canonical(const char *name) {
  const char *p = name, *last;
  char *out = NULL;
  if (strncmp(p, "docker.io/", 10) == 0)
    p += 10;
  if (strncmp(p, "library/", 8) == 0)
    p += 8;
  last = strrchr(p, '/');
  last = last ? last : p;
  if (strchr(last, ':') == NULL && strchr(p, '@') == NULL) {
    if (asprintf(&out, "%s:latest", p) < 0)
      return NULL;
    return out;
  }
  return strdup(p);
}

static bool same_name(const char *a, const char *b) {
  char *x = canonical(a), *y = canonical(b);
  bool same = x && y && strcmp(x, y) == 0;
  free(x);
  free(y);
  return same;
}

/* The manifest.json entry the session's reference picks; *tag gets the
 * name to give it (NULL for none). */
static json_t *pick_entry(struct session *s, const char **tag, struct strata_error **err) {
  size_t n = json_array_size(s->manifest), i;
  json_t *entry, *t;

  *tag = NULL;
  if (s->ref == NULL) {
    if (n != 1) {
      host->error(err, 0,
                  "docker archive '%s' holds %zu images: name one (docker-archive:FILE:NAME or "
                  ":@INDEX)",
                  s->path, n);
      return NULL;
    }
    entry = json_array_get(s->manifest, 0);
  } else if (s->ref[0] == '@') {
    char *end;
    unsigned long k = strtoul(s->ref + 1, &end, 10);
    if (s->ref[1] == '\0' || *end != '\0' || k >= n) {
      host->error(err, 0, "docker archive '%s' has no image %s (it holds %zu)", s->path,
                  s->ref, n);
      return NULL;
    }
    entry = json_array_get(s->manifest, k);
  } else {
    entry = NULL;
    json_array_foreach(s->manifest, i, t) {
      size_t j;
      json_t *name;
      json_array_foreach(json_object_get(t, "RepoTags"), j, name) {
        if (json_is_string(name) && same_name(json_string_value(name), s->ref)) {
          *tag = json_string_value(name);
          entry = t;
          break;
        }
      }
      if (entry != NULL)
        break;
    }
    if (entry == NULL) {
      host->error(err, 0, "docker archive '%s' has no image named '%s'", s->path, s->ref);
      return NULL;
    }
    return entry;
  }
  if (!json_is_object(entry)) {
    host->error(err, 0, "docker archive '%s': manifest.json entry is not an object", s->path);
    return NULL;
  }
  t = json_array_get(json_object_get(entry, "RepoTags"), 0);
  if (json_is_string(t))
    *tag = json_string_value(t);
  return entry;
}

static const char *layer_media_type(const unsigned char *head, size_t n) {
  if (n >= 2 && head[0] == 0x1f && head[1] == 0x8b)
    return MT_LAYER_GZIP;
  if (n >= 4 && head[0] == 0x28 && head[1] == 0xb5 && head[2] == 0x2f && head[3] == 0xfd)
    return MT_LAYER_ZSTD;
  return MT_LAYER;
}

static int da_get_manifest(void *session, const char *reference,
                           struct strata_manifest_reply *reply, struct strata_error **err) {
  struct session *s = session;
  const char *tag, *cfgname;
  json_t *entry, *layers, *l, *doc, *ljson;
  struct member *m;
  struct blob *b;
  size_t i;
  char *text;

  if (reference != NULL)
    return host->error(err, 0, "docker archive '%s' has no manifest %s", s->path, reference);
  entry = pick_entry(s, &tag, err);
  if (entry == NULL)
    return -1;
  cfgname = json_string_value(json_object_get(entry, "Config"));
  layers = json_object_get(entry, "Layers");
  if (cfgname == NULL || !json_is_array(layers))
    return host->error(err, 0, "docker archive '%s': manifest.json entry has no Config or Layers",
                       s->path);
  {
    char *c = clean_member(cfgname);
    if (c == NULL)
      return host->error(err, 0, "docker archive '%s': config '%s' escapes the archive", s->path,
                         cfgname);
    m = regular_member(s, c, err);
    free(c);
    if (m == NULL)
      return -1;
    if (m->size > (int64_t)CONFIG_MAX)
      return host->error(err, EFBIG, "docker archive '%s': config '%s' is too large (%lld bytes)",
                         s->path, cfgname, (long long)m->size);
    if (member_digest(s, m->name, &b, NULL, NULL, err) < 0)
      return -1;
  }
  doc = json_pack("{s:i, s:s, s:{s:s, s:I, s:s}, s:[]}", "schemaVersion", 2, "mediaType",
                  MT_MANIFEST, "config", "mediaType", MT_CONFIG, "size", (json_int_t)b->size,
                  "digest", b->digest, "layers");
  if (doc == NULL)
    return host->error(err, ENOMEM, "cannot read docker archive '%s'", s->path);
  ljson = json_object_get(doc, "layers");
  json_array_foreach(layers, i, l) {
    unsigned char head[4];
    size_t nhead = 0;
    char *c = json_is_string(l) ? clean_member(json_string_value(l)) : NULL;
    if (c == NULL) {
      json_decref(doc);
      return host->error(err, 0, "docker archive '%s': layer '%s' escapes the archive", s->path,
                         json_is_string(l) ? json_string_value(l) : "?");
    }
    m = regular_member(s, c, err);
    free(c);
    if (m == NULL || member_digest(s, m->name, &b, head, &nhead, err) < 0) {
      json_decref(doc);
      return -1;
    }
    json_array_append_new(ljson, json_pack("{s:s, s:I, s:s}", "mediaType",
                                           layer_media_type(head, nhead), "size",
                                           (json_int_t)b->size, "digest", b->digest));
  }
  text = json_dumps(doc, JSON_COMPACT);
  json_decref(doc);
  if (text == NULL)
    return host->error(err, ENOMEM, "cannot read docker archive '%s'", s->path);
  reply->data = text;
  reply->len = strlen(text);
  reply->media_type = strdup(MT_MANIFEST);
  reply->name = tag ? strdup(tag) : NULL;
  return 0;
}

static int da_get_blob(void *session, const char *digest, uint64_t offset,
                       const struct strata_blob_sink *sink, struct strata_error **err) {
  struct session *s = session;
  for (size_t i = 0; i < s->nblobs; i++)
    if (strcmp(s->blobs[i].digest, digest) == 0)
      return stream_member(s, s->blobs[i].member, offset, sink->write, sink->arg, err);
  return host->error(err, 0, "docker archive '%s' has no blob %s", s->path, digest);
}

/* ------------------------------------------------------------------ sessions */

static void da_close(void *session) {
  struct session *s = session;
  if (s == NULL)
    return;
  for (size_t i = 0; i < s->nmembers; i++) {
    free(s->members[i].name);
    free(s->members[i].link);
  }
  for (size_t i = 0; i < s->nblobs; i++)
    free(s->blobs[i].member);
  free(s->members);
  free(s->blobs);
  json_decref(s->manifest);
  free(s->path);
  free(s->ref);
  free(s);
}

static bool is_file(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int da_open(void *state, const char *location, void **out, struct strata_error **err) {
  struct session *s = calloc(1, sizeof(*s));
  (void)state;

  if (s == NULL)
    return host->error(err, ENOMEM, "cannot open docker archive");
  /* FILE[:REF]: the shortest prefix that is a file is FILE, so a name
   * with a tag ("busybox:1") may follow */
  if (is_file(location)) {
    s->path = strdup(location);
  } else {
    for (const char *c = strchr(location, ':'); c != NULL; c = strchr(c + 1, ':')) {
      char *p = strndup(location, (size_t)(c - location));
      if (p != NULL && is_file(p)) {
        s->path = p;
        s->ref = strdup(c + 1);
        break;
      }
      free(p);
    }
  }
  if (s->path == NULL) {
    free(s);
    return host->error(err, ENOENT, "docker archive '%s' does not exist", location);
  }
  if (s->ref != NULL && *s->ref == '\0') {
    free(s->ref);
    s->ref = NULL;
  }
  if (index_archive(s, err) < 0) {
    da_close(s);
    return -1;
  }
  *out = s;
  return 0;
}

/* One location per name each image has, and FILE:@N for an image without
 * one, so loading every location loads and tags everything. */
static int da_list_images(void *session, char ***out, struct strata_error **err) {
  struct session *s = session;
  size_t n = 0, cap = 8, i;
  char **v = calloc(cap, sizeof(*v));
  json_t *entry;

  if (v == NULL)
    return host->error(err, ENOMEM, "cannot list docker archive '%s'", s->path);
  json_array_foreach(s->manifest, i, entry) {
    json_t *tags = json_object_get(entry, "RepoTags"), *t;
    size_t j, before = n;
    json_array_foreach(tags, j, t) {
      if (!json_is_string(t))
        continue;
      if (n + 2 > cap) {
        char **nv = realloc(v, (cap *= 2) * sizeof(*v));
        if (nv == NULL)
          goto nomem;
        v = nv;
      }
      if (asprintf(&v[n], "%s:%s", s->path, json_string_value(t)) < 0)
        goto nomem;
      v[++n] = NULL;
    }
    if (n == before) {
      if (n + 2 > cap) {
        char **nv = realloc(v, (cap *= 2) * sizeof(*v));
        if (nv == NULL)
          goto nomem;
        v = nv;
      }
      if (asprintf(&v[n], "%s:@%zu", s->path, i) < 0)
        goto nomem;
      v[++n] = NULL;
    }
  }
  *out = v;
  return 0;
nomem:
  for (size_t k = 0; k < n; k++)
    free(v[k]);
  free(v);
  return host->error(err, ENOMEM, "cannot list docker archive '%s'", s->path);
}

static const struct strata_transport_ops da_ops = {
    .version = STRATA_TRANSPORT_OPS_VERSION,
    .open = da_open,
    .close = da_close,
    .get_manifest = da_get_manifest,
    .get_blob = da_get_blob,
    .list_images = da_list_images,
};

static const struct strata_plugin_info da_info = {
    STRATA_PLUGIN_INFO_INIT(STRATA_PLUGIN_TRANSPORT, "docker-archive", PACKAGE_VERSION,
                            "docker save tarballs (docker-archive:FILE[:NAME|:@N])", "Apache-2.0"),
    .init = da_init,
    .ops = &da_ops,
};

STRATA_PLUGIN_DEFINE(da_info)
