#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "commands.h"
#include "container.h"
#include "lifecycle.h"

static const char help[] =
    "Usage:  strata stop [OPTIONS] CONTAINER [CONTAINER...]\n\n"
    "Stop one or more running containers\n\n"
    "Options:\n"
    "  -s, --signal string   Signal to send to the container (default: the image's\n"
    "                        StopSignal, else SIGTERM)\n"
    "  -t, --time int        Seconds to wait before killing the container (default 10)\n";

int cli_stop_containers(struct strata_context *ctx, const char *cmd, const char *help_text,
                        bool restart, int argc, char **argv) {
  static const struct option opts[] = {
      {"signal", required_argument, NULL, 's'},
      {"time", required_argument, NULL, 't'},
      {"timeout", required_argument, NULL, 't'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  int c, sig = 0, timeout = 10, rc = 0;

  while ((c = getopt_long(argc, argv, "+s:t:h", opts, NULL)) != -1) {
    switch (c) {
    case 's':
      sig = strata_signal_parse(optarg);
      if (sig <= 0)
        return cli_failf(1, "Invalid signal: %s", optarg);
      break;
    case 't': {
      char *end;
      long v;
      errno = 0;
      v = strtol(optarg, &end, 10);
      if (errno || end == optarg || *end || v < -1 || v > 1000000)
        return cli_usage(cmd, EXIT_ENGINE, "invalid argument \"%s\" for \"-t, --time\" flag", optarg);
      timeout = (int)v;
      break;
    }
    case 'h':
      cli_help(cmd, help_text);
      return 0;
    default:
      return cli_bad_option(cmd);
    }
  }
  if (optind >= argc)
    return cli_usage(cmd, EXIT_ENGINE, "\"%s\" requires at least 1 argument", cmd);
  for (int i = optind; i < argc; i++) {
    struct strata_error *err = NULL;
    cleanup_free char *id = NULL;
    if (cli_find_container(ctx, argv[i], 1, &id, NULL) != 0) {
      rc = 1;
      continue;
    }
    /* the monitor needs the lock to record the exit we wait for */
    strata_store_unlock(ctx->store);
    if (strata_container_stop(ctx->store, id, sig, timeout, &err) < 0 ||
        (restart && cli_container_start(ctx, id, true, &err) != 0)) {
      rc = cli_fail(err, 1);
      continue;
    }
    printf("%s\n", argv[i]);
  }
  return rc;
}

int cmd_stop(struct strata_context *ctx, int argc, char **argv) {
  return cli_stop_containers(ctx, "stop", help, false, argc, argv);
}
