#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "commands.h"

static const char help[] =
    "Usage:  strata create [OPTIONS] IMAGE [COMMAND] [ARG...]\n\n"
    "Create a new container (pulling the image first if it is missing)\n\n"
    "Options:\n"
    "%s";

int cmd_create(struct strata_context *ctx, int argc, char **argv) {
  struct cli_run_options o;
  struct strata_error *err = NULL;
  cleanup_free char *id = NULL;
  int r;

  if (argc > 1 && strcmp(argv[1], "--help") == 0) {
    printf(help, cli_run_options_help);
    return 0;
  }
  r = cli_parse_run_options("create", argc, argv, &o);
  if (r != 0)
    return r;
  if (o.detach) {
    cli_run_options_clear(&o);
    return cli_usage("create", EXIT_ENGINE, "unknown flag: -d");
  }
  r = cli_container_create(ctx, o.image, &o.flags, o.name, o.rm, o.platform, &id, &err);
  cli_run_options_clear(&o);
  if (r < 0)
    return cli_fail(err, EXIT_ENGINE);
  printf("%s\n", id);
  return 0;
}
