/* strata save: images as a `docker save` tarball, in Docker's legacy
 * layout (the one before Docker 25, which skopeo's docker-archive also
 * writes): manifest.json, repositories, CONFIGHEX.json and DIFFIDHEX.tar per
 * layer.  Each layer tar is written again from the storage driver's tree:
 * byte for byte from the tar-split record kept at import, or else by the
 * generic export; either way its digest must be the config's diff_id, or
 * the save fails saying so. */
#include "config.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "commands.h"
#include "digest.h"
#include "image.h"
#include "json-cleanup.h"
#include "layer-export.h"
#include "layer-store.h"
#include "reference.h"
#include "safe-path.h"

#define SPLIT_MAX (1u << 30)

static const char help[] =
    "Usage:  strata save [OPTIONS] IMAGE [IMAGE...]\n\n"
    "Save one or more images to a tar archive (streamed to STDOUT by default)\n\n"
    "Options:\n"
    "  -o, --output string   Write to a file, instead of STDOUT\n\n"
    "The archive has Docker's legacy layout (manifest.json, repositories, one config and\n"
    "one tar per layer), which 'docker load', 'strata load' and skopeo's docker-archive\n"
    "read.\n";

struct saver {
  struct strata_context *ctx;
  struct archive *a;
  json_t *written; /* diff_id -> member name */
};

static int archive_error(struct saver *s, const char *what, struct strata_error **err) {
  return strata_error_set(err, archive_errno(s->a) > 0 ? archive_errno(s->a) : 0,
                          "cannot write '%s': %s", what, archive_error_string(s->a));
}

static int put_header(struct saver *s, const char *name, uint64_t size, struct strata_error **err) {
  struct archive_entry *e = archive_entry_new();
  int r;
  if (e == NULL)
    return strata_error_set(err, ENOMEM, "cannot write '%s'", name);
  archive_entry_set_pathname(e, name);
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_perm(e, 0644);
  archive_entry_set_size(e, (la_int64_t)size);
  archive_entry_set_mtime(e, 0, 0);
  r = archive_write_header(s->a, e);
  archive_entry_free(e);
  return r == ARCHIVE_OK ? 0 : archive_error(s, name, err);
}

static int put_file(struct saver *s, const char *name, const void *data, size_t len,
                    struct strata_error **err) {
  if (put_header(s, name, len, err) < 0)
    return -1;
  if (len > 0 && archive_write_data(s->a, data, len) != (la_ssize_t)len)
    return archive_error(s, name, err);
  return 0;
}

struct data_sink {
  struct saver *s;
  const char *name;
  struct strata_hasher *h; /* NULL: the replay hashes itself */
  int fd;                  /* >= 0: to this file instead of the archive */
};

static int sink_write(void *arg, const void *buf, size_t len, struct strata_error **err) {
  struct data_sink *d = arg;
  if (d->h != NULL)
    strata_hasher_update(d->h, buf, len);
  if (d->fd >= 0) {
    if (strata_write_all(d->fd, buf, len) < 0)
      return strata_error_set(err, errno, "cannot write a temporary file");
    return 0;
  }
  if (archive_write_data(d->s->a, buf, len) != (la_ssize_t)len)
    return archive_error(d->s, d->name, err);
  return 0;
}

/* Writes a layer without a tar-split record: the generic export into a
 * temporary file, kept only when it hashes to the diff_id. */
static int put_exported_layer(struct saver *s, const char *chain, const json_t *lrec,
                              const char *diff_id, const char *member, struct strata_error **err) {
  struct strata_diff_dirs dirs = {0};
  struct strata_changes changes = {0};
  cleanup_free char *tmp = NULL;
  cleanup_close int fd = -1;
  struct data_sink d = {.s = s, .name = member, .fd = -1};
  struct strata_tar_sink sink = {.write = sink_write, .arg = &d};
  char got[STRATA_DIGEST_STR_LEN + 1];
  const char *parent = json_string_value(json_object_get(lrec, "parent"));
  struct stat st;
  int r;

  if (strata_storage_diff_dirs(s->ctx, strata_digest_hex(chain), parent, STRATA_DIFF_LAYER, &dirs,
                               err) < 0)
    return -1;
  r = strata_changes_collect(&dirs, &changes, err);
  if (r == 0) {
    fd = strata_store_tmpfile(s->ctx->store, &tmp, err);
    d.fd = fd;
    d.h = strata_hasher_new();
    r = fd < 0 ? -1
        : d.h == NULL ? strata_error_set(err, ENOMEM, "cannot export layer %s", chain)
                      : strata_layer_export(dirs.upper, &changes, &sink, err);
  }
  strata_changes_free(&changes);
  strata_diff_dirs_clear(&dirs);
  if (d.h != NULL) {
    strata_hasher_final(d.h, got);
    strata_hasher_free(d.h);
  }
  if (tmp != NULL)
    unlinkat(s->ctx->store->rootfd, tmp, 0);
  if (r < 0)
    return strata_error_wrap(err, "cannot export layer %s", diff_id);
  if (strcmp(got, diff_id) != 0)
    return strata_error_set(err, 0,
                            "layer %s cannot be written byte for byte: it was stored without its "
                            "tar headers (imported by an older strata), and exporting it from "
                            "storage driver '%s' hashes to %s",
                            diff_id, s->ctx->storage->info->name, got);
  if (fstat(fd, &st) < 0 || lseek(fd, 0, SEEK_SET) < 0)
    return strata_error_set(err, errno, "cannot read the exported layer %s", diff_id);
  if (put_header(s, member, (uint64_t)st.st_size, err) < 0)
    return -1;
  for (;;) {
    char buf[65536];
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return strata_error_set(err, errno, "cannot read the exported layer %s", diff_id);
    if (n == 0)
      break;
    if (archive_write_data(s->a, buf, (size_t)n) != n)
      return archive_error(s, member, err);
  }
  return 0;
}

static int put_layer(struct saver *s, const char *chain, const char *diff_id, const char *member,
                     struct strata_error **err) {
  cleanup_json json_t *lrec = NULL;
  cleanup_free char *split = NULL;
  struct strata_diff_dirs dirs = {0};
  struct data_sink d = {.s = s, .name = member, .fd = -1};
  struct strata_tar_sink sink = {.write = sink_write, .arg = &d};
  char path[128], got[STRATA_DIGEST_STR_LEN + 1];
  size_t len = 0;
  uint64_t size;
  int r;

  if (strata_layer_load(s->ctx->store, chain, &lrec, err) != 0)
    return strata_error_set(err, 0, "layer %s is missing from the store", chain);
  snprintf(path, sizeof(path), "layers/%s.tar-split", strata_digest_hex(chain));
  {
    cleanup_error struct strata_error *e = NULL;
    if (strata_read_file_at(s->ctx->store->rootfd, path, SPLIT_MAX, &split, &len, &e) < 0) {
      if (e->errnum != ENOENT)
        return strata_error_set(err, e->errnum, "cannot read '%s/%s'", s->ctx->store->root, path);
      return put_exported_layer(s, chain, lrec, diff_id, member, err);
    }
  }
  if (strata_tar_split_size(split, len, &size, err) < 0)
    return strata_error_wrap(err, "layer %s", diff_id);
  if (strata_storage_diff_dirs(s->ctx, strata_digest_hex(chain),
                               json_string_value(json_object_get(lrec, "parent")),
                               STRATA_DIFF_LAYER, &dirs, err) < 0)
    return -1;
  r = put_header(s, member, size, err);
  if (r == 0)
    r = strata_tar_split_replay(split, len, dirs.upper, &sink, got, err);
  strata_diff_dirs_clear(&dirs);
  if (r < 0)
    return strata_error_wrap(err, "cannot write layer %s again", diff_id);
  if (strcmp(got, diff_id) != 0)
    return strata_error_set(err, 0,
                            "layer %s cannot be written byte for byte from storage driver '%s': "
                            "it hashes to %s",
                            diff_id, s->ctx->storage->info->name, got);
  return 0;
}

struct image_entry {
  char *id;
  json_t *tags; /* familiar names */
};

static int save_images(struct saver *s, struct image_entry *imgs, size_t n,
                       struct strata_error **err) {
  cleanup_json json_t *manifest = json_array();
  cleanup_json json_t *repos = json_object();

  for (size_t i = 0; i < n; i++) {
    cleanup_json json_t *rec = NULL;
    cleanup_free char *cfg = NULL;
    json_t *layers, *diff_ids, *members = json_array();
    char cfgname[80];
    size_t cfglen = 0, k;
    json_t *v;

    if (strata_image_load(s->ctx->store, imgs[i].id, &rec, err) != 0) {
      json_decref(members);
      return strata_error_set(err, 0, "image %s is missing from the store", imgs[i].id);
    }
    layers = json_object_get(rec, "layers");
    diff_ids = json_object_get(rec, "diff_ids");
    if (json_array_size(layers) != json_array_size(diff_ids)) {
      json_decref(members);
      return strata_error_set(err, 0, "the record of image %s is damaged", imgs[i].id);
    }
    json_array_foreach(diff_ids, k, v) {
      const char *diff_id = json_string_value(v);
      const char *chain = json_string_value(json_array_get(layers, k));
      char member[80];
      if (diff_id == NULL || chain == NULL || !strata_digest_valid(diff_id)) {
        json_decref(members);
        return strata_error_set(err, 0, "the record of image %s is damaged", imgs[i].id);
      }
      snprintf(member, sizeof(member), "%s.tar", strata_digest_hex(diff_id));
      if (json_object_get(s->written, diff_id) == NULL) {
        if (put_layer(s, chain, diff_id, member, err) < 0) {
          json_decref(members);
          return -1;
        }
        json_object_set_new(s->written, diff_id, json_string(member));
      }
      json_array_append_new(members, json_string(member));
    }
    if (strata_store_get_blob(s->ctx->store, imgs[i].id, &cfg, &cfglen, err) < 0) {
      json_decref(members);
      return strata_error_wrap(err, "image %s", imgs[i].id);
    }
    snprintf(cfgname, sizeof(cfgname), "%s.json", strata_digest_hex(imgs[i].id));
    if (put_file(s, cfgname, cfg, cfglen, err) < 0) {
      json_decref(members);
      return -1;
    }
    json_array_append_new(manifest,
                          json_pack("{s:s, s:O, s:o}", "Config", cfgname, "RepoTags",
                                    json_array_size(imgs[i].tags) ? imgs[i].tags : json_null(),
                                    "Layers", members));
    /* repositories: the legacy map repository -> tag -> top layer */
    json_array_foreach(imgs[i].tags, k, v) {
      const char *t = json_string_value(v), *colon = strrchr(t, ':');
      cleanup_free char *repo = colon ? strndup(t, (size_t)(colon - t)) : NULL;
      json_t *r;
      if (repo == NULL || strchr(colon, '/') != NULL)
        continue;
      r = json_object_get(repos, repo);
      if (r == NULL)
        json_object_set_new(repos, repo, r = json_object());
      json_object_set_new(r, colon + 1,
                          json_string(strata_digest_hex(json_string_value(
                              json_array_get(diff_ids, json_array_size(diff_ids) - 1)))));
    }
  }
  {
    cleanup_free char *m = json_dumps(manifest, JSON_COMPACT);
    cleanup_free char *r = json_dumps(repos, JSON_COMPACT);
    if (m == NULL || r == NULL)
      return strata_error_set(err, ENOMEM, "cannot write manifest.json");
    if (put_file(s, "manifest.json", m, strlen(m), err) < 0)
      return -1;
    if (json_object_size(repos) > 0 && put_file(s, "repositories", r, strlen(r), err) < 0)
      return -1;
  }
  return 0;
}

int cmd_save(struct strata_context *ctx, int argc, char **argv) {
  static const struct option opts[] = {
      {"output", required_argument, NULL, 'o'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  struct strata_error *err = NULL;
  const char *output = NULL;
  cleanup_free char *tmp = NULL;
  cleanup_json json_t *written = json_object();
  struct image_entry *imgs = NULL;
  size_t nimgs = 0;
  struct saver s = {.ctx = ctx, .written = written};
  const struct strata_storage_ops *ops;
  void *state;
  int c, fd = -1, rc = 1;

  while ((c = getopt_long(argc, argv, "+o:h", opts, NULL)) != -1) {
    switch (c) {
    case 'o':
      output = optarg;
      break;
    case 'h':
      cli_help("save", help);
      return 0;
    default:
      return cli_bad_option("save");
    }
  }
  if (optind >= argc)
    return cli_usage("save", EXIT_ENGINE, "\"save\" requires at least 1 argument");
  if (output == NULL && isatty(STDOUT_FILENO))
    return cli_failf(1, "cowardly refusing to save to a terminal. Use the -o flag or redirect");
  if (strata_context_store(ctx, false, &err) < 0 ||
      strata_context_storage(ctx, &ops, &state, &err) < 0)
    return cli_fail(err, 1);

  imgs = calloc((size_t)(argc - optind), sizeof(*imgs));
  if (imgs == NULL)
    return cli_failf(1, "out of memory");
  for (int i = optind; i < argc; i++) {
    cleanup_free char *id = NULL, *name = NULL;
    size_t k;
    int r = strata_image_resolve(ctx->store, argv[i], &id, &name, &err);
    if (r != 0) {
      if (r < 0)
        cli_fail(err, 1);
      else
        cli_failf(1, "No such image: %s", argv[i]);
      goto out;
    }
    for (k = 0; k < nimgs && strcmp(imgs[k].id, id) != 0; k++)
      ;
    if (k == nimgs) {
      imgs[k].id = steal_ptr(id);
      imgs[k].tags = json_array();
      nimgs++;
    }
    if (name != NULL) {
      const char *fam = strata_reference_familiar(name);
      bool have = false;
      size_t j;
      json_t *v;
      json_array_foreach(imgs[k].tags, j, v) have |= strcmp(json_string_value(v), fam) == 0;
      if (!have)
        json_array_append_new(imgs[k].tags, json_string(fam));
    }
  }

  if (output != NULL) {
    /* written beside the target and renamed into place: a failed save
     * leaves nothing behind */
    cleanup_free char *copy = strdup(output);
    if (copy == NULL || asprintf(&tmp, "%s/.strata-save-XXXXXX", dirname(copy)) < 0) {
      tmp = NULL;
      cli_failf(1, "out of memory");
      goto out;
    }
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
      cli_failf(1, "cannot create '%s': %s", tmp, strerror(errno));
      free(tmp);
      tmp = NULL;
      goto out;
    }
    fchmod(fd, 0644);
  }
  s.a = archive_write_new();
  if (s.a == NULL) {
    cli_failf(1, "out of memory");
    goto out;
  }
  archive_write_set_format_pax_restricted(s.a);
  archive_write_set_bytes_in_last_block(s.a, 1);
  if (archive_write_open_fd(s.a, fd >= 0 ? fd : STDOUT_FILENO) != ARCHIVE_OK) {
    archive_error(&s, output ? output : "stdout", &err);
    cli_fail(err, 1);
    goto out;
  }
  if (save_images(&s, imgs, nimgs, &err) < 0) {
    cli_fail(err, 1);
    goto out;
  }
  if (archive_write_close(s.a) != ARCHIVE_OK) {
    archive_error(&s, output ? output : "stdout", &err);
    cli_fail(err, 1);
    goto out;
  }
  if (fd >= 0) {
    if (fsync(fd) < 0 || rename(tmp, output) < 0) {
      cli_failf(1, "cannot write '%s': %s", output, strerror(errno));
      goto out;
    }
    free(tmp);
    tmp = NULL;
  }
  rc = 0;
out:
  if (s.a != NULL)
    archive_write_free(s.a);
  if (fd >= 0)
    close(fd);
  if (tmp != NULL)
    unlink(tmp);
  for (size_t i = 0; i < nimgs; i++) {
    free(imgs[i].id);
    json_decref(imgs[i].tags);
  }
  free(imgs);
  return rc;
}
