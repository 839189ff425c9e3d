/* How Go prints template values: fmt's verbs (Sprint, Sprintf, Sprintln)
 * and encoding/json's output, over the value kinds of template-internal.h.
 * Only the parts of fmt a template can reach are here: no %p, no argument
 * indexes ([n]), no Stringer/error methods (JSON values have none). */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template-internal.h"

/* ------------------------------------------------------------------ buffer */

void strata_tpl_buf_add(struct tpl_buf *b, const char *s, size_t n) {
  if (b->oom)
    return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 64;
    char *ns;
    while (cap < b->len + n + 1)
      cap *= 2;
    ns = realloc(b->s, cap);
    if (ns == NULL) {
      b->oom = true;
      return;
    }
    b->s = ns;
    b->cap = cap;
  }
  if (n)
    memcpy(b->s + b->len, s, n);
  b->len += n;
  b->s[b->len] = '\0';
}

void strata_tpl_buf_puts(struct tpl_buf *b, const char *s) { strata_tpl_buf_add(b, s, strlen(s)); }

void strata_tpl_buf_putc(struct tpl_buf *b, char c) { strata_tpl_buf_add(b, &c, 1); }

void strata_tpl_buf_printf(struct tpl_buf *b, const char *fmt, ...) {
  char small[256];
  va_list ap;
  int n;
  va_start(ap, fmt);
  n = vsnprintf(small, sizeof(small), fmt, ap);
  va_end(ap);
  if (n < 0)
    return;
  if ((size_t)n < sizeof(small)) {
    strata_tpl_buf_add(b, small, (size_t)n);
    return;
  }
  char *big = malloc((size_t)n + 1);
  if (big == NULL) {
    b->oom = true;
    return;
  }
  va_start(ap, fmt);
  vsnprintf(big, (size_t)n + 1, fmt, ap);
  va_end(ap);
  strata_tpl_buf_add(b, big, (size_t)n);
  free(big);
}

void strata_tpl_buf_free(struct tpl_buf *b) {
  free(b->s);
  *b = (struct tpl_buf){0};
}

/* ------------------------------------------------------------------ UTF-8 */

/* Decodes one rune of S (N > 0 bytes) like Go's utf8.DecodeRune: invalid
 * input yields U+FFFD and a width of 1. */
static unsigned decode_rune(const unsigned char *s, size_t n, size_t *width) {
  unsigned c = s[0], cp, min;
  size_t len;
  *width = 1;
  if (c < 0x80)
    return c;
  if (c >= 0xc2 && c <= 0xdf) {
    len = 2;
    cp = c & 0x1f;
    min = 0x80;
  } else if (c >= 0xe0 && c <= 0xef) {
    len = 3;
    cp = c & 0x0f;
    min = 0x800;
  } else if (c >= 0xf0 && c <= 0xf4) {
    len = 4;
    cp = c & 0x07;
    min = 0x10000;
  } else {
    return 0xfffd;
  }
  if (len > n)
    return 0xfffd;
  for (size_t k = 1; k < len; k++) {
    if ((s[k] & 0xc0) != 0x80)
      return 0xfffd;
    cp = (cp << 6) | (s[k] & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000))
    return 0xfffd;
  *width = len;
  return cp;
}

static void put_rune(struct tpl_buf *b, unsigned cp) {
  char out[4];
  size_t n;
  if (cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000))
    cp = 0xfffd;
  if (cp < 0x80) {
    out[0] = (char)cp;
    n = 1;
  } else if (cp < 0x800) {
    out[0] = (char)(0xc0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3f));
    n = 2;
  } else if (cp < 0x10000) {
    out[0] = (char)(0xe0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[2] = (char)(0x80 | (cp & 0x3f));
    n = 3;
  } else {
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    n = 4;
  }
  strata_tpl_buf_add(b, out, n);
}

static size_t rune_count(const char *s, size_t n) {
  size_t count = 0, w;
  for (size_t k = 0; k < n; k += w) {
    decode_rune((const unsigned char *)s + k, n - k, &w);
    count++;
  }
  return count;
}

/* Go's unicode.IsPrint, approximated: the C0 and C1 controls, DEL, and the
 * invisible format characters Go refuses are not printable. */
static bool is_print(unsigned cp) {
  if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0) || cp == 0xad)
    return false;
  if ((cp >= 0x200b && cp <= 0x200f) || (cp >= 0x2028 && cp <= 0x202e) ||
      (cp >= 0x2060 && cp <= 0x206f) || cp == 0xfeff || (cp >= 0xfff9 && cp <= 0xfffb) ||
      cp == 0xfffe || cp == 0xffff || (cp >= 0xe000 && cp <= 0xf8ff) || cp >= 0xf0000)
    return false;
  return true;
}

static void quote_rune_into(struct tpl_buf *b, unsigned cp, size_t width, const unsigned char *raw,
                            char quote, bool ascii_only) {
  if (width == 1 && cp == 0xfffd) {
    strata_tpl_buf_printf(b, "\\x%02x", raw[0]);
    return;
  }
  if (cp == (unsigned char)quote || cp == '\\') {
    strata_tpl_buf_putc(b, '\\');
    strata_tpl_buf_putc(b, (char)cp);
    return;
  }
  if (ascii_only ? (cp < 0x80 && is_print(cp)) : is_print(cp)) {
    if (raw != NULL)
      strata_tpl_buf_add(b, (const char *)raw, width);
    else
      put_rune(b, cp);
    return;
  }
  switch (cp) {
  case 7: strata_tpl_buf_puts(b, "\\a"); return;
  case 8: strata_tpl_buf_puts(b, "\\b"); return;
  case 12: strata_tpl_buf_puts(b, "\\f"); return;
  case 10: strata_tpl_buf_puts(b, "\\n"); return;
  case 13: strata_tpl_buf_puts(b, "\\r"); return;
  case 9: strata_tpl_buf_puts(b, "\\t"); return;
  case 11: strata_tpl_buf_puts(b, "\\v"); return;
  }
  if (cp < ' ' || cp == 0x7f)
    strata_tpl_buf_printf(b, "\\x%02x", cp);
  else if (cp < 0x10000)
    strata_tpl_buf_printf(b, "\\u%04x", cp);
  else
    strata_tpl_buf_printf(b, "\\U%08x", cp);
}

void strata_tpl_quote(struct tpl_buf *b, const char *s, size_t n, bool ascii_only) {
  size_t w;
  strata_tpl_buf_putc(b, '"');
  for (size_t k = 0; k < n; k += w) {
    unsigned cp = decode_rune((const unsigned char *)s + k, n - k, &w);
    quote_rune_into(b, cp, w, (const unsigned char *)s + k, '"', ascii_only);
  }
  strata_tpl_buf_putc(b, '"');
}

/* strconv.QuoteRune */
static void quote_rune(struct tpl_buf *b, int64_t r, bool ascii_only) {
  unsigned cp = (r < 0 || r > 0x10ffff || (r >= 0xd800 && r < 0xe000)) ? 0xfffd : (unsigned)r;
  strata_tpl_buf_putc(b, '\'');
  quote_rune_into(b, cp, cp == 0xfffd ? 3 : 0, NULL, '\'', ascii_only);
  strata_tpl_buf_putc(b, '\'');
}

static bool can_backquote(const char *s, size_t n) {
  size_t w;
  for (size_t k = 0; k < n; k += w) {
    unsigned cp = decode_rune((const unsigned char *)s + k, n - k, &w);
    if (w == 1 && cp == 0xfffd)
      return false;
    if (cp == '`' || cp == 0xfeff || (cp < ' ' && cp != '\t') || cp == 0x7f)
      return false;
  }
  return true;
}

/* ------------------------------------------------------------------ types */

const char *strata_tpl_type_name(const struct tpl_value *v) {
  switch (v->kind) {
  case TV_INVALID:
    return "<nil>";
  case TV_INT:
    return "int";
  case TV_BYTE:
    return "uint8";
  case TV_STRINGS:
    return "[]string";
  case TV_JSON:
    break;
  }
  switch (json_typeof(v->j)) {
  case JSON_OBJECT:
    return "map[string]interface {}";
  case JSON_ARRAY:
    return "[]interface {}";
  case JSON_STRING:
    return "string";
  case JSON_INTEGER:
    return "int64";
  case JSON_REAL:
    return "float64";
  case JSON_TRUE:
  case JSON_FALSE:
    return "bool";
  case JSON_NULL:
    break;
  }
  return "interface {}";
}

/* ------------------------------------------------------------------ fmt */

struct fmtflags {
  bool minus, plus, sharp, space, zero, sharp_v, plus_v;
  bool wid_present, prec_present;
  int wid, prec;
};

/* fmt.pad: B padded to the width, on the left unless '-' */
static void pad(struct tpl_buf *out, const struct fmtflags *f, const char *s, size_t n) {
  size_t runes;
  if (!f->wid_present || f->wid == 0) {
    strata_tpl_buf_add(out, s, n);
    return;
  }
  runes = rune_count(s, n);
  if (f->minus) {
    strata_tpl_buf_add(out, s, n);
    for (size_t k = runes; (int)k < f->wid; k++)
      strata_tpl_buf_putc(out, ' ');
  } else {
    for (size_t k = runes; (int)k < f->wid; k++)
      strata_tpl_buf_putc(out, f->zero ? '0' : ' ');
    strata_tpl_buf_add(out, s, n);
  }
}

static void pad_str(struct tpl_buf *out, const struct fmtflags *f, const char *s) {
  pad(out, f, s, strlen(s));
}

static void write_padding(struct tpl_buf *out, const struct fmtflags *f, int n) {
  for (int k = 0; k < n; k++)
    strata_tpl_buf_putc(out, f->zero ? '0' : ' ');
}

static void fmt_integer(struct tpl_buf *out, struct fmtflags *f, uint64_t u, int base, bool is_signed,
                        int verb, bool upper) {
  const char *digits = upper ? "0123456789ABCDEFX" : "0123456789abcdefx";
  bool negative = is_signed && (int64_t)u < 0;
  char buf[200];
  int i = sizeof(buf), prec = 0;
  if (negative)
    u = -u;
  if (f->prec_present) {
    prec = f->prec;
    if (prec == 0 && u == 0) {
      bool z = f->zero;
      f->zero = false;
      write_padding(out, f, f->wid);
      f->zero = z;
      return;
    }
  } else if (f->zero && f->wid_present) {
    prec = f->wid;
    if (negative || f->plus || f->space)
      prec--;
  }
  if (prec > 150)
    prec = 150;
  do {
    buf[--i] = digits[u % (uint64_t)base];
    u /= (uint64_t)base;
  } while (u > 0);
  while (i > 0 && prec > (int)sizeof(buf) - i)
    buf[--i] = '0';
  if (f->sharp) {
    if (base == 2) {
      buf[--i] = 'b';
      buf[--i] = '0';
    } else if (base == 8 && buf[i] != '0') {
      buf[--i] = '0';
    } else if (base == 16) {
      buf[--i] = digits[16];
      buf[--i] = '0';
    }
  }
  if (verb == 'O') {
    buf[--i] = 'o';
    buf[--i] = '0';
  }
  if (negative)
    buf[--i] = '-';
  else if (f->plus)
    buf[--i] = '+';
  else if (f->space)
    buf[--i] = ' ';
  bool z = f->zero;
  f->zero = false;
  pad(out, f, buf + i, sizeof(buf) - (size_t)i);
  f->zero = z;
}

/* Shortest decimal digits that read back as V (V finite, > 0): DIGITS
 * without trailing zeros, *DP the position of the decimal point as in
 * Go's decimalSlice. */
static void shortest_digits(double v, char *digits, int *nd, int *dp) {
  char buf[64];
  for (int prec = 0; prec < 17; prec++) {
    snprintf(buf, sizeof(buf), "%.*e", prec, v);
    if (strtod(buf, NULL) == v || prec == 16)
      break;
  }
  /* buf is d.ddde[+-]XX */
  char *e = strchr(buf, 'e');
  int n = 0;
  for (char *s = buf; s < e; s++)
    if (*s >= '0' && *s <= '9')
      digits[n++] = *s;
  while (n > 1 && digits[n - 1] == '0')
    n--;
  digits[n] = '\0';
  *nd = n;
  *dp = atoi(e + 1) + 1;
}

/* strconv.FormatFloat(v, fmt, -1, 64) for fmt in e, E, f, g, G */
static void format_shortest(struct tpl_buf *b, double v, int fmt, int eprec_shortest) {
  char d[32];
  int nd, dp;
  if (v < 0 || (v == 0 && signbit(v))) {
    strata_tpl_buf_putc(b, '-');
    v = -v;
  }
  if (v == 0) {
    d[0] = '0';
    d[1] = '\0';
    nd = 1;
    dp = 1;
  } else {
    shortest_digits(v, d, &nd, &dp);
  }
  if (fmt == 'g' || fmt == 'G') {
    int exp = dp - 1;
    if (exp < -4 || exp >= eprec_shortest)
      fmt = fmt == 'g' ? 'e' : 'E';
    else
      fmt = 'f';
  }
  if (fmt == 'e' || fmt == 'E') {
    int exp = v == 0 ? 0 : dp - 1;
    strata_tpl_buf_putc(b, d[0]);
    if (nd > 1) {
      strata_tpl_buf_putc(b, '.');
      strata_tpl_buf_add(b, d + 1, (size_t)nd - 1);
    }
    strata_tpl_buf_printf(b, "%c%c%02d", fmt, exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    return;
  }
  /* %f with as many fraction digits as needed */
  if (dp > 0) {
    for (int k = 0; k < dp; k++)
      strata_tpl_buf_putc(b, k < nd ? d[k] : '0');
  } else {
    strata_tpl_buf_putc(b, '0');
  }
  if (nd > dp) {
    strata_tpl_buf_putc(b, '.');
    for (int k = dp; k < nd; k++)
      strata_tpl_buf_putc(b, k < 0 ? '0' : d[k]);
  }
}

static void fmt_float(struct tpl_buf *out, struct fmtflags *f, double v, int verb, int prec) {
  struct tpl_buf num = {0};
  char cfmt[16];
  if (f->prec_present)
    prec = f->prec;
  if (isinf(v) || isnan(v)) {
    const char *s = isnan(v) ? "NaN" : v > 0 ? (f->plus ? "+Inf" : f->space ? " Inf" : "+Inf") : "-Inf";
    bool z = f->zero;
    if (isnan(v) && (f->plus || f->space))
      s = f->plus ? "+NaN" : " NaN";
    if (!isnan(v) && v > 0 && !f->plus && !f->space)
      s = "Inf";
    f->zero = false;
    pad_str(out, f, s);
    f->zero = z;
    return;
  }
  if (verb == 'x' || verb == 'X') {
    char buf[64], *p;
    if (prec < 0)
      snprintf(buf, sizeof(buf), verb == 'x' ? "%a" : "%A", v);
    else
      snprintf(buf, sizeof(buf), verb == 'x' ? "%.*a" : "%.*A", prec, v);
    /* Go writes at least two exponent digits */
    p = strpbrk(buf, "pP");
    if (p && (p[1] == '+' || p[1] == '-') && p[2] && p[3] == '\0') {
      p[4] = '\0';
      p[3] = p[2];
      p[2] = '0';
    }
    strata_tpl_buf_puts(&num, buf);
  } else if (prec < 0) {
    format_shortest(&num, v, verb == 'v' ? 'g' : verb, 6);
  } else {
    snprintf(cfmt, sizeof(cfmt), "%%.%d%c", prec, verb == 'v' ? 'g' : verb == 'F' ? 'f' : verb);
    strata_tpl_buf_printf(&num, cfmt, v);
  }
  if (num.oom || num.s == NULL) {
    strata_tpl_buf_free(&num);
    return;
  }
  /* sign handling as fmt.fmtFloat does it */
  {
    const char *s = num.s;
    char sign = '+';
    if (*s == '-' || *s == '+')
      sign = *s++;
    if (f->space && sign == '+' && !f->plus)
      sign = ' ';
    if (f->plus || sign != '+') {
      if (f->zero && f->wid_present && f->wid > (int)strlen(s) + 1) {
        strata_tpl_buf_putc(out, sign);
        write_padding(out, f, f->wid - (int)strlen(s) - 1);
        strata_tpl_buf_puts(out, s);
      } else {
        struct tpl_buf t = {0};
        strata_tpl_buf_putc(&t, sign);
        strata_tpl_buf_puts(&t, s);
        if (t.s)
          pad(out, f, t.s, t.len);
        strata_tpl_buf_free(&t);
      }
    } else {
      pad_str(out, f, s);
    }
  }
  strata_tpl_buf_free(&num);
}

static void fmt_string(struct tpl_buf *out, struct fmtflags *f, const char *s, size_t n, int verb) {
  if (f->prec_present) {
    /* precision counts runes */
    size_t k = 0, w;
    for (int r = 0; k < n && r < f->prec; r++) {
      decode_rune((const unsigned char *)s + k, n - k, &w);
      k += w;
    }
    n = k;
  }
  switch (verb) {
  case 'v':
    if (f->sharp_v)
      goto quoted;
    /* fall through */
  case 's':
    pad(out, f, s, n);
    return;
  case 'x':
  case 'X': {
    struct tpl_buf t = {0};
    const char *hex = verb == 'x' ? "0123456789abcdef" : "0123456789ABCDEF";
    for (size_t k = 0; k < n; k++) {
      if (k > 0 && f->space)
        strata_tpl_buf_putc(&t, ' ');
      if (f->sharp && (k == 0 || f->space)) {
        strata_tpl_buf_putc(&t, '0');
        strata_tpl_buf_putc(&t, (char)verb);
      }
      strata_tpl_buf_putc(&t, hex[(unsigned char)s[k] >> 4]);
      strata_tpl_buf_putc(&t, hex[(unsigned char)s[k] & 15]);
    }
    pad(out, f, t.s ? t.s : "", t.len);
    strata_tpl_buf_free(&t);
    return;
  }
  case 'q':
  quoted: {
    struct tpl_buf t = {0};
    if (f->sharp && can_backquote(s, n)) {
      strata_tpl_buf_putc(&t, '`');
      strata_tpl_buf_add(&t, s, n);
      strata_tpl_buf_putc(&t, '`');
    } else {
      strata_tpl_quote(&t, s, n, f->plus);
    }
    pad(out, f, t.s ? t.s : "", t.len);
    strata_tpl_buf_free(&t);
    return;
  }
  }
}

static void print_json(struct tpl_buf *out, struct fmtflags *f, json_t *j, int verb, int depth);
static void print_value(struct tpl_buf *out, struct fmtflags *f, const struct tpl_value *v, int verb,
                        int depth);

/* %!d(string=hi) */
static void bad_verb(struct tpl_buf *out, struct fmtflags *f, const struct tpl_value *v, int verb) {
  strata_tpl_buf_puts(out, "%!");
  put_rune(out, (unsigned)verb);
  strata_tpl_buf_putc(out, '(');
  if (v == NULL || v->kind == TV_INVALID || (v->kind == TV_JSON && json_is_null(v->j))) {
    strata_tpl_buf_puts(out, "<nil>");
  } else {
    strata_tpl_buf_puts(out, strata_tpl_type_name(v));
    strata_tpl_buf_putc(out, '=');
    print_value(out, f, v, 'v', 0);
  }
  strata_tpl_buf_putc(out, ')');
}

static void print_int(struct tpl_buf *out, struct fmtflags *f, const struct tpl_value *v, int64_t i,
                      bool is_signed, int verb) {
  uint64_t u = (uint64_t)i;
  switch (verb) {
  case 'v':
  case 'd':
    fmt_integer(out, f, u, 10, is_signed, verb, false);
    return;
  case 'b':
    fmt_integer(out, f, u, 2, is_signed, verb, false);
    return;
  case 'o':
  case 'O':
    fmt_integer(out, f, u, 8, is_signed, verb, false);
    return;
  case 'x':
    fmt_integer(out, f, u, 16, is_signed, verb, false);
    return;
  case 'X':
    fmt_integer(out, f, u, 16, is_signed, verb, true);
    return;
  case 'c': {
    struct tpl_buf t = {0};
    put_rune(&t, (i < 0 || i > 0x10ffff) ? 0xfffd : (unsigned)i);
    pad(out, f, t.s ? t.s : "", t.len);
    strata_tpl_buf_free(&t);
    return;
  }
  case 'q': {
    struct tpl_buf t = {0};
    quote_rune(&t, i, f->plus);
    pad(out, f, t.s ? t.s : "", t.len);
    strata_tpl_buf_free(&t);
    return;
  }
  case 'U': {
    struct tpl_buf t = {0};
    int prec = f->prec_present && f->prec > 4 ? f->prec : 4;
    strata_tpl_buf_printf(&t, "U+%0*llX", prec, (unsigned long long)u);
    if (f->sharp && i >= 0 && i <= 0x10ffff && is_print((unsigned)i)) {
      strata_tpl_buf_puts(&t, " '");
      put_rune(&t, (unsigned)i);
      strata_tpl_buf_putc(&t, '\'');
    }
    bool z = f->zero;
    f->zero = false;
    pad(out, f, t.s ? t.s : "", t.len);
    f->zero = z;
    strata_tpl_buf_free(&t);
    return;
  }
  }
  bad_verb(out, f, v, verb);
}

static int cmp_keys(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Keys of object O in Go's map print order (sorted); NULL if empty or out
 * of memory.  The caller frees the array, not the keys. */
static const char **sorted_keys(json_t *o, size_t *n) {
  const char **keys;
  const char *k;
  json_t *v;
  size_t i = 0;
  *n = json_object_size(o);
  if (*n == 0)
    return NULL;
  keys = malloc(*n * sizeof(*keys));
  if (keys == NULL) {
    *n = 0;
    return NULL;
  }
  json_object_foreach(o, k, v) keys[i++] = k;
  qsort(keys, *n, sizeof(*keys), cmp_keys);
  return keys;
}

static void print_json(struct tpl_buf *out, struct fmtflags *f, json_t *j, int verb, int depth) {
  struct tpl_value v = {.kind = TV_JSON, .j = j};
  print_value(out, f, &v, verb, depth);
}

static void print_value(struct tpl_buf *out, struct fmtflags *f, const struct tpl_value *v, int verb,
                        int depth) {
  json_t *j = v->j;
  if (verb == 'T') {
    pad_str(out, f, strata_tpl_type_name(v));
    return;
  }
  if (v->kind == TV_INVALID || json_is_null(j)) {
    if (depth > 0 && f->sharp_v)
      strata_tpl_buf_puts(out, "interface {}(nil)");
    else if (depth > 0 || verb == 'v')
      pad_str(out, f, "<nil>");
    else
      bad_verb(out, f, NULL, verb);
    return;
  }
  if (v->kind == TV_INT || v->kind == TV_BYTE) {
    print_int(out, f, v, json_integer_value(j), v->kind == TV_INT, verb);
    return;
  }
  switch (json_typeof(j)) {
  case JSON_TRUE:
  case JSON_FALSE:
    if (verb == 't' || verb == 'v')
      pad_str(out, f, json_is_true(j) ? "true" : "false");
    else
      bad_verb(out, f, v, verb);
    return;
  case JSON_INTEGER:
    print_int(out, f, v, json_integer_value(j), true, verb);
    return;
  case JSON_REAL:
    switch (verb) {
    case 'v':
      fmt_float(out, f, json_real_value(j), 'g', -1);
      return;
    case 'b':
    case 'g':
    case 'G':
    case 'x':
    case 'X':
      fmt_float(out, f, json_real_value(j), verb, -1);
      return;
    case 'f':
    case 'e':
    case 'E':
    case 'F':
      fmt_float(out, f, json_real_value(j), verb, 6);
      return;
    }
    bad_verb(out, f, v, verb);
    return;
  case JSON_STRING:
    if (verb == 'v' || verb == 's' || verb == 'x' || verb == 'X' || verb == 'q')
      fmt_string(out, f, json_string_value(j), json_string_length(j), verb);
    else
      bad_verb(out, f, v, verb);
    return;
  case JSON_OBJECT: {
    size_t n;
    const char **keys = sorted_keys(j, &n);
    if (f->sharp_v)
      strata_tpl_buf_puts(out, "map[string]interface {}{");
    else
      strata_tpl_buf_puts(out, "map[");
    for (size_t k = 0; k < n; k++) {
      json_t *key = json_string(keys[k]);
      if (k > 0)
        strata_tpl_buf_puts(out, f->sharp_v ? ", " : " ");
      print_json(out, f, key, verb, depth + 1);
      json_decref(key);
      strata_tpl_buf_putc(out, ':');
      print_json(out, f, json_object_get(j, keys[k]), verb, depth + 1);
    }
    free(keys);
    strata_tpl_buf_putc(out, f->sharp_v ? '}' : ']');
    return;
  }
  case JSON_ARRAY: {
    size_t i;
    json_t *e;
    if (f->sharp_v) {
      strata_tpl_buf_puts(out, v->kind == TV_STRINGS ? "[]string{" : "[]interface {}{");
      json_array_foreach(j, i, e) {
        if (i > 0)
          strata_tpl_buf_puts(out, ", ");
        print_json(out, f, e, verb, depth + 1);
      }
      strata_tpl_buf_putc(out, '}');
      return;
    }
    strata_tpl_buf_putc(out, '[');
    json_array_foreach(j, i, e) {
      if (i > 0)
        strata_tpl_buf_putc(out, ' ');
      print_json(out, f, e, verb, depth + 1);
    }
    strata_tpl_buf_putc(out, ']');
    return;
  }
  case JSON_NULL:
    break;
  }
}

void strata_tpl_fmt_value(struct tpl_buf *b, const struct tpl_value *v) {
  struct fmtflags f = {0};
  print_value(b, &f, v, 'v', 0);
}

static bool is_string_arg(const struct tpl_value *v) {
  return v->kind == TV_JSON && json_is_string(v->j);
}

void strata_tpl_sprint(struct tpl_buf *b, const struct tpl_value *args, size_t nargs, bool ln) {
  bool prev_string = false;
  for (size_t k = 0; k < nargs; k++) {
    bool is_string = is_string_arg(&args[k]);
    if (k > 0 && (ln || (!is_string && !prev_string)))
      strata_tpl_buf_putc(b, ' ');
    strata_tpl_fmt_value(b, &args[k]);
    prev_string = is_string;
  }
  if (ln)
    strata_tpl_buf_putc(b, '\n');
}

/* An int argument for '*' width or precision, as fmt's intFromArg. */
static bool int_from_arg(const struct tpl_value *args, size_t nargs, size_t *argnum, int *out) {
  bool ok = false;
  if (*argnum < nargs) {
    const struct tpl_value *a = &args[*argnum];
    if ((a->kind == TV_INT || a->kind == TV_BYTE) ||
        (a->kind == TV_JSON && json_is_integer(a->j))) {
      int64_t n = json_integer_value(a->j);
      if (n >= -1000000 && n <= 1000000) {
        *out = (int)n;
        ok = true;
      }
    }
    (*argnum)++;
  }
  return ok;
}

void strata_tpl_sprintf(struct tpl_buf *b, const char *format, size_t flen,
                        const struct tpl_value *args, size_t nargs) {
  size_t argnum = 0, i = 0;
  while (i < flen) {
    struct fmtflags f = {0};
    size_t lasti = i, w;
    unsigned verb;
    while (i < flen && format[i] != '%')
      i++;
    if (i > lasti)
      strata_tpl_buf_add(b, format + lasti, i - lasti);
    if (i >= flen)
      break;
    i++; /* '%' */
    for (; i < flen; i++) {
      char c = format[i];
      if (c == '#')
        f.sharp = true;
      else if (c == '0')
        f.zero = !f.minus;
      else if (c == '+')
        f.plus = true;
      else if (c == '-') {
        f.minus = true;
        f.zero = false;
      } else if (c == ' ')
        f.space = true;
      else
        break;
    }
    /* width */
    if (i < flen && format[i] == '*') {
      i++;
      f.wid_present = int_from_arg(args, nargs, &argnum, &f.wid);
      if (!f.wid_present)
        strata_tpl_buf_puts(b, "%!(BADWIDTH)");
      if (f.wid < 0) {
        f.wid = -f.wid;
        f.minus = true;
        f.zero = false;
      }
    } else {
      while (i < flen && format[i] >= '0' && format[i] <= '9' && f.wid < 1000000) {
        f.wid = f.wid * 10 + (format[i] - '0');
        f.wid_present = true;
        i++;
      }
    }
    /* precision */
    if (i + 1 <= flen && i < flen && format[i] == '.') {
      i++;
      if (i < flen && format[i] == '*') {
        i++;
        f.prec_present = int_from_arg(args, nargs, &argnum, &f.prec);
        if (f.prec < 0) {
          f.prec = 0;
          f.prec_present = false;
        }
        if (!f.prec_present)
          strata_tpl_buf_puts(b, "%!(BADPREC)");
      } else {
        f.prec_present = true;
        while (i < flen && format[i] >= '0' && format[i] <= '9' && f.prec < 1000000) {
          f.prec = f.prec * 10 + (format[i] - '0');
          i++;
        }
      }
    }
    if (i >= flen) {
      strata_tpl_buf_puts(b, "%!(NOVERB)");
      break;
    }
    verb = decode_rune((const unsigned char *)format + i, flen - i, &w);
    i += w;
    if (verb == '%') {
      strata_tpl_buf_putc(b, '%');
      continue;
    }
    if (argnum >= nargs) {
      strata_tpl_buf_puts(b, "%!");
      put_rune(b, verb);
      strata_tpl_buf_puts(b, "(MISSING)");
      continue;
    }
    if (verb == 'v') {
      if (f.sharp) {
        f.sharp = false;
        f.sharp_v = true;
      }
      if (f.plus) {
        f.plus = false;
        f.plus_v = true;
      }
    }
    print_value(b, &f, &args[argnum++], (int)verb, 0);
  }
  if (argnum < nargs) {
    strata_tpl_buf_puts(b, "%!(EXTRA ");
    for (size_t k = argnum; k < nargs; k++) {
      struct fmtflags f = {0};
      if (k > argnum)
        strata_tpl_buf_puts(b, ", ");
      if (args[k].kind == TV_INVALID || json_is_null(args[k].j)) {
        strata_tpl_buf_puts(b, "<nil>");
        continue;
      }
      strata_tpl_buf_puts(b, strata_tpl_type_name(&args[k]));
      strata_tpl_buf_putc(b, '=');
      print_value(b, &f, &args[k], 'v', 0);
    }
    strata_tpl_buf_putc(b, ')');
  }
}

/* ------------------------------------------------------------------ json */

static void json_string_go(struct tpl_buf *b, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  size_t w;
  strata_tpl_buf_putc(b, '"');
  for (size_t k = 0; k < n; k += w) {
    unsigned char c = (unsigned char)s[k];
    if (c < 0x80) {
      w = 1;
      if (c == '"' || c == '\\') {
        strata_tpl_buf_putc(b, '\\');
        strata_tpl_buf_putc(b, (char)c);
      } else if (c == '\n') {
        strata_tpl_buf_puts(b, "\\n");
      } else if (c == '\r') {
        strata_tpl_buf_puts(b, "\\r");
      } else if (c == '\t') {
        strata_tpl_buf_puts(b, "\\t");
      } else if (c < 0x20) {
        char e[7] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0};
        strata_tpl_buf_puts(b, e);
      } else {
        strata_tpl_buf_putc(b, (char)c);
      }
      continue;
    }
    unsigned cp = decode_rune((const unsigned char *)s + k, n - k, &w);
    if (cp == 0xfffd && w == 1)
      strata_tpl_buf_puts(b, "\\ufffd");
    else if (cp == 0x2028 || cp == 0x2029)
      strata_tpl_buf_printf(b, "\\u%04x", cp);
    else
      strata_tpl_buf_add(b, s + k, w);
  }
  strata_tpl_buf_putc(b, '"');
}

void strata_tpl_json(struct tpl_buf *b, json_t *j) {
  switch (j ? json_typeof(j) : JSON_NULL) {
  case JSON_NULL:
    strata_tpl_buf_puts(b, "null");
    return;
  case JSON_TRUE:
    strata_tpl_buf_puts(b, "true");
    return;
  case JSON_FALSE:
    strata_tpl_buf_puts(b, "false");
    return;
  case JSON_INTEGER:
    strata_tpl_buf_printf(b, "%lld", (long long)json_integer_value(j));
    return;
  case JSON_REAL: {
    /* 'f' unless the exponent is extreme; then e-07 becomes e-7 */
    double f = json_real_value(j), a = fabs(f);
    struct tpl_buf t = {0};
    format_shortest(&t, f, (a != 0 && (a < 1e-6 || a >= 1e21)) ? 'e' : 'f', 6);
    if (t.s) {
      char *e = strchr(t.s, 'e');
      if (e && e[1] && e[2] == '0' && e[3]) {
        memmove(e + 2, e + 3, strlen(e + 3) + 1);
        t.len--;
      }
      strata_tpl_buf_add(b, t.s, t.len);
    }
    strata_tpl_buf_free(&t);
    return;
  }
  case JSON_STRING:
    json_string_go(b, json_string_value(j), json_string_length(j));
    return;
  case JSON_ARRAY: {
    size_t i;
    json_t *e;
    strata_tpl_buf_putc(b, '[');
    json_array_foreach(j, i, e) {
      if (i > 0)
        strata_tpl_buf_putc(b, ',');
      strata_tpl_json(b, e);
    }
    strata_tpl_buf_putc(b, ']');
    return;
  }
  case JSON_OBJECT: {
    size_t n;
    const char **keys = sorted_keys(j, &n);
    strata_tpl_buf_putc(b, '{');
    for (size_t k = 0; k < n; k++) {
      if (k > 0)
        strata_tpl_buf_putc(b, ',');
      json_string_go(b, keys[k], strlen(keys[k]));
      strata_tpl_buf_putc(b, ':');
      strata_tpl_json(b, json_object_get(j, keys[k]));
    }
    free(keys);
    strata_tpl_buf_putc(b, '}');
    return;
  }
  }
}
