#include "config.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "commands.h"
#include "container.h"
#include "json-cleanup.h"
#include "lifecycle.h"
#include "monitor.h"

static const char help[] =
    "Usage:  strata attach [OPTIONS] CONTAINER\n\n"
    "Attach local standard input, output, and error streams to a running container\n\n"
    "Options:\n"
    "      --no-stdin       Do not attach STDIN\n"
    "      --sig-proxy      Accepted for compatibility (signals are not proxied)\n";

int cmd_attach(struct strata_context *ctx, int argc, char **argv) {
  static const struct option opts[] = {
      {"no-stdin", no_argument, NULL, 'n'},
      {"sig-proxy", optional_argument, NULL, 'p'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  struct strata_error *err = NULL;
  cleanup_free char *id = NULL;
  cleanup_json json_t *rec = NULL;
  bool no_stdin = false;
  int c;

  while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
    switch (c) {
    case 'n':
      no_stdin = true;
      break;
    case 'p':
      break;
    case 'h':
      cli_help("attach", help);
      return 0;
    default:
      return cli_bad_option("attach");
    }
  }
  if (argc - optind != 1)
    return cli_usage("attach", EXIT_ENGINE, "\"attach\" requires exactly 1 argument");
  if ((c = cli_find_container(ctx, argv[optind], 1, &id, &rec)) != 0)
    return c;
  if (strata_container_state(rec, NULL) != STRATA_STATE_RUNNING)
    return cli_failf(1, "You cannot attach to a stopped container, start it first");
  strata_store_unlock(ctx->store);
  c = strata_monitor_attach(
      ctx->store, id,
      !no_stdin && json_is_true(json_object_get(json_object_get(rec, "Config"), "OpenStdin")),
      &err);
  if (c < 0)
    return cli_fail(err, 1);
  return c;
}
