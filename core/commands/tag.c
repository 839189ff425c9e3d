#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "commands.h"
#include "image.h"
#include "json-cleanup.h"

static const char help[] = "Usage:  strata tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]\n\n"
                           "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE\n";

int cmd_tag(struct strata_context *ctx, int argc, char **argv) {
  struct strata_error *err = NULL;
  cleanup_free char *id = NULL;
  cleanup_free char *target = NULL;
  cleanup_json json_t *names = NULL;
  int r;

  if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
    cli_help("tag", help);
    return 0;
  }
  if (argc != 3)
    return cli_usage("tag", 125, "\"tag\" requires exactly 2 arguments");
  target = strata_image_normalize_name(argv[2], &err);
  if (target == NULL)
    return cli_fail(err, 1);
  if (strchr(target, '@') != NULL)
    return cli_failf(1, "refusing to create a tag with a digest reference");
  if (strata_context_store(ctx, true, &err) < 0)
    return cli_fail(err, 1);
  r = strata_image_resolve(ctx->store, argv[1], &id, NULL, &err);
  if (r < 0)
    return cli_fail(err, 1);
  if (r == 1)
    return cli_failf(1, "No such image: %s", argv[1]);
  if (strata_names_load(ctx->store, &names, &err) < 0)
    return cli_fail(err, 1);
  json_object_set_new(names, target, json_string(id));
  if (strata_names_save(ctx->store, names, &err) < 0)
    return cli_fail(err, 1);
  return 0;
}
