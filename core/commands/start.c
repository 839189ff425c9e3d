#include "config.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "commands.h"
#include "container.h"

static const char help[] =
    "Usage:  strata start [OPTIONS] CONTAINER [CONTAINER...]\n\n"
    "Start one or more stopped containers\n\n"
    "Options:\n"
    "  -a, --attach        Attach STDOUT/STDERR and forward signals\n"
    "  -i, --interactive   Attach container's STDIN\n";

int cmd_start(struct strata_context *ctx, int argc, char **argv) {
  static const struct option opts[] = {
      {"attach", no_argument, NULL, 'a'},
      {"interactive", no_argument, NULL, 'i'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  bool attach = false;
  int c, rc = 0;

  while ((c = getopt_long(argc, argv, "+aih", opts, NULL)) != -1) {
    switch (c) {
    case 'a':
    case 'i':
      /* -i attaches stdin: the container's own OpenStdin decides it */
      attach = true;
      break;
    case 'h':
      cli_help("start", help);
      return 0;
    default:
      return cli_bad_option("start");
    }
  }
  if (optind >= argc)
    return cli_usage("start", EXIT_ENGINE, "\"start\" requires at least 1 argument");
  if (attach && argc - optind > 1)
    return cli_failf(EXIT_ENGINE, "you cannot start and attach multiple containers at once");
  for (int i = optind; i < argc; i++) {
    struct strata_error *err = NULL;
    cleanup_free char *id = NULL;
    int r = cli_find_container(ctx, argv[i], EXIT_ENGINE, &id, NULL);
    if (r != 0)
      return r;
    rc = cli_container_start(ctx, id, !attach, &err);
    if (err != NULL)
      return cli_fail(err, rc);
    /* detached, Docker prints each name as given */
    if (!attach)
      printf("%s\n", argv[i]);
  }
  return rc;
}
