/* A shared object with a descriptor but no strata_plugin_entry: only some
 * other symbol is exported. */
#include "config.h"

#include "../fake-plugin.h"

static const struct strata_storage_ops ops = {
    .version = STRATA_STORAGE_OPS_VERSION,
    .probe = fake_probe,
};

static const struct strata_plugin_info info =
    FAKE_INFO(STRATA_PLUGIN_MAGIC, STRATA_PLUGIN_ABI_MAJOR, STRATA_PLUGIN_ABI_MINOR,
              sizeof(struct strata_plugin_info), STRATA_PLUGIN_STORAGE, "fake-no-entry", "1",
              &ops);

__attribute__((visibility("default"))) const struct strata_plugin_info *strata_plugin_entry_v0(void);
const struct strata_plugin_info *strata_plugin_entry_v0(void) { return &info; }
