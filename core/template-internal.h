/* Pieces of the template engine shared by its files (lexer, parser,
 * printer, evaluator) and by the unit tests.  Nothing here is for the rest
 * of strata: use template.h.  Names carry the strata_ prefix only so the
 * library exports them to the tests. */
#ifndef STRATA_CORE_TEMPLATE_INTERNAL_H
#define STRATA_CORE_TEMPLATE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "error.h"
#include "template.h"

/* ------------------------------------------------------------------ buffer */

/* A growable byte string; on allocation failure it keeps what it had and
 * sets oom, which the caller checks once at the end. */
struct tpl_buf {
  char *s;
  size_t len, cap;
  bool oom;
};

void strata_tpl_buf_add(struct tpl_buf *b, const char *s, size_t n);
void strata_tpl_buf_puts(struct tpl_buf *b, const char *s);
void strata_tpl_buf_putc(struct tpl_buf *b, char c);
void strata_tpl_buf_printf(struct tpl_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void strata_tpl_buf_free(struct tpl_buf *b);

/* ------------------------------------------------------------------ lexer */

enum tpl_tok {
  TOK_ERROR,      /* text is the message */
  TOK_BOOL,
  TOK_CHAR,       /* any other printable ASCII character: ',' and the like */
  TOK_CHAR_CONST, /* 'a' */
  TOK_COMPLEX,
  TOK_ASSIGN,
  TOK_DECLARE,
  TOK_EOF,
  TOK_FIELD,      /* .Name */
  TOK_IDENT,      /* function name */
  TOK_LEFT_DELIM,
  TOK_LEFT_PAREN,
  TOK_NUMBER,
  TOK_PIPE,
  TOK_RAW_STRING, /* `...`, quotes included */
  TOK_RIGHT_DELIM,
  TOK_RIGHT_PAREN,
  TOK_SPACE,
  TOK_STRING,     /* "...", quotes included */
  TOK_TEXT,
  TOK_VARIABLE,   /* $ or $name */
  TOK_KEYWORD,    /* marks the keywords below, never emitted */
  TOK_BLOCK,
  TOK_BREAK,
  TOK_CONTINUE,
  TOK_DOT,
  TOK_DEFINE,
  TOK_ELSE,
  TOK_END,
  TOK_IF,
  TOK_NIL,
  TOK_RANGE,
  TOK_TEMPLATE,
  TOK_WITH,
};

struct tpl_token {
  enum tpl_tok type;
  size_t pos;       /* byte offset in the template */
  const char *text; /* points into the template, or a static message */
  size_t len;
};

/* Splits TEXT into tokens, the way Go's lexer does (text is trimmed here
 * for {{- and -}}).  The array ends with TOK_EOF or, at the first lexical
 * error, TOK_ERROR; the parser reports that error when it reaches it, so
 * an earlier syntax error wins, as in Go.  Returns NULL only when out of
 * memory; free with free(). */
struct tpl_token *strata_tpl_lex(const char *text, size_t *ntokens);
/* Go's item.String(): "EOF", the message, <keyword>, or the quoted text. */
void strata_tpl_token_describe(const struct tpl_token *t, struct tpl_buf *b);

/* ------------------------------------------------------------------ nodes */

enum tpl_node_type {
  N_TEXT,
  N_ACTION,
  N_BOOL,
  N_CHAIN,
  N_COMMAND,
  N_DOT,
  N_FIELD,
  N_IDENT,
  N_IF,
  N_LIST,
  N_NIL,
  N_NUMBER,
  N_PIPE,
  N_RANGE,
  N_STRING,
  N_VARIABLE,
  N_WITH,
  N_COMMENT,
  N_BREAK,
  N_CONTINUE,
  N_END,  /* parser-internal */
  N_ELSE, /* parser-internal */
};

struct tpl_node {
  enum tpl_node_type type;
  size_t pos;
  /* N_TEXT: the text; N_STRING: the unquoted value (len bytes) and, in
   * quoted, the source; N_NUMBER: the source; N_IDENT: the name;
   * N_COMMENT: the comment. */
  char *str;
  size_t len;
  char *quoted;
  /* N_FIELD (.A.B: "A","B"), N_VARIABLE ("$x","A"), N_CHAIN (the fields) */
  char **idents;
  size_t nidents;
  /* N_LIST, N_COMMAND (args), N_PIPE (commands) */
  struct tpl_node **kids;
  size_t nkids;
  /* N_PIPE: declared variables (N_VARIABLE) */
  struct tpl_node **decl;
  size_t ndecl;
  bool is_assign;  /* N_PIPE: $x = ... rather than $x := ... */
  bool truth;      /* N_BOOL */
  /* N_NUMBER, with Go's flags for the value's possible types */
  bool is_int, is_uint, is_float;
  int64_t i64;
  uint64_t u64;
  double f64;
  /* N_ACTION, N_IF, N_RANGE, N_WITH: the pipeline; N_CHAIN: the term */
  struct tpl_node *pipe;
  struct tpl_node *list, *else_list; /* N_IF, N_RANGE, N_WITH */
};

/* Parse tree plus the arena all its nodes and strings live in. */
struct strata_template {
  char *text; /* copy of the source, for error positions */
  struct tpl_node *root;
  struct tpl_arena *arena;
};

/* Parses TEXT into *OUT (freed with strata_template_free). */
int strata_tpl_parse(const char *text, struct strata_template **out, struct strata_error **err);
/* Go's Node.String(), used in error messages ("at <.Foo>"). */
void strata_tpl_node_string(const struct tpl_node *n, struct tpl_buf *b);
/* "LINE:COL" of byte offset POS in TEXT, as Go's ErrorContext counts them. */
void strata_tpl_position(const char *text, size_t pos, int *line, int *col);

/* ------------------------------------------------------------------ values */

/* What a value is in Go terms.  JSON values decode to interface{} holding
 * map/slice/string/float64/bool or nil; strata keeps integers as int64.
 * The other kinds are results of builtins: len gives an int, index of a
 * string a byte, split a []string. */
enum tpl_kind {
  TV_INVALID, /* Go's zero reflect.Value: a missing key; prints <no value> */
  TV_JSON,    /* any JSON value; json null is a nil interface{} */
  TV_INT,     /* Go int (number constants, len) */
  TV_BYTE,    /* uint8 */
  TV_STRINGS, /* []string: a JSON array of strings */
};

struct tpl_value {
  enum tpl_kind kind;
  json_t *j;  /* a reference owned by the value; NULL for TV_INVALID */
  bool boxed; /* held in an interface{} (a map or slice element), which Go
               * names "interface {}" in some errors and unwraps at the end
               * of each pipeline command */
};

/* Go's type name of V ("string", "int64", "map[string]interface {}"...). */
const char *strata_tpl_type_name(const struct tpl_value *v);

/* fmt.Sprint of one value, i.e. %v */
void strata_tpl_fmt_value(struct tpl_buf *b, const struct tpl_value *v);
/* fmt.Sprintf, fmt.Sprint and fmt.Sprintln over ARGS (NULL j = nil). */
void strata_tpl_sprintf(struct tpl_buf *b, const char *format, size_t flen,
                        const struct tpl_value *args, size_t nargs);
void strata_tpl_sprint(struct tpl_buf *b, const struct tpl_value *args, size_t nargs, bool ln);
/* strconv.Quote */
void strata_tpl_quote(struct tpl_buf *b, const char *s, size_t n, bool ascii_only);
/* encoding/json.Marshal with HTML escaping off, the way Docker's json
 * function prints: compact, keys sorted, Go's number formats. */
void strata_tpl_json(struct tpl_buf *b, json_t *j);

/* Runs TPL; HEADER_MODE swaps Docker's functions for the pass-through ones
 * Docker uses when it renders a table header. */
int strata_tpl_execute(const struct strata_template *tpl, json_t *dot,
                       const struct strata_template_options *opts, bool header_mode,
                       struct tpl_buf *out, struct strata_error **err);

#endif
