/* A valid transport plugin named "fake-good", like the storage one: kind and
 * name together identify a plugin, so neither shadows the other. */
#include "config.h"

#include "../fake-plugin.h"

static const struct strata_transport_ops ops = {
    .version = STRATA_TRANSPORT_OPS_VERSION,
};

static const struct strata_plugin_info info =
    FAKE_INFO(STRATA_PLUGIN_MAGIC, STRATA_PLUGIN_ABI_MAJOR, STRATA_PLUGIN_ABI_MINOR,
              sizeof(struct strata_plugin_info), STRATA_PLUGIN_TRANSPORT, "fake-good", "other",
              &ops);

STRATA_PLUGIN_DEFINE(info)
