#include "config.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "commands.h"
#include "container.h"
#include "json-cleanup.h"
#include "layer-export.h"
#include "layer-store.h"

static const char help[] =
    "Usage:  strata diff CONTAINER\n\n"
    "Inspect changes to files or directories on a container's filesystem\n\n"
    "  A  a file or directory was added\n"
    "  C  a file or directory was changed\n"
    "  D  a file or directory was deleted\n";

int cmd_diff(struct strata_context *ctx, int argc, char **argv) {
  struct strata_error *err = NULL;
  struct strata_diff_dirs dirs = {0};
  struct strata_changes changes = {0};
  cleanup_free char *id = NULL;
  cleanup_json json_t *rec = NULL;
  const char *layer;
  int c, r;

  if ((c = cli_args_only("diff", help, argc, argv, 1, true)) >= 0)
    return c;
  if (strata_context_store(ctx, false, &err) < 0)
    return cli_fail(err, 1);
  r = strata_container_resolve(ctx->store, argv[optind], &id, &err);
  if (r != 0)
    return r < 0 ? cli_fail(err, 1) : cli_failf(1, "No such container: %s", argv[optind]);
  if (strata_container_load(ctx->store, id, &rec, &err) != 0)
    return cli_fail(err, 1);
  layer = json_string_value(json_object_get(rec, "StrataLayer"));
  if (layer == NULL)
    return cli_failf(1, "container %.12s has no image layer", id);
  if (strata_storage_diff_dirs(ctx, id, layer, STRATA_DIFF_CONTAINER, &dirs, &err) < 0 ||
      strata_changes_collect(&dirs, &changes, &err) < 0) {
    strata_diff_dirs_clear(&dirs);
    return cli_fail(err, 1);
  }
  strata_diff_dirs_clear(&dirs);
  for (size_t i = 0; i < changes.n; i++)
    printf("%c /%s\n", changes.v[i].kind, changes.v[i].path);
  strata_changes_free(&changes);
  return 0;
}
