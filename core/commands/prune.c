/* What image, container and system prune share: the confirmation prompt,
 * removing stopped containers, and removing unused images with the layers
 * they leave unused. */
#include "config.h"

#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "commands.h"
#include "container.h"
#include "image.h"
#include "json-cleanup.h"
#include "layer-store.h"
#include "lifecycle.h"
#include "reference.h"

int cli_prune_options(const char *cmd, const char *help_text, int argc, char **argv, bool *all,
                      bool *force) {
  static const struct option opts[] = {
      {"all", no_argument, NULL, 'a'},
      {"force", no_argument, NULL, 'f'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  int c;

  *force = false;
  if (all != NULL)
    *all = false;
  /* "container prune" has no -a */
  while ((c = getopt_long(argc, argv, all ? "+afh" : "+fh", all ? opts : opts + 1, NULL)) != -1) {
    switch (c) {
    case 'a':
      *all = true;
      break;
    case 'f':
      *force = true;
      break;
    case 'h':
      cli_help(cmd, help_text);
      return 0;
    default:
      return cli_bad_option(cmd);
    }
  }
  if (optind != argc)
    return cli_usage(cmd, EXIT_ENGINE, "\"%s\" accepts no arguments", cmd);
  return -1;
}

bool cli_confirm(const char *warning) {
  char line[64];
  fputs(warning, stdout);
  fputs("Are you sure you want to continue? [y/N] ", stdout);
  fflush(stdout);
  if (fgets(line, sizeof(line), stdin) == NULL)
    return false;
  return line[0] == 'y' || line[0] == 'Y';
}

static bool running(json_t *rec) {
  return strata_container_state(rec, NULL) == STRATA_STATE_RUNNING;
}

int cli_prune_containers(struct strata_context *ctx, json_t *deleted, uint64_t *reclaimed,
                         struct strata_error **err) {
  cleanup_strv char **ids = NULL;

  if (strata_context_store(ctx, true, err) < 0)
    return -1;
  ids = strata_container_list(ctx->store, err);
  if (ids == NULL)
    return -1;
  for (char **c = ids; *c; c++) {
    cleanup_json json_t *rec = NULL;
    if (strata_container_load(ctx->store, *c, &rec, err) != 0)
      continue;
    if (running(rec))
      continue;
    if (cli_container_remove(ctx, *c, err) < 0)
      return -1;
    *reclaimed += (uint64_t)json_integer_value(json_object_get(rec, "SizeRw"));
    json_array_append_new(deleted, json_string(*c));
  }
  return 0;
}

struct gc_tally {
  json_t *sizes; /* chain ID -> size, taken before the collection */
  json_t *lines;
  uint64_t *reclaimed;
};

static void gc_deleted(const char *chain, void *arg) {
  struct gc_tally *t = arg;
  char line[96];
  *t->reclaimed += (uint64_t)json_integer_value(json_object_get(t->sizes, chain));
  snprintf(line, sizeof(line), "deleted: %s", chain);
  json_array_append_new(t->lines, json_string(line));
}

/* Removes image ID's names, record and blobs (its layers go with the
 * collection that follows). */
static int drop_image(struct strata_context *ctx, const char *id, json_t *names, json_t *lines,
                      struct strata_error **err) {
  cleanup_json json_t *rec = NULL;
  cleanup_strv char **tags = strata_names_of(names, id);
  char path[128], line[600];
  const char *md;
  size_t k;
  json_t *v;

  if (strata_image_load(ctx->store, id, &rec, err) != 0)
    return -1;
  for (char **t = tags; t && *t; t++) {
    snprintf(line, sizeof(line), "untagged: %s", strata_reference_familiar(*t));
    json_array_append_new(lines, json_string(line));
    json_object_del(names, *t);
  }
  if (tags && *tags && strata_names_save(ctx->store, names, err) < 0)
    return -1;
  json_array_foreach(json_object_get(rec, "repo_digests"), k, v) {
    snprintf(line, sizeof(line), "untagged: %s", strata_reference_familiar(json_string_value(v)));
    json_array_append_new(lines, json_string(line));
  }
  if (strata_image_remove_record(ctx->store, id, err) < 0)
    return -1;
  snprintf(line, sizeof(line), "deleted: %s", id);
  json_array_append_new(lines, json_string(line));
  snprintf(path, sizeof(path), "blobs/sha256/%s", id + 7);
  strata_store_remove(ctx->store, path, NULL);
  md = json_string_value(json_object_get(rec, "manifest_digest"));
  if (md != NULL && strlen(md) == 71) {
    cleanup_strv char **others = strata_image_list(ctx->store, NULL);
    bool shared = false;
    for (char **o = others; o && *o; o++) {
      cleanup_json json_t *orec = NULL;
      if (strata_image_load(ctx->store, *o, &orec, NULL) == 0 &&
          strcmp(json_string_value(json_object_get(orec, "manifest_digest")) ?: "", md) == 0)
        shared = true;
    }
    snprintf(path, sizeof(path), "blobs/sha256/%s", md + 7);
    if (!shared)
      strata_store_remove(ctx->store, path, NULL);
  }
  return 0;
}

int cli_prune_images(struct strata_context *ctx, bool all, json_t *lines, uint64_t *reclaimed,
                     struct strata_error **err) {
  cleanup_json json_t *names = NULL;
  cleanup_json json_t *used = json_object();
  cleanup_json json_t *sizes = json_object();
  cleanup_strv char **images = NULL, **containers = NULL, **layers = NULL;
  struct gc_tally tally = {.sizes = sizes, .lines = lines, .reclaimed = reclaimed};

  if (strata_context_store(ctx, true, err) < 0 || strata_names_load(ctx->store, &names, err) < 0)
    return -1;
  images = strata_image_list(ctx->store, err);
  containers = images ? strata_container_list(ctx->store, err) : NULL;
  layers = containers ? strata_store_list(ctx->store, "layers", err) : NULL;
  if (layers == NULL)
    return -1;
  for (char **c = containers; *c; c++) {
    cleanup_json json_t *rec = NULL;
    if (strata_container_load(ctx->store, *c, &rec, NULL) == 0 &&
        json_is_string(json_object_get(rec, "Image")))
      json_object_set_new(used, json_string_value(json_object_get(rec, "Image")), json_true());
  }
  for (char **l = layers; *l; l++) {
    cleanup_json json_t *rec = NULL;
    char chain[80];
    snprintf(chain, sizeof(chain), "sha256:%s", *l);
    if (strata_layer_load(ctx->store, chain, &rec, NULL) == 0)
      json_object_set(sizes, chain, json_object_get(rec, "size") ?: json_integer(0));
  }
  for (char **i = images; *i; i++) {
    cleanup_strv char **tags = strata_names_of(names, *i);
    bool dangling = tags == NULL || tags[0] == NULL;
    if (json_object_get(used, *i) != NULL || (!all && !dangling))
      continue;
    if (drop_image(ctx, *i, names, lines, err) < 0)
      return -1;
  }
  return strata_layer_gc(ctx, gc_deleted, &tally, err);
}

void cli_prune_report(const char *title, json_t *lines, bool trailing_blank) {
  size_t k;
  json_t *v;
  if (json_array_size(lines) == 0)
    return;
  printf("%s:\n", title);
  json_array_foreach(lines, k, v) printf("%s\n", json_string_value(v));
  if (trailing_blank)
    printf("\n");
}
