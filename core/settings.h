/* The configuration file (JSON, in the spirit of Docker's daemon.json) and
 * the precedence rule: flag > environment > config file > configure default
 * > probe order. */
#ifndef STRATA_CORE_SETTINGS_H
#define STRATA_CORE_SETTINGS_H

#include <jansson.h>

#include "error.h"

struct strata_config {
  json_t *doc;        /* merged document: system file, then the user's file */
  char **files;       /* the files that were read, NULL-terminated */
};

/* Reads STRATA_CONFIG if set (that file alone), else /etc/strata/config.json
 * then $XDG_CONFIG_HOME/strata/config.json (~/.config if unset); later keys
 * override earlier ones.  Missing files are fine; a malformed one is an
 * error naming the file and line. */
int strata_config_load(struct strata_config **out, struct strata_error **err);
void strata_config_free(struct strata_config *cfg);

/* A string key, or NULL. */
const char *strata_config_string(const struct strata_config *cfg, const char *key);
/* A key holding a list of strings (or one string): a new NULL-terminated
 * vector (free with strv_free), possibly empty. */
char **strata_config_strings(const struct strata_config *cfg, const char *key);

enum strata_setting_source {
  STRATA_FROM_NONE = 0,
  STRATA_FROM_FLAG,
  STRATA_FROM_ENV,
  STRATA_FROM_CONFIG,
  STRATA_FROM_DEFAULT,
};

/* Picks the first non-empty of FLAG, getenv(ENV_NAME), the config key, and
 * BUILTIN; *source says which won.  Returns a pointer owned by its source or
 * NULL when none is set. */
const char *strata_config_choose(const struct strata_config *cfg, const char *flag,
                                 const char *env_name, const char *key, const char *builtin,
                                 enum strata_setting_source *source);
const char *strata_setting_source_name(enum strata_setting_source s);

#endif
