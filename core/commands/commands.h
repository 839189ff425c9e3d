/* The CLI: one file per command.  Each command gets the context and its
 * own argv (argv[0] is the command name) and returns the process exit code:
 * 0, 1 for a failed command, 125 for engine errors and usage errors of
 * run/create/start (as Docker), 126/127 when the container's command cannot
 * run, or the container's own exit code. */
#ifndef STRATA_COMMANDS_H
#define STRATA_COMMANDS_H

#include <stdbool.h>
#include <stdio.h>

#include "context.h"
#include "error.h"

#define EXIT_ENGINE 125

struct strata_command {
  const char *name;
  int (*run)(struct strata_context *ctx, int argc, char **argv);
  const char *usage;   /* "IMAGE [COMMAND] [ARG...]" */
  const char *summary; /* one line */
};

int cmd_pull(struct strata_context *ctx, int argc, char **argv);
int cmd_images(struct strata_context *ctx, int argc, char **argv);
int cmd_history(struct strata_context *ctx, int argc, char **argv);
int cmd_create(struct strata_context *ctx, int argc, char **argv);
int cmd_start(struct strata_context *ctx, int argc, char **argv);
int cmd_run(struct strata_context *ctx, int argc, char **argv);
int cmd_ps(struct strata_context *ctx, int argc, char **argv);
int cmd_rm(struct strata_context *ctx, int argc, char **argv);
int cmd_rmi(struct strata_context *ctx, int argc, char **argv);
int cmd_tag(struct strata_context *ctx, int argc, char **argv);
int cmd_inspect(struct strata_context *ctx, int argc, char **argv);
int cmd_info(struct strata_context *ctx, int argc, char **argv);
int cmd_version(struct strata_context *ctx, int argc, char **argv);
int cmd_diff(struct strata_context *ctx, int argc, char **argv);
int cmd_mount(struct strata_context *ctx, int argc, char **argv);
int cmd_umount(struct strata_context *ctx, int argc, char **argv);
int cmd_save(struct strata_context *ctx, int argc, char **argv);
int cmd_load(struct strata_context *ctx, int argc, char **argv);
int cmd_image_prune(struct strata_context *ctx, int argc, char **argv);
int cmd_container_prune(struct strata_context *ctx, int argc, char **argv);
int cmd_system_prune(struct strata_context *ctx, int argc, char **argv);
int cmd_logs(struct strata_context *ctx, int argc, char **argv);
int cmd_stop(struct strata_context *ctx, int argc, char **argv);
int cmd_kill(struct strata_context *ctx, int argc, char **argv);
int cmd_wait(struct strata_context *ctx, int argc, char **argv);
int cmd_attach(struct strata_context *ctx, int argc, char **argv);
int cmd_exec(struct strata_context *ctx, int argc, char **argv);
int cmd_restart(struct strata_context *ctx, int argc, char **argv);
int cmd_login(struct strata_context *ctx, int argc, char **argv);
int cmd_logout(struct strata_context *ctx, int argc, char **argv);
int cmd_system_df(struct strata_context *ctx, int argc, char **argv);

/* Shared helpers (cli.c). */

/* Prints "strata: error: MSG" for ERR and returns CODE. */
int cli_fail(struct strata_error *err, int code);
/* Prints "strata: error: ..." and returns CODE. */
int cli_failf(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* stop and restart (stop.c): Docker's -s/-t options, then each container
 * stopped (and, with RESTART, started again detached). */
int cli_stop_containers(struct strata_context *ctx, const char *cmd, const char *help_text,
                        bool restart, int argc, char **argv);
/* mount and umount (mount.c): each container's root file system mounted
 * and its path printed, or (UNMOUNT) unmounted and its ID printed. */
int cli_mount_containers(struct strata_context *ctx, const char *cmd, const char *help_text,
                         bool unmount, int argc, char **argv);
/* For a command whose only option is --help: parses ARGV and wants at
 * least (EXACT: exactly) MIN arguments.  Returns -1 to go on with the
 * arguments from optind, or the code to exit with. */
int cli_args_only(const char *cmd, const char *help, int argc, char **argv, int min, bool exact);
/* The command's arguments, for cli_bad_option's message. */
void cli_set_args(int argc, char **argv);
/* Right after getopt_long refused an option: names it the way Docker does
 * ("unknown flag: --bogus", "flag needs an argument: --format") plus "See
 * 'strata CMD --help'.", returns 125. */
int cli_bad_option(const char *cmd);
/* A usage error: message plus "See 'strata CMD --help'.", returns CODE. */
int cli_usage(const char *cmd, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Prints the command's help. */
void cli_help(const char *cmd, const char *options);
/* Prints ROWS (JSON objects with Docker's field names) through FORMAT, a
 * --format value (Go template, "table ...", or "json"), or DEFAULT_FORMAT
 * when FORMAT is NULL or a bare "table".  HEADERS name the table columns.
 * Returns 0, or 125 after printing the template error. */
#include "template.h"
int cli_print_rows(const char *format, const char *default_format, json_t *const *rows,
                   size_t nrows, const struct strata_template_header *headers,
                   const char *type_name, const struct strata_template_method *methods);
/* Prints each of DOCS (inspect-like documents) through FORMAT, a --format
 * value, one after the other; unknown keys print "<no value>" as Docker's
 * maps do.  Returns 0, or 125 after printing the template error. */
int cli_print_docs(const char *format, json_t *const *docs, size_t ndocs);
/* Parses a Go-style boolean flag value ("true", "false", "1", "0"). */
int cli_parse_bool(const char *s, bool *out);

/* The shared run/create machinery (container-ops.c). */
#include <jansson.h>
#include "runspec.h"

struct cli_run_options {
  struct strata_run_flags flags;
  char **env; /* owned array, strings point into argv or into owned */
  char **cap_add, **cap_drop, **security_opt, **binds, **tmpfs; /* owned arrays, strings in argv */
  char **owned; /* strings read from --env-file */
  const char *name;
  const char *image;
  const char *platform;
  bool rm, detach;
};
/* Parses docker run/create options; returns 0, or the exit code of a usage
 * error (already printed).  "--help" is not handled here. */
int cli_parse_run_options(const char *cmd, int argc, char **argv, struct cli_run_options *o);
void cli_run_options_clear(struct cli_run_options *o);
/* The option lines of run/create --help. */
extern const char cli_run_options_help[];

/* Resolves IMAGE (pulling it if missing, as Docker's run does) and makes a
 * container; *id gets its ID. */
int cli_container_create(struct strata_context *ctx, const char *image,
                         const struct strata_run_flags *flags, const char *name, bool auto_remove,
                         const char *platform, char **id, struct strata_error **err);
/* Starts container ID: in the foreground, returning its exit code, or
 * DETACHed under a monitor process, returning 0 once it runs; 125/126/127
 * with *err set when it cannot start. */
int cli_container_start(struct strata_context *ctx, const char *id, bool detach,
                        struct strata_error **err);
/* Resolves WHAT (ID, prefix or name) to a container ID and loads its
 * record; prints Docker's "No such container" and returns CODE when there
 * is none.  Returns 0 on success. */
int cli_find_container(struct strata_context *ctx, const char *what, int code, char **id,
                       json_t **rec);
/* Removes container ID (storage, record, logs) and unused layers. */
int cli_container_remove(struct strata_context *ctx, const char *id, struct strata_error **err);

/* prune.c: what the prune commands share. */
#include <jansson.h>
#include <stdint.h>
/* The prune commands' options: -f, and -a when ALL is not NULL.  Returns
 * -1 to go on, or the code to exit with. */
int cli_prune_options(const char *cmd, const char *help_text, int argc, char **argv, bool *all,
                      bool *force);
/* Prints WARNING and Docker's "[y/N]" question; true when answered yes. */
bool cli_confirm(const char *warning);
/* Removes every container that is not running; their IDs go into DELETED
 * and the disk their writable layers took (as last measured) is added to
 * *RECLAIMED. */
int cli_prune_containers(struct strata_context *ctx, json_t *deleted, uint64_t *reclaimed,
                         struct strata_error **err);
/* Removes dangling images (ALL: every image no container uses) and the
 * layers left unused; LINES gets Docker's "untagged: ..." / "deleted: ..."
 * lines, *RECLAIMED the bytes of the layers removed. */
int cli_prune_images(struct strata_context *ctx, bool all, json_t *lines, uint64_t *reclaimed,
                     struct strata_error **err);
/* "TITLE:" then LINES, then a blank line; nothing when LINES is empty. */
void cli_prune_report(const char *title, json_t *lines, bool trailing_blank);

#endif
