#include "config.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "commands.h"
#include "container.h"
#include "image.h"
#include "json-cleanup.h"
#include "reference.h"

static const char help[] =
    "Usage:  strata inspect [OPTIONS] NAME|ID [NAME|ID...]\n\n"
    "Return low-level information on containers or images, as a JSON array\n\n"
    "Options:\n"
    "  -f, --format string   Format output using a Go template ('json' for JSON)\n"
    "      --type string     Only inspect objects of this type (container or image)\n";

/* KEY of OBJ as a new reference, or a new "" when it is absent. */
static json_t *or_empty(json_t *obj, const char *key) {
  json_t *v = json_object_get(obj, key);
  return v ? json_incref(v) : json_string("");
}

/* Docker's image inspect document, from the record and the config blob. */
static json_t *image_doc(struct strata_context *ctx, const char *id, struct strata_error **err) {
  cleanup_json json_t *rec = NULL;
  cleanup_json json_t *names = NULL;
  cleanup_json json_t *cfg = NULL;
  cleanup_free char *data = NULL;
  cleanup_strv char **tags = NULL;
  json_t *doc, *repotags = json_array(), *digests = json_array(), *layers = json_array();
  size_t k;
  json_t *v;

  if (strata_image_load(ctx->store, id, &rec, err) != 0 ||
      strata_store_get_blob(ctx->store, id, &data, NULL, err) < 0 ||
      strata_names_load(ctx->store, &names, err) < 0) {
    json_decref(repotags);
    json_decref(digests);
    json_decref(layers);
    return NULL;
  }
  cfg = json_loads(data, 0, NULL);
  tags = strata_names_of(names, id);
  for (char **t = tags; t && *t; t++)
    json_array_append_new(repotags, json_string(strata_reference_familiar(*t)));
  json_array_foreach(json_object_get(rec, "repo_digests"), k, v)
      json_array_append_new(digests, json_string(strata_reference_familiar(json_string_value(v))));
  json_array_foreach(json_object_get(rec, "diff_ids"), k, v) json_array_append(layers, v);
  doc = json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:I, s:{s:s, s:{}}, s:{s:s, s:o}}",
                  "Id", id, "RepoTags", repotags, "RepoDigests", digests, "Created",
                  or_empty(cfg, "created"), "Author",
                  or_empty(cfg, "author"), "Config",
                  json_object_get(cfg, "config") ? json_incref(json_object_get(cfg, "config"))
                                                 : json_object(),
                  "Architecture", or_empty(cfg, "architecture"), "Os", or_empty(cfg, "os"),
                  "Variant", or_empty(cfg, "variant"), "Size",
                  json_integer_value(json_object_get(rec, "size")), "GraphDriver", "Name",
                  ctx->storage ? ctx->storage->info->name : "", "Data", "RootFS", "Type", "layers",
                  "Layers", layers);
  if (doc == NULL)
    strata_error_set(err, 0, "cannot describe image %s", id);
  return doc;
}

static json_t *container_doc(struct strata_context *ctx, const char *id, struct strata_error **err) {
  json_t *rec = NULL;
  if (strata_container_load(ctx->store, id, &rec, err) != 0)
    return NULL;
  json_object_del(rec, "StrataLayer");
  return rec;
}

int cmd_inspect(struct strata_context *ctx, int argc, char **argv) {
  static const struct option opts[] = {
      {"type", required_argument, NULL, 't'},
      {"format", required_argument, NULL, 'f'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  const char *type = NULL;
  const char *format = NULL;
  struct strata_error *err = NULL;
  cleanup_json json_t *out = json_array();
  int c, rc = 0;

  while ((c = getopt_long(argc, argv, "+f:h", opts, NULL)) != -1) {
    switch (c) {
    case 'f':
      format = optarg;
      break;
    case 't':
      type = optarg;
      if (strcmp(type, "image") != 0 && strcmp(type, "container") != 0)
        return cli_failf(1, "\"%s\" is not a valid value for --type", type);
      break;
    case 'h':
      cli_help("inspect", help);
      return 0;
    default:
      return cli_bad_option("inspect");
    }
  }
  if (optind >= argc)
    return cli_usage("inspect", 125, "\"inspect\" requires at least 1 argument");
  if (strata_context_store(ctx, false, &err) < 0)
    return cli_fail(err, 1);
  {
    const struct strata_storage_ops *ops;
    void *state;
    cleanup_error struct strata_error *e = NULL;
    strata_context_storage(ctx, &ops, &state, &e); /* for GraphDriver; optional */
  }
  for (int i = optind; i < argc; i++) {
    cleanup_free char *id = NULL;
    json_t *doc = NULL;
    int r = 1;
    /* containers first, as Docker does */
    if (type == NULL || strcmp(type, "container") == 0) {
      r = strata_container_resolve(ctx->store, argv[i], &id, &err);
      if (r == 0)
        doc = container_doc(ctx, id, &err);
    }
    if (r == 1 && (type == NULL || strcmp(type, "image") == 0)) {
      r = strata_image_resolve(ctx->store, argv[i], &id, NULL, &err);
      if (r == 0)
        doc = image_doc(ctx, id, &err);
    }
    if (r == 1) {
      rc = cli_failf(1, "No such object: %s", argv[i]);
      continue;
    }
    if (doc == NULL) {
      rc = cli_fail(err, 1);
      err = NULL;
      continue;
    }
    json_array_append_new(out, doc);
  }
  if (format != NULL) {
    size_t n = json_array_size(out);
    cleanup_free json_t **docs = calloc(n + 1, sizeof *docs);
    int pr;
    if (docs == NULL)
      return cli_failf(EXIT_ENGINE, "out of memory");
    for (size_t i = 0; i < n; i++)
      docs[i] = json_array_get(out, i);
    pr = cli_print_docs(format, docs, n);
    return pr ? pr : rc;
  }
  {
    cleanup_free char *text = json_dumps(out, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
    printf("%s\n", text ? text : "[]");
  }
  return rc;
}
