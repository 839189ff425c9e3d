#include "config.h"
#include "plugin-loader.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <ltdl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "log.h"

#define LOG_DOMAIN "plugin-loader"

/* libltdl opens modules lazily (RTLD_LAZY); a plugin with an unresolved
 * symbol would then crash in the middle of a command.  Like PulseAudio, put a
 * loader in front that binds every symbol now, and keep dlerror()'s text:
 * lt_dlerror() only says "file not found". */
static char last_dl_error[512];

static lt_module bind_now_open(lt_user_data data, const char *filename, lt_dladvise advise) {
  void *h = dlopen(filename, RTLD_NOW | RTLD_LOCAL);
  if (h == NULL) {
    const char *e = dlerror();
    snprintf(last_dl_error, sizeof(last_dl_error), "%s", e ? e : "unknown error");
  }
  return h;
}

static int bind_now_close(lt_user_data data, lt_module module) { return dlclose(module); }

static void *bind_now_sym(lt_user_data data, lt_module module, const char *name) {
  return dlsym(module, name);
}

#define BIND_NOW_LOADER "strata-bind-now"

static int ltdl_users;

static int ltdl_start(struct strata_error **err) {
  if (ltdl_users++ > 0)
    return 0;
  if (lt_dlinit() != 0) {
    ltdl_users = 0;
    return strata_error_set(err, 0, "cannot start libltdl: %s", lt_dlerror());
  }
  if (lt_dlloader_find(BIND_NOW_LOADER) == NULL) {
    /* lt_dlexit() frees every loader's vtable, so it must come from malloc */
    lt_dlvtable *vt = calloc(1, sizeof(*vt));
    if (vt != NULL) {
      vt->name = BIND_NOW_LOADER;
      vt->module_open = bind_now_open;
      vt->module_close = bind_now_close;
      vt->find_sym = bind_now_sym;
      vt->priority = LT_DLLOADER_PREPEND;
    }
    if (vt == NULL || lt_dlloader_add(vt) != 0) {
      log_warning("cannot install the bind-now loader: %s", lt_dlerror());
      free(vt);
    }
  }
  return 0;
}

static void ltdl_stop(void) {
  if (ltdl_users > 0 && --ltdl_users == 0)
    lt_dlexit();
}

const char *strata_plugin_kind_name(uint32_t kind) {
  switch (kind) {
  case STRATA_PLUGIN_STORAGE:
    return "storage";
  case STRATA_PLUGIN_TRANSPORT:
    return "transport";
  case STRATA_PLUGIN_ISOLATION:
    return "isolation";
  default:
    return "unknown";
  }
}

int strata_plugin_check_info(const struct strata_plugin_info *info, struct strata_error **err) {
  /* struct_size is read only after the fixed head (magic .. struct_size) is
   * known to be there, which every ABI has. */
  const size_t needed = offsetof(struct strata_plugin_info, ops) + sizeof(info->ops);

  if (info == NULL)
    return strata_error_set(err, 0, "entry point returned no descriptor");
  if (info->magic != STRATA_PLUGIN_MAGIC)
    return strata_error_set(err, 0, "bad magic 0x%llx, not a strata plugin (plugin ABI unknown)",
                            (unsigned long long)info->magic);
  if (info->abi_major != STRATA_PLUGIN_ABI_MAJOR || info->abi_minor > STRATA_PLUGIN_ABI_MINOR)
    return strata_error_set(err, 0, "plugin is built for ABI %u.%u", info->abi_major,
                            info->abi_minor);
  if (info->struct_size < needed)
    return strata_error_set(err, 0, "descriptor too short (%u bytes, strata needs %zu) for plugin ABI %u.%u",
                            info->struct_size, needed, info->abi_major, info->abi_minor);
  if (info->kind < STRATA_PLUGIN_STORAGE || info->kind > STRATA_PLUGIN_ISOLATION)
    return strata_error_set(err, 0, "unknown plugin kind %u", info->kind);
  if (info->name == NULL || *info->name == '\0' || strchr(info->name, '/') != NULL)
    return strata_error_set(err, 0, "plugin has no valid name");
  if (info->ops == NULL)
    return strata_error_set(err, 0, "plugin '%s' has no ops table", info->name);
  /* every ops table starts with its own uint32_t version */
  if (*(const uint32_t *)info->ops == 0)
    return strata_error_set(err, 0, "plugin '%s' has an ops table of version 0", info->name);
  return 0;
}

static int add_refusal(struct strata_plugin_set *set, size_t *nref, const char *path,
                       const char *why) {
  char **r = realloc(set->refused, (*nref + 2) * sizeof(char *));
  char *line = NULL;
  if (r == NULL)
    return -1;
  set->refused = r;
  if (asprintf(&line, "ignoring plugin '%s': %s; strata speaks plugin ABI %d.%d", path, why,
               STRATA_PLUGIN_ABI_MAJOR, STRATA_PLUGIN_ABI_MINOR) < 0)
    return -1;
  log_warning("%s", line);
  r[(*nref)++] = line;
  r[*nref] = NULL;
  return 0;
}

static int name_cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.so names in DIR, sorted so that loading order is stable. */
static char **list_plugin_files(const char *dir) {
  cleanup_dir DIR *d = opendir(dir);
  struct dirent *de;
  char **v = NULL;
  size_t n = 0;

  if (d == NULL)
    return NULL;
  while ((de = readdir(d)) != NULL) {
    size_t len = strlen(de->d_name);
    char **nv;
    if (len < 4 || strcmp(de->d_name + len - 3, ".so") != 0 || de->d_name[0] == '.')
      continue;
    nv = realloc(v, (n + 2) * sizeof(char *));
    if (nv == NULL)
      break;
    v = nv;
    if (asprintf(&v[n], "%s/%s", dir, de->d_name) < 0)
      break;
    v[++n] = NULL;
  }
  if (v != NULL)
    qsort(v, n, sizeof(char *), name_cmp);
  return v;
}

static void load_one(struct strata_plugin_set *set, size_t *nref, const char *path) {
  lt_dlhandle h;
  strata_plugin_entry_fn entry;
  const struct strata_plugin_info *info;
  cleanup_error struct strata_error *why = NULL;
  struct strata_plugin **items, *item;

  last_dl_error[0] = '\0';
  h = lt_dlopen(path);
  if (h == NULL || last_dl_error[0] != '\0') {
    /* when the bind-now open fails, libltdl quietly tries its own lazy
     * loader, which accepts a plugin with unresolved symbols: refuse it */
    cleanup_free char *msg = NULL;
    if (asprintf(&msg, "cannot load: %s", last_dl_error[0] ? last_dl_error : lt_dlerror()) >= 0)
      add_refusal(set, nref, path, msg);
    if (h != NULL)
      lt_dlclose(h);
    return;
  }
  entry = (strata_plugin_entry_fn)lt_dlsym(h, STRATA_PLUGIN_ENTRY_SYMBOL);
  if (entry == NULL) {
    add_refusal(set, nref, path, "no entry point '" STRATA_PLUGIN_ENTRY_SYMBOL "' (plugin ABI unknown)");
    lt_dlclose(h);
    return;
  }
  info = entry();
  if (strata_plugin_check_info(info, &why) < 0) {
    add_refusal(set, nref, path, why->msg);
    lt_dlclose(h);
    return;
  }
  if (strata_plugins_find(set, info->kind, info->name) != NULL) {
    log_debug("%s plugin '%s' in '%s' is shadowed by an earlier one",
              strata_plugin_kind_name(info->kind), info->name, path);
    lt_dlclose(h);
    return;
  }
  /* each plugin is allocated on its own: the context keeps pointers to
   * them while more kinds are loaded */
  item = calloc(1, sizeof(*item));
  items = item ? realloc(set->items, (set->n + 1) * sizeof(*items)) : NULL;
  if (items == NULL) {
    free(item);
    lt_dlclose(h);
    return;
  }
  set->items = items;
  *item = (struct strata_plugin){.path = strdup(path), .info = info, .handle = h};
  items[set->n++] = item;
  log_debug("loaded %s plugin '%s' %s from '%s'", strata_plugin_kind_name(info->kind), info->name,
            info->version ? info->version : "", path);
}

/* The kind a file's name announces ("transport-docker.so"), or 0. */
static uint32_t kind_of_name(const char *path) {
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  for (uint32_t k = STRATA_PLUGIN_STORAGE; k <= STRATA_PLUGIN_ISOLATION; k++) {
    const char *name = strata_plugin_kind_name(k);
    size_t len = strlen(name);
    if (strncmp(base, name, len) == 0 && base[len] == '-')
      return k;
  }
  return 0;
}

int strata_plugins_load_kinds(const char *const *dirs, unsigned kinds,
                              struct strata_plugin_set **out, struct strata_error **err) {
  struct strata_plugin_set *set = *out;
  /* bit 0 stands for the files whose names announce no kind */
  unsigned want = (kinds | 1u) & ~(set ? set->loaded : 0u);

  if (want == 0)
    return 0;
  if (set == NULL) {
    if (ltdl_start(err) < 0)
      return -1;
    set = calloc(1, sizeof(*set));
    if (set == NULL) {
      ltdl_stop();
      return strata_error_set(err, ENOMEM, "cannot load plugins");
    }
    *out = set;
  }
  for (const char *const *d = dirs; d != NULL && *d != NULL; d++) {
    cleanup_strv char **files = list_plugin_files(*d);
    for (char **f = files; f != NULL && *f != NULL; f++)
      if (want & (1u << kind_of_name(*f)))
        load_one(set, &set->nrefused, *f);
  }
  set->loaded |= want;
  return 0;
}

int strata_plugins_load(const char *const *dirs, struct strata_plugin_set **out,
                        struct strata_error **err) {
  *out = NULL;
  return strata_plugins_load_kinds(dirs, STRATA_PLUGINS_ALL, out, err);
}

void strata_plugins_free(struct strata_plugin_set *set) {
  if (set == NULL)
    return;
  for (size_t i = 0; i < set->n; i++) {
    struct strata_plugin *p = set->items[i];
    if (p->initialized && p->info->fini != NULL)
      p->info->fini(p->state);
    lt_dlclose((lt_dlhandle)p->handle);
    free(p->path);
    free(p);
  }
  free(set->items);
  strv_free(set->refused);
  free(set);
  ltdl_stop();
}

struct strata_plugin *strata_plugins_find(struct strata_plugin_set *set, enum strata_plugin_kind kind,
                                          const char *name) {
  for (size_t i = 0; set != NULL && i < set->n; i++)
    if (set->items[i]->info->kind == (uint32_t)kind && strcmp(set->items[i]->info->name, name) == 0)
      return set->items[i];
  return NULL;
}

const char **strata_plugins_names(struct strata_plugin_set *set, enum strata_plugin_kind kind) {
  const char **v = calloc((set ? set->n : 0) + 1, sizeof(char *));
  size_t k = 0;
  if (v == NULL)
    return NULL;
  for (size_t i = 0; set != NULL && i < set->n; i++)
    if (set->items[i]->info->kind == (uint32_t)kind)
      v[k++] = set->items[i]->info->name;
  return v;
}
