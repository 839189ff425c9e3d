/* transport "docker": checking credentials for `strata login`, the way
 * Docker does it: GET /v2/, answer the challenge with the credentials given
 * (Basic: send them; Bearer: ask the token server for a token with them,
 * account=USER and no scope), then GET /v2/ again with what that gave.  A
 * registry that wants no credentials at all accepts any.  Nothing is stored
 * here: the core writes the credentials file. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "docker.h"

static char *base64(const char *in) {
  static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t n = strlen(in), o = 0;
  char *out = malloc(4 * ((n + 2) / 3) + 1);
  const unsigned char *p = (const unsigned char *)in;

  if (out == NULL)
    return NULL;
  for (size_t i = 0; i < n; i += 3) {
    unsigned v = (unsigned)p[i] << 16;
    if (i + 1 < n)
      v |= (unsigned)p[i + 1] << 8;
    if (i + 2 < n)
      v |= p[i + 2];
    out[o++] = tbl[(v >> 18) & 63];
    out[o++] = tbl[(v >> 12) & 63];
    out[o++] = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
    out[o++] = i + 2 < n ? tbl[v & 63] : '=';
  }
  out[o] = '\0';
  return out;
}

/* GET /v2/ with the Authorization the challenge gave. */
static int verify(struct dk_session *s, struct strata_error **err) {
  struct dk_response r = {0};
  struct dk_request req = {.authz = s->authz, .max = DK_SMALL_MAX, .verify = !s->ep.insecure};
  char *url = NULL;
  CURLcode rc;
  int ret = -1;

  if (asprintf(&url, "%s/v2/", s->ep.origin) < 0)
    return dk_host->error(err, ENOMEM, "cannot log in to %s", s->ep.host);
  req.url = url;
  rc = dk_http_perform(s, &req, &r);
  if (rc != CURLE_OK)
    dk_host->error(err, 0, "cannot reach the registry at %s: %s", s->ep.origin,
                   r.curl_error[0] ? r.curl_error : curl_easy_strerror(rc));
  else if (r.status == 401 || r.status == 403)
    dk_host->error(err, 0, "login to %s failed: unauthorized: incorrect username or password",
                   s->ep.host);
  else if (r.status != 200)
    dk_status_error(err, "login", &r);
  else
    ret = 0;
  dk_response_clear(&r);
  free(url);
  return ret;
}

int dk_check_auth(void *state, const struct strata_transport_options *o, const char *username,
                  const char *password, struct strata_error **err) {
  struct dk_session *s;
  char *pair = NULL;
  int ret = -1;

  if (o == NULL || o->size < offsetof(struct strata_transport_options, domain) + sizeof(o->domain) ||
      o->domain == NULL)
    return dk_host->error(err, EINVAL, "login: no registry given");
  if (username == NULL || *username == '\0' || strchr(username, ':') != NULL)
    return dk_host->error(err, EINVAL, "login: the user name must be set and hold no ':'");
  s = calloc(1, sizeof(*s));
  if (s == NULL)
    return dk_host->error(err, ENOMEM, "cannot log in to %s", o->domain);
  s->cfg = state;
  s->tls_verify = o->tls_verify;
  s->login = true;
  s->curl = curl_easy_init();
  s->name = strdup(o->domain);
  s->domain = strdup(o->domain);
  s->login_user = strdup(username);
  if (asprintf(&pair, "%s:%s", username, password ? password : "") < 0)
    pair = NULL;
  s->basic = pair ? base64(pair) : NULL;
  dk_secret_free(pair);
  if (s->curl == NULL || !s->name || !s->domain || !s->login_user || !s->basic) {
    dk_host->error(err, ENOMEM, "cannot log in to %s", o->domain);
    goto out;
  }
  if (dk_registry_endpoint(s, &s->ep) < 0) {
    dk_host->error(err, ENOMEM, "cannot find the registry %s", o->domain);
    goto out;
  }
  if (dk_ping(s, err) < 0)
    goto out;
  if (s->authz == NULL) {
    /* GET /v2/ answered 200 without asking: nothing to check */
    dk_host->log(STRATA_LOG_INFO, DK_LOG, "%s asks for no credentials", s->ep.host);
    ret = 0;
    goto out;
  }
  ret = verify(s, err);
out:
  dk_close(s);
  return ret;
}
