/* Template parser: Go's text/template/parse/parse.go over the lexer's
 * tokens.  Every node and string lives in one arena, freed with the
 * template. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "template-internal.h"

/* ------------------------------------------------------------------ arena */

struct tpl_arena {
  struct tpl_arena *next;
  size_t used, cap;
  max_align_t data[];
};

static void arena_free(struct tpl_arena *a) {
  while (a) {
    struct tpl_arena *n = a->next;
    free(a);
    a = n;
  }
}

/* ------------------------------------------------------------------ parser */

struct parser {
  const char *text;
  struct tpl_token *toks;
  size_t ntoks, i;
  size_t last; /* index of the last token handed out: Go's token[0] */
  struct tpl_arena *arena;
  const char **vars; /* variables in scope, for "undefined variable" */
  size_t nvars, capvars;
  int range_depth;
  int depth; /* nesting of pipelines and control structures */
  size_t action_pos; /* where the current action started, or SIZE_MAX */
  struct strata_error **err;
  jmp_buf fail; /* errors unwind to strata_tpl_parse: everything is in the arena */
};

static void *palloc(struct parser *p, size_t n) {
  struct tpl_arena *a = p->arena;
  n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
  if (a == NULL || a->cap - a->used < n) {
    size_t cap = n > 8192 ? n : 8192;
    a = malloc(sizeof(*a) + cap);
    if (a == NULL) {
      strata_error_set(p->err, ENOMEM, "template");
      longjmp(p->fail, 1);
    }
    a->used = 0;
    a->cap = cap;
    a->next = p->arena;
    p->arena = a;
  }
  void *r = (char *)a->data + a->used;
  a->used += n;
  memset(r, 0, n);
  return r;
}

static char *pstrndup(struct parser *p, const char *s, size_t n) {
  char *r = palloc(p, n + 1);
  memcpy(r, s, n);
  r[n] = '\0';
  return r;
}

static void push_ptr(struct parser *p, void ***arr, size_t *n, void *item) {
  /* arrays grow by doubling inside the arena; the old copy is garbage
   * until the template is freed, which is fine for templates this size */
  if ((*n & (*n - 1)) == 0) {
    void **na = palloc(p, (*n ? *n * 2 : 1) * sizeof(void *));
    if (*n)
      memcpy(na, *arr, *n * sizeof(void *));
    *arr = na;
  }
  (*arr)[(*n)++] = item;
}

static void append_node(struct parser *p, struct tpl_node ***arr, size_t *n, struct tpl_node *node) {
  push_ptr(p, (void ***)arr, n, node);
}

void strata_tpl_position(const char *text, size_t pos, int *line, int *col) {
  size_t last_nl = SIZE_MAX;
  *line = 1;
  for (size_t k = 0; k < pos && text[k]; k++)
    if (text[k] == '\n') {
      (*line)++;
      last_nl = k;
    }
  *col = (int)(last_nl == SIZE_MAX ? pos : pos - last_nl - 1);
}

static void fail_at(struct parser *p, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));
static void fail_at(struct parser *p, size_t pos, const char *fmt, ...) {
  char msg[512];
  int line, col;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  strata_tpl_position(p->text, pos, &line, &col);
  strata_error_set(p->err, 0, "template: :%d:%d: %s", line, col, msg);
  longjmp(p->fail, 1);
}

/* Go's t.errorf: at the most recent token */
#define failf(p, ...) fail_at((p), (p)->toks[(p)->last].pos, __VA_ARGS__)

static struct tpl_token *next_tok(struct parser *p) {
  struct tpl_token *t = &p->toks[p->i];
  p->last = p->i;
  if (p->i + 1 < p->ntoks) /* the last token (EOF or error) repeats */
    p->i++;
  return t;
}

static void backup_to(struct parser *p, size_t i) { p->i = i; }

static struct tpl_token *peek_tok(struct parser *p) { return &p->toks[p->i]; }

static struct tpl_token *next_non_space(struct parser *p) {
  struct tpl_token *t;
  do
    t = next_tok(p);
  while (t->type == TOK_SPACE);
  return t;
}

static struct tpl_token *peek_non_space(struct parser *p) {
  while (p->toks[p->i].type == TOK_SPACE && p->i + 1 < p->ntoks)
    p->i++;
  return &p->toks[p->i];
}

static void unexpected(struct parser *p, struct tpl_token *t, const char *context)
    __attribute__((noreturn));
static void unexpected(struct parser *p, struct tpl_token *t, const char *context) {
  struct tpl_buf b = {0};
  char msg[400];
  strata_tpl_token_describe(t, &b);
  if (t->type == TOK_ERROR) {
    int aline = 0, tline, col;
    bool action_msg = t->len >= 7 && memcmp(t->text + t->len - 7, " action", 7) == 0;
    strata_tpl_position(p->text, t->pos, &tline, &col);
    if (p->action_pos != SIZE_MAX)
      strata_tpl_position(p->text, p->action_pos, &aline, &col);
    if (aline != 0 && aline != tline)
      snprintf(msg, sizeof(msg), "%.*s%s started at :%d", (int)b.len, b.s ? b.s : "",
               action_msg ? "" : " in action", aline);
    else
      snprintf(msg, sizeof(msg), "%.*s", (int)b.len, b.s ? b.s : "");
  } else {
    snprintf(msg, sizeof(msg), "unexpected %.*s in %s", (int)b.len, b.s ? b.s : "", context);
  }
  strata_tpl_buf_free(&b);
  fail_at(p, t->pos, "%s", msg);
}

static struct tpl_token *expect(struct parser *p, enum tpl_tok type, const char *context) {
  struct tpl_token *t = next_non_space(p);
  if (t->type != type)
    unexpected(p, t, context);
  return t;
}

static struct tpl_node *new_node(struct parser *p, enum tpl_node_type type, size_t pos) {
  struct tpl_node *n = palloc(p, sizeof(*n));
  n->type = type;
  n->pos = pos;
  return n;
}

/* ------------------------------------------------------------------ quoting */

static int hexval(int c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

static size_t put_utf8(char *out, unsigned long cp) {
  if (cp < 0x80) {
    out[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = (char)(0xc0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3f));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (char)(0xe0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[2] = (char)(0x80 | (cp & 0x3f));
    return 3;
  }
  out[0] = (char)(0xf0 | (cp >> 18));
  out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
  out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
  out[3] = (char)(0x80 | (cp & 0x3f));
  return 4;
}

/* strconv.UnquoteChar: decodes one character or escape of S (N bytes) in a
 * literal quoted by QUOTE into OUT.  Returns the bytes consumed, 0 on
 * invalid syntax; *IS_BYTE tells \x and octal escapes (raw bytes) apart
 * from runes, and *CP holds the value. */
static size_t unquote_char(const char *s, size_t n, char quote, unsigned long *cp, bool *is_byte) {
  unsigned char c = (unsigned char)s[0];
  *is_byte = false;
  if (c == (unsigned char)quote && (quote == '\'' || quote == '"'))
    return 0;
  if (c >= 0x80) {
    size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
    if (len > n)
      len = 1;
    *cp = len == 1 ? 0xfffd : len == 2 ? c & 0x1f : len == 3 ? c & 0x0f : c & 0x07;
    for (size_t k = 1; k < len; k++)
      *cp = (*cp << 6) | ((unsigned char)s[k] & 0x3f);
    return len;
  }
  if (c != '\\') {
    *cp = c;
    return 1;
  }
  if (n < 2)
    return 0;
  switch (s[1]) {
  case 'a': *cp = 7; return 2;
  case 'b': *cp = 8; return 2;
  case 'f': *cp = 12; return 2;
  case 'n': *cp = 10; return 2;
  case 'r': *cp = 13; return 2;
  case 't': *cp = 9; return 2;
  case 'v': *cp = 11; return 2;
  case '\\': *cp = '\\'; return 2;
  case '\'':
  case '"':
    if (s[1] != quote)
      return 0;
    *cp = (unsigned char)s[1];
    return 2;
  case 'x':
  case 'u':
  case 'U': {
    size_t digits = s[1] == 'x' ? 2 : s[1] == 'u' ? 4 : 8;
    unsigned long v = 0;
    if (n < 2 + digits)
      return 0;
    for (size_t k = 0; k < digits; k++) {
      int h = hexval((unsigned char)s[2 + k]);
      if (h < 0)
        return 0;
      v = v * 16 + (unsigned long)h;
    }
    if (s[1] == 'x') {
      *is_byte = true;
    } else if (v > 0x10ffff || (v >= 0xd800 && v < 0xe000)) {
      return 0;
    }
    *cp = v;
    return 2 + digits;
  }
  case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7': {
    unsigned long v = 0;
    if (n < 4)
      return 0;
    for (size_t k = 1; k <= 3; k++) {
      if (s[k] < '0' || s[k] > '7')
        return 0;
      v = v * 8 + (unsigned long)(s[k] - '0');
    }
    if (v > 255)
      return 0;
    *cp = v;
    *is_byte = true;
    return 4;
  }
  }
  return 0;
}

/* strconv.Unquote of a "..." or `...` token; -1 on invalid syntax. */
static int unquote(struct parser *p, const char *s, size_t n, char **out, size_t *outlen) {
  char *r = palloc(p, n + 1), *w = r;
  if (n < 2 || s[0] != s[n - 1])
    return -1;
  if (s[0] == '`') {
    for (size_t k = 1; k + 1 < n; k++)
      if (s[k] != '\r') /* Go drops carriage returns from raw strings */
        *w++ = s[k];
  } else {
    size_t k = 1;
    while (k + 1 < n) {
      unsigned long cp;
      bool is_byte;
      size_t used = unquote_char(s + k, n - 1 - k, s[0], &cp, &is_byte);
      if (used == 0)
        return -1;
      if (is_byte || ((unsigned char)s[k] >= 0x80 && cp == 0xfffd && used == 1))
        *w++ = is_byte ? (char)cp : s[k];
      else if ((unsigned char)s[k] >= 0x80)
        memcpy(w, s + k, used), w += used;
      else
        w += put_utf8(w, cp);
      k += used;
    }
  }
  *w = '\0';
  *out = r;
  *outlen = (size_t)(w - r);
  return 0;
}

/* ------------------------------------------------------------------ numbers */

static bool parse_int_text(const char *text, bool allow_sign, int64_t *i64, uint64_t *u64,
                           bool *is_int, bool *is_uint) {
  char buf[128];
  size_t n = 0;
  const char *s = text;
  bool neg = false;
  int base = 10;
  unsigned long long v;
  char *end;

  *is_int = *is_uint = false;
  if (*s == '+' || *s == '-') {
    if (!allow_sign)
      return false;
    neg = *s == '-';
    s++;
  }
  if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s += 2;
  } else if (s[0] == '0' && (s[1] == 'o' || s[1] == 'O')) {
    base = 8;
    s += 2;
  } else if (s[0] == '0' && (s[1] == 'b' || s[1] == 'B')) {
    base = 2;
    s += 2;
  } else if (s[0] == '0' && s[1] != '\0') {
    base = 8;
  }
  for (; *s && n + 1 < sizeof(buf); s++)
    if (*s != '_')
      buf[n++] = *s;
  buf[n] = '\0';
  if (n == 0 || buf[0] == '-' || buf[0] == '+')
    return false;
  errno = 0;
  v = strtoull(buf, &end, base);
  if (*end != '\0')
    return false;
  if (errno == ERANGE)
    return true; /* syntax fine, value too big for 64 bits */
  if (!neg) {
    *is_uint = true;
    *u64 = v;
    if (v <= INT64_MAX) {
      *is_int = true;
      *i64 = (int64_t)v;
    }
  } else if (v <= (unsigned long long)INT64_MAX + 1) {
    *is_int = true;
    *i64 = v == (unsigned long long)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    if (v == 0) {
      *is_uint = true;
      *u64 = 0;
    }
  }
  return true;
}

static void parse_number(struct parser *p, struct tpl_node *n, struct tpl_token *t) {
  const char *text = n->str;
  if (t->type == TOK_CHAR_CONST) {
    unsigned long cp;
    bool is_byte;
    size_t used = unquote_char(text + 1, n->len - 1, '\'', &cp, &is_byte);
    if (used == 0)
      fail_at(p, t->pos, "invalid syntax");
    if (1 + used != n->len - 1 || text[n->len - 1] != '\'')
      fail_at(p, t->pos, "malformed character constant: %s", text);
    n->is_int = n->is_uint = n->is_float = true;
    n->i64 = (int64_t)cp;
    n->u64 = cp;
    n->f64 = (double)cp;
    return;
  }
  if (t->type == TOK_COMPLEX || (n->len > 0 && text[n->len - 1] == 'i'))
    fail_at(p, t->pos, "complex number %s is not supported", text);
  parse_int_text(text, true, &n->i64, &n->u64, &n->is_int, &n->is_uint);
  if (n->is_int) {
    n->is_float = true;
    n->f64 = (double)n->i64;
  } else if (n->is_uint) {
    n->is_float = true;
    n->f64 = (double)n->u64;
  } else {
    char buf[128];
    size_t k = 0;
    char *end;
    bool hex = (text[0] == '0' || ((text[0] == '-' || text[0] == '+') && text[1] == '0')) &&
               strpbrk(text, "xX") != NULL;
    for (const char *s = text; *s && k + 1 < sizeof(buf); s++)
      if (*s != '_')
        buf[k++] = *s;
    buf[k] = '\0';
    /* strtod also takes hex mantissas without exponent, "inf" and the
     * like, which Go's ParseFloat does not */
    if (k > 0 && (!hex || strpbrk(text, "pP") != NULL) && strpbrk(text, "oObB") == NULL) {
      double f;
      errno = 0;
      f = strtod(buf, &end);
      if (*end == '\0' && errno != ERANGE) {
        if (strpbrk(text, ".eEpP") == NULL)
          fail_at(p, t->pos, "integer overflow: \"%s\"", text);
        n->is_float = true;
        n->f64 = f;
        if (f >= -9223372036854775808.0 && f < 9223372036854775808.0 && (double)(int64_t)f == f) {
          n->is_int = true;
          n->i64 = (int64_t)f;
        }
        if (f >= 0 && f < 18446744073709551616.0 && (double)(uint64_t)f == f) {
          n->is_uint = true;
          n->u64 = (uint64_t)f;
        }
      }
    }
  }
  if (!n->is_int && !n->is_uint && !n->is_float)
    fail_at(p, t->pos, "illegal number syntax: \"%s\"", text);
}

/* ------------------------------------------------------------------ grammar */

static struct tpl_node *pipeline(struct parser *p, const char *context, enum tpl_tok end);
static struct tpl_node *item_list(struct parser *p, struct tpl_node **next);
static struct tpl_node *if_control(struct parser *p);

static void push_var(struct parser *p, const char *name) {
  if (p->nvars == p->capvars) {
    size_t cap = p->capvars ? p->capvars * 2 : 8;
    const char **nv = palloc(p, cap * sizeof(*nv));
    if (p->nvars)
      memcpy(nv, p->vars, p->nvars * sizeof(*nv));
    p->vars = nv;
    p->capvars = cap;
  }
  p->vars[p->nvars++] = name;
}

static struct tpl_node *new_variable(struct parser *p, size_t pos, const char *name, size_t len) {
  /* "$x.A.B" splits at the dots */
  struct tpl_node *n = new_node(p, N_VARIABLE, pos);
  const char *s = name, *e = name + len;
  while (s <= e) {
    const char *dot = memchr(s, '.', (size_t)(e - s));
    if (dot == NULL)
      dot = e;
    push_ptr(p, (void ***)&n->idents, &n->nidents, pstrndup(p, s, (size_t)(dot - s)));
    s = dot + 1;
  }
  return n;
}

static struct tpl_node *term(struct parser *p) {
  struct tpl_token *t = next_non_space(p);
  struct tpl_node *n;
  switch (t->type) {
  case TOK_IDENT: {
    static const char *const builtins[] = {
        "and", "or", "not", "len", "index", "slice", "print", "printf", "println", "eq", "ne",
        "lt", "le", "gt", "ge", "json", "join", "split", "lower", "upper", "title", "truncate",
        "pad", NULL};
    static const char *const unsupported[] = {"call", "html", "js", "urlquery", NULL};
    n = new_node(p, N_IDENT, t->pos);
    n->str = pstrndup(p, t->text, t->len);
    for (const char *const *u = unsupported; *u; u++)
      if (strcmp(*u, n->str) == 0)
        fail_at(p, t->pos, "function \"%s\" is not supported", n->str);
    for (const char *const *b = builtins; *b; b++)
      if (strcmp(*b, n->str) == 0)
        return n;
    fail_at(p, t->pos, "function \"%s\" not defined", n->str);
  }
  case TOK_DOT:
    return new_node(p, N_DOT, t->pos);
  case TOK_NIL:
    return new_node(p, N_NIL, t->pos);
  case TOK_VARIABLE:
    n = new_variable(p, t->pos, t->text, t->len);
    for (size_t k = p->nvars; k-- > 0;)
      if (strcmp(p->vars[k], n->idents[0]) == 0)
        return n;
    fail_at(p, t->pos, "undefined variable \"%s\"", n->idents[0]);
  case TOK_FIELD:
    n = new_node(p, N_FIELD, t->pos);
    push_ptr(p, (void ***)&n->idents, &n->nidents, pstrndup(p, t->text + 1, t->len - 1));
    return n;
  case TOK_BOOL:
    n = new_node(p, N_BOOL, t->pos);
    n->truth = t->text[0] == 't';
    return n;
  case TOK_CHAR_CONST:
  case TOK_COMPLEX:
  case TOK_NUMBER:
    n = new_node(p, N_NUMBER, t->pos);
    n->str = pstrndup(p, t->text, t->len);
    n->len = t->len;
    parse_number(p, n, t);
    return n;
  case TOK_LEFT_PAREN:
    return pipeline(p, "parenthesized pipeline", TOK_RIGHT_PAREN);
  case TOK_STRING:
  case TOK_RAW_STRING:
    n = new_node(p, N_STRING, t->pos);
    n->quoted = pstrndup(p, t->text, t->len);
    if (unquote(p, t->text, t->len, &n->str, &n->len) < 0)
      fail_at(p, t->pos, "invalid syntax");
    return n;
  default:
    backup_to(p, p->last);
    return NULL;
  }
}

static struct tpl_node *operand(struct parser *p) {
  struct tpl_node *node = term(p), *chain;
  if (node == NULL || peek_tok(p)->type != TOK_FIELD)
    return node;
  chain = new_node(p, N_CHAIN, peek_tok(p)->pos);
  chain->pipe = node;
  while (peek_tok(p)->type == TOK_FIELD) {
    struct tpl_token *f = next_tok(p);
    push_ptr(p, (void ***)&chain->idents, &chain->nidents, pstrndup(p, f->text + 1, f->len - 1));
  }
  switch (node->type) {
  case N_FIELD:
  case N_VARIABLE:
    /* .A.B is one field node, $x.A one variable node, placed where the
     * chain starts, as Go places them */
    for (size_t k = 0; k < chain->nidents; k++)
      push_ptr(p, (void ***)&node->idents, &node->nidents, chain->idents[k]);
    node->pos = chain->pos;
    return node;
  case N_BOOL:
  case N_STRING:
  case N_NUMBER:
  case N_NIL:
  case N_DOT: {
    struct tpl_buf b = {0};
    char s[256];
    strata_tpl_node_string(node, &b);
    snprintf(s, sizeof(s), "%.*s", (int)b.len, b.s ? b.s : "");
    strata_tpl_buf_free(&b);
    {
      struct tpl_buf q = {0};
      strata_tpl_quote(&q, s, strlen(s), false);
      snprintf(s, sizeof(s), "%.*s", (int)q.len, q.s ? q.s : "");
      strata_tpl_buf_free(&q);
    }
    failf(p, "unexpected . after term %s", s);
  }
  default:
    return chain;
  }
}

static struct tpl_node *command(struct parser *p) {
  struct tpl_node *cmd = new_node(p, N_COMMAND, peek_non_space(p)->pos);
  for (;;) {
    struct tpl_node *op;
    struct tpl_token *t;
    peek_non_space(p);
    op = operand(p);
    if (op != NULL)
      append_node(p, &cmd->kids, &cmd->nkids, op);
    t = next_tok(p);
    if (t->type == TOK_SPACE)
      continue;
    if (t->type == TOK_RIGHT_DELIM || t->type == TOK_RIGHT_PAREN)
      backup_to(p, p->last);
    else if (t->type != TOK_PIPE)
      unexpected(p, t, "operand");
    break;
  }
  if (cmd->nkids == 0)
    failf(p, "empty command");
  return cmd;
}

/* Nesting deeper than this fails instead of exhausting the C stack (later
 * Go versions stop at 10000 on their growable stacks). */
#define MAX_DEPTH 1000

static struct tpl_node *pipeline(struct parser *p, const char *context, enum tpl_tok end) {
  struct tpl_node *pipe = new_node(p, N_PIPE, peek_non_space(p)->pos);
  struct tpl_token *v;
  if (++p->depth > MAX_DEPTH)
    fail_at(p, pipe->pos, "max expression depth exceeded");
decls:
  v = peek_non_space(p);
  if (v->type == TOK_VARIABLE) {
    size_t vi = p->i;
    struct tpl_token *after, *nx;
    next_tok(p);
    after = peek_tok(p);
    size_t ai = p->i;
    nx = peek_non_space(p);
    if (nx->type == TOK_ASSIGN || nx->type == TOK_DECLARE) {
      pipe->is_assign = nx->type == TOK_ASSIGN;
      next_non_space(p);
      append_node(p, &pipe->decl, &pipe->ndecl, new_variable(p, v->pos, v->text, v->len));
      push_var(p, pipe->decl[pipe->ndecl - 1]->idents[0]);
    } else if (nx->type == TOK_CHAR && nx->len == 1 && nx->text[0] == ',') {
      next_non_space(p);
      append_node(p, &pipe->decl, &pipe->ndecl, new_variable(p, v->pos, v->text, v->len));
      push_var(p, pipe->decl[pipe->ndecl - 1]->idents[0]);
      if (strcmp(context, "range") == 0 && pipe->ndecl < 2) {
        enum tpl_tok k = peek_non_space(p)->type;
        if (k == TOK_VARIABLE || k == TOK_RIGHT_DELIM || k == TOK_RIGHT_PAREN)
          goto decls;
        failf(p, "range can only initialize variables");
      }
      failf(p, "too many declarations in %s", context);
    } else if (after->type == TOK_SPACE) {
      (void)ai;
      backup_to(p, vi);
    } else {
      backup_to(p, vi);
    }
  }
  for (;;) {
    struct tpl_token *t = next_non_space(p);
    if (t->type == end) {
      if (pipe->nkids == 0)
        failf(p, "missing value for %s", context);
      for (size_t k = 1; k < pipe->nkids; k++) {
        enum tpl_node_type ty = pipe->kids[k]->kids[0]->type;
        if (ty == N_BOOL || ty == N_DOT || ty == N_NIL || ty == N_NUMBER || ty == N_STRING)
          fail_at(p, pipe->kids[k]->pos, "non executable command in pipeline stage %zu", k + 1);
      }
      p->depth--;
      return pipe;
    }
    switch (t->type) {
    case TOK_BOOL:
    case TOK_CHAR_CONST:
    case TOK_COMPLEX:
    case TOK_DOT:
    case TOK_FIELD:
    case TOK_IDENT:
    case TOK_NUMBER:
    case TOK_NIL:
    case TOK_RAW_STRING:
    case TOK_STRING:
    case TOK_VARIABLE:
    case TOK_LEFT_PAREN:
      backup_to(p, p->last);
      append_node(p, &pipe->kids, &pipe->nkids, command(p));
      break;
    default:
      unexpected(p, t, context);
    }
  }
}

static struct tpl_node *parse_control(struct parser *p, enum tpl_node_type type, const char *context) {
  size_t saved_vars = p->nvars;
  struct tpl_node *n = new_node(p, type, 0), *next;
  n->pipe = pipeline(p, context, TOK_RIGHT_DELIM);
  n->pos = n->pipe->pos;
  if (++p->depth > MAX_DEPTH)
    fail_at(p, n->pos, "max expression depth exceeded");
  if (type == N_RANGE)
    p->range_depth++;
  n->list = item_list(p, &next);
  if (type == N_RANGE)
    p->range_depth--;
  if (next->type == N_ELSE) {
    if (type == N_IF && peek_tok(p)->type == TOK_IF) {
      next_tok(p);
      n->else_list = new_node(p, N_LIST, next->pos);
      append_node(p, &n->else_list->kids, &n->else_list->nkids, if_control(p));
    } else {
      n->else_list = item_list(p, &next);
      if (next->type != N_END)
        fail_at(p, next->pos, "expected end; found {{else}}");
    }
  }
  p->nvars = saved_vars;
  p->depth--;
  return n;
}

static struct tpl_node *if_control(struct parser *p) { return parse_control(p, N_IF, "if"); }

static struct tpl_node *action(struct parser *p) {
  struct tpl_token *t = next_non_space(p);
  struct tpl_node *n;
  switch (t->type) {
  case TOK_BLOCK:
  case TOK_DEFINE:
  case TOK_TEMPLATE:
    fail_at(p, t->pos, "{{%.*s}} is not supported", (int)t->len, t->text);
  case TOK_BREAK:
  case TOK_CONTINUE: {
    bool brk = t->type == TOK_BREAK;
    size_t pos = t->pos;
    struct tpl_token *r = next_non_space(p);
    if (r->type != TOK_RIGHT_DELIM)
      unexpected(p, r, brk ? "{{break}}" : "{{continue}}");
    if (p->range_depth == 0)
      fail_at(p, pos, "{{%s}} outside {{range}}", brk ? "break" : "continue");
    return new_node(p, brk ? N_BREAK : N_CONTINUE, pos);
  }
  case TOK_ELSE: {
    /* placed at the keyword (Go uses the delimiter), for error messages */
    size_t pos = t->pos;
    if (peek_non_space(p)->type != TOK_IF)
      expect(p, TOK_RIGHT_DELIM, "else");
    return new_node(p, N_ELSE, pos);
  }
  case TOK_END: {
    size_t pos = t->pos;
    expect(p, TOK_RIGHT_DELIM, "end");
    return new_node(p, N_END, pos);
  }
  case TOK_IF:
    return if_control(p);
  case TOK_RANGE:
    return parse_control(p, N_RANGE, "range");
  case TOK_WITH:
    return parse_control(p, N_WITH, "with");
  default:
    backup_to(p, p->last);
    n = new_node(p, N_ACTION, peek_tok(p)->pos);
    n->pipe = pipeline(p, "command", TOK_RIGHT_DELIM);
    return n;
  }
}

static struct tpl_node *text_or_action(struct parser *p) {
  struct tpl_token *t = next_non_space(p);
  struct tpl_node *n;
  size_t saved;
  switch (t->type) {
  case TOK_TEXT:
    n = new_node(p, N_TEXT, t->pos);
    n->str = pstrndup(p, t->text, t->len);
    n->len = t->len;
    return n;
  case TOK_LEFT_DELIM:
    saved = p->action_pos;
    p->action_pos = t->pos;
    n = action(p);
    p->action_pos = saved;
    return n;
  default:
    unexpected(p, t, "input");
  }
}

static struct tpl_node *item_list(struct parser *p, struct tpl_node **next) {
  struct tpl_node *list = new_node(p, N_LIST, peek_non_space(p)->pos);
  while (peek_non_space(p)->type != TOK_EOF) {
    struct tpl_node *n = text_or_action(p);
    if (n->type == N_END || n->type == N_ELSE) {
      *next = n;
      return list;
    }
    append_node(p, &list->kids, &list->nkids, n);
  }
  next_tok(p);
  failf(p, "unexpected EOF");
}

int strata_tpl_parse(const char *text, struct strata_template **out, struct strata_error **err) {
  struct parser *p;
  struct strata_template *tpl;
  struct tpl_node *root;

  p = calloc(1, sizeof(*p));
  if (p == NULL)
    return strata_error_set(err, ENOMEM, "template");
  p->text = text;
  p->err = err;
  p->action_pos = SIZE_MAX;
  p->toks = strata_tpl_lex(text, &p->ntoks);
  if (p->toks == NULL) {
    free(p);
    return strata_error_set(err, ENOMEM, "template");
  }
  if (setjmp(p->fail) != 0) {
    arena_free(p->arena);
    free(p->toks);
    free(p);
    return -1;
  }
  push_var(p, "$");
  root = new_node(p, N_LIST, peek_tok(p)->pos);
  while (peek_tok(p)->type != TOK_EOF) {
    struct tpl_node *n = text_or_action(p);
    if (n->type == N_END || n->type == N_ELSE)
      fail_at(p, n->pos, "unexpected {{%s}}", n->type == N_END ? "end" : "else");
    append_node(p, &root->kids, &root->nkids, n);
  }
  tpl = palloc(p, sizeof(*tpl));
  tpl->text = pstrndup(p, text, strlen(text));
  tpl->root = root;
  tpl->arena = p->arena;
  free(p->toks);
  free(p);
  *out = tpl;
  return 0;
}

void strata_template_free(struct strata_template *tpl) {
  if (tpl != NULL)
    arena_free(tpl->arena); /* the template itself lives in its arena */
}

/* ------------------------------------------------------------------ String() */

void strata_tpl_node_string(const struct tpl_node *n, struct tpl_buf *b) {
  switch (n->type) {
  case N_TEXT:
    strata_tpl_buf_add(b, n->str, n->len);
    break;
  case N_COMMENT:
    strata_tpl_buf_printf(b, "{{%s}}", n->str);
    break;
  case N_ACTION:
    strata_tpl_buf_puts(b, "{{");
    strata_tpl_node_string(n->pipe, b);
    strata_tpl_buf_puts(b, "}}");
    break;
  case N_BOOL:
    strata_tpl_buf_puts(b, n->truth ? "true" : "false");
    break;
  case N_CHAIN:
    if (n->pipe->type == N_PIPE) {
      strata_tpl_buf_putc(b, '(');
      strata_tpl_node_string(n->pipe, b);
      strata_tpl_buf_putc(b, ')');
    } else {
      strata_tpl_node_string(n->pipe, b);
    }
    for (size_t k = 0; k < n->nidents; k++)
      strata_tpl_buf_printf(b, ".%s", n->idents[k]);
    break;
  case N_COMMAND:
    for (size_t k = 0; k < n->nkids; k++) {
      if (k > 0)
        strata_tpl_buf_putc(b, ' ');
      if (n->kids[k]->type == N_PIPE) {
        strata_tpl_buf_putc(b, '(');
        strata_tpl_node_string(n->kids[k], b);
        strata_tpl_buf_putc(b, ')');
      } else {
        strata_tpl_node_string(n->kids[k], b);
      }
    }
    break;
  case N_DOT:
    strata_tpl_buf_putc(b, '.');
    break;
  case N_FIELD:
    for (size_t k = 0; k < n->nidents; k++)
      strata_tpl_buf_printf(b, ".%s", n->idents[k]);
    break;
  case N_IDENT:
    strata_tpl_buf_puts(b, n->str);
    break;
  case N_IF:
  case N_RANGE:
  case N_WITH:
    strata_tpl_buf_printf(b, "{{%s ", n->type == N_IF ? "if" : n->type == N_RANGE ? "range" : "with");
    strata_tpl_node_string(n->pipe, b);
    strata_tpl_buf_puts(b, "}}");
    strata_tpl_node_string(n->list, b);
    if (n->else_list) {
      strata_tpl_buf_puts(b, "{{else}}");
      strata_tpl_node_string(n->else_list, b);
    }
    strata_tpl_buf_puts(b, "{{end}}");
    break;
  case N_LIST:
    for (size_t k = 0; k < n->nkids; k++)
      strata_tpl_node_string(n->kids[k], b);
    break;
  case N_NIL:
    strata_tpl_buf_puts(b, "nil");
    break;
  case N_NUMBER:
    strata_tpl_buf_puts(b, n->str);
    break;
  case N_PIPE:
    for (size_t k = 0; k < n->ndecl; k++) {
      if (k > 0)
        strata_tpl_buf_puts(b, ", ");
      strata_tpl_node_string(n->decl[k], b);
    }
    if (n->ndecl > 0)
      strata_tpl_buf_puts(b, " := ");
    for (size_t k = 0; k < n->nkids; k++) {
      if (k > 0)
        strata_tpl_buf_puts(b, " | ");
      strata_tpl_node_string(n->kids[k], b);
    }
    break;
  case N_STRING:
    strata_tpl_buf_puts(b, n->quoted);
    break;
  case N_VARIABLE:
    for (size_t k = 0; k < n->nidents; k++) {
      if (k > 0)
        strata_tpl_buf_putc(b, '.');
      strata_tpl_buf_puts(b, n->idents[k]);
    }
    break;
  case N_BREAK:
    strata_tpl_buf_puts(b, "{{break}}");
    break;
  case N_CONTINUE:
    strata_tpl_buf_puts(b, "{{continue}}");
    break;
  case N_END:
    strata_tpl_buf_puts(b, "{{end}}");
    break;
  case N_ELSE:
    strata_tpl_buf_puts(b, "{{else}}");
    break;
  }
}
