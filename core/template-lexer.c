/* Template lexer: Go's text/template/parse/lex.go state machine, run to
 * completion into an array instead of a goroutine feeding a channel. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template-internal.h"

#define LEFT_DELIM "{{"
#define RIGHT_DELIM "}}"
#define LEFT_COMMENT "/*"
#define RIGHT_COMMENT "*/"
#define TRIM_MARKER_LEN 2 /* "-" plus the space before or after it */

struct lexer {
  const char *in;
  size_t len, start, pos;
  int paren_depth;
  struct tpl_token *toks;
  size_t ntoks, cap;
  bool oom, done;
  char msg[160]; /* message of the error token, if any */
};

static bool is_space(int c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* Go accepts Unicode letters and digits in identifiers; every non-ASCII
 * byte counts as one here, so names such as .Labels.clé work. */
static bool is_alnum(int c) {
  return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c >= 0x80;
}

static int peek(struct lexer *l) { return l->pos < l->len ? (unsigned char)l->in[l->pos] : -1; }

static int next(struct lexer *l) {
  if (l->pos >= l->len) {
    l->pos = l->len + 1; /* so that backup() after EOF is harmless */
    return -1;
  }
  return (unsigned char)l->in[l->pos++];
}

static void backup(struct lexer *l) {
  if (l->pos > 0)
    l->pos--;
}

static void emit_at(struct lexer *l, enum tpl_tok type, size_t start, size_t end) {
  if (l->ntoks == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 64;
    struct tpl_token *n = realloc(l->toks, cap * sizeof(*n));
    if (n == NULL) {
      l->oom = true;
      l->done = true;
      return;
    }
    l->toks = n;
    l->cap = cap;
  }
  l->toks[l->ntoks++] = (struct tpl_token){
      .type = type, .pos = start, .text = l->in + start, .len = end - start};
}

static void emit(struct lexer *l, enum tpl_tok type) {
  if (l->pos > l->len)
    l->pos = l->len;
  emit_at(l, type, l->start, l->pos);
  l->start = l->pos;
}

static void ignore(struct lexer *l) { l->start = l->pos; }

static bool has_prefix(struct lexer *l, size_t at, const char *p) {
  size_t n = strlen(p);
  return at <= l->len && l->len - at >= n && memcmp(l->in + at, p, n) == 0;
}

static bool left_trim_marker(struct lexer *l, size_t at) {
  return at + 2 <= l->len && l->in[at] == '-' && is_space((unsigned char)l->in[at + 1]);
}

static bool right_trim_marker(struct lexer *l, size_t at) {
  return at + 2 <= l->len && is_space((unsigned char)l->in[at]) && l->in[at + 1] == '-';
}

/* Go's %#U: U+007D '}' */
static void describe_rune(struct lexer *l, size_t at, char *buf, size_t len) {
  const unsigned char *s = (const unsigned char *)l->in + at;
  size_t n = 1, avail = l->len - at;
  unsigned cp = s[0];
  if (cp >= 0xc0 && avail >= 2) {
    n = cp >= 0xf0 ? 4 : cp >= 0xe0 ? 3 : 2;
    if (n > avail)
      n = 1;
    cp = n == 2 ? cp & 0x1f : n == 3 ? cp & 0x0f : cp & 0x07;
    for (size_t i = 1; i < n; i++)
      cp = (cp << 6) | (s[i] & 0x3f);
  }
  if (cp < 0x20 || cp == 0x7f)
    snprintf(buf, len, "U+%04X", cp);
  else
    snprintf(buf, len, "U+%04X '%.*s'", cp, (int)n, (const char *)s);
}

static void lex_error(struct lexer *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void lex_error(struct lexer *l, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(l->msg, sizeof(l->msg), fmt, ap);
  va_end(ap);
  emit_at(l, TOK_ERROR, l->start, l->start);
  if (l->ntoks > 0 && l->toks[l->ntoks - 1].type == TOK_ERROR) {
    l->toks[l->ntoks - 1].text = l->msg;
    l->toks[l->ntoks - 1].len = strlen(l->msg);
  }
  l->done = true;
}

/* Is the input at a character that may end an identifier? */
static bool at_terminator(struct lexer *l) {
  int r = peek(l);
  if (r == -1 || is_space(r))
    return true;
  switch (r) {
  case '.':
  case ',':
  case '|':
  case ':':
  case ')':
  case '(':
    return true;
  }
  return has_prefix(l, l->pos, RIGHT_DELIM);
}

/* At "}}" or " -}}"? */
static bool at_right_delim(struct lexer *l, bool *trim) {
  if (right_trim_marker(l, l->pos) && has_prefix(l, l->pos + TRIM_MARKER_LEN, RIGHT_DELIM)) {
    *trim = true;
    return true;
  }
  *trim = false;
  return has_prefix(l, l->pos, RIGHT_DELIM);
}

static void skip_leading_space(struct lexer *l) {
  while (l->pos < l->len && is_space((unsigned char)l->in[l->pos]))
    l->pos++;
}

enum state { S_TEXT, S_ACTION, S_DONE };

static enum state lex_text(struct lexer *l) {
  const char *x = strstr(l->in + l->pos, LEFT_DELIM);
  if (x != NULL) {
    size_t delim = (size_t)(x - l->in), end = delim;
    if (left_trim_marker(l, delim + 2))
      while (end > l->start && is_space((unsigned char)l->in[end - 1]))
        end--;
    if (end > l->start)
      emit_at(l, TOK_TEXT, l->start, end);
    l->pos = delim + 2;
    l->start = delim;
    /* left delimiter, maybe a comment */
    bool trim = left_trim_marker(l, l->pos);
    size_t after = trim ? TRIM_MARKER_LEN : 0;
    if (has_prefix(l, l->pos + after, LEFT_COMMENT)) {
      const char *c;
      l->pos += after;
      l->start = l->pos;
      l->pos += 2;
      c = strstr(l->in + l->pos, RIGHT_COMMENT);
      if (c == NULL) {
        lex_error(l, "unclosed comment");
        return S_DONE;
      }
      l->pos = (size_t)(c - l->in) + 2;
      bool rtrim;
      if (!at_right_delim(l, &rtrim)) {
        lex_error(l, "comment ends before closing delimiter");
        return S_DONE;
      }
      l->pos += (rtrim ? TRIM_MARKER_LEN : 0) + 2;
      if (rtrim)
        skip_leading_space(l);
      ignore(l);
      return S_TEXT;
    }
    emit(l, TOK_LEFT_DELIM);
    l->pos += after;
    ignore(l);
    l->paren_depth = 0;
    return S_ACTION;
  }
  l->pos = l->len;
  if (l->pos > l->start)
    emit(l, TOK_TEXT);
  emit(l, TOK_EOF);
  return S_DONE;
}

static enum state lex_right_delim(struct lexer *l, bool trim) {
  if (trim) {
    l->pos += TRIM_MARKER_LEN;
    ignore(l);
  }
  l->pos += 2;
  emit(l, TOK_RIGHT_DELIM);
  if (trim) {
    skip_leading_space(l);
    ignore(l);
  }
  return S_TEXT;
}

static void accept_run(struct lexer *l, const char *set) {
  while (l->pos < l->len && strchr(set, l->in[l->pos]) != NULL)
    l->pos++;
}

static bool accept(struct lexer *l, const char *set) {
  if (l->pos < l->len && strchr(set, l->in[l->pos]) != NULL) {
    l->pos++;
    return true;
  }
  return false;
}

static bool scan_number(struct lexer *l) {
  const char *digits = "0123456789_";
  accept(l, "+-");
  if (accept(l, "0")) {
    if (accept(l, "xX"))
      digits = "0123456789abcdefABCDEF_";
    else if (accept(l, "oO"))
      digits = "01234567_";
    else if (accept(l, "bB"))
      digits = "01_";
  }
  accept_run(l, digits);
  if (accept(l, "."))
    accept_run(l, digits);
  if (strlen(digits) == 11 && accept(l, "eE")) {
    accept(l, "+-");
    accept_run(l, "0123456789_");
  }
  if (strlen(digits) == 23 && accept(l, "pP")) {
    accept(l, "+-");
    accept_run(l, "0123456789_");
  }
  accept(l, "i");
  if (peek(l) != -1 && is_alnum(peek(l))) {
    l->pos++;
    return false;
  }
  return true;
}

static enum state lex_number(struct lexer *l) {
  if (!scan_number(l)) {
    lex_error(l, "bad number syntax: \"%.*s\"", (int)(l->pos - l->start), l->in + l->start);
    return S_DONE;
  }
  if (peek(l) == '+' || peek(l) == '-') {
    if (!scan_number(l) || l->in[l->pos - 1] != 'i') {
      lex_error(l, "bad number syntax: \"%.*s\"", (int)(l->pos - l->start), l->in + l->start);
      return S_DONE;
    }
    emit(l, TOK_COMPLEX);
  } else {
    emit(l, TOK_NUMBER);
  }
  return S_ACTION;
}

static const struct {
  const char *word;
  enum tpl_tok type;
} keywords[] = {
    {"block", TOK_BLOCK}, {"break", TOK_BREAK}, {"continue", TOK_CONTINUE},
    {"define", TOK_DEFINE}, {"else", TOK_ELSE}, {"end", TOK_END},
    {"if", TOK_IF},         {"range", TOK_RANGE}, {"nil", TOK_NIL},
    {"template", TOK_TEMPLATE}, {"with", TOK_WITH},
};

static enum state lex_identifier(struct lexer *l) {
  size_t n;
  while (l->pos < l->len && is_alnum((unsigned char)l->in[l->pos]))
    l->pos++;
  if (!at_terminator(l)) {
    char r[32];
    describe_rune(l, l->pos, r, sizeof(r));
    l->start = l->pos; /* point at the character, not the word */
    lex_error(l, "bad character %s", r);
    return S_DONE;
  }
  n = l->pos - l->start;
  for (size_t i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++)
    if (strlen(keywords[i].word) == n && memcmp(keywords[i].word, l->in + l->start, n) == 0) {
      emit(l, keywords[i].type);
      return S_ACTION;
    }
  if ((n == 4 && memcmp(l->in + l->start, "true", 4) == 0) ||
      (n == 5 && memcmp(l->in + l->start, "false", 5) == 0))
    emit(l, TOK_BOOL);
  else
    emit(l, TOK_IDENT);
  return S_ACTION;
}

/* The '.' or '$' has been read. */
static enum state lex_field_or_variable(struct lexer *l, enum tpl_tok type) {
  if (at_terminator(l)) { /* "." or "$" alone */
    emit(l, type == TOK_VARIABLE ? TOK_VARIABLE : TOK_DOT);
    return S_ACTION;
  }
  while (l->pos < l->len && is_alnum((unsigned char)l->in[l->pos]))
    l->pos++;
  if (!at_terminator(l)) {
    char r[32];
    describe_rune(l, l->pos, r, sizeof(r));
    l->start = l->pos;
    lex_error(l, "bad character %s", r);
    return S_DONE;
  }
  emit(l, type);
  return S_ACTION;
}

/* Quoted strings and character constants; the opening quote was read. */
static enum state lex_quote(struct lexer *l, int quote, enum tpl_tok type, const char *what) {
  for (;;) {
    int c = next(l);
    if (c == '\\') {
      c = next(l);
      if (c != -1 && c != '\n')
        continue;
    }
    if (c == -1 || c == '\n') {
      lex_error(l, "unterminated %s", what);
      return S_DONE;
    }
    if (c == quote)
      break;
  }
  emit(l, type);
  return S_ACTION;
}

static enum state lex_action(struct lexer *l) {
  bool trim;
  int r;
  if (at_right_delim(l, &trim)) {
    if (l->paren_depth == 0)
      return lex_right_delim(l, trim);
    lex_error(l, "unclosed left paren");
    return S_DONE;
  }
  r = next(l);
  if (r == -1) {
    lex_error(l, "unclosed action");
    return S_DONE;
  }
  if (is_space(r)) {
    /* a run of spaces, but " -}}" belongs to the delimiter */
    size_t n = 1;
    while (l->pos < l->len && is_space((unsigned char)l->in[l->pos])) {
      l->pos++;
      n++;
    }
    if (right_trim_marker(l, l->pos - 1) && has_prefix(l, l->pos - 1 + TRIM_MARKER_LEN, RIGHT_DELIM)) {
      l->pos--;
      if (n == 1)
        return lex_right_delim(l, true);
    }
    emit(l, TOK_SPACE);
    return S_ACTION;
  }
  switch (r) {
  case '=':
    emit(l, TOK_ASSIGN);
    return S_ACTION;
  case ':':
    if (next(l) != '=') {
      lex_error(l, "expected :=");
      return S_DONE;
    }
    emit(l, TOK_DECLARE);
    return S_ACTION;
  case '|':
    emit(l, TOK_PIPE);
    return S_ACTION;
  case '"':
    return lex_quote(l, '"', TOK_STRING, "quoted string");
  case '`':
    for (;;) {
      int c = next(l);
      if (c == -1) {
        lex_error(l, "unterminated raw quoted string");
        return S_DONE;
      }
      if (c == '`')
        break;
    }
    emit(l, TOK_RAW_STRING);
    return S_ACTION;
  case '$':
    return lex_field_or_variable(l, TOK_VARIABLE);
  case '\'':
    return lex_quote(l, '\'', TOK_CHAR_CONST, "character constant");
  case '(':
    emit(l, TOK_LEFT_PAREN);
    l->paren_depth++;
    return S_ACTION;
  case ')':
    emit(l, TOK_RIGHT_PAREN);
    l->paren_depth--;
    if (l->paren_depth < 0) {
      lex_error(l, "unexpected right paren U+0029 ')'");
      return S_DONE;
    }
    return S_ACTION;
  case '.':
    if (l->pos < l->len && (l->in[l->pos] < '0' || l->in[l->pos] > '9'))
      return lex_field_or_variable(l, TOK_FIELD);
    /* fall through: '.' may start a number */
  }
  if (r == '.' || r == '+' || r == '-' || (r >= '0' && r <= '9')) {
    backup(l);
    return lex_number(l);
  }
  if (is_alnum(r)) {
    backup(l);
    return lex_identifier(l);
  }
  if (r >= 0x20 && r < 0x7f) {
    emit(l, TOK_CHAR);
    return S_ACTION;
  }
  {
    char d[32];
    describe_rune(l, l->pos - 1, d, sizeof(d));
    lex_error(l, "unrecognized character in action: %s", d);
  }
  return S_DONE;
}

struct tpl_token *strata_tpl_lex(const char *text, size_t *ntokens) {
  struct lexer *l = calloc(1, sizeof(*l));
  struct tpl_token *toks;
  enum state s = S_TEXT;
  if (l == NULL)
    return NULL;
  l->in = text;
  l->len = strlen(text);
  while (s != S_DONE && !l->done)
    s = s == S_TEXT ? lex_text(l) : lex_action(l);
  if (l->oom) {
    free(l->toks);
    free(l);
    return NULL;
  }
  /* The error message lives in the lexer; move it into the array's
   * allocation so the tokens stand alone. */
  toks = realloc(l->toks, l->ntoks * sizeof(*toks) + sizeof(l->msg));
  if (toks == NULL) {
    free(l->toks);
    free(l);
    return NULL;
  }
  if (l->ntoks > 0 && toks[l->ntoks - 1].type == TOK_ERROR) {
    char *msg = (char *)(toks + l->ntoks);
    memcpy(msg, l->msg, sizeof(l->msg));
    toks[l->ntoks - 1].text = msg;
  }
  *ntokens = l->ntoks;
  free(l);
  return toks;
}

void strata_tpl_token_describe(const struct tpl_token *t, struct tpl_buf *b) {
  if (t->type == TOK_EOF) {
    strata_tpl_buf_puts(b, "EOF");
  } else if (t->type == TOK_ERROR) {
    strata_tpl_buf_add(b, t->text, t->len);
  } else if (t->type > TOK_KEYWORD) {
    strata_tpl_buf_printf(b, "<%.*s>", (int)t->len, t->text);
  } else if (t->len > 10) {
    /* Go's %.10q: the first ten characters, quoted */
    size_t n = 0, chars = 0;
    while (n < t->len && chars < 10) {
      n++;
      while (n < t->len && ((unsigned char)t->text[n] & 0xc0) == 0x80)
        n++;
      chars++;
    }
    strata_tpl_quote(b, t->text, n, false);
    strata_tpl_buf_puts(b, "...");
  } else {
    strata_tpl_quote(b, t->text, t->len, false);
  }
}
