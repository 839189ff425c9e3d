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
#include "table.h"

static const char help[] =
    "Usage:  strata ps [OPTIONS]\n\n"
    "List containers\n\n"
    "Options:\n"
    "  -a, --all        Show all containers (default shows just running)\n"
    "      --no-trunc   Don't truncate output\n"
    "  -q, --quiet      Only display container IDs\n";

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

int cmd_ps(struct strata_context *ctx, int argc, char **argv) {
  static const struct option opts[] = {
      {"all", no_argument, NULL, 'a'},      {"quiet", no_argument, NULL, 'q'},
      {"no-trunc", no_argument, NULL, 'T'}, {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  bool all = false, quiet = false, notrunc = false;
  struct strata_error *err = NULL;
  cleanup_strv char **ids = NULL;
  struct row *rows = NULL;
  size_t nrows = 0;
  time_t now = time(NULL);
  int c;

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
  if (quiet) {
    for (size_t i = 0; i < nrows; i++)
      printf("%.*s\n", notrunc ? 64 : 12, json_string_value(json_object_get(rows[i].rec, "Id")));
  } else {
    struct strata_table *t = strata_table_new(7);
    const char *hdr[] = {"CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"};
    strata_table_add(t, hdr);
    for (size_t i = 0; i < nrows; i++) {
      json_t *rec = rows[i].rec;
      char id[80], cmd[4200], created[64], status[96];
      const char *name = json_string_value(json_object_get(rec, "Name"));
      const char *image = json_string_value(json_object_get(rec, "ImageName"));
      snprintf(id, sizeof(id), "%.*s", notrunc ? 64 : 12,
               json_string_value(json_object_get(rec, "Id")));
      command_column(rec, notrunc, cmd, sizeof(cmd));
      strata_human_ago(rows[i].created, now, created, sizeof(created));
      status_column(rec, now, status, sizeof(status));
      {
        const char *cells[] = {id, image ? image : "", cmd, created, status, "",
                               name ? (name[0] == '/' ? name + 1 : name) : ""};
        strata_table_add(t, cells);
      }
    }
    strata_table_flush(t, stdout);
  }
  for (size_t i = 0; i < nrows; i++)
    json_decref(rows[i].rec);
  free(rows);
  return 0;
}
