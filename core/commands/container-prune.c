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
  struct strata_error *err = NULL;
  cleanup_json json_t *ids = json_array();
  uint64_t reclaimed = 0;
  char size[32];
  bool force = false;
  int c;

  if ((c = cli_prune_options("container prune", help, argc, argv, NULL, &force)) >= 0)
    return c;
  if (!force && !cli_confirm("WARNING! This will remove all stopped containers.\n"))
    return 0;
  if (cli_prune_containers(ctx, ids, &reclaimed, &err) < 0)
    return cli_fail(err, 1);
  cli_prune_report("Deleted Containers", ids, true);
  strata_human_size(reclaimed, size, sizeof(size));
  printf("Total reclaimed space: %s\n", size);
  return 0;
}
