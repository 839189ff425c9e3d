#include "config.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <locale.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cmocka.h>

#include "layer.h"
#include "safe-path.h"

/* ------------------------------------------------------------------ sandbox
 *
 * Every test gets SANDBOX/root (the layer root) next to SANDBOX/victim,
 * which holds one file that no layer may ever reach. */

static char sandbox[PATH_MAX];
static int sandboxfd = -1, rootfd = -1;

static int setup(void **state) {
  int fd;

  (void)state;
  strcpy(sandbox, "/tmp/strata-test-layer-XXXXXX");
  if (mkdtemp(sandbox) == NULL)
    return -1;
  sandboxfd = open(sandbox, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (sandboxfd < 0 || mkdirat(sandboxfd, "root", 0755) < 0 ||
      mkdirat(sandboxfd, "victim", 0755) < 0)
    return -1;
  fd = openat(sandboxfd, "victim/file", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0 || write(fd, "precious", 8) != 8)
    return -1;
  close(fd);
  rootfd = openat(sandboxfd, "root", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  return rootfd < 0 ? -1 : 0;
}

static int teardown(void **state) {
  struct strata_error *err = NULL;
  int tmpfd = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int rc;

  (void)state;
  close(rootfd);
  close(sandboxfd);
  rc = strata_remove_tree_at(tmpfd, sandbox + strlen("/tmp/"), &err);
  strata_error_free(err);
  close(tmpfd);
  return rc;
}

/* ------------------------------------------------------------------ tar builder */

struct tar {
  struct archive *a;
  char *buf;
  size_t cap, used;
};

struct ent {
  const char *name;
  unsigned type; /* AE_IF*; regular file when 0 */
  unsigned perm; /* 0644 (0755 for directories) when 0 */
  const char *data;
  size_t len; /* strlen(data) when 0 */
  const char *symlink;
  const char *hardlink;
  int64_t uid, gid;
  time_t mtime;
  unsigned rmajor, rminor;
  const char *xname[3];
  const char *xvalue[3];
  size_t xlen[3]; /* strlen(xvalue) when 0 */
};

static struct tar *tar_new(void) {
  struct tar *t = calloc(1, sizeof(*t));

  assert_non_null(t);
  t->cap = 8 << 20;
  t->buf = malloc(t->cap);
  assert_non_null(t->buf);
  t->a = archive_write_new();
  assert_non_null(t->a);
  assert_int_equal(archive_write_set_format_pax_restricted(t->a), ARCHIVE_OK);
  assert_int_equal(archive_write_set_bytes_in_last_block(t->a, 1), ARCHIVE_OK);
  assert_int_equal(archive_write_open_memory(t->a, t->buf, t->cap, &t->used), ARCHIVE_OK);
  return t;
}

static struct archive_entry *ent_make(const struct ent *e) {
  struct archive_entry *ae = archive_entry_new();
  unsigned type = e->type ? e->type : AE_IFREG;

  assert_non_null(ae);
  archive_entry_set_pathname(ae, e->name);
  archive_entry_set_filetype(ae, type);
  archive_entry_set_perm(ae, e->perm ? e->perm : (type == AE_IFDIR ? 0755 : 0644));
  archive_entry_set_uid(ae, e->uid);
  archive_entry_set_gid(ae, e->gid);
  archive_entry_set_mtime(ae, e->mtime ? e->mtime : 1600000000, 0);
  if (e->symlink)
    archive_entry_set_symlink(ae, e->symlink);
  if (e->hardlink)
    archive_entry_set_hardlink(ae, e->hardlink);
  if (type == AE_IFCHR || type == AE_IFBLK) {
    archive_entry_set_rdevmajor(ae, e->rmajor);
    archive_entry_set_rdevminor(ae, e->rminor);
  }
  for (int i = 0; i < 3 && e->xname[i]; i++)
    archive_entry_xattr_add_entry(ae, e->xname[i], e->xvalue[i],
                                  e->xlen[i] ? e->xlen[i] : strlen(e->xvalue[i]));
  return ae;
}

static void tar_add(struct tar *t, const struct ent *e) {
  struct archive_entry *ae = ent_make(e);
  size_t len = e->data ? (e->len ? e->len : strlen(e->data)) : 0;

  if (e->type == 0 && e->hardlink == NULL)
    archive_entry_set_size(ae, (la_int64_t)len);
  assert_int_equal(archive_write_header(t->a, ae), ARCHIVE_OK);
  if (len > 0)
    assert_int_equal(archive_write_data(t->a, e->data, len), (la_ssize_t)len);
  archive_entry_free(ae);
}

#define ADD(t, ...) tar_add((t), &(struct ent){__VA_ARGS__})
#define FILE_(t, n, d) ADD((t), .name = (n), .data = (d))
#define DIR_(t, n) ADD((t), .name = (n), .type = AE_IFDIR)
#define SYMLINK_(t, n, target) ADD((t), .name = (n), .type = AE_IFLNK, .symlink = (target))
#define LINK_(t, n, target) ADD((t), .name = (n), .hardlink = (target))

static void tar_finish(struct tar *t) {
  if (t->a == NULL)
    return;
  assert_int_equal(archive_write_close(t->a), ARCHIVE_OK);
  archive_write_free(t->a);
  t->a = NULL;
}

static void tar_free(struct tar *t) {
  if (t->a)
    archive_write_free(t->a);
  free(t->buf);
  free(t);
}

static int apply_buf(const void *buf, size_t len, enum strata_whiteout_mode mode,
                     struct strata_layer_stats *stats, struct strata_error **err) {
  struct strata_layer_stats dummy = {0};
  struct archive *a = archive_read_new();
  int rc;

  assert_non_null(a);
  assert_int_equal(archive_read_support_format_tar(a), ARCHIVE_OK);
  assert_int_equal(archive_read_open_memory(a, buf, len), ARCHIVE_OK);
  rc = strata_layer_apply(rootfd, a, mode, stats ? stats : &dummy, err);
  archive_read_free(a);
  return rc;
}

/* Applies T (and frees it); returns the result, and the error in *ERR. */
static int tar_apply_mode(struct tar *t, enum strata_whiteout_mode mode,
                          struct strata_layer_stats *stats, struct strata_error **err) {
  int rc;

  tar_finish(t);
  rc = apply_buf(t->buf, t->used, mode, stats, err);
  tar_free(t);
  return rc;
}

/* Applies T in place and expects it to work. */
static void tar_apply_ok(struct tar *t) {
  struct strata_error *err = NULL;
  int rc = tar_apply_mode(t, STRATA_WHITEOUT_IN_PLACE, NULL, &err);

  if (rc < 0)
    fail_msg("layer failed: %s", err ? err->msg : "(no error)");
  assert_null(err);
}

/* Applies T and expects it to fail with a message containing WANT. */
static void tar_apply_fails(struct tar *t, enum strata_whiteout_mode mode, const char *want) {
  struct strata_error *err = NULL;
  int rc = tar_apply_mode(t, mode, NULL, &err);

  if (rc >= 0)
    fail_msg("layer unexpectedly applied (wanted '%s')", want);
  assert_non_null(err);
  assert_non_null(err->msg);
  if (strstr(err->msg, want) == NULL)
    fail_msg("error '%s' does not mention '%s'", err->msg, want);
  if (getenv("TEST_VERBOSE"))
    print_message("expected error: %s\n", err->msg);
  strata_error_free(err);
}


/* Applies T (and frees it) as a detached stage would be written. */
static int tar_apply_detached(struct tar *t, struct strata_layer_deps *deps,
                              struct strata_error **err) {
  struct strata_layer_stats stats = {0};
  struct strata_layer_hooks hooks = {.deps = deps};
  struct archive *a = archive_read_new();
  int rc;

  tar_finish(t);
  assert_non_null(a);
  assert_int_equal(archive_read_support_format_tar(a), ARCHIVE_OK);
  assert_int_equal(archive_read_open_memory(a, t->buf, t->used), ARCHIVE_OK);
  rc = strata_layer_apply_hooked(rootfd, a, STRATA_WHITEOUT_OVERLAY, &stats, &hooks, err);
  archive_read_free(a);
  tar_free(t);
  return rc;
}

static bool deps_has(const struct strata_layer_deps *d, const char *path) {
  for (size_t i = 0; i < d->nimplied; i++)
    if (strcmp(d->implied[i], path) == 0)
      return true;
  return false;
}

/* ------------------------------------------------------------------ assertions */

static char *read_at(int dirfd, const char *path) {
  int fd = openat(dirfd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  char *buf = calloc(1, 1 << 20);
  ssize_t n;

  if (fd < 0)
    fail_msg("cannot open '%s': %s", path, strerror(errno));
  assert_non_null(buf);
  n = read(fd, buf, (1 << 20) - 1);
  assert_true(n >= 0);
  close(fd);
  return buf;
}

static void assert_content(const char *path, const char *want) {
  char *got = read_at(rootfd, path);
  assert_string_equal(got, want);
  free(got);
}

static struct stat lstat_at(int dirfd, const char *path) {
  struct stat st;
  if (fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) < 0)
    fail_msg("cannot stat '%s': %s", path, strerror(errno));
  return st;
}

static struct stat lstat_root(const char *path) { return lstat_at(rootfd, path); }

static void assert_missing(const char *path) {
  struct stat st;
  if (fstatat(rootfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0)
    fail_msg("'%s' exists but should not", path);
  assert_int_equal(errno, ENOENT);
}

static void assert_type(const char *path, mode_t type) {
  struct stat st = lstat_root(path);
  if ((st.st_mode & S_IFMT) != type)
    fail_msg("'%s' has type 0%o, wanted 0%o", path, st.st_mode & S_IFMT, type);
}

static void assert_symlink(const char *path, const char *target) {
  char buf[PATH_MAX];
  ssize_t n = readlinkat(rootfd, path, buf, sizeof(buf) - 1);
  if (n < 0)
    fail_msg("cannot readlink '%s': %s", path, strerror(errno));
  buf[n] = '\0';
  assert_string_equal(buf, target);
}

/* The sibling of the root is exactly as setup() left it. */
static void assert_victim_untouched(void) {
  struct stat st = lstat_at(sandboxfd, "victim/file");
  char *content = read_at(sandboxfd, "victim/file");
  DIR *d;
  struct dirent *de;
  int n = 0;

  assert_string_equal(content, "precious");
  free(content);
  assert_int_equal(st.st_uid, 0);
  assert_int_equal(st.st_mode & 07777, 0644);
  assert_int_equal(st.st_nlink, 1);
  d = opendir(sandbox);
  assert_non_null(d);
  while ((de = readdir(d)) != NULL)
    n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
  closedir(d);
  assert_int_equal(n, 2); /* root and victim */
  d = fdopendir(openat(sandboxfd, "victim", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  assert_non_null(d);
  n = 0;
  while ((de = readdir(d)) != NULL)
    n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
  closedir(d);
  assert_int_equal(n, 1);
}

/* ------------------------------------------------------------------ basics */

static void test_layer__basic_file(void **state) {
  struct tar *t = tar_new();
  struct strata_layer_stats stats = {0};
  struct strata_error *err = NULL;
  struct stat st;

  (void)state;
  FILE_(t, "hello.txt", "hello world\n");
  ADD(t, .name = "empty");
  assert_int_equal(tar_apply_mode(t, STRATA_WHITEOUT_IN_PLACE, &stats, &err), 0);
  assert_content("hello.txt", "hello world\n");
  st = lstat_root("hello.txt");
  assert_true(S_ISREG(st.st_mode));
  assert_int_equal(st.st_mode & 07777, 0644);
  assert_int_equal(st.st_size, 12);
  assert_int_equal(lstat_root("empty").st_size, 0);
  assert_int_equal(stats.entries, 2);
  assert_int_equal(stats.size, 12);
}

static void test_layer__basic_dir(void **state) {
  struct tar *t = tar_new();
  struct stat st;

  (void)state;
  ADD(t, .name = "etc/", .type = AE_IFDIR, .perm = 0750);
  ADD(t, .name = "tmp", .type = AE_IFDIR, .perm = 01777);
  tar_apply_ok(t);
  st = lstat_root("etc");
  assert_true(S_ISDIR(st.st_mode));
  assert_int_equal(st.st_mode & 07777, 0750);
  assert_int_equal(lstat_root("tmp").st_mode & 07777, 01777);
}

static void test_layer__basic_symlink(void **state) {
  struct tar *t = tar_new();

  (void)state;
  SYMLINK_(t, "rel", "some/where");
  SYMLINK_(t, "abs", "/etc/passwd");
  SYMLINK_(t, "up", "../../../../etc/shadow");
  tar_apply_ok(t);
  /* targets are stored verbatim, never resolved at apply time */
  assert_symlink("rel", "some/where");
  assert_symlink("abs", "/etc/passwd");
  assert_symlink("up", "../../../../etc/shadow");
}

static void test_layer__basic_hardlink(void **state) {
  struct tar *t = tar_new();
  struct stat a, b;

  (void)state;
  FILE_(t, "bin/a", "binary");
  LINK_(t, "bin/b", "bin/a");
  LINK_(t, "c", "./bin//a");
  tar_apply_ok(t);
  a = lstat_root("bin/a");
  b = lstat_root("bin/b");
  assert_int_equal(a.st_ino, b.st_ino);
  assert_int_equal(a.st_ino, lstat_root("c").st_ino);
  assert_int_equal(lstat_root("bin/a").st_nlink, 3);
  assert_content("bin/b", "binary");
}

static void test_layer__hardlink_to_lower_layer(void **state) {
  struct tar *t = tar_new();

  (void)state;
  FILE_(t, "lib/libc.so", "elf");
  tar_apply_ok(t);
  t = tar_new();
  LINK_(t, "lib/libc.so.6", "lib/libc.so");
  tar_apply_ok(t);
  assert_int_equal(lstat_root("lib/libc.so").st_ino, lstat_root("lib/libc.so.6").st_ino);
}

/* ------------------------------------------------------------------ detached stages */

/* A layer written apart from its parent says which directories it only
 * implied (the root among them), and only those. */
static void test_layer__detached_records_implied_dirs(void **state) {
  struct strata_layer_deps deps = {0};
  struct strata_error *err = NULL;
  struct tar *t = tar_new();

  (void)state;
  FILE_(t, "usr/lib/x/libfoo.so", "elf");
  DIR_(t, "opt");
  FILE_(t, "opt/tool", "t");
  FILE_(t, "etc/late/f", "f");
  ADD(t, .name = "etc", .type = AE_IFDIR, .perm = 0750);
  SYMLINK_(t, "s", "srv/real");
  DIR_(t, "srv/real");
  FILE_(t, "s/inside", "through a symlink of the layer's own");
  FILE_(t, "var/.wh.gone", "");
  assert_int_equal(tar_apply_detached(t, &deps, &err), 0);
  assert_null(err);
  assert_false(deps.needs_parent);
  assert_true(deps_has(&deps, ""));
  assert_true(deps_has(&deps, "usr"));
  assert_true(deps_has(&deps, "usr/lib"));
  assert_true(deps_has(&deps, "usr/lib/x"));
  assert_true(deps_has(&deps, "etc/late"));
  assert_true(deps_has(&deps, "srv"));
  assert_false(deps_has(&deps, "srv/real"));
  assert_true(deps_has(&deps, "var"));
  /* entries of their own: the layer's attributes */
  assert_false(deps_has(&deps, "opt"));
  assert_false(deps_has(&deps, "etc"));
  assert_int_equal(deps.nimplied, 7);
  /* whiteouts in overlay form */
  assert_type("var/gone", S_IFCHR);
  strata_layer_deps_clear(&deps);
}

static void test_layer__detached_root_entry_is_the_layers(void **state) {
  struct strata_layer_deps deps = {0};
  struct strata_error *err = NULL;
  struct tar *t = tar_new();

  (void)state;
  ADD(t, .name = "./", .type = AE_IFDIR, .perm = 0700);
  FILE_(t, "a/b", "b");
  assert_int_equal(tar_apply_detached(t, &deps, &err), 0);
  assert_false(deps_has(&deps, ""));
  assert_true(deps_has(&deps, "a"));
  assert_int_equal(deps.nimplied, 1);
  strata_layer_deps_clear(&deps);
}

/* Applies T (and frees it) detached, and expects it to need its parent. */
static void tar_apply_needs_parent(struct tar *t) {
  struct strata_layer_deps deps = {0};
  struct strata_error *err = NULL;

  assert_int_equal(tar_apply_detached(t, &deps, &err), -1);
  assert_non_null(err);
  assert_true(deps.needs_parent);
  strata_error_free(err);
  strata_layer_deps_clear(&deps);
}

/* what a detached stage cannot hold: the layer must be written on its parent */
static void test_layer__detached_needs_parent(void **state) {
  struct tar *t = tar_new();

  (void)state;
  FILE_(t, "mine", "m");
  LINK_(t, "lnk", "bin/sh"); /* the parent's file */
  tar_apply_needs_parent(t);

  /* a symlink of its own to a directory only the parent has */
  t = tar_new();
  SYMLINK_(t, "lib", "usr/lib");
  FILE_(t, "lib/libnew.so", "so");
  tar_apply_needs_parent(t);

  t = tar_new();
  FILE_(t, "own", "o");
  LINK_(t, "own2", "own");      /* its own file: fine */
  FILE_(t, ".wh..wh..opq", ""); /* an opaque root: overlay ignores the xattr there */
  tar_apply_needs_parent(t);
  assert_int_equal(lstat_root("own").st_ino, lstat_root("own2").st_ino);
}

static void test_layer__hardlink_to_itself(void **state) {
  struct tar *t = tar_new();

  (void)state;
  FILE_(t, "f", "data");
  LINK_(t, "f", "f");
  tar_apply_ok(t);
  assert_content("f", "data");
  assert_int_equal(lstat_root("f").st_nlink, 1);
}

/* ------------------------------------------------------------------ metadata */

static void test_layer__setuid_after_chown(void **state) {
  struct tar *t = tar_new();
  struct stat st;

  (void)state;
  ADD(t, .name = "usr/bin/su", .data = "su", .perm = 04755, .uid = 1000, .gid = 1000);
  ADD(t, .name = "usr/bin/wall", .data = "wall", .perm = 02755, .uid = 0, .gid = 5);
  ADD(t, .name = "shared", .type = AE_IFDIR, .perm = 03775, .uid = 12, .gid = 34);
  tar_apply_ok(t);
  st = lstat_root("usr/bin/su");
  assert_int_equal(st.st_uid, 1000);
  assert_int_equal(st.st_gid, 1000);
  assert_int_equal(st.st_mode & 07777, 04755);
  st = lstat_root("usr/bin/wall");
  assert_int_equal(st.st_gid, 5);
  assert_int_equal(st.st_mode & 07777, 02755);
  st = lstat_root("shared");
  assert_int_equal(st.st_mode & 07777, 03775);
  assert_int_equal(st.st_uid, 12);
}

static void test_layer__ownership(void **state) {
  struct tar *t = tar_new();

  (void)state;
  ADD(t, .name = "home/user", .type = AE_IFDIR, .uid = 1001, .gid = 1002);
  ADD(t, .name = "home/user/.profile", .data = "x", .uid = 1001, .gid = 1002);
  ADD(t, .name = "home/user/link", .type = AE_IFLNK, .symlink = ".profile", .uid = 1003,
      .gid = 1004);
  ADD(t, .name = "big", .data = "x", .uid = 100000, .gid = 200000);
  tar_apply_ok(t);
  assert_int_equal(lstat_root("home/user").st_uid, 1001);
  assert_int_equal(lstat_root("home/user").st_gid, 1002);
  assert_int_equal(lstat_root("home/user/.profile").st_uid, 1001);
  /* the link itself, not its target */
  assert_int_equal(lstat_root("home/user/link").st_uid, 1003);
  assert_int_equal(lstat_root("home/user/link").st_gid, 1004);
  assert_int_equal(lstat_root("home/user/.profile").st_gid, 1002);
  assert_int_equal(lstat_root("big").st_uid, 100000);
  /* implied parents belong to root */
  assert_int_equal(lstat_root("home").st_uid, 0);
}

static void test_layer__file_times(void **state) {
  struct tar *t = tar_new();

  (void)state;
  ADD(t, .name = "f", .data = "x", .mtime = 1234567890);
  ADD(t, .name = "l", .type = AE_IFLNK, .symlink = "f", .mtime = 1111111111);
  tar_apply_ok(t);
  assert_int_equal(lstat_root("f").st_mtim.tv_sec, 1234567890);
  assert_int_equal(lstat_root("l").st_mtim.tv_sec, 1111111111);
}

static void test_layer__dir_mtime_survives_later_entries(void **state) {
  struct tar *t = tar_new();

  (void)state;
  ADD(t, .name = "d/", .type = AE_IFDIR, .mtime = 1000000000);
  ADD(t, .name = "d/sub/", .type = AE_IFDIR, .mtime = 1000000001);
  FILE_(t, "d/f", "x");
  FILE_(t, "d/sub/g", "y");
  SYMLINK_(t, "d/sub/l", "g");
  ADD(t, .name = "d/sub/.wh.nothing");
  tar_apply_ok(t);
  assert_int_equal(lstat_root("d").st_mtim.tv_sec, 1000000000);
  assert_int_equal(lstat_root("d/sub").st_mtim.tv_sec, 1000000001);
}

static void test_layer__root_entry_metadata(void **state) {
  struct tar *t = tar_new();
  struct stat st;

  (void)state;
  ADD(t, .name = "./", .type = AE_IFDIR, .perm = 0711, .mtime = 1300000000);
  FILE_(t, "./f", "x");
  tar_apply_ok(t);
  st = lstat_at(sandboxfd, "root");
  assert_int_equal(st.st_mode & 07777, 0711);
  assert_int_equal(st.st_mtim.tv_sec, 1300000000);
  assert_content("f", "x");
}

static void test_layer__root_entry_not_a_dir_rejected(void **state) {
  struct tar *t = tar_new();

  (void)state;
  ADD(t, .name = "./", .type = AE_IFLNK, .symlink = "/");
  tar_apply_fails(t, STRATA_WHITEOUT_IN_PLACE, "would replace the layer root");
}

static void test_layer__xattr_user(void **state) {
  struct tar *t = tar_new();
  char buf[64];
  ssize_t n;

  (void)state;
  ADD(t, .name = "f", .data = "x", .xname = {"user.color", "user.bin"}, .xvalue = {"blue", "a\0b"},
      .xlen = {0, 3});
  ADD(t, .name = "d", .type = AE_IFDIR, .xname = {"user.dir"}, .xvalue = {"yes"});
  tar_apply_ok(t);
  {
    int fd = openat(rootfd, "f", O_RDONLY | O_CLOEXEC);
    n = fgetxattr(fd, "user.color", buf, sizeof(buf));
    assert_int_equal(n, 4);
    assert_memory_equal(buf, "blue", 4);
    n = fgetxattr(fd, "user.bin", buf, sizeof(buf));
    assert_int_equal(n, 3);
    assert_memory_equal(buf, "a\0b", 3);
    close(fd);
    fd = openat(rootfd, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    n = fgetxattr(fd, "user.dir", buf, sizeof(buf));
    assert_int_equal(n, 3);
    close(fd);
  }
}

static void test_layer__trusted_overlay_xattrs_dropped(void **state) {
  struct tar *t = tar_new();
  char buf[64];
  int fd;

  (void)state;
  ADD(t, .name = "d", .type = AE_IFDIR,
      .xname = {"trusted.overlay.opaque", "trusted.overlay.redirect", "user.keep"},
      .xvalue = {"y", "/etc", "1"});
  ADD(t, .name = "f", .data = "x", .xname = {"trusted.overlay.metacopy", "user.overlay.opaque"},
      .xvalue = {"", "y"}, .xlen = {1, 0});
  tar_apply_ok(t);
  fd = openat(rootfd, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  assert_true(fgetxattr(fd, "trusted.overlay.opaque", buf, sizeof(buf)) < 0);
  assert_true(fgetxattr(fd, "trusted.overlay.redirect", buf, sizeof(buf)) < 0);
  assert_int_equal(fgetxattr(fd, "user.keep", buf, sizeof(buf)), 1);
  close(fd);
  fd = openat(rootfd, "f", O_RDONLY | O_CLOEXEC);
  assert_true(fgetxattr(fd, "trusted.overlay.metacopy", buf, sizeof(buf)) < 0);
  assert_true(fgetxattr(fd, "user.overlay.opaque", buf, sizeof(buf)) < 0);
  close(fd);
}

static void test_layer__file_capability_survives_chown(void **state) {
  /* struct vfs_cap_data, revision 2: CAP_NET_RAW (13) permitted+effective */
  static const unsigned char cap[20] = {0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00};
  struct tar *t = tar_new();
  unsigned char buf[64];
  ssize_t n;
  int fd;

  (void)state;
  ADD(t, .name = "bin/ping", .data = "ping", .perm = 0755, .uid = 0, .gid = 1000,
      .xname = {"security.capability"}, .xvalue = {(const char *)cap}, .xlen = {sizeof(cap)});
  tar_apply_ok(t);
  fd = openat(rootfd, "bin/ping", O_RDONLY | O_CLOEXEC);
  n = fgetxattr(fd, "security.capability", buf, sizeof(buf));
  close(fd);
  assert_int_equal(n, sizeof(cap));
  assert_memory_equal(buf, cap, sizeof(cap));
  assert_int_equal(lstat_root("bin/ping").st_gid, 1000);
}

/* ------------------------------------------------------------------ names */

static void test_layer__dotdot_rejected(void **state) {
  struct tar *t = tar_new();

  (void)state;
  FILE_(t, "../victim/file", "pwned");
  tar_apply_fails(t, STRATA_WHITEOUT_IN_PLACE,
                  "layer entry '../victim/file' escapes the layer root");
  assert_victim_untouched();

  t = tar_new();
  FILE_(t, "ok", "x");
  FILE_(t, "a/b/../../../victim/new", "pwned");
  tar_apply_fails(t, STRATA_WHITEOUT_IN_PLACE, "escapes the layer root");
  assert_victim_untouched();

  t = tar_new();
  DIR_(t, "/../");
  tar_apply_fails(t, STRATA_WHITEOUT_IN_PLACE, "escapes the layer root");
  assert_victim_untouched();
}

static void test_layer__absolute_name(void **state) {
  struct tar *t = tar_new();

  (void)state;
  FILE_(t, "/etc/hostname", "box");
  FILE_(t, "//etc//hosts", "hosts");
  tar_apply_ok(t);
  assert_content("etc/hostname", "box");
  assert_content("etc/hosts", "hosts");
  assert_victim_untouched();
}

static void test_layer__odd_but_fine_names(void **state) {
  struct tar *t;

  (void)state;
  /* written as UTF-8, read back in the C locale: the bytes stay as they are */
  assert_non_null(setlocale(LC_CTYPE, "C.UTF-8"));
  t = tar_new();
  FILE_(t, "..foo", "1");
  FILE_(t, "./etc/x", "2");
  FILE_(t, "etc//y", "3");
  FILE_(t, "etc/./z", "4");
  FILE_(t, "a/../b", "5");
  FILE_(t, "...", "6");
  FILE_(t, "caf\xc3\xa9", "7");
  tar_finish(t);
  setlocale(LC_CTYPE, "C");
  tar_apply_ok(t);
  assert_content("..foo", "1");
  assert_content("etc/x", "2");
  assert_content("etc/y", "3");
  assert_content("etc/z", "4");
  assert_content("b", "5");
  assert_content("...", "6");
  assert_content("caf\xc3\xa9", "7");
  assert_missing("a");
}

/* ------------------------------------------------------------------ symlinks */

static void test_layer__absolute_symlink_resolves_in_root(void **state) {
  struct tar *t = tar_new();
  char hostpath[PATH_MAX + 16];

  (void)state;
  /* a symlink to "/" and one to the victim's real host path, both
   * followed by entries written through them */
  snprintf(hostpath, sizeof(hostpath), "%s/victim", sandbox);
  SYMLINK_(t, "esc", "/");
  FILE_(t, "esc/victim/file", "pwned");
  DIR_(t, hostpath + 1);
  SYMLINK_(t, "abs", hostpath);
  FILE_(t, "abs/file", "pwned too");
  tar_apply_ok(t);
  assert_victim_untouched();
  assert_content("victim/file", "pwned");
  {
    char inside[PATH_MAX + 32];
    snprintf(inside, sizeof(inside), "%s/file", hostpath + 1);
    assert_content(inside, "pwned too");
  }
  assert_type("esc", S_IFLNK);
  assert_type("abs", S_IFLNK);
}

static void test_layer__dangling_symlink_parent_stays_inside(void **state) {
  struct tar *t = tar_new();
  char hostpath[PATH_MAX + 16];
  struct strata_error *err = NULL;
  int rc;

  (void)state;
  /* root/<sandbox>/victim does not exist: the entry must not go to the
   * host path; failing is acceptable, landing inside is too */
  snprintf(hostpath, sizeof(hostpath), "%s/victim", sandbox);
  SYMLINK_(t, "abs", hostpath);
  FILE_(t, "abs/newfile", "pwned");
  rc = tar_apply_mode(t, STRATA_WHITEOUT_IN_PLACE, NULL, &err);
  if (getenv("TEST_VERBOSE"))
    print_message("result %d: %s\n", rc, err ? err->msg : "");
  strata_error_free(err);
  assert_victim_untouched();
  assert_type("abs", S_IFLNK);
}

static void test_layer__relative_symlink_chain(void **state) {
  struct tar *t = tar_new();

  (void)state;
  SYMLINK_(t, "a", "../../..");
  FILE_(t, "a/b/file", "one");
  DIR_(t, "x/");
  SYMLINK_(t, "x/y", "..");
  SYMLINK_(t, "x/z", "y/../../victim");
  FILE_(t, "x/y/x/y/x/y/step", "two");
  DIR_(t, "victim/");
  FILE_(t, "x/z/file", "three");
  tar_apply_ok(t);
  assert_victim_untouched();
  assert_content("b/file", "one");
  assert_content("step", "two");
  assert_content("victim/file", "three");
}

static void test_layer__symlink_from_lower_layer(void **state) {
  struct tar *t = tar_new();
  struct strata_error *err = NULL;

  (void)state;
  SYMLINK_(t, "etc", "../../victim");
  SYMLINK_(t, "up", "../..");
  tar_apply_ok(t);
  t = tar_new();
  DIR_(t, "victim/");
  FILE_(t, "up/victim/file", "pwned");
  FILE_(t, "etc/file", "pwned again");
  assert_int_equal(tar_apply_mode(t, STRATA_WHITEOUT_IN_PLACE, NULL, &err), 0);
  assert_null(err);
  assert_victim_untouched();
  assert_content("victim/file", "pwned again");
}

static void test_layer__metadata_never_follows_symlinks(void **state) {
  struct tar *t = tar_new();
  char hostfile[PATH_MAX + 16];
  struct stat before, after;

  (void)state;
  snprintf(hostfile, sizeof(hostfile), "%s/victim/file", sandbox);
  before = lstat_at(sandboxfd, "victim/file");
  ADD(t, .name = "s", .type = AE_IFLNK, .symlink = hostfile, .uid = 4321, .gid = 4321, .mtime = 1);
  ADD(t, .name = "r", .type = AE_IFLNK, .symlink = "../victim/file", .uid = 4321, .gid = 4321,
      .mtime = 1);
  tar_apply_ok(t);
  /* a later layer writing a file over the symlink replaces the link */
  t = tar_new();
  ADD(t, .name = "s", .data = "new", .perm = 04777, .uid = 4321, .xname = {"user.evil"},
      .xvalue = {"1"});
  ADD(t, .name = "r", .type = AE_IFDIR, .perm = 0777, .uid = 4321);
  tar_apply_ok(t);
  after = lstat_at(sandboxfd, "victim/file");
  assert_int_equal(before.st_mtim.tv_sec, after.st_mtim.tv_sec);
  assert_int_equal(before.st_ctim.tv_nsec, after.st_ctim.tv_nsec);
  assert_victim_untouched();
  assert_type("s", S_IFREG);
  assert_type("r", S_IFDIR);
  assert_content("s", "new");
}

/* ------------------------------------------------------------------ hardlinks */

static void test_layer__hardlink_outside_rejected(void **state) {
  struct tar *t = tar_new();

  (void)state;
  LINK_(t, "h", "../victim/file");
  tar_apply_fails(t, STRATA_WHITEOUT_IN_PLACE, "escapes the layer root");
  assert_victim_untouched();
}

static void test_layer__hardlink_via_symlink_to_outside(void **state) {
  struct tar *t = tar_new();
  char hostpath[PATH_MAX + 16];

  (void)state;
  snprintf(hostpath, sizeof(hostpath), "%s/victim", sandbox);
  SYMLINK_(t, "out", hostpath);
  SYMLINK_(t, "up", "../../../..");
  LINK_(t, "h", "out/file");
  tar_apply_fails(t, STRATA_WHITEOUT_IN_PLACE, "does not exist");
  assert_victim_untouched();

  t = tar_new();
  LINK_(t, "h2", "up/victim/file");
  tar_apply_fails(t, STRATA_WHITEOUT_IN_PLACE, "does not exist");
  assert_victim_untouched();

  /* a final symlink is linked as itself, never followed to the host */
  t = tar_new();
  SYMLINK_(t, "direct", "../victim/file");
  LINK_(t, "h3", "direct");
  tar_apply_ok(t);
  assert_victim_untouched();
  assert_type("h3", S_IFLNK);
}

static void test_layer__hardlink_to_symlink_links_the_symlink(void **state) {
  struct tar *t = tar_new();

  (void)state;
  FILE_(t, "target", "t");
  SYMLINK_(t, "s", "target");
  LINK_(t, "h", "s");
  tar_apply_ok(t);
  assert_type("h", S_IFLNK);
  assert_symlink("h", "target");
  assert_int_equal(lstat_root("h").st_ino, lstat_root("s").st_ino);
  assert_int_equal(lstat_root("target").st_nlink, 1);
}

static void test_layer__hardlink_through_symlinked_parent(void **state) {
  struct tar *t = tar_new();

  (void)state;
  FILE_(t, "usr/lib/libz.so", "z");
  SYMLINK_(t, "lib", "/usr/lib");
  LINK_(t, "libz-link", "lib/libz.so");
  LINK_(t, "lib/libz.so.1", "usr/lib/libz.so");
  tar_apply_ok(t);
  assert_int_equal(lstat_root("libz-link").st_ino, lstat_root("usr/lib/libz.so").st_ino);
  assert_int_equal(lstat_root("usr/lib/libz.so.1").st_ino, lstat_root("usr/lib/libz.so").st_ino);
  assert_type("lib", S_IFLNK);
}

static void test_layer__hardlink_missing_target(void **state) {
  struct tar *t = tar_new();

  (void)state;
  LINK_(t, "h", "nope");
  tar_apply_fails(t, STRATA_WHITEOUT_IN_PLACE,
                  "hardlink target 'nope' of layer entry 'h' does not exist");
}

static void test_layer__hardlink_to_directory_rejected(void **state) {
  struct tar *t = tar_new();

  (void)state;
  DIR_(t, "d");
  LINK_(t, "h", "d");
  tar_apply_fails(t, STRATA_WHITEOUT_IN_PLACE, "hardlink to directory");
}

/* ------------------------------------------------------------------ whiteouts, in place */

static void test_layer__whiteout_removes_lower_file(void **state) {
  struct tar *t = tar_new();

  (void)state;
  FILE_(t, "a/f1", "1");
  FILE_(t, "a/f2", "2");
  FILE_(t, "a/sub/deep/f3", "3");
  tar_apply_ok(t);
  t = tar_new();
  ADD(t, .name = "a/.wh.f1");
  ADD(t, .name = "a/.wh.sub");
  ADD(t, .name = ".wh.not-there");
  tar_apply_ok(t);
  assert_missing("a/f1");
  assert_missing("a/sub");
  assert_missing("a/.wh.f1");
  assert_missing(".wh.not-there");
  assert_content("a/f2", "2");
}

static void test_layer__whiteout_of_same_layer_file_kept(void **state) {
  struct tar *t = tar_new();

  (void)state;
  FILE_(t, "a/f", "lower");
  FILE_(t, "a/g", "lower g");
  tar_apply_ok(t);
  t = tar_new();
  FILE_(t, "a/f", "upper");
  ADD(t, .name = "a/.wh.f");
  FILE_(t, "new/x", "x");
  ADD(t, .name = ".wh.new"); /* an implied parent of this layer */
  ADD(t, .name = "a/.wh.g");
  tar_apply_ok(t);
  assert_content("a/f", "upper");
  assert_content("new/x", "x");
  assert_missing("a/g");
}

static void test_layer__whiteout_then_recreate(void **state) {
  struct tar *t = tar_new();

  (void)state;
  FILE_(t, "d/old", "old");
  tar_apply_ok(t);
  t = tar_new();
  ADD(t, .name = ".wh.d");
  FILE_(t, "d/new", "new");
  tar_apply_ok(t);
  assert_missing("d/old");
  assert_content("d/new", "new");
}

static void test_layer__whiteout_after_same_layer_dir_hides_lower(void **state) {
  struct tar *t = tar_new();

  (void)state;
  FILE_(t, "d/old", "old");
  FILE_(t, "d/sub/old2", "old");
  FILE_(t, "e/old", "old");
  tar_apply_ok(t);
  t = tar_new();
  DIR_(t, "d/");
  FILE_(t, "d/new", "new");
  FILE_(t, "e/new", "new"); /* e is only an implied parent here */
  ADD(t, .name = ".wh.d");
  ADD(t, .name = ".wh.e");
  tar_apply_ok(t);
  assert_content("d/new", "new");
  assert_missing("d/old");
  assert_missing("d/sub");
  assert_content("e/new", "new");
  assert_missing("e/old");
}

static void test_layer__opaque_before_entries(void **state) {
  struct tar *t = tar_new();

  (void)state;
  FILE_(t, "d/old1", "1");
  FILE_(t, "d/sub/old2", "2");
  FILE_(t, "keep", "k");
  tar_apply_ok(t);
  t = tar_new();
  DIR_(t, "d/");
  ADD(t, .name = "d/.wh..wh..opq");
  FILE_(t, "d/new", "n");
  FILE_(t, "d/sub/new2", "n2");
  tar_apply_ok(t);
  assert_missing("d/old1");
  assert_missing("d/sub/old2");
  assert_missing("d/.wh..wh..opq");
  assert_content("d/new", "n");
  assert_content("d/sub/new2", "n2");
  assert_content("keep", "k");
}

static void test_layer__opaque_after_entries(void **state) {
  struct tar *t = tar_new();

  (void)state;
  FILE_(t, "d/old1", "1");
  FILE_(t, "d/sub/old2", "2");
  FILE_(t, "d/sub2/old3", "3");
  SYMLINK_(t, "d/oldlink", "old1");
  tar_apply_ok(t);
  t = tar_new();
  DIR_(t, "d/");
  FILE_(t, "d/new", "n");
  FILE_(t, "d/sub/new2", "n2"); /* d/sub is an implied (lower) parent */
  DIR_(t, "d/sub2/");           /* an explicit one */
  ADD(t, .name = "d/.wh..wh..opq");
  tar_apply_ok(t);
  assert_missing("d/old1");
  assert_missing("d/oldlink");
  assert_missing("d/sub/old2");
  assert_missing("d/sub2/old3");
  assert_type("d/sub2", S_IFDIR);
  assert_content("d/new", "n");
  assert_content("d/sub/new2", "n2");
  assert_missing("d/.wh..wh..opq");
}

static void test_layer__whiteout_bad_names_rejected(void **state) {
  static const char *const bad[] = {".wh.", ".wh..", ".wh...", "a/.wh..", "a/.wh...", "a/.wh."};
  (void)state;
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    struct tar *t = tar_new();
    FILE_(t, "a/f", "x");
    ADD(t, .name = bad[i]);
    tar_apply_fails(t, STRATA_WHITEOUT_IN_PLACE, "does not name a file");
    assert_content("a/f", "x");
    t = tar_new();
    ADD(t, .name = bad[i]);
    tar_apply_fails(t, STRATA_WHITEOUT_OVERLAY, "does not name a file");
  }
  assert_victim_untouched();
}

static void test_layer__whiteout_escaping_rejected(void **state) {
  struct tar *t = tar_new();

  (void)state;
  ADD(t, .name = "../victim/.wh.file");
  tar_apply_fails(t, STRATA_WHITEOUT_IN_PLACE, "escapes the layer root");
  assert_victim_untouched();
}

static void test_layer__whiteout_through_symlinked_parent(void **state) {
  struct tar *t = tar_new();
  char hostpath[PATH_MAX + 32];

  (void)state;
  snprintf(hostpath, sizeof(hostpath), "%s/victim", sandbox);
  FILE_(t, "real/f", "x");
  FILE_(t, "real/g", "y");
  SYMLINK_(t, "l", "real");
  SYMLINK_(t, "host", hostpath);
  SYMLINK_(t, "up", "../..");
  tar_apply_ok(t);
  t = tar_new();
  ADD(t, .name = "l/.wh.f");
  ADD(t, .name = "host/.wh.file");
  ADD(t, .name = "up/victim/.wh.file");
  ADD(t, .name = "up/.wh.victim");
  ADD(t, .name = ".wh.l"); /* removes the link, not what it points at */
  tar_apply_ok(t);
  assert_victim_untouched();
  assert_missing("real/f");
  assert_content("real/g", "y");
  assert_missing("l");
}

static void test_layer__aufs_metadata_skipped(void **state) {
  struct tar *t = tar_new();

  (void)state;
  FILE_(t, "plnk", "lower");
  tar_apply_ok(t);
  t = tar_new();
  DIR_(t, ".wh..wh.plnk");
  FILE_(t, ".wh..wh.plnk/1234.5678", "aufs hardlink store");
  FILE_(t, ".wh..wh.aufs", "");
  ADD(t, .name = "d/.wh..wh.x");
  tar_apply_ok(t);
  assert_content("plnk", "lower");
  assert_missing(".wh..wh.plnk");
  assert_missing(".wh..wh.aufs");
  assert_missing("d/.wh..wh.x");
}

/* ------------------------------------------------------------------ whiteouts, overlay */

static void test_layer__overlay_whiteout_is_chardev(void **state) {
  struct tar *t = tar_new();
  struct strata_error *err = NULL;
  struct stat st;

  (void)state;
  ADD(t, .name = "etc/.wh.passwd");
  ADD(t, .name = ".wh.tmp");
  FILE_(t, "kept", "k");
  ADD(t, .name = ".wh.kept"); /* same layer: stays a file */
  assert_int_equal(tar_apply_mode(t, STRATA_WHITEOUT_OVERLAY, NULL, &err), 0);
  st = lstat_root("etc/passwd");
  assert_true(S_ISCHR(st.st_mode));
  assert_int_equal(st.st_rdev, makedev(0, 0));
  assert_true(S_ISCHR(lstat_root("tmp").st_mode));
  assert_missing("etc/.wh.passwd");
  assert_missing(".wh.tmp");
  assert_content("kept", "k");
}

static void test_layer__overlay_opaque_sets_xattr(void **state) {
  struct tar *t = tar_new();
  struct strata_error *err = NULL;
  char buf[8];
  int fd;

  (void)state;
  DIR_(t, "d/");
  ADD(t, .name = "d/.wh..wh..opq");
  FILE_(t, "d/f", "x");
  ADD(t, .name = "implied/.wh..wh..opq");
  assert_int_equal(tar_apply_mode(t, STRATA_WHITEOUT_OVERLAY, NULL, &err), 0);
  assert_missing("d/.wh..wh..opq");
  fd = openat(rootfd, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  assert_int_equal(fgetxattr(fd, "trusted.overlay.opaque", buf, sizeof(buf)), 1);
  assert_int_equal(buf[0], 'y');
  close(fd);
  fd = openat(rootfd, "implied", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  assert_int_equal(fgetxattr(fd, "trusted.overlay.opaque", buf, sizeof(buf)), 1);
  close(fd);
  assert_content("d/f", "x");
}

static void test_layer__overlay_whiteout_then_dir_is_opaque(void **state) {
  struct tar *t = tar_new();
  struct strata_error *err = NULL;
  char buf[8];
  int fd;

  (void)state;
  ADD(t, .name = ".wh.d");
  DIR_(t, "d/");
  FILE_(t, "d/f", "x");
  DIR_(t, "plain/");
  assert_int_equal(tar_apply_mode(t, STRATA_WHITEOUT_OVERLAY, NULL, &err), 0);
  fd = openat(rootfd, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  assert_int_equal(fgetxattr(fd, "trusted.overlay.opaque", buf, sizeof(buf)), 1);
  close(fd);
  fd = openat(rootfd, "plain", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  assert_true(fgetxattr(fd, "trusted.overlay.opaque", buf, sizeof(buf)) < 0);
  close(fd);
}

/* ------------------------------------------------------------------ replacing */

static void test_layer__type_change_file_to_dir(void **state) {
  struct tar *t = tar_new();

  (void)state;
  FILE_(t, "x", "file");
  tar_apply_ok(t);
  t = tar_new();
  DIR_(t, "x/");
  FILE_(t, "x/y", "y");
  tar_apply_ok(t);
  assert_type("x", S_IFDIR);
  assert_content("x/y", "y");
}

static void test_layer__type_change_dir_to_file(void **state) {
  struct tar *t = tar_new();

  (void)state;
  FILE_(t, "x/y/z", "deep");
  tar_apply_ok(t);
  t = tar_new();
  FILE_(t, "x", "now a file");
  tar_apply_ok(t);
  assert_type("x", S_IFREG);
  assert_content("x", "now a file");
}

static void test_layer__type_change_file_to_symlink_and_back(void **state) {
  struct tar *t = tar_new();

  (void)state;
  FILE_(t, "a", "file");
  SYMLINK_(t, "a", "/etc/passwd");
  SYMLINK_(t, "b", "a");
  FILE_(t, "b", "file again");
  tar_apply_ok(t);
  assert_symlink("a", "/etc/passwd");
  assert_type("b", S_IFREG);
  assert_content("b", "file again");
}

static void test_layer__symlink_to_dir_replaced_by_dir(void **state) {
  struct tar *t = tar_new();

  (void)state;
  FILE_(t, "real/keep", "k");
  SYMLINK_(t, "d", "real");
  tar_apply_ok(t);
  t = tar_new();
  ADD(t, .name = "d/", .type = AE_IFDIR, .perm = 0700);
  tar_apply_ok(t);
  assert_type("d", S_IFDIR);
  assert_int_equal(lstat_root("real").st_mode & 07777, 0755);
  assert_content("real/keep", "k");
}

static void test_layer__duplicate_last_wins(void **state) {
  struct tar *t = tar_new();
  struct stat st;

  (void)state;
  ADD(t, .name = "f", .data = "one", .perm = 0600);
  ADD(t, .name = "f", .data = "two", .perm = 0640, .uid = 7);
  ADD(t, .name = "d", .type = AE_IFDIR, .perm = 0700);
  FILE_(t, "d/inner", "i");
  ADD(t, .name = "d", .type = AE_IFDIR, .perm = 0751);
  tar_apply_ok(t);
  assert_content("f", "two");
  st = lstat_root("f");
  assert_int_equal(st.st_mode & 07777, 0640);
  assert_int_equal(st.st_uid, 7);
  assert_int_equal(lstat_root("d").st_mode & 07777, 0751);
  /* an existing directory is kept, with its contents */
  assert_content("d/inner", "i");
}

static void test_layer__hardlink_replaces_lower_file(void **state) {
  struct tar *t = tar_new();

  (void)state;
  FILE_(t, "a", "A");
  FILE_(t, "b", "B");
  tar_apply_ok(t);
  t = tar_new();
  LINK_(t, "b", "a");
  tar_apply_ok(t);
  assert_content("b", "A");
  assert_int_equal(lstat_root("a").st_nlink, 2);
}

static void test_layer__implied_parents(void **state) {
  struct tar *t = tar_new();
  struct stat st;
  mode_t old = umask(077);

  (void)state;
  FILE_(t, "a/b/c/file", "x");
  SYMLINK_(t, "lnk", "a/b");
  FILE_(t, "lnk/n1/n2/file", "y");
  tar_apply_ok(t);
  umask(old);
  st = lstat_root("a/b/c");
  assert_true(S_ISDIR(st.st_mode));
  assert_int_equal(st.st_mode & 07777, 0755);
  assert_int_equal(st.st_uid, 0);
  assert_int_equal(lstat_root("a").st_mode & 07777, 0755);
  assert_content("a/b/c/file", "x");
  assert_content("a/b/n1/n2/file", "y");
  assert_int_equal(lstat_root("a/b/n1").st_mode & 07777, 0755);
}

static void test_layer__parent_is_a_file(void **state) {
  struct tar *t = tar_new();

  (void)state;
  FILE_(t, "f", "x");
  FILE_(t, "f/g", "y");
  tar_apply_fails(t, STRATA_WHITEOUT_IN_PLACE, "not a directory");
}

/* ------------------------------------------------------------------ special files */

static void test_layer__fifo(void **state) {
  struct tar *t = tar_new();
  struct stat st;

  (void)state;
  ADD(t, .name = "run/fifo", .type = AE_IFIFO, .perm = 0620, .uid = 3, .gid = 4);
  tar_apply_ok(t);
  st = lstat_root("run/fifo");
  assert_true(S_ISFIFO(st.st_mode));
  assert_int_equal(st.st_mode & 07777, 0620);
  assert_int_equal(st.st_uid, 3);
}

static void test_layer__device_nodes(void **state) {
  struct tar *t = tar_new();
  struct stat st;

  (void)state;
  ADD(t, .name = "dev/null", .type = AE_IFCHR, .perm = 0666, .rmajor = 1, .rminor = 3);
  ADD(t, .name = "dev/loop9", .type = AE_IFBLK, .perm = 0660, .rmajor = 7, .rminor = 9, .gid = 6);
  tar_apply_ok(t);
  st = lstat_root("dev/null");
  assert_true(S_ISCHR(st.st_mode));
  assert_int_equal(st.st_rdev, makedev(1, 3));
  assert_int_equal(st.st_mode & 07777, 0666);
  st = lstat_root("dev/loop9");
  assert_true(S_ISBLK(st.st_mode));
  assert_int_equal(st.st_rdev, makedev(7, 9));
  assert_int_equal(st.st_gid, 6);
}

static void test_layer__sparse_file(void **state) {
  const size_t size = 1 << 20;
  char *data = calloc(1, size);
  struct tar *t = tar_new();
  struct archive_entry *ae;
  struct strata_layer_stats stats = {0};
  struct strata_error *err = NULL;
  struct stat st;
  char *got;
  int fd;

  (void)state;
  assert_non_null(data);
  memset(data + 4096, 'a', 4096);
  memset(data + 512 * 1024, 'b', 8192);
  ae = ent_make(&(struct ent){.name = "sparse"});
  archive_entry_set_size(ae, (la_int64_t)size);
  archive_entry_sparse_add_entry(ae, 4096, 4096);
  archive_entry_sparse_add_entry(ae, 512 * 1024, 8192);
  assert_int_equal(archive_write_header(t->a, ae), ARCHIVE_OK);
  assert_int_equal(archive_write_data(t->a, data, size), (la_ssize_t)size);
  archive_entry_free(ae);
  tar_finish(t);
  /* the holes are not in the archive */
  assert_true(t->used < size / 2);
  assert_int_equal(tar_apply_mode(t, STRATA_WHITEOUT_IN_PLACE, &stats, &err), 0);
  st = lstat_root("sparse");
  assert_int_equal(st.st_size, size);
  assert_int_equal(stats.size, 4096 + 8192);
  got = malloc(size);
  fd = openat(rootfd, "sparse", O_RDONLY | O_CLOEXEC);
  assert_int_equal(read(fd, got, size), (ssize_t)size);
  close(fd);
  assert_memory_equal(got, data, size);
  free(got);
  free(data);
}

/* ------------------------------------------------------------------ archive errors */

static void test_layer__truncated_archive(void **state) {
  struct tar *t = tar_new();
  struct strata_error *err = NULL;
  char *big = malloc(100000);
  int rc;

  (void)state;
  memset(big, 'z', 100000);
  FILE_(t, "first", "ok");
  ADD(t, .name = "big", .data = big, .len = 100000);
  FILE_(t, "last", "never");
  tar_finish(t);
  rc = apply_buf(t->buf, t->used / 2, STRATA_WHITEOUT_IN_PLACE, NULL, &err);
  assert_true(rc < 0);
  assert_non_null(err);
  if (strstr(err->msg, "truncated layer at entry 'big'") == NULL)
    fail_msg("unexpected error: %s", err->msg);
  strata_error_free(err);
  err = NULL;
  assert_missing("last");

  /* cut inside a header */
  rc = apply_buf(t->buf, 512 + 700, STRATA_WHITEOUT_IN_PLACE, NULL, &err);
  assert_true(rc < 0);
  assert_non_null(err);
  strata_error_free(err);
  tar_free(t);
  free(big);
}

static void test_layer__corrupt_header(void **state) {
  struct tar *t = tar_new();
  struct strata_error *err = NULL;
  int rc;

  (void)state;
  FILE_(t, "a", "x");
  FILE_(t, "b", "y");
  tar_finish(t);
  /* the second header's checksum no longer matches */
  t->buf[1024 + 10] ^= 0x55;
  rc = apply_buf(t->buf, t->used, STRATA_WHITEOUT_IN_PLACE, NULL, &err);
  assert_true(rc < 0);
  assert_non_null(err);
  if (strstr(err->msg, "after entry 'a'") == NULL)
    fail_msg("unexpected error: %s", err->msg);
  strata_error_free(err);
  tar_free(t);
}

static void test_layer__empty_archive(void **state) {
  struct tar *t = tar_new();
  struct strata_layer_stats stats = {0};
  struct strata_error *err = NULL;
  DIR *d;
  struct dirent *de;
  int n = 0;

  (void)state;
  assert_int_equal(tar_apply_mode(t, STRATA_WHITEOUT_IN_PLACE, &stats, &err), 0);
  assert_null(err);
  assert_int_equal(stats.entries, 0);
  assert_int_equal(stats.size, 0);
  d = fdopendir(openat(rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  assert_non_null(d);
  while ((de = readdir(d)) != NULL)
    n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
  closedir(d);
  assert_int_equal(n, 0);
}

static void test_layer__stats(void **state) {
  struct tar *t = tar_new();
  struct strata_layer_stats stats = {0};
  struct strata_error *err = NULL;

  (void)state;
  DIR_(t, "d/");
  FILE_(t, "d/a", "12345");
  FILE_(t, "d/b", "678");
  SYMLINK_(t, "d/l", "a");
  LINK_(t, "d/h", "d/a");
  ADD(t, .name = "d/.wh.gone");
  assert_int_equal(tar_apply_mode(t, STRATA_WHITEOUT_IN_PLACE, &stats, &err), 0);
  assert_int_equal(stats.entries, 6);
  assert_int_equal(stats.size, 8);
}

#define T(name) cmocka_unit_test_setup_teardown(test_layer__##name, setup, teardown)

int main(void) {
  /* chown, mknod and trusted.* xattrs need root; 77 is automake's SKIP */
  if (geteuid() != 0) {
    fprintf(stderr, "test_layer: needs root, skipped\n");
    return 77;
  }
  const struct CMUnitTest tests[] = {
      T(basic_file),
      T(basic_dir),
      T(basic_symlink),
      T(basic_hardlink),
      T(hardlink_to_lower_layer),
      T(hardlink_to_itself),
      T(detached_records_implied_dirs),
      T(detached_root_entry_is_the_layers),
      T(detached_needs_parent),
      T(setuid_after_chown),
      T(ownership),
      T(file_times),
      T(dir_mtime_survives_later_entries),
      T(root_entry_metadata),
      T(root_entry_not_a_dir_rejected),
      T(xattr_user),
      T(trusted_overlay_xattrs_dropped),
      T(file_capability_survives_chown),
      T(dotdot_rejected),
      T(absolute_name),
      T(odd_but_fine_names),
      T(absolute_symlink_resolves_in_root),
      T(dangling_symlink_parent_stays_inside),
      T(relative_symlink_chain),
      T(symlink_from_lower_layer),
      T(metadata_never_follows_symlinks),
      T(hardlink_outside_rejected),
      T(hardlink_via_symlink_to_outside),
      T(hardlink_to_symlink_links_the_symlink),
      T(hardlink_through_symlinked_parent),
      T(hardlink_missing_target),
      T(hardlink_to_directory_rejected),
      T(whiteout_removes_lower_file),
      T(whiteout_of_same_layer_file_kept),
      T(whiteout_then_recreate),
      T(whiteout_after_same_layer_dir_hides_lower),
      T(opaque_before_entries),
      T(opaque_after_entries),
      T(whiteout_bad_names_rejected),
      T(whiteout_escaping_rejected),
      T(whiteout_through_symlinked_parent),
      T(aufs_metadata_skipped),
      T(overlay_whiteout_is_chardev),
      T(overlay_opaque_sets_xattr),
      T(overlay_whiteout_then_dir_is_opaque),
      T(type_change_file_to_dir),
      T(type_change_dir_to_file),
      T(type_change_file_to_symlink_and_back),
      T(symlink_to_dir_replaced_by_dir),
      T(duplicate_last_wins),
      T(hardlink_replaces_lower_file),
      T(implied_parents),
      T(parent_is_a_file),
      T(fifo),
      T(device_nodes),
      T(sparse_file),
      T(truncated_archive),
      T(corrupt_header),
      T(empty_archive),
      T(stats),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
