#include "config.h"
#include "pull.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "container.h"
#include "digest.h"
#include "image.h"
#include "json-cleanup.h"
#include "layer-store.h"
#include "log.h"
#include "manifest.h"
#include "progress.h"
#include "pull-layers.h"
#include "reference.h"
#include "safe-path.h"

#define LOG_DOMAIN "pull"

struct pull {
  struct strata_context *ctx;
  const struct strata_transport_ops *ops;
  void *session;
  const struct strata_pull_options *opts;
  struct strata_progress *progress;
  unsigned max_downloads;
};

static void reply_clear(struct strata_manifest_reply *r) {
  free(r->data);
  free(r->media_type);
  free(r->digest);
  free(r->name);
  memset(r, 0, sizeof(*r));
  r->size = sizeof(*r);
}

/* Fetches a manifest and checks its bytes against EXPECTED (or the digest
 * the transport promised); *digest gets the digest of the bytes. */
static int fetch_manifest(struct pull *p, const char *ref, const char *expected,
                          struct strata_manifest_reply *reply, char digest[STRATA_DIGEST_STR_LEN + 1],
                          struct strata_error **err) {
  reply_clear(reply);
  if (p->ops->get_manifest(p->session, ref, reply, err) < 0)
    return -1;
  if (reply->data == NULL)
    return strata_error_set(err, 0, "transport returned no manifest");
  if (reply->len > STRATA_MANIFEST_MAX)
    return strata_error_set(err, 0, "manifest is too large (%zu bytes)", reply->len);
  strata_digest_buffer(reply->data, reply->len, digest);
  if (expected == NULL)
    expected = reply->digest;
  if (expected != NULL && strcmp(expected, digest) != 0)
    return strata_error_set(err, 0, "manifest digest mismatch: expected %s, content hashes to %s",
                            expected, digest);
  return 0;
}

struct mem_sink_state {
  char *buf;
  size_t len, cap;
};

static int mem_write(void *arg, const void *buf, size_t len, struct strata_error **err) {
  struct mem_sink_state *m = arg;
  if (m->len + len > STRATA_MANIFEST_MAX)
    return strata_error_set(err, 0, "config blob is too large");
  if (m->len + len + 1 > m->cap) {
    size_t cap = (m->len + len + 1) * 2;
    char *nb = realloc(m->buf, cap);
    if (nb == NULL)
      return strata_error_set(err, ENOMEM, "cannot fetch config");
    m->buf = nb;
    m->cap = cap;
  }
  memcpy(m->buf + m->len, buf, len);
  m->len += len;
  m->buf[m->len] = '\0';
  return 0;
}

static int fetch_config(struct pull *p, const struct strata_descriptor *desc, char **data,
                        size_t *len, struct strata_error **err) {
  struct mem_sink_state m = {0};
  struct strata_blob_sink sink = {.write = mem_write, .arg = &m};
  char actual[STRATA_DIGEST_STR_LEN + 1];

  if (desc->size > (int64_t)STRATA_MANIFEST_MAX)
    return strata_error_set(err, 0, "config %s is too large (%lld bytes)", desc->digest,
                            (long long)desc->size);
  if (p->ops->get_blob(p->session, desc->digest, 0, &sink, err) < 0) {
    free(m.buf);
    return strata_error_wrap(err, "cannot fetch config %s", desc->digest);
  }
  strata_digest_buffer(m.buf ? m.buf : "", m.len, actual);
  if (strcmp(actual, desc->digest) != 0) {
    free(m.buf);
    return strata_error_set(err, 0, "config %s: digest mismatch (content hashes to %s)",
                            desc->digest, actual);
  }
  *data = m.buf ? m.buf : strdup("");
  *len = m.len;
  return 0;
}

/* "1: Pulling from library/busybox": the tag (or digest) and the path. */
static void print_pulling_from(struct pull *p, const char *name) {
  struct strata_reference *ref = NULL;
  if (strata_reference_parse(name, &ref, NULL) == 0) {
    strata_progress_status(p->progress, ref->tag ? ref->tag : ref->digest, "Pulling from %s",
                           ref->path);
    strata_reference_free(ref);
  }
}

/* TOP_DIGEST is what the name pointed at (an index, for a multi-platform
 * image): the digest Docker shows and records in RepoDigests. */
static int publish(struct pull *p, const char *config_digest, const char *manifest_digest,
                   const char *top_digest, const char *manifest_mt,
                   struct strata_image_config *cfg, char (*chains)[72], json_t *sizes,
                   uint64_t total, const char *name, bool *updated, struct strata_error **err) {
  cleanup_json json_t *rec = NULL;
  cleanup_json json_t *old = NULL;
  cleanup_json json_t *names = NULL;
  cleanup_free char *now = strata_now_rfc3339();
  cleanup_free char *repo = NULL;
  cleanup_free char *repo_digest = NULL;
  json_t *layers = json_array();
  json_t *diff_ids = json_array();
  json_t *digests = json_array();
  json_t *created = json_object_get(cfg->doc, "created");
  struct strata_reference *ref = NULL;
  const char *prev;

  for (size_t i = 0; i < cfg->ndiff_ids; i++) {
    json_array_append_new(layers, json_string(chains[i]));
    json_array_append_new(diff_ids, json_string(cfg->diff_ids[i]));
  }
  if (name != NULL && strata_reference_parse(name, &ref, NULL) == 0) {
    repo = strata_reference_repository(ref);
    strata_reference_free(ref);
    if (repo && asprintf(&repo_digest, "%s@%s", repo, top_digest) >= 0)
      json_array_append_new(digests, json_string(repo_digest));
  }
  if (strata_image_load(p->ctx->store, config_digest, &old, err) < 0)
    return -1;
  if (old != NULL) {
    /* keep digests from earlier pulls of the same image by other names */
    size_t k;
    json_t *v;
    json_array_foreach(json_object_get(old, "repo_digests"), k, v) {
      bool have = false;
      size_t j;
      json_t *w;
      json_array_foreach(digests, j, w) have |= json_equal(v, w);
      if (!have)
        json_array_append(digests, v);
    }
  }
  rec = json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:I, s:O, s:s, s:o}", "id", config_digest,
                  "manifest_digest", manifest_digest, "manifest_media_type",
                  manifest_mt ? manifest_mt : STRATA_MT_OCI_MANIFEST, "layers", layers, "diff_ids",
                  diff_ids, "layer_sizes", json_incref(sizes), "size", (json_int_t)total,
                  "created", json_is_string(created) ? created : json_null(), "pulled",
                  now ? now : "", "repo_digests", digests);
  if (rec == NULL)
    return strata_error_set(err, ENOMEM, "cannot record image");
  if (strata_image_save(p->ctx->store, rec, err) < 0)
    return -1;
  if (name == NULL) {
    *updated = old == NULL;
    return 0;
  }
  if (strata_names_load(p->ctx->store, &names, err) < 0)
    return -1;
  prev = json_string_value(json_object_get(names, name));
  *updated = old == NULL || prev == NULL || strcmp(prev, config_digest) != 0;
  if (prev == NULL || strcmp(prev, config_digest) != 0) {
    json_object_set_new(names, name, json_string(config_digest));
    if (strata_names_save(p->ctx->store, names, err) < 0)
      return -1;
  }
  return 0;
}

static int pull_locked(struct pull *p, const char *location, char **image_id, char **out_name,
                       struct strata_error **err) {
  struct strata_manifest_reply reply = {.size = sizeof(reply)};
  char mdigest[STRATA_DIGEST_STR_LEN + 1];
  char top_digest[STRATA_DIGEST_STR_LEN + 1];
  struct strata_manifest *m = NULL;
  struct strata_image_config *cfg = NULL;
  cleanup_free char *name = NULL;
  cleanup_free char *cfg_data = NULL;
  cleanup_free char *want_os = NULL, *want_arch = NULL, *want_variant = NULL;
  cleanup_json json_t *sizes = json_array();
  char(*chains)[72] = NULL;
  struct strata_pull_layer *layers = NULL;
  size_t cfg_len = 0;
  uint64_t total = 0;
  bool updated = false;
  int ret = -1;

  if (fetch_manifest(p, NULL, NULL, &reply, mdigest, err) < 0)
    goto out;
  memcpy(top_digest, mdigest, sizeof(top_digest));
  /* an archive may hold an image without a name: it is kept untagged */
  if (reply.name != NULL) {
    name = strata_image_normalize_name(reply.name, err);
    if (name == NULL)
      goto out;
  }
  if (strata_manifest_parse(reply.data, reply.len, reply.media_type, &m, err) < 0)
    goto out;
  if (name != NULL)
    print_pulling_from(p, name);
  if (m->kind == STRATA_MANIFEST_INDEX) {
    const struct strata_descriptor *pick;
    const char *os, *arch, *variant;
    cleanup_free char *child = NULL;
    strata_host_platform(&os, &arch, &variant);
    if (p->opts->platform != NULL) {
      if (strata_platform_parse(p->opts->platform, &want_os, &want_arch, &want_variant, err) < 0)
        goto out;
      os = want_os, arch = want_arch, variant = want_variant;
    }
    if (strata_manifest_pick(m, os, arch, variant, &pick, err) < 0)
      goto out;
    child = strdup(pick->digest);
    strata_manifest_free(m);
    m = NULL;
    if (fetch_manifest(p, child, child, &reply, mdigest, err) < 0)
      goto out;
    if (strata_manifest_parse(reply.data, reply.len, reply.media_type, &m, err) < 0)
      goto out;
    if (m->kind != STRATA_MANIFEST_IMAGE) {
      strata_error_set(err, 0, "index entry %s is not an image manifest", child);
      goto out;
    }
  }
  if (fetch_config(p, &m->config, &cfg_data, &cfg_len, err) < 0)
    goto out;
  if (strata_image_config_parse(cfg_data, cfg_len, &cfg, err) < 0)
    goto out;
  if (cfg->ndiff_ids != m->nlayers) {
    strata_error_set(err, 0, "image config lists %zu diff_ids but the manifest has %zu layers",
                     cfg->ndiff_ids, m->nlayers);
    goto out;
  }
  if (m->nlayers == 0) {
    strata_error_set(err, 0, "image has no layers");
    goto out;
  }
  chains = calloc(m->nlayers, sizeof(*chains));
  layers = calloc(m->nlayers, sizeof(*layers));
  if (chains == NULL || layers == NULL) {
    strata_error_set(err, ENOMEM, "cannot pull");
    goto out;
  }
  strata_chain_ids(cfg->diff_ids, cfg->ndiff_ids, chains);
  for (size_t i = 0; i < m->nlayers; i++) {
    layers[i].desc = &m->layers[i];
    layers[i].chain_id = chains[i];
    layers[i].parent_chain_id = i ? chains[i - 1] : NULL;
    layers[i].diff_id = cfg->diff_ids[i];
  }
  {
    struct strata_pull_layers_options lo = {.ctx = p->ctx,
                                            .ops = p->ops,
                                            .session = p->session,
                                            .max_downloads = p->max_downloads,
                                            .progress = p->progress};
    if (strata_pull_layers(&lo, layers, m->nlayers, err) < 0)
      goto out;
  }
  for (size_t i = 0; i < m->nlayers; i++) {
    json_array_append_new(sizes, json_integer((json_int_t)layers[i].size));
    total += layers[i].size;
  }
  /* blobs before records: a record never points at a missing blob */
  if (strata_store_put_blob(p->ctx->store, m->config.digest, cfg_data, cfg_len, err) < 0 ||
      strata_store_put_blob(p->ctx->store, mdigest, reply.data, reply.len, err) < 0)
    goto out;
  if (publish(p, m->config.digest, mdigest, top_digest, m->media_type, cfg, chains, sizes, total,
              name, &updated, err) < 0)
    goto out;
  strata_progress_status(p->progress, NULL, "Digest: %s", top_digest);
  strata_progress_status(p->progress, NULL, "Status: %s for %s",
                         updated ? "Downloaded newer image" : "Image is up to date",
                         name ? strata_reference_familiar(name) : m->config.digest);
  if (image_id)
    *image_id = strdup(m->config.digest);
  if (out_name)
    *out_name = steal_ptr(name);
  ret = 0;
out:
  free(layers);
  free(chains);
  strata_image_config_free(cfg);
  strata_manifest_free(m);
  reply_clear(&reply);
  return ret;
}

/* Opens the transport's session for LOCATION.  A transport that takes image
 * references gets them parsed and normalised here, once for every registry
 * transport, along with the per-pull options. */
static int open_transport(struct pull *p, struct strata_plugin *tp, const char *location,
                          struct strata_error **err) {
  struct strata_transport_options o = {.size = sizeof(o), .tls_verify = p->opts->tls_verify};
  struct strata_reference *ref = NULL;
  cleanup_free char *name = NULL;
  int r;

  if (p->ops->version < 2 || p->ops->open_with_options == NULL) {
    if (p->opts->tls_verify != STRATA_TLS_VERIFY_DEFAULT)
      return strata_error_set(err, 0, "transport '%s' has no TLS settings (--tls-verify)",
                              tp->info->name);
    return p->ops->open(tp->state, location, &p->session, err);
  }
  if (p->ops->caps & STRATA_TRANSPORT_CAP_REFERENCE) {
    if (strata_reference_parse(location, &ref, err) < 0)
      return -1;
    name = strata_reference_string(ref);
    if (name == NULL) {
      strata_reference_free(ref);
      return strata_error_set(err, ENOMEM, "cannot parse '%s'", location);
    }
    o.name = name;
    o.domain = ref->domain;
    o.path = ref->path;
    o.tag = ref->tag;
    o.digest = ref->digest;
  }
  r = p->ops->open_with_options(tp->state, location, &o, &p->session, err);
  strata_reference_free(ref);
  return r;
}

/* --max-concurrent-downloads, else the config file's
 * max-concurrent-downloads (Docker's daemon.json key), else 3. */
static int max_downloads(struct strata_context *ctx, const struct strata_pull_options *opts,
                         unsigned *out, struct strata_error **err) {
  json_t *v = ctx->cfg ? json_object_get(ctx->cfg->doc, "max-concurrent-downloads") : NULL;
  json_int_t n = STRATA_PULL_DEFAULT_DOWNLOADS;

  if (opts->max_downloads > 0) {
    *out = opts->max_downloads;
    return 0;
  }
  if (json_is_integer(v))
    n = json_integer_value(v);
  else if (v != NULL)
    return strata_error_set(err, 0, "config key max-concurrent-downloads must be an integer");
  if (n < 1 || n > STRATA_PULL_MAX_DOWNLOADS)
    return strata_error_set(err, 0, "config key max-concurrent-downloads must be between 1 and %d",
                            STRATA_PULL_MAX_DOWNLOADS);
  *out = (unsigned)n;
  return 0;
}

int strata_pull(struct strata_context *ctx, const char *what, const struct strata_pull_options *opts,
                char **image_id, char **name, struct strata_error **err) {
  cleanup_free char *transport = NULL, *location = NULL;
  cleanup_free const char **known = NULL;
  struct strata_plugin *tp;
  struct pull p = {.ctx = ctx, .opts = opts};
  int r;

  if (strata_context_plugins_of(ctx, STRATA_PLUGIN_TRANSPORT, err) < 0)
    return -1;
  known = strata_plugins_names(ctx->plugins, STRATA_PLUGIN_TRANSPORT);
  if (strata_reference_split_transport(what, known, &transport, &location) < 0)
    return strata_error_set(err, ENOMEM, "cannot parse '%s'", what);
  if (strata_context_transport(ctx, transport, &tp, err) < 0)
    return -1;
  if (strata_context_store(ctx, true, err) < 0)
    return -1;
  {
    /* the driver now, before any layer is looked at: choosing it may clean
     * up after a command that died, and that must not happen mid-pull */
    const struct strata_storage_ops *sops;
    void *sstate;
    if (strata_context_storage(ctx, &sops, &sstate, err) < 0)
      return -1;
  }
  p.ops = tp->info->ops;
  if (max_downloads(ctx, opts, &p.max_downloads, err) < 0)
    return -1;
  p.progress = strata_progress_new(opts->out, opts->quiet ? STRATA_PROGRESS_QUIET : opts->progress);
  if (open_transport(&p, tp, location, err) < 0)
    r = -1;
  else {
    r = pull_locked(&p, location, image_id, name, err);
    p.ops->close(p.session);
  }
  if (r < 0 && err != NULL && *err != NULL)
    strata_progress_error(p.progress, (*err)->msg);
  strata_progress_free(p.progress);
  if (r < 0) {
    /* layers this pull published belong to no image yet: drop them so a
     * failed pull leaves the store as it was */
    cleanup_error struct strata_error *e = NULL;
    /* without a usable storage driver nothing was published, and asking
     * for it again would only repeat the error */
    if (ctx->storage != NULL && strata_layer_gc(ctx, NULL, NULL, &e) < 0)
      log_warning("cannot clean up after the failed pull: %s", e->msg);
  }
  return r;
}
