#include "config.h"

#include <getopt.h>
#include <stdlib.h>

#include "commands.h"
#include "humanize.h"
#include "json-cleanup.h"

static const char help[] =
    "Usage:  strata container prune [OPTIONS]\n\n"
    "Remove all stopped containers\n\n"
    "Options:\n"
    "  -f, --force   Do not prompt for confirmation\n";

int cmd_container_prune(struct strata_context *ctx, int argc, char **argv) {
  static const struct option opts[] = {
      {"force", no_argument, NULL, 'f'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  struct strata_error *err = NULL;
  cleanup_json json_t *ids = json_array();
  uint64_t reclaimed = 0;
  char size[32];
  bool force = false;
  int c;

  while ((c = getopt_long(argc, argv, "+fh", opts, NULL)) != -1) {
    switch (c) {
    case 'f':
      force = true;
      break;
    case 'h':
      cli_help("container prune", help);
      return 0;
    default:
      return cli_usage("container prune", EXIT_ENGINE, "invalid option");
    }
  }
  if (optind != argc)
    return cli_usage("container prune", EXIT_ENGINE, "\"container prune\" accepts no arguments");
  if (!force && !cli_confirm("WARNING! This will remove all stopped containers.\n"))
    return 0;
  if (cli_prune_containers(ctx, ids, &reclaimed, &err) < 0)
    return cli_fail(err, 1);
  cli_prune_report("Deleted Containers", ids, true);
  strata_human_size(reclaimed, size, sizeof(size));
  printf("Total reclaimed space: %s\n", size);
  return 0;
}
