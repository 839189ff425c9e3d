#include "config.h"

#include "commands.h"

static const char help[] =
    "Usage:  strata restart [OPTIONS] CONTAINER [CONTAINER...]\n\n"
    "Restart one or more containers (stop, then start detached)\n\n"
    "Options:\n"
    "  -s, --signal string   Signal to send to the container\n"
    "  -t, --time int        Seconds to wait before killing the container (default 10)\n";

int cmd_restart(struct strata_context *ctx, int argc, char **argv) {
  return cli_stop_containers(ctx, "restart", help, true, argc, argv);
}
