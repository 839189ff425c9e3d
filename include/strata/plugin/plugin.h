/* strata plugin ABI: the descriptor every plugin exports.
 *
 * A plugin is a shared object that exports exactly one symbol,
 * STRATA_PLUGIN_ENTRY_SYMBOL, a function returning a pointer to a static
 * struct strata_plugin_info.  The loader accepts the plugin only when
 *   - magic == STRATA_PLUGIN_MAGIC,
 *   - abi_major == the core's STRATA_PLUGIN_ABI_MAJOR,
 *   - abi_minor <= the core's STRATA_PLUGIN_ABI_MINOR,
 *   - struct_size covers every member the core reads.
 * Members are only ever appended; a new member is read only when struct_size
 * says it is there.  The same rule holds for every ops table: each starts with
 * its own `version` and `caps`, and grows by appending. */
#ifndef STRATA_PLUGIN_PLUGIN_H
#define STRATA_PLUGIN_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define STRATA_PLUGIN_MAGIC 0x31504154415254ULL /* "STRATAP1" little-endian-ish tag */
#define STRATA_PLUGIN_ABI_MAJOR 1
#define STRATA_PLUGIN_ABI_MINOR 4

#define STRATA_PLUGIN_ENTRY_SYMBOL "strata_plugin_entry"

enum strata_plugin_kind {
  STRATA_PLUGIN_STORAGE = 1,
  STRATA_PLUGIN_TRANSPORT = 2,
  STRATA_PLUGIN_ISOLATION = 3,
};

struct strata_host;
struct strata_error;

/* What init receives: the host services and where the plugin may keep state. */
struct strata_plugin_context {
  uint32_t size;          /* sizeof, for appending members later */
  const char *store_root; /* the store's root directory */
  const char *data_dir;   /* <root>/storage/<name> etc.: the plugin's own area, may not exist yet */
  /* ABI 1.1: the merged configuration file document (a JSON object, "{}"
   * when there is none), so a plugin can read its own keys
   * ("insecure-registries").  Valid during init only: copy what you keep.
   * Read it only when size covers it. */
  const char *config_json;
};

struct strata_plugin_info {
  uint64_t magic;
  uint16_t abi_major;
  uint16_t abi_minor;
  uint32_t struct_size; /* sizeof (struct strata_plugin_info) as the plugin was built */
  uint32_t kind;        /* enum strata_plugin_kind */
  const char *name;     /* short name: "overlay", "oci", "chroot" */
  const char *version;  /* the plugin's own version string */
  const char *description;
  const char *license;
  /* init: called once after loading; *state is handed to every op.  Returns
   * 0, or negative with *err set through host->error().  May be NULL. */
  int (*init)(const struct strata_host *host, const struct strata_plugin_context *ctx,
              void **state, struct strata_error **err);
  /* fini: releases what init made.  May be NULL. */
  void (*fini)(void *state);
  /* ops: the kind's table, struct strata_storage_ops / strata_transport_ops /
   * strata_isolation_ops. */
  const void *ops;
};

typedef const struct strata_plugin_info *(*strata_plugin_entry_fn)(void);

/* Declare the entry point in a plugin:  STRATA_PLUGIN_DEFINE(my_info); */
#define STRATA_PLUGIN_DEFINE(info_var)                                                         \
  __attribute__((visibility("default"))) const struct strata_plugin_info *strata_plugin_entry(void); \
  const struct strata_plugin_info *strata_plugin_entry(void) { return &(info_var); }

#define STRATA_PLUGIN_INFO_INIT(kind_, name_, version_, description_, license_)              \
  .magic = STRATA_PLUGIN_MAGIC, .abi_major = STRATA_PLUGIN_ABI_MAJOR,                        \
  .abi_minor = STRATA_PLUGIN_ABI_MINOR, .struct_size = sizeof(struct strata_plugin_info),    \
  .kind = (kind_), .name = (name_), .version = (version_), .description = (description_),    \
  .license = (license_)

#ifdef __cplusplus
}
#endif
#endif
