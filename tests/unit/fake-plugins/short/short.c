/* A descriptor that stops before `ops`: struct_size says so, and the loader
 * must refuse it without reading past it. */
#include "config.h"

#include "../fake-plugin.h"

struct short_info {
  uint64_t magic;
  uint16_t abi_major;
  uint16_t abi_minor;
  uint32_t struct_size;
  uint32_t kind;
  const char *name;
  const char *version;
  const char *description;
  const char *license;
};

static const struct short_info info = {
    .magic = STRATA_PLUGIN_MAGIC,
    .abi_major = STRATA_PLUGIN_ABI_MAJOR,
    .abi_minor = STRATA_PLUGIN_ABI_MINOR,
    .struct_size = sizeof(struct short_info),
    .kind = STRATA_PLUGIN_STORAGE,
    .name = "fake-short",
    .version = "1",
    .description = "fake plugin for the unit tests",
    .license = "Apache-2.0",
};

__attribute__((visibility("default"))) const struct strata_plugin_info *strata_plugin_entry(void);
const struct strata_plugin_info *strata_plugin_entry(void) {
  return (const struct strata_plugin_info *)(const void *)&info;
}
