#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdlib.h>

#include "cleanup.h"
#include "commands.h"
#include "pull.h"

static const char help[] =
    "Usage:  strata pull [OPTIONS] NAME[:TAG|@DIGEST]\n"
    "        strata pull [OPTIONS] oci:DIR[:TAG]\n"
    "        strata pull [OPTIONS] docker-archive:FILE[:NAME|:@INDEX]\n\n"
    "Download an image and its layers into the store\n\n"
    "Options:\n"
    "      --max-concurrent-downloads int\n"
    "                          Layers downloaded at once (default: the config file's\n"
    "                          max-concurrent-downloads, else 3)\n"
    "      --platform string   Pull this platform (os/arch[/variant]) from a multi-platform image\n"
    "      --progress string   How to show progress: auto (bars on a terminal, a line per\n"
    "                          event otherwise), tty, plain or json (default \"auto\")\n"
    "  -q, --quiet             Print only the image ID\n"
    "      --tls-verify        Require HTTPS and verify certificates (default: true unless the\n"
    "                          registry is in insecure-registries); =false allows plain HTTP\n";

int cmd_pull(struct strata_context *ctx, int argc, char **argv) {
  static const struct option opts[] = {
      {"quiet", no_argument, NULL, 'q'},
      {"platform", required_argument, NULL, 'P'},
      {"tls-verify", optional_argument, NULL, 'T'},
      {"progress", required_argument, NULL, 'R'},
      {"max-concurrent-downloads", required_argument, NULL, 'M'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  struct strata_pull_options po = {.out = stdout};
  struct strata_error *err = NULL;
  cleanup_free char *id = NULL;
  cleanup_free char *name = NULL;
  bool verify;
  int c, mode;
  char *end;
  long n;

  while ((c = getopt_long(argc, argv, "+qh", opts, NULL)) != -1) {
    switch (c) {
    case 'q':
      po.quiet = true;
      break;
    case 'P':
      po.platform = optarg;
      break;
    case 'T':
      if (cli_parse_bool(optarg, &verify) < 0)
        return cli_usage("pull", EXIT_ENGINE, "invalid argument \"%s\" for \"--tls-verify\" flag",
                         optarg);
      po.tls_verify = verify ? STRATA_TLS_VERIFY_ON : STRATA_TLS_VERIFY_OFF;
      break;
    case 'R':
      mode = strata_progress_parse_mode(optarg);
      if (mode < 0 || mode == STRATA_PROGRESS_QUIET)
        return cli_usage("pull", EXIT_ENGINE,
                         "invalid argument \"%s\" for \"--progress\" flag: auto, tty, plain or json",
                         optarg);
      po.progress = (enum strata_progress_mode)mode;
      break;
    case 'M':
      errno = 0;
      n = strtol(optarg, &end, 10);
      if (errno != 0 || *optarg == '\0' || *end != '\0' || n < 1 || n > STRATA_PULL_MAX_DOWNLOADS)
        return cli_usage("pull", EXIT_ENGINE,
                         "invalid argument \"%s\" for \"--max-concurrent-downloads\" flag: "
                         "a number from 1 to %d",
                         optarg, STRATA_PULL_MAX_DOWNLOADS);
      po.max_downloads = (unsigned)n;
      break;
    case 'h':
      cli_help("pull", help);
      return 0;
    default:
      return cli_bad_option("pull");
    }
  }
  if (argc - optind != 1)
    return cli_usage("pull", EXIT_ENGINE, "\"pull\" requires exactly 1 argument");
  /* a failed pull is an engine error (Docker: 125 from `run`'s pull too) */
  if (strata_pull(ctx, argv[optind], &po, &id, &name, &err) < 0)
    return cli_fail(err, EXIT_ENGINE);
  if (po.quiet || name == NULL)
    printf("%s\n", id);
  else if (po.progress != STRATA_PROGRESS_JSON)
    printf("%s\n", name);
  return 0;
}
