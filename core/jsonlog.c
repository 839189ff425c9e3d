#include "config.h"
#include "jsonlog.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct buf {
  char *p;
  size_t n, cap;
  bool failed;
};

static void put(struct buf *b, const char *s, size_t n) {
  if (b->failed)
    return;
  if (b->n + n + 1 > b->cap) {
    size_t cap = (b->cap ? b->cap * 2 : 256);
    char *np;
    while (cap < b->n + n + 1)
      cap *= 2;
    np = realloc(b->p, cap);
    if (np == NULL) {
      b->failed = true;
      return;
    }
    b->p = np;
    b->cap = cap;
  }
  memcpy(b->p + b->n, s, n);
  b->n += n;
  b->p[b->n] = '\0';
}

/* Length of the valid UTF-8 sequence at S (at most N bytes), 0 if none. */
static size_t utf8_len(const unsigned char *s, size_t n) {
  size_t want;
  unsigned cp;
  if (s[0] < 0x80)
    return 1;
  if (s[0] >= 0xc2 && s[0] <= 0xdf)
    want = 2, cp = s[0] & 0x1f;
  else if (s[0] >= 0xe0 && s[0] <= 0xef)
    want = 3, cp = s[0] & 0x0f;
  else if (s[0] >= 0xf0 && s[0] <= 0xf4)
    want = 4, cp = s[0] & 0x07;
  else
    return 0;
  if (n < want)
    return 0;
  for (size_t i = 1; i < want; i++) {
    if ((s[i] & 0xc0) != 0x80)
      return 0;
    cp = (cp << 6) | (s[i] & 0x3f);
  }
  /* overlong forms, surrogates and past U+10FFFF are not UTF-8 */
  if ((want == 3 && cp < 0x800) || (want == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
      (cp >= 0xd800 && cp <= 0xdfff))
    return 0;
  return want;
}

/* A JSON string as Go's encoding/json writes it (HTML characters escaped). */
static void put_string(struct buf *b, const char *data, size_t len) {
  const unsigned char *s = (const unsigned char *)data;
  put(b, "\"", 1);
  for (size_t i = 0; i < len;) {
    unsigned char c = s[i];
    char esc[8];
    size_t k;
    if (c == '"' || c == '\\') {
      esc[0] = '\\';
      esc[1] = (char)c;
      put(b, esc, 2);
      i++;
    } else if (c == '\n' || c == '\r' || c == '\t') {
      put(b, c == '\n' ? "\\n" : c == '\r' ? "\\r" : "\\t", 2);
      i++;
    } else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
      snprintf(esc, sizeof(esc), "\\u%04x", c);
      put(b, esc, 6);
      i++;
    } else if ((k = utf8_len(s + i, len - i)) == 0) {
      put(b, "\\ufffd", 6);
      i++;
    } else {
      put(b, data + i, k);
      i += k;
    }
  }
  put(b, "\"", 1);
}

char *strata_jsonlog_format(int stream, const char *data, size_t len, const char *time,
                            size_t *out_len) {
  struct buf b = {NULL, 0, 0, false};
  put(&b, "{\"log\":", 7);
  put_string(&b, data, len);
  put(&b, stream == STRATA_STREAM_STDERR ? ",\"stream\":\"stderr\",\"time\":\""
                                         : ",\"stream\":\"stdout\",\"time\":\"",
      27);
  put(&b, time, strlen(time));
  put(&b, "\"}\n", 3);
  if (b.failed) {
    free(b.p);
    return NULL;
  }
  if (out_len)
    *out_len = b.n;
  return b.p;
}

int strata_jsonlog_parse(const char *line, size_t len, struct strata_jsonlog_entry *e) {
  json_t *doc, *log;
  const char *stream, *time;
  memset(e, 0, sizeof(*e));
  while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
    len--;
  doc = json_loadb(line, len, JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, NULL);
  log = json_object_get(doc, "log");
  stream = json_string_value(json_object_get(doc, "stream"));
  time = json_string_value(json_object_get(doc, "time"));
  if (!json_is_string(log) || stream == NULL ||
      (strcmp(stream, "stdout") != 0 && strcmp(stream, "stderr") != 0)) {
    json_decref(doc);
    return -1;
  }
  e->stream = strcmp(stream, "stderr") == 0 ? STRATA_STREAM_STDERR : STRATA_STREAM_STDOUT;
  e->len = json_string_length(log);
  e->log = malloc(e->len + 1);
  e->time = strdup(time ? time : "");
  if (e->log == NULL || e->time == NULL) {
    json_decref(doc);
    strata_jsonlog_entry_clear(e);
    return -1;
  }
  memcpy(e->log, json_string_value(log), e->len);
  e->log[e->len] = '\0';
  json_decref(doc);
  return 0;
}

void strata_jsonlog_entry_clear(struct strata_jsonlog_entry *e) {
  free(e->log);
  free(e->time);
  memset(e, 0, sizeof(*e));
}

void strata_jsonlog_split(struct strata_jsonlog_splitter *s, const char *data, size_t len,
                          strata_jsonlog_emit_fn emit, void *ud) {
  while (len > 0) {
    const char *nl = memchr(data, '\n', len);
    size_t take = nl ? (size_t)(nl - data) + 1 : len;
    size_t room = sizeof(s->buf) - s->n;
    if (take > room)
      take = room;
    memcpy(s->buf + s->n, data, take);
    s->n += take;
    data += take;
    len -= take;
    if (s->buf[s->n - 1] == '\n' || s->n == sizeof(s->buf)) {
      emit(ud, s->buf, s->n);
      s->n = 0;
    }
  }
}

void strata_jsonlog_flush(struct strata_jsonlog_splitter *s, strata_jsonlog_emit_fn emit,
                          void *ud) {
  if (s->n > 0)
    emit(ud, s->buf, s->n);
  s->n = 0;
}
