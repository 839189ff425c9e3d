/* Built for the next major ABI: incompatible, must be refused. */
#include "config.h"

#include "../fake-plugin.h"

static const struct strata_storage_ops ops = {
    .version = STRATA_STORAGE_OPS_VERSION,
    .probe = fake_probe,
};

static const struct strata_plugin_info info =
    FAKE_INFO(STRATA_PLUGIN_MAGIC, STRATA_PLUGIN_ABI_MAJOR + 1, 0,
              sizeof(struct strata_plugin_info), STRATA_PLUGIN_STORAGE, "fake-abi-major", "1",
              &ops);

STRATA_PLUGIN_DEFINE(info)
