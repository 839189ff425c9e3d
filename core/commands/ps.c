#include "config.h"

#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "commands.h"
#include "container.h"
#include "humanize.h"
#include "json-cleanup.h"

static const char help[] =
    "Usage:  strata ps [OPTIONS]\n\n"
    "List containers\n\n"
    "Options:\n"
    "  -a, --all             Show all containers (default shows just running)\n"
    "      --format string   Format output using a Go template, 'table ...' or 'json'\n"
    "      --no-trunc        Don't truncate output\n"
    "  -q, --quiet           Only display container IDs\n";

struct row {
  json_t *rec;
  time_t created;
};

static int row_cmp(const void *a, const void *b) {
  const struct row *x = a, *y = b;
  return x->created == y->created ? 0 : (x->created < y->created ? 1 : -1);
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

/* A "running" record whose process is gone was left by a killed strata. */
static bool really_running(json_t *state) {
  pid_t pid = (pid_t)json_integer_value(json_object_get(state, "Pid"));
  return json_is_true(json_object_get(state, "Running")) && pid > 0 && kill(pid, 0) == 0;
}

static void status_column(json_t *rec, time_t now, char *buf, size_t len) {
  json_t *st = json_object_get(rec, "State");
  const char *status = json_string_value(json_object_get(st, "Status"));
  char ago[64];
  time_t t = 0;
  if (status && strcmp(status, "running") == 0 && really_running(st)) {
    strata_parse_rfc3339(json_string_value(json_object_get(st, "StartedAt")), &t);
    strata_human_duration(difftime(now, t), ago, sizeof(ago));
    snprintf(buf, len, "Up %s", ago);
  } else if (status && (strcmp(status, "exited") == 0 || strcmp(status, "running") == 0)) {
    strata_parse_rfc3339(json_string_value(json_object_get(st, "FinishedAt")), &t);
    if (t <= 0)
      strata_parse_rfc3339(json_string_value(json_object_get(st, "StartedAt")), &t);
    strata_human_ago(t, now, ago, sizeof(ago));
    snprintf(buf, len, "Exited (%lld) %s",
             (long long)json_integer_value(json_object_get(st, "ExitCode")), ago);
  } else {
    snprintf(buf, len, "Created");
  }
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

/* "2024-01-01 00:00:00 +0000 UTC", Go's time.Time String() as Docker prints CreatedAt. */
static void go_time(time_t t, char *buf, size_t len) {
  struct tm tm;
  localtime_r(&t, &tm);
  strftime(buf, len, "%Y-%m-%d %H:%M:%S %z %Z", &tm);
}

/* The row `docker ps` formats: Docker's ContainerContext fields. */
static json_t *ps_row(json_t *rec, time_t created, time_t now, bool notrunc) {
  char id[80], cmd[4200], ago[64], at[80], status[96];
  const char *name = json_string_value(json_object_get(rec, "Name"));
  const char *image = json_string_value(json_object_get(rec, "ImageName"));
  json_t *st = json_object_get(rec, "State");
  const char *state = json_string_value(json_object_get(st, "Status"));
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
  status_column(rec, now, status, sizeof(status));
  if (state && strcmp(state, "running") == 0 && !really_running(st))
    state = "exited";
  if (lf != NULL) {
    json_object_foreach(labels, key, val) {
      fprintf(lf, "%s%s=%s", first ? "" : ",", key, json_string_value(val) ?: "");
      first = false;
    }
    fclose(lf);
  }
  row = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "ID",
                  id, "Image", image ? image : "", "Command", cmd, "CreatedAt", at, "RunningFor",
                  ago, "Ports", "", "Status", status, "State", state ? state : "created", "Size",
                  "0B", "Names", name ? (name[0] == '/' ? name + 1 : name) : "", "Labels",
                  lab ? lab : "", "Mounts", "", "Networks", "");
  free(lab);
  return row;
}

int cmd_ps(struct strata_context *ctx, int argc, char **argv) {
  static const struct option opts[] = {
      {"all", no_argument, NULL, 'a'},      {"quiet", no_argument, NULL, 'q'},
      {"no-trunc", no_argument, NULL, 'T'}, {"format", required_argument, NULL, 'F'},
      {"help", no_argument, NULL, 'h'},     {NULL, 0, NULL, 0},
  };
  bool all = false, quiet = false, notrunc = false;
  const char *format = NULL;
  struct strata_error *err = NULL;
  cleanup_strv char **ids = NULL;
  struct row *rows = NULL;
  json_t **docs = NULL;
  size_t nrows = 0;
  time_t now = time(NULL);
  int c, rc;

  while ((c = getopt_long(argc, argv, "+aqh", opts, NULL)) != -1) {
    switch (c) {
    case 'a':
      all = true;
      break;
    case 'q':
      quiet = true;
      break;
    case 'T':
      notrunc = true;
      break;
    case 'F':
      format = optarg;
      break;
    case 'h':
      cli_help("ps", help);
      return 0;
    default:
      return cli_usage("ps", 125, "invalid option");
    }
  }
  if (strata_context_store(ctx, false, &err) < 0 ||
      (ids = strata_container_list(ctx->store, &err)) == NULL)
    return cli_fail(err, 1);
  for (char **i = ids; *i; i++) {
    json_t *rec = NULL;
    struct row r;
    if (strata_container_load(ctx->store, *i, &rec, NULL) != 0)
      continue;
    if (!all && !really_running(json_object_get(rec, "State"))) {
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
  for (size_t i = 0; docs && i < nrows; i++)
    docs[i] = ps_row(rows[i].rec, rows[i].created, now, notrunc);
  rc = cli_print_rows(quiet ? "{{.ID}}" : format,
                      "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t"
                      "{{.Ports}}\t{{.Names}}",
                      docs, docs ? nrows : 0, ps_headers, "*formatter.ContainerContext", ps_methods);
  for (size_t i = 0; i < nrows; i++) {
    json_decref(rows[i].rec);
    if (docs)
      json_decref(docs[i]);
  }
  free(docs);
  free(rows);
  return rc;
}
