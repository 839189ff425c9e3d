#include "config.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "commands.h"
#include "container.h"
#include "image.h"
#include "json-cleanup.h"
#include "layer-store.h"
#include "reference.h"

static const char help[] =
    "Usage:  strata rmi [OPTIONS] IMAGE [IMAGE...]\n\n"
    "Remove one or more images\n\n"
    "Options:\n"
    "  -f, --force      Force removal of the image\n"
    "      --no-prune   Accepted for compatibility\n";

/* The first container (any state) made from image ID, or NULL. */
static char *user_of(struct strata_store *store, const char *id) {
  cleanup_strv char **ids = strata_container_list(store, NULL);
  for (char **c = ids; c && *c; c++) {
    cleanup_json json_t *rec = NULL;
    if (strata_container_load(store, *c, &rec, NULL) == 0 &&
        strcmp(json_string_value(json_object_get(rec, "Image")) ?: "", id) == 0)
      return strdup(*c);
  }
  return NULL;
}

static void print_deleted(const char *chain, void *arg) { printf("Deleted: %s\n", chain); }

static int remove_one(struct strata_context *ctx, const char *what, bool force,
                      struct strata_error **err) {
  cleanup_free char *id = NULL;
  cleanup_free char *name = NULL;
  cleanup_free char *user = NULL;
  cleanup_json json_t *names = NULL;
  cleanup_json json_t *rec = NULL;
  cleanup_strv char **tags = NULL;
  size_t ntags = 0;
  int r = strata_image_resolve(ctx->store, what, &id, &name, err);

  if (r < 0)
    return -1;
  if (r == 1)
    return strata_error_set(err, 0, "No such image: %s", what);
  if (strata_names_load(ctx->store, &names, err) < 0 ||
      strata_image_load(ctx->store, id, &rec, err) != 0)
    return -1;
  tags = strata_names_of(names, id);
  while (tags && tags[ntags])
    ntags++;
  user = user_of(ctx->store, id);

  /* by name, with other names left: only untag */
  if (name != NULL && ntags > 1) {
    json_object_del(names, name);
    if (strata_names_save(ctx->store, names, err) < 0)
      return -1;
    printf("Untagged: %s\n", strata_reference_familiar(name));
    return 0;
  }
  if (name == NULL && ntags > 1 && !force)
    return strata_error_set(err, 0,
                            "conflict: unable to delete %.12s (must be forced) - image is "
                            "referenced in multiple repositories",
                            id + 7);
  if (user != NULL && !force) {
    if (name != NULL)
      return strata_error_set(err, 0,
                              "conflict: unable to remove repository reference \"%s\" (must "
                              "force) - container %.12s is using its referenced image %.12s",
                              what, user, id + 7);
    return strata_error_set(err, 0,
                            "conflict: unable to delete %.12s (must be forced) - image is being "
                            "used by stopped container %.12s",
                            id + 7, user);
  }
  for (size_t i = 0; i < ntags; i++) {
    json_object_del(names, tags[i]);
    printf("Untagged: %s\n", strata_reference_familiar(tags[i]));
  }
  if (ntags > 0 && strata_names_save(ctx->store, names, err) < 0)
    return -1;
  {
    size_t k;
    json_t *v;
    json_array_foreach(json_object_get(rec, "repo_digests"), k, v)
        printf("Untagged: %s\n", strata_reference_familiar(json_string_value(v)));
  }
  if (strata_image_remove_record(ctx->store, id, err) < 0)
    return -1;
  printf("Deleted: %s\n", id);
  /* the config and manifest blobs go with the image; layers go when unused */
  {
    char path[128];
    const char *md = json_string_value(json_object_get(rec, "manifest_digest"));
    cleanup_strv char **others = strata_image_list(ctx->store, NULL);
    bool shared = false;
    snprintf(path, sizeof(path), "blobs/sha256/%s", id + 7);
    strata_store_remove(ctx->store, path, NULL);
    for (char **o = others; o && *o && md; o++) {
      cleanup_json json_t *orec = NULL;
      if (strata_image_load(ctx->store, *o, &orec, NULL) == 0 &&
          strcmp(json_string_value(json_object_get(orec, "manifest_digest")) ?: "", md) == 0)
        shared = true;
    }
    if (md && !shared && strlen(md) == 71) {
      snprintf(path, sizeof(path), "blobs/sha256/%s", md + 7);
      strata_store_remove(ctx->store, path, NULL);
    }
  }
  return strata_layer_gc(ctx, print_deleted, NULL, err);
}

int cmd_rmi(struct strata_context *ctx, int argc, char **argv) {
  static const struct option opts[] = {
      {"force", no_argument, NULL, 'f'},
      {"no-prune", no_argument, NULL, 'P'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  bool force = false;
  int c, rc = 0;
  struct strata_error *err = NULL;

  while ((c = getopt_long(argc, argv, "+fh", opts, NULL)) != -1) {
    switch (c) {
    case 'f':
      force = true;
      break;
    case 'P':
      break;
    case 'h':
      cli_help("rmi", help);
      return 0;
    default:
      return cli_bad_option("rmi");
    }
  }
  if (optind >= argc)
    return cli_usage("rmi", 125, "\"rmi\" requires at least 1 argument");
  if (strata_context_store(ctx, true, &err) < 0)
    return cli_fail(err, 1);
  for (int i = optind; i < argc; i++) {
    if (remove_one(ctx, argv[i], force, &err) < 0) {
      rc = cli_fail(err, 1);
      err = NULL;
    }
  }
  return rc;
}
