/* logs: prints what the container wrote, from its json-file log
 * (containers/ID/ID-json.log, written by the monitor). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "commands.h"
#include "container.h"
#include "json-cleanup.h"
#include "jsonlog.h"
#include "lifecycle.h"
#include "monitor.h"

static const char help[] =
    "Usage:  strata logs [OPTIONS] CONTAINER\n\n"
    "Fetch the logs of a container\n\n"
    "Options:\n"
    "  -f, --follow         Follow log output\n"
    "  -n, --tail string    Number of lines to show from the end of the logs (default \"all\")\n"
    "  -t, --timestamps     Show timestamps\n";

/* Prints one log line; returns false for a line that is not an entry. */
static bool print_line(const char *line, size_t len, bool timestamps) {
  struct strata_jsonlog_entry e;
  FILE *out;
  if (strata_jsonlog_parse(line, len, &e) < 0)
    return false;
  out = e.stream == STRATA_STREAM_STDERR ? stderr : stdout;
  if (timestamps)
    fprintf(out, "%s ", e.time);
  fwrite(e.log, 1, e.len, out);
  strata_jsonlog_entry_clear(&e);
  return true;
}

/* Prints the complete lines of BUF[0..*len) (skipping the first SKIP), keeps
 * a trailing partial line at the start of BUF. */
static void print_lines(char *buf, size_t *len, long *skip, bool timestamps) {
  size_t start = 0;
  for (;;) {
    char *nl = memchr(buf + start, '\n', *len - start);
    if (nl == NULL)
      break;
    if (*skip > 0)
      (*skip)--;
    else
      print_line(buf + start, (size_t)(nl - buf) - start + 1, timestamps);
    start = (size_t)(nl - buf) + 1;
  }
  memmove(buf, buf + start, *len - start);
  *len -= start;
  fflush(stdout);
  fflush(stderr);
}

int cmd_logs(struct strata_context *ctx, int argc, char **argv) {
  static const struct option opts[] = {
      {"follow", no_argument, NULL, 'f'},     {"tail", required_argument, NULL, 'n'},
      {"timestamps", no_argument, NULL, 't'}, {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  bool follow = false, timestamps = false;
  long tail = -1, skip = 0;
  cleanup_free char *id = NULL;
  cleanup_json json_t *rec = NULL;
  cleanup_close int fd = -1;
  cleanup_free char *buf = NULL;
  size_t len = 0, cap = 1 << 16;
  char rel[256];
  int c;

  while ((c = getopt_long(argc, argv, "+fn:th", opts, NULL)) != -1) {
    switch (c) {
    case 'f':
      follow = true;
      break;
    case 'n':
      if (strcmp(optarg, "all") != 0) {
        char *end;
        errno = 0;
        tail = strtol(optarg, &end, 10);
        if (errno || end == optarg || *end)
          return cli_failf(1, "invalid value for \"tail\": %s", optarg);
        if (tail < 0)
          tail = -1; /* Docker: a negative number means all */
      }
      break;
    case 't':
      timestamps = true;
      break;
    case 'h':
      cli_help("logs", help);
      return 0;
    default:
      return cli_bad_option("logs");
    }
  }
  if (argc - optind != 1)
    return cli_usage("logs", EXIT_ENGINE, "\"logs\" requires exactly 1 argument");
  if ((c = cli_find_container(ctx, argv[optind], 1, &id, &rec)) != 0)
    return c;
  snprintf(rel, sizeof(rel), STRATA_CONTAINER_DIR_FMT "/%s-json.log", id, id);
  fd = openat(ctx->store->rootfd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  /* the monitor writes without the store lock; so do we read */
  strata_store_unlock(ctx->store);
  if (fd < 0 && errno != ENOENT)
    return cli_failf(1, "cannot open the log of %s: %s", argv[optind], strerror(errno));
  buf = malloc(cap);
  if (buf == NULL)
    return cli_failf(1, "out of memory");
  if (fd >= 0 && tail >= 0) {
    /* count the lines first: the last TAIL of them are printed */
    long lines = 0;
    ssize_t n;
    char tmp[65536];
    while ((n = read(fd, tmp, sizeof(tmp))) > 0)
      for (ssize_t i = 0; i < n; i++)
        lines += tmp[i] == '\n';
    skip = lines > tail ? lines - tail : 0;
    lseek(fd, 0, SEEK_SET);
  }
  for (;;) {
    bool running;
    ssize_t n = 0;
    if (fd >= 0) {
      if (len == cap) {
        char *nb = realloc(buf, cap * 2);
        if (nb == NULL)
          return cli_failf(1, "out of memory");
        buf = nb;
        cap *= 2;
      }
      n = read(fd, buf + len, cap - len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return cli_failf(1, "cannot read the log of %s: %s", argv[optind], strerror(errno));
      len += (size_t)n;
      print_lines(buf, &len, &skip, timestamps);
      if (n > 0)
        continue;
    }
    if (!follow)
      break;
    {
      cleanup_json json_t *now = NULL;
      running = strata_container_load(ctx->store, id, &now, NULL) == 0 &&
                strata_container_state(now, NULL) == STRATA_STATE_RUNNING;
    }
    if (fd < 0)
      fd = openat(ctx->store->rootfd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (!running) {
      /* the monitor writes the last lines before it records the exit */
      if (fd >= 0)
        while ((n = read(fd, buf + len, cap - len)) > 0) {
          len += (size_t)n;
          print_lines(buf, &len, &skip, timestamps);
        }
      break;
    }
    usleep(100 * 1000);
  }
  return 0;
}
