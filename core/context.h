/* One command's view of the engine: settings, plugins, the store and the
 * backends chosen for this run.  Everything here is opened lazily so that
 * `strata version` touches nothing. */
#ifndef STRATA_CORE_CONTEXT_H
#define STRATA_CORE_CONTEXT_H

#include <stdbool.h>
#include <strata/plugin/isolation.h>
#include <strata/plugin/storage.h>
#include <strata/plugin/transport.h>

#include "error.h"
#include "plugin-loader.h"
#include "settings.h"
#include "store.h"

#define STRATA_DEFAULT_ROOT "/var/lib/strata"

/* Global flags, as given on the command line (NULL when absent). */
struct strata_global_options {
  const char *root;
  const char *storage_driver;
  const char *isolation;
  const char *plugin_path;
  const char *runtime; /* --runtime: the oci-runtime backend's runtime (config key "runtime") */
};

struct strata_context {
  struct strata_global_options opts;
  struct strata_config *cfg;
  char *root;
  char **plugin_dirs;
  struct strata_plugin_set *plugins;
  struct strata_store *store;
  struct strata_plugin *storage; /* chosen storage driver, initialised */
  enum strata_setting_source storage_source;
};

int strata_context_new(const struct strata_global_options *opts, struct strata_context **out,
                       struct strata_error **err);
void strata_context_free(struct strata_context *ctx);

/* Loads the plugins (once). */
int strata_context_plugins(struct strata_context *ctx, struct strata_error **err);
/* Loads the plugins of KIND (once): a command pays only for the kinds it uses. */
int strata_context_plugins_of(struct strata_context *ctx, enum strata_plugin_kind kind,
                              struct strata_error **err);
/* Opens the store (once) and takes its lock.  An exclusive lock also lets
 * the storage driver recover from interrupted work. */
int strata_context_store(struct strata_context *ctx, bool exclusive, struct strata_error **err);
/* Picks, initialises and probes the storage driver (flag > env > config >
 * configure default > the driver that made the store > probe order), and
 * refuses a driver other than the one the store was made with. */
int strata_context_storage(struct strata_context *ctx, const struct strata_storage_ops **ops,
                           void **state, struct strata_error **err);
/* Same for the isolation backend (default: the first of namespaces, chroot
 * whose probe passes). */
int strata_context_isolation(struct strata_context *ctx, struct strata_plugin **out,
                             struct strata_error **err);
/* The transport plugin NAME, initialised. */
int strata_context_transport(struct strata_context *ctx, const char *name,
                             struct strata_plugin **out, struct strata_error **err);
/* Calls the plugin's init once. */
int strata_context_plugin_init(struct strata_context *ctx, struct strata_plugin *p,
                               struct strata_error **err);
/* The plugin's own ops->probe, after init: 0 or -1 with the reason. */
int strata_context_plugin_probe(struct strata_context *ctx, struct strata_plugin *p,
                                struct strata_error **err);

#endif
