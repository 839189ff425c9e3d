/* transport "docker": HTTP exchanges with a registry over libcurl.
 *
 * Redirects are followed here, not by curl, so that the rules are in one
 * readable place: the Authorization header is only ever sent to the
 * registry's own origin (blob redirects to a CDN or another host get none),
 * an https URL never leads to an http one, and there are at most
 * DK_MAX_REDIRECTS hops.  Transient failures (5xx, 429, dropped or stalled
 * connections) are retried DK_MAX_RETRIES times with a growing pause; a blob
 * that was cut off resumes where it stopped with a Range request. */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "docker.h"

#define CERT_FILE_MAX (1u << 20)

void dk_response_clear(struct dk_response *r) {
  free(r->reason);
  free(r->body);
  free(r->content_type);
  free(r->docker_digest);
  free(r->www_authenticate);
  free(r->content_range);
  free(r->location);
  if (r->sink_err)
    dk_host->error_free(r->sink_err);
  memset(r, 0, sizeof(*r));
}

/* What one exchange leaves behind is cleared before the next; the count of
 * delivered bytes runs on over retries. */
static void response_reset(struct dk_response *r) {
  uint64_t delivered = r->delivered;
  dk_response_clear(r);
  r->delivered = delivered;
}

char *dk_sanitize(const char *s, size_t max) {
  size_t n = s ? strlen(s) : 0, i;
  char *out;
  if (n > max)
    n = max;
  out = malloc(n + 1);
  if (out == NULL)
    return NULL;
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    out[i] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
  }
  out[n] = '\0';
  return out;
}

static char *header_value(const char *line, size_t len, const char *name) {
  size_t nl = strlen(name);
  const char *v, *end = line + len;
  if (len <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
    return NULL;
  v = line + nl + 1;
  while (v < end && (*v == ' ' || *v == '\t'))
    v++;
  while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
    end--;
  return strndup(v, (size_t)(end - v));
}

static void keep_header(char **slot, char *value) {
  if (value == NULL)
    return;
  if (*slot == NULL)
    *slot = value; /* the first of repeated headers (WWW-Authenticate) wins */
  else
    free(value);
}

static size_t on_header(char *line, size_t size, size_t n, void *arg) {
  struct dk_response *r = arg;
  size_t len = size * n;

  if (len >= 5 && strncmp(line, "HTTP/", 5) == 0) {
    /* a new status line (after 1xx): forget earlier headers */
    const char *sp = memchr(line, ' ', len);
    uint64_t delivered = r->delivered;
    uint64_t offset = r->offset;
    const struct strata_blob_sink *sink = r->sink;
    size_t max = r->max;
    char ebuf[CURL_ERROR_SIZE];
    memcpy(ebuf, r->curl_error, sizeof(ebuf));
    dk_response_clear(r);
    memcpy(r->curl_error, ebuf, sizeof(ebuf));
    r->delivered = delivered, r->offset = offset, r->sink = sink, r->max = max;
    if (sp != NULL) {
      const char *end = line + len, *reason;
      r->status = strtol(sp + 1, NULL, 10);
      reason = memchr(sp + 1, ' ', (size_t)(end - sp - 1));
      if (reason != NULL) {
        char *raw;
        while (end > reason && (end[-1] == '\r' || end[-1] == '\n'))
          end--;
        raw = strndup(reason + 1, (size_t)(end - reason - 1));
        r->reason = dk_sanitize(raw, 100);
        free(raw);
      }
    }
    return len;
  }
  keep_header(&r->content_type, header_value(line, len, "Content-Type"));
  keep_header(&r->docker_digest, header_value(line, len, "Docker-Content-Digest"));
  keep_header(&r->www_authenticate, header_value(line, len, "WWW-Authenticate"));
  keep_header(&r->content_range, header_value(line, len, "Content-Range"));
  return len;
}

/* "bytes N-M/T" must start at the offset asked for. */
static bool range_matches(const char *cr, uint64_t offset) {
  char *end;
  unsigned long long start;
  if (cr == NULL || strncasecmp(cr, "bytes ", 6) != 0)
    return false;
  errno = 0;
  start = strtoull(cr + 6, &end, 10);
  return errno == 0 && end != cr + 6 && *end == '-' && start == offset;
}

static size_t on_body(char *data, size_t size, size_t n, void *arg) {
  struct dk_response *r = arg;
  size_t len = size * n;

  if (r->mode == 0) {
    bool ok = r->offset > 0 ? r->status == 206 : (r->status >= 200 && r->status < 300 && r->status != 206);
    if (ok && r->offset > 0 && !range_matches(r->content_range, r->offset)) {
      dk_host->error(&r->sink_err, 0, "the registry answered a Range request from byte %llu with '%s'",
                     (unsigned long long)r->offset, r->content_range ? r->content_range : "no range");
      return 0;
    }
    r->mode = ok ? 1 : 2;
  }
  if (r->mode == 1 && r->sink != NULL) {
    if (r->sink->write(r->sink->arg, data, len, &r->sink_err) < 0)
      return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
    r->delivered += len;
    return len;
  }
  if (r->mode == 1 && r->len + len > r->max) {
    r->too_large = true;
    return 0;
  }
  if (r->mode == 2 && r->len + len > DK_SMALL_MAX) {
    len = DK_SMALL_MAX > r->len ? DK_SMALL_MAX - r->len : 0; /* an error body: keep its start */
    if (len == 0)
      return size * n;
  }
  if (r->len + len + 1 > r->cap) {
    size_t cap = (r->len + len + 1) * 2;
    char *nb = realloc(r->body, cap);
    if (nb == NULL)
      return 0;
    r->body = nb;
    r->cap = cap;
  }
  memcpy(r->body + r->len, data, len);
  r->len += len;
  r->body[r->len] = '\0';
  return size * n;
}

int dk_url_parts(const char *url, char **scheme, char **host, char **port) {
  CURLU *u = curl_url();
  int ret = -1;
  char *h = NULL;
  if (u == NULL)
    return -1;
  *scheme = *host = NULL;
  if (port)
    *port = NULL;
  if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
      curl_url_get(u, CURLUPART_SCHEME, scheme, 0) == CURLUE_OK &&
      curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK &&
      (port == NULL || curl_url_get(u, CURLUPART_PORT, port, CURLU_DEFAULT_PORT) == CURLUE_OK)) {
    *host = strdup(h);
    for (char *p = *host; p && *p; p++)
      *p = (char)tolower((unsigned char)*p);
    ret = *host ? 0 : -1;
  }
  curl_free(h);
  if (ret < 0) {
    curl_free(*scheme);
    *scheme = NULL;
    if (port) {
      curl_free(*port);
      *port = NULL;
    }
  }
  curl_url_cleanup(u);
  return ret;
}

/* "host[:port]" as written in URL (the port only when given): the name
 * certs.d directories and insecure-registries use. */
static char *url_authority(const char *url) {
  CURLU *u = curl_url();
  char *h = NULL, *p = NULL, *out = NULL;
  if (u != NULL && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
      curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK) {
    curl_url_get(u, CURLUPART_PORT, &p, 0);
    if (asprintf(&out, "%s%s%s", h, p ? ":" : "", p ? p : "") < 0)
      out = NULL;
  }
  curl_free(h);
  curl_free(p);
  curl_url_cleanup(u);
  return out;
}

bool dk_same_origin(const char *a, const char *b) {
  char *sa, *ha, *pa, *sb, *hb, *pb;
  bool same = false;
  if (dk_url_parts(a, &sa, &ha, &pa) < 0)
    return false;
  if (dk_url_parts(b, &sb, &hb, &pb) == 0) {
    same = strcasecmp(sa, sb) == 0 && strcmp(ha, hb) == 0 && strcmp(pa, pb) == 0;
    curl_free(sb);
    free(hb);
    curl_free(pb);
  }
  curl_free(sa);
  free(ha);
  curl_free(pa);
  return same;
}

/* IPv4 CIDR "a.b.c.d/n" containing HOST (without port)? */
static bool cidr_contains(const char *cidr, const char *host) {
  char net[64];
  const char *slash = strchr(cidr, '/');
  struct in_addr a, h;
  long bits;
  uint32_t mask;
  if (slash == NULL || (size_t)(slash - cidr) >= sizeof(net))
    return false;
  memcpy(net, cidr, (size_t)(slash - cidr));
  net[slash - cidr] = '\0';
  bits = strtol(slash + 1, NULL, 10);
  if (bits < 0 || bits > 32 || inet_pton(AF_INET, net, &a) != 1 || inet_pton(AF_INET, host, &h) != 1)
    return false;
  mask = bits == 0 ? 0 : htonl(0xffffffffu << (32 - bits));
  return (a.s_addr & mask) == (h.s_addr & mask);
}

bool dk_is_insecure(const struct dk_config *cfg, const char *host) {
  char bare[256];
  const char *colon = strrchr(host, ':');
  size_t n = (colon && !strchr(colon, ']')) ? (size_t)(colon - host) : strlen(host);
  if (n >= sizeof(bare))
    return false;
  memcpy(bare, host, n);
  bare[n] = '\0';
  for (char **e = cfg->insecure; e && *e; e++) {
    const char *entry = *e;
    if (strncmp(entry, "http://", 7) == 0)
      entry += 7;
    else if (strncmp(entry, "https://", 8) == 0)
      entry += 8;
    if (strcasecmp(entry, host) == 0 || strcasecmp(entry, bare) == 0 || cidr_contains(entry, bare))
      return true;
  }
  return false;
}

static bool has_suffix(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a > b && strcmp(s + a - b, suffix) == 0;
}

/* Docker's certs.d: DIR/HOST[:PORT]/ holds CA certificates (*.crt) added to
 * the system's, and a client certificate (NAME.cert with NAME.key). */
static void setup_certs(struct dk_session *s, const char *url, char **ca, size_t *ca_len) {
  char *auth = url_authority(url), *dir = NULL;
  DIR *d;
  struct dirent *e;

  *ca = NULL;
  *ca_len = 0;
  if (auth == NULL || strchr(auth, '/') || auth[0] == '.' ||
      asprintf(&dir, "%s/%s", s->cfg->certs_d, auth) < 0) {
    free(auth);
    return;
  }
  free(auth);
  d = opendir(dir);
  if (d == NULL) {
    free(dir);
    return;
  }
  while ((e = readdir(d)) != NULL) {
    char *path = NULL;
    FILE *f;
    struct stat st;
    if (e->d_name[0] == '.' || asprintf(&path, "%s/%s", dir, e->d_name) < 0)
      continue;
    if (has_suffix(e->d_name, ".crt") && (f = fopen(path, "re")) != NULL) {
      if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && st.st_size < CERT_FILE_MAX) {
        char *nb = realloc(*ca, *ca_len + (size_t)st.st_size + 2);
        if (nb != NULL) {
          size_t got = fread(nb + *ca_len, 1, (size_t)st.st_size, f);
          *ca = nb;
          *ca_len += got;
          (*ca)[(*ca_len)++] = '\n';
        }
      }
      fclose(f);
    } else if (has_suffix(e->d_name, ".cert")) {
      char *key = NULL;
      if (asprintf(&key, "%.*s.key", (int)(strlen(path) - 5), path) >= 0 && access(key, R_OK) == 0) {
        curl_easy_setopt(s->curl, CURLOPT_SSLCERT, path);
        curl_easy_setopt(s->curl, CURLOPT_SSLKEY, key);
      }
      free(key);
    }
    free(path);
  }
  closedir(d);
  free(dir);
}

CURLcode dk_http_perform(struct dk_session *s, const struct dk_request *req,
                         struct dk_response *r) {
  CURL *c = s->curl;
  struct curl_slist *h = NULL;
  char *line = NULL, *ca = NULL, *redirect = NULL;
  char range[32];
  size_t ca_len = 0;
  CURLcode rc;

  response_reset(r);
  r->offset = req->offset;
  r->sink = req->sink;
  r->max = req->max;
  curl_easy_reset(c); /* keeps the connection cache: one TCP/TLS session per registry */
  curl_easy_setopt(c, CURLOPT_URL, req->url);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "strata/" PACKAGE_VERSION);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, r->curl_error);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, s->cfg->connect_timeout);
  /* a stalled connection is dropped (and retried) instead of hanging */
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, s->cfg->low_speed_time);
  curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 512L * 1024);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, req->verify ? 1L : 0L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, req->verify ? 2L : 0L);
  if (req->verify) {
    setup_certs(s, req->url, &ca, &ca_len);
    if (ca != NULL) {
      struct curl_blob blob = {.data = ca, .len = ca_len, .flags = CURL_BLOB_COPY};
      curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &blob);
    }
  }
  if (req->accept && asprintf(&line, "Accept: %s", req->accept) >= 0) {
    h = curl_slist_append(h, line);
    free(line);
  }
  if (req->authz && asprintf(&line, "Authorization: %s", req->authz) >= 0) {
    h = curl_slist_append(h, line);
    free(line);
  }
  if (h != NULL)
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  if (req->offset > 0) {
    snprintf(range, sizeof(range), "%llu-", (unsigned long long)req->offset);
    curl_easy_setopt(c, CURLOPT_RANGE, range);
  }
  r->curl_error[0] = '\0';
  rc = curl_easy_perform(c);
  if (r->status >= 300 && r->status < 400 &&
      curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &redirect) == CURLE_OK && redirect != NULL)
    r->location = strdup(redirect);
  dk_host->log(STRATA_LOG_DEBUG, DK_LOG, "GET %s%s%s -> %ld (%s)", req->url,
               req->offset ? " from " : "", req->offset ? range : "", r->status,
               rc == CURLE_OK ? "ok" : curl_easy_strerror(rc));
  curl_slist_free_all(h);
  free(ca);
  return rc;
}

/* Failures worth another try: the network, not the request. */
static bool transient(CURLcode rc) {
  switch (rc) {
  case CURLE_COULDNT_CONNECT:
  case CURLE_OPERATION_TIMEDOUT:
  case CURLE_PARTIAL_FILE:
  case CURLE_RECV_ERROR:
  case CURLE_SEND_ERROR:
  case CURLE_GOT_NOTHING:
  case CURLE_HTTP2:
  case CURLE_HTTP2_STREAM:
    return true;
  default:
    return false;
  }
}

static void backoff(int attempt) {
  struct timespec ts = {.tv_sec = 0, .tv_nsec = 250000000L};
  for (int i = 0; i < attempt; i++) {
    ts.tv_nsec *= 2;
    if (ts.tv_nsec >= 1000000000L) {
      ts.tv_sec += ts.tv_nsec / 1000000000L;
      ts.tv_nsec %= 1000000000L;
    }
  }
  nanosleep(&ts, NULL);
}

static const char *status_word(long status) {
  switch (status) {
  case 401:
    return "unauthorized";
  case 403:
    return "denied";
  case 404:
    return "not found";
  case 429:
    return "too many requests";
  default:
    return NULL;
  }
}

/* The registry's error document: {"errors":[{"code":"MANIFEST_UNKNOWN","message":"..."}]}. */
static char *registry_message(const struct dk_response *r) {
  json_t *doc = r->body && r->len ? json_loadb(r->body, r->len, 0, NULL) : NULL;
  json_t *e0 = json_array_get(json_object_get(doc, "errors"), 0);
  const char *code = json_string_value(json_object_get(e0, "code"));
  const char *msg = json_string_value(json_object_get(e0, "message"));
  char *out = NULL, *c = NULL, *m = NULL;

  if (code != NULL) {
    c = dk_sanitize(code, 64);
    for (char *p = c; p && *p; p++)
      *p = *p == '_' ? ' ' : (char)tolower((unsigned char)*p);
    m = msg ? dk_sanitize(msg, 300) : NULL;
    if (c && asprintf(&out, "%s%s%s", c, m && *m ? ": " : "", m && *m ? m : "") < 0)
      out = NULL;
  } else {
    const char *w = status_word(r->status);
    if (asprintf(&out, "%s%sHTTP %ld%s%s", w ? w : "", w ? ": " : "", r->status,
                 r->reason && *r->reason ? " " : "", r->reason ? r->reason : "") < 0)
      out = NULL;
  }
  free(c);
  free(m);
  json_decref(doc);
  return out;
}

int dk_status_error(struct strata_error **err, const char *what, const struct dk_response *r) {
  char *msg = registry_message(r);
  int ret;
  if (what == NULL || *what == '\0')
    ret = dk_host->error(err, 0, "%s", msg ? msg : "registry error");
  else
    ret = dk_host->error(err, 0, "%s%s: %s", what, r->status == 404 ? " not found" : "",
                         msg ? msg : "registry error");
  free(msg);
  return ret;
}

static bool verify_for(struct dk_session *s, const char *url) {
  char *host;
  bool v;
  if (s->tls_verify == STRATA_TLS_VERIFY_ON)
    return true;
  if (s->tls_verify == STRATA_TLS_VERIFY_OFF)
    return false;
  if (dk_same_origin(url, s->ep.origin))
    return !s->ep.insecure;
  host = url_authority(url);
  v = host == NULL || !dk_is_insecure(s->cfg, host);
  free(host);
  return v;
}

static const char *what_prefix(const char *what) { return what && *what ? what : ""; }
static const char *what_sep(const char *what) { return what && *what ? ": " : ""; }

int dk_registry_get(struct dk_session *s, const char *what, const char *rel, const char *accept,
                    const struct strata_blob_sink *sink, size_t max, struct dk_response *r,
                    struct strata_error **err) {
  char *url = NULL;
  int hops = 0, retries = 0, ret = -1;
  bool reauthenticated = false;

  if (asprintf(&url, "%s%s", s->ep.origin, rel) < 0)
    return dk_host->error(err, ENOMEM, "cannot fetch %s", what);
  for (;;) {
    bool home = dk_same_origin(url, s->ep.origin);
    struct dk_request req = {.url = url,
                             .accept = accept,
                             .authz = home ? s->authz : NULL, /* never to another host */
                             .offset = r->delivered,
                             .sink = sink,
                             .max = max,
                             .verify = verify_for(s, url)};
    CURLcode rc = dk_http_perform(s, &req, r);

    if (r->sink_err != NULL) {
      if (err)
        *err = r->sink_err;
      else
        dk_host->error_free(r->sink_err);
      r->sink_err = NULL;
      goto out;
    }
    if (r->too_large) {
      dk_host->error(err, EFBIG, "%s%sthe registry sent more than %zu bytes", what_prefix(what),
                     what_sep(what), max);
      goto out;
    }
    if (rc != CURLE_OK) {
      if (transient(rc) && retries < DK_MAX_RETRIES) {
        dk_host->log(STRATA_LOG_INFO, DK_LOG, "%s: %s; retrying", s->ep.host,
                     r->curl_error[0] ? r->curl_error : curl_easy_strerror(rc));
        backoff(retries++);
        continue;
      }
      dk_host->error(err, 0, "%s%s%s: %s%s", what_prefix(what), what_sep(what), s->ep.host,
                     r->curl_error[0] ? r->curl_error : curl_easy_strerror(rc),
                     retries ? " (gave up after retrying)" : "");
      goto out;
    }
    if (r->mode == 1 || (r->mode == 0 && r->status >= 200 && r->status < 300)) {
      if (r->offset > 0 && r->status != 206) {
        dk_host->error(err, 0, "%s%sthe registry did not honour a Range request (HTTP %ld)",
                       what_prefix(what), what_sep(what), r->status);
        goto out;
      }
      ret = 0;
      goto out;
    }
    if (r->status >= 300 && r->status < 400 && r->location != NULL) {
      char *scheme = NULL, *nscheme = NULL, *h1 = NULL, *h2 = NULL;
      bool downgrade;
      if (++hops > DK_MAX_REDIRECTS) {
        dk_host->error(err, 0, "%s%smore than %d redirects", what_prefix(what), what_sep(what),
                       DK_MAX_REDIRECTS);
        goto out;
      }
      if (dk_url_parts(url, &scheme, &h1, NULL) < 0 ||
          dk_url_parts(r->location, &nscheme, &h2, NULL) < 0) {
        curl_free(scheme);
        free(h1);
        dk_host->error(err, 0, "%s%sinvalid redirect", what_prefix(what), what_sep(what));
        goto out;
      }
      downgrade = strcasecmp(scheme, "https") == 0 && strcasecmp(nscheme, "https") != 0;
      curl_free(scheme);
      curl_free(nscheme);
      free(h1);
      free(h2);
      if (downgrade) {
        char *loc = dk_sanitize(r->location, 200);
        dk_host->error(err, 0, "%s%srefusing a redirect from https to '%s'", what_prefix(what),
                       what_sep(what), loc ? loc : "?");
        free(loc);
        goto out;
      }
      free(url);
      url = strdup(r->location);
      if (url == NULL) {
        dk_host->error(err, ENOMEM, "cannot follow a redirect");
        goto out;
      }
      continue;
    }
    if (r->status == 401 && home && r->www_authenticate != NULL && !reauthenticated) {
      /* a first 401 (or an expired token): answer the challenge once */
      if (dk_authenticate(s, r->www_authenticate, err) < 0)
        goto out;
      reauthenticated = true;
      continue;
    }
    if (r->status == 401 && reauthenticated) {
      char *msg = registry_message(r);
      dk_host->error(err, 0, "%s%s%s (still refused after authenticating%s%s)",
                     what_prefix(what), what_sep(what), msg ? msg : "unauthorized",
                     s->auth_note ? ": " : "", s->auth_note ? s->auth_note : "");
      free(msg);
      goto out;
    }
    if ((r->status >= 500 || r->status == 429 || r->status == 408) && retries < DK_MAX_RETRIES) {
      dk_host->log(STRATA_LOG_INFO, DK_LOG, "%s answered HTTP %ld; retrying", s->ep.host,
                   r->status);
      backoff(retries++);
      continue;
    }
    {
      char *w = NULL;
      if (retries && asprintf(&w, "%s%s(gave up after %d retries)", what_prefix(what),
                              what && *what ? " " : "", retries) < 0)
        w = NULL;
      dk_status_error(err, w ? w : what, r);
      free(w);
    }
    goto out;
  }
out:
  free(url);
  return ret;
}
