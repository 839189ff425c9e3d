#include "config.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "commands.h"
#include "container.h"

static const char help[] =
    "Usage:  strata start [OPTIONS] CONTAINER [CONTAINER...]\n\n"
    "Start one or more stopped containers.  They run in the foreground, attached\n"
    "(detached start is not available yet).\n\n"
    "Options:\n"
    "  -a, --attach        Attach STDOUT/STDERR (always on today)\n"
    "  -i, --interactive   Attach container's STDIN\n";

int cmd_start(struct strata_context *ctx, int argc, char **argv) {
  static const struct option opts[] = {
      {"attach", no_argument, NULL, 'a'},
      {"interactive", no_argument, NULL, 'i'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  int c, rc = 0;

  while ((c = getopt_long(argc, argv, "+aih", opts, NULL)) != -1) {
    switch (c) {
    case 'a':
    case 'i':
      break;
    case 'h':
      cli_help("start", help);
      return 0;
    default:
      return cli_usage("start", EXIT_ENGINE, "invalid option");
    }
  }
  if (optind >= argc)
    return cli_usage("start", EXIT_ENGINE, "\"start\" requires at least 1 argument");
  for (int i = optind; i < argc; i++) {
    struct strata_error *err = NULL;
    cleanup_free char *id = NULL;
    int r;
    if (strata_context_store(ctx, false, &err) < 0)
      return cli_fail(err, EXIT_ENGINE);
    r = strata_container_resolve(ctx->store, argv[i], &id, &err);
    if (r < 0)
      return cli_fail(err, EXIT_ENGINE);
    if (r == 1)
      return cli_failf(EXIT_ENGINE, "No such container: %s", argv[i]);
    rc = cli_container_start(ctx, id, &err);
    if (err != NULL)
      return cli_fail(err, rc);
  }
  return rc;
}
