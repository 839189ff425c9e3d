#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "commands.h"

static const char help[] =
    "Usage:  strata create [OPTIONS] IMAGE [COMMAND] [ARG...]\n\n"
    "Create a new container (pulling the image first if it is missing)\n\n"
    "Options:\n"
    "      --cpus decimal        Number of CPUs (namespaces backend)\n"
    "      --entrypoint string   Overwrite the default ENTRYPOINT of the image\n"
    "  -e, --env list            Set environment variables\n"
    "  -h, --hostname string     Container host name\n"
    "  -i, --interactive         Keep STDIN open\n"
    "  -m, --memory bytes        Memory limit (namespaces backend)\n"
    "      --name string         Assign a name to the container\n"
    "      --pids-limit int      Tune container pids limit (-1 for unlimited)\n"
    "      --platform string     Platform to pull if the image is missing\n"
    "      --rm                  Automatically remove the container when it exits\n"
    "  -t, --tty                 Allocate a pseudo-TTY\n"
    "  -u, --user string         Username or UID (format: <name|uid>[:<group|gid>])\n"
    "  -w, --workdir string      Working directory inside the container\n";

int cmd_create(struct strata_context *ctx, int argc, char **argv) {
  struct cli_run_options o;
  struct strata_error *err = NULL;
  cleanup_free char *id = NULL;
  int r;

  if (argc > 1 && strcmp(argv[1], "--help") == 0) {
    cli_help("create", help);
    return 0;
  }
  r = cli_parse_run_options("create", argc, argv, &o);
  if (r != 0)
    return r;
  if (o.detach) {
    cli_run_options_clear(&o);
    return cli_usage("create", EXIT_ENGINE, "unknown flag: -d");
  }
  r = cli_container_create(ctx, o.image, &o.flags, o.name, o.rm, o.platform, &id, &err);
  cli_run_options_clear(&o);
  if (r < 0)
    return cli_fail(err, EXIT_ENGINE);
  printf("%s\n", id);
  return 0;
}
