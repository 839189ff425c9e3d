/* container prune: removes every container that is not running. */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "commands.h"
#include "container.h"
#include "humanize.h"
#include "json-cleanup.h"
#include "lifecycle.h"
#include "monitor.h"

static const char help[] =
    "Usage:  strata container prune [OPTIONS]\n\n"
    "Remove all stopped containers\n\n"
    "Options:\n"
    "  -f, --force   Do not prompt for confirmation\n\n"
    "The reclaimed space counts the containers' records and logs; the size of\n"
    "their writable layers is not measured yet.\n";

/* Bytes of the regular files below DIRFD/NAME (logs), not following links. */
static uint64_t tree_size(int parent, const char *name) {
  struct stat st;
  uint64_t sum = 0;
  int fd;
  DIR *d;
  struct dirent *de;
  if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return 0;
  if (S_ISREG(st.st_mode))
    return (uint64_t)st.st_size;
  if (!S_ISDIR(st.st_mode))
    return 0;
  fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  d = fd >= 0 ? fdopendir(fd) : NULL;
  if (d == NULL) {
    if (fd >= 0)
      close(fd);
    return 0;
  }
  while ((de = readdir(d)) != NULL)
    if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
      sum += tree_size(dirfd(d), de->d_name);
  closedir(d);
  return sum;
}

int cmd_prune(struct strata_context *ctx, int argc, char **argv) {
  static const struct option opts[] = {
      {"force", no_argument, NULL, 'f'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  struct strata_error *err = NULL;
  cleanup_strv char **ids = NULL;
  bool force = false, header = false;
  uint64_t reclaimed = 0;
  char size[32];
  int c, rc = 0;

  while ((c = getopt_long(argc, argv, "+fh", opts, NULL)) != -1) {
    switch (c) {
    case 'f':
      force = true;
      break;
    case 'h':
      cli_help("container prune", help);
      return 0;
    default:
      return cli_usage("container prune", 1, "invalid option");
    }
  }
  if (optind < argc)
    return cli_usage("container prune", 1, "\"container prune\" accepts no arguments");
  if (!force) {
    char answer[16] = "";
    printf("WARNING! This will remove all stopped containers.\n"
           "Are you sure you want to continue? [y/N] ");
    fflush(stdout);
    if (fgets(answer, sizeof(answer), stdin) == NULL || (answer[0] != 'y' && answer[0] != 'Y'))
      return 0;
  }
  if (strata_context_store(ctx, true, &err) < 0 ||
      (ids = strata_container_list(ctx->store, &err)) == NULL)
    return cli_fail(err, 1);
  for (char **i = ids; *i; i++) {
    cleanup_json json_t *rec = NULL;
    char rel[128];
    uint64_t bytes;
    if (strata_container_load(ctx->store, *i, &rec, NULL) != 0 ||
        strata_container_state(rec, NULL) == STRATA_STATE_RUNNING)
      continue;
    snprintf(rel, sizeof(rel), STRATA_CONTAINER_DIR_FMT, *i);
    bytes = tree_size(ctx->store->rootfd, rel);
    snprintf(rel, sizeof(rel), "containers/%s.json", *i);
    bytes += tree_size(ctx->store->rootfd, rel);
    if (strata_container_destroy(ctx, *i, &err) < 0) {
      rc = cli_fail(err, 1);
      err = NULL;
      continue;
    }
    if (!header)
      printf("Deleted Containers:\n");
    header = true;
    printf("%s\n", *i);
    reclaimed += bytes;
  }
  if (header)
    printf("\n");
  strata_human_size(reclaimed, size, sizeof(size));
  printf("Total reclaimed space: %s\n", size);
  return rc;
}
