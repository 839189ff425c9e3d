/* Built twice, as fake-pair-a and fake-pair-b: the same storage plugin
 * "fake-pair" in one folder, told apart by their version. */
#include "config.h"

#include "../fake-plugin.h"

#ifndef FAKE_PAIR_VERSION
#error "FAKE_PAIR_VERSION must be defined"
#endif

static const struct strata_storage_ops ops = {
    .version = STRATA_STORAGE_OPS_VERSION,
    .probe = fake_probe,
};

static const struct strata_plugin_info info =
    FAKE_INFO(STRATA_PLUGIN_MAGIC, STRATA_PLUGIN_ABI_MAJOR, STRATA_PLUGIN_ABI_MINOR,
              sizeof(struct strata_plugin_info), STRATA_PLUGIN_STORAGE, "fake-pair",
              FAKE_PAIR_VERSION, &ops);

STRATA_PLUGIN_DEFINE(info)
