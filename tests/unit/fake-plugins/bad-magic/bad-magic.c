/* The right entry point, but not a strata descriptor. */
#include "config.h"

#include "../fake-plugin.h"

static const struct strata_storage_ops ops = {
    .version = STRATA_STORAGE_OPS_VERSION,
    .probe = fake_probe,
};

static const struct strata_plugin_info info =
    FAKE_INFO(0x0123456789abcdefULL, STRATA_PLUGIN_ABI_MAJOR, STRATA_PLUGIN_ABI_MINOR,
              sizeof(struct strata_plugin_info), STRATA_PLUGIN_STORAGE, "fake-bad-magic", "1",
              &ops);

STRATA_PLUGIN_DEFINE(info)
