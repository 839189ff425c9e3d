#include "config.h"

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
    "      --platform string   Pull this platform (os/arch[/variant]) from a multi-platform image\n"
    "  -q, --quiet             Print only the image ID\n"
    "      --tls-verify        Require HTTPS and verify certificates (default: true unless the\n"
    "                          registry is in insecure-registries); =false allows plain HTTP\n";

int cmd_pull(struct strata_context *ctx, int argc, char **argv) {
  static const struct option opts[] = {
      {"quiet", no_argument, NULL, 'q'},
      {"platform", required_argument, NULL, 'P'},
      {"tls-verify", optional_argument, NULL, 'T'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  struct strata_pull_options po = {.out = stdout};
  struct strata_error *err = NULL;
  cleanup_free char *id = NULL;
  cleanup_free char *name = NULL;
  bool verify;
  int c;

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
        return cli_usage("pull", 125, "invalid argument \"%s\" for \"--tls-verify\" flag", optarg);
      po.tls_verify = verify ? STRATA_TLS_VERIFY_ON : STRATA_TLS_VERIFY_OFF;
      break;
    case 'h':
      cli_help("pull", help);
      return 0;
    default:
      return cli_usage("pull", 125, "invalid option");
    }
  }
  if (argc - optind != 1)
    return cli_usage("pull", 125, "\"pull\" requires exactly 1 argument");
  if (strata_pull(ctx, argv[optind], &po, &id, &name, &err) < 0)
    return cli_fail(err, 1);
  if (po.quiet || name == NULL)
    printf("%s\n", id);
  else
    printf("%s\n", name);
  return 0;
}
