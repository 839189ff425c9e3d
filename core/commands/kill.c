#include "config.h"

#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "commands.h"
#include "container.h"
#include "json-cleanup.h"
#include "lifecycle.h"

static const char help[] =
    "Usage:  strata kill [OPTIONS] CONTAINER [CONTAINER...]\n\n"
    "Kill one or more running containers\n\n"
    "Options:\n"
    "  -s, --signal string   Signal to send to the container (default \"KILL\")\n";

int cmd_kill(struct strata_context *ctx, int argc, char **argv) {
  static const struct option opts[] = {
      {"signal", required_argument, NULL, 's'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  int c, sig = SIGKILL, rc = 0;

  while ((c = getopt_long(argc, argv, "+s:h", opts, NULL)) != -1) {
    switch (c) {
    case 's':
      sig = strata_signal_parse(optarg);
      if (sig <= 0)
        return cli_failf(1, "Invalid signal: %s", optarg);
      break;
    case 'h':
      cli_help("kill", help);
      return 0;
    default:
      return cli_bad_option("kill");
    }
  }
  if (optind >= argc)
    return cli_usage("kill", EXIT_ENGINE, "\"kill\" requires at least 1 argument");
  for (int i = optind; i < argc; i++) {
    struct strata_error *err = NULL;
    cleanup_free char *id = NULL;
    cleanup_json json_t *rec = NULL;
    int r;
    if (cli_find_container(ctx, argv[i], 1, &id, &rec) != 0) {
      rc = 1;
      continue;
    }
    r = strata_container_signal(rec, sig, &err);
    if (r < 0) {
      rc = cli_fail(err, 1);
      continue;
    }
    if (r == 1) {
      rc = cli_failf(1, "cannot kill container: %s: container %.12s is not running", argv[i], id);
      continue;
    }
    printf("%s\n", argv[i]);
  }
  return rc;
}
