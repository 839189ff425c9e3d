/* Unit tests of the template engine.
 *
 * Most cases live in template-cases.json: a template, the data it runs over
 * (a docker-inspect-like fixture unless the case says otherwise), and what
 * it must print or the error it must give.  Every case not marked
 * "go": false was checked against Go's own text/template with Docker's
 * functions by tests/unit/template-gocheck (see docs/format.md), so the
 * expectations are what Docker prints.  Each case is its own cmocka test.
 *
 * The hand-written tests after them cover the pieces one by one: lexer
 * tokens, parse trees, the tabwriter, Docker's --format preprocessing, and
 * the public API's ownership and error behaviour. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "table.h"
#include "template-internal.h"
#include "template.h"

#ifndef TEMPLATE_CASES
#define TEMPLATE_CASES "tests/unit/template-cases.json"
#endif

static json_t *cases_doc;

/* ------------------------------------------------------------------ helpers */

/* Output written to a FILE, collected as a string. */
struct capture {
  char *buf;
  size_t len;
  FILE *f;
};

static void capture_open(struct capture *c) {
  c->buf = NULL;
  c->len = 0;
  c->f = open_memstream(&c->buf, &c->len);
  assert_non_null(c->f);
}

static char *capture_close(struct capture *c) {
  fclose(c->f);
  return c->buf;
}

/* ps's {{.Label "key"}}: a method of the row objects */
static int label_method(json_t *receiver, json_t *const *args, json_t **result,
                        struct strata_error **err) {
  json_t *v;
  if (args[0] == NULL || !json_is_string(args[0]))
    return strata_error_set(err, 0, "wrong type for value; expected string; got %s",
                            args[0] && json_is_integer(args[0]) ? "int" : "other");
  v = json_object_get(json_object_get(receiver, "Labels"), json_string_value(args[0]));
  *result = json_string(json_is_string(v) ? json_string_value(v) : "");
  return 0;
}

static const struct strata_template_method ps_methods[] = {
    {"Label", 1, label_method},
    {NULL, 0, NULL},
};

/* Runs one case of template-cases.json and checks it. */
static void run_case(void **state) {
  json_t *c = *state;
  const char *tpl = json_string_value(json_object_get(c, "tpl"));
  json_t *want_out = json_object_get(c, "out"), *want_err = json_object_get(c, "err");
  json_t *table = json_object_get(c, "table");
  json_t *data = json_object_get(c, "data");
  struct strata_template_options opts = {0};
  struct strata_template *t = NULL;
  struct strata_error *err = NULL;
  char *out = NULL;
  size_t len = 0;
  int rc;

  assert_non_null(tpl);
  assert_true(want_out != NULL || want_err != NULL);
  if (data == NULL)
    data = json_object_get(cases_doc, "fixture");
  if (json_is_true(json_object_get(c, "strict"))) {
    opts.flags = STRATA_TEMPLATE_STRICT;
    opts.type_name = "*formatter.ContainerContext";
    opts.methods = ps_methods;
  }

  rc = strata_template_parse(tpl, &t, &err);
  if (rc == 0) {
    if (table) {
      json_t *jrows = json_object_get(table, "rows"), *h;
      size_t n = json_array_size(jrows), nh = json_object_size(json_object_get(table, "headers"));
      json_t **rows = calloc(n + 1, sizeof(*rows));
      struct strata_template_header *hdrs = calloc(nh + 1, sizeof(*hdrs));
      const char *k;
      size_t i = 0;
      struct capture cap;
      for (size_t r = 0; r < n; r++)
        rows[r] = json_array_get(jrows, r);
      json_object_foreach(json_object_get(table, "headers"), k, h) {
        hdrs[i].field = k;
        hdrs[i].text = json_string_value(h);
        i++;
      }
      capture_open(&cap);
      rc = strata_template_render_table(t, rows, n, hdrs, &opts, cap.f, &err);
      out = capture_close(&cap);
      len = cap.len;
      if (rc < 0)
        assert_int_equal(len, 0); /* nothing printed when a row fails */
      free(rows);
      free(hdrs);
    } else {
      rc = strata_template_render(t, data, &opts, &out, &len, &err);
    }
  }
  if (want_err) {
    if (rc == 0)
      fail_msg("expected error %s, got output \"%s\"", json_string_value(want_err), out);
    assert_non_null(err);
    assert_string_equal(err->msg, json_string_value(want_err));
  } else {
    if (rc != 0)
      fail_msg("unexpected error: %s", err ? err->msg : "?");
    assert_int_equal(len, json_string_length(want_out));
    assert_memory_equal(out, json_string_value(want_out), len);
  }
  free(out);
  strata_error_free(err);
  strata_template_free(t);
}

/* ------------------------------------------------------------------ lexer */

static char *lex_dump(const char *text) {
  size_t n;
  struct tpl_token *t = strata_tpl_lex(text, &n);
  struct tpl_buf b = {0};
  static const char *const names[] = {
      [TOK_ERROR] = "error",      [TOK_BOOL] = "bool",         [TOK_CHAR] = "char",
      [TOK_CHAR_CONST] = "charconst", [TOK_COMPLEX] = "complex", [TOK_ASSIGN] = "=",
      [TOK_DECLARE] = ":=",       [TOK_EOF] = "EOF",           [TOK_FIELD] = "field",
      [TOK_IDENT] = "ident",      [TOK_LEFT_DELIM] = "{{",     [TOK_LEFT_PAREN] = "(",
      [TOK_NUMBER] = "number",    [TOK_PIPE] = "|",            [TOK_RAW_STRING] = "raw",
      [TOK_RIGHT_DELIM] = "}}",   [TOK_RIGHT_PAREN] = ")",     [TOK_SPACE] = "space",
      [TOK_STRING] = "string",    [TOK_TEXT] = "text",         [TOK_VARIABLE] = "var",
      [TOK_BLOCK] = "block",      [TOK_BREAK] = "break",       [TOK_CONTINUE] = "continue",
      [TOK_DOT] = "dot",          [TOK_DEFINE] = "define",     [TOK_ELSE] = "else",
      [TOK_END] = "end",          [TOK_IF] = "if",             [TOK_NIL] = "nil",
      [TOK_RANGE] = "range",      [TOK_TEMPLATE] = "template", [TOK_WITH] = "with",
  };
  assert_non_null(t);
  for (size_t i = 0; i < n; i++) {
    if (i)
      strata_tpl_buf_putc(&b, ' ');
    strata_tpl_buf_printf(&b, "%s@%zu", names[t[i].type], t[i].pos);
    if (t[i].type != TOK_EOF && t[i].type != TOK_LEFT_DELIM && t[i].type != TOK_RIGHT_DELIM &&
        t[i].type != TOK_SPACE)
      strata_tpl_buf_printf(&b, "[%.*s]", (int)t[i].len, t[i].text);
  }
  free(t);
  return b.s;
}

#define assert_lex(text, want)                                                                 \
  do {                                                                                         \
    char *got_ = lex_dump(text);                                                               \
    assert_string_equal(got_, want);                                                           \
    free(got_);                                                                                \
  } while (0)

static void test_template_lexer__text_and_action(void **state) {
  (void)state;
  assert_lex("a{{.B}}c", "text@0[a] {{@1 field@3[.B] }}@5 text@7[c] EOF@8");
}

static void test_template_lexer__field_chain_splits(void **state) {
  (void)state;
  assert_lex("{{.A.B $x.C}}", "{{@0 field@2[.A] field@4[.B] space@6 var@7[$x] field@9[.C] }}@11 EOF@13");
}

static void test_template_lexer__operators(void **state) {
  (void)state;
  assert_lex("{{$x := 1 | f (2) $ = ,}}",
             "{{@0 var@2[$x] space@4 :=@5[:=] space@7 number@8[1] space@9 |@10[|] space@11 "
             "ident@12[f] space@13 (@14[(] number@15[2] )@16[)] space@17 var@18[$] space@19 "
             "=@20[=] space@21 char@22[,] }}@23 EOF@25");
}

static void test_template_lexer__keywords_and_constants(void **state) {
  (void)state;
  assert_lex("{{if true}}{{else}}{{end}}{{range nil}}{{with .}}",
             "{{@0 if@2[if] space@4 bool@5[true] }}@9 {{@11 else@13[else] }}@17 {{@19 end@21[end] "
             "}}@24 {{@26 range@28[range] space@33 nil@34[nil] }}@37 {{@39 with@41[with] space@45 "
             "dot@46[.] }}@47 EOF@49");
}

static void test_template_lexer__strings_numbers_chars(void **state) {
  (void)state;
  assert_lex("{{\"a\\\"b\" `r` 'c' -1.5e3 0x1F}}",
             "{{@0 string@2[\"a\\\"b\"] space@8 raw@9[`r`] space@12 charconst@13['c'] space@16 "
             "number@17[-1.5e3] space@23 number@24[0x1F] }}@28 EOF@30");
}

static void test_template_lexer__trim_markers(void **state) {
  (void)state;
  /* the spaces next to {{- and -}} vanish from the text tokens */
  assert_lex("a \n {{- 1 -}} \n b", "text@0[a] {{@4 number@8[1] }}@11 text@16[b] EOF@17");
}

static void test_template_lexer__minus_number_is_not_trim(void **state) {
  (void)state;
  assert_lex("a {{-1}}", "text@0[a ] {{@2 number@4[-1] }}@6 EOF@8");
}

static void test_template_lexer__comment_vanishes(void **state) {
  (void)state;
  assert_lex("a{{/* x */}}b", "text@0[a] text@12[b] EOF@13");
}

static void test_template_lexer__error_token_ends_stream(void **state) {
  (void)state;
  assert_lex("{{.A", "{{@0 field@2[.A] error@4[unclosed action]");
  assert_lex("x{{\"ab", "text@0[x] {{@1 error@3[unterminated quoted string]");
  assert_lex("{{.A#}}", "{{@0 error@4[bad character U+0023 '#']");
}

static void test_template_lexer__token_describe(void **state) {
  struct tpl_token t = {.type = TOK_CHAR, .text = "}", .len = 1};
  struct tpl_buf b = {0};
  (void)state;
  strata_tpl_token_describe(&t, &b);
  assert_string_equal(b.s, "\"}\"");
  strata_tpl_buf_free(&b);
  t = (struct tpl_token){.type = TOK_TEXT, .text = "abcdefghijklmnop", .len = 16};
  strata_tpl_token_describe(&t, &b);
  assert_string_equal(b.s, "\"abcdefghij\"...");
  strata_tpl_buf_free(&b);
  t = (struct tpl_token){.type = TOK_END, .text = "end", .len = 3};
  strata_tpl_token_describe(&t, &b);
  assert_string_equal(b.s, "<end>");
  strata_tpl_buf_free(&b);
}

/* ------------------------------------------------------------------ parser */

static char *parse_dump(const char *text) {
  struct strata_template *t = NULL;
  struct strata_error *err = NULL;
  struct tpl_buf b = {0};
  if (strata_tpl_parse(text, &t, &err) < 0) {
    char *msg = strdup(err->msg);
    strata_error_free(err);
    return msg;
  }
  strata_tpl_node_string(t->root, &b);
  strata_template_free(t);
  return b.s ? b.s : strdup("");
}

#define assert_parse(text, want)                                                               \
  do {                                                                                         \
    char *got_ = parse_dump(text);                                                             \
    assert_string_equal(got_, want);                                                           \
    free(got_);                                                                                \
  } while (0)

static void test_template_parser__round_trip(void **state) {
  (void)state;
  /* Go's Node.String() of the tree: a normalised copy of the source */
  assert_parse("a{{.A.B}}b", "a{{.A.B}}b");
  assert_parse("{{  .A   |  printf  \"%s\"  }}", "{{.A | printf \"%s\"}}");
  assert_parse("{{$x := index . 1}}{{$x}}", "{{$x := index . 1}}{{$x}}");
  assert_parse("{{if .A}}1{{else if .B}}2{{else}}3{{end}}",
               "{{if .A}}1{{else}}{{if .B}}2{{else}}3{{end}}{{end}}");
  assert_parse("{{range $i, $e := .L}}{{$i}}{{end}}", "{{range $i, $e := .L}}{{$i}}{{end}}");
  assert_parse("{{with .A}}x{{else}}y{{end}}", "{{with .A}}x{{else}}y{{end}}");
  assert_parse("{{(len .A).B}}", "{{(len .A).B}}");
  assert_parse("{{printf \"%d\" (len .A)}}", "{{printf \"%d\" (len .A)}}");
  assert_parse("{{`raw` 'c' 1.5 nil true}}", "{{`raw` 'c' 1.5 nil true}}");
}

static void test_template_parser__positions(void **state) {
  struct strata_template *t = NULL;
  struct strata_error *err = NULL;
  (void)state;
  assert_int_equal(strata_tpl_parse("ab{{.X.Y}}", &t, &err), 0);
  /* .X.Y is one field node placed at its second field, as in Go */
  assert_int_equal(t->root->kids[1]->type, N_ACTION);
  assert_int_equal(t->root->kids[1]->pipe->kids[0]->kids[0]->type, N_FIELD);
  assert_int_equal(t->root->kids[1]->pipe->kids[0]->kids[0]->pos, 6);
  assert_int_equal(t->root->kids[1]->pipe->kids[0]->kids[0]->nidents, 2);
  strata_template_free(t);
}

static void test_template_parser__numbers(void **state) {
  struct strata_template *t = NULL;
  struct strata_error *err = NULL;
  struct tpl_node *n;
  (void)state;
  assert_int_equal(strata_tpl_parse("{{1e3}}", &t, &err), 0);
  n = t->root->kids[0]->pipe->kids[0]->kids[0];
  assert_true(n->is_int && n->is_float);
  assert_int_equal(n->i64, 1000);
  strata_template_free(t);
  assert_int_equal(strata_tpl_parse("{{0x10}}", &t, &err), 0);
  n = t->root->kids[0]->pipe->kids[0]->kids[0];
  assert_true(n->is_int && n->is_uint);
  assert_int_equal(n->i64, 16);
  strata_template_free(t);
  assert_int_equal(strata_tpl_parse("{{18446744073709551615}}", &t, &err), 0);
  n = t->root->kids[0]->pipe->kids[0]->kids[0];
  assert_false(n->is_int);
  assert_true(n->is_uint);
  strata_template_free(t);
}

static void test_template_parser__error_positions(void **state) {
  (void)state;
  /* strata adds the column (bytes from 0) to Go's "template: :LINE:" */
  assert_parse("x {{.A | 3}}", "template: :1:9: non executable command in pipeline stage 2");
  assert_parse("ab\ncd {{foo}}", "template: :2:5: function \"foo\" not defined");
  assert_parse("{{if .A}}", "template: :1:9: unexpected EOF");
  assert_parse("{{.A)}}", "template: :1:4: unexpected \")\" in command");
}

/* ------------------------------------------------------------------ tabwriter */

static char *tabbed(const char *text) {
  struct capture c;
  capture_open(&c);
  strata_table_write_tabbed(text, strlen(text), c.f);
  return capture_close(&c);
}

#define assert_tabbed(text, want)                                                              \
  do {                                                                                         \
    char *got_ = tabbed(text);                                                                 \
    assert_string_equal(got_, want);                                                           \
    free(got_);                                                                                \
  } while (0)

static void test_template_tabwriter__min_width_and_padding(void **state) {
  (void)state;
  assert_tabbed("a\tb\n", "a         b\n");
  assert_tabbed("abcdefgh\tb\n", "abcdefgh   b\n");
  assert_tabbed("x\ty\tz\nlonger-cell-here\ty\tz\n",
                "x                  y         z\nlonger-cell-here   y         z\n");
}

static void test_template_tabwriter__blocks_break_on_lines_without_tabs(void **state) {
  (void)state;
  /* a line without a tab ends the column block: widths are per block */
  assert_tabbed("a\tb\nplain line\nlonger-cell-here\tb\n",
                "a         b\nplain line\nlonger-cell-here   b\n");
}

static void test_template_tabwriter__ragged_rows(void **state) {
  (void)state;
  assert_tabbed("a\tb\tc\nd\te\nf\tg\th\n", "a         b         c\nd         e\nf         g         h\n");
}

static void test_template_tabwriter__no_trailing_newline(void **state) {
  (void)state;
  assert_tabbed("a\tb", "a         b");
  assert_tabbed("", "");
}

static void test_template_tabwriter__utf8_width(void **state) {
  (void)state;
  assert_tabbed("h\xc3\xa9llo\tx\n", "h\xc3\xa9llo     x\n");
}

static void test_template_tabwriter__table_api_unchanged(void **state) {
  /* the older helper keeps its behaviour: images, ps and history use it */
  struct strata_table *t = strata_table_new(3);
  const char *r1[] = {"REPOSITORY", "TAG", "SIZE"}, *r2[] = {"a", "latest", "1MB"};
  struct capture c;
  char *out;
  (void)state;
  strata_table_add(t, r1);
  strata_table_add(t, r2);
  capture_open(&c);
  strata_table_flush(t, c.f);
  out = capture_close(&c);
  assert_string_equal(out, "REPOSITORY   TAG       SIZE\na            latest    1MB\n");
  free(out);
}

/* ------------------------------------------------------------------ --format */

static void test_template_format__unescape(void **state) {
  char *s;
  (void)state;
  s = strata_template_unescape("{{.A}}\\t{{.B}}\\n\\\\x\\q");
  assert_string_equal(s, "{{.A}}\t{{.B}}\n\\\\x\\q");
  free(s);
}

static void test_template_format__prepare(void **state) {
  struct strata_template_format f;
  struct strata_error *err = NULL;
  (void)state;
  assert_int_equal(strata_template_prepare("table {{.ID}}\\t{{.Names}}  ", &f, &err), 0);
  assert_true(f.table);
  assert_false(f.json);
  assert_string_equal(f.text, "{{.ID}}\t{{.Names}}");
  strata_template_format_clear(&f);
  assert_int_equal(strata_template_prepare("json", &f, &err), 0);
  assert_true(f.json);
  assert_false(f.table);
  assert_string_equal(f.text, "{{json .}}");
  strata_template_format_clear(&f);
  assert_int_equal(strata_template_prepare("table", &f, &err), 0);
  assert_true(f.table);
  assert_string_equal(f.text, "");
  strata_template_format_clear(&f);
  assert_int_equal(strata_template_prepare("  {{.ID}}\\n", &f, &err), 0);
  assert_false(f.table);
  assert_string_equal(f.text, "{{.ID}}\n");
  strata_template_format_clear(&f);
  /* Docker's test is a prefix test: "tablefoo" is a table too */
  assert_int_equal(strata_template_prepare("tablefoo", &f, &err), 0);
  assert_true(f.table);
  assert_string_equal(f.text, "foo");
  strata_template_format_clear(&f);
}

static void test_template_format__rows(void **state) {
  struct strata_template *t = NULL;
  struct strata_error *err = NULL;
  json_t *rows[2];
  struct capture c;
  char *out;
  (void)state;
  rows[0] = json_pack("{s:s}", "Names", "web");
  rows[1] = json_pack("{s:s}", "Names", "db");
  assert_int_equal(strata_template_parse("{{.Names}}", &t, &err), 0);
  capture_open(&c);
  assert_int_equal(strata_template_render_rows(t, rows, 2, NULL, c.f, &err), 0);
  out = capture_close(&c);
  assert_string_equal(out, "web\ndb\n");
  free(out);
  strata_template_free(t);
  /* a failing row prints nothing at all, like Docker's buffered formatter */
  assert_int_equal(strata_template_parse("{{.Names.x}}", &t, &err), 0);
  capture_open(&c);
  assert_int_equal(strata_template_render_rows(t, rows, 2, NULL, c.f, &err), -1);
  out = capture_close(&c);
  assert_int_equal(c.len, 0);
  assert_non_null(strstr(err->msg, "can't evaluate field x"));
  free(out);
  strata_error_clear(&err);
  strata_template_free(t);
  json_decref(rows[0]);
  json_decref(rows[1]);
}

static void test_template_format__json_shorthand(void **state) {
  struct strata_template_format f;
  struct strata_template *t = NULL;
  struct strata_error *err = NULL;
  json_t *row = json_pack("{s:s,s:i,s:[s]}", "ID", "abc", "Size", 5, "Tags", "a:b");
  char *out = NULL;
  (void)state;
  assert_int_equal(strata_template_prepare("json", &f, &err), 0);
  assert_int_equal(strata_template_parse(f.text, &t, &err), 0);
  assert_int_equal(strata_template_render(t, row, NULL, &out, NULL, &err), 0);
  assert_string_equal(out, "{\"ID\":\"abc\",\"Size\":5,\"Tags\":[\"a:b\"]}");
  free(out);
  strata_template_free(t);
  strata_template_format_clear(&f);
  json_decref(row);
}

/* ------------------------------------------------------------------ API */

static void test_template_api__execute_writes_nothing_on_error(void **state) {
  struct strata_template *t = NULL;
  struct strata_error *err = NULL;
  json_t *dot = json_pack("{s:s}", "A", "x");
  struct capture c;
  char *out;
  (void)state;
  assert_int_equal(strata_template_parse("before {{.A.B}} after", &t, &err), 0);
  capture_open(&c);
  assert_int_equal(strata_template_execute(t, dot, NULL, c.f, &err), -1);
  out = capture_close(&c);
  assert_int_equal(c.len, 0);
  free(out);
  assert_string_equal(err->msg, "template: :1:11: executing \"\" at <.A.B>: can't evaluate field "
                                "B in type interface {}");
  strata_error_free(err);
  strata_template_free(t);
  json_decref(dot);
}

static void test_template_api__template_is_reusable(void **state) {
  struct strata_template *t = NULL;
  struct strata_error *err = NULL;
  char *out = NULL;
  (void)state;
  assert_int_equal(strata_template_parse("{{range .}}{{.}},{{end}}", &t, &err), 0);
  for (int i = 0; i < 3; i++) {
    json_t *dot = json_pack("[i,i]", i, i + 1);
    char want[32];
    assert_int_equal(strata_template_render(t, dot, NULL, &out, NULL, &err), 0);
    snprintf(want, sizeof(want), "%d,%d,", i, i + 1);
    assert_string_equal(out, want);
    free(out);
    json_decref(dot);
  }
  strata_template_free(t);
}

static void test_template_api__nul_bytes_survive(void **state) {
  struct strata_template *t = NULL;
  struct strata_error *err = NULL;
  json_t *dot = json_object();
  char *out = NULL;
  size_t len = 0;
  (void)state;
  json_object_set_new(dot, "S", json_stringn("a\0b", 3));
  assert_int_equal(strata_template_parse("[{{.S}}]", &t, &err), 0);
  assert_int_equal(strata_template_render(t, dot, NULL, &out, &len, &err), 0);
  assert_int_equal(len, 5);
  assert_memory_equal(out, "[a\0b]", 5);
  free(out);
  strata_template_free(t);
  json_decref(dot);
}

static void test_template_api__dot_is_borrowed(void **state) {
  struct strata_template *t = NULL;
  struct strata_error *err = NULL;
  json_t *dot = json_pack("{s:{s:s}}", "A", "B", "c");
  char *out = NULL;
  (void)state;
  assert_int_equal(strata_template_parse("{{$a := .A}}{{with .A}}{{.B}}{{end}}{{$a.B}}", &t, &err), 0);
  assert_int_equal(strata_template_render(t, dot, NULL, &out, NULL, &err), 0);
  assert_string_equal(out, "cc");
  free(out);
  /* every reference taken during execution was given back */
  assert_int_equal(dot->refcount, 1);
  assert_int_equal(json_object_get(dot, "A")->refcount, 1);
  strata_template_free(t);
  json_decref(dot);
}

static void test_template_api__nil_dot(void **state) {
  struct strata_template *t = NULL;
  struct strata_error *err = NULL;
  char *out = NULL;
  (void)state;
  assert_int_equal(strata_template_parse("{{.}}|{{.A}}|{{json .}}", &t, &err), 0);
  assert_int_equal(strata_template_render(t, NULL, NULL, &out, NULL, &err), 0);
  assert_string_equal(out, "<no value>|<no value>|null");
  free(out);
  strata_template_free(t);
}

static void test_template_api__parse_error_leaves_no_template(void **state) {
  struct strata_template *t = NULL;
  struct strata_error *err = NULL;
  (void)state;
  assert_int_equal(strata_template_parse("{{.A}", &t, &err), -1);
  assert_null(t);
  assert_string_equal(err->msg, "template: :1:4: bad character U+007D '}'");
  strata_error_free(err);
}

static void test_template_api__strict_names_type(void **state) {
  struct strata_template *t = NULL;
  struct strata_error *err = NULL;
  struct strata_template_options opts = {.flags = STRATA_TEMPLATE_STRICT};
  json_t *dot = json_pack("{s:s}", "ID", "x");
  char *out = NULL;
  (void)state;
  assert_int_equal(strata_template_parse("{{.Nope}}", &t, &err), 0);
  assert_int_equal(strata_template_render(t, dot, &opts, &out, NULL, &err), -1);
  assert_string_equal(err->msg, "template: :1:2: executing \"\" at <.Nope>: can't evaluate field "
                                "Nope in type map[string]interface {}");
  strata_error_clear(&err);
  /* without the flag, a map's missing key is "<no value>" */
  assert_int_equal(strata_template_render(t, dot, NULL, &out, NULL, &err), 0);
  assert_string_equal(out, "<no value>");
  free(out);
  strata_template_free(t);
  json_decref(dot);
}

static void test_template_api__print_large_and_special_floats(void **state) {
  struct tpl_buf b = {0};
  struct tpl_value v[4] = {
      {.kind = TV_JSON, .j = json_real(1e6)},
      {.kind = TV_JSON, .j = json_real(123456.5)},
      {.kind = TV_JSON, .j = json_real(0.1)},
      {.kind = TV_JSON, .j = json_real(-0.00001234)},
  };
  (void)state;
  strata_tpl_sprint(&b, v, 4, true);
  assert_string_equal(b.s, "1e+06 123456.5 0.1 -1.234e-05\n");
  strata_tpl_buf_free(&b);
  for (int i = 0; i < 4; i++) {
    strata_tpl_json(&b, v[i].j);
    strata_tpl_buf_putc(&b, ' ');
    json_decref(v[i].j);
  }
  assert_string_equal(b.s, "1000000 123456.5 0.1 -0.00001234 ");
  strata_tpl_buf_free(&b);
}

/* Every prefix of every case's template either parses or fails with a
 * positioned error, and what parses runs over the fixture: no crash, no
 * leak (valgrind), and every error is one line. */
static void test_template_api__every_prefix_is_handled(void **state) {
  json_t *cases = json_object_get(cases_doc, "cases"), *c;
  json_t *fixture = json_object_get(cases_doc, "fixture");
  size_t i, parsed = 0, failed = 0;
  (void)state;
  json_array_foreach(cases, i, c) {
    const char *tpl = json_string_value(json_object_get(c, "tpl"));
    size_t n = strlen(tpl);
    for (size_t k = 0; k <= n; k++) {
      char *prefix = strndup(tpl, k), *out = NULL;
      struct strata_template *t = NULL;
      struct strata_error *err = NULL;
      if (strata_template_parse(prefix, &t, &err) == 0) {
        parsed++;
        if (strata_template_render(t, fixture, NULL, &out, NULL, &err) == 0)
          free(out);
        strata_template_free(t);
      } else {
        failed++;
        assert_null(t);
      }
      if (err) {
        assert_true(strncmp(err->msg, "template: :", 11) == 0);
        assert_null(strchr(err->msg, '\n'));
      }
      strata_error_free(err);
      free(prefix);
    }
  }
  assert_true(parsed > 500);
  assert_true(failed > 500);
}

static void test_template_api__deep_nesting_fails_cleanly(void **state) {
  struct strata_template *t = NULL;
  struct strata_error *err = NULL;
  struct tpl_buf b = {0};
  char *out = NULL;
  json_t *dot = json_pack("{s:s}", "A", "x");
  (void)state;
  /* 990 levels work, 5000 are refused rather than overflowing the stack */
  strata_tpl_buf_puts(&b, "{{");
  for (int i = 0; i < 990; i++)
    strata_tpl_buf_puts(&b, "(print ");
  strata_tpl_buf_puts(&b, ".A");
  for (int i = 0; i < 990; i++)
    strata_tpl_buf_putc(&b, ')');
  strata_tpl_buf_puts(&b, "}}");
  assert_int_equal(strata_template_parse(b.s, &t, &err), 0);
  assert_int_equal(strata_template_render(t, dot, NULL, &out, NULL, &err), 0);
  assert_string_equal(out, "x");
  free(out);
  strata_template_free(t);
  strata_tpl_buf_free(&b);
  for (int i = 0; i < 5000; i++)
    strata_tpl_buf_puts(&b, "{{if 1}}");
  assert_int_equal(strata_template_parse(b.s, &t, &err), -1);
  assert_non_null(strstr(err->msg, "max expression depth exceeded"));
  strata_error_clear(&err);
  strata_tpl_buf_free(&b);
  strata_tpl_buf_puts(&b, "{{");
  for (int i = 0; i < 5000; i++)
    strata_tpl_buf_putc(&b, '(');
  assert_int_equal(strata_template_parse(b.s, &t, &err), -1);
  strata_error_clear(&err);
  strata_tpl_buf_free(&b);
  json_decref(dot);
}

static void test_template_api__methods_only_on_the_row(void **state) {
  static const struct strata_template_method methods[] = {{"Label", 1, label_method}, {NULL, 0, NULL}};
  struct strata_template_options opts = {.methods = methods};
  struct strata_template *t = NULL;
  struct strata_error *err = NULL;
  json_t *dot = json_pack("{s:{s:s},s:{s:s}}", "Labels", "k", "v", "Sub", "Label", "plain");
  char *out = NULL;
  (void)state;
  assert_int_equal(strata_template_parse("{{.Label \"k\"}} {{.Sub.Label}}", &t, &err), 0);
  assert_int_equal(strata_template_render(t, dot, &opts, &out, NULL, &err), 0);
  assert_string_equal(out, "v plain");
  free(out);
  strata_template_free(t);
  json_decref(dot);
}

/* ------------------------------------------------------------------ main */

#define T(name) cmocka_unit_test(test_template_##name)

int main(void) {
  static const struct CMUnitTest fixed[] = {
      T(lexer__text_and_action),
      T(lexer__field_chain_splits),
      T(lexer__operators),
      T(lexer__keywords_and_constants),
      T(lexer__strings_numbers_chars),
      T(lexer__trim_markers),
      T(lexer__minus_number_is_not_trim),
      T(lexer__comment_vanishes),
      T(lexer__error_token_ends_stream),
      T(lexer__token_describe),
      T(parser__round_trip),
      T(parser__positions),
      T(parser__numbers),
      T(parser__error_positions),
      T(tabwriter__min_width_and_padding),
      T(tabwriter__blocks_break_on_lines_without_tabs),
      T(tabwriter__ragged_rows),
      T(tabwriter__no_trailing_newline),
      T(tabwriter__utf8_width),
      T(tabwriter__table_api_unchanged),
      T(format__unescape),
      T(format__prepare),
      T(format__rows),
      T(format__json_shorthand),
      T(api__execute_writes_nothing_on_error),
      T(api__template_is_reusable),
      T(api__nul_bytes_survive),
      T(api__dot_is_borrowed),
      T(api__nil_dot),
      T(api__parse_error_leaves_no_template),
      T(api__strict_names_type),
      T(api__print_large_and_special_floats),
      T(api__every_prefix_is_handled),
      T(api__deep_nesting_fails_cleanly),
      T(api__methods_only_on_the_row),
  };
  json_error_t jerr;
  const char *path = getenv("TEMPLATE_CASES") ? getenv("TEMPLATE_CASES") : TEMPLATE_CASES;
  struct CMUnitTest *tests;
  size_t nfixed = sizeof(fixed) / sizeof(fixed[0]), ncases, n = 0;
  char **names;
  json_t *cases;
  int rc;

  cases_doc = json_load_file(path, 0, &jerr);
  if (cases_doc == NULL) {
    fprintf(stderr, "cannot load %s: %s (line %d)\n", path, jerr.text, jerr.line);
    return 1;
  }
  cases = json_object_get(cases_doc, "cases");
  ncases = json_array_size(cases);
  tests = calloc(nfixed + ncases, sizeof(*tests));
  names = calloc(ncases, sizeof(*names));
  if (tests == NULL || names == NULL)
    return 1;
  for (size_t i = 0; i < ncases; i++) {
    json_t *c = json_array_get(cases, i);
    if (asprintf(&names[i], "test_template_case__%s", json_string_value(json_object_get(c, "name"))) < 0)
      return 1;
    tests[n++] = (struct CMUnitTest){
        .name = names[i], .test_func = run_case, .initial_state = c};
  }
  for (size_t i = 0; i < nfixed; i++)
    tests[n++] = fixed[i];
  rc = _cmocka_run_group_tests("template", tests, n, NULL, NULL);
  for (size_t i = 0; i < ncases; i++)
    free(names[i]);
  free(names);
  free(tests);
  json_decref(cases_doc);
  return rc;
}
