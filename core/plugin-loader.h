/* Finds, loads and checks plugins.  The only user of libltdl. */
#ifndef STRATA_CORE_PLUGIN_LOADER_H
#define STRATA_CORE_PLUGIN_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <strata/plugin/plugin.h>

#include "error.h"

struct strata_plugin {
  char *path;                              /* the shared object */
  const struct strata_plugin_info *info;   /* points into the loaded object */
  void *handle;                            /* lt_dlhandle */
  void *state;                             /* from info->init */
  bool initialized;
};

struct strata_plugin_set {
  struct strata_plugin **items; /* each allocated on its own: pointers stay valid */
  size_t n;
  char **refused; /* one line per refused file, NULL-terminated */
  size_t nrefused;
  unsigned loaded; /* STRATA_PLUGINS_KIND(k) bits of the kinds loaded so far */
};

/* A kind's bit in strata_plugins_load_kinds's KINDS; PLUGINS_ALL is every kind. */
#define STRATA_PLUGINS_KIND(k) (1u << (k))
#define STRATA_PLUGINS_ALL 0xffffffffu

/* Loads into *SET (made when NULL) the plugins of the KINDS not loaded yet.
 * A file named "KIND-NAME.so" ("storage-overlay.so") is opened only when
 * its kind is asked for, so `run` never pays for libcurl; any other name is
 * opened on the first call.  Same rules and failures as strata_plugins_load. */
int strata_plugins_load_kinds(const char *const *dirs, unsigned kinds,
                              struct strata_plugin_set **set, struct strata_error **err);

/* Scans each directory of DIRS (NULL-terminated, in priority order) for
 * "*.so" files and loads the valid plugins; a plugin of the same kind and
 * name found earlier wins.  Refused files are reported with one warning line
 * each (and kept in set->refused) and skipped.  Fails only on
 * out-of-memory or if libltdl cannot start. */
int strata_plugins_load(const char *const *dirs, struct strata_plugin_set **out,
                        struct strata_error **err);
/* Calls every fini, closes every handle. */
void strata_plugins_free(struct strata_plugin_set *set);

/* Checks a descriptor the way the loader does.  Returns 0 when acceptable,
 * else -1 with a reason in *err ("ABI 2.0, strata supports 1.0"). */
int strata_plugin_check_info(const struct strata_plugin_info *info, struct strata_error **err);

/* The plugin of KIND named NAME, or NULL. */
struct strata_plugin *strata_plugins_find(struct strata_plugin_set *set, enum strata_plugin_kind kind,
                                          const char *name);
/* The names of every plugin of KIND, NULL-terminated; free the array only. */
const char **strata_plugins_names(struct strata_plugin_set *set, enum strata_plugin_kind kind);

const char *strata_plugin_kind_name(uint32_t kind);

#endif
