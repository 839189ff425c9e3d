/* A valid descriptor whose code calls a function nothing defines.  Loaded
 * lazily it would look fine until probe() is called and the process dies;
 * loaded with every symbol bound now it is refused at load time. */
#include "config.h"

#include "../fake-plugin.h"

extern int strata_fake_missing_function(void);

static int probe(void *state, struct strata_error **err) {
  (void)state;
  (void)err;
  return strata_fake_missing_function();
}

static const struct strata_storage_ops ops = {
    .version = STRATA_STORAGE_OPS_VERSION,
    .probe = probe,
};

static const struct strata_plugin_info info =
    FAKE_INFO(STRATA_PLUGIN_MAGIC, STRATA_PLUGIN_ABI_MAJOR, STRATA_PLUGIN_ABI_MINOR,
              sizeof(struct strata_plugin_info), STRATA_PLUGIN_STORAGE, "fake-unresolved", "1",
              &ops);

STRATA_PLUGIN_DEFINE(info)
