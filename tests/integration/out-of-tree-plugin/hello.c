/* A third-party plugin built outside strata's tree, against the installed
 * headers only (pkg-config --cflags strata-plugin): an isolation backend
 * named "hello" whose probe always refuses, so `strata info` shows it with
 * its reason. */
#include <stdio.h>
#include <strata/plugin/host.h>
#include <strata/plugin/isolation.h>

static const struct strata_host *host;

static int hello_init(const struct strata_host *h, const struct strata_plugin_context *ctx,
                      void **state, struct strata_error **err) {
  host = h;
  *state = NULL;
  return 0;
}

static int hello_probe(void *state, struct strata_error **err) {
  return host->error(err, 0, "the hello backend only says hello");
}

static int hello_run(void *state, const struct strata_run_spec *spec, struct strata_error **err) {
  return host->error(err, 0, "hello cannot run %s", spec->argv[0]);
}

static const struct strata_isolation_ops hello_ops = {
    .version = STRATA_ISOLATION_OPS_VERSION,
    .probe = hello_probe,
    .run = hello_run,
};

static const struct strata_plugin_info hello_info = {
    STRATA_PLUGIN_INFO_INIT(STRATA_PLUGIN_ISOLATION, "hello", "1.2.3",
                            "an out-of-tree example plugin", "MIT"),
    .init = hello_init,
    .ops = &hello_ops,
};

STRATA_PLUGIN_DEFINE(hello_info)
