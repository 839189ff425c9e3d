#include "config.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "commands.h"
#include "history.h"
#include "humanize.h"
#include "image.h"
#include "json-cleanup.h"

static const char help[] =
    "Usage:  strata history [OPTIONS] IMAGE\n\n"
    "Show the history of an image\n\n"
    "Options:\n"
    "      --format     Format output using a Go template, 'table ...' or 'json'\n"
    "  -H, --human      Print sizes and dates in human readable format (default true)\n"
    "      --no-trunc   Don't truncate output\n"
    "  -q, --quiet      Only show image IDs\n";

static const struct strata_template_header history_headers[] = {
    {"ID", "IMAGE"},          {"CreatedSince", "CREATED"}, {"CreatedAt", "CREATED AT"},
    {"CreatedBy", "CREATED BY"}, {"Size", "SIZE"},        {"Comment", "COMMENT"},
    {NULL, NULL},
};

/* Docker's Ellipsis: at most N characters, the last one "…". */
static char *ellipsis(const char *s, size_t n) {
  size_t chars = 0, i = 0;
  char *out;
  for (const char *p = s; *p; p++)
    if (((unsigned char)*p & 0xc0) != 0x80)
      chars++;
  if (chars <= n)
    return strdup(s);
  /* byte offset of character n-1 */
  for (size_t k = 0; s[i]; i++) {
    if (((unsigned char)s[i] & 0xc0) != 0x80) {
      if (k == n - 1)
        break;
      k++;
    }
  }
  out = malloc(i + 4);
  if (out == NULL)
    return NULL;
  memcpy(out, s, i);
  memcpy(out + i, "\xe2\x80\xa6", 4);
  return out;
}

int cmd_history(struct strata_context *ctx, int argc, char **argv) {
  static const struct option opts[] = {
      {"human", optional_argument, NULL, 'H'}, {"quiet", no_argument, NULL, 'q'},
      {"no-trunc", no_argument, NULL, 'T'},    {"help", no_argument, NULL, 'h'},
      {"format", required_argument, NULL, 'F'},
      {NULL, 0, NULL, 0},
  };
  bool human = true, quiet = false, notrunc = false;
  const char *format = NULL;
  json_t **docs = NULL;
  size_t ndocs = 0;
  int rc;
  struct strata_error *err = NULL;
  cleanup_free char *id = NULL;
  cleanup_free char *cfg_data = NULL;
  cleanup_json json_t *rec = NULL;
  cleanup_json json_t *cfg = NULL;
  cleanup_free struct strata_history_row *rows = NULL;
  size_t nrows = 0;
  time_t now = time(NULL);
  int c, r;

  while ((c = getopt_long(argc, argv, "+H::qh", opts, NULL)) != -1) {
    switch (c) {
    case 'H': {
      const char *v = optarg;
      if (v && *v == '=')
        v++;
      if (cli_parse_bool(v, &human) < 0)
        return cli_usage("history", 125, "invalid boolean value '%s' for -H", optarg);
      break;
    }
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
      cli_help("history", help);
      return 0;
    default:
      return cli_bad_option("history");
    }
  }
  if (argc - optind != 1)
    return cli_usage("history", 125, "\"history\" requires exactly 1 argument");
  if (strata_context_store(ctx, false, &err) < 0)
    return cli_fail(err, 1);
  r = strata_image_resolve(ctx->store, argv[optind], &id, NULL, &err);
  if (r < 0)
    return cli_fail(err, 1);
  if (r == 1)
    return cli_failf(1, "No such image: %s", argv[optind]);
  if (strata_image_load(ctx->store, id, &rec, &err) != 0 ||
      strata_store_get_blob(ctx->store, id, &cfg_data, NULL, &err) < 0)
    return cli_fail(err, 1);
  cfg = json_loads(cfg_data, 0, NULL);
  if (cfg == NULL)
    return cli_failf(1, "corrupt image config %s", id);
  if (strata_history_rows(cfg, json_object_get(rec, "layer_sizes"), &rows, &nrows, &err) < 0)
    return cli_fail(err, 1);

  docs = calloc(nrows + 1, sizeof(*docs));
  for (size_t i = nrows; docs && i-- > 0;) {
    char idcol[80], ago[64], at[64], size[32];
    cleanup_free char *by = NULL;
    cleanup_free char *flat = strdup(rows[i].created_by);
    time_t when = 0;
    bool have_time = rows[i].created && strata_parse_rfc3339(rows[i].created, &when) == 0;
    for (char *p = flat; p && *p; p++)
      if (*p == '\t')
        *p = ' ';
    /* only the top row has an ID; the rest are <missing> */
    if (i == nrows - 1)
      snprintf(idcol, sizeof(idcol), "%.*s", notrunc ? 71 : 12, notrunc ? id : id + 7);
    else
      snprintf(idcol, sizeof(idcol), "<missing>");
    if (have_time) {
      struct tm tm;
      size_t l;
      localtime_r(&when, &tm);
      strftime(at, sizeof(at), "%Y-%m-%dT%H:%M:%S%z", &tm);
      /* Go's RFC 3339 writes the offset as +hh:mm, or Z for UTC */
      l = strlen(at);
      if (l > 5 && strcmp(at + l - 5, "+0000") == 0) {
        strcpy(at + l - 5, "Z");
      } else if (l > 5) {
        memmove(at + l - 1, at + l - 2, 3);
        at[l - 2] = ':';
      }
      strata_human_ago(when, now, ago, sizeof(ago));
    } else {
      snprintf(at, sizeof(at), "N/A");
      snprintf(ago, sizeof(ago), "N/A");
    }
    if (human)
      strata_human_size(rows[i].size, size, sizeof(size));
    else
      snprintf(size, sizeof(size), "%llu", (unsigned long long)rows[i].size);
    by = notrunc ? strdup(flat ? flat : "") : ellipsis(flat ? flat : "", 45);
    docs[ndocs++] = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "ID", idcol, "CreatedSince",
                              human ? ago : at, "CreatedAt", at, "CreatedBy", by ? by : "",
                              "Size", size, "Comment", rows[i].comment);
  }
  rc = cli_print_rows(quiet ? "{{.ID}}" : format,
                      "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}",
                      docs, ndocs, history_headers, "*formatter.historyContext", NULL);
  for (size_t i = 0; i < ndocs; i++)
    json_decref(docs[i]);
  free(docs);
  return rc;
}
