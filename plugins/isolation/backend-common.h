/* What the in-tree isolation backends share.  The parent's side of a
 * foreground child (the engine's SIGINT, SIGTERM, SIGHUP and SIGQUIT passed
 * on to it, the failure record it sends through a close-on-exec pipe when
 * it cannot start the command, the wait) and turning that record or the
 * exit status into the run's result (Docker's 125, 126, 127, or the
 * command's own code); on the child's side, sending that record and the
 * exec with the container's PATH.  And what a container gets by Docker's
 * defaults whoever builds it: /etc/hosts, the masked and read-only paths.
 *
 * Compiled into each backend: a plugin still gets nothing from the core but
 * the host table, and exports nothing but its entry point (PLUGIN_LDFLAGS
 * hides these functions).  Not an interface for other plugins: it may change
 * with the backends. */
#ifndef STRATA_ISOLATION_BACKEND_COMMON_H
#define STRATA_ISOLATION_BACKEND_COMMON_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <strata/plugin/host.h>
#include <strata/plugin/isolation.h>

/* Does SPEC carry the members of ABI 1.2 (stdio, console, started)? */
#define SPEC_HAS_1_2(spec)                                                                         \
  ((spec)->size >= offsetof(struct strata_run_spec, opaque) + sizeof(void *))

/* The signals the engine passes on to a foreground container. */
#define CHILD_NSIGNALS 4
extern const int child_signals[CHILD_NSIGNALS];

/* What the child tells the parent when it cannot start the command: one
 * write, well below PIPE_BUF, so the parent reads all of it or nothing. */
struct child_failure {
  int stage; /* CHILD_STAGE_* */
  int errnum;
  char what[512];
};
enum { CHILD_STAGE_SETUP = 0, CHILD_STAGE_EXEC = 1, CHILD_STAGE_REFUSED = 2 };

/* ---------------------------------------------------------------- parent */

/* Blocks child_signals, the old mask in *SAVED: no signal may arrive
 * between starting the child and knowing its PID. */
void child_signals_block(sigset_t *saved);

/* Forwards child_signals to TARGET (none while it is 0), restores the
 * signal mask MASK (if not NULL), reads the failure record from REPORT (the
 * read end of the pipe, closed here; -1: no pipe), calls spec->started with
 * TARGET when the pipe closed without a record (the command was exec'd),
 * waits for PID (*STATUS) and puts the engine's handlers back.  The caller
 * has closed the pipe's write end.  Returns 1 when *F holds a failure
 * record, else 0. */
int child_wait(const struct strata_run_spec *spec, pid_t pid, pid_t target, int report,
               const sigset_t *mask, int *status, struct child_failure *f);

/* waitpid(PID) through EINTR. */
void child_waitpid(pid_t pid, int *status);

/* What failure record F means: "executable file not found" (127), cannot
 * execute (126), or "WHAT: ..." for a setup error (125); *err is set. */
int child_failure_result(const struct strata_host *host, struct child_failure *f,
                         const char *what, struct strata_error **err);

/* The exit code STATUS stands for (128+N for signal N), or an error "WHO
 * ended in an unknown way". */
int child_exit_result(const struct strata_host *host, int status, const char *who,
                      struct strata_error **err);

/* ---------------------------------------------------------------- child */

/* Where child_fail writes (the child sets it; close-on-exec). */
extern int child_report_fd;

/* Sends the failure record (STAGE, ERRNUM, the formatted WHAT) to
 * child_report_fd and exits 127. */
void child_fail(int stage, int errnum, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 3, 4)));

/* execve of spec->argv with a PATH search using the container's PATH (from
 * spec->env; the host's means nothing inside the new root); fails with
 * CHILD_STAGE_EXEC: ENOENT when nothing was found, EACCES when only
 * something not executable was. */
void child_exec(const struct strata_run_spec *spec) __attribute__((noreturn));

/* ---------------------------------------------------------------- Docker's defaults */

/* /etc/hosts for a container without a network of its own. */
extern const char docker_hosts_file[];
/* The paths masked (moby oci/defaults.go), and those made read-only;
 * absolute, inside the container. */
extern const char *const docker_masked_paths[];
extern const size_t docker_n_masked_paths;
extern const char *const docker_readonly_paths[];
extern const size_t docker_n_readonly_paths;

/* The text of the container's /etc/hosts: the host's (read into BUF of
 * LEN bytes) on the host's network, as Docker does, else
 * docker_hosts_file. */
const char *container_hosts_text(bool host_network, char *buf, size_t len);

/* Writes TEXT to NAME in DIRFD (AT_FDCWD: a path), mode 0644, not through
 * a symlink: 0, or -1 with errno. */
int write_text_at(int dirfd, const char *name, const char *text);

/* run()'s checks of SPEC: a command, and an ID that is one plain name. */
int run_spec_check(const struct strata_host *host, const struct strata_run_spec *spec,
                   struct strata_error **err);

#endif
