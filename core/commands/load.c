/* strata load: every image of a `docker save` tarball, through the
 * docker-archive transport (the same pull flow, so every digest and diff ID
 * is checked).  Standard input is copied into the store's tmp/ first: the
 * transport needs to read the archive more than once. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "commands.h"
#include "pull.h"
#include "reference.h"
#include "safe-path.h"

#define TRANSPORT "docker-archive"

static const char help[] =
    "Usage:  strata load [OPTIONS]\n\n"
    "Load images from a tar archive (as written by 'docker save' or 'strata save') or STDIN\n\n"
    "Options:\n"
    "  -i, --input string   Read from tar archive file, instead of STDIN\n"
    "  -q, --quiet          Suppress the load output\n";

static int copy_stdin(struct strata_context *ctx, char **path, struct strata_error **err) {
  cleanup_free char *name = NULL;
  cleanup_close int fd = strata_store_tmpfile(ctx->store, &name, err);
  char buf[65536];
  size_t total = 0;

  if (fd < 0)
    return -1;
  for (;;) {
    ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      unlinkat(ctx->store->rootfd, name, 0);
      return strata_error_set(err, errno, "cannot read standard input");
    }
    if (n == 0)
      break;
    if (strata_write_all(fd, buf, (size_t)n) < 0) {
      int e = errno;
      unlinkat(ctx->store->rootfd, name, 0);
      return strata_error_set(err, e, "cannot copy standard input");
    }
    total += (size_t)n;
  }
  if (total == 0) {
    unlinkat(ctx->store->rootfd, name, 0);
    return strata_error_set(err, 0, "requested load from stdin, but stdin is empty");
  }
  if (asprintf(path, "%s/%s", ctx->store->root, name) < 0) {
    unlinkat(ctx->store->rootfd, name, 0);
    return strata_error_set(err, ENOMEM, "cannot load");
  }
  return 0;
}

/* The locations of every image in the archive at PATH. */
static char **list_images(struct strata_context *ctx, const char *path, struct strata_error **err) {
  struct strata_plugin *tp;
  const struct strata_transport_ops *ops;
  void *session = NULL;
  char **locations = NULL;

  if (strata_context_transport(ctx, TRANSPORT, &tp, err) < 0)
    return NULL;
  ops = tp->info->ops;
  if (ops->version < 3 || ops->list_images == NULL) {
    strata_error_set(err, 0, "transport '%s' cannot list the images of an archive", TRANSPORT);
    return NULL;
  }
  if (ops->open(tp->state, path, &session, err) < 0)
    return NULL;
  if (ops->list_images(session, &locations, err) < 0)
    locations = NULL;
  ops->close(session);
  return locations;
}

int cmd_load(struct strata_context *ctx, int argc, char **argv) {
  static const struct option opts[] = {
      {"input", required_argument, NULL, 'i'},
      {"quiet", no_argument, NULL, 'q'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  struct strata_error *err = NULL;
  struct strata_pull_options po = {.quiet = true};
  const struct strata_storage_ops *sops;
  void *sstate;
  const char *input = NULL;
  cleanup_free char *stdin_copy = NULL;
  cleanup_strv char **locations = NULL;
  bool quiet = false;
  int c, rc = 0;

  while ((c = getopt_long(argc, argv, "+i:qh", opts, NULL)) != -1) {
    switch (c) {
    case 'i':
      input = optarg;
      break;
    case 'q':
      quiet = true;
      break;
    case 'h':
      cli_help("load", help);
      return 0;
    default:
      return cli_bad_option("load");
    }
  }
  if (optind != argc)
    return cli_usage("load", EXIT_ENGINE, "\"load\" accepts no arguments");
  if (input == NULL && isatty(STDIN_FILENO))
    return cli_failf(1, "requested load from stdin, but stdin is empty");
  /* the driver first: choosing it may clean up after a command that died */
  if (strata_context_plugins(ctx, &err) < 0 || strata_context_store(ctx, true, &err) < 0 ||
      strata_context_storage(ctx, &sops, &sstate, &err) < 0)
    return cli_fail(err, 1);
  if (input == NULL) {
    if (copy_stdin(ctx, &stdin_copy, &err) < 0)
      return cli_fail(err, 1);
    input = stdin_copy;
  }
  locations = list_images(ctx, input, &err);
  if (locations == NULL) {
    rc = cli_fail(err, 1);
    goto out;
  }
  for (char **l = locations; *l; l++) {
    cleanup_free char *what = NULL, *id = NULL, *name = NULL;
    if (asprintf(&what, TRANSPORT ":%s", *l) < 0) {
      rc = cli_failf(1, "out of memory");
      break;
    }
    if (strata_pull(ctx, what, &po, &id, &name, &err) < 0) {
      rc = cli_fail(err, 1);
      break;
    }
    if (quiet)
      continue;
    if (name != NULL)
      printf("Loaded image: %s\n", strata_reference_familiar(name));
    else
      printf("Loaded image ID: %s\n", id);
  }
out:
  if (stdin_copy != NULL)
    unlink(stdin_copy);
  return rc;
}
