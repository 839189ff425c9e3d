/* transport "docker": registries that speak the Docker Registry HTTP API v2
 * (the OCI distribution spec), over libcurl.
 *
 *   [docker://]NAME[:TAG|@DIGEST]
 *
 * The core parses and normalises the reference (STRATA_TRANSPORT_CAP_REFERENCE)
 * and verifies every byte this plugin hands over; the plugin finds the
 * registry (docker.io -> registry-1.docker.io, or the config's
 * registry-mirrors first), authenticates, and moves bytes.
 *
 * TLS is verified unless the registry is in insecure-registries or the pull
 * says --tls-verify=false; then HTTPS is tried first without verification and
 * plain HTTP after it, as Docker does.  CA certificates for one registry come
 * from Docker's certs.d layout (/etc/strata/certs.d/HOST:PORT/ *.crt,
 * STRATA_CERTS_D to move it). */
#include "config.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "docker.h"

#define HUB_DOMAIN "docker.io"
#define HUB_API "https://registry-1.docker.io"
#define DEFAULT_CERTS_D "/etc/strata/certs.d"

/* never schema1: the core refuses it, and asking for it only invites it */
static const char accept_manifests[] =
    "application/vnd.oci.image.manifest.v1+json, "
    "application/vnd.oci.image.index.v1+json, "
    "application/vnd.docker.distribution.manifest.v2+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json";

const struct strata_host *dk_host;

static void strv_free(char **v) {
  for (char **p = v; p && *p; p++)
    free(*p);
  free(v);
}

/* A config key holding a list of strings (or one string). */
static char **config_strings(json_t *doc, const char *key) {
  json_t *v = json_object_get(doc, key);
  size_t n = json_is_array(v) ? json_array_size(v) : 1, k = 0;
  char **out = calloc(n + 1, sizeof(char *));
  if (out == NULL)
    return NULL;
  if (json_is_string(v)) {
    out[k++] = strdup(json_string_value(v));
  } else if (json_is_array(v)) {
    for (size_t i = 0; i < n; i++)
      if (json_is_string(json_array_get(v, i)))
        out[k++] = strdup(json_string_value(json_array_get(v, i)));
  }
  return out;
}

static long env_long(const char *name, long def) {
  const char *v = getenv(name);
  char *end;
  long n;
  if (v == NULL || *v == '\0')
    return def;
  n = strtol(v, &end, 10);
  return (*end == '\0' && n > 0) ? n : def;
}

static int dk_init(const struct strata_host *h, const struct strata_plugin_context *ctx,
                   void **state, struct strata_error **err) {
  struct dk_config *cfg;
  json_t *doc = NULL;
  const char *certs = getenv("STRATA_CERTS_D");

  dk_host = h;
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
    return h->error(err, 0, "cannot initialise libcurl");
  cfg = calloc(1, sizeof(*cfg));
  if (cfg == NULL)
    return h->error(err, ENOMEM, "cannot initialise the docker transport");
  if (ctx->size >= offsetof(struct strata_plugin_context, config_json) + sizeof(ctx->config_json) &&
      ctx->config_json != NULL) {
    json_error_t jerr;
    doc = json_loads(ctx->config_json, 0, &jerr);
    if (doc == NULL)
      h->log(STRATA_LOG_WARNING, DK_LOG, "cannot read the configuration: %s", jerr.text);
  }
  cfg->insecure = config_strings(doc, "insecure-registries");
  cfg->mirrors = config_strings(doc, "registry-mirrors");
  json_decref(doc);
  cfg->certs_d = strdup(certs && *certs ? certs : DEFAULT_CERTS_D);
  cfg->low_speed_time = env_long("STRATA_LOW_SPEED_TIME", 30);
  cfg->connect_timeout = env_long("STRATA_CONNECT_TIMEOUT", 30);
  if (cfg->insecure == NULL || cfg->mirrors == NULL || cfg->certs_d == NULL) {
    strv_free(cfg->insecure);
    strv_free(cfg->mirrors);
    free(cfg->certs_d);
    free(cfg);
    return h->error(err, ENOMEM, "cannot initialise the docker transport");
  }
  *state = cfg;
  return 0;
}

static void dk_fini(void *state) {
  struct dk_config *cfg = state;
  if (cfg == NULL)
    return;
  strv_free(cfg->insecure);
  strv_free(cfg->mirrors);
  free(cfg->certs_d);
  free(cfg);
  curl_global_cleanup();
}

void dk_secret_free(char *secret) {
  if (secret != NULL) {
    explicit_bzero(secret, strlen(secret));
    free(secret);
  }
}

static void endpoint_clear(struct dk_endpoint *e) {
  free(e->origin);
  free(e->host);
  memset(e, 0, sizeof(*e));
}

void dk_close(void *session) {
  struct dk_session *s = session;
  if (s == NULL)
    return;
  if (s->curl)
    curl_easy_cleanup(s->curl);
  free(s->name);
  free(s->domain);
  free(s->path);
  free(s->tag);
  free(s->digest);
  endpoint_clear(&s->ep);
  dk_secret_free(s->basic);
  free(s->auth_note);
  dk_secret_free(s->authz);
  free(s->login_user);
  free(s);
}

static char *dup_or_null(const char *s, bool *failed) {
  char *d = s ? strdup(s) : NULL;
  if (s != NULL && d == NULL)
    *failed = true;
  return d;
}

/* Everything the original learnt is copied (the endpoint and the token in
 * use); the curl handle is the clone's own, as a handle must never be used
 * from two threads at once. */
static int dk_session_clone(void *session, void **out, struct strata_error **err) {
  const struct dk_session *o = session;
  struct dk_session *s = calloc(1, sizeof(*s));
  bool failed = false;

  if (s == NULL)
    return dk_host->error(err, ENOMEM, "cannot open another session on %s", o->name);
  s->cfg = o->cfg;
  s->tls_verify = o->tls_verify;
  s->login = o->login;
  s->curl = curl_easy_init();
  s->name = dup_or_null(o->name, &failed);
  s->domain = dup_or_null(o->domain, &failed);
  s->path = dup_or_null(o->path, &failed);
  s->tag = dup_or_null(o->tag, &failed);
  s->digest = dup_or_null(o->digest, &failed);
  s->ep.origin = dup_or_null(o->ep.origin, &failed);
  s->ep.host = dup_or_null(o->ep.host, &failed);
  s->ep.insecure = o->ep.insecure;
  s->ep.mirror = o->ep.mirror;
  s->basic = dup_or_null(o->basic, &failed);
  s->authz = dup_or_null(o->authz, &failed);
  s->auth_note = dup_or_null(o->auth_note, &failed);
  if (s->curl == NULL || failed) {
    dk_close(s);
    return dk_host->error(err, ENOMEM, "cannot open another session on %s", o->name);
  }
  *out = s;
  return 0;
}

static int dk_open(void *state, const char *location, void **out, struct strata_error **err) {
  return dk_host->error(err, 0, "the docker transport needs a core that parses references "
                                "(transport ABI 2)");
}

static int dk_open_with_options(void *state, const char *location,
                                const struct strata_transport_options *o, void **out,
                                struct strata_error **err) {
  struct dk_session *s;

  if (o == NULL || o->size < offsetof(struct strata_transport_options, digest) + sizeof(o->digest) ||
      o->name == NULL || o->domain == NULL || o->path == NULL)
    return dk_open(state, location, out, err);
  s = calloc(1, sizeof(*s));
  if (s == NULL)
    return dk_host->error(err, ENOMEM, "cannot open '%s'", location);
  s->cfg = state;
  s->tls_verify = o->tls_verify;
  s->curl = curl_easy_init();
  s->name = strdup(o->name);
  s->domain = strdup(o->domain);
  s->path = strdup(o->path);
  s->tag = o->tag ? strdup(o->tag) : NULL;
  s->digest = o->digest ? strdup(o->digest) : NULL;
  if (s->curl == NULL || !s->name || !s->domain || !s->path || (o->tag && !s->tag) ||
      (o->digest && !s->digest)) {
    dk_close(s);
    return dk_host->error(err, ENOMEM, "cannot open '%s'", location);
  }
  *out = s;
  return 0;
}

/* "https://m.example:5000/" or "m.example" -> an endpoint (mirrors). */
static int endpoint_from_url(struct dk_session *s, const char *url, bool mirror,
                             struct dk_endpoint *e) {
  char *scheme = NULL, *host = NULL, *port = NULL, *full = NULL;
  const char *u = url;
  int ret = -1;

  memset(e, 0, sizeof(*e));
  if (strstr(url, "://") == NULL) {
    if (asprintf(&full, "https://%s", url) < 0)
      return -1;
    u = full;
  }
  if (dk_url_parts(u, &scheme, &host, &port) == 0 &&
      (strcasecmp(scheme, "https") == 0 || strcasecmp(scheme, "http") == 0)) {
    const char *rest = strstr(u, "://") + 3;
    size_t n = strcspn(rest, "/?#");
    e->host = strndup(rest, n);
    if (e->host != NULL && asprintf(&e->origin, "%s://%s", scheme, e->host) < 0)
      e->origin = NULL;
    e->mirror = mirror;
    /* an http:// mirror was asked for in so many words */
    e->insecure = strcasecmp(scheme, "http") == 0 || dk_is_insecure(s->cfg, e->host);
    if (s->tls_verify == STRATA_TLS_VERIFY_OFF)
      e->insecure = true;
    else if (s->tls_verify == STRATA_TLS_VERIFY_ON && strcasecmp(scheme, "https") == 0)
      e->insecure = false;
    ret = e->host && e->origin ? 0 : -1;
  }
  curl_free(scheme);
  curl_free(port);
  free(host);
  free(full);
  if (ret < 0)
    endpoint_clear(e);
  return ret;
}

/* The registry's own endpoint for the reference's domain. */
int dk_registry_endpoint(struct dk_session *s, struct dk_endpoint *e) {
  char *url = NULL;
  int r;
  if (strcmp(s->domain, HUB_DOMAIN) == 0)
    url = strdup(HUB_API);
  else if (asprintf(&url, "https://%s", s->domain) < 0)
    url = NULL;
  if (url == NULL)
    return -1;
  r = endpoint_from_url(s, url, false, e);
  free(url);
  if (r == 0) {
    /* insecure-registries names the domain as the user wrote it */
    e->insecure = s->tls_verify == STRATA_TLS_VERIFY_OFF ||
                  (s->tls_verify != STRATA_TLS_VERIFY_ON &&
                   (dk_is_insecure(s->cfg, s->domain) || dk_is_insecure(s->cfg, e->host)));
  }
  return r;
}

static bool tls_failure(CURLcode rc) {
  return rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_PEER_FAILED_VERIFICATION ||
         rc == CURLE_SSL_CERTPROBLEM || rc == CURLE_SSL_CACERT_BADFILE || rc == CURLE_RECV_ERROR ||
         rc == CURLE_GOT_NOTHING;
}

/* GET /v2/: is this a registry, over which scheme, and does it want
 * credentials?  An insecure endpoint falls back from HTTPS to HTTP. */
int dk_ping(struct dk_session *s, struct strata_error **err) {
  struct dk_response r = {0};
  char *url = NULL;
  int ret = -1;
  CURLcode rc;

  if (!s->login) { /* a login brings its own credentials */
    dk_secret_free(s->basic);
    s->basic = dk_credentials(s->ep.host);
  }
  dk_secret_free(s->authz);
  s->authz = NULL;
  for (;;) {
    struct dk_request req = {.max = DK_SMALL_MAX, .verify = !s->ep.insecure};
    free(url);
    if (asprintf(&url, "%s/v2/", s->ep.origin) < 0) {
      url = NULL;
      dk_host->error(err, ENOMEM, "cannot reach %s", s->ep.host);
      goto out;
    }
    req.url = url;
    rc = dk_http_perform(s, &req, &r);
    if (rc != CURLE_OK && s->ep.insecure && strncmp(s->ep.origin, "https://", 8) == 0) {
      char *plain = NULL;
      dk_host->log(STRATA_LOG_INFO, DK_LOG, "%s: HTTPS failed (%s); trying plain HTTP", s->ep.host,
                   r.curl_error[0] ? r.curl_error : curl_easy_strerror(rc));
      if (asprintf(&plain, "http://%s", s->ep.host) < 0) {
        dk_host->error(err, ENOMEM, "cannot reach %s", s->ep.host);
        goto out;
      }
      free(s->ep.origin);
      s->ep.origin = plain;
      continue;
    }
    break;
  }
  if (rc != CURLE_OK) {
    bool hint = strncmp(s->ep.origin, "https://", 8) == 0 && tls_failure(rc);
    dk_host->error(err, 0, "cannot reach the registry at %s: %s%s", s->ep.origin,
                   r.curl_error[0] ? r.curl_error : curl_easy_strerror(rc),
                   hint ? " (a registry with a private CA needs its certificate in "
                          "certs.d/HOST:PORT/ca.crt; a plain-HTTP one must be listed in "
                          "insecure-registries or pulled with --tls-verify=false)"
                        : "");
    goto out;
  }
  if (r.status == 401 && r.www_authenticate != NULL) {
    /* authenticate up front: saves a 401 round trip on the manifest */
    if (dk_authenticate(s, r.www_authenticate, err) < 0)
      goto out;
  } else if (r.status != 200) {
    dk_host->error(err, 0, "%s is not a registry: GET /v2/ answered HTTP %ld", s->ep.origin,
                   r.status);
    goto out;
  }
  ret = 0;
out:
  dk_response_clear(&r);
  free(url);
  return ret;
}

static bool valid_digest(const char *d) {
  if (d == NULL || strncmp(d, "sha256:", 7) != 0 || strlen(d) != 71)
    return false;
  for (const char *p = d + 7; *p; p++)
    if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
      return false;
  return true;
}

/* GET /v2/PATH/manifests/REF on the session's endpoint. */
static int fetch_manifest(struct dk_session *s, const char *ref, struct dk_response *r,
                          struct strata_error **err) {
  char *rel = NULL, *what = NULL;
  int ret;
  if (asprintf(&rel, "/v2/%s/manifests/%s", s->path, ref) < 0)
    return dk_host->error(err, ENOMEM, "cannot fetch manifest");
  if (ref[0] == 's' && valid_digest(ref)) {
    if (asprintf(&what, "manifest %s of %s", ref, s->name) < 0)
      what = NULL;
  } else if (asprintf(&what, "manifest for %s", s->name) < 0) {
    what = NULL;
  }
  ret = dk_registry_get(s, what ? what : "manifest", rel, accept_manifests, NULL, DK_MANIFEST_MAX,
                        r, err);
  free(rel);
  free(what);
  return ret;
}

/* The endpoints to try, in order: docker.io's mirrors, then the registry. */
static int endpoints(struct dk_session *s, struct dk_endpoint **out, size_t *n) {
  size_t nm = 0, k = 0;
  struct dk_endpoint *e;
  bool hub = strcmp(s->domain, HUB_DOMAIN) == 0;

  for (char **m = s->cfg->mirrors; hub && m && *m; m++)
    nm++;
  e = calloc(nm + 1, sizeof(*e));
  if (e == NULL)
    return -1;
  for (char **m = s->cfg->mirrors; hub && m && *m; m++) {
    if (endpoint_from_url(s, *m, true, &e[k]) == 0)
      k++;
    else
      dk_host->log(STRATA_LOG_WARNING, DK_LOG, "ignoring registry mirror '%s': not a URL", *m);
  }
  if (dk_registry_endpoint(s, &e[k]) < 0) {
    for (size_t i = 0; i < k; i++)
      endpoint_clear(&e[i]);
    free(e);
    return -1;
  }
  *out = e;
  *n = k + 1;
  return 0;
}

/* Picks the first endpoint that answers with the manifest REF (leaving it
 * in *r); later requests of the session go to the same endpoint. */
static int choose_endpoint(struct dk_session *s, const char *ref, struct dk_response *r,
                           struct strata_error **err) {
  struct dk_endpoint *eps = NULL;
  size_t n = 0, i;
  int ret = -1;

  if (endpoints(s, &eps, &n) < 0)
    return dk_host->error(err, ENOMEM, "cannot find the registry for %s", s->name);
  for (i = 0; i < n; i++) {
    struct strata_error *e = NULL;
    endpoint_clear(&s->ep);
    s->ep = eps[i];
    memset(&eps[i], 0, sizeof(eps[i]));
    dk_response_clear(r);
    if (dk_ping(s, &e) == 0 && (ref == NULL || fetch_manifest(s, ref, r, &e) == 0)) {
      ret = 0;
      break;
    }
    if (i + 1 == n) {
      if (err)
        *err = e;
      else
        dk_host->error_free(e);
      break;
    }
    dk_host->log(STRATA_LOG_WARNING, DK_LOG, "mirror %s failed; trying the next endpoint",
                 s->ep.host);
    dk_host->error_free(e);
  }
  for (size_t j = 0; j < n; j++)
    endpoint_clear(&eps[j]);
  free(eps);
  return ret;
}

/* "application/json; charset=utf-8" -> "application/json" */
static char *bare_media_type(const char *ct) {
  size_t n;
  if (ct == NULL)
    return NULL;
  n = strcspn(ct, "; \t");
  return n ? strndup(ct, n) : NULL;
}

static int dk_get_manifest(void *session, const char *reference,
                           struct strata_manifest_reply *reply, struct strata_error **err) {
  struct dk_session *s = session;
  struct dk_response r = {0};
  const char *ref = reference ? reference : (s->digest ? s->digest : s->tag);
  const char *want = reference ? reference : s->digest; /* a digest asked for, or NULL */
  int ret = -1;

  if (reference != NULL && !valid_digest(reference))
    return dk_host->error(err, 0, "invalid manifest reference '%s'", reference);
  if (ref == NULL)
    return dk_host->error(err, 0, "'%s' names no tag or digest", s->name);
  if (s->ep.origin == NULL ? choose_endpoint(s, ref, &r, err) < 0
                           : fetch_manifest(s, ref, &r, err) < 0)
    goto out;
  if (want != NULL && r.docker_digest != NULL && strcmp(r.docker_digest, want) != 0) {
    char *dd = dk_sanitize(r.docker_digest, 80);
    dk_host->error(err, 0, "%s: asked for manifest %s, the registry says it sent %s", s->ep.host,
                   want, dd ? dd : "?");
    free(dd);
    goto out;
  }
  reply->data = r.body ? r.body : strdup("");
  r.body = NULL;
  reply->len = r.len;
  reply->media_type = bare_media_type(r.content_type);
  /* pulled by digest: the core checks the bytes against what was asked for;
   * pulled by tag: the core hashes the bytes itself */
  reply->digest = want ? strdup(want) : NULL;
  if (reference == NULL)
    reply->name = strdup(s->name);
  if (reply->data == NULL || (want && reply->digest == NULL) ||
      (reference == NULL && reply->name == NULL)) {
    dk_host->error(err, ENOMEM, "cannot fetch manifest");
    goto out;
  }
  ret = 0;
out:
  dk_response_clear(&r);
  return ret;
}

static int dk_get_blob(void *session, const char *digest, uint64_t offset,
                       const struct strata_blob_sink *sink, struct strata_error **err) {
  struct dk_session *s = session;
  struct dk_response r = {0};
  char *rel = NULL;
  int ret;

  if (!valid_digest(digest))
    return dk_host->error(err, 0, "invalid blob digest '%s'", digest);
  if (s->ep.origin == NULL && choose_endpoint(s, NULL, &r, err) < 0)
    return -1;
  if (asprintf(&rel, "/v2/%s/blobs/%s", s->path, digest) < 0)
    return dk_host->error(err, ENOMEM, "cannot fetch blob %s", digest);
  r.delivered = offset;
  ret = dk_registry_get(s, NULL, rel, NULL, sink, 0, &r, err);
  dk_response_clear(&r);
  free(rel);
  return ret;
}

static const struct strata_transport_ops dk_ops = {
    .version = STRATA_TRANSPORT_OPS_VERSION,
    .caps = STRATA_TRANSPORT_CAP_REFERENCE,
    .open = dk_open,
    .close = dk_close,
    .get_manifest = dk_get_manifest,
    .get_blob = dk_get_blob,
    .open_with_options = dk_open_with_options,
    .session_clone = dk_session_clone,
    .check_auth = dk_check_auth,
};

static const struct strata_plugin_info dk_info = {
    STRATA_PLUGIN_INFO_INIT(STRATA_PLUGIN_TRANSPORT, "docker", PACKAGE_VERSION,
                            "registries speaking the Docker Registry HTTP API v2 "
                            "([docker://]NAME[:TAG|@DIGEST])",
                            "Apache-2.0"),
    .init = dk_init,
    .fini = dk_fini,
    .ops = &dk_ops,
};

STRATA_PLUGIN_DEFINE(dk_info)
