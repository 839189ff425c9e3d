/* Go text/template, as Docker uses it for --format, evaluated over jansson
 * values.
 *
 * The language is Go's (text and {{actions}}, field chains over JSON
 * objects, $ and variables, pipelines, if/else if/else, range/else with
 * break and continue, with/else, comments, {{- and -}} trimming, string,
 * raw-string, number, character, bool and nil constants) with Go's builtins
 * and, or, not, len, index, slice, print, printf, println, eq, ne, lt, le,
 * gt, ge, plus Docker's json, join, split, lower, upper, title, truncate and
 * pad.  Not supported: define/template/block, call, html, js, urlquery and
 * complex numbers; they fail with a parse error that says so.
 *
 * Values follow what Go's encoding/json gives Docker when it decodes a JSON
 * document into interface{}: an object is a map (field names are keys,
 * case-sensitive; a missing key prints "<no value>"), an array a slice, a
 * string a string, null nil.  Numbers keep jansson's split: an integer
 * behaves as Go's int64 (so {{.Size}} prints 1234567, not 1.234567e+06), a
 * real as float64.
 *
 * Errors read like Go's, with the position as line:column (column counted
 * in bytes from 0, as Go counts them in execution errors):
 *   template: :1:6: unexpected "}" in operand
 *   template: :1:2: executing "" at <.Foo>: can't evaluate field Foo in type ...
 * Go's own parse errors carry the line only; the column is strata's
 * addition.  The exit code (Docker uses 125) is the caller's business. */
#ifndef STRATA_CORE_TEMPLATE_H
#define STRATA_CORE_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "error.h"

struct strata_template;

/* Unknown fields are errors, as on the Go structs behind `docker ps`,
 * `docker images` and `docker history`, instead of "<no value>" as on the
 * maps behind `docker inspect`. */
#define STRATA_TEMPLATE_STRICT (1u << 0)

/* A method of the object a template runs over (the row), such as ps's
 * {{.Label "com.example.key"}}: called for {{.NAME arg...}} on that object
 * (methods win over keys, as in Go).  FN gets the receiver and NARGS
 * arguments (borrowed; NULL stands for nil) and returns a new reference in
 * *RESULT, or fills *ERR (the message is wrapped as "error calling NAME: ")
 * and returns negative. */
struct strata_template_method {
  const char *name;
  size_t nargs;
  int (*fn)(json_t *receiver, json_t *const *args, json_t **result, struct strata_error **err);
};

struct strata_template_options {
  unsigned flags; /* STRATA_TEMPLATE_* */
  /* Go type named in strict-mode errors ("can't evaluate field Foo in type
   * TYPE"), e.g. "*formatter.ContainerContext"; NULL gives
   * "map[string]interface {}". */
  const char *type_name;
  const struct strata_template_method *methods; /* NULL or ended by name == NULL */
};

/* Parses TEXT (the template itself: no "table" prefix, escapes already
 * converted; see strata_template_prepare).  On success *OUT is a new
 * template the caller frees with strata_template_free; it does not keep
 * TEXT. */
int strata_template_parse(const char *text, struct strata_template **out,
                          struct strata_error **err);
void strata_template_free(struct strata_template *tpl);

/* Runs TPL over DOT (borrowed; NULL is Go's nil) and returns the output in a
 * new malloc'd string *OUT (owned by the caller; JSON strings may hold NUL
 * bytes, so *LEN, when not NULL, says how long it is).  OPTS may be NULL.
 * On error nothing is returned. */
int strata_template_render(const struct strata_template *tpl, json_t *dot,
                           const struct strata_template_options *opts, char **out, size_t *len,
                           struct strata_error **err);
/* The same, written to OUT; nothing is written when execution fails, the
 * way Docker buffers each object before printing it. */
int strata_template_execute(const struct strata_template *tpl, json_t *dot,
                            const struct strata_template_options *opts, FILE *out,
                            struct strata_error **err);

/* ---------------------------------------------------------------- --format
 *
 * What Docker does to a --format value before parsing it: "json" stands for
 * {{json .}}; a value that starts with "table" asks for a table, and the
 * prefix is removed; spaces around the rest are trimmed; the two-character
 * sequences \t and \n that users type in shells become a tab and a newline. */
struct strata_template_format {
  bool table; /* started with "table" */
  bool json;  /* was "json" */
  /* The template text after the steps above, malloc'd, owned by the
   * struct.  Empty for a bare "table": the caller then prints its default
   * table. */
  char *text;
};

/* Fills *F from FORMAT; release it with strata_template_format_clear. */
int strata_template_prepare(const char *format, struct strata_template_format *f,
                            struct strata_error **err);
void strata_template_format_clear(struct strata_template_format *f);
/* Docker's escape step alone: a new string with \t and \n replaced. */
char *strata_template_unescape(const char *s);

/* Header text per field name for table output, e.g. {"ID", "CONTAINER ID"};
 * an array ended by field == NULL. */
struct strata_template_header {
  const char *field;
  const char *text;
};

/* Renders ROWS[0..NROWS) (borrowed) one after the other, each followed by
 * a newline, as `docker ps --format '{{.ID}}'` does.  Nothing is written if
 * any row fails. */
int strata_template_render_rows(const struct strata_template *tpl, json_t *const *rows,
                                size_t nrows, const struct strata_template_options *opts,
                                FILE *out, struct strata_error **err);
/* The same for a "table" format: first a header line, made the way Docker
 * makes it, by running the template over an object of HEADERS' texts (with
 * json, join, split, lower, upper, title and truncate passing the header
 * text through, and errors cutting the header short, not failing it), then
 * the rows; everything goes through a Go tabwriter (minimum width 10,
 * padding 3) so tab-separated cells line up. */
int strata_template_render_table(const struct strata_template *tpl, json_t *const *rows,
                                 size_t nrows, const struct strata_template_header *headers,
                                 const struct strata_template_options *opts, FILE *out,
                                 struct strata_error **err);

#endif
