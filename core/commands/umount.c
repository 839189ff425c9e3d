#include "config.h"

#include <getopt.h>
#include <stdlib.h>

#include "cleanup.h"
#include "commands.h"
#include "container.h"

static const char help[] =
    "Usage:  strata umount CONTAINER [CONTAINER...]\n\n"
    "Unmount a container's root file system mounted by 'strata mount' and print the\n"
    "container's ID, as podman does\n";

int cmd_umount(struct strata_context *ctx, int argc, char **argv) {
  const struct strata_storage_ops *ops;
  void *state;
  struct strata_error *err = NULL;
  int c, rc = 0;

  if ((c = cli_args_only("umount", help, argc, argv, 1, false)) >= 0)
    return c;
  if (strata_context_store(ctx, true, &err) < 0 ||
      strata_context_storage(ctx, &ops, &state, &err) < 0)
    return cli_fail(err, 1);
  for (int i = optind; i < argc; i++) {
    cleanup_free char *id = NULL;
    int r = strata_container_resolve(ctx->store, argv[i], &id, &err);
    if (r != 0) {
      rc = r < 0 ? cli_fail(err, 1) : cli_failf(1, "No such container: %s", argv[i]);
      err = NULL;
      continue;
    }
    if (ops->container_unmount(state, id, &err) < 0) {
      rc = cli_fail(err, 1);
      err = NULL;
      continue;
    }
    printf("%s\n", id);
  }
  return rc;
}
