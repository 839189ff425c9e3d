#include "config.h"
#include "settings.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"

#define SYSTEM_CONFIG "/etc/strata/config.json"

static int merge_file(struct strata_config *cfg, const char *path, size_t *nfiles,
                      struct strata_error **err) {
  json_error_t jerr;
  json_t *doc;
  char **files;

  cleanup_file FILE *f = NULL;
  int c;

  if (access(path, F_OK) < 0)
    return 0;
  /* an empty file (or /dev/null) is an empty configuration */
  f = fopen(path, "re");
  if (f == NULL)
    return strata_error_set(err, errno, "cannot read config file '%s'", path);
  while ((c = fgetc(f)) != EOF && (c == ' ' || c == '\n' || c == '\t' || c == '\r'))
    ;
  if (c == EOF)
    return 0;
  doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
  if (doc == NULL)
    return strata_error_set(err, 0, "invalid config file '%s' line %d: %s", path, jerr.line,
                            jerr.text);
  if (!json_is_object(doc)) {
    json_decref(doc);
    return strata_error_set(err, 0, "invalid config file '%s': not a JSON object", path);
  }
  json_object_update(cfg->doc, doc);
  json_decref(doc);
  files = realloc(cfg->files, (*nfiles + 2) * sizeof(char *));
  if (files == NULL)
    return strata_error_set(err, ENOMEM, "cannot read config");
  cfg->files = files;
  files[(*nfiles)++] = strdup(path);
  files[*nfiles] = NULL;
  return 0;
}

int strata_config_load(struct strata_config **out, struct strata_error **err) {
  struct strata_config *cfg = calloc(1, sizeof(*cfg));
  const char *explicit = getenv("STRATA_CONFIG");
  size_t nfiles = 0;
  int r = 0;

  if (cfg == NULL)
    return strata_error_set(err, ENOMEM, "cannot read config");
  cfg->doc = json_object();
  cfg->files = calloc(1, sizeof(char *));
  if (explicit != NULL && *explicit) {
    if (access(explicit, F_OK) < 0)
      r = strata_error_set(err, errno, "cannot read config file '%s'", explicit);
    else
      r = merge_file(cfg, explicit, &nfiles, err);
  } else {
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    cleanup_free char *user = NULL;
    r = merge_file(cfg, SYSTEM_CONFIG, &nfiles, err);
    if (r == 0) {
      if (xdg != NULL && *xdg) {
        if (asprintf(&user, "%s/strata/config.json", xdg) < 0)
          user = NULL;
      } else if (home != NULL && *home) {
        if (asprintf(&user, "%s/.config/strata/config.json", home) < 0)
          user = NULL;
      }
      if (user != NULL)
        r = merge_file(cfg, user, &nfiles, err);
    }
  }
  if (r < 0) {
    strata_config_free(cfg);
    return -1;
  }
  *out = cfg;
  return 0;
}

void strata_config_free(struct strata_config *cfg) {
  if (cfg == NULL)
    return;
  json_decref(cfg->doc);
  strv_free(cfg->files);
  free(cfg);
}

const char *strata_config_string(const struct strata_config *cfg, const char *key) {
  json_t *v = cfg ? json_object_get(cfg->doc, key) : NULL;
  return json_is_string(v) ? json_string_value(v) : NULL;
}

char **strata_config_strings(const struct strata_config *cfg, const char *key) {
  json_t *v = cfg ? json_object_get(cfg->doc, key) : NULL;
  size_t n = json_is_array(v) ? json_array_size(v) : (json_is_string(v) ? 1 : 0);
  char **out = calloc(n + 1, sizeof(char *));
  size_t k = 0;

  if (out == NULL)
    return NULL;
  if (json_is_string(v)) {
    out[k++] = strdup(json_string_value(v));
  } else if (json_is_array(v)) {
    for (size_t i = 0; i < n; i++) {
      json_t *e = json_array_get(v, i);
      if (json_is_string(e))
        out[k++] = strdup(json_string_value(e));
    }
  }
  out[k] = NULL;
  return out;
}

const char *strata_config_choose(const struct strata_config *cfg, const char *flag,
                                 const char *env_name, const char *key, const char *builtin,
                                 enum strata_setting_source *source) {
  const char *v;
  enum strata_setting_source dummy;

  if (source == NULL)
    source = &dummy;
  if (flag != NULL && *flag) {
    *source = STRATA_FROM_FLAG;
    return flag;
  }
  v = env_name ? getenv(env_name) : NULL;
  if (v != NULL && *v) {
    *source = STRATA_FROM_ENV;
    return v;
  }
  v = key ? strata_config_string(cfg, key) : NULL;
  if (v != NULL && *v) {
    *source = STRATA_FROM_CONFIG;
    return v;
  }
  if (builtin != NULL && *builtin) {
    *source = STRATA_FROM_DEFAULT;
    return builtin;
  }
  *source = STRATA_FROM_NONE;
  return NULL;
}

const char *strata_setting_source_name(enum strata_setting_source s) {
  switch (s) {
  case STRATA_FROM_FLAG:
    return "flag";
  case STRATA_FROM_ENV:
    return "environment";
  case STRATA_FROM_CONFIG:
    return "config file";
  case STRATA_FROM_DEFAULT:
    return "configure default";
  default:
    return "probe";
  }
}
