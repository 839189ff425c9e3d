#include "config.h"
#include "progress.h"

#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define MAX_LINES 1024
#define REDRAW_NS 100000000LL /* ten redraws a second at most */

struct line {
  char id[16];
  char status[32];
  int64_t started; /* when this status began (ns), for the time left */
  int64_t drawn;   /* when the bar was last drawn (ns) */
};

struct strata_progress {
  FILE *out;
  enum strata_progress_mode mode;
  pthread_mutex_t lock;
  struct line *lines; /* layers in the order they first showed */
  size_t nlines;
  size_t nrows; /* tty: rows of bars above the cursor (Docker's "ids") */
  int width;    /* tty: the terminal's columns */
};

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int strata_progress_parse_mode(const char *s) {
  static const char *const names[] = {"auto", "plain", "tty", "json", "quiet"};
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
    if (strcmp(s, names[i]) == 0)
      return (int)i;
  return -1;
}

struct strata_progress *strata_progress_new(FILE *out, enum strata_progress_mode mode) {
  struct strata_progress *p = calloc(1, sizeof(*p));
  struct winsize ws;

  if (p == NULL)
    return NULL;
  if (out == NULL)
    mode = STRATA_PROGRESS_QUIET;
  if (mode == STRATA_PROGRESS_AUTO)
    mode = isatty(fileno(out)) ? STRATA_PROGRESS_TTY : STRATA_PROGRESS_PLAIN;
  p->out = out;
  p->mode = mode;
  p->width = 80;
  if (mode == STRATA_PROGRESS_TTY && ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
    p->width = ws.ws_col;
  pthread_mutex_init(&p->lock, NULL);
  return p;
}

void strata_progress_free(struct strata_progress *p) {
  if (p == NULL)
    return;
  pthread_mutex_destroy(&p->lock);
  free(p->lines);
  free(p);
}

enum strata_progress_mode strata_progress_mode(const struct strata_progress *p) {
  return p ? p->mode : STRATA_PROGRESS_QUIET;
}

/* go-units' HumanSize: decimal units, 4 significant digits ("63.45MB"). */
static void human(uint64_t n, char *buf, size_t len) {
  static const char *const units[] = {"B", "kB", "MB", "GB", "TB", "PB"};
  double v = (double)n;
  size_t u = 0;
  while (v >= 1000.0 && u + 1 < sizeof(units) / sizeof(units[0])) {
    v /= 1000.0;
    u++;
  }
  snprintf(buf, len, "%.4g%s", v, units[u]);
}

/* Docker's JSONProgress.String(): "[=====>      ]  12.35MB/63.45MB 2s"; the
 * bar only on terminals wider than 110 columns, the time left on those
 * wider than 50. */
static void bar(const struct strata_progress *p, const struct line *l, uint64_t cur,
                uint64_t total, char *buf, size_t len) {
  char c[32], t[32], box[64] = "", left[32] = "";
  int pct = (int)((double)cur / (double)total * 100.0) / 2;
  size_t o = 0;

  if (pct > 50)
    pct = 50;
  if (p->mode == STRATA_PROGRESS_TTY && p->width > 110) {
    box[o++] = '[';
    for (int i = 0; i < pct; i++)
      box[o++] = '=';
    box[o++] = '>';
    for (int i = pct; i < 50; i++)
      box[o++] = ' ';
    box[o++] = ']';
    box[o++] = ' ';
    box[o] = '\0';
  }
  human(cur, c, sizeof(c));
  human(total, t, sizeof(t));
  if (cur > 0 && pct < 50 && (p->mode != STRATA_PROGRESS_TTY || p->width > 50)) {
    double el = (double)(now_ns() - l->started) / 1e9;
    long secs = (long)(el / (double)cur * (double)(total - cur));
    if (secs >= 3600)
      snprintf(left, sizeof(left), " %ldh%ldm%lds", secs / 3600, secs / 60 % 60, secs % 60);
    else if (secs >= 60)
      snprintf(left, sizeof(left), " %ldm%lds", secs / 60, secs % 60);
    else
      snprintf(left, sizeof(left), " %lds", secs);
  }
  if (cur > total)
    snprintf(buf, len, "%s%8s%s", box, c, left);
  else
    snprintf(buf, len, "%s%8s/%s%s", box, c, t, left);
}

static void emit_json(struct strata_progress *p, const char *id, const char *status,
                      const struct line *l, uint64_t cur, uint64_t total) {
  json_t *o = json_object();
  char *s;

  if (o == NULL)
    return;
  json_object_set_new(o, "status", json_string(status));
  if (id != NULL)
    json_object_set_new(o, "id", json_string(id));
  if (total > 0) {
    char text[160];
    bar(p, l, cur, total, text, sizeof(text));
    json_object_set_new(o, "progressDetail",
                        json_pack("{s:I, s:I}", "current", (json_int_t)cur, "total",
                                  (json_int_t)total));
    json_object_set_new(o, "progress", json_string(text));
  }
  s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
  if (s != NULL)
    fprintf(p->out, "%s\n", s);
  free(s);
  json_decref(o);
}

void strata_progress_status(struct strata_progress *p, const char *id, const char *fmt, ...) {
  char text[512];
  va_list ap;

  if (p == NULL || p->mode == STRATA_PROGRESS_QUIET)
    return;
  va_start(ap, fmt);
  vsnprintf(text, sizeof(text), fmt, ap);
  va_end(ap);
  pthread_mutex_lock(&p->lock);
  if (p->mode == STRATA_PROGRESS_JSON)
    emit_json(p, id, text, NULL, 0, 0);
  else
    fprintf(p->out, "%s%s%s\n", id ? id : "", id ? ": " : "", text);
  /* as Docker: a line that is no layer's ends the block of bars above it */
  p->nrows = 0;
  p->nlines = 0;
  fflush(p->out);
  pthread_mutex_unlock(&p->lock);
}

static struct line *find_line(struct strata_progress *p, const char *id, bool *fresh) {
  struct line *l;
  *fresh = false;
  for (size_t i = 0; i < p->nlines; i++)
    if (strcmp(p->lines[i].id, id) == 0)
      return &p->lines[i];
  if (p->nlines == MAX_LINES)
    return NULL;
  if (p->lines == NULL && (p->lines = calloc(MAX_LINES, sizeof(*p->lines))) == NULL)
    return NULL;
  l = &p->lines[p->nlines++];
  memset(l, 0, sizeof(*l));
  snprintf(l->id, sizeof(l->id), "%s", id);
  *fresh = true;
  return l;
}

void strata_progress_layer(struct strata_progress *p, const char *id, const char *status,
                           uint64_t current, uint64_t total) {
  struct line *l;
  bool fresh, changed;
  int64_t t = now_ns();

  if (p == NULL || p->mode == STRATA_PROGRESS_QUIET)
    return;
  pthread_mutex_lock(&p->lock);
  l = find_line(p, id, &fresh);
  if (l == NULL)
    goto out;
  changed = fresh || strcmp(l->status, status) != 0;
  if (changed) {
    snprintf(l->status, sizeof(l->status), "%s", status);
    l->started = t;
  } else if (total == 0 || (current < total && t - l->drawn < REDRAW_NS)) {
    goto out; /* nothing new worth a redraw */
  }
  l->drawn = t;
  switch (p->mode) {
  case STRATA_PROGRESS_PLAIN:
    if (changed)
      fprintf(p->out, "%s: %s\n", id, status);
    break;
  case STRATA_PROGRESS_JSON:
    emit_json(p, id, status, l, current, total);
    break;
  case STRATA_PROGRESS_TTY: {
    char text[256] = "";
    size_t row = (size_t)(l - p->lines), up;
    if (fresh) {
      fputc('\n', p->out);
      p->nrows++;
    }
    up = p->nrows - row;
    if (total > 0)
      bar(p, l, current, total, text, sizeof(text));
    fprintf(p->out, "\x1b[%zuA\r\x1b[2K%s: %s%s%s\r\x1b[%zuB", up, id, status, *text ? " " : "",
            text, up);
    break;
  }
  default:
    break;
  }
  fflush(p->out);
out:
  pthread_mutex_unlock(&p->lock);
}

void strata_progress_error(struct strata_progress *p, const char *msg) {
  if (p == NULL || p->mode != STRATA_PROGRESS_JSON)
    return;
  pthread_mutex_lock(&p->lock);
  {
    json_t *o = json_pack("{s:s, s:{s:s}}", "error", msg, "errorDetail", "message", msg);
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    if (s != NULL)
      fprintf(p->out, "%s\n", s);
    free(s);
    json_decref(o);
  }
  fflush(p->out);
  pthread_mutex_unlock(&p->lock);
}
