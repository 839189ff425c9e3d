#include "config.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "commands.h"
#include "container.h"
#include "lifecycle.h"

static const char help[] =
    "Usage:  strata wait CONTAINER [CONTAINER...]\n\n"
    "Block until one or more containers stop, then print their exit codes\n";

int cmd_wait(struct strata_context *ctx, int argc, char **argv) {
  int c, rc = 0;

  if ((c = cli_args_only("wait", help, argc, argv, 1, false)) >= 0)
    return c;
  for (int i = optind; i < argc; i++) {
    struct strata_error *err = NULL;
    cleanup_free char *id = NULL;
    int code = 0, r;
    if (cli_find_container(ctx, argv[i], 1, &id, NULL) != 0) {
      rc = 1;
      continue;
    }
    /* the exit is recorded by a monitor that needs the lock */
    strata_store_unlock(ctx->store);
    r = strata_container_wait(ctx->store, id, -1, &code, &err);
    if (r < 0) {
      rc = cli_fail(err, 1);
      continue;
    }
    if (r == 2) {
      /* --rm: the monitor removed it before we read its exit */
      rc = cli_failf(1, "No such container: %s", argv[i]);
      continue;
    }
    printf("%d\n", code);
    fflush(stdout);
  }
  return rc;
}
