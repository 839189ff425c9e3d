/* Built for a newer minor ABI than the core's: it may rely on services the
 * core does not have, so it is refused. */
#include "config.h"

#include "../fake-plugin.h"

static const struct strata_storage_ops ops = {
    .version = STRATA_STORAGE_OPS_VERSION,
    .probe = fake_probe,
};

static const struct strata_plugin_info info =
    FAKE_INFO(STRATA_PLUGIN_MAGIC, STRATA_PLUGIN_ABI_MAJOR, STRATA_PLUGIN_ABI_MINOR + 1,
              sizeof(struct strata_plugin_info), STRATA_PLUGIN_STORAGE, "fake-abi-minor", "1",
              &ops);

STRATA_PLUGIN_DEFINE(info)
