/* The read-ahead thread of the layer engine: bytes come out whole and in
 * order whatever the source's chunking, the hash sees exactly them, a
 * failing source fails the reader (and keeps failing it), and giving up
 * early on an endless source stops the thread. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "decompress.h"
#include "digest.h"
#include "read-ahead.h"

struct source {
  unsigned char *data;
  size_t len, pos;
  size_t step;    /* bytes per read at most */
  size_t fail_at; /* a read from here fails (SIZE_MAX: never) */
  bool endless;   /* past the data, zeros for ever */
};

static ssize_t source_read(void *arg, void *buf, size_t len, struct strata_error **err) {
  struct source *s = arg;
  size_t n = len < s->step ? len : s->step;
  if (s->pos >= s->fail_at)
    return strata_error_set(err, 5, "the source broke at %zu", s->pos);
  if (s->endless && s->pos >= s->len) {
    memset(buf, 0, n);
    s->pos += n;
    return (ssize_t)n;
  }
  if (n > s->len - s->pos)
    n = s->len - s->pos;
  memcpy(buf, s->data + s->pos, n);
  s->pos += n;
  return (ssize_t)n;
}

/* LEN bytes that no decompressor takes for a compressed stream */
static unsigned char *plain_data(size_t len) {
  unsigned char *d = malloc(len);
  uint32_t x = 2463534242u;
  assert_non_null(d);
  for (size_t i = 0; i < len; i++) {
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    d[i] = (unsigned char)x;
  }
  memcpy(d, "plain", 5);
  return d;
}

static void test_read_ahead__whole_and_in_order(void **state) {
  (void)state;
  const size_t len = 3 * 1024 * 1024 + 4321;
  struct source src = {.data = plain_data(len), .len = len, .step = 7777, .fail_at = SIZE_MAX};
  struct strata_decompressor *dec = NULL;
  struct strata_hasher *hash = strata_hasher_new();
  struct strata_read_ahead *ra = NULL;
  struct strata_error *err = NULL;
  unsigned char *got = malloc(len);
  size_t have = 0;
  char want[STRATA_DIGEST_STR_LEN + 1], digest[STRATA_DIGEST_STR_LEN + 1];
  ssize_t n;
  const void *buf;

  assert_int_equal(strata_decompressor_new_reader(source_read, &src, &dec, &err), 0);
  assert_int_equal(strata_read_ahead_new(dec, hash, &ra, &err), 0);
  while ((n = strata_read_ahead_next(ra, &buf, &err)) > 0) {
    assert_true(have + (size_t)n <= len);
    memcpy(got + have, buf, (size_t)n);
    have += (size_t)n;
  }
  assert_int_equal(n, 0);
  assert_int_equal(strata_read_ahead_next(ra, &buf, &err), 0); /* the end stays the end */
  strata_read_ahead_free(ra);
  assert_int_equal(have, len);
  assert_memory_equal(got, src.data, len);
  strata_hasher_final(hash, digest);
  strata_digest_buffer(src.data, len, want);
  assert_string_equal(digest, want);
  strata_hasher_free(hash);
  strata_decompressor_free(dec);
  free(got);
  free(src.data);
}

static void test_read_ahead__source_failure(void **state) {
  (void)state;
  const size_t len = 2 * 1024 * 1024;
  struct source src = {.data = plain_data(len), .len = len, .step = 65536, .fail_at = 1024 * 1024};
  struct strata_decompressor *dec = NULL;
  struct strata_hasher *hash = strata_hasher_new();
  struct strata_read_ahead *ra = NULL;
  struct strata_error *err = NULL;
  size_t have = 0;
  ssize_t n;
  const void *buf;

  assert_int_equal(strata_decompressor_new_reader(source_read, &src, &dec, &err), 0);
  assert_int_equal(strata_read_ahead_new(dec, hash, &ra, &err), 0);
  while ((n = strata_read_ahead_next(ra, &buf, &err)) > 0)
    have += (size_t)n;
  assert_int_equal(n, -1);
  assert_true(have <= 1024 * 1024);
  assert_non_null(err);
  assert_non_null(strstr(err->msg, "the source broke at"));
  strata_error_free(err);
  err = NULL;
  assert_int_equal(strata_read_ahead_next(ra, &buf, &err), -1); /* and keeps failing */
  assert_non_null(err);
  strata_error_free(err);
  strata_read_ahead_free(ra);
  strata_hasher_free(hash);
  strata_decompressor_free(dec);
  free(src.data);
}

static void test_read_ahead__give_up_early(void **state) {
  (void)state;
  struct source src = {.data = plain_data(4096), .len = 4096, .step = 100000,
                       .fail_at = SIZE_MAX, .endless = true};
  struct strata_decompressor *dec = NULL;
  struct strata_hasher *hash = strata_hasher_new();
  struct strata_read_ahead *ra = NULL;
  struct strata_error *err = NULL;
  const void *buf;

  assert_int_equal(strata_decompressor_new_reader(source_read, &src, &dec, &err), 0);
  assert_int_equal(strata_read_ahead_new(dec, hash, &ra, &err), 0);
  assert_true(strata_read_ahead_next(ra, &buf, &err) > 0);
  strata_read_ahead_free(ra); /* returns: the thread stopped reading for ever */
  assert_true(src.pos < 64 * 1024 * 1024); /* it ran only a few chunks ahead */
  strata_hasher_free(hash);
  strata_decompressor_free(dec);
  free(src.data);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_read_ahead__whole_and_in_order),
      cmocka_unit_test(test_read_ahead__source_failure),
      cmocka_unit_test(test_read_ahead__give_up_early),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
