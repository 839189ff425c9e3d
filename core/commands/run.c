#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "commands.h"

static const char help[] =
    "Usage:  strata run [OPTIONS] IMAGE [COMMAND] [ARG...]\n\n"
    "Create and run a new container (pulling the image first if it is missing)\n\n"
    "Options:\n"
    "  -d, --detach              Run container in background and print container ID\n"
    "%s";

int cmd_run(struct strata_context *ctx, int argc, char **argv) {
  struct cli_run_options o;
  struct strata_error *err = NULL;
  cleanup_free char *id = NULL;
  bool detach;
  int r;

  if (argc > 1 && strcmp(argv[1], "--help") == 0) {
    printf(help, cli_run_options_help);
    return 0;
  }
  r = cli_parse_run_options("run", argc, argv, &o);
  if (r != 0)
    return r;
  detach = o.detach;
  r = cli_container_create(ctx, o.image, &o.flags, o.name, o.rm, o.platform, &id, &err);
  cli_run_options_clear(&o);
  if (r < 0)
    return cli_fail(err, EXIT_ENGINE);
  r = cli_container_start(ctx, id, detach, &err);
  if (err != NULL)
    return cli_fail(err, r);
  if (detach)
    printf("%s\n", id);
  return r;
}
