/* transport "docker": authentication.
 *
 * Credentials come from the files Docker and Podman write:
 * $REGISTRY_AUTH_FILE, ${XDG_RUNTIME_DIR}/containers/auth.json, then
 * ${DOCKER_CONFIG:-~/.docker}/config.json; the first `auths` entry whose key
 * names the registry wins.  A registry answers 401 with a challenge:
 *   Basic realm="..."                      -> the stored credentials
 *   Bearer realm="URL",service="S",...     -> GET URL?service=S&scope=repository:PATH:pull
 * sending the credentials to the token server only when it is run by the
 * registry itself (same host name, any port; for docker.io, auth.docker.io)
 * and never from an https registry to an http realm.  Anything else gets an
 * anonymous token.  Tokens are checked before they become a header. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "docker.h"

#define AUTH_FILE_MAX (1u << 20)

/* "https://host:5000/v1/" -> "host:5000" */
static char *key_host(const char *key) {
  const char *p = key, *end;
  if (strncasecmp(p, "https://", 8) == 0)
    p += 8;
  else if (strncasecmp(p, "http://", 7) == 0)
    p += 7;
  end = strchr(p, '/');
  return strndup(p, end ? (size_t)(end - p) : strlen(p));
}

static bool is_docker_hub(const char *host) {
  return strcmp(host, "docker.io") == 0 || strcmp(host, "index.docker.io") == 0 ||
         strcmp(host, "registry-1.docker.io") == 0;
}

static bool host_matches(const char *key, const char *host) {
  char *k = key_host(key);
  bool m = k && (strcasecmp(k, host) == 0 || (is_docker_hub(k) && is_docker_hub(host)));
  free(k);
  return m;
}

/* The base64 "user:pass" must decode to something with a ':'. */
static bool valid_auth(const char *b64) {
  static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  unsigned val = 0;
  int bits = 0;
  bool colon = false;
  if (b64 == NULL || *b64 == '\0')
    return false;
  for (const char *p = b64; *p && *p != '='; p++) {
    const char *pos = strchr(tbl, *p);
    if (pos == NULL)
      return false;
    val = (val << 6) | (unsigned)(pos - tbl);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      if (((val >> bits) & 0xff) == ':')
        colon = true;
    }
  }
  return colon;
}

static char *lookup_file(const char *path, const char *host) {
  json_t *doc, *auths, *v;
  const char *k;
  char *found = NULL;
  if (access(path, R_OK) < 0)
    return NULL;
  doc = json_load_file(path, 0, NULL);
  if (doc == NULL) {
    dk_host->log(STRATA_LOG_WARNING, DK_LOG, "ignoring unreadable credentials file '%s'", path);
    return NULL;
  }
  auths = json_object_get(doc, "auths");
  json_object_foreach(auths, k, v) {
    const char *a = json_string_value(json_object_get(v, "auth"));
    if (!host_matches(k, host))
      continue;
    if (valid_auth(a)) {
      found = strdup(a);
      break;
    }
    dk_host->log(STRATA_LOG_WARNING, DK_LOG, "'%s': the entry for %s has no usable \"auth\"", path, k);
  }
  if (found)
    dk_host->log(STRATA_LOG_DEBUG, DK_LOG, "credentials for %s from '%s'", host, path);
  json_decref(doc);
  return found;
}

char *dk_credentials(const char *host) {
  const char *env = getenv("REGISTRY_AUTH_FILE");
  const char *xdg = getenv("XDG_RUNTIME_DIR");
  const char *dcfg = getenv("DOCKER_CONFIG");
  const char *home = getenv("HOME");
  char *path = NULL, *found = NULL;

  if (env != NULL && *env)
    return lookup_file(env, host);
  if (xdg != NULL && *xdg && asprintf(&path, "%s/containers/auth.json", xdg) >= 0) {
    found = lookup_file(path, host);
    free(path);
    if (found)
      return found;
  }
  if (home == NULL || *home == '\0') {
    struct passwd *pw = getpwuid(getuid());
    home = pw ? pw->pw_dir : NULL;
  }
  path = NULL;
  if (dcfg != NULL && *dcfg) {
    if (asprintf(&path, "%s/config.json", dcfg) < 0)
      path = NULL;
  } else if (home != NULL && asprintf(&path, "%s/.docker/config.json", home) < 0) {
    path = NULL;
  }
  if (path != NULL) {
    found = lookup_file(path, host);
    free(path);
  }
  return found;
}

/* Parses `Scheme k="v", k2=v2` (RFC 7235); values are copied into PARAMS
 * for the keys asked for. */
struct challenge {
  char scheme[16];
  char *realm, *service, *scope, *error;
};

static void challenge_free(struct challenge *c) {
  free(c->realm);
  free(c->service);
  free(c->scope);
  free(c->error);
}

static int parse_challenge(const char *s, struct challenge *c) {
  size_t n = 0;
  memset(c, 0, sizeof(*c));
  while (*s == ' ')
    s++;
  while (*s && *s != ' ' && n + 1 < sizeof(c->scheme))
    c->scheme[n++] = *s++;
  c->scheme[n] = '\0';
  while (*s) {
    const char *k;
    size_t kl;
    char *v;
    size_t vl = 0;
    while (*s == ' ' || *s == ',')
      s++;
    k = s;
    while (*s && *s != '=' && *s != ' ' && *s != ',')
      s++;
    kl = (size_t)(s - k);
    if (*s != '=') {
      continue;
    }
    s++;
    v = malloc(strlen(s) + 1);
    if (v == NULL)
      return -1;
    if (*s == '"') {
      s++;
      while (*s && *s != '"') {
        if (*s == '\\' && s[1])
          s++;
        v[vl++] = *s++;
      }
      if (*s == '"')
        s++;
    } else {
      while (*s && *s != ',' && *s != ' ')
        v[vl++] = *s++;
    }
    v[vl] = '\0';
    if (kl == 5 && strncasecmp(k, "realm", 5) == 0 && !c->realm)
      c->realm = v;
    else if (kl == 7 && strncasecmp(k, "service", 7) == 0 && !c->service)
      c->service = v;
    else if (kl == 5 && strncasecmp(k, "scope", 5) == 0 && !c->scope)
      c->scope = v;
    else if (kl == 5 && strncasecmp(k, "error", 5) == 0 && !c->error)
      c->error = v;
    else
      free(v);
  }
  return 0;
}

/* Are the registry's credentials allowed to go to the token server REALM? */
static bool realm_trusted(struct dk_session *s, const char *realm) {
  char *rs = NULL, *rh = NULL, *es = NULL, *eh = NULL;
  bool ok = false;
  if (dk_url_parts(realm, &rs, &rh, NULL) < 0)
    return false;
  if (dk_url_parts(s->ep.origin, &es, &eh, NULL) == 0) {
    bool downgrade = strcasecmp(es, "https") == 0 && strcasecmp(rs, "https") != 0;
    ok = !downgrade && (strcmp(rh, eh) == 0 || (is_docker_hub(s->ep.host) &&
                                                 strcmp(rh, "auth.docker.io") == 0));
    curl_free(es);
    free(eh);
  }
  curl_free(rs);
  free(rh);
  return ok;
}

/* A token goes into a header line: printable ASCII only, no blanks. */
static bool valid_token(const char *t) {
  if (t == NULL || *t == '\0' || strlen(t) > 16384)
    return false;
  for (; *t; t++)
    if ((unsigned char)*t <= 0x20 || (unsigned char)*t >= 0x7f)
      return false;
  return true;
}

static int fetch_token(struct dk_session *s, const struct challenge *c, struct strata_error **err) {
  char *url = NULL, *esc_service = NULL, *esc_scope = NULL, *scope = NULL, *authz = NULL;
  char *realm_host = NULL, *realm_scheme = NULL;
  struct dk_response r = {0};
  json_t *doc = NULL;
  const char *token;
  bool creds;
  int ret = -1, tries = 0;
  CURLcode rc;

  if (dk_url_parts(c->realm, &realm_scheme, &realm_host, NULL) < 0 ||
      (strcasecmp(realm_scheme, "https") != 0 && strcasecmp(realm_scheme, "http") != 0)) {
    char *rl = dk_sanitize(c->realm, 200);
    dk_host->error(err, 0, "%s: invalid token realm '%s'", s->ep.host, rl ? rl : "");
    free(rl);
    goto out;
  }
  /* a login asks for no scope, only whether the credentials are good
   * (Docker sends account=USER instead) */
  if (s->login) {
    if (asprintf(&scope, "account=%s", s->login_user ? s->login_user : "") < 0)
      goto nomem;
    esc_scope = curl_easy_escape(s->curl, s->login_user ? s->login_user : "", 0);
  } else {
    if (asprintf(&scope, "repository:%s:pull", s->path) < 0)
      goto nomem;
    esc_scope = curl_easy_escape(s->curl, scope, 0);
  }
  esc_service = c->service ? curl_easy_escape(s->curl, c->service, 0) : NULL;
  if (esc_scope == NULL ||
      asprintf(&url, "%s%s%s=%s%s%s", c->realm, strchr(c->realm, '?') ? "&" : "?",
               s->login ? "account" : "scope", esc_scope, esc_service ? "&service=" : "",
               esc_service ? esc_service : "") < 0)
    goto nomem;
  creds = s->basic != NULL && realm_trusted(s, c->realm);
  if (s->login && !creds) {
    /* an anonymous token would prove nothing about the credentials */
    dk_host->error(err, 0,
                   "%s: not sending the credentials to the token server on %s, another host "
                   "than the registry's",
                   s->ep.host, realm_host);
    goto out;
  }
  if (s->basic != NULL && !creds) {
    /* said in the error if the anonymous token is not enough */
    free(s->auth_note);
    if (asprintf(&s->auth_note,
                 "the credentials for %s were not sent to the token server on %s, another host",
                 s->ep.host, realm_host) < 0)
      s->auth_note = NULL;
    dk_host->log(STRATA_LOG_INFO, DK_LOG, "%s", s->auth_note ? s->auth_note : "");
  }
  if (creds && asprintf(&authz, "Basic %s", s->basic) < 0)
    goto nomem;
  for (;;) {
    struct dk_request req = {.url = url,
                             .authz = authz,
                             .max = DK_SMALL_MAX,
                             .verify = s->tls_verify == STRATA_TLS_VERIFY_OFF
                                           ? false
                                           : (s->tls_verify == STRATA_TLS_VERIFY_ON ||
                                              !dk_is_insecure(s->cfg, realm_host))};
    rc = dk_http_perform(s, &req, &r);
    if ((rc != CURLE_OK && rc != CURLE_WRITE_ERROR) || r.status >= 500) {
      if (tries++ < DK_MAX_RETRIES)
        continue;
    }
    break;
  }
  if (r.too_large) {
    dk_host->error(err, 0, "%s: the token server sent an oversized answer", realm_host);
    goto out;
  }
  if (rc != CURLE_OK) {
    dk_host->error(err, 0, "cannot get a token from %s: %s", realm_host,
                   r.curl_error[0] ? r.curl_error : curl_easy_strerror(rc));
    goto out;
  }
  if (r.status != 200) {
    char *what = NULL;
    if (asprintf(&what, "token server %s%s", realm_host,
                 !creds ? "" : s->login ? " (with the credentials given)"
                                        : " (with the stored credentials)") < 0)
      what = NULL;
    dk_status_error(err, what ? what : "token server", &r);
    free(what);
    goto out;
  }
  doc = json_loadb(r.body ? r.body : "", r.len, 0, NULL);
  token = json_string_value(json_object_get(doc, "token"));
  if (token == NULL || *token == '\0')
    token = json_string_value(json_object_get(doc, "access_token"));
  if (token == NULL || *token == '\0') {
    dk_host->error(err, 0, "token server %s answered without a token", realm_host);
    goto out;
  }
  if (!valid_token(token)) {
    dk_host->error(err, 0, "token server %s sent an invalid token (control characters or blanks)",
                   realm_host);
    goto out;
  }
  free(s->authz);
  if (asprintf(&s->authz, "Bearer %s", token) < 0) {
    s->authz = NULL;
    goto nomem;
  }
  ret = 0;
  goto out;
nomem:
  dk_host->error(err, ENOMEM, "cannot authenticate to %s", s->ep.host);
out:
  json_decref(doc);
  dk_response_clear(&r);
  curl_free(esc_scope);
  curl_free(esc_service);
  curl_free(realm_scheme);
  free(realm_host);
  free(scope);
  free(url);
  free(authz);
  return ret;
}

int dk_authenticate(struct dk_session *s, const char *header, struct strata_error **err) {
  struct challenge c;
  int ret = -1;

  if (parse_challenge(header, &c) < 0)
    return dk_host->error(err, ENOMEM, "cannot authenticate to %s", s->ep.host);
  if (strcasecmp(c.scheme, "Bearer") == 0 && c.realm != NULL) {
    ret = fetch_token(s, &c, err);
  } else if (strcasecmp(c.scheme, "Basic") == 0) {
    if (s->basic == NULL) {
      dk_host->error(err, 0,
                     "unauthorized: %s needs credentials, and there are none for it in "
                     "${XDG_RUNTIME_DIR}/containers/auth.json or ~/.docker/config.json",
                     s->ep.host);
    } else if (s->authz != NULL && strncmp(s->authz, "Basic ", 6) == 0) {
      dk_host->error(err, 0, "unauthorized: %s refused the stored credentials", s->ep.host);
    } else {
      free(s->authz);
      if (asprintf(&s->authz, "Basic %s", s->basic) < 0)
        s->authz = NULL;
      ret = s->authz ? 0 : dk_host->error(err, ENOMEM, "cannot authenticate");
    }
  } else {
    char *h = dk_sanitize(header, 120);
    dk_host->error(err, 0, "%s: unsupported authentication challenge '%s'", s->ep.host, h ? h : "");
    free(h);
  }
  challenge_free(&c);
  return ret;
}
