/* The pull transcript, as Docker prints it: "TAG: Pulling from REPO", a line
 * per layer ("41bbcc491752: Pull complete"), "Digest: ...", "Status: ...".
 *
 *   tty    live progress bars, each layer's line redrawn in place (cursor up,
 *          clear line), like Docker on a terminal
 *   plain  one stable line per event, never a bar (Docker when its output is
 *          not a terminal, plus one "Downloading" and one "Extracting" line)
 *   json   one JSON object per line, Docker's Engine API progress messages
 *          (docs/pull-progress.md)
 *   quiet  nothing
 *
 * Every function may be called from any thread. */
#ifndef STRATA_CORE_PROGRESS_H
#define STRATA_CORE_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

enum strata_progress_mode {
  STRATA_PROGRESS_AUTO = 0, /* tty when OUT is a terminal, plain otherwise */
  STRATA_PROGRESS_PLAIN,
  STRATA_PROGRESS_TTY,
  STRATA_PROGRESS_JSON,
  STRATA_PROGRESS_QUIET,
};

/* "auto", "plain", "tty", "json", "quiet" -> mode; -1 if unknown. */
int strata_progress_parse_mode(const char *s);

struct strata_progress;

/* A transcript written to OUT (NULL: quiet).  Never fails: without memory it
 * is quiet. */
struct strata_progress *strata_progress_new(FILE *out, enum strata_progress_mode mode);
/* Ends the transcript (moves below the bars) and frees it. */
void strata_progress_free(struct strata_progress *p);
enum strata_progress_mode strata_progress_mode(const struct strata_progress *p);

/* A line of its own: "ID: STATUS", or "STATUS" when ID is NULL. */
void strata_progress_status(struct strata_progress *p, const char *id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Layer ID's state (ID is the 12-hex short digest).  With TOTAL > 0 it has
 * a progress bar (CURRENT of TOTAL bytes): tty and json redraw it at most
 * ten times a second, plain shows only the first line of each status. */
void strata_progress_layer(struct strata_progress *p, const char *id, const char *status,
                           uint64_t current, uint64_t total);
/* The error a pull ended with (json only: {"error": ...}; the other modes
 * leave it to the command's error line). */
void strata_progress_error(struct strata_progress *p, const char *msg);

#endif
