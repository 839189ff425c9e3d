/* A container's life as the records and /proc tell it: which state it is
 * really in (a "running" record whose monitor died is not running), the
 * status text `ps` shows, signal names, and waiting for an exit. */
#ifndef STRATA_CORE_LIFECYCLE_H
#define STRATA_CORE_LIFECYCLE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include <jansson.h>

#include "error.h"
#include "store.h"

/* The exit code recorded for a container whose monitor died before it could
 * record one: the real status is unknown. */
#define STRATA_EXIT_UNKNOWN 255

enum strata_container_state {
  STRATA_STATE_CREATED,
  STRATA_STATE_RUNNING,
  STRATA_STATE_EXITED,
};

/* "KILL", "SIGKILL", "kill", "9", "RTMIN+1" -> the signal number, or -1. */
int strata_signal_parse(const char *s);

/* The start time (clock ticks after boot) in the text of /proc/PID/stat,
 * or 0 when it cannot be parsed. */
unsigned long long strata_stat_start_time(const char *stat_text);
/* The same, read for PID; 0 when there is no such process. */
unsigned long long strata_proc_start_time(int pid);
/* Is PID alive and, when START is not 0, the process that started then? */
bool strata_proc_is(int pid, unsigned long long start);

/* The state REC (a container record) is really in; *exit_code (may be
 * NULL) gets the exit code of an exited one. */
enum strata_container_state strata_container_state(json_t *rec, int *exit_code);
/* Docker's STATUS column: "Up 4 minutes", "Exited (0) 20 seconds ago",
 * "Created".  STARTED/FINISHED may be 0 when unknown. */
void strata_container_status_text(enum strata_container_state state, int exit_code,
                                  time_t started, time_t finished, time_t now, char *buf,
                                  size_t len);
/* Same from a record. */
void strata_container_status(json_t *rec, time_t now, char *buf, size_t len);

/* Waits up to TIMEOUT_MS (-1: for ever) until container ID is no longer
 * running, polling its record (no lock needed: records are replaced
 * atomically).  Returns 0 with *exit_code, 1 on timeout, 2 when the record
 * disappeared (--rm), or -1. */
int strata_container_wait(struct strata_store *store, const char *id, int timeout_ms,
                          int *exit_code, struct strata_error **err);
/* Sends SIG to the container's first process (or, for a record without
 * one, its monitor).  Returns 0, 1 when the container is not running, -1. */
int strata_container_signal(json_t *rec, int sig, struct strata_error **err);
/* Docker's stop: SIG (0: the image's StopSignal, else SIGTERM), then
 * SIGKILL after TIMEOUT seconds (-1: wait for ever), then waits for the
 * monitor to record the exit.  Returns 0, or -1. */
int strata_container_stop(struct strata_store *store, const char *id, int sig, int timeout,
                          struct strata_error **err);

#endif
