/* The host's tree copies: copy_tree gives a tree that shares nothing with
 * its source yet keeps everything of it (contents, holes, owners, setuid
 * after chown, the group a setgid directory hands down, xattrs, symlinks,
 * FIFOs, hardlinks inside the tree); link_tree gives the same names with
 * every non-directory shared, counts what it made, and copies a file that
 * cannot take another name (ext4's 65000 links). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/magic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cmocka.h>

#include "copy-tree.h"

static char base[256];

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *f) {
  (void)st, (void)flag, (void)f;
  return remove(p);
}

static int setup(void **state) {
  const char *t = getenv("TMPDIR");
  (void)state;
  snprintf(base, sizeof(base), "%s/strata-copy-tree-XXXXXX", t && *t ? t : "/var/tmp");
  return mkdtemp(base) == NULL ? -1 : 0;
}

static int teardown(void **state) {
  (void)state;
  return nftw(base, rm_entry, 64, FTW_DEPTH | FTW_PHYS);
}

static void path(char *out, const char *a, const char *b) { snprintf(out, 512, "%s/%s/%s", base, a, b); }

static void put(const char *tree, const char *name, const void *data, size_t len, mode_t mode,
                uid_t uid, gid_t gid) {
  char p[512];
  int fd;
  path(p, tree, name);
  fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, data, len), (ssize_t)len);
  assert_int_equal(fchown(fd, uid, gid), 0);
  assert_int_equal(fchmod(fd, mode), 0);
  close(fd);
}

static struct stat lst(const char *tree, const char *name) {
  char p[512];
  struct stat st;
  path(p, tree, name);
  assert_int_equal(lstat(p, &st), 0);
  return st;
}

static int open_tree(const char *tree) {
  char p[512];
  int fd;
  snprintf(p, sizeof(p), "%s/%s", base, tree);
  fd = open(p, O_RDONLY | O_DIRECTORY);
  assert_true(fd >= 0);
  return fd;
}

/* src: a, d/ (setgid, group 1234), d/b (setuid, 1000:1000) and its second
 * name d/b2, d/c (root's: born with group 1234, must be chowned back), s ->
 * a, fifo f, and sp: 8 MB with 4 KB of data 1 MB in. */
static void make_source(void) {
  char p[512];
  int fd;
  snprintf(p, sizeof(p), "%s/src", base);
  assert_int_equal(mkdir(p, 0755), 0);
  put("src", "a", "hello", 5, 0644, 0, 0);
  path(p, "src", "a");
  assert_int_equal(lsetxattr(p, "user.strata", "x", 1, 0), 0);
  path(p, "src", "d");
  assert_int_equal(mkdir(p, 0700), 0);
  assert_int_equal(chown(p, 0, 1234), 0);
  assert_int_equal(chmod(p, 02775), 0);
  put("src", "d/b", "binary", 6, 04755, 1000, 1000);
  put("src", "d/c", "root's", 6, 0600, 0, 0);
  {
    char q[512];
    path(p, "src", "d/b");
    path(q, "src", "d/b2");
    assert_int_equal(link(p, q), 0);
  }
  path(p, "src", "s");
  assert_int_equal(symlink("a", p), 0);
  path(p, "src", "f");
  assert_int_equal(mkfifo(p, 0640), 0);
  path(p, "src", "sp");
  fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0644);
  assert_true(fd >= 0);
  assert_int_equal(pwrite(fd, "data", 4, 1 << 20), 4);
  assert_int_equal(ftruncate(fd, 8 << 20), 0);
  close(fd);
}

static void make_dst(const char *name) {
  char p[512];
  snprintf(p, sizeof(p), "%s/%s", base, name);
  assert_int_equal(mkdir(p, 0755), 0);
}

static void test_copy_tree__everything_kept_nothing_shared(void **state) {
  (void)state;
  struct strata_error *err = NULL;
  struct stat a, b, b2, c, sp, d, s, f;
  char p[512], buf[16];
  int src, dst;

  if (geteuid() != 0)
    skip();
  make_source();
  make_dst("copy");
  src = open_tree("src");
  dst = open_tree("copy");
  assert_int_equal(strata_copy_tree(src, dst, 0, &err), 0);
  close(src);
  close(dst);

  a = lst("copy", "a");
  assert_true(a.st_ino != lst("src", "a").st_ino);
  assert_int_equal(a.st_mode & 07777, 0644);
  path(p, "copy", "a");
  assert_int_equal(lgetxattr(p, "user.strata", buf, sizeof(buf)), 1);
  d = lst("copy", "d");
  assert_int_equal(d.st_mode & 07777, 02775);
  assert_int_equal(d.st_gid, 1234);
  b = lst("copy", "d/b");
  b2 = lst("copy", "d/b2");
  assert_int_equal(b.st_ino, b2.st_ino); /* a hardlink inside the tree */
  assert_true(b.st_ino != lst("src", "d/b").st_ino);
  assert_int_equal(b.st_nlink, 2);
  assert_int_equal(b.st_uid, 1000);
  assert_int_equal(b.st_gid, 1000);
  assert_int_equal(b.st_mode & 07777, 04755); /* setuid survives the chown */
  c = lst("copy", "d/c");
  assert_int_equal(c.st_gid, 0); /* born 1234 in the setgid directory */
  s = lst("copy", "s");
  assert_true(S_ISLNK(s.st_mode));
  f = lst("copy", "f");
  assert_true(S_ISFIFO(f.st_mode));
  assert_int_equal(f.st_mode & 07777, 0640);
  sp = lst("copy", "sp");
  assert_int_equal(sp.st_size, 8 << 20);
  assert_true(sp.st_blocks * 512 < (1 << 20)); /* the holes stayed holes */
  path(p, "copy", "sp");
  {
    int fd = open(p, O_RDONLY);
    assert_int_equal(pread(fd, buf, 4, 1 << 20), 4);
    assert_memory_equal(buf, "data", 4);
    close(fd);
  }
}

static void test_copy_tree__link_tree_shares_files(void **state) {
  (void)state;
  struct strata_error *err = NULL;
  uint64_t bytes = 0;
  int src, dst;

  if (geteuid() != 0)
    skip();
  make_source();
  make_dst("linked");
  src = open_tree("src");
  dst = open_tree("linked");
  assert_int_equal(strata_link_tree(src, dst, &bytes, &err), 0);
  close(src);
  close(dst);
  for (const char *const *n = (const char *const[]){"a", "d/b", "d/b2", "d/c", "s", "f", "sp", NULL};
       *n; n++)
    assert_int_equal(lst("linked", *n).st_ino, lst("src", *n).st_ino);
  assert_true(lst("linked", "d").st_ino != lst("src", "d").st_ino);
  assert_int_equal(lst("linked", "d").st_mode & 07777, 02775);
  assert_int_equal(lst("linked", "d").st_gid, 1234);
  /* what it made: the directory d, not the files */
  assert_int_equal(bytes, (uint64_t)lst("linked", "d").st_blocks * 512);
}

static void test_copy_tree__link_tree_copies_past_the_link_limit(void **state) {
  (void)state;
  struct strata_error *err = NULL;
  struct statfs sfs;
  uint64_t bytes = 0;
  char p[512], q[512];
  struct stat first;
  int src, dst, n = 0;

  assert_int_equal(statfs(base, &sfs), 0);
  if (sfs.f_type != EXT4_SUPER_MAGIC)
    skip(); /* the limit to reach is ext4's */
  snprintf(p, sizeof(p), "%s/many", base);
  assert_int_equal(mkdir(p, 0755), 0);
  put("many", "m", "shared", 6, 0644, getuid(), getgid());
  path(p, "many", "m");
  for (;; n++) { /* as many names as ext4 takes */
    snprintf(q, sizeof(q), "%s/many/n%d", base, n);
    if (link(p, q) < 0) {
      assert_int_equal(errno, EMLINK);
      break;
    }
  }
  make_dst("many2");
  src = open_tree("many");
  dst = open_tree("many2");
  assert_int_equal(strata_link_tree(src, dst, &bytes, &err), 0);
  close(src);
  close(dst);
  /* no name could be linked: the first became a copy, the others its names */
  first = lst("many2", "m");
  assert_true(first.st_ino != lst("many", "m").st_ino);
  for (int i = 0; i < n; i += 997) {
    snprintf(q, sizeof(q), "n%d", i);
    assert_int_equal(lst("many2", q).st_ino, first.st_ino);
  }
  assert_true(bytes >= (uint64_t)first.st_blocks * 512);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_copy_tree__everything_kept_nothing_shared, setup, teardown),
      cmocka_unit_test_setup_teardown(test_copy_tree__link_tree_shares_files, setup, teardown),
      cmocka_unit_test_setup_teardown(test_copy_tree__link_tree_copies_past_the_link_limit, setup,
                                      teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
