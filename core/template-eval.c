/* Template evaluator: Go's text/template/exec.go and funcs.go over jansson
 * values, plus Docker's template functions (docker/cli templates.go).
 *
 * Every eval function returns 0 or, after filling st->err, -1; walk()
 * also returns WALK_BREAK and WALK_CONTINUE for {{break}} and
 * {{continue}}.  Values own one reference each (see tpl_value). */
#include "config.h"

#include <errno.h>
#include <locale.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <wctype.h>

#include "template-internal.h"

#define WALK_BREAK 1
#define WALK_CONTINUE 2

struct var {
  const char *name;
  struct tpl_value val;
};

struct state {
  const struct strata_template *tpl;
  const struct strata_template_options *opts;
  json_t *root; /* the object strict mode treats as a struct */
  bool header;
  struct tpl_buf *out;
  const struct tpl_node *node; /* Go's s.node: where errors point */
  struct var *vars;
  size_t nvars, capvars;
  struct strata_error **err;
};

/* ------------------------------------------------------------------ values */

static struct tpl_value vjson(json_t *j, bool boxed) {
  return (struct tpl_value){.kind = j ? TV_JSON : TV_INVALID, .j = j, .boxed = boxed && j};
}

static struct tpl_value vint(int64_t i) { return (struct tpl_value){.kind = TV_INT, .j = json_integer(i)}; }

static struct tpl_value vbool(bool b) { return vjson(json_boolean(b), false); }

static struct tpl_value vstring(const char *s, size_t n) { return vjson(json_stringn_nocheck(s, n), false); }

static struct tpl_value vcopy(const struct tpl_value *v) {
  struct tpl_value r = *v;
  json_incref(r.j);
  return r;
}

static void vfree(struct tpl_value *v) {
  json_decref(v->j);
  *v = (struct tpl_value){0};
}

static bool is_nil(const struct tpl_value *v) {
  return v->kind == TV_INVALID || (v->kind == TV_JSON && json_is_null(v->j));
}

/* Go's isTrue(indirectInterface(v)) */
static bool truth(const struct tpl_value *v) {
  if (is_nil(v))
    return false;
  switch (json_typeof(v->j)) {
  case JSON_OBJECT:
    return json_object_size(v->j) > 0;
  case JSON_ARRAY:
    return json_array_size(v->j) > 0;
  case JSON_STRING:
    return json_string_length(v->j) > 0;
  case JSON_INTEGER:
    return json_integer_value(v->j) != 0;
  case JSON_REAL:
    return json_real_value(v->j) != 0;
  case JSON_TRUE:
    return true;
  default:
    return false;
  }
}

/* The type Go names for V as stored: interface {} when boxed. */
static const char *static_type(const struct tpl_value *v) {
  return v->boxed ? "interface {}" : strata_tpl_type_name(v);
}

/* ------------------------------------------------------------------ errors */

static int fail(struct state *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct state *st, const char *fmt, ...) {
  struct tpl_buf msg = {0}, ctx = {0};
  char *m = NULL;
  va_list ap;
  va_start(ap, fmt);
  if (vasprintf(&m, fmt, ap) < 0)
    m = NULL;
  va_end(ap);
  if (st->node == NULL) {
    strata_error_set(st->err, 0, "template: : %s", m ? m : "out of memory");
  } else {
    int line, col;
    strata_tpl_position(st->tpl->text, st->node->pos, &line, &col);
    strata_tpl_node_string(st->node, &ctx);
    strata_error_set(st->err, 0, "template: :%d:%d: executing \"\" at <%s>: %s", line, col,
                     ctx.s ? ctx.s : "", m ? m : "out of memory");
  }
  free(m);
  strata_tpl_buf_free(&msg);
  strata_tpl_buf_free(&ctx);
  return -1;
}

/* "%v" of V into a malloc'd string, for messages */
static char *describe(const struct tpl_value *v, const char *fmt) {
  struct tpl_buf b = {0};
  strata_tpl_sprintf(&b, fmt, strlen(fmt), v, 1);
  if (b.s == NULL)
    return strdup("");
  return b.s;
}

static char *node_text(const struct tpl_node *n) {
  struct tpl_buf b = {0};
  strata_tpl_node_string(n, &b);
  return b.s ? b.s : strdup("");
}

/* ------------------------------------------------------------------ variables */

static int push_var(struct state *st, const char *name, const struct tpl_value *v) {
  if (st->nvars == st->capvars) {
    size_t cap = st->capvars ? st->capvars * 2 : 16;
    struct var *nv = realloc(st->vars, cap * sizeof(*nv));
    if (nv == NULL)
      return strata_error_set(st->err, ENOMEM, "template");
    st->vars = nv;
    st->capvars = cap;
  }
  st->vars[st->nvars].name = name;
  st->vars[st->nvars].val = vcopy(v);
  st->nvars++;
  return 0;
}

static void pop_vars(struct state *st, size_t mark) {
  while (st->nvars > mark)
    vfree(&st->vars[--st->nvars].val);
}

static void set_top_var(struct state *st, size_t n, const struct tpl_value *v) {
  vfree(&st->vars[st->nvars - n].val);
  st->vars[st->nvars - n].val = vcopy(v);
}

static int var_value(struct state *st, const char *name, struct tpl_value *out) {
  for (size_t k = st->nvars; k-- > 0;)
    if (strcmp(st->vars[k].name, name) == 0) {
      *out = vcopy(&st->vars[k].val);
      return 0;
    }
  return fail(st, "undefined variable: %s", name);
}

static int set_var(struct state *st, const char *name, const struct tpl_value *v) {
  for (size_t k = st->nvars; k-- > 0;)
    if (strcmp(st->vars[k].name, name) == 0) {
      vfree(&st->vars[k].val);
      st->vars[k].val = vcopy(v);
      return 0;
    }
  return fail(st, "undefined variable: %s", name);
}

/* ------------------------------------------------------------------ evaluation */

enum ptype { P_ANY, P_VALUE, P_STRING, P_INT, P_STRINGS };

static const char *ptype_name(enum ptype t) {
  switch (t) {
  case P_STRING:
    return "string";
  case P_INT:
    return "int";
  case P_STRINGS:
    return "[]string";
  case P_VALUE:
    return "reflect.Value";
  default:
    return "interface {}";
  }
}

static int eval_pipeline(struct state *st, const struct tpl_value *dot, const struct tpl_node *pipe,
                         struct tpl_value *out);
static int eval_arg(struct state *st, const struct tpl_value *dot, enum ptype type,
                    const struct tpl_node *n, struct tpl_value *out);
static int eval_function(struct state *st, const struct tpl_value *dot, const struct tpl_node *ident,
                         const struct tpl_node *cmd, struct tpl_node *const *args, size_t nargs,
                         const struct tpl_value *final, struct tpl_value *out);

static int not_a_function(struct state *st, struct tpl_node *const *args, size_t nargs,
                          const struct tpl_value *final) {
  if (nargs > 1 || final != NULL) {
    char *s = node_text(args[0]);
    int r = fail(st, "can't give argument to non-function %s", s);
    free(s);
    return r;
  }
  return 0;
}

static bool is_hex_int(const char *s) {
  return strlen(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && strpbrk(s, "pP") == NULL;
}

/* A number in a context with no type: Go's idealConstant. */
static int ideal_constant(struct state *st, const struct tpl_node *n, struct tpl_value *out) {
  st->node = n;
  if (n->is_float && !is_hex_int(n->str) && n->str[0] != '\'' && strpbrk(n->str, ".eEpP") != NULL) {
    *out = vjson(json_real(n->f64), false);
    return 0;
  }
  if (n->is_int) {
    *out = vint(n->i64);
    return 0;
  }
  if (n->is_uint)
    return fail(st, "%s overflows int", n->str);
  *out = (struct tpl_value){0};
  return 0;
}

/* Converts V for a parameter of type TYPE, or fails as Go's validateType. */
static int validate_type(struct state *st, struct tpl_value *v, enum ptype type) {
  if (type == P_ANY || type == P_VALUE)
    return 0;
  if (v->kind == TV_INVALID)
    return fail(st, "invalid value; expected %s", ptype_name(type));
  if (json_is_null(v->j)) /* a nil interface{} */
    return fail(st, "wrong type for value; expected %s; got interface {}", ptype_name(type));
  switch (type) {
  case P_STRING:
    if (v->kind == TV_JSON && json_is_string(v->j))
      break;
    return fail(st, "wrong type for value; expected string; got %s", strata_tpl_type_name(v));
  case P_INT:
    /* JSON integers stand for the Go ints of Docker's typed structs */
    if ((v->kind == TV_INT) || (v->kind == TV_JSON && json_is_integer(v->j)))
      break;
    return fail(st, "wrong type for value; expected int; got %s", strata_tpl_type_name(v));
  case P_STRINGS: {
    size_t i;
    json_t *e;
    bool ok = json_is_array(v->j);
    json_array_foreach(v->j, i, e) ok = ok && json_is_string(e);
    if (ok && (v->kind == TV_STRINGS || v->kind == TV_JSON))
      break;
    return fail(st, "wrong type for value; expected []string; got %s", strata_tpl_type_name(v));
  }
  default:
    break;
  }
  v->boxed = false;
  return 0;
}

static int eval_field(struct state *st, const struct tpl_value *dot, const char *name,
                      const struct tpl_node *node, struct tpl_node *const *args, size_t nargs,
                      const struct tpl_value *final, const struct tpl_value *receiver,
                      struct tpl_value *out) {
  bool has_args = nargs > 1 || final != NULL;
  if (receiver->kind == TV_INVALID) {
    *out = (struct tpl_value){0};
    return 0;
  }
  if (receiver->kind == TV_JSON && json_is_null(receiver->j))
    return fail(st, "nil pointer evaluating interface {}.%s", name);
  /* methods belong to the row object, the struct Docker formats */
  if (receiver->kind == TV_JSON && receiver->j == st->root && st->opts->methods) {
    for (const struct strata_template_method *m = st->opts->methods; m->name; m++) {
      struct tpl_value argv[8] = {0};
      json_t *jargs[8], *result = NULL;
      size_t n = (nargs > 0 ? nargs - 1 : 0) + (final ? 1 : 0), k;
      struct strata_error *merr = NULL;
      int r = 0;
      if (strcmp(m->name, name) != 0)
        continue;
      if (n != m->nargs || n > 8)
        return fail(st, "wrong number of args for %s: want %zu got %zu", name, m->nargs, n);
      for (k = 0; k + 1 < nargs && r == 0; k++)
        r = eval_arg(st, dot, P_ANY, args[k + 1], &argv[k]);
      if (r == 0 && final)
        argv[k] = vcopy(final);
      for (k = 0; k < n; k++)
        jargs[k] = argv[k].j && !json_is_null(argv[k].j) ? argv[k].j : NULL;
      if (r == 0 && m->fn(receiver->j, jargs, &result, &merr) < 0) {
        st->node = node;
        r = fail(st, "error calling %s: %s", name, merr && merr->msg ? merr->msg : "failed");
      }
      strata_error_free(merr);
      for (k = 0; k < n; k++)
        vfree(&argv[k]);
      if (r == 0)
        *out = vjson(result, false);
      else
        json_decref(result);
      return r;
    }
  }
  if (receiver->kind == TV_JSON && json_is_object(receiver->j)) {
    json_t *v;
    if (has_args)
      return fail(st, "%s is not a method but has arguments", name);
    bool as_struct = (st->opts->flags & STRATA_TEMPLATE_STRICT) && receiver->j == st->root;
    v = json_object_get(receiver->j, name);
    if (v == NULL && as_struct)
      return fail(st, "can't evaluate field %s in type %s", name,
                  st->opts->type_name ? st->opts->type_name : "map[string]interface {}");
    /* a struct's fields have their own types; a map's elements are
     * interface{} values */
    *out = vjson(json_incref(v), !as_struct);
    return 0;
  }
  return fail(st, "can't evaluate field %s in type %s", name, static_type(receiver));
}

static int eval_field_chain(struct state *st, const struct tpl_value *dot,
                            const struct tpl_value *receiver, const struct tpl_node *node,
                            char *const *idents, size_t n, struct tpl_node *const *args, size_t nargs,
                            const struct tpl_value *final, struct tpl_value *out) {
  struct tpl_value cur = vcopy(receiver);
  for (size_t k = 0; k + 1 < n; k++) {
    struct tpl_value next;
    int r = eval_field(st, dot, idents[k], node, NULL, 0, NULL, &cur, &next);
    vfree(&cur);
    if (r < 0)
      return r;
    cur = next;
  }
  int r = eval_field(st, dot, idents[n - 1], node, args, nargs, final, &cur, out);
  vfree(&cur);
  return r;
}

static int eval_field_node(struct state *st, const struct tpl_value *dot, const struct tpl_node *field,
                           struct tpl_node *const *args, size_t nargs, const struct tpl_value *final,
                           struct tpl_value *out) {
  st->node = field;
  return eval_field_chain(st, dot, dot, field, field->idents, field->nidents, args, nargs, final, out);
}

static int eval_chain_node(struct state *st, const struct tpl_value *dot, const struct tpl_node *chain,
                           struct tpl_node *const *args, size_t nargs, const struct tpl_value *final,
                           struct tpl_value *out) {
  struct tpl_value pipe;
  int r;
  st->node = chain;
  if (chain->pipe->type == N_NIL) {
    char *s = node_text(chain);
    r = fail(st, "indirection through explicit nil in %s", s);
    free(s);
    return r;
  }
  if (eval_arg(st, dot, P_ANY, chain->pipe, &pipe) < 0)
    return -1;
  r = eval_field_chain(st, dot, &pipe, chain, chain->idents, chain->nidents, args, nargs, final, out);
  vfree(&pipe);
  return r;
}

static int eval_variable_node(struct state *st, const struct tpl_value *dot, const struct tpl_node *var,
                              struct tpl_node *const *args, size_t nargs,
                              const struct tpl_value *final, struct tpl_value *out) {
  struct tpl_value v;
  int r;
  st->node = var;
  if (var_value(st, var->idents[0], &v) < 0)
    return -1;
  if (var->nidents == 1) {
    if (not_a_function(st, args, nargs, final) < 0) {
      vfree(&v);
      return -1;
    }
    *out = v;
    return 0;
  }
  r = eval_field_chain(st, dot, &v, var, var->idents + 1, var->nidents - 1, args, nargs, final, out);
  vfree(&v);
  return r;
}

/* Go's evalEmptyInterface / evalArg for constants and expressions. */
static int eval_arg(struct state *st, const struct tpl_value *dot, enum ptype type,
                    const struct tpl_node *n, struct tpl_value *out) {
  int r;
  char *s;
  st->node = n;
  *out = (struct tpl_value){0};
  switch (n->type) {
  case N_DOT:
    *out = vcopy(dot);
    return validate_type(st, out, type) < 0 ? (vfree(out), -1) : 0;
  case N_NIL:
    if (type == P_ANY || type == P_VALUE || type == P_STRINGS)
      return 0;
    return fail(st, "cannot assign nil to %s", ptype_name(type));
  case N_FIELD:
    r = eval_field_node(st, dot, n, (struct tpl_node *const *)&n, 1, NULL, out);
    break;
  case N_VARIABLE:
    r = eval_variable_node(st, dot, n, NULL, 0, NULL, out);
    break;
  case N_PIPE:
    r = eval_pipeline(st, dot, n, out);
    break;
  case N_IDENT:
    r = eval_function(st, dot, n, n, NULL, 0, NULL, out);
    break;
  case N_CHAIN:
    r = eval_chain_node(st, dot, n, NULL, 0, NULL, out);
    break;
  default:
    goto constant;
  }
  if (r < 0)
    return -1;
  if (validate_type(st, out, type) < 0) {
    vfree(out);
    return -1;
  }
  return 0;

constant:
  s = node_text(n);
  r = 0;
  switch (type) {
  case P_STRING:
    if (n->type == N_STRING)
      *out = vstring(n->str, n->len);
    else
      r = fail(st, "expected string; found %s", s);
    break;
  case P_INT:
    if (n->type == N_NUMBER && n->is_int)
      *out = vint(n->i64);
    else
      r = fail(st, "expected integer; found %s", s);
    break;
  case P_STRINGS:
    r = fail(st, "can't handle %s for arg of type []string", s);
    break;
  default:
    if (n->type == N_BOOL)
      *out = vbool(n->truth);
    else if (n->type == N_STRING)
      *out = vstring(n->str, n->len);
    else if (n->type == N_NUMBER)
      r = ideal_constant(st, n, out);
    else
      r = fail(st, "can't handle assignment of %s to empty interface argument", s);
  }
  free(s);
  return r;
}

/* ------------------------------------------------------------------ builtins */

enum basic { K_INVALID, K_BOOL, K_INT, K_FLOAT, K_STRING, K_UINT };

static enum basic basic_kind(const struct tpl_value *v) {
  if (is_nil(v))
    return K_INVALID;
  if (v->kind == TV_INT)
    return K_INT;
  if (v->kind == TV_BYTE)
    return K_UINT;
  switch (json_typeof(v->j)) {
  case JSON_TRUE:
  case JSON_FALSE:
    return K_BOOL;
  case JSON_INTEGER:
    return K_INT;
  case JSON_REAL:
    return K_FLOAT;
  case JSON_STRING:
    return K_STRING;
  default:
    return K_INVALID;
  }
}

static int compare_strings(json_t *a, json_t *b) {
  size_t la = json_string_length(a), lb = json_string_length(b);
  int c = memcmp(json_string_value(a), json_string_value(b), la < lb ? la : lb);
  return c ? c : (la < lb ? -1 : la > lb);
}

/* Go's eq(arg1, arg2...) */
static int fn_eq(const struct tpl_value *a, const struct tpl_value *others, size_t n, bool *res,
                 char **msg) {
  enum basic k1 = basic_kind(a);
  *res = false;
  if (n == 0) {
    *msg = strdup("missing argument for comparison");
    return -1;
  }
  for (size_t k = 0; k < n; k++) {
    const struct tpl_value *b = &others[k];
    enum basic k2 = basic_kind(b);
    bool t = false;
    if (k1 != k2) {
      if (k1 == K_INT && k2 == K_UINT)
        t = json_integer_value(a->j) >= 0 && json_integer_value(a->j) == json_integer_value(b->j);
      else if (k1 == K_UINT && k2 == K_INT)
        t = json_integer_value(b->j) >= 0 && json_integer_value(a->j) == json_integer_value(b->j);
      else if (!is_nil(a) && !is_nil(b)) {
        *msg = strdup("incompatible types for comparison");
        return -1;
      }
    } else {
      switch (k1) {
      case K_BOOL:
        t = json_is_true(a->j) == json_is_true(b->j);
        break;
      case K_FLOAT:
        t = json_real_value(a->j) == json_real_value(b->j);
        break;
      case K_INT:
      case K_UINT:
        t = json_integer_value(a->j) == json_integer_value(b->j);
        break;
      case K_STRING:
        t = compare_strings(a->j, b->j) == 0;
        break;
      case K_INVALID:
        if (is_nil(a) || is_nil(b)) {
          t = is_nil(a) == is_nil(b);
        } else {
          /* maps and slices: Go refuses to compare them */
          char *sa = describe(a, "%s"), *sb = describe(b, "%s");
          bool same_kind = json_typeof(a->j) == json_typeof(b->j);
          int r;
          if (same_kind)
            r = asprintf(msg, "non-comparable type %s: %s", sb, strata_tpl_type_name(b));
          else
            r = asprintf(msg, "non-comparable types %s: %s, %s: %s", sa, strata_tpl_type_name(a),
                         strata_tpl_type_name(b), sb);
          if (r < 0)
            *msg = NULL;
          free(sa);
          free(sb);
          return -1;
        }
        break;
      }
    }
    if (t) {
      *res = true;
      return 0;
    }
  }
  return 0;
}

static int fn_lt(const struct tpl_value *a, const struct tpl_value *b, bool *res, char **msg) {
  enum basic k1 = basic_kind(a), k2 = basic_kind(b);
  *res = false;
  if (k1 == K_INVALID || k2 == K_INVALID) {
    *msg = strdup("invalid type for comparison");
    return -1;
  }
  if (k1 != k2) {
    if ((k1 == K_INT && k2 == K_UINT) || (k1 == K_UINT && k2 == K_INT)) {
      *res = json_integer_value(a->j) < json_integer_value(b->j);
      return 0;
    }
    *msg = strdup("incompatible types for comparison");
    return -1;
  }
  switch (k1) {
  case K_BOOL:
    *msg = strdup("invalid type for comparison");
    return -1;
  case K_FLOAT:
    *res = json_real_value(a->j) < json_real_value(b->j);
    break;
  case K_STRING:
    *res = compare_strings(a->j, b->j) < 0;
    break;
  default:
    *res = json_integer_value(a->j) < json_integer_value(b->j);
  }
  return 0;
}

/* An int for index and slice: Go's indexArg */
static int index_arg(const struct tpl_value *v, size_t cap, int64_t *x, char **msg) {
  enum basic k = basic_kind(v);
  if (k == K_INT || k == K_UINT) {
    *x = json_integer_value(v->j);
  } else if (is_nil(v)) {
    *msg = strdup("cannot index slice/array with nil");
    return -1;
  } else {
    if (asprintf(msg, "cannot index slice/array with type %s", strata_tpl_type_name(v)) < 0)
      *msg = NULL;
    return -1;
  }
  if (*x < 0 || (uint64_t)*x > cap) {
    if (asprintf(msg, "index out of range: %lld", (long long)*x) < 0)
      *msg = NULL;
    return -1;
  }
  return 0;
}

static int fn_index(const struct tpl_value *item0, const struct tpl_value *idx, size_t n,
                    struct tpl_value *out, char **msg) {
  struct tpl_value item = vcopy(item0);
  if (is_nil(&item)) {
    vfree(&item);
    *msg = strdup("index of untyped nil");
    return -1;
  }
  for (size_t k = 0; k < n; k++) {
    struct tpl_value next = {0};
    int64_t x;
    if (is_nil(&item)) { /* a nil element reached on the way */
      vfree(&item);
      *msg = strdup("index of nil pointer");
      return -1;
    }
    if (item.kind == TV_JSON && json_is_object(item.j)) {
      if (idx[k].kind == TV_INVALID) {
        *msg = strdup("value is nil; should be of type string");
      } else if (basic_kind(&idx[k]) != K_STRING) {
        if (asprintf(msg, "value has type %s; should be string", strata_tpl_type_name(&idx[k])) < 0)
          *msg = NULL;
      } else {
        json_t *v = json_object_get(item.j, json_string_value(idx[k].j));
        next = vjson(json_incref(v ? v : json_null()), true);
      }
    } else if (json_is_array(item.j)) {
      if (index_arg(&idx[k], json_array_size(item.j), &x, msg) == 0) {
        if ((size_t)x == json_array_size(item.j))
          *msg = strdup("reflect: slice index out of range");
        else
          next = vjson(json_incref(json_array_get(item.j, (size_t)x)), item.kind != TV_STRINGS);
      }
    } else if (json_is_string(item.j)) {
      if (index_arg(&idx[k], json_string_length(item.j), &x, msg) == 0) {
        if ((size_t)x == json_string_length(item.j))
          *msg = strdup("reflect: string index out of range");
        else
          next = (struct tpl_value){
              .kind = TV_BYTE, .j = json_integer((unsigned char)json_string_value(item.j)[x])};
      }
    } else if (asprintf(msg, "can't index item of type %s", strata_tpl_type_name(&item)) < 0) {
      *msg = NULL;
    }
    vfree(&item);
    if (next.j == NULL)
      return -1;
    item = next;
  }
  *out = item;
  return 0;
}

static int fn_slice(const struct tpl_value *item, const struct tpl_value *idx, size_t n,
                    struct tpl_value *out, char **msg) {
  int64_t x[3];
  size_t len;
  bool is_str;
  if (is_nil(item)) {
    *msg = strdup("slice of untyped nil");
    return -1;
  }
  if (n > 3) {
    if (asprintf(msg, "too many slice indexes: %zu", n) < 0)
      *msg = NULL;
    return -1;
  }
  is_str = item->kind == TV_JSON && json_is_string(item->j);
  if (is_str) {
    if (n == 3) {
      *msg = strdup("cannot 3-index slice a string");
      return -1;
    }
    len = json_string_length(item->j);
  } else if (json_is_array(item->j) && item->kind != TV_INT && item->kind != TV_BYTE) {
    len = json_array_size(item->j);
  } else {
    if (asprintf(msg, "can't slice item of type %s", strata_tpl_type_name(item)) < 0)
      *msg = NULL;
    return -1;
  }
  x[0] = 0;
  x[1] = (int64_t)len;
  x[2] = (int64_t)len;
  for (size_t k = 0; k < n; k++)
    if (index_arg(&idx[k], len, &x[k], msg) < 0)
      return -1;
  if (x[0] > x[1] || (n == 3 && x[1] > x[2])) {
    int a = x[0] > x[1] ? 0 : 1;
    if (asprintf(msg, "invalid slice index: %lld > %lld", (long long)x[a], (long long)x[a + 1]) < 0)
      *msg = NULL;
    return -1;
  }
  if (is_str) {
    *out = vstring(json_string_value(item->j) + x[0], (size_t)(x[1] - x[0]));
  } else {
    json_t *a = json_array();
    for (int64_t k = x[0]; k < x[1]; k++)
      json_array_append(a, json_array_get(item->j, (size_t)k));
    *out = (struct tpl_value){.kind = item->kind == TV_STRINGS ? TV_STRINGS : TV_JSON, .j = a};
  }
  return 0;
}

static int fn_len(const struct tpl_value *v, struct tpl_value *out, char **msg) {
  if (v->kind == TV_INVALID) {
    *msg = strdup("reflect: call of reflect.Value.Type on zero Value");
    return -1;
  }
  if (json_is_null(v->j)) {
    *msg = strdup("len of nil pointer");
    return -1;
  }
  if (v->kind == TV_JSON || v->kind == TV_STRINGS) {
    if (json_is_object(v->j)) {
      *out = vint((int64_t)json_object_size(v->j));
      return 0;
    }
    if (json_is_array(v->j)) {
      *out = vint((int64_t)json_array_size(v->j));
      return 0;
    }
    if (json_is_string(v->j)) {
      *out = vint((int64_t)json_string_length(v->j));
      return 0;
    }
  }
  if (asprintf(msg, "len of type %s", strata_tpl_type_name(v)) < 0)
    *msg = NULL;
  return -1;
}

/* ------------------------------------------------------------------ Docker's functions */

static locale_t utf8_locale(void) {
  static locale_t loc;
  static bool tried;
  if (!tried) {
    tried = true;
    loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
  }
  return loc;
}

/* strings.ToLower / ToUpper / Title over UTF-8, rune by rune */
static void map_case(struct tpl_buf *b, const char *s, size_t n, int mode /* 'l', 'u', 't' */) {
  locale_t loc = utf8_locale();
  bool prev_sep = true;
  for (size_t k = 0; k < n;) {
    unsigned char c = (unsigned char)s[k];
    size_t len = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
    unsigned cp = c;
    bool valid = len <= n - k;
    if (len > 1 && valid) {
      cp = len == 2 ? c & 0x1f : len == 3 ? c & 0x0f : c & 0x07;
      for (size_t i = 1; i < len; i++) {
        if (((unsigned char)s[k + i] & 0xc0) != 0x80)
          valid = false;
        cp = (cp << 6) | ((unsigned char)s[k + i] & 0x3f);
      }
    }
    if (!valid || (len == 1 && c >= 0x80)) {
      /* invalid byte: ToLower/ToUpper write U+FFFD, Title keeps it */
      if (mode == 't')
        strata_tpl_buf_putc(b, (char)c);
      else
        strata_tpl_buf_puts(b, "\xef\xbf\xbd");
      prev_sep = false;
      k++;
      continue;
    }
    bool is_sep;
    if (cp < 0x80)
      is_sep = !((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9') ||
                 cp == '_');
    else
      is_sep = loc ? iswspace_l((wint_t)cp, loc) : false;
    unsigned mapped = cp;
    if (mode == 'l' || (mode == 'u') || (mode == 't' && prev_sep)) {
      bool up = mode != 'l';
      if (cp < 0x80)
        mapped = up ? (cp >= 'a' && cp <= 'z' ? cp - 32 : cp) : (cp >= 'A' && cp <= 'Z' ? cp + 32 : cp);
      else if (loc)
        mapped = (unsigned)(up ? towupper_l((wint_t)cp, loc) : towlower_l((wint_t)cp, loc));
    }
    if (mapped == cp) {
      strata_tpl_buf_add(b, s + k, len);
    } else {
      char out[4];
      size_t on;
      if (mapped < 0x80) {
        out[0] = (char)mapped;
        on = 1;
      } else if (mapped < 0x800) {
        out[0] = (char)(0xc0 | (mapped >> 6));
        out[1] = (char)(0x80 | (mapped & 0x3f));
        on = 2;
      } else if (mapped < 0x10000) {
        out[0] = (char)(0xe0 | (mapped >> 12));
        out[1] = (char)(0x80 | ((mapped >> 6) & 0x3f));
        out[2] = (char)(0x80 | (mapped & 0x3f));
        on = 3;
      } else {
        out[0] = (char)(0xf0 | (mapped >> 18));
        out[1] = (char)(0x80 | ((mapped >> 12) & 0x3f));
        out[2] = (char)(0x80 | ((mapped >> 6) & 0x3f));
        out[3] = (char)(0x80 | (mapped & 0x3f));
        on = 4;
      }
      strata_tpl_buf_add(b, out, on);
    }
    prev_sep = is_sep;
    k += len;
  }
}

static struct tpl_value buf_value(struct tpl_buf *b) {
  struct tpl_value v = vstring(b->s ? b->s : "", b->len);
  strata_tpl_buf_free(b);
  return v;
}

/* strings.Split */
static struct tpl_value split(json_t *str, json_t *sep) {
  const char *s = json_string_value(str), *p = json_string_value(sep);
  size_t n = json_string_length(str), m = json_string_length(sep);
  json_t *a = json_array();
  if (m == 0) {
    for (size_t k = 0; k < n;) {
      unsigned char c = (unsigned char)s[k];
      size_t len = c < 0xc0 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
      if (len > n - k)
        len = 1;
      json_array_append_new(a, json_stringn_nocheck(s + k, len));
      k += len;
    }
  } else {
    size_t start = 0;
    for (size_t k = 0; k + m <= n;) {
      if (memcmp(s + k, p, m) == 0) {
        json_array_append_new(a, json_stringn_nocheck(s + start, k - start));
        k += m;
        start = k;
      } else {
        k++;
      }
    }
    json_array_append_new(a, json_stringn_nocheck(s + start, n - start));
  }
  return (struct tpl_value){.kind = TV_STRINGS, .j = a};
}

/* ------------------------------------------------------------------ calls */

struct func {
  const char *name;
  size_t nfixed;
  bool variadic;
  enum ptype fixed[3];
  enum ptype rest;
};

static const struct func funcs[] = {
    {"and", 1, true, {P_VALUE}, P_VALUE},
    {"or", 1, true, {P_VALUE}, P_VALUE},
    {"not", 1, false, {P_VALUE}, 0},
    {"len", 1, false, {P_VALUE}, 0},
    {"index", 1, true, {P_VALUE}, P_VALUE},
    {"slice", 1, true, {P_VALUE}, P_VALUE},
    {"print", 0, true, {0}, P_ANY},
    {"printf", 1, true, {P_STRING}, P_ANY},
    {"println", 0, true, {0}, P_ANY},
    {"eq", 1, true, {P_VALUE}, P_VALUE},
    {"ne", 2, false, {P_VALUE, P_VALUE}, 0},
    {"lt", 2, false, {P_VALUE, P_VALUE}, 0},
    {"le", 2, false, {P_VALUE, P_VALUE}, 0},
    {"gt", 2, false, {P_VALUE, P_VALUE}, 0},
    {"ge", 2, false, {P_VALUE, P_VALUE}, 0},
    {"json", 1, false, {P_ANY}, 0},
    {"split", 2, false, {P_STRING, P_STRING}, 0},
    {"join", 2, false, {P_STRINGS, P_STRING}, 0},
    {"title", 1, false, {P_STRING}, 0},
    {"lower", 1, false, {P_STRING}, 0},
    {"upper", 1, false, {P_STRING}, 0},
    {"pad", 3, false, {P_STRING, P_INT, P_INT}, 0},
    {"truncate", 2, false, {P_STRING, P_INT}, 0},
    {NULL, 0, false, {0}, 0},
};

/* Docker renders table headers with these in place of its functions, so
 * that {{upper .Name}} still prints the header text NAME unchanged. */
static const struct func header_funcs[] = {
    {"json", 1, false, {P_STRING}, 0},
    {"split", 2, false, {P_STRING, P_STRING}, 0},
    {"join", 2, false, {P_STRING, P_STRING}, 0},
    {"title", 1, false, {P_STRING}, 0},
    {"lower", 1, false, {P_STRING}, 0},
    {"upper", 1, false, {P_STRING}, 0},
    {"truncate", 2, false, {P_STRING, P_INT}, 0},
    {NULL, 0, false, {0}, 0},
};

static int call_builtin(struct state *st, const struct func *f, struct tpl_value *argv, size_t n,
                        struct tpl_value *out, char **msg) {
  const char *name = f->name;
  bool b;
  (void)st;
  if (st->header && f >= header_funcs && f < header_funcs + sizeof(header_funcs) / sizeof(*f)) {
    *out = vcopy(&argv[0]); /* the header text passes through */
    return 0;
  }
  if (strcmp(name, "not") == 0) {
    *out = vbool(!truth(&argv[0]));
    return 0;
  }
  if (strcmp(name, "len") == 0)
    return fn_len(&argv[0], out, msg);
  if (strcmp(name, "index") == 0)
    return fn_index(&argv[0], argv + 1, n - 1, out, msg);
  if (strcmp(name, "slice") == 0)
    return fn_slice(&argv[0], argv + 1, n - 1, out, msg);
  if (strcmp(name, "print") == 0 || strcmp(name, "println") == 0 || strcmp(name, "printf") == 0) {
    struct tpl_buf buf = {0};
    if (name[5] == 'f')
      strata_tpl_sprintf(&buf, json_string_value(argv[0].j), json_string_length(argv[0].j), argv + 1,
                         n - 1);
    else
      strata_tpl_sprint(&buf, argv, n, name[5] == 'l');
    *out = buf_value(&buf);
    return 0;
  }
  if (strcmp(name, "eq") == 0 || strcmp(name, "ne") == 0) {
    if (fn_eq(&argv[0], argv + 1, n - 1, &b, msg) < 0)
      return -1;
    *out = vbool(name[0] == 'e' ? b : !b);
    return 0;
  }
  if (strcmp(name, "lt") == 0 || strcmp(name, "ge") == 0) {
    if (fn_lt(&argv[0], &argv[1], &b, msg) < 0)
      return -1;
    *out = vbool(name[0] == 'l' ? b : !b);
    return 0;
  }
  if (strcmp(name, "le") == 0 || strcmp(name, "gt") == 0) {
    bool lt;
    if (fn_lt(&argv[0], &argv[1], &lt, msg) < 0)
      return -1;
    b = lt;
    if (!lt && fn_eq(&argv[0], &argv[1], 1, &b, msg) < 0)
      return -1;
    *out = vbool(name[0] == 'l' ? b : !b);
    return 0;
  }
  if (strcmp(name, "json") == 0) {
    struct tpl_buf buf = {0};
    strata_tpl_json(&buf, is_nil(&argv[0]) ? NULL : argv[0].j);
    *out = buf_value(&buf);
    return 0;
  }
  if (strcmp(name, "split") == 0) {
    *out = split(argv[0].j, argv[1].j);
    return 0;
  }
  if (strcmp(name, "join") == 0) {
    struct tpl_buf buf = {0};
    size_t i;
    json_t *e;
    json_array_foreach(argv[0].j, i, e) {
      if (i > 0)
        strata_tpl_buf_add(&buf, json_string_value(argv[1].j), json_string_length(argv[1].j));
      strata_tpl_buf_add(&buf, json_string_value(e), json_string_length(e));
    }
    *out = buf_value(&buf);
    return 0;
  }
  if (strcmp(name, "title") == 0 || strcmp(name, "lower") == 0 || strcmp(name, "upper") == 0) {
    struct tpl_buf buf = {0};
    map_case(&buf, json_string_value(argv[0].j), json_string_length(argv[0].j), name[0]);
    *out = buf_value(&buf);
    return 0;
  }
  if (strcmp(name, "pad") == 0) {
    /* padWithSpace: empty strings stay empty */
    struct tpl_buf buf = {0};
    int64_t l = json_integer_value(argv[1].j), r = json_integer_value(argv[2].j);
    if (json_string_length(argv[0].j) > 0) {
      if (l < 0 || r < 0) {
        *msg = strdup("strings: negative Repeat count");
        return -1;
      }
      for (int64_t k = 0; k < l && k < 1000000; k++)
        strata_tpl_buf_putc(&buf, ' ');
      strata_tpl_buf_add(&buf, json_string_value(argv[0].j), json_string_length(argv[0].j));
      for (int64_t k = 0; k < r && k < 1000000; k++)
        strata_tpl_buf_putc(&buf, ' ');
    }
    *out = buf_value(&buf);
    return 0;
  }
  if (strcmp(name, "truncate") == 0) {
    /* truncateWithLength cuts bytes, as Docker's does */
    size_t len = json_string_length(argv[0].j);
    int64_t want = json_integer_value(argv[1].j);
    if ((int64_t)len < want) {
      *out = vcopy(&argv[0]);
      return 0;
    }
    if (want < 0) {
      if (asprintf(msg, "runtime error: slice bounds out of range [:%lld]", (long long)want) < 0)
        *msg = NULL;
      return -1;
    }
    *out = vstring(json_string_value(argv[0].j), (size_t)want);
    return 0;
  }
  *msg = strdup("not implemented");
  return -1;
}

static const struct func *find_func(struct state *st, const char *name) {
  if (st->header)
    for (const struct func *f = header_funcs; f->name; f++)
      if (strcmp(f->name, name) == 0)
        return f;
  for (const struct func *f = funcs; f->name; f++)
    if (strcmp(f->name, name) == 0)
      return f;
  return NULL;
}

static int eval_function(struct state *st, const struct tpl_value *dot, const struct tpl_node *ident,
                         const struct tpl_node *cmd, struct tpl_node *const *args, size_t nargs,
                         const struct tpl_value *final, struct tpl_value *out) {
  const struct func *f;
  size_t nin, k = 0;
  struct tpl_value *argv;
  char *msg = NULL;
  int r = 0;

  st->node = ident;
  f = find_func(st, ident->str);
  if (f == NULL)
    return fail(st, "\"%s\" is not a defined function", ident->str);
  if (args != NULL) { /* args[0] is the function itself */
    args++;
    nargs--;
  }
  nin = nargs + (final ? 1 : 0);
  if (f->variadic) {
    if (nin < f->nfixed)
      return fail(st, "wrong number of args for %s: want at least %zu got %zu", f->name, f->nfixed,
                  nargs);
  } else if (nin != f->nfixed) {
    return fail(st, "wrong number of args for %s: want %zu got %zu", f->name, f->nfixed, nin);
  }

  /* and, or: short-circuit, and give back the deciding value itself */
  if (strcmp(f->name, "and") == 0 || strcmp(f->name, "or") == 0) {
    bool is_or = f->name[0] == 'o';
    struct tpl_value v = {0};
    for (k = 0; k < nargs; k++) {
      vfree(&v);
      if (eval_arg(st, dot, P_VALUE, args[k], &v) < 0)
        return -1;
      if (truth(&v) == is_or) {
        *out = v;
        return 0;
      }
    }
    if (final) {
      vfree(&v);
      v = vcopy(final);
    }
    *out = v;
    return 0;
  }

  argv = calloc(nin ? nin : 1, sizeof(*argv));
  if (argv == NULL)
    return strata_error_set(st->err, ENOMEM, "template");
  for (k = 0; k < nargs && r == 0; k++)
    r = eval_arg(st, dot, k < f->nfixed ? f->fixed[k] : f->rest, args[k], &argv[k]);
  if (r == 0 && final) {
    enum ptype t;
    if (f->variadic)
      t = nin - 1 < f->nfixed ? f->fixed[nin - 1] : f->rest;
    else
      t = f->fixed[f->nfixed - 1];
    argv[nargs] = vcopy(final);
    r = validate_type(st, &argv[nargs], t);
  }
  if (r == 0 && call_builtin(st, f, argv, nin, out, &msg) < 0) {
    st->node = cmd;
    r = fail(st, "error calling %s: %s", f->name, msg ? msg : "out of memory");
  }
  free(msg);
  for (k = 0; k < nin; k++)
    vfree(&argv[k]);
  free(argv);
  return r;
}

static int eval_command(struct state *st, const struct tpl_value *dot, const struct tpl_node *cmd,
                        const struct tpl_value *final, struct tpl_value *out) {
  const struct tpl_node *first = cmd->kids[0];
  char *s;
  int r;
  switch (first->type) {
  case N_FIELD:
    return eval_field_node(st, dot, first, cmd->kids, cmd->nkids, final, out);
  case N_CHAIN:
    return eval_chain_node(st, dot, first, cmd->kids, cmd->nkids, final, out);
  case N_IDENT:
    return eval_function(st, dot, first, cmd, cmd->kids, cmd->nkids, final, out);
  case N_PIPE:
    if (not_a_function(st, cmd->kids, cmd->nkids, final) < 0)
      return -1;
    return eval_pipeline(st, dot, first, out);
  case N_VARIABLE:
    return eval_variable_node(st, dot, first, cmd->kids, cmd->nkids, final, out);
  default:
    break;
  }
  st->node = first;
  if (not_a_function(st, cmd->kids, cmd->nkids, final) < 0)
    return -1;
  switch (first->type) {
  case N_BOOL:
    *out = vbool(first->truth);
    return 0;
  case N_DOT:
    *out = vcopy(dot);
    return 0;
  case N_NIL:
    return fail(st, "nil is not a command");
  case N_NUMBER:
    return ideal_constant(st, first, out);
  case N_STRING:
    *out = vstring(first->str, first->len);
    return 0;
  default:
    s = node_text(first);
    r = fail(st, "can't evaluate command \"%s\"", s);
    free(s);
    return r;
  }
}

static int eval_pipeline(struct state *st, const struct tpl_value *dot, const struct tpl_node *pipe,
                         struct tpl_value *out) {
  struct tpl_value value = {0};
  bool have = false;
  st->node = pipe;
  for (size_t k = 0; k < pipe->nkids; k++) {
    struct tpl_value next;
    if (eval_command(st, dot, pipe->kids[k], have ? &value : NULL, &next) < 0) {
      vfree(&value);
      return -1;
    }
    vfree(&value);
    value = next;
    have = true;
    /* an interface{} is unwrapped: a nil one becomes no value at all */
    if (value.kind == TV_JSON && json_is_null(value.j))
      vfree(&value);
    value.boxed = false;
  }
  for (size_t k = 0; k < pipe->ndecl; k++) {
    int r = pipe->is_assign ? set_var(st, pipe->decl[k]->idents[0], &value)
                            : push_var(st, pipe->decl[k]->idents[0], &value);
    if (r < 0) {
      vfree(&value);
      return -1;
    }
  }
  *out = value;
  return 0;
}

/* ------------------------------------------------------------------ walk */

static int walk(struct state *st, const struct tpl_value *dot, const struct tpl_node *n);

static int walk_if_or_with(struct state *st, const struct tpl_value *dot, const struct tpl_node *n) {
  size_t mark = st->nvars;
  struct tpl_value val;
  int r;
  if (eval_pipeline(st, dot, n->pipe, &val) < 0)
    return -1;
  if (truth(&val))
    r = walk(st, n->type == N_WITH ? &val : dot, n->list);
  else if (n->else_list)
    r = walk(st, dot, n->else_list);
  else
    r = 0;
  vfree(&val);
  pop_vars(st, mark);
  return r;
}

static int range_one(struct state *st, const struct tpl_node *n, size_t mark,
                     const struct tpl_value *index, const struct tpl_value *elem) {
  int r;
  if (n->pipe->ndecl > 0)
    set_top_var(st, 1, elem);
  if (n->pipe->ndecl > 1)
    set_top_var(st, 2, index);
  r = walk(st, elem, n->list);
  pop_vars(st, mark);
  return r;
}

static int walk_range(struct state *st, const struct tpl_value *dot, const struct tpl_node *n) {
  size_t outer = st->nvars, mark;
  struct tpl_value val;
  int r = 0;
  bool iterated = false;
  st->node = n;
  if (eval_pipeline(st, dot, n->pipe, &val) < 0)
    return -1;
  mark = st->nvars;
  if ((val.kind == TV_JSON || val.kind == TV_STRINGS) && json_is_array(val.j)) {
    size_t i;
    json_t *e;
    json_array_foreach(val.j, i, e) {
      struct tpl_value index = vint((int64_t)i), elem = vjson(json_incref(e), val.kind != TV_STRINGS);
      iterated = true;
      r = range_one(st, n, mark, &index, &elem);
      vfree(&index);
      vfree(&elem);
      if (r == WALK_CONTINUE)
        r = 0;
      if (r != 0)
        break;
    }
  } else if (val.kind == TV_JSON && json_is_object(val.j)) {
    size_t nkeys = json_object_size(val.j), i = 0;
    const char **keys = nkeys ? malloc(nkeys * sizeof(*keys)) : NULL;
    const char *key;
    json_t *e;
    json_object_foreach(val.j, key, e) {
      if (keys)
        keys[i++] = key;
    }
    if (keys) {
      /* Go ranges over maps in sorted key order */
      for (size_t a = 1; a < nkeys; a++)
        for (size_t b = a; b > 0 && strcmp(keys[b - 1], keys[b]) > 0; b--) {
          const char *t = keys[b];
          keys[b] = keys[b - 1];
          keys[b - 1] = t;
        }
      for (i = 0; i < nkeys; i++) {
        struct tpl_value index = vstring(keys[i], strlen(keys[i]));
        struct tpl_value elem = vjson(json_incref(json_object_get(val.j, keys[i])), true);
        iterated = true;
        r = range_one(st, n, mark, &index, &elem);
        vfree(&index);
        vfree(&elem);
        if (r == WALK_CONTINUE)
          r = 0;
        if (r != 0)
          break;
      }
      free(keys);
    }
  } else if (val.kind != TV_INVALID) {
    char *s = describe(&val, "%v");
    r = fail(st, "range can't iterate over %s", s);
    free(s);
  }
  if (r == WALK_BREAK)
    r = 0;
  if (r == 0 && !iterated && n->else_list)
    r = walk(st, dot, n->else_list);
  vfree(&val);
  pop_vars(st, outer);
  return r;
}

static int walk(struct state *st, const struct tpl_value *dot, const struct tpl_node *n) {
  struct tpl_value val;
  int r;
  st->node = n;
  switch (n->type) {
  case N_ACTION:
    if (eval_pipeline(st, dot, n->pipe, &val) < 0)
      return -1;
    if (n->pipe->ndecl == 0) {
      st->node = n;
      if (val.kind == TV_INVALID)
        strata_tpl_buf_puts(st->out, "<no value>");
      else
        strata_tpl_fmt_value(st->out, &val);
    }
    vfree(&val);
    return 0;
  case N_BREAK:
    return WALK_BREAK;
  case N_CONTINUE:
    return WALK_CONTINUE;
  case N_COMMENT:
    return 0;
  case N_IF:
  case N_WITH:
    return walk_if_or_with(st, dot, n);
  case N_LIST:
    for (size_t k = 0; k < n->nkids; k++)
      if ((r = walk(st, dot, n->kids[k])) != 0)
        return r;
    return 0;
  case N_RANGE:
    return walk_range(st, dot, n);
  case N_TEXT:
    strata_tpl_buf_add(st->out, n->str, n->len);
    return 0;
  default:
    return fail(st, "unknown node");
  }
}

int strata_tpl_execute(const struct strata_template *tpl, json_t *dot,
                       const struct strata_template_options *opts, bool header_mode,
                       struct tpl_buf *out, struct strata_error **err) {
  static const struct strata_template_options defaults = {0};
  struct state st = {
      .tpl = tpl,
      .opts = opts ? opts : &defaults,
      .root = dot,
      .header = header_mode,
      .out = out,
      .err = err,
  };
  struct tpl_value d = vjson(json_incref(dot), false);
  int r;
  if (d.kind == TV_JSON && json_is_null(d.j))
    vfree(&d); /* Execute(w, nil): dot is no value */
  r = push_var(&st, "$", &d);
  if (r == 0)
    r = walk(&st, &d, tpl->root);
  pop_vars(&st, 0);
  free(st.vars);
  vfree(&d);
  if (r == 0 && out->oom)
    r = strata_error_set(err, ENOMEM, "template output");
  return r < 0 ? -1 : 0;
}
