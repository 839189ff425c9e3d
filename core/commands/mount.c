#include "config.h"

#include <getopt.h>
#include <stdlib.h>

#include "cleanup.h"
#include "commands.h"
#include "container.h"

static const char help[] =
    "Usage:  strata mount CONTAINER [CONTAINER...]\n\n"
    "Mount a container's root file system (if the storage driver needs a mount) and print\n"
    "its path, as podman does.  It stays mounted until 'strata umount' or the end of the\n"
    "container's next run.\n";

int cmd_mount(struct strata_context *ctx, int argc, char **argv) {
  const struct strata_storage_ops *ops;
  void *state;
  struct strata_error *err = NULL;
  int c, rc = 0;

  if ((c = cli_args_only("mount", help, argc, argv, 1, false)) >= 0)
    return c;
  if (strata_context_store(ctx, true, &err) < 0 ||
      strata_context_storage(ctx, &ops, &state, &err) < 0)
    return cli_fail(err, 1);
  for (int i = optind; i < argc; i++) {
    cleanup_free char *id = NULL;
    cleanup_free char *path = NULL;
    int r = strata_container_resolve(ctx->store, argv[i], &id, &err);
    if (r != 0) {
      rc = r < 0 ? cli_fail(err, 1) : cli_failf(1, "No such container: %s", argv[i]);
      err = NULL;
      continue;
    }
    if (ops->container_mount(state, id, &path, &err) < 0) {
      rc = cli_fail(err, 1);
      err = NULL;
      continue;
    }
    printf("%s\n", path);
  }
  return rc;
}
