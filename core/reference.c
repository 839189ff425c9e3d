#include "config.h"
#include "reference.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "digest.h"

void strata_reference_free(struct strata_reference *ref) {
  if (ref == NULL)
    return;
  free(ref->domain);
  free(ref->path);
  free(ref->tag);
  free(ref->digest);
  free(ref);
}

static bool is_alnum_lower(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

/* path-component: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)* */
static bool valid_component(const char *s, size_t n) {
  size_t i = 0;
  if (n == 0 || !is_alnum_lower(s[0]))
    return false;
  while (i < n) {
    if (is_alnum_lower(s[i])) {
      i++;
      continue;
    }
    if (s[i] == '.' || s[i] == '_') {
      size_t sep = 1;
      if (s[i] == '_' && i + 1 < n && s[i + 1] == '_')
        sep = 2;
      i += sep;
    } else if (s[i] == '-') {
      while (i < n && s[i] == '-')
        i++;
    } else {
      return false;
    }
    if (i >= n || !is_alnum_lower(s[i]))
      return false;
  }
  return true;
}

static bool valid_tag(const char *t) {
  size_t n = strlen(t);
  if (n == 0 || n > 128)
    return false;
  if (!(isalnum((unsigned char)t[0]) || t[0] == '_'))
    return false;
  for (size_t i = 1; i < n; i++)
    if (!(isalnum((unsigned char)t[i]) || t[i] == '_' || t[i] == '.' || t[i] == '-'))
      return false;
  return true;
}

/* host[:port], host being a name, an IPv4 address or a [bracketed] IPv6
 * address; the port, when there, is digits only. */
static bool valid_domain(const char *d) {
  const char *end = d + strlen(d), *port = NULL;
  if (*d == '\0')
    return false;
  if (*d == '[') {
    const char *close = strchr(d, ']');
    if (close == NULL || close == d + 1)
      return false;
    for (const char *p = d + 1; p < close; p++)
      if (!(isxdigit((unsigned char)*p) || *p == ':' || *p == '.'))
        return false;
    if (close[1] != '\0' && close[1] != ':')
      return false;
    port = close[1] == ':' ? close + 2 : NULL;
  } else {
    const char *colon = strchr(d, ':');
    if (colon == d)
      return false;
    for (const char *p = d; p < (colon ? colon : end); p++)
      if (!(isalnum((unsigned char)*p) || *p == '.' || *p == '-'))
        return false;
    port = colon ? colon + 1 : NULL;
  }
  if (port != NULL) {
    if (*port == '\0')
      return false;
    for (const char *p = port; *p; p++)
      if (!isdigit((unsigned char)*p))
        return false;
  }
  return true;
}

int strata_reference_parse(const char *s, struct strata_reference **out, struct strata_error **err) {
  cleanup_free char *copy = NULL;
  char *name, *at, *colon, *slash, *rest;
  struct strata_reference *ref;

  if (s == NULL || *s == '\0')
    return strata_error_set(err, 0, "invalid reference format: empty name");
  if (strlen(s) > 512)
    return strata_error_set(err, 0, "invalid reference format: name too long");
  copy = strdup(s);
  if (copy == NULL)
    return strata_error_set(err, ENOMEM, "cannot parse reference");
  ref = calloc(1, sizeof(*ref));
  if (ref == NULL)
    return strata_error_set(err, ENOMEM, "cannot parse reference");

  name = copy;
  at = strchr(name, '@');
  if (at != NULL) {
    *at++ = '\0';
    if (!strata_digest_valid(at)) {
      strata_reference_free(ref);
      return strata_error_set(err, 0, "invalid reference format: bad digest in '%s'", s);
    }
    ref->digest = strdup(at);
  }
  /* a tag is a ':' after the last '/' */
  slash = strrchr(name, '/');
  colon = strrchr(slash ? slash : name, ':');
  if (colon != NULL) {
    *colon++ = '\0';
    if (!valid_tag(colon)) {
      strata_reference_free(ref);
      return strata_error_set(err, 0, "invalid reference format: bad tag in '%s'", s);
    }
    ref->tag = strdup(colon);
  }
  /* a domain is a first component with '.' or ':', or "localhost" */
  slash = strchr(name, '/');
  rest = name;
  if (slash != NULL) {
    size_t dl = (size_t)(slash - name);
    bool upper = false;
    for (size_t i = 0; i < dl; i++)
      upper |= isupper((unsigned char)name[i]) != 0;
    if (memchr(name, '.', dl) || memchr(name, ':', dl) ||
        (dl == 9 && strncmp(name, "localhost", 9) == 0) || upper) {
      *slash = '\0';
      if (!valid_domain(name)) {
        strata_reference_free(ref);
        return strata_error_set(err, 0, "invalid reference format: bad domain in '%s'", s);
      }
      ref->domain = strdup(name);
      rest = slash + 1;
    }
  }
  if (ref->domain == NULL)
    ref->domain = strdup(STRATA_DEFAULT_DOMAIN);
  if (strcmp(ref->domain, "index.docker.io") == 0) {
    free(ref->domain);
    ref->domain = strdup(STRATA_DEFAULT_DOMAIN);
  }
  /* validate path components */
  for (char *p = rest;;) {
    char *e = strchr(p, '/');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    if (!valid_component(p, n)) {
      strata_reference_free(ref);
      return strata_error_set(err, 0,
                              "invalid reference format: repository name must be lowercase "
                              "('%s')",
                              s);
    }
    if (e == NULL)
      break;
    p = e + 1;
  }
  if (strcmp(ref->domain, STRATA_DEFAULT_DOMAIN) == 0 && strchr(rest, '/') == NULL) {
    if (asprintf(&ref->path, "library/%s", rest) < 0)
      ref->path = NULL;
  } else {
    ref->path = strdup(rest);
  }
  if (ref->tag == NULL && ref->digest == NULL)
    ref->tag = strdup(STRATA_DEFAULT_TAG);
  if (ref->domain == NULL || ref->path == NULL) {
    strata_reference_free(ref);
    return strata_error_set(err, ENOMEM, "cannot parse reference");
  }
  *out = ref;
  return 0;
}

char *strata_reference_repository(const struct strata_reference *ref) {
  char *s = NULL;
  if (asprintf(&s, "%s/%s", ref->domain, ref->path) < 0)
    return NULL;
  return s;
}

char *strata_reference_string(const struct strata_reference *ref) {
  char *s = NULL;
  if (ref->tag != NULL) {
    if (asprintf(&s, "%s/%s:%s", ref->domain, ref->path, ref->tag) < 0)
      return NULL;
  } else if (asprintf(&s, "%s/%s@%s", ref->domain, ref->path, ref->digest) < 0) {
    return NULL;
  }
  return s;
}

const char *strata_reference_familiar(const char *name) {
  static const char lib[] = STRATA_DEFAULT_DOMAIN "/library/";
  static const char dom[] = STRATA_DEFAULT_DOMAIN "/";
  if (strncmp(name, lib, sizeof(lib) - 1) == 0 && strchr(name + sizeof(lib) - 1, '/') == NULL)
    return name + sizeof(lib) - 1;
  if (strncmp(name, dom, sizeof(dom) - 1) == 0)
    return name + sizeof(dom) - 1;
  return name;
}

int strata_reference_split_transport(const char *s, const char *const *known, char **transport,
                                     char **location) {
  const char *colon;

  if (strncmp(s, "docker://", 9) == 0) {
    *transport = strdup("docker");
    *location = strdup(s + 9);
    return (*transport && *location) ? 0 : -1;
  }
  colon = strchr(s, ':');
  if (colon != NULL && known != NULL) {
    size_t n = (size_t)(colon - s);
    for (const char *const *k = known; *k != NULL; k++) {
      if (strlen(*k) == n && strncmp(s, *k, n) == 0 && strcmp(*k, "docker") != 0) {
        *transport = strndup(s, n);
        *location = strdup(colon + 1);
        return (*transport && *location) ? 0 : -1;
      }
    }
  }
  *transport = strdup("docker");
  *location = strdup(s);
  return (*transport && *location) ? 0 : -1;
}
