#include "config.h"

#include <getopt.h>
#include <stdlib.h>

#include "commands.h"
#include "humanize.h"
#include "json-cleanup.h"

static const char help[] =
    "Usage:  strata system prune [OPTIONS]\n\n"
    "Remove stopped containers, then unused images\n\n"
    "Options:\n"
    "  -a, --all     Remove all unused images, not just dangling ones\n"
    "  -f, --force   Do not prompt for confirmation\n";

int cmd_system_prune(struct strata_context *ctx, int argc, char **argv) {
  struct strata_error *err = NULL;
  cleanup_json json_t *ids = json_array();
  cleanup_json json_t *lines = json_array();
  uint64_t reclaimed = 0;
  bool all = false, force = false;
  char size[32];
  int c;

  if ((c = cli_prune_options("system prune", help, argc, argv, &all, &force)) >= 0)
    return c;
  if (!force && !cli_confirm(all ? "WARNING! This will remove:\n"
                                   "  - all stopped containers\n"
                                   "  - all images without at least one container associated to "
                                   "them\n\n"
                                 : "WARNING! This will remove:\n"
                                   "  - all stopped containers\n"
                                   "  - all dangling images\n\n"))
    return 0;
  if (cli_prune_containers(ctx, ids, &reclaimed, &err) < 0)
    return cli_fail(err, 1);
  cli_prune_report("Deleted Containers", ids, true);
  if (cli_prune_images(ctx, all, lines, &reclaimed, &err) < 0)
    return cli_fail(err, 1);
  cli_prune_report("Deleted Images", lines, true);
  strata_human_size(reclaimed, size, sizeof(size));
  printf("Total reclaimed space: %s\n", size);
  return 0;
}
