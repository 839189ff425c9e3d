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

int cli_mount_containers(struct strata_context *ctx, const char *cmd, const char *help_text,
                         bool unmount, int argc, char **argv) {
  const struct strata_storage_ops *ops;
  void *state;
  struct strata_error *err = NULL;
  int c, rc = 0;

  if ((c = cli_args_only(cmd, help_text, argc, argv, 1, false)) >= 0)
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
    if ((unmount ? ops->container_unmount(state, id, &err)
                 : ops->container_mount(state, id, &path, &err)) < 0) {
      rc = cli_fail(err, 1);
      err = NULL;
      continue;
    }
    /* podman prints the path a mount is at, and the ID it unmounted */
    printf("%s\n", unmount ? id : path);
  }
  return rc;
}

int cmd_mount(struct strata_context *ctx, int argc, char **argv) {
  return cli_mount_containers(ctx, "mount", help, false, argc, argv);
}
