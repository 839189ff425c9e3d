/* The container monitor (the role conmon plays for podman): the process
 * that calls the isolation backend's run(), records the container's State
 * (Running, Pid, StartedAt, then ExitCode, FinishedAt) in its record,
 * writes its output to a json-file log (containers/ID/ID-json.log), serves
 * `attach` clients on containers/ID/attach, and honours --rm.
 *
 * A detached container (`run -d`, `start`) gets a monitor process of its
 * own, double-forked into a new session, so it outlives the command; a
 * foreground one (`run`, `start -a`) is monitored by the command itself, on
 * a second thread, so `run --rm IMAGE true` costs no extra process.
 *
 * Attach protocol (a unix stream socket): the monitor sends frames of an
 * 8-byte header (type, 0, 0, 0, length as 32-bit big endian) and a payload:
 * type 1 stdout, 2 stderr, 3 the exit code (4 bytes big endian) as the last
 * frame.  A client sends frames of the same shape: type 0 stdin bytes, 1 a
 * window size (rows, cols: 16-bit big endian each), 2 closes stdin. */
#ifndef STRATA_CORE_MONITOR_H
#define STRATA_CORE_MONITOR_H

#include <stdbool.h>
#include <stdint.h>
#include <strata/plugin/isolation.h>

#include "context.h"
#include "error.h"

enum {
  STRATA_FRAME_STDIN = 0,
  STRATA_FRAME_STDOUT = 1,
  STRATA_FRAME_STDERR = 2,
  STRATA_FRAME_EXIT = 3,
  STRATA_FRAME_RESIZE = 1, /* client to monitor */
  STRATA_FRAME_CLOSE_STDIN = 2,
};

struct strata_monitor_options {
  bool detach; /* a monitor process that outlives this command */
};

/* Starts container ID (whose record the caller resolved).  In the
 * foreground, its output goes to this process's stdout and stderr (and its
 * stdin comes from ours with OpenStdin) and the container's exit code is
 * returned; detached, 0 is returned once the container's command runs.
 * Failures return 125, 126 or 127 with *err set. */
int strata_monitor_start(struct strata_context *ctx, const char *id,
                         const struct strata_monitor_options *opts, struct strata_error **err);

/* Runs SPEC in the running container whose first process is PID through
 * ISO's exec(), in the foreground (a terminal when spec->tty, our stdin
 * with spec->interactive), or DETACH'ed.  Returns as strata_monitor_start. */
int strata_monitor_exec(struct strata_plugin *iso, struct strata_run_spec *spec, int pid,
                        bool detach, struct strata_error **err);

/* Connects to container ID's monitor and copies its output to our stdout
 * and stderr (and, with STDIN, our stdin to it) until it exits.  Returns
 * its exit code, or -1 with *err (no monitor: the container is not
 * running). */
int strata_monitor_attach(struct strata_store *store, const char *id, bool stdin_too,
                          struct strata_error **err);

/* Removes container ID for good: its storage, its record, its log folder
 * and the layers nothing uses any more. */
int strata_container_destroy(struct strata_context *ctx, const char *id,
                             struct strata_error **err);

/* The folder of container ID's log and attach socket, relative to the
 * store root ("containers/ID"). */
#define STRATA_CONTAINER_DIR_FMT "containers/%s"

/* Records in REC ("SizeRw") the disk its writable layer uses, as the
 * storage driver measures it; nothing when the driver cannot tell. */
void strata_container_measure(struct strata_context *ctx, json_t *rec);

#endif
