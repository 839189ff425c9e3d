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
    "Usage:  strata rm [OPTIONS] CONTAINER [CONTAINER...]\n\n"
    "Remove one or more containers\n\n"
    "Options:\n"
    "  -f, --force     Force the removal of a running container (uses SIGKILL)\n"
    "  -v, --volumes   Accepted for compatibility (strata has no anonymous volumes yet)\n";

int cmd_rm(struct strata_context *ctx, int argc, char **argv) {
  static const struct option opts[] = {
      {"force", no_argument, NULL, 'f'},
      {"volumes", no_argument, NULL, 'v'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  bool force = false;
  int c, rc = 0;
  struct strata_error *err = NULL;

  while ((c = getopt_long(argc, argv, "+fvh", opts, NULL)) != -1) {
    switch (c) {
    case 'f':
      force = true;
      break;
    case 'v':
      break;
    case 'h':
      cli_help("rm", help);
      return 0;
    default:
      return cli_bad_option("rm");
    }
  }
  if (optind >= argc)
    return cli_usage("rm", 125, "\"rm\" requires at least 1 argument");
  if (strata_context_store(ctx, true, &err) < 0)
    return cli_fail(err, 1);
  for (int i = optind; i < argc; i++) {
    cleanup_free char *id = NULL;
    cleanup_json json_t *rec = NULL;
    int r = strata_container_resolve(ctx->store, argv[i], &id, &err);
    if (r == 1) {
      rc = cli_failf(1, "No such container: %s", argv[i]);
      continue;
    }
    if (r < 0 || strata_container_load(ctx->store, id, &rec, &err) != 0) {
      rc = cli_fail(err, 1);
      err = NULL;
      continue;
    }
    if (strata_container_state(rec, NULL) == STRATA_STATE_RUNNING) {
      int code;
      if (!force) {
        rc = cli_failf(1, "cannot remove container \"%s\": container is running: stop the "
                          "container before removing or force remove",
                       argv[i]);
        continue;
      }
      /* SIGKILL, then let the monitor record the exit (it needs the lock) */
      strata_store_unlock(ctx->store);
      if (strata_container_signal(rec, SIGKILL, &err) < 0 ||
          strata_container_wait(ctx->store, id, 30 * 1000, &code, &err) < 0 ||
          strata_context_store(ctx, true, &err) < 0) {
        rc = cli_fail(err, 1);
        err = NULL;
        continue;
      }
      json_decref(rec);
      rec = NULL;
      /* a --rm container's monitor removed it already */
      if (strata_container_load(ctx->store, id, &rec, NULL) == 1) {
        printf("%s\n", argv[i]);
        continue;
      }
    }
    if (cli_container_remove(ctx, id, &err) < 0) {
      rc = cli_fail(err, 1);
      err = NULL;
      continue;
    }
    printf("%s\n", argv[i]);
  }
  return rc;
}
