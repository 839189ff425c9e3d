#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "filter.h"

/* A copy of [S, S+N) without leading and trailing blanks (strings.TrimSpace). */
static char *trimmed(const char *s, size_t n) {
  while (n > 0 && isspace((unsigned char)*s)) {
    s++;
    n--;
  }
  while (n > 0 && isspace((unsigned char)s[n - 1]))
    n--;
  return strndup(s, n);
}

int strata_filter_add(json_t **filters, const char *arg, const char *const *keys,
                      struct strata_error **err) {
  const char *eq = strchr(arg, '=');
  cleanup_free char *key = NULL;
  cleanup_free char *value = NULL;
  json_t *list;
  bool known = false;

  if (eq == NULL)
    return strata_error_set(err, EINVAL, "bad format of filter (expected name=value)");
  key = trimmed(arg, (size_t)(eq - arg));
  value = trimmed(eq + 1, strlen(eq + 1));
  if (key == NULL || value == NULL)
    return strata_error_set(err, ENOMEM, "cannot parse filter");
  for (char *p = key; *p; p++)
    *p = (char)tolower((unsigned char)*p);
  for (const char *const *k = keys; k && *k && !known; k++)
    known = strcmp(*k, key) == 0;
  if (!known)
    return strata_error_set(err, EINVAL, "invalid filter '%s'", key);
  if (*filters == NULL && (*filters = json_object()) == NULL)
    return strata_error_set(err, ENOMEM, "cannot parse filter");
  list = json_object_get(*filters, key);
  if (list == NULL) {
    list = json_array();
    if (list == NULL || json_object_set_new(*filters, key, list) < 0)
      return strata_error_set(err, ENOMEM, "cannot parse filter");
  }
  if (json_array_append_new(list, json_string(value)) < 0)
    return strata_error_set(err, ENOMEM, "cannot parse filter");
  return 0;
}

json_t *strata_filter_values(json_t *filters, const char *key) {
  return filters ? json_object_get(filters, key) : NULL;
}

bool strata_filter_has(json_t *filters, const char *key) {
  return json_array_size(strata_filter_values(filters, key)) > 0;
}

bool strata_filter_any(json_t *filters, const char *key,
                       bool (*match)(const char *value, void *data), void *data) {
  json_t *values = strata_filter_values(filters, key), *v;
  size_t i;
  if (json_array_size(values) == 0)
    return true;
  json_array_foreach(values, i, v) {
    if (match(json_string_value(v), data))
      return true;
  }
  return false;
}

static bool regexp_match(const char *value, void *data) {
  const char *s = data;
  regex_t re;
  bool hit;
  if (strcmp(value, s) == 0)
    return true;
  if (regcomp(&re, value, REG_EXTENDED | REG_NOSUB) != 0)
    return false;
  hit = regexec(&re, s, 0, NULL, 0) == 0;
  regfree(&re);
  return hit;
}

bool strata_filter_match_regexp(json_t *filters, const char *key, const char *s) {
  return strata_filter_any(filters, key, regexp_match, (void *)(s ? s : ""));
}

bool strata_filter_match_labels(json_t *filters, const char *key, json_t *labels) {
  json_t *values = strata_filter_values(filters, key), *v;
  size_t i;
  if (json_array_size(values) == 0)
    return true;
  json_array_foreach(values, i, v) {
    const char *want = json_string_value(v), *eq = strchr(want, '=');
    cleanup_free char *k = eq ? strndup(want, (size_t)(eq - want)) : strdup(want);
    json_t *have = k ? json_object_get(labels, k) : NULL;
    if (have == NULL)
      return false;
    if (eq && strcmp(json_string_value(have) ? json_string_value(have) : "", eq + 1) != 0)
      return false;
  }
  return true;
}

int strata_filter_check_values(json_t *filters, const char *key, const char *const *allowed,
                               struct strata_error **err) {
  json_t *v;
  size_t i;
  json_array_foreach(strata_filter_values(filters, key), i, v) {
    bool ok = false;
    for (const char *const *a = allowed; *a && !ok; a++)
      ok = strcmp(*a, json_string_value(v)) == 0;
    if (!ok)
      return strata_error_set(err, EINVAL, "invalid filter '%s=%s'", key, json_string_value(v));
  }
  return 0;
}
