#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "commands.h"
#include "monitor.h"
#include "container.h"
#include "filter.h"
#include "image.h"
#include "humanize.h"
#include "json-cleanup.h"
#include "lifecycle.h"

static const char help[] =
    "Usage:  strata ps [OPTIONS]\n\n"
    "List containers\n\n"
    "Options:\n"
    "  -a, --all             Show all containers (default shows just running)\n"
    "  -f, --filter filter   Filter output based on conditions provided (repeatable):\n"
    "                        status, name, id, ancestor, label, exited, before, since\n"
    "      --format string   Format output using a Go template, 'table ...' or 'json'\n"
    "      --no-trunc        Don't truncate output\n"
    "  -q, --quiet           Only display container IDs\n"
    "  -s, --size            Display total file sizes\n";

struct row {
  json_t *rec;
  time_t created;
};

/* Newest first.  The Created stamps are fixed-width RFC 3339 with
 * nanoseconds, so comparing them as strings also orders containers made
 * within the same second, which the seconds in r->created cannot. */
static int row_cmp(const void *a, const void *b) {
  const struct row *x = a, *y = b;
  const char *cx = json_string_value(json_object_get(x->rec, "Created"));
  const char *cy = json_string_value(json_object_get(y->rec, "Created"));
  if (x->created != y->created)
    return x->created < y->created ? 1 : -1;
  return cx && cy ? -strcmp(cx, cy) : 0;
}

/* Go's strconv.Quote, which Docker applies to the COMMAND column. */
static void go_quote(const char *s, char *buf, size_t len) {
  size_t n = 0;
  if (len < 3)
    return;
  buf[n++] = '"';
  for (; *s && n + 6 < len; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') {
      buf[n++] = '\\';
      buf[n++] = (char)c;
    } else if (c == '\n') {
      buf[n++] = '\\';
      buf[n++] = 'n';
    } else if (c == '\t') {
      buf[n++] = '\\';
      buf[n++] = 't';
    } else if (c < 0x20 || c == 0x7f) {
      n += (size_t)snprintf(buf + n, len - n, "\\x%02x", c);
    } else {
      buf[n++] = (char)c;
    }
  }
  buf[n++] = '"';
  buf[n] = '\0';
}

/* "cat /hello.txt" quoted, truncated to 20 characters as Docker does. */
static void command_column(json_t *rec, bool notrunc, char *buf, size_t len) {
  char cmd[4096] = "";
  size_t i, n = 0;
  json_t *v;
  const char *path = json_string_value(json_object_get(rec, "Path"));
  n += (size_t)snprintf(cmd + n, sizeof(cmd) - n, "%s", path ? path : "");
  json_array_foreach(json_object_get(rec, "Args"), i, v) {
    if (n < sizeof(cmd))
      n += (size_t)snprintf(cmd + n, sizeof(cmd) - n, " %s", json_string_value(v));
  }
  if (!notrunc && strlen(cmd) > 20) {
    /* 19 characters and an ellipsis */
    size_t k = 0, chars = 0;
    while (cmd[k] && chars < 19) {
      k++;
      while (((unsigned char)cmd[k] & 0xc0) == 0x80)
        k++;
      chars++;
    }
    memcpy(cmd + k, "\xe2\x80\xa6", 4);
  }
  go_quote(cmd, buf, len);
}

/* A "running" record whose monitor is gone was left by a killed strata. */
static bool really_running(json_t *rec) {
  return strata_container_state(rec, NULL) == STRATA_STATE_RUNNING;
}

static const struct strata_template_header ps_headers[] = {
    {"ID", "CONTAINER ID"}, {"Image", "IMAGE"},          {"Command", "COMMAND"},
    {"CreatedAt", "CREATED AT"}, {"RunningFor", "CREATED"}, {"Ports", "PORTS"},
    {"Status", "STATUS"},   {"State", "STATE"},          {"Size", "SIZE"},
    {"Names", "NAMES"},     {"Labels", "LABELS"},        {"Mounts", "MOUNTS"},
    {"Networks", "NETWORKS"}, {NULL, NULL},
};

/* {{.Label "key"}}: one label's value, "" when absent, read back from the
 * row's "k=v,k2=v2" Labels as the row carries nothing Docker's does not. */
static int label_method(json_t *row, json_t *const *args, json_t **result,
                        struct strata_error **err) {
  const char *labels = json_string_value(json_object_get(row, "Labels"));
  const char *key = json_string_value(args[0]);
  size_t kl = key ? strlen(key) : 0;
  for (const char *p = labels; key && p && *p;) {
    const char *end = strchr(p, ',');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    if (n > kl && strncmp(p, key, kl) == 0 && p[kl] == '=') {
      *result = json_stringn(p + kl + 1, n - kl - 1);
      return 0;
    }
    p = end ? end + 1 : NULL;
  }
  *result = json_string("");
  return 0;
}

static const struct strata_template_method ps_methods[] = {
    {"Label", 1, label_method},
    {NULL, 0, NULL},
};

/* ------------------------------------------------------------------ --filter */

static const char *const ps_filter_keys[] = {"status", "name",   "id",     "ancestor", "label",
                                             "exited", "before", "since",  NULL};
/* Docker's container states; those strata never enters simply match nothing */
static const char *const ps_states[] = {"created", "restarting", "running", "removing",
                                        "paused",  "exited",     "dead",    NULL};

/* What the filters need beyond the record, resolved once. */
struct ps_filter {
  json_t *filters;
  json_t *ancestors; /* image IDs the ancestor values resolve to */
  char *before, *since; /* "Created" stamps (fixed-width RFC 3339: strcmp orders them) */
};

static void ps_filter_clear(struct ps_filter *pf) {
  json_decref(pf->filters);
  json_decref(pf->ancestors);
  free(pf->before);
  free(pf->since);
}

/* The Created stamp of the container WHAT names; returns 1 with *err set
 * when there is none (Docker fails the whole listing then). */
static int created_of(struct strata_context *ctx, const char *what, char **out,
                      struct strata_error **err) {
  cleanup_free char *id = NULL;
  json_t *rec = NULL;
  int r = strata_container_resolve(ctx->store, what, &id, err);
  if (r == 1)
    return strata_error_set(err, 0, "No such container: %s", what);
  if (r < 0 || strata_container_load(ctx->store, id, &rec, err) != 0)
    return -1;
  *out = strdup(json_string_value(json_object_get(rec, "Created")) ?: "");
  json_decref(rec);
  return 0;
}

/* Validates the values and resolves the references of the parsed filters.
 * Returns the exit code of a failure, 0 on success. */
static int ps_filter_prepare(struct strata_context *ctx, struct ps_filter *pf) {
  struct strata_error *err = NULL;
  json_t *v;
  size_t i;

  if (strata_filter_check_values(pf->filters, "status", ps_states, &err) < 0)
    return cli_fail(err, EXIT_ENGINE);
  json_array_foreach(strata_filter_values(pf->filters, "exited"), i, v) {
    char *end;
    const char *s = json_string_value(v);
    errno = 0;
    (void)strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || errno != 0)
      return cli_failf(EXIT_ENGINE, "invalid filter 'exited=%s'", s);
  }
  pf->ancestors = json_array();
  json_array_foreach(strata_filter_values(pf->filters, "ancestor"), i, v) {
    cleanup_free char *id = NULL;
    /* as Docker: an image that does not exist matches no container */
    if (strata_image_resolve(ctx->store, json_string_value(v), &id, NULL, &err) == 0)
      json_array_append_new(pf->ancestors, json_string(id));
    strata_error_clear(&err);
  }
  /* several before/since values: the most restrictive one holds */
  json_array_foreach(strata_filter_values(pf->filters, "before"), i, v) {
    char *c = NULL;
    if (created_of(ctx, json_string_value(v), &c, &err) != 0)
      return cli_fail(err, 1);
    if (pf->before == NULL || strcmp(c, pf->before) < 0) {
      free(pf->before);
      pf->before = c;
    } else {
      free(c);
    }
  }
  json_array_foreach(strata_filter_values(pf->filters, "since"), i, v) {
    char *c = NULL;
    if (created_of(ctx, json_string_value(v), &c, &err) != 0)
      return cli_fail(err, 1);
    if (pf->since == NULL || strcmp(c, pf->since) > 0) {
      free(pf->since);
      pf->since = c;
    } else {
      free(c);
    }
  }
  return 0;
}

static bool equals(const char *value, void *data) { return strcmp(value, (const char *)data) == 0; }

static bool exit_code_is(const char *value, void *data) {
  return strtol(value, NULL, 10) == *(long *)data;
}

static bool ancestor_is(const char *value, void *data) {
  json_t *rec = data;
  const char *image = json_string_value(json_object_get(rec, "ImageName"));
  return image && strcmp(value, image) == 0;
}

/* The state ps shows: a "running" record whose monitor is gone is exited. */
static const char *shown_state(json_t *rec) {
  switch (strata_container_state(rec, NULL)) {
  case STRATA_STATE_RUNNING:
    return "running";
  case STRATA_STATE_EXITED:
    return "exited";
  default:
    return "created";
  }
}

/* Different keys AND, the values of one key OR (labels AND, as Docker). */
static bool ps_filter_match(const struct ps_filter *pf, json_t *rec) {
  json_t *f = pf->filters;
  const char *state = shown_state(rec);
  const char *name = json_string_value(json_object_get(rec, "Name")) ?: "";
  const char *created = json_string_value(json_object_get(rec, "Created")) ?: "";
  const char *image = json_string_value(json_object_get(rec, "Image")) ?: "";

  if (f == NULL)
    return true;
  if (!strata_filter_any(f, "status", equals, (void *)state))
    return false;
  /* Docker matches the name with and without its leading '/' */
  if (!strata_filter_match_regexp(f, "name", name) &&
      !strata_filter_match_regexp(f, "name", name[0] == '/' ? name + 1 : name))
    return false;
  if (!strata_filter_match_regexp(f, "id", json_string_value(json_object_get(rec, "Id"))))
    return false;
  if (!strata_filter_match_labels(f, "label",
                                  json_object_get(json_object_get(rec, "Config"), "Labels")))
    return false;
  if (strata_filter_has(f, "exited")) {
    int shown = 0;
    long code;
    strata_container_state(rec, &shown);
    code = shown;
    if (strcmp(state, "exited") != 0 || !strata_filter_any(f, "exited", exit_code_is, &code))
      return false;
  }
  if (strata_filter_has(f, "ancestor")) {
    bool hit = false;
    json_t *v;
    size_t i;
    json_array_foreach(pf->ancestors, i, v) hit |= strcmp(json_string_value(v), image) == 0;
    if (!hit && !strata_filter_any(f, "ancestor", ancestor_is, rec))
      return false;
  }
  if (pf->before && strcmp(created, pf->before) >= 0)
    return false;
  if (pf->since && strcmp(created, pf->since) <= 0)
    return false;
  return true;
}

/* "2024-01-01 00:00:00 +0000 UTC", Go's time.Time String() as Docker prints CreatedAt. */
static void go_time(time_t t, char *buf, size_t len) {
  struct tm tm;
  localtime_r(&t, &tm);
  strftime(buf, len, "%Y-%m-%d %H:%M:%S %z %Z", &tm);
}

/* The row `docker ps` formats: Docker's ContainerContext fields. */
/* Docker's Size column: "12B (virtual 4.4MB)", the container's own layer
 * then its whole root file system (the image's layers too) */
static void size_column(struct strata_context *ctx, json_t *rec, char *buf, size_t len) {
  cleanup_json json_t *img = NULL;
  const char *image = json_string_value(json_object_get(rec, "Image"));
  uint64_t rw, virt;
  char a[32], b[32];

  strata_container_measure(ctx, rec);
  rw = (uint64_t)json_integer_value(json_object_get(rec, "SizeRw"));
  virt = rw;
  if (image != NULL && strata_image_load(ctx->store, image, &img, NULL) == 0)
    virt += (uint64_t)json_integer_value(json_object_get(img, "size"));
  strata_human_size(rw, a, sizeof(a));
  strata_human_size(virt, b, sizeof(b));
  snprintf(buf, len, "%s (virtual %s)", a, b);
}

static json_t *ps_row(json_t *rec, time_t created, time_t now, bool notrunc, const char *size) {
  char id[80], cmd[4200], ago[64], at[80], status[96];
  const char *name = json_string_value(json_object_get(rec, "Name"));
  const char *image = json_string_value(json_object_get(rec, "ImageName"));
  const char *state = shown_state(rec);
  json_t *labels = json_object_get(json_object_get(rec, "Config"), "Labels");
  json_t *row;
  char *lab = NULL;
  size_t lablen = 0;
  FILE *lf = open_memstream(&lab, &lablen);
  const char *key;
  json_t *val;
  bool first = true;

  snprintf(id, sizeof(id), "%.*s", notrunc ? 64 : 12, json_string_value(json_object_get(rec, "Id")));
  command_column(rec, notrunc, cmd, sizeof(cmd));
  strata_human_ago(created, now, ago, sizeof(ago));
  go_time(created, at, sizeof(at));
  strata_container_status(rec, now, status, sizeof(status));
  if (lf != NULL) {
    json_object_foreach(labels, key, val) {
      fprintf(lf, "%s%s=%s", first ? "" : ",", key, json_string_value(val) ?: "");
      first = false;
    }
    fclose(lf);
  }
  row = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "ID",
                  id, "Image", image ? image : "", "Command", cmd, "CreatedAt", at, "RunningFor",
                  ago, "Ports", "", "Status", status, "State", state, "Size",
                  size, "Names", name ? (name[0] == '/' ? name + 1 : name) : "", "Labels",
                  lab ? lab : "", "Mounts", "", "Networks", "");
  free(lab);
  return row;
}

int cmd_ps(struct strata_context *ctx, int argc, char **argv) {
  static const struct option opts[] = {
      {"all", no_argument, NULL, 'a'},      {"quiet", no_argument, NULL, 'q'},
      {"no-trunc", no_argument, NULL, 'T'}, {"format", required_argument, NULL, 'F'},
      {"filter", required_argument, NULL, 'f'}, {"help", no_argument, NULL, 'h'},
      {"size", no_argument, NULL, 's'},     {NULL, 0, NULL, 0},
  };
  bool sizes = false;
  struct ps_filter pf = {NULL, NULL, NULL, NULL};
  bool all = false, quiet = false, notrunc = false;
  const char *format = NULL;
  struct strata_error *err = NULL;
  cleanup_strv char **ids = NULL;
  struct row *rows = NULL;
  json_t **docs = NULL;
  size_t nrows = 0;
  time_t now = time(NULL);
  int c, rc;

  while ((c = getopt_long(argc, argv, "+aqsf:h", opts, NULL)) != -1) {
    switch (c) {
    case 'a':
      all = true;
      break;
    case 'f':
      if (strata_filter_add(&pf.filters, optarg, ps_filter_keys, &err) < 0) {
        ps_filter_clear(&pf);
        return cli_fail(err, EXIT_ENGINE);
      }
      break;
    case 'q':
      quiet = true;
      break;
    case 's':
      sizes = true;
      break;
    case 'T':
      notrunc = true;
      break;
    case 'F':
      format = optarg;
      break;
    case 'h':
      ps_filter_clear(&pf);
      cli_help("ps", help);
      return 0;
    default:
      ps_filter_clear(&pf);
      return cli_bad_option("ps");
    }
  }
  if (strata_context_store(ctx, false, &err) < 0 ||
      (ids = strata_container_list(ctx->store, &err)) == NULL) {
    ps_filter_clear(&pf);
    return cli_fail(err, 1);
  }
  if ((rc = ps_filter_prepare(ctx, &pf)) != 0) {
    ps_filter_clear(&pf);
    return rc;
  }
  /* as Docker's daemon: status, before and since look at stopped
   * containers without -a */
  if (pf.before || pf.since || strata_filter_has(pf.filters, "status"))
    all = true;
  for (char **i = ids; *i; i++) {
    json_t *rec = NULL;
    struct row r;
    if (strata_container_load(ctx->store, *i, &rec, NULL) != 0)
      continue;
    if ((!all && !really_running(rec)) || !ps_filter_match(&pf, rec)) {
      json_decref(rec);
      continue;
    }
    r.rec = rec;
    r.created = 0;
    strata_parse_rfc3339(json_string_value(json_object_get(rec, "Created")), &r.created);
    rows = realloc(rows, (nrows + 1) * sizeof(*rows));
    rows[nrows++] = r;
  }
  qsort(rows, nrows, sizeof(*rows), row_cmp);
  docs = calloc(nrows + 1, sizeof(*docs));
  /* as Docker: a format that shows .Size asks for the sizes */
  if (format != NULL && strstr(format, ".Size") != NULL)
    sizes = true;
  for (size_t i = 0; docs && i < nrows; i++) {
    char size[96] = "0B";
    if (sizes && !quiet)
      size_column(ctx, rows[i].rec, size, sizeof(size));
    docs[i] = ps_row(rows[i].rec, rows[i].created, now, notrunc, size);
  }
  rc = cli_print_rows(quiet ? "{{.ID}}" : format,
                      sizes ? "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t"
                              "{{.Ports}}\t{{.Names}}\t{{.Size}}"
                            : "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t"
                              "{{.Ports}}\t{{.Names}}",
                      docs, docs ? nrows : 0, ps_headers, "*formatter.ContainerContext", ps_methods);
  for (size_t i = 0; i < nrows; i++) {
    json_decref(rows[i].rec);
    if (docs)
      json_decref(docs[i]);
  }
  free(docs);
  free(rows);
  ps_filter_clear(&pf);
  return rc;
}
