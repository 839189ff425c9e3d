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
int cmd_system_df(struct strata_context *ctx, int argc, char **argv);

/* Shared helpers (cli.c). */

/* Prints "strata: error: MSG" for ERR and returns CODE. */
int cli_fail(struct strata_error *err, int code);
/* Prints "strata: error: ..." and returns CODE. */
int cli_failf(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
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
/* Parses a Go-style boolean flag value ("true", "false", "1", "0"). */
int cli_parse_bool(const char *s, bool *out);

/* The shared run/create machinery (container-ops.c). */
/* Records in REC ("SizeRw") the disk its container's own layer takes now,
 * as the storage driver measures it; leaves REC alone when it cannot. */
#include <jansson.h>
void cli_container_measure(struct strata_context *ctx, json_t *rec);
#include "runspec.h"

struct cli_run_options {
  struct strata_run_flags flags;
  char **env; /* owned array, strings point into argv */
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
/* Runs container ID in the foreground; returns its exit code, or
 * 125/126/127 with *err set. */
int cli_container_start(struct strata_context *ctx, const char *id, struct strata_error **err);
/* Removes container ID (storage and record) and unused layers. */
int cli_container_remove(struct strata_context *ctx, const char *id, struct strata_error **err);

#endif
