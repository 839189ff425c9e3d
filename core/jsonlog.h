/* Docker's json-file log format: one JSON object a line,
 *   {"log":"hello\n","stream":"stdout","time":"2024-01-02T03:04:05.123456789Z"}
 * written by the container monitor, read by `logs`.  Pure functions. */
#ifndef STRATA_CORE_JSONLOG_H
#define STRATA_CORE_JSONLOG_H

#include <stddef.h>

enum { STRATA_STREAM_STDOUT = 1, STRATA_STREAM_STDERR = 2 };

/* Docker cuts a line longer than this into partial messages. */
#define STRATA_JSONLOG_MAX_LINE 16384

/* One log line for LEN bytes of DATA from STREAM at TIME (RFC 3339), with
 * the trailing newline; malloc'd, *out_len its length.  Bytes that are not
 * UTF-8 become U+FFFD, as Go's encoder makes them. */
char *strata_jsonlog_format(int stream, const char *data, size_t len, const char *time,
                            size_t *out_len);

struct strata_jsonlog_entry {
  int stream;  /* STRATA_STREAM_* */
  char *log;   /* may hold NULs: use len */
  size_t len;
  char *time;  /* as written */
};
/* Parses one line (without or with its newline).  Returns 0, or -1 when it
 * is not a log entry. */
int strata_jsonlog_parse(const char *line, size_t len, struct strata_jsonlog_entry *e);
void strata_jsonlog_entry_clear(struct strata_jsonlog_entry *e);

/* Cuts a byte stream into messages: each complete line (with its '\n'), and
 * STRATA_JSONLOG_MAX_LINE bytes of a longer one. */
struct strata_jsonlog_splitter {
  size_t n;
  char buf[STRATA_JSONLOG_MAX_LINE];
};
typedef void (*strata_jsonlog_emit_fn)(void *data, const char *msg, size_t len);
void strata_jsonlog_split(struct strata_jsonlog_splitter *s, const char *data, size_t len,
                          strata_jsonlog_emit_fn emit, void *ud);
/* Emits what is left (a last line without a newline). */
void strata_jsonlog_flush(struct strata_jsonlog_splitter *s, strata_jsonlog_emit_fn emit,
                          void *ud);

#endif
