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
#include "table.h"

static const char help[] =
    "Usage:  strata history [OPTIONS] IMAGE\n\n"
    "Show the history of an image\n\n"
    "Options:\n"
    "  -H, --human      Print sizes and dates in human readable format (default true)\n"
    "      --no-trunc   Don't truncate output\n"
    "  -q, --quiet      Only show image IDs\n";

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
      {NULL, 0, NULL, 0},
  };
  bool human = true, quiet = false, notrunc = false;
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
    case 'h':
      cli_help("history", help);
      return 0;
    default:
      return cli_usage("history", 125, "invalid option");
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

  if (quiet) {
    /* only the top row has an ID; the rest are <missing> */
    for (size_t i = nrows; i-- > 0;) {
      if (i == nrows - 1)
        printf("%.*s\n", notrunc ? 71 : 12, notrunc ? id : id + 7);
      else
        printf("<missing>\n");
    }
    return 0;
  }
  {
    struct strata_table *t = strata_table_new(5);
    const char *hdr[] = {"IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"};
    strata_table_add(t, hdr);
    for (size_t i = nrows; i-- > 0;) {
      char idcol[80], created[64], size[32];
      cleanup_free char *by = NULL;
      cleanup_free char *flat = strdup(rows[i].created_by);
      time_t when = 0;
      bool have_time = rows[i].created && strata_parse_rfc3339(rows[i].created, &when) == 0;
      for (char *p = flat; p && *p; p++)
        if (*p == '\t')
          *p = ' ';
      if (i == nrows - 1)
        snprintf(idcol, sizeof(idcol), "%.*s", notrunc ? 71 : 12, notrunc ? id : id + 7);
      else
        snprintf(idcol, sizeof(idcol), "<missing>");
      if (!have_time)
        snprintf(created, sizeof(created), "N/A");
      else if (human)
        strata_human_ago(when, now, created, sizeof(created));
      else {
        struct tm tm;
        localtime_r(&when, &tm);
        strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%S%z", &tm);
        /* Go's RFC 3339 writes the offset as +hh:mm, or Z for UTC */
        size_t l = strlen(created);
        if (l > 5 && strcmp(created + l - 5, "+0000") == 0)
          strcpy(created + l - 5, "Z");
        else if (l > 5) {
          memmove(created + l - 1, created + l - 2, 3);
          created[l - 2] = ':';
        }
      }
      if (human)
        strata_human_size(rows[i].size, size, sizeof(size));
      else
        snprintf(size, sizeof(size), "%llu", (unsigned long long)rows[i].size);
      by = notrunc ? strdup(flat ? flat : "") : ellipsis(flat ? flat : "", 45);
      {
        const char *cells[] = {idcol, created, by ? by : "", size, rows[i].comment};
        strata_table_add(t, cells);
      }
    }
    strata_table_flush(t, stdout);
  }
  return 0;
}
