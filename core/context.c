#include "config.h"
#include "context.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>

#include "cleanup.h"
#include "json-cleanup.h"
#include "host.h"
#include "layer-store.h"
#include "log.h"

#define LOG_DOMAIN "context"

#ifndef STRATA_PLUGINDIR
#define STRATA_PLUGINDIR "/usr/local/lib/strata/plugins"
#endif

static const char *const storage_probe_order[] = {"overlay", "btrfs", "copy", NULL};
static const char *const isolation_probe_order[] = {"namespaces", "chroot", NULL};

static int strv_push(char ***v, size_t *n, const char *s) {
  char **nv = realloc(*v, (*n + 2) * sizeof(char *));
  if (nv == NULL)
    return -1;
  *v = nv;
  nv[*n] = strdup(s);
  if (nv[*n] == NULL)
    return -1;
  nv[++*n] = NULL;
  return 0;
}

static int push_path_list(char ***v, size_t *n, const char *list) {
  cleanup_free char *copy = list ? strdup(list) : NULL;
  for (char *save = NULL, *p = copy ? strtok_r(copy, ":", &save) : NULL; p;
       p = strtok_r(NULL, ":", &save))
    if (strv_push(v, n, p) < 0)
      return -1;
  return 0;
}

int strata_context_new(const struct strata_global_options *opts, struct strata_context **out,
                       struct strata_error **err) {
  struct strata_context *ctx = calloc(1, sizeof(*ctx));
  const char *root;
  size_t n = 0;

  if (ctx == NULL)
    return strata_error_set(err, ENOMEM, "cannot start");
  ctx->opts = *opts;
  if (strata_config_load(&ctx->cfg, err) < 0) {
    free(ctx);
    return -1;
  }
  root = strata_config_choose(ctx->cfg, opts->root, "STRATA_ROOT", "data-root", STRATA_DEFAULT_ROOT,
                              NULL);
  ctx->root = strdup(root);
  /* search order: --plugin-path, STRATA_PLUGIN_PATH, config, compiled-in */
  ctx->plugin_dirs = calloc(1, sizeof(char *));
  if (ctx->root == NULL || ctx->plugin_dirs == NULL) {
    strata_context_free(ctx);
    return strata_error_set(err, ENOMEM, "cannot start");
  }
  push_path_list(&ctx->plugin_dirs, &n, opts->plugin_path);
  push_path_list(&ctx->plugin_dirs, &n, getenv("STRATA_PLUGIN_PATH"));
  {
    cleanup_strv char **cfgdirs = strata_config_strings(ctx->cfg, "plugin-path");
    for (char **d = cfgdirs; d && *d; d++)
      push_path_list(&ctx->plugin_dirs, &n, *d);
  }
  strv_push(&ctx->plugin_dirs, &n, STRATA_PLUGINDIR);
  *out = ctx;
  return 0;
}

void strata_context_free(struct strata_context *ctx) {
  if (ctx == NULL)
    return;
  strata_plugins_free(ctx->plugins);
  strata_store_close(ctx->store);
  strata_config_free(ctx->cfg);
  strv_free(ctx->plugin_dirs);
  free(ctx->root);
  free(ctx);
}

int strata_context_plugins(struct strata_context *ctx, struct strata_error **err) {
  return strata_plugins_load_kinds((const char *const *)ctx->plugin_dirs, STRATA_PLUGINS_ALL,
                                   &ctx->plugins, err);
}

int strata_context_plugins_of(struct strata_context *ctx, enum strata_plugin_kind kind,
                              struct strata_error **err) {
  return strata_plugins_load_kinds((const char *const *)ctx->plugin_dirs,
                                   STRATA_PLUGINS_KIND(kind), &ctx->plugins, err);
}

int strata_context_plugin_init(struct strata_context *ctx, struct strata_plugin *p,
                               struct strata_error **err) {
  cleanup_free char *data_dir = NULL;
  cleanup_free char *config_json = NULL;
  struct strata_plugin_context pctx;
  int r;

  if (p->initialized)
    return 0;
  if (p->info->kind == STRATA_PLUGIN_STORAGE)
    r = asprintf(&data_dir, "%s/storage/%s", ctx->root, p->info->name);
  else
    r = asprintf(&data_dir, "%s/plugins/%s-%s", ctx->root, strata_plugin_kind_name(p->info->kind),
                 p->info->name);
  if (r < 0)
    return strata_error_set(err, ENOMEM, "cannot start plugin '%s'", p->info->name);
  /* plugins read their own keys of the config file (insecure-registries,
   * registry-mirrors) from the same merged document the core uses */
  if (ctx->opts.runtime != NULL) {
    /* --runtime wins over the config file's "runtime" */
    cleanup_json json_t *doc = ctx->cfg && ctx->cfg->doc ? json_deep_copy(ctx->cfg->doc)
                                                        : json_object();
    if (doc == NULL || json_object_set_new(doc, "runtime", json_string(ctx->opts.runtime)) < 0)
      return strata_error_set(err, ENOMEM, "cannot start plugin '%s'", p->info->name);
    config_json = json_dumps(doc, JSON_COMPACT);
  } else {
    config_json = json_dumps(ctx->cfg ? ctx->cfg->doc : NULL, JSON_COMPACT);
  }
  if (config_json == NULL && (config_json = strdup("{}")) == NULL)
    return strata_error_set(err, ENOMEM, "cannot start plugin '%s'", p->info->name);
  pctx = (struct strata_plugin_context){.size = sizeof(pctx),
                                        .store_root = ctx->root,
                                        .data_dir = data_dir,
                                        .config_json = config_json};
  if (p->info->init != NULL && p->info->init(strata_host_table(), &pctx, &p->state, err) < 0)
    return strata_error_wrap(err, "%s plugin '%s'", strata_plugin_kind_name(p->info->kind),
                             p->info->name);
  p->initialized = true;
  return 0;
}

int strata_context_plugin_probe(struct strata_context *ctx, struct strata_plugin *p,
                                struct strata_error **err) {
  int (*probe)(void *, struct strata_error **) = NULL;

  if (strata_context_plugin_init(ctx, p, err) < 0)
    return -1;
  if (p->info->kind == STRATA_PLUGIN_STORAGE)
    probe = ((const struct strata_storage_ops *)p->info->ops)->probe;
  else if (p->info->kind == STRATA_PLUGIN_ISOLATION)
    probe = ((const struct strata_isolation_ops *)p->info->ops)->probe;
  return probe ? probe(p->state, err) : 0;
}

/* A command died mid-way: drop the layers it left without an image. */
static void collect_interrupted(struct strata_context *ctx) {
  cleanup_error struct strata_error *e = NULL;
  if (!ctx->store->interrupted)
    return;
  ctx->store->interrupted = false;
  if (strata_layer_gc(ctx, NULL, NULL, &e) < 0)
    log_warning("cannot clean up after an interrupted command: %s", e->msg);
}

int strata_context_store(struct strata_context *ctx, bool exclusive, struct strata_error **err) {
  if (ctx->store == NULL && strata_store_open(ctx->root, &ctx->store, err) < 0)
    return -1;
  if (strata_store_lock(ctx->store, exclusive, err) < 0)
    return -1;
  if (exclusive && ctx->storage != NULL) {
    const struct strata_storage_ops *ops = ctx->storage->info->ops;
    cleanup_error struct strata_error *e = NULL;
    if (ops->recover && ops->recover(ctx->storage->state, &e) < 0)
      log_warning("storage driver '%s' could not recover: %s", ctx->storage->info->name, e->msg);
    collect_interrupted(ctx);
  }
  return 0;
}

/* The named plugin of KIND, initialised and probed; NULL with *err set. */
static struct strata_plugin *usable_plugin(struct strata_context *ctx, enum strata_plugin_kind kind,
                                           const char *name, struct strata_error **err) {
  struct strata_plugin *p = strata_plugins_find(ctx->plugins, kind, name);
  if (p == NULL) {
    strata_error_set(err, 0, "%s plugin '%s' is not installed (see 'strata info')",
                     strata_plugin_kind_name(kind), name);
    return NULL;
  }
  if (strata_context_plugin_probe(ctx, p, err) < 0) {
    strata_error_wrap(err, "%s '%s' cannot be used here", strata_plugin_kind_name(kind), name);
    return NULL;
  }
  return p;
}

int strata_context_storage(struct strata_context *ctx, const struct strata_storage_ops **ops,
                           void **state, struct strata_error **err) {
  const char *chosen;
  cleanup_free char *store_driver = NULL;
  struct strata_plugin *p = NULL;

  if (ctx->storage == NULL) {
    if (strata_context_plugins_of(ctx, STRATA_PLUGIN_STORAGE, err) < 0)
      return -1;
    if (ctx->store == NULL && strata_context_store(ctx, false, err) < 0)
      return -1;
    store_driver = strata_store_driver(ctx->store, NULL);
    chosen = strata_config_choose(ctx->cfg, ctx->opts.storage_driver, "STRATA_STORAGE_DRIVER",
                                  "storage-driver", NULL, &ctx->storage_source);
    if (chosen != NULL && store_driver != NULL && strcmp(chosen, store_driver) != 0)
      return strata_error_set(err, 0,
                              "the store '%s' was created with storage driver '%s'; it cannot be "
                              "used with '%s' (from %s)",
                              ctx->root, store_driver, chosen,
                              strata_setting_source_name(ctx->storage_source));
    if (chosen == NULL && store_driver != NULL) {
      chosen = store_driver;
      ctx->storage_source = STRATA_FROM_CONFIG;
    }
    if (chosen == NULL && *STRATA_DEFAULT_STORAGE_DRIVER) {
      chosen = STRATA_DEFAULT_STORAGE_DRIVER;
      ctx->storage_source = STRATA_FROM_DEFAULT;
    }
    if (chosen != NULL) {
      p = usable_plugin(ctx, STRATA_PLUGIN_STORAGE, chosen, err);
      if (p == NULL)
        return -1;
    } else {
      cleanup_error struct strata_error *last = NULL;
      for (const char *const *n = storage_probe_order; *n && p == NULL; n++) {
        struct strata_plugin *c = strata_plugins_find(ctx->plugins, STRATA_PLUGIN_STORAGE, *n);
        strata_error_clear(&last);
        if (c != NULL && strata_context_plugin_probe(ctx, c, &last) == 0)
          p = c;
        else if (last != NULL)
          log_debug("storage driver '%s' skipped: %s", *n, last->msg);
      }
      if (p == NULL)
        return strata_error_set(err, 0, "no usable storage driver (see 'strata info')");
      ctx->storage_source = STRATA_FROM_NONE;
    }
    ctx->storage = p;
    if (ctx->store->locked == LOCK_EX) {
      const struct strata_storage_ops *sops = p->info->ops;
      cleanup_error struct strata_error *e = NULL;
      if (store_driver == NULL && strata_store_set_driver(ctx->store, p->info->name, err) < 0)
        return -1;
      if (sops->recover && sops->recover(p->state, &e) < 0)
        log_warning("storage driver '%s' could not recover: %s", p->info->name, e->msg);
    }
  }
  if (ctx->store->locked == LOCK_EX)
    collect_interrupted(ctx);
  *ops = ctx->storage->info->ops;
  *state = ctx->storage->state;
  return 0;
}

int strata_context_isolation(struct strata_context *ctx, struct strata_plugin **out,
                             struct strata_error **err) {
  const char *chosen;
  if (strata_context_plugins_of(ctx, STRATA_PLUGIN_ISOLATION, err) < 0)
    return -1;
  chosen = strata_config_choose(ctx->cfg, ctx->opts.isolation, "STRATA_ISOLATION", "isolation",
                                NULL, NULL);
  if (chosen != NULL) {
    *out = usable_plugin(ctx, STRATA_PLUGIN_ISOLATION, chosen, err);
    return *out ? 0 : -1;
  }
  for (const char *const *n = isolation_probe_order; *n; n++) {
    struct strata_plugin *c = strata_plugins_find(ctx->plugins, STRATA_PLUGIN_ISOLATION, *n);
    cleanup_error struct strata_error *e = NULL;
    if (c != NULL && strata_context_plugin_probe(ctx, c, &e) == 0) {
      *out = c;
      return 0;
    }
  }
  return strata_error_set(err, 0, "no usable isolation backend (see 'strata info')");
}

int strata_context_transport(struct strata_context *ctx, const char *name,
                             struct strata_plugin **out, struct strata_error **err) {
  if (strata_context_plugins_of(ctx, STRATA_PLUGIN_TRANSPORT, err) < 0)
    return -1;
  *out = usable_plugin(ctx, STRATA_PLUGIN_TRANSPORT, name, err);
  return *out ? 0 : -1;
}
