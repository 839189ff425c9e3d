/* transport "docker": what the plugin's files share.  Nothing here is
 * exported from the shared object (only strata_plugin_entry is). */
#ifndef STRATA_TRANSPORT_DOCKER_H
#define STRATA_TRANSPORT_DOCKER_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <strata/plugin/host.h>
#include <strata/plugin/transport.h>

#define DK_LOG "transport.docker"
#define DK_MANIFEST_MAX (4u << 20) /* manifests and indexes: Docker's own cap */
#define DK_SMALL_MAX (64u << 10)   /* token answers, error bodies */
#define DK_MAX_REDIRECTS 5
#define DK_MAX_RETRIES 3

extern const struct strata_host *dk_host;

/* Settings from the config file and the environment, read once in init. */
struct dk_config {
  char **insecure;      /* insecure-registries: "host[:port]" or an IPv4 CIDR */
  char **mirrors;       /* registry-mirrors for docker.io: "https://host[:port]" */
  char *certs_d;        /* Docker's certs.d layout: DIR/HOST[:PORT]/{*.crt,*.cert,*.key} */
  long low_speed_time;  /* seconds below 1 byte/s before a transfer is dropped */
  long connect_timeout; /* seconds */
};

/* Where requests go: a registry, or a mirror of docker.io. */
struct dk_endpoint {
  char *origin;  /* "https://127.0.0.1:5000", no trailing '/' */
  char *host;    /* "127.0.0.1:5000": the key for certs.d and credentials */
  bool insecure; /* TLS unverified, plain HTTP allowed after HTTPS fails */
  bool mirror;
};

struct dk_session {
  const struct dk_config *cfg;
  CURL *curl;
  char *name;   /* the full reference: "127.0.0.1:5000/busybox:1" */
  char *domain; /* "docker.io", "127.0.0.1:5000" */
  char *path;   /* "library/busybox" */
  char *tag;    /* or NULL */
  char *digest; /* or NULL */
  uint32_t tls_verify; /* enum strata_tls_verify */
  struct dk_endpoint ep; /* the endpoint in use */
  char *basic;  /* base64 "user:pass" for ep, from the auth files, or NULL */
  char *authz;  /* the Authorization value in use ("Bearer ...", "Basic ..."), or NULL */
  char *auth_note; /* why a refusal may have happened ("credentials withheld from ..."), or NULL */
  bool login;   /* strata login: basic holds the credentials to check, path is NULL */
  char *login_user; /* the user name of a login */
};

/* One HTTP exchange. */
struct dk_request {
  const char *url;
  const char *accept;                  /* Accept header, or NULL */
  const char *authz;                   /* Authorization value, or NULL */
  uint64_t offset;                     /* > 0: Range: bytes=OFFSET- (expects 206) */
  const struct strata_blob_sink *sink; /* a 2xx body streams here, or ... */
  size_t max;                          /* ... is kept in memory, up to MAX bytes */
  bool verify;                         /* verify the TLS peer */
};

struct dk_response {
  long status;
  char *reason;          /* the status line's reason phrase */
  char *body;            /* the 2xx body (memory mode) or the error body (capped) */
  size_t len, cap;
  char *content_type;
  char *docker_digest;   /* Docker-Content-Digest */
  char *www_authenticate;
  char *content_range;
  char *location;
  uint64_t delivered;    /* bytes handed to the sink, over every attempt */
  bool too_large;
  int mode;              /* set on the first body byte: 1 deliver, 2 error body */
  struct strata_error *sink_err;
  char curl_error[CURL_ERROR_SIZE];
  /* per request */
  uint64_t offset;
  const struct strata_blob_sink *sink;
  size_t max;
};

/* http.c */
void dk_response_clear(struct dk_response *r);
/* One exchange, no redirects followed; the caller checks status. */
CURLcode dk_http_perform(struct dk_session *s, const struct dk_request *req,
                         struct dk_response *r);
/* GET REL ("/v2/...") from the session's endpoint: authentication on 401,
 * redirects (credentials stay with the registry, never https -> http, at
 * most DK_MAX_REDIRECTS), bounded retries with backoff on 5xx and dropped
 * connections (resuming a blob with a Range request).  WHAT names the object
 * in errors.  0 on a 2xx answer, else -1 with *err. */
int dk_registry_get(struct dk_session *s, const char *what, const char *rel, const char *accept,
                    const struct strata_blob_sink *sink, size_t max, struct dk_response *r,
                    struct strata_error **err);
/* Fills *err from a failed answer: "WHAT: manifest unknown: ...". */
int dk_status_error(struct strata_error **err, const char *what, const struct dk_response *r);
/* Copy of S with control characters replaced and at most MAX bytes kept:
 * registry text is hostile and ends up on a terminal. */
char *dk_sanitize(const char *s, size_t max);
/* Scheme, host and port (default filled in) of URL; 0 or -1. */
int dk_url_parts(const char *url, char **scheme, char **host, char **port);
/* Do URLs A and B have the same scheme, host and port? */
bool dk_same_origin(const char *a, const char *b);
/* Is HOST ("h" or "h:port") listed in insecure-registries? */
bool dk_is_insecure(const struct dk_config *cfg, const char *host);

/* docker.c */
void dk_close(void *session);
/* Overwrites a secret before freeing it; NULL is fine. */
void dk_secret_free(char *secret);
/* The registry's own endpoint for s->domain (docker.io -> its API host). */
int dk_registry_endpoint(struct dk_session *s, struct dk_endpoint *e);
/* GET /v2/ on s->ep: is it a registry, over which scheme (an insecure
 * endpoint falls back from HTTPS to HTTP), and does it want credentials?  A
 * 401 challenge is answered at once (s->authz). */
int dk_ping(struct dk_session *s, struct strata_error **err);

/* login.c */
int dk_check_auth(void *state, const struct strata_transport_options *opts, const char *username,
                  const char *password, struct strata_error **err);

/* auth.c */
/* base64 "user:pass" for registry HOST from the auth files, or NULL. */
char *dk_credentials(const char *host);
/* Answers the challenge in WWW-Authenticate (Bearer: fetch a token; Basic:
 * use the stored credentials): sets s->authz. */
int dk_authenticate(struct dk_session *s, const char *challenge, struct strata_error **err);

#endif
