#include "config.h"

#include "commands.h"

static const char help[] =
    "Usage:  strata umount CONTAINER [CONTAINER...]\n\n"
    "Unmount a container's root file system mounted by 'strata mount' and print the\n"
    "container's ID, as podman does\n";

int cmd_umount(struct strata_context *ctx, int argc, char **argv) {
  return cli_mount_containers(ctx, "umount", help, true, argc, argv);
}
