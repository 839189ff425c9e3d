/* Another valid storage plugin also named "fake-good": whichever folder
 * comes first in the search list must win. */
#include "config.h"

#include "../fake-plugin.h"

static const struct strata_storage_ops ops = {
    .version = STRATA_STORAGE_OPS_VERSION,
    .probe = fake_probe,
};

static const struct strata_plugin_info info =
    FAKE_INFO(STRATA_PLUGIN_MAGIC, STRATA_PLUGIN_ABI_MAJOR, STRATA_PLUGIN_ABI_MINOR,
              sizeof(struct strata_plugin_info), STRATA_PLUGIN_STORAGE, "fake-good", "shadow",
              &ops);

STRATA_PLUGIN_DEFINE(info)
