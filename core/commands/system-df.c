/* strata system df: disk usage of images, containers, volumes and the build
 * cache, as `docker system df` shows it.  Every figure comes from the
 * records (a layer's disk use is measured once, when it is imported; a
 * container's when it is made, when it stops and on `ps --size`): nothing
 * is walked here, so the command is instant whatever the store holds. */
#include "config.h"

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "commands.h"
#include "container.h"
#include "humanize.h"
#include "image.h"
#include "json-cleanup.h"
#include "layer-store.h"
#include "reference.h"
#include "store.h"

static const char help[] =
    "Usage:  strata system df [OPTIONS]\n\n"
    "Show docker disk usage\n\n"
    "Options:\n"
    "      --format string   Format output using a Go template, 'table ...' or 'json'\n"
    "  -v, --verbose         Show detailed information on space usage\n";

static const struct strata_template_header df_headers[] = {
    {"Type", "TYPE"},         {"TotalCount", "TOTAL"},          {"Active", "ACTIVE"},
    {"Size", "SIZE"},         {"Reclaimable", "RECLAIMABLE"},   {NULL, NULL},
};

static const struct strata_template_header img_headers[] = {
    {"Repository", "REPOSITORY"}, {"Tag", "TAG"},          {"ID", "IMAGE ID"},
    {"CreatedSince", "CREATED"},  {"Size", "SIZE"},        {"SharedSize", "SHARED SIZE"},
    {"UniqueSize", "UNIQUE SIZE"}, {"Containers", "CONTAINERS"}, {NULL, NULL},
};

static const struct strata_template_header ctr_headers[] = {
    {"ID", "CONTAINER ID"},   {"Image", "IMAGE"},     {"Command", "COMMAND"},
    {"LocalVolumes", "LOCAL VOLUMES"}, {"Size", "SIZE"}, {"RunningFor", "CREATED"},
    {"Status", "STATUS"},     {"Names", "NAMES"},     {NULL, NULL},
};

static const struct strata_template_header vol_headers[] = {
    {"Name", "VOLUME NAME"}, {"Links", "LINKS"}, {"Size", "SIZE"}, {NULL, NULL},
};

static const struct strata_template_header cache_headers[] = {
    {"ID", "CACHE ID"},          {"CacheType", "CACHE TYPE"}, {"Size", "SIZE"},
    {"CreatedSince", "CREATED"}, {"LastUsedSince", "LAST USED"}, {"UsageCount", "USAGE"},
    {"Shared", "SHARED"},        {NULL, NULL},
};

/* go-units HumanSize: 4 significant digits (df's precision; images and ps
 * use 3) */
static void human4(uint64_t bytes, char *buf, size_t len) {
  static const char *const units[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
  double size = (double)bytes;
  int i = 0;
  while (size >= 1000.0 && i < 6) {
    size /= 1000.0;
    i++;
  }
  snprintf(buf, len, "%.4g%s", size, units[i]);
}

/* Docker's "1.2MB (45%)", or the bare size when there is nothing at all */
static void reclaimable(uint64_t part, uint64_t total, char *buf, size_t len) {
  char h[32];
  human4(part, h, sizeof(h));
  if (total > 0)
    snprintf(buf, len, "%s (%llu%%)", h, (unsigned long long)(part * 100 / total));
  else
    snprintf(buf, len, "%s", h);
}

static uint64_t layer_disk(struct strata_store *store, json_t *cache, const char *chain) {
  json_t *v = json_object_get(cache, chain);
  cleanup_json json_t *rec = NULL;
  json_t *du;
  uint64_t n = 0;

  if (v != NULL)
    return (uint64_t)json_integer_value(v);
  if (strata_layer_load(store, chain, &rec, NULL) == 0) {
    du = json_object_get(rec, "disk_usage");
    /* a layer imported before sizes were measured: its content size */
    n = (uint64_t)json_integer_value(du ? du : json_object_get(rec, "size"));
  }
  json_object_set_new(cache, chain, json_integer((json_int_t)n));
  return n;
}

static bool active(json_t *rec) {
  const char *s = json_string_value(json_object_get(json_object_get(rec, "State"), "Status"));
  return s != NULL && (strcmp(s, "running") == 0 || strcmp(s, "paused") == 0 ||
                       strcmp(s, "restarting") == 0);
}

static json_t *df_row(const char *type, size_t total, size_t act, uint64_t size, const char *recl) {
  char t[32], a[32], s[32];
  snprintf(t, sizeof(t), "%zu", total);
  snprintf(a, sizeof(a), "%zu", act);
  human4(size, s, sizeof(s));
  return json_pack("{s:s, s:s, s:s, s:s, s:s}", "Type", type, "TotalCount", t, "Active", a,
                   "Size", s, "Reclaimable", recl);
}

/* "sh -c 'echo…'" cut at 20 characters, as ps shows it */
static void command_of(json_t *rec, char *buf, size_t len) {
  char cmd[512];
  size_t n = 0, i;
  json_t *v;
  n += (size_t)snprintf(cmd, sizeof(cmd), "%s", json_string_value(json_object_get(rec, "Path")) ?: "");
  json_array_foreach(json_object_get(rec, "Args"), i, v) {
    if (n < sizeof(cmd))
      n += (size_t)snprintf(cmd + n, sizeof(cmd) - n, " %s", json_string_value(v) ?: "");
  }
  if (strlen(cmd) > 20)
    snprintf(buf, len, "\"%.19s…\"", cmd);
  else
    snprintf(buf, len, "\"%s\"", cmd);
}

static void status_of(json_t *rec, time_t now, char *buf, size_t len) {
  json_t *st = json_object_get(rec, "State");
  const char *s = json_string_value(json_object_get(st, "Status"));
  time_t t = 0;
  char ago[64];
  if (s && strcmp(s, "exited") == 0) {
    strata_parse_rfc3339(json_string_value(json_object_get(st, "FinishedAt")), &t);
    strata_human_ago(t, now, ago, sizeof(ago));
    snprintf(buf, len, "Exited (%lld) %s", (long long)json_integer_value(json_object_get(st, "ExitCode")),
             ago);
  } else if (s && strcmp(s, "running") == 0) {
    strata_parse_rfc3339(json_string_value(json_object_get(st, "StartedAt")), &t);
    strata_human_duration(difftime(now, t), ago, sizeof(ago));
    snprintf(buf, len, "Up %s", ago);
  } else
    snprintf(buf, len, "Created");
}

int cmd_system_df(struct strata_context *ctx, int argc, char **argv) {
  static const struct option opts[] = {
      {"format", required_argument, NULL, 'F'},
      {"verbose", no_argument, NULL, 'v'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  const char *format = NULL;
  bool verbose = false;
  struct strata_error *err = NULL;
  cleanup_strv char **images = NULL;
  cleanup_strv char **containers = NULL;
  cleanup_json json_t *cache = json_object();
  cleanup_json json_t *users = json_object();  /* layer -> number of images using it */
  cleanup_json json_t *in_use = json_object(); /* image id -> number of containers */
  cleanup_json json_t *irecs = json_array();
  cleanup_json json_t *crecs = json_array();
  cleanup_json json_t *names = NULL;
  json_t *rows[4] = {NULL};
  uint64_t total = 0, used = 0, csize = 0, crecl = 0;
  size_t iactive = 0, cactive = 0;
  char buf[64];
  time_t now = time(NULL);
  const char *key;
  json_t *val;
  int c, rc;

  while ((c = getopt_long(argc, argv, "+vh", opts, NULL)) != -1) {
    switch (c) {
    case 'F':
      format = optarg;
      break;
    case 'v':
      verbose = true;
      break;
    case 'h':
      cli_help("system df", help);
      return 0;
    default:
      return cli_bad_option("system df");
    }
  }
  if (optind != argc)
    return cli_usage("system df", EXIT_ENGINE, "\"system df\" accepts no arguments");
  if (verbose && format != NULL)
    return cli_failf(1, "the verbose and the format options conflict");
  if (strata_context_store(ctx, false, &err) < 0 ||
      (images = strata_image_list(ctx->store, &err)) == NULL ||
      (containers = strata_container_list(ctx->store, &err)) == NULL ||
      strata_names_load(ctx->store, &names, &err) < 0)
    return cli_fail(err, 1);

  for (char **i = containers; *i; i++) {
    json_t *rec = NULL;
    const char *img;
    uint64_t sz;
    if (strata_container_load(ctx->store, *i, &rec, NULL) != 0)
      continue;
    json_array_append_new(crecs, rec);
    img = json_string_value(json_object_get(rec, "Image"));
    if (img != NULL)
      json_object_set_new(in_use, img, json_integer(json_integer_value(json_object_get(in_use, img)) + 1));
    sz = (uint64_t)json_integer_value(json_object_get(rec, "SizeRw"));
    csize += sz;
    if (active(rec))
      cactive++;
    else
      crecl += sz;
  }
  for (char **i = images; *i; i++) {
    json_t *rec = NULL, *v;
    size_t k;
    if (strata_image_load(ctx->store, *i, &rec, NULL) != 0)
      continue;
    json_array_append_new(irecs, rec);
    json_array_foreach(json_object_get(rec, "layers"), k, v) {
      const char *l = json_string_value(v);
      if (l == NULL)
        continue;
      json_object_set_new(users, l, json_integer(json_integer_value(json_object_get(users, l)) + 1));
    }
  }
  /* the store's layers once each, however many images share them */
  json_object_foreach(users, key, val) total += layer_disk(ctx->store, cache, key);
  {
    size_t k;
    json_t *rec;
    json_array_foreach(irecs, k, rec) {
      const char *id = json_string_value(json_object_get(rec, "id"));
      uint64_t size = 0, shared = 0;
      size_t j;
      json_t *v;
      json_array_foreach(json_object_get(rec, "layers"), j, v) {
        uint64_t n = layer_disk(ctx->store, cache, json_string_value(v) ?: "");
        size += n;
        if (json_integer_value(json_object_get(users, json_string_value(v) ?: "")) > 1)
          shared += n;
      }
      json_object_set_new(rec, "_size", json_integer((json_int_t)size));
      json_object_set_new(rec, "_shared", json_integer((json_int_t)shared));
      /* Docker's reckoning: what an image in use holds on its own is not
       * reclaimable; layers it shares are counted as reclaimable */
      if (id && json_integer_value(json_object_get(in_use, id)) > 0) {
        iactive++;
        used += size - shared;
      }
    }
  }

  if (!verbose) {
    reclaimable(total - used, total, buf, sizeof(buf));
    rows[0] = df_row("Images", json_array_size(irecs), iactive, total, buf);
    reclaimable(crecl, csize, buf, sizeof(buf));
    rows[1] = df_row("Containers", json_array_size(crecs), cactive, csize, buf);
    rows[2] = df_row("Local Volumes", 0, 0, 0, "0B");
    rows[3] = df_row("Build Cache", 0, 0, 0, "0B");
    rc = cli_print_rows(format,
                        "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}",
                        rows, 4, df_headers, "*formatter.diskUsageContext", NULL);
    for (int i = 0; i < 4; i++)
      json_decref(rows[i]);
    return rc;
  }

  /* -v: each image, container, volume and cache entry */
  {
    size_t n = 0, k;
    json_t *rec;
    json_t **docs = calloc(json_array_size(irecs) * 4 + json_array_size(crecs) + 1, sizeof(*docs));
    if (docs == NULL)
      return cli_failf(1, "out of memory");
    json_array_foreach(irecs, k, rec) {
      const char *id = json_string_value(json_object_get(rec, "id")) ?: "";
      cleanup_strv char **tags = strata_names_of(names, id);
      char sid[16], ago[64], size[32], shared[32], uniq[32], nc[16];
      time_t created = 0;
      uint64_t sz = (uint64_t)json_integer_value(json_object_get(rec, "_size"));
      uint64_t sh = (uint64_t)json_integer_value(json_object_get(rec, "_shared"));
      snprintf(sid, sizeof(sid), "%.12s", strncmp(id, "sha256:", 7) == 0 ? id + 7 : id);
      strata_parse_rfc3339(json_string_value(json_object_get(rec, "created")), &created);
      strata_human_ago(created, now, ago, sizeof(ago));
      human4(sz, size, sizeof(size));
      human4(sh, shared, sizeof(shared));
      human4(sz - sh, uniq, sizeof(uniq));
      snprintf(nc, sizeof(nc), "%lld", (long long)json_integer_value(json_object_get(in_use, id)));
      for (char **t = tags; t && (*t || t == tags); t++) {
        cleanup_free char *repo = NULL;
        const char *tag = "<none>";
        if (*t != NULL) {
          const char *fam = strata_reference_familiar(*t);
          const char *colon = strrchr(fam, ':');
          repo = strndup(fam, colon ? (size_t)(colon - fam) : strlen(fam));
          tag = colon ? colon + 1 : "<none>";
        } else
          repo = strdup("<none>");
        docs[n++] = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "Repository",
                              repo ?: "<none>", "Tag", tag, "ID", sid, "CreatedSince", ago, "Size",
                              size, "SharedSize", shared, "UniqueSize", uniq, "Containers", nc);
        if (*t == NULL || n >= json_array_size(irecs) * 4)
          break;
      }
    }
    printf("Images space usage:\n\n");
    fflush(stdout);
    rc = cli_print_rows(NULL,
                        "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t"
                        "{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}",
                        docs, n, img_headers, "*formatter.imageContext", NULL);
    for (size_t i = 0; i < n; i++)
      json_decref(docs[i]);
    n = 0;
    json_array_foreach(crecs, k, rec) {
      char sid[16], cmd[64], size[32], ago[64], status[96];
      const char *name = json_string_value(json_object_get(rec, "Name")) ?: "";
      const char *image = json_string_value(json_object_get(rec, "ImageName")) ?: "";
      time_t created = 0;
      snprintf(sid, sizeof(sid), "%.12s", json_string_value(json_object_get(rec, "Id")) ?: "");
      command_of(rec, cmd, sizeof(cmd));
      human4((uint64_t)json_integer_value(json_object_get(rec, "SizeRw")), size, sizeof(size));
      strata_parse_rfc3339(json_string_value(json_object_get(rec, "Created")), &created);
      strata_human_ago(created, now, ago, sizeof(ago));
      status_of(rec, now, status, sizeof(status));
      docs[n++] = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "ID", sid, "Image",
                            strata_reference_familiar(image), "Command", cmd, "LocalVolumes", "0",
                            "Size", size, "RunningFor", ago, "Status", status, "Names",
                            name[0] == '/' ? name + 1 : name);
    }
    printf("\nContainers space usage:\n\n");
    fflush(stdout);
    if (rc == 0)
      rc = cli_print_rows(NULL,
                          "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t"
                          "{{.RunningFor}}\t{{.Status}}\t{{.Names}}",
                          docs, n, ctr_headers, "*formatter.ContainerContext", NULL);
    for (size_t i = 0; i < n; i++)
      json_decref(docs[i]);
    free(docs);
    printf("\nLocal Volumes space usage:\n\n");
    fflush(stdout);
    if (rc == 0)
      rc = cli_print_rows(NULL, "table {{.Name}}\t{{.Links}}\t{{.Size}}", NULL, 0, vol_headers,
                          "*formatter.volumeContext", NULL);
    printf("\nBuild cache usage: 0B\n\n");
    fflush(stdout);
    if (rc == 0)
      rc = cli_print_rows(NULL,
                          "table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t"
                          "{{.LastUsedSince}}\t{{.UsageCount}}\t{{.Shared}}",
                          NULL, 0, cache_headers, "*formatter.buildCacheContext", NULL);
  }
  return rc;
}
