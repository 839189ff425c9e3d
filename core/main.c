/* strata: the command line.  Global options come before the command, as
 * with docker: strata [--root DIR] [--storage-driver NAME] COMMAND ... */
#include "config.h"

#include <getopt.h>
#include <stdbool.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands/commands.h"
#include "context.h"
#include "log.h"

static const struct strata_command commands[] = {
    {"attach", cmd_attach, "[OPTIONS] CONTAINER", "Attach local standard input, output, and error streams to a running container"},
    {"container-prune", cmd_container_prune, "[OPTIONS]", "Remove all stopped containers"},
    {"create", cmd_create, "[OPTIONS] IMAGE [COMMAND] [ARG...]", "Create a new container"},
    {"diff", cmd_diff, "CONTAINER", "Inspect changes to files or directories on a container's filesystem"},
    {"exec", cmd_exec, "[OPTIONS] CONTAINER COMMAND [ARG...]", "Execute a command in a running container"},
    {"history", cmd_history, "[OPTIONS] IMAGE", "Show the history of an image"},
    {"image-prune", cmd_image_prune, "[OPTIONS]", "Remove unused images"},
    {"images", cmd_images, "[OPTIONS] [REPOSITORY[:TAG]]", "List images"},
    {"info", cmd_info, "", "Display system-wide information and the plugins found"},
    {"inspect", cmd_inspect, "[OPTIONS] NAME|ID [NAME|ID...]", "Return low-level information on containers or images"},
    {"kill", cmd_kill, "[OPTIONS] CONTAINER [CONTAINER...]", "Kill one or more running containers"},
    {"load", cmd_load, "[OPTIONS]", "Load an image from a tar archive or STDIN"},
    {"login", cmd_login, "[OPTIONS] [SERVER]", "Log in to a registry"},
    {"logout", cmd_logout, "[SERVER]", "Log out from a registry"},
    {"logs", cmd_logs, "[OPTIONS] CONTAINER", "Fetch the logs of a container"},
    {"mount", cmd_mount, "CONTAINER [CONTAINER...]", "Mount a container's root file system and print its path"},
    {"ps", cmd_ps, "[OPTIONS]", "List containers"},
    {"pull", cmd_pull, "[OPTIONS] NAME[:TAG|@DIGEST] | oci:DIR[:TAG]", "Download an image"},
    {"restart", cmd_restart, "[OPTIONS] CONTAINER [CONTAINER...]", "Restart one or more containers"},
    {"rm", cmd_rm, "[OPTIONS] CONTAINER [CONTAINER...]", "Remove one or more containers"},
    {"rmi", cmd_rmi, "[OPTIONS] IMAGE [IMAGE...]", "Remove one or more images"},
    {"run", cmd_run, "[OPTIONS] IMAGE [COMMAND] [ARG...]", "Create and run a new container"},
    {"save", cmd_save, "[OPTIONS] IMAGE [IMAGE...]", "Save one or more images to a tar archive"},
    {"start", cmd_start, "[OPTIONS] CONTAINER [CONTAINER...]", "Start one or more stopped containers"},
    {"stop", cmd_stop, "[OPTIONS] CONTAINER [CONTAINER...]", "Stop one or more running containers"},
    {"tag", cmd_tag, "SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]", "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE"},
    {"system-prune", cmd_system_prune, "[OPTIONS]", "Remove unused data"},
    {"system-df", cmd_system_df, "[OPTIONS]", "Show disk usage"},
    {"umount", cmd_umount, "CONTAINER [CONTAINER...]", "Unmount a container's root file system"},
    {"version", cmd_version, "", "Show the strata version information"},
    {"wait", cmd_wait, "CONTAINER [CONTAINER...]", "Block until one or more containers stop, then print their exit codes"},
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
    {"container", "logs", "logs", NULL},      {"container", "stop", "stop", NULL},
    {"container", "kill", "kill", NULL},      {"container", "wait", "wait", NULL},
    {"container", "exec", "exec", NULL},      {"container", "attach", "attach", NULL},
    {"container", "restart", "restart", NULL},
    {"system", "info", "info", NULL},        {"system", "df", "system-df", NULL},
    {"image", "save", "save", NULL},          {"image", "load", "load", NULL},
    {"image", "prune", "image-prune", NULL},
    {"container", "diff", "diff", NULL},      {"container", "mount", "mount", NULL},
    {"container", "umount", "umount", NULL},  {"container", "unmount", "umount", NULL},
    {"container", "prune", "container-prune", NULL},
    {"system", "prune", "system-prune", NULL},
    {NULL, NULL, NULL, NULL},
};

static const struct group {
  const char *name, *summary;
} groups[] = {
    {"image", "Manage images"},
    {"container", "Manage containers"},
    {"system", "Manage strata"},
    {NULL, NULL},
};

static const struct strata_command *find_command(const char *name) {
  for (const struct strata_command *k = commands; k->name; k++)
    if (strcmp(k->name, name) == 0)
      return k;
  return NULL;
}

/* A second name for the same verb of a group ("list" beside "ls"), left
 * out of the listings. */
static bool is_synonym(const struct alias *a) {
  for (const struct alias *b = aliases; b < a; b++)
    if (strcmp(b->group, a->group) == 0 && strcmp(b->command, a->command) == 0 &&
        (b->option == NULL) == (a->option == NULL))
      return true;
  return false;
}

/* `strata image` or `strata image --help`: the group's verbs, as Docker
 * lists them. */
static void group_usage(const struct group *g, FILE *out) {
  fprintf(out, "Usage:  strata %s COMMAND\n\n%s\n\nCommands:\n", g->name, g->summary);
  for (const struct alias *a = aliases; a->group; a++)
    if (strcmp(a->group, g->name) == 0 && !is_synonym(a)) {
      const struct strata_command *k = find_command(a->command);
      fprintf(out, "  %-10s %s\n", a->verb, k ? k->summary : "");
    }
  fprintf(out, "\nRun 'strata %s COMMAND --help' for more information on a command.\n", g->name);
}

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
               "      --runtime PATH          OCI runtime of the oci-runtime backend (crun, runc)\n"
               "  -l, --log-level LEVEL       error, warn, info or debug (default warn)\n"
               "  -D, --debug                 Same as --log-level debug\n"
               "  -v, --version               Print version information and quit\n"
               "  -h, --help                  Print this help\n\n"
               "Commands:\n",
          STRATA_DEFAULT_ROOT);
  for (const struct strata_command *c = commands; c->name; c++)
    if (strchr(c->name, '-') == NULL) /* the others are reached as "image prune" etc. */
      fprintf(out, "  %-10s %s\n", c->name, c->summary);
  fprintf(out, "\nManagement commands (other names for the commands above):\n");
  for (const struct group *g = groups; g->name; g++) {
    const char *sep = "";
    fprintf(out, "  %-10s ", g->name);
    for (const struct alias *a = aliases; a->group; a++)
      if (strcmp(a->group, g->name) == 0 && !is_synonym(a)) {
        fprintf(out, "%s%s", sep, a->verb);
        sep = ", ";
      }
    fputc('\n', out);
  }
  fprintf(out, "\nRun 'strata COMMAND --help' for more information on a command.\n");
}

int main(int argc, char **argv) {
  static const struct option opts[] = {
      {"root", required_argument, NULL, 'r'},
      {"storage-driver", required_argument, NULL, 's'},
      {"isolation", required_argument, NULL, 'i'},
      {"plugin-path", required_argument, NULL, 'p'},
      {"runtime", required_argument, NULL, 'R'},
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
    case 'R':
      g.runtime = optarg;
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
    else
      for (const struct group *grp = groups; grp->name; grp++) {
        if (strcmp(argv[first], grp->name) != 0)
          continue;
        if (first + 1 >= argc || strcmp(argv[first + 1], "--help") == 0 ||
            strcmp(argv[first + 1], "-h") == 0) {
          group_usage(grp, first + 1 >= argc ? stderr : stdout);
          return first + 1 >= argc ? EXIT_ENGINE : 0;
        }
        return cli_failf(EXIT_ENGINE, "'%s %s' is not a strata command. See 'strata %s --help'",
                         argv[first], argv[first + 1], grp->name);
      }
    cmd = find_command(cargv[0]);
    if (cmd == NULL)
      return cli_failf(EXIT_ENGINE, "'%s' is not a strata command. See 'strata --help'",
                       cargv[0]);
    if (strata_context_new(&g, &ctx, &err) < 0)
      return cli_fail(err, EXIT_ENGINE);
    optind = 0; /* let the command's getopt start afresh */
    opterr = 0; /* one line of our own instead of getopt's message (cli_usage) */
    cli_set_args(cargc, cargv);
    rc = cmd->run(ctx, cargc, cargv);
  }
  strata_context_free(ctx);
  return rc;
}
