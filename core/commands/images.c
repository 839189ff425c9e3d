#include "config.h"

#include <fnmatch.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "commands.h"
#include "filter.h"
#include "humanize.h"
#include "image.h"
#include "json-cleanup.h"
#include "reference.h"
#include "store.h"

static const char help[] =
    "Usage:  strata images [OPTIONS] [REPOSITORY[:TAG]]\n\n"
    "List images\n\n"
    "Options:\n"
    "  -a, --all        Show all images (no intermediate images are hidden today)\n"
    "      --digests    Show digests\n"
    "  -f, --filter     Filter output based on conditions provided (repeatable):\n"
    "                   dangling=true|false, reference, label, before, since\n"
    "      --format     Format output using a Go template, 'table ...' or 'json'\n"
    "      --no-trunc   Don't truncate output\n"
    "  -q, --quiet      Only show image IDs\n";

static const struct strata_template_header images_headers[] = {
    {"ID", "IMAGE ID"},        {"Repository", "REPOSITORY"}, {"Tag", "TAG"},
    {"Digest", "DIGEST"},      {"CreatedSince", "CREATED"},  {"CreatedAt", "CREATED AT"},
    {"Size", "SIZE"},          {"VirtualSize", "VIRTUAL SIZE"}, {"SharedSize", "SHARED SIZE"},
    {"UniqueSize", "UNIQUE SIZE"}, {"Containers", "CONTAINERS"}, {NULL, NULL},
};

struct row {
  char *repo, *tag, *digest;
  const char *id;
  time_t created;
  uint64_t size;
};

/* Newest first, then by name: Docker's order. */
static int row_cmp(const void *a, const void *b) {
  const struct row *x = a, *y = b;
  int r;
  if (x->created != y->created)
    return x->created < y->created ? 1 : -1;
  r = strcmp(x->repo, y->repo);
  return r ? r : strcmp(x->tag, y->tag);
}

/* Does NAME (full "domain/path:tag") match the user's filter? */
static bool matches(const char *name, const char *filter) {
  cleanup_free char *full = NULL;
  const char *colon;
  if (filter == NULL)
    return true;
  full = strata_image_normalize_name(filter, NULL);
  if (full == NULL)
    return false;
  if (strchr(strrchr(filter, '/') ? strrchr(filter, '/') : filter, ':') != NULL)
    return strcmp(name, full) == 0;
  colon = strrchr(full, ':');
  return strncmp(name, full, (size_t)(colon - full)) == 0 && name[colon - full] == ':';
}

/* ------------------------------------------------------------------ --filter */

static const char *const images_filter_keys[] = {"dangling", "reference", "label",
                                                 "before",   "since",     NULL};
static const char *const booleans[] = {"true", "false", NULL};

struct images_filter {
  json_t *filters;
  bool dangling_only, named_only;
  time_t before, since; /* 0: not given */
};

/* The creation time of the image WHAT names; fails when there is none. */
static int image_created(struct strata_context *ctx, const char *what, time_t *t,
                         struct strata_error **err) {
  cleanup_free char *id = NULL;
  cleanup_json json_t *rec = NULL;
  int r = strata_image_resolve(ctx->store, what, &id, NULL, err);
  if (r == 1)
    return strata_error_set(err, 0, "No such image: %s", what);
  if (r < 0 || strata_image_load(ctx->store, id, &rec, err) != 0)
    return -1;
  *t = 0;
  strata_parse_rfc3339(json_string_value(json_object_get(rec, "created")), t);
  return 0;
}

/* Validates and resolves the parsed filters; returns an exit code or 0. */
static int images_filter_prepare(struct strata_context *ctx, struct images_filter *pf) {
  struct strata_error *err = NULL;
  json_t *v;
  size_t i;
  if (strata_filter_check_values(pf->filters, "dangling", booleans, &err) < 0)
    return cli_fail(err, EXIT_ENGINE);
  /* Docker: "true" among the values wins */
  json_array_foreach(strata_filter_values(pf->filters, "dangling"), i, v) {
    if (strcmp(json_string_value(v), "true") == 0)
      pf->dangling_only = true;
  }
  pf->named_only = strata_filter_has(pf->filters, "dangling") && !pf->dangling_only;
  /* several before/since values: the most restrictive one holds, as Docker */
  json_array_foreach(strata_filter_values(pf->filters, "before"), i, v) {
    time_t t;
    if (image_created(ctx, json_string_value(v), &t, &err) < 0)
      return cli_fail(err, 1);
    if (pf->before == 0 || t < pf->before)
      pf->before = t;
  }
  json_array_foreach(strata_filter_values(pf->filters, "since"), i, v) {
    time_t t;
    if (image_created(ctx, json_string_value(v), &t, &err) < 0)
      return cli_fail(err, 1);
    if (t > pf->since)
      pf->since = t;
  }
  return 0;
}

/* Everything but "reference", which is per name: labels, age. */
static bool images_filter_match(struct strata_context *ctx, const struct images_filter *pf,
                                const char *id, time_t created) {
  if (pf->before && created >= pf->before)
    return false;
  if (pf->since && created <= pf->since)
    return false;
  if (strata_filter_has(pf->filters, "label")) {
    cleanup_free char *data = NULL;
    cleanup_json json_t *cfg = NULL;
    struct strata_error *err = NULL;
    if (strata_store_get_blob(ctx->store, id, &data, NULL, &err) < 0) {
      strata_error_clear(&err);
      return false;
    }
    cfg = json_loads(data, 0, NULL);
    if (!strata_filter_match_labels(pf->filters, "label",
                                    json_object_get(json_object_get(cfg, "config"), "Labels")))
      return false;
  }
  return true;
}

/* Docker's reference.FamiliarMatch: path.Match against "repo:tag" or "repo". */
static bool reference_is(const char *pattern, void *data) {
  const char *familiar = data, *colon = strrchr(familiar, ':');
  cleanup_free char *repo = strndup(familiar, colon ? (size_t)(colon - familiar) : strlen(familiar));
  return fnmatch(pattern, familiar, FNM_PATHNAME) == 0 ||
         (repo && fnmatch(pattern, repo, FNM_PATHNAME) == 0);
}

int cmd_images(struct strata_context *ctx, int argc, char **argv) {
  static const struct option opts[] = {
      {"all", no_argument, NULL, 'a'},          {"quiet", no_argument, NULL, 'q'},
      {"no-trunc", no_argument, NULL, 'T'},     {"digests", no_argument, NULL, 'd'},
      {"format", required_argument, NULL, 'F'}, {"filter", required_argument, NULL, 'f'},
      {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
  };
  bool quiet = false, notrunc = false, digests = false;
  const char *format = NULL;
  json_t **docs = NULL;
  size_t ndocs = 0;
  int rc;
  struct strata_error *err = NULL;
  cleanup_strv char **ids = NULL;
  cleanup_json json_t *names = NULL;
  cleanup_json json_t *seen = json_object();
  struct row *rows = NULL;
  size_t nrows = 0;
  const char *filter;
  json_t *records = json_object();
  time_t now = time(NULL);
  int c;
  struct images_filter pf = {NULL, false, false, 0, 0};

  while ((c = getopt_long(argc, argv, "+aqf:h", opts, NULL)) != -1) {
    switch (c) {
    case 'a':
      break;
    case 'f':
      if (strata_filter_add(&pf.filters, optarg, images_filter_keys, &err) < 0) {
        json_decref(pf.filters);
        json_decref(records);
        return cli_fail(err, EXIT_ENGINE);
      }
      break;
    case 'q':
      quiet = true;
      break;
    case 'T':
      notrunc = true;
      break;
    case 'd':
      digests = true;
      break;
    case 'F':
      format = optarg;
      break;
    case 'h':
      cli_help("images", help);
      json_decref(pf.filters);
      json_decref(records);
      return 0;
    default:
      json_decref(pf.filters);
      json_decref(records);
      return cli_bad_option("images");
    }
  }
  filter = optind < argc ? argv[optind] : NULL;
  if (strata_context_store(ctx, false, &err) < 0 || strata_names_load(ctx->store, &names, &err) < 0 ||
      (ids = strata_image_list(ctx->store, &err)) == NULL) {
    json_decref(pf.filters);
    json_decref(records);
    return cli_fail(err, 1);
  }
  if ((rc = images_filter_prepare(ctx, &pf)) != 0) {
    json_decref(pf.filters);
    json_decref(records);
    return rc;
  }
  for (char **i = ids; *i; i++) {
    json_t *rec = NULL;
    cleanup_strv char **tags = NULL;
    time_t created = 0;
    if (strata_image_load(ctx->store, *i, &rec, &err) != 0) {
      strata_error_clear(&err);
      continue;
    }
    json_object_set_new(records, *i, rec);
    strata_parse_rfc3339(json_string_value(json_object_get(rec, "created")), &created);
    tags = strata_names_of(names, *i);
    if (!images_filter_match(ctx, &pf, *i, created) || (pf.dangling_only && tags && tags[0] != NULL) ||
        (pf.named_only && (tags == NULL || tags[0] == NULL)))
      continue;
    for (char **t = tags; *t || t == tags; t++) {
      struct row r = {.id = json_string_value(json_object_get(rec, "id")),
                      .created = created,
                      .size = (uint64_t)json_integer_value(json_object_get(rec, "size"))};
      if (*t != NULL) {
        char *colon = strrchr(*t, ':');
        if (!matches(*t, filter) || !strata_filter_any(pf.filters, "reference", reference_is,
                                                        (void *)strata_reference_familiar(*t)))
          continue;
        r.repo = strndup(strata_reference_familiar(*t),
                         strlen(strata_reference_familiar(*t)) - strlen(colon));
        r.tag = strdup(colon + 1);
      } else {
        /* a nameless image has no reference to match */
        if (filter != NULL || strata_filter_has(pf.filters, "reference"))
          break;
        r.repo = strdup("<none>");
        r.tag = strdup("<none>");
      }
      r.digest = strdup("<none>");
      {
        json_t *d = json_array_get(json_object_get(rec, "repo_digests"), 0);
        if (json_is_string(d) && strchr(json_string_value(d), '@')) {
          free(r.digest);
          r.digest = strdup(strchr(json_string_value(d), '@') + 1);
        }
      }
      rows = realloc(rows, (nrows + 1) * sizeof(*rows));
      rows[nrows++] = r;
      if (*t == NULL)
        break;
    }
  }
  qsort(rows, nrows, sizeof(*rows), row_cmp);
  docs = calloc(nrows + 1, sizeof(*docs));
  for (size_t i = 0; docs && i < nrows; i++) {
    char id[80], ago[64], at[80], size[32];
    struct tm tm;
    /* -q lists each image once, however many names it has */
    if (quiet && json_object_get(seen, rows[i].id))
      continue;
    json_object_set_new(seen, rows[i].id, json_true());
    snprintf(id, sizeof(id), "%.*s", notrunc ? 71 : 12, notrunc ? rows[i].id : rows[i].id + 7);
    if (rows[i].created)
      strata_human_ago(rows[i].created, now, ago, sizeof(ago));
    else
      snprintf(ago, sizeof(ago), "N/A");
    localtime_r(&rows[i].created, &tm);
    strftime(at, sizeof(at), "%Y-%m-%d %H:%M:%S %z %Z", &tm);
    strata_human_size(rows[i].size, size, sizeof(size));
    docs[ndocs++] = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "ID", id,
                              "Repository", rows[i].repo, "Tag", rows[i].tag, "Digest",
                              rows[i].digest, "CreatedSince", ago, "CreatedAt", at, "Size", size,
                              "VirtualSize", size, "SharedSize", "N/A", "UniqueSize", "N/A",
                              "Containers", "N/A");
  }
  rc = cli_print_rows(quiet ? "{{.ID}}" : format,
                      digests ? "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t"
                                "{{.CreatedSince}}\t{{.Size}}"
                              : "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t"
                                "{{.Size}}",
                      docs, ndocs, images_headers, "*formatter.ImageContext", NULL);
  for (size_t i = 0; i < ndocs; i++)
    json_decref(docs[i]);
  free(docs);
  for (size_t i = 0; i < nrows; i++) {
    free(rows[i].repo);
    free(rows[i].tag);
    free(rows[i].digest);
  }
  free(rows);
  json_decref(records);
  json_decref(pf.filters);
  return rc;
}
