/* strata: the command line.  Global options come before the command, as
 * with docker: strata [--root DIR] [--storage-driver NAME] COMMAND ... */
#include "config.h"

#include <getopt.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands/commands.h"
#include "context.h"
#include "log.h"

static const struct strata_command commands[] = {
    {"create", cmd_create, "[OPTIONS] IMAGE [COMMAND] [ARG...]", "Create a new container"},
    {"history", cmd_history, "[OPTIONS] IMAGE", "Show the history of an image"},
    {"images", cmd_images, "[OPTIONS] [REPOSITORY[:TAG]]", "List images"},
    {"info", cmd_info, "", "Display system-wide information and the plugins found"},
    {"inspect", cmd_inspect, "[OPTIONS] NAME|ID [NAME|ID...]", "Return low-level information on containers or images"},
    {"ps", cmd_ps, "[OPTIONS]", "List containers"},
    {"pull", cmd_pull, "[OPTIONS] NAME[:TAG|@DIGEST] | oci:DIR[:TAG]", "Download an image"},
    {"rm", cmd_rm, "[OPTIONS] CONTAINER [CONTAINER...]", "Remove one or more containers"},
    {"rmi", cmd_rmi, "[OPTIONS] IMAGE [IMAGE...]", "Remove one or more images"},
    {"run", cmd_run, "[OPTIONS] IMAGE [COMMAND] [ARG...]", "Create and run a new container"},
    {"start", cmd_start, "[OPTIONS] CONTAINER [CONTAINER...]", "Start one or more stopped containers"},
    {"tag", cmd_tag, "SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]", "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE"},
    {"system-df", cmd_system_df, "[OPTIONS]", "Show disk usage (as `strata system df`)"},
    {"version", cmd_version, "", "Show the strata version information"},
    {NULL, NULL, NULL, NULL},
};

/* Docker's management commands ("strata image ls") are other names for the
 * same code: GROUP VERB -> command, with an extra leading option if any. */
struct alias {
  const char *group, *verb, *command, *option;
};
static const struct alias aliases[] = {
    {"image", "ls", "images", NULL},          {"image", "list", "images", NULL},
    {"image", "pull", "pull", NULL},          {"image", "rm", "rmi", NULL},
    {"image", "remove", "rmi", NULL},         {"image", "history", "history", NULL},
    {"image", "inspect", "inspect", "--type=image"}, {"image", "tag", "tag", NULL},
    {"container", "ls", "ps", NULL},          {"container", "list", "ps", NULL},
    {"container", "ps", "ps", NULL},          {"container", "create", "create", NULL},
    {"container", "run", "run", NULL},        {"container", "start", "start", NULL},
    {"container", "rm", "rm", NULL},          {"container", "remove", "rm", NULL},
    {"container", "inspect", "inspect", "--type=container"},
    {"system", "info", "info", NULL},        {"system", "df", "system-df", NULL},
    {NULL, NULL, NULL, NULL},
};

/* Rewrites ARGV (at index FIRST) when it names a management command.
 * Returns the new argument vector (static storage) or NULL if no alias. */
static char **resolve_alias(int argc, char **argv, int first, int *new_argc) {
  static char *out[1024];
  const struct alias *a;
  int n = 0;

  if (first + 1 >= argc || argc - first + 1 >= (int)(sizeof(out) / sizeof(out[0])))
    return NULL;
  for (a = aliases; a->group; a++)
    if (strcmp(a->group, argv[first]) == 0 && strcmp(a->verb, argv[first + 1]) == 0)
      break;
  if (a->group == NULL)
    return NULL;
  out[n++] = (char *)a->command;
  if (a->option)
    out[n++] = (char *)a->option;
  for (int i = first + 2; i < argc; i++)
    out[n++] = argv[i];
  out[n] = NULL;
  *new_argc = n;
  return out;
}

static void usage(FILE *out) {
  fprintf(out, "Usage:  strata [OPTIONS] COMMAND\n\n"
               "A daemonless container engine with plugin storage, transport and isolation "
               "backends\n\n"
               "Options:\n"
               "      --root DIR              Store location (default %s)\n"
               "      --storage-driver NAME   Storage driver (overlay, btrfs, copy)\n"
               "      --isolation NAME        Isolation backend (namespaces, chroot, "
               "oci-runtime)\n"
               "      --plugin-path DIRS      Extra plugin directories, ':'-separated\n"
               "  -l, --log-level LEVEL       error, warn, info or debug (default warn)\n"
               "  -D, --debug                 Same as --log-level debug\n"
               "  -v, --version               Print version information and quit\n"
               "  -h, --help                  Print this help\n\n"
               "Commands:\n",
          STRATA_DEFAULT_ROOT);
  for (const struct strata_command *c = commands; c->name; c++)
    fprintf(out, "  %-10s %s\n", c->name, c->summary);
  fprintf(out, "\nManagement commands (other names for the commands above):\n"
               "  image      ls, pull, rm, history, inspect, tag\n"
               "  container  ls, create, run, start, rm, inspect\n"
               "  system     info, df\n");
  fprintf(out, "\nRun 'strata COMMAND --help' for more information on a command.\n");
}

int main(int argc, char **argv) {
  static const struct option opts[] = {
      {"root", required_argument, NULL, 'r'},
      {"storage-driver", required_argument, NULL, 's'},
      {"isolation", required_argument, NULL, 'i'},
      {"plugin-path", required_argument, NULL, 'p'},
      {"log-level", required_argument, NULL, 'l'},
      {"debug", no_argument, NULL, 'D'},
      {"version", no_argument, NULL, 'v'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  struct strata_global_options g = {0};
  struct strata_context *ctx = NULL;
  struct strata_error *err = NULL;
  const struct strata_command *cmd = NULL;
  int c, rc;

  setlocale(LC_ALL, "");
  while ((c = getopt_long(argc, argv, "+l:Dvh", opts, NULL)) != -1) {
    switch (c) {
    case 'r':
      g.root = optarg;
      break;
    case 's':
      g.storage_driver = optarg;
      break;
    case 'i':
      g.isolation = optarg;
      break;
    case 'p':
      g.plugin_path = optarg;
      break;
    case 'l': {
      int level = strata_log_parse_level(optarg);
      if (level < 0)
        return cli_failf(EXIT_ENGINE, "unknown log level '%s'", optarg);
      strata_log_set_level((enum strata_log_level)level);
      break;
    }
    case 'D':
      strata_log_set_level(STRATA_LOG_DEBUG);
      break;
    case 'v':
      printf("strata version %s\n", PACKAGE_VERSION);
      return 0;
    case 'h':
      usage(stdout);
      return 0;
    default:
      usage(stderr);
      return EXIT_ENGINE;
    }
  }
  if (optind >= argc) {
    usage(stderr);
    return EXIT_ENGINE;
  }
  {
    int first = optind, cargc = argc - first;
    char **cargv = argv + first;
    char **aliased = resolve_alias(argc, argv, first, &cargc);
    if (aliased != NULL)
      cargv = aliased;
    else if (strcmp(argv[first], "image") == 0 || strcmp(argv[first], "container") == 0 ||
             strcmp(argv[first], "system") == 0)
      return cli_failf(EXIT_ENGINE, "'%s %s' is not a strata command. See 'strata --help'",
                       argv[first], first + 1 < argc ? argv[first + 1] : "");
    for (const struct strata_command *k = commands; k->name; k++)
      if (strcmp(k->name, cargv[0]) == 0)
        cmd = k;
    if (cmd == NULL)
      return cli_failf(EXIT_ENGINE, "'%s' is not a strata command. See 'strata --help'",
                       cargv[0]);
    if (strata_context_new(&g, &ctx, &err) < 0)
      return cli_fail(err, EXIT_ENGINE);
    optind = 0; /* let the command's getopt start afresh */
    rc = cmd->run(ctx, cargc, cargv);
  }
  strata_context_free(ctx);
  return rc;
}
