/* The change lists behind `strata diff` and the layer export: Docker's
 * order, the whole-tree comparison (A/C/D, a directory with changes inside
 * counting as changed), overlay diffs (whiteouts, opaque directories), and
 * the tar-split record that writes an imported layer again byte for byte. */
#define _GNU_SOURCE 1
#include "config.h"

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cmocka.h>

#include "digest.h"
#include "layer-export.h"
#include "unit.h"

static char *tmpdir(void) {
  char t[] = "/tmp/strata-unit-export.XXXXXX";
  char *d = mkdtemp(t);
  assert_non_null(d);
  return strdup(d);
}

static void sh(const char *fmt, ...) {
  char cmd[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(cmd, sizeof(cmd), fmt, ap);
  va_end(ap);
  assert_int_equal(system(cmd), 0);
}

/* "A /x\nC /y\n" of a change list */
static char *render(const struct strata_changes *c) {
  size_t cap = 64, len = 0;
  char *out = calloc(1, cap);
  for (size_t i = 0; i < c->n; i++) {
    size_t need = strlen(c->v[i].path) + 5;
    if (len + need >= cap)
      out = realloc(out, cap = (cap + need) * 2);
    len += (size_t)sprintf(out + len, "%c /%s\n", c->v[i].kind, c->v[i].path);
  }
  return out;
}

static void test_sort_parents_first(void **state) {
  struct strata_changes c = {0};
  (void)state;
  assert_int_equal(strata_changes_add(&c, "a/b", 'A', false, false), 0);
  assert_int_equal(strata_changes_add(&c, "a-b", 'A', false, false), 0);
  assert_int_equal(strata_changes_add(&c, "a", 'C', false, false), 0);
  assert_int_equal(strata_changes_add(&c, "a/b/c", 'D', false, false), 0);
  assert_int_equal(strata_changes_add(&c, "Z", 'A', false, false), 0);
  strata_changes_sort(&c);
  {
    char *r = render(&c);
    /* byte order, as Docker's changesByPath: a prefix sorts first */
    assert_string_equal(r, "A /Z\nC /a\nA /a-b\nA /a/b\nD /a/b/c\n");
    free(r);
  }
  strata_changes_free(&c);
}

static void test_path_within(void **state) {
  (void)state;
  assert_true(strata_path_within("a/b", "a"));
  assert_false(strata_path_within("ab", "a"));
  assert_false(strata_path_within("a", "a"));
  assert_true(strata_path_within("a", ""));
}

static char **lowers1(const char *dir) {
  char **v = calloc(2, sizeof(*v));
  v[0] = dir ? strdup(dir) : NULL;
  return v;
}

static void free_lowers(char **v) {
  for (char **p = v; *p; p++)
    free(*p);
  free(v);
}

static void test_whole_trees(void **state) {
  char *d = tmpdir(), lower[256], upper[256];
  struct strata_diff_dirs dirs = {.size = sizeof(dirs)};
  struct strata_changes c = {0};
  struct strata_error *err = NULL;
  char *r;
  (void)state;

  snprintf(lower, sizeof(lower), "%s/lower", d);
  snprintf(upper, sizeof(upper), "%s/upper", d);
  sh("mkdir -p %s/etc %s/home/user %s/bin %s/same && echo a > %s/etc/passwd && "
     "echo k > %s/etc/keep && ln -s x %s/bin/cat && ln -s y %s/bin/ls && touch %s/same/f",
     lower, lower, lower, lower, lower, lower, lower, lower, lower);
  sh("cp -a %s %s", lower, upper);
  /* changed content and size, a new file, a deleted lower file, a
   * replaced directory, a retargeted link, an added directory tree */
  sh("echo abc >> %s/etc/passwd && touch %s/etc/new && rm %s/bin/cat && rm -rf %s/home && "
     "mkdir %s/home && touch %s/home/new && rm %s/bin/ls && ln -s z %s/bin/ls && "
     "mkdir -p %s/opt/x && touch %s/opt/x/f",
     upper, upper, upper, upper, upper, upper, upper, upper, upper, upper);
  /* the recreated /home keeps the old owner and mode: only what is inside
   * changed */
  sh("chmod --reference=%s/home %s/home", lower, upper);
  dirs.upper = upper;
  dirs.lowers = lowers1(lower);
  assert_int_equal(strata_changes_collect(&dirs, &c, &err), 0);
  r = render(&c);
  assert_string_equal(r, "C /bin\nD /bin/cat\nC /bin/ls\nC /etc\nA /etc/new\nC /etc/passwd\n"
                         "C /home\nA /home/new\nD /home/user\nA /opt\nA /opt/x\nA /opt/x/f\n");
  free(r);
  strata_changes_free(&c);

  /* no parent: everything is new */
  free_lowers(dirs.lowers);
  dirs.lowers = lowers1(NULL);
  assert_int_equal(strata_changes_collect(&dirs, &c, &err), 0);
  assert_int_equal(c.v[0].kind, 'A');
  assert_string_equal(c.v[0].path, "bin");
  strata_changes_free(&c);
  free_lowers(dirs.lowers);
  sh("rm -rf %s", d);
  free(d);
}

/* Overlay's form: 0:0 character devices and the opaque xattr (root only). */
static void test_overlay_diff(void **state) {
  char *d = tmpdir(), l1[256], l2[256], up[256];
  struct strata_diff_dirs dirs = {.size = sizeof(dirs), .flags = STRATA_DIFF_PURE};
  struct strata_changes c = {0};
  struct strata_error *err = NULL;
  char path[512], *r;
  (void)state;

  snprintf(l1, sizeof(l1), "%s/l1", d);
  snprintf(l2, sizeof(l2), "%s/l2", d);
  snprintf(up, sizeof(up), "%s/up", d);
  sh("mkdir -p %s/etc %s/home/user %s/gone && touch %s/etc/passwd %s/home/user/f %s/gone/x", l1,
     l1, l1, l1, l1, l1);
  /* the upper layer of the stack deleted /gone */
  sh("mkdir -p %s && mkdir -p %s/etc && touch %s/etc/group", l2, l2, l2);
  snprintf(path, sizeof(path), "%s/gone", l2);
  if (mknod(path, S_IFCHR | 0, makedev(0, 0)) < 0) {
    sh("rm -rf %s", d);
    free(d);
    skip();
  }
  sh("mkdir -p %s/etc %s/home && touch %s/home/new && touch %s/etc/passwd", up, up, up, up);
  sh("chmod --reference=%s/etc %s/etc && chmod --reference=%s/home %s/home", l1, up, l1, up);
  snprintf(path, sizeof(path), "%s/home", up);
  if (setxattr(path, "trusted.overlay.opaque", "y", 1, 0) < 0) {
    sh("rm -rf %s", d);
    free(d);
    skip();
  }
  snprintf(path, sizeof(path), "%s/etc/group", up);
  assert_int_equal(mknod(path, S_IFCHR | 0, makedev(0, 0)), 0);
  /* a whiteout of what the stack already hides is no change */
  snprintf(path, sizeof(path), "%s/gone", up);
  assert_int_equal(mknod(path, S_IFCHR | 0, makedev(0, 0)), 0);

  dirs.upper = up;
  dirs.lowers = calloc(3, sizeof(char *));
  dirs.lowers[0] = strdup(l2);
  dirs.lowers[1] = strdup(l1);
  assert_int_equal(strata_changes_collect(&dirs, &c, &err), 0);
  r = render(&c);
  assert_string_equal(r, "C /etc\nD /etc/group\nC /etc/passwd\nC /home\nA /home/new\n"
                         "D /home/user\n");
  free(r);
  /* the opaque directory is marked, the deletion under it covered by it */
  assert_true(c.v[3].opaque);
  assert_true(c.v[5].covered);
  assert_false(c.v[1].covered);
  strata_changes_free(&c);
  free_lowers(dirs.lowers);
  sh("rm -rf %s", d);
  free(d);
}

struct mem {
  char *buf;
  size_t len;
};

static int mem_write(void *arg, const void *buf, size_t len, struct strata_error **err) {
  struct mem *m = arg;
  (void)err;
  m->buf = realloc(m->buf, m->len + len);
  memcpy(m->buf + m->len, buf, len);
  m->len += len;
  return 0;
}

static void test_tar_split_round_trip(void **state) {
  char *d = tmpdir(), path[512];
  /* a stream: 100 raw bytes, a 50-byte file, 30 raw bytes, a 7-byte file,
   * 12 raw bytes; fed in odd slices */
  char stream[199], digest[STRATA_DIGEST_STR_LEN + 1], want[STRATA_DIGEST_STR_LEN + 1];
  struct strata_tar_split *s = strata_tar_split_new();
  struct strata_tar_sink sink;
  struct mem m = {0};
  struct strata_error *err = NULL;
  char *rec = NULL;
  size_t reclen = 0;
  uint64_t size = 0;
  FILE *f;
  (void)state;

  for (size_t i = 0; i < sizeof(stream); i++)
    stream[i] = (char)(i * 7 + 3);
  snprintf(path, sizeof(path), "%s/a", d);
  f = fopen(path, "w");
  fwrite(stream + 100, 1, 50, f);
  fclose(f);
  sh("mkdir -p %s/dir", d);
  snprintf(path, sizeof(path), "%s/dir/b", d);
  f = fopen(path, "w");
  fwrite(stream + 180, 1, 7, f);
  fclose(f);

  assert_non_null(s);
  assert_int_equal(strata_tar_split_feed(s, 0, stream, 120), 0);
  assert_int_equal(strata_tar_split_file(s, 100, 50, "a"), 0);
  assert_int_equal(strata_tar_split_feed(s, 120, stream + 120, 61), 0);
  assert_int_equal(strata_tar_split_file(s, 180, 7, "dir/b"), 0);
  assert_int_equal(strata_tar_split_feed(s, 181, stream + 181, 18), 0);
  assert_int_equal(strata_tar_split_finish(s, sizeof(stream), &rec, &reclen, &err), 0);
  strata_tar_split_free(s);
  /* the record keeps the raw bytes, not the files' */
  assert_null(memmem(rec, reclen, stream + 100, 50));
  assert_non_null(memmem(rec, reclen, stream + 150, 30));
  assert_int_equal(strata_tar_split_size(rec, reclen, &size, &err), 0);
  assert_int_equal(size, sizeof(stream));

  sink.write = mem_write;
  sink.arg = &m;
  assert_int_equal(strata_tar_split_replay(rec, reclen, d, &sink, digest, &err), 0);
  assert_int_equal(m.len, sizeof(stream));
  assert_memory_equal(m.buf, stream, sizeof(stream));
  strata_digest_buffer(stream, sizeof(stream), want);
  assert_string_equal(digest, want);
  free(m.buf);

  /* a file of the tree that changed size: refused, never silently wrong */
  sh("echo more >> %s/dir/b", d);
  m.buf = NULL;
  m.len = 0;
  assert_int_equal(strata_tar_split_replay(rec, reclen, d, &sink, digest, &err), -1);
  assert_error_contains(err, "dir/b");
  strata_error_free(err);
  err = NULL;
  free(m.buf);

  /* a damaged record */
  rec[reclen - 3] ^= 1;
  assert_int_equal(strata_tar_split_size(rec, reclen, &size, &err), -1);
  assert_error_contains(err, "damaged");
  strata_error_free(err);
  free(rec);
  sh("rm -rf %s", d);
  free(d);
}

static void test_tar_split_gap_refused(void **state) {
  struct strata_tar_split *s = strata_tar_split_new();
  struct strata_error *err = NULL;
  char buf[64] = {0}, *rec = NULL;
  size_t len = 0;
  (void)state;
  /* bytes 64..127 never arrived: the record cannot be made */
  assert_int_equal(strata_tar_split_feed(s, 0, buf, 64), 0);
  assert_int_equal(strata_tar_split_feed(s, 128, buf, 64), -1);
  assert_int_equal(strata_tar_split_finish(s, 192, &rec, &len, &err), -1);
  assert_non_null(err);
  strata_error_free(err);
  strata_tar_split_free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sort_parents_first),
      cmocka_unit_test(test_path_within),
      cmocka_unit_test(test_whole_trees),
      cmocka_unit_test(test_overlay_diff),
      cmocka_unit_test(test_tar_split_round_trip),
      cmocka_unit_test(test_tar_split_gap_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
