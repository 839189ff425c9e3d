#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cleanup.h"
#include "container.h"
#include "digest.h"
#include "humanize.h"
#include "image.h"
#include "names.h"
#include "store.h"
#include "unit.h"

/* ------------------------------------------------------------------ scripted randomness
 *
 * The container names are drawn with getrandom(2).  This definition
 * interposes the C library's for libstrata (the program is linked with
 * --export-dynamic), so a test can script the next 8-byte draws; everything
 * else gets real random bytes. */

static uint64_t script[32];
static size_t script_len, script_pos;

ssize_t getrandom(void *buf, size_t len, unsigned int flags) {
  if (script_pos < script_len && len == sizeof(uint64_t)) {
    memcpy(buf, &script[script_pos++], sizeof(uint64_t));
    return (ssize_t)len;
  }
  return (ssize_t)syscall(SYS_getrandom, buf, len, flags);
}

static void script_set(const uint64_t *values, size_t n) {
  assert_true(n <= sizeof(script) / sizeof(script[0]));
  memcpy(script, values, n * sizeof(uint64_t));
  script_len = n;
  script_pos = 0;
}

static size_t script_done(void) {
  size_t used = script_pos;
  script_len = script_pos = 0;
  return used;
}

/* ------------------------------------------------------------------ sandbox */

static char sandbox[PATH_MAX];
static char root[PATH_MAX];
static struct strata_store *store;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static int setup(void **state) {
  (void)state;
  strcpy(sandbox, "/tmp/strata-test-store-XXXXXX");
  if (mkdtemp(sandbox) == NULL)
    return -1;
  snprintf(root, sizeof(root), "%s/store", sandbox);
  store = NULL;
  script_len = script_pos = 0;
  return 0;
}

static int teardown(void **state) {
  (void)state;
  strata_store_close(store);
  store = NULL;
  return nftw(sandbox, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static struct strata_store *open_store(void) {
  struct strata_error *err = NULL;

  if (strata_store_open(root, &store, &err) != 0)
    fail_msg("cannot open store: %s", err ? err->msg : "(no error)");
  assert_null(err);
  return store;
}

static char *path_in(const char *rel) {
  char *p = NULL;
  assert_true(asprintf(&p, "%s/%s", root, rel) > 0);
  return p;
}

static bool exists(const char *rel) {
  struct stat st;
  char *p = path_in(rel);
  bool r = lstat(p, &st) == 0;
  free(p);
  return r;
}

static size_t count_entries(const char *rel) {
  char *p = path_in(rel);
  DIR *d = opendir(p);
  struct dirent *de;
  size_t n = 0;

  assert_non_null(d);
  while ((de = readdir(d)) != NULL)
    if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
      n++;
  closedir(d);
  free(p);
  return n;
}

static void put_file(const char *rel, const char *text) {
  char *p = path_in(rel);
  FILE *f = fopen(p, "w");

  assert_non_null(f);
  fputs(text, f);
  assert_int_equal(fclose(f), 0);
  free(p);
}

static json_t *load(const char *text) {
  json_error_t jerr;
  json_t *j = json_loads(text, 0, &jerr);
  if (j == NULL)
    fail_msg("bad test JSON: %s", jerr.text);
  return j;
}

static size_t strv_len(char **v) {
  size_t n = 0;
  while (v[n])
    n++;
  return n;
}

static bool strv_has(char **v, const char *s) {
  for (; *v; v++)
    if (strcmp(*v, s) == 0)
      return true;
  return false;
}

/* ------------------------------------------------------------------ opening */

static void test_store__open_creates_layout(void **state) {
  static const char *const dirs[] = {"tmp", "blobs", "blobs/sha256", "layers", "images",
                                     "containers", "storage"};
  struct stat st;
  char *lock;

  (void)state;
  open_store();
  assert_int_equal(stat(root, &st), 0);
  assert_true(S_ISDIR(st.st_mode));
  assert_int_equal(st.st_mode & 07777, 0700);
  assert_int_equal(st.st_uid, geteuid());
  for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
    char *p = path_in(dirs[i]);
    if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode))
      fail_msg("%s is not a directory", p);
    assert_int_equal(st.st_mode & 077, 0); /* nothing for group or others */
    free(p);
  }
  lock = path_in("lock");
  assert_int_equal(lstat(lock, &st), 0);
  assert_true(S_ISREG(st.st_mode));
  assert_int_equal(st.st_mode & 077, 0);
  free(lock);
  assert_string_equal(store->root, root);
  assert_true(store->rootfd >= 0);
  assert_true(store->lockfd >= 0);
  assert_int_equal(store->locked, 0);
}

static void test_store__open_creates_parents(void **state) {
  struct strata_error *err = NULL;
  char deep[PATH_MAX + 16], parent[PATH_MAX + 16];
  struct stat st;

  (void)state;
  snprintf(deep, sizeof(deep), "%s/a/b/store", sandbox);
  snprintf(parent, sizeof(parent), "%s/a/b", sandbox);
  assert_int_equal(strata_store_open(deep, &store, &err), 0);
  assert_int_equal(stat(deep, &st), 0);
  assert_int_equal(st.st_mode & 07777, 0700);
  /* only the root itself is made private */
  assert_int_equal(stat(parent, &st), 0);
  assert_int_equal(st.st_mode & 07777, 0755);
  strata_store_close(store);
  store = NULL;
}

static void test_store__open_makes_existing_root_private(void **state) {
  struct stat st;

  (void)state;
  assert_int_equal(mkdir(root, 0755), 0);
  assert_int_equal(chmod(root, 0777), 0);
  open_store();
  assert_int_equal(stat(root, &st), 0);
  assert_int_equal(st.st_mode & 07777, 0700);
}

static void test_store__open_refuses_relative(void **state) {
  struct strata_store *s = NULL;
  struct strata_error *err = NULL;

  (void)state;
  assert_true(strata_store_open("relative/store", &s, &err) < 0);
  assert_null(s);
  assert_error_contains(err, "absolute");
  strata_error_clear(&err);
  assert_true(strata_store_open("", &s, &err) < 0);
  assert_null(s);
  strata_error_clear(&err);
  assert_true(strata_store_open(NULL, &s, &err) < 0);
  assert_null(s);
  strata_error_clear(&err);
}

static void test_store__open_refuses_a_file(void **state) {
  struct strata_store *s = NULL;
  struct strata_error *err = NULL;
  FILE *f = fopen(root, "w");

  (void)state;
  assert_non_null(f);
  fclose(f);
  assert_true(strata_store_open(root, &s, &err) < 0);
  assert_null(s);
  assert_error_contains(err, root);
  strata_error_free(err);
}

static void test_store__reopen_keeps_content(void **state) {
  struct strata_error *err = NULL;
  json_t *doc = load("{\"k\": \"v\"}"), *back = NULL;

  (void)state;
  open_store();
  assert_int_equal(strata_store_write_json(store, "layers/x.json", doc, &err), 0);
  strata_store_close(store);
  store = NULL;
  open_store();
  assert_int_equal(strata_store_read_json(store, "layers/x.json", &back, &err), 0);
  assert_true(json_equal(doc, back));
  json_decref(back);
  json_decref(doc);
}

/* ------------------------------------------------------------------ files and JSON */

static void test_store__json_roundtrip(void **state) {
  struct strata_error *err = NULL;
  json_t *doc = load("{\"b\": [1, \"two\", null], \"a\": {\"nested\": true}, \"u\": \"\xc3\xa9\"}");
  json_t *back = NULL;

  (void)state;
  open_store();
  assert_int_equal(strata_store_write_json(store, "images/rec.json", doc, &err), 0);
  assert_null(err);
  assert_true(exists("images/rec.json"));
  assert_int_equal(count_entries("tmp"), 0); /* staging cleaned up */
  assert_int_equal(strata_store_read_json(store, "images/rec.json", &back, &err), 0);
  assert_non_null(back);
  assert_true(json_equal(doc, back));
  json_decref(back);
  json_decref(doc);
}

static void test_store__write_replaces(void **state) {
  struct strata_error *err = NULL;
  char *data = NULL;
  size_t len = 0;

  (void)state;
  open_store();
  assert_int_equal(strata_store_write_file(store, "f", "first version", 13, &err), 0);
  assert_int_equal(strata_store_write_file(store, "f", "second", 6, &err), 0);
  assert_int_equal(strata_read_file_at(store->rootfd, "f", 1024, &data, &len, &err), 0);
  assert_int_equal(len, 6);
  assert_string_equal(data, "second"); /* NUL-terminated */
  free(data);
  assert_int_equal(count_entries("tmp"), 0);
}

static void test_store__write_into_missing_dir_fails_clean(void **state) {
  struct strata_error *err = NULL;

  (void)state;
  open_store();
  assert_true(strata_store_write_file(store, "nodir/f", "x", 1, &err) < 0);
  assert_error_contains(err, "nodir/f");
  strata_error_free(err);
  assert_int_equal(count_entries("tmp"), 0); /* the staged file is gone */
}

static void test_store__read_json_missing_is_1(void **state) {
  struct strata_error *err = NULL;
  json_t *doc = (json_t *)0x1;

  (void)state;
  open_store();
  assert_int_equal(strata_store_read_json(store, "images/none.json", &doc, &err), 1);
  assert_null(doc);
  assert_null(err);
}

static void test_store__read_json_corrupt(void **state) {
  struct strata_error *err = NULL;
  json_t *doc = NULL;

  (void)state;
  open_store();
  put_file("layers/bad.json", "{\"truncated\": ");
  assert_true(strata_store_read_json(store, "layers/bad.json", &doc, &err) < 0);
  assert_null(doc);
  assert_error_contains(err, "corrupt store record");
  assert_error_contains(err, "layers/bad.json");
  strata_error_free(err);
}

static void test_store__read_json_never_follows_symlinks(void **state) {
  struct strata_error *err = NULL;
  json_t *doc = NULL;
  char *link = NULL, *target = NULL;

  (void)state;
  open_store();
  put_file("outside.json", "{\"secret\": 1}");
  target = path_in("outside.json");
  link = path_in("images/evil.json");
  assert_int_equal(symlink(target, link), 0);
  assert_true(strata_store_read_json(store, "images/evil.json", &doc, &err) < 0);
  assert_null(doc);
  assert_non_null(err);
  assert_int_equal(err->errnum, ELOOP);
  strata_error_free(err);
  free(link);
  free(target);
}

static void test_store__read_file_limits(void **state) {
  struct strata_error *err = NULL;
  char *data = NULL;
  size_t len = 0;

  (void)state;
  open_store();
  put_file("ten", "0123456789");
  assert_int_equal(strata_read_file_at(store->rootfd, "ten", 10, &data, &len, &err), 0);
  assert_int_equal(len, 10);
  free(data);
  data = NULL;
  assert_true(strata_read_file_at(store->rootfd, "ten", 9, &data, &len, &err) < 0);
  assert_null(data);
  assert_int_equal(err->errnum, EFBIG);
  strata_error_clear(&err);
  /* a directory is not a file */
  assert_true(strata_read_file_at(store->rootfd, "layers", 100, &data, &len, &err) < 0);
  assert_non_null(err);
  strata_error_clear(&err);
  /* missing */
  assert_true(strata_read_file_at(store->rootfd, "nope", 100, &data, &len, &err) < 0);
  assert_int_equal(err->errnum, ENOENT);
  strata_error_clear(&err);
}

static void test_store__remove(void **state) {
  struct strata_error *err = NULL;

  (void)state;
  open_store();
  put_file("layers/x.json", "{}");
  assert_int_equal(strata_store_remove(store, "layers/x.json", &err), 0);
  assert_false(exists("layers/x.json"));
  assert_int_equal(strata_store_remove(store, "layers/x.json", &err), 0);
  assert_null(err);
}

/* ------------------------------------------------------------------ blobs */

static void test_store__blob_roundtrip(void **state) {
  static const char data[] = "{\"schemaVersion\": 2}\n";
  char digest[STRATA_DIGEST_STR_LEN + 1], rel[128];
  struct strata_error *err = NULL;
  char *back = NULL;
  size_t len = 0;

  (void)state;
  open_store();
  strata_digest_buffer(data, strlen(data), digest);
  assert_false(strata_store_has_blob(store, digest));
  assert_int_equal(strata_store_put_blob(store, digest, data, strlen(data), &err), 0);
  assert_null(err);
  assert_true(strata_store_has_blob(store, digest));
  snprintf(rel, sizeof(rel), "blobs/sha256/%s", digest + 7);
  assert_true(exists(rel));
  assert_int_equal(strata_store_get_blob(store, digest, &back, &len, &err), 0);
  assert_int_equal(len, strlen(data));
  assert_memory_equal(back, data, len);
  free(back);
  /* storing it again is fine */
  assert_int_equal(strata_store_put_blob(store, digest, data, strlen(data), &err), 0);
  assert_int_equal(count_entries("blobs/sha256"), 1);
  assert_int_equal(count_entries("tmp"), 0);
}

static void test_store__blob_empty(void **state) {
  char digest[STRATA_DIGEST_STR_LEN + 1];
  struct strata_error *err = NULL;
  char *back = NULL;
  size_t len = 99;

  (void)state;
  open_store();
  strata_digest_buffer("", 0, digest);
  assert_string_equal(digest,
                      "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  assert_int_equal(strata_store_put_blob(store, digest, "", 0, &err), 0);
  assert_int_equal(strata_store_get_blob(store, digest, &back, &len, &err), 0);
  assert_int_equal(len, 0);
  free(back);
}

static void test_store__blob_mismatch_refused(void **state) {
  char digest[STRATA_DIGEST_STR_LEN + 1], rel[128];
  struct strata_error *err = NULL;

  (void)state;
  open_store();
  strata_digest_buffer("hello", 5, digest);
  assert_true(strata_store_put_blob(store, digest, "hellp", 5, &err) < 0);
  assert_error_contains(err, "digest mismatch");
  strata_error_free(err);
  err = NULL;
  /* a prefix of the right data is not the data either */
  assert_true(strata_store_put_blob(store, digest, "hell", 4, &err) < 0);
  strata_error_free(err);
  assert_false(strata_store_has_blob(store, digest));
  snprintf(rel, sizeof(rel), "blobs/sha256/%s", digest + 7);
  assert_false(exists(rel));
  assert_int_equal(count_entries("blobs/sha256"), 0);
  assert_int_equal(count_entries("tmp"), 0);
}

static void test_store__blob_invalid_digest(void **state) {
  static const char *const bad[] = {
      "sha256:../../../etc/passwd",
      "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
      "sha512:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
      "",
  };
  struct strata_error *err = NULL;
  char *data = NULL;
  size_t len;

  (void)state;
  open_store();
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    assert_true(strata_store_put_blob(store, bad[i], "", 0, &err) < 0);
    assert_error_contains(err, "invalid digest");
    strata_error_clear(&err);
    assert_true(strata_store_get_blob(store, bad[i], &data, &len, &err) < 0);
    assert_null(data);
    strata_error_clear(&err);
    assert_false(strata_store_has_blob(store, bad[i]));
  }
  assert_int_equal(count_entries("blobs/sha256"), 0);
}

static void test_store__blob_missing(void **state) {
  char digest[STRATA_DIGEST_STR_LEN + 1];
  struct strata_error *err = NULL;
  char *data = NULL;
  size_t len;

  (void)state;
  open_store();
  strata_digest_buffer("absent", 6, digest);
  assert_true(strata_store_get_blob(store, digest, &data, &len, &err) < 0);
  assert_null(data);
  assert_int_equal(err->errnum, ENOENT);
  strata_error_free(err);
}

/* ------------------------------------------------------------------ lists, tmp, lock */

static void test_store__list(void **state) {
  struct strata_error *err = NULL;
  char **v;

  (void)state;
  open_store();
  put_file("layers/aaa.json", "{}");
  put_file("layers/bbb.json", "{}");
  put_file("layers/.json", "{}");
  put_file("layers/notes.txt", "x");
  put_file("layers/ccc.json.tmp", "{}");
  v = strata_store_list(store, "layers", &err);
  assert_non_null(v);
  assert_int_equal(strv_len(v), 2);
  assert_true(strv_has(v, "aaa"));
  assert_true(strv_has(v, "bbb"));
  strv_free(v);

  v = strata_store_list(store, "containers", &err);
  assert_non_null(v);
  assert_int_equal(strv_len(v), 0);
  strv_free(v);

  v = strata_store_list(store, "no-such-dir", &err);
  assert_null(v);
  assert_error_contains(err, "no-such-dir");
  strata_error_free(err);
}

static void test_store__tmpfile_and_tmpdir(void **state) {
  struct strata_error *err = NULL;
  char *name1 = NULL, *name2 = NULL, *dname = NULL;
  int fd1, fd2;
  struct stat st;

  (void)state;
  open_store();
  fd1 = strata_store_tmpfile(store, &name1, &err);
  fd2 = strata_store_tmpfile(store, &name2, &err);
  assert_true(fd1 >= 0);
  assert_true(fd2 >= 0);
  assert_true(strncmp(name1, "tmp/", 4) == 0);
  assert_string_not_equal(name1, name2);
  assert_int_equal(write(fd1, "abc", 3), 3);
  assert_true(exists(name1));
  assert_int_equal(fstat(fd1, &st), 0);
  assert_int_equal(st.st_mode & 077, 0);
  assert_int_equal(strata_store_tmpdir(store, &dname, &err), 0);
  assert_true(strncmp(dname, "tmp/", 4) == 0);
  assert_true(exists(dname));
  assert_int_equal(count_entries("tmp"), 3);
  close(fd1);
  close(fd2);
  free(name1);
  free(name2);
  free(dname);
}

static void test_store__exclusive_lock_clears_tmp(void **state) {
  struct strata_error *err = NULL;
  char *name = NULL, *dname = NULL, *inner;
  int fd;

  (void)state;
  open_store();
  fd = strata_store_tmpfile(store, &name, &err);
  assert_true(fd >= 0);
  close(fd);
  assert_int_equal(strata_store_tmpdir(store, &dname, &err), 0);
  assert_true(asprintf(&inner, "%s/nested", dname) > 0);
  put_file(inner, "leftover");
  assert_int_equal(count_entries("tmp"), 2);

  /* a shared lock leaves tmp/ alone: others may be staging there */
  assert_int_equal(strata_store_lock(store, false, &err), 0);
  assert_int_equal(store->locked, LOCK_SH);
  assert_int_equal(count_entries("tmp"), 2);

  assert_int_equal(strata_store_lock(store, true, &err), 0);
  assert_int_equal(store->locked, LOCK_EX);
  assert_int_equal(count_entries("tmp"), 0);
  assert_true(exists("tmp"));
  strata_store_unlock(store);
  assert_int_equal(store->locked, 0);
  free(name);
  free(dname);
  free(inner);
}

/* Can another process take the store lock in MODE right now? */
static bool other_can_lock(int mode) {
  pid_t pid = fork();
  int status;

  assert_true(pid >= 0);
  if (pid == 0) {
    char *p = path_in("lock");
    int fd = open(p, O_RDWR | O_CLOEXEC);
    _exit(fd >= 0 && flock(fd, mode | LOCK_NB) == 0 ? 0 : 1);
  }
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  return WEXITSTATUS(status) == 0;
}

static void test_store__lock_excludes_others(void **state) {
  struct strata_error *err = NULL;

  (void)state;
  open_store();
  assert_true(other_can_lock(LOCK_EX));
  assert_int_equal(strata_store_lock(store, false, &err), 0);
  assert_true(other_can_lock(LOCK_SH));
  assert_false(other_can_lock(LOCK_EX));
  assert_int_equal(strata_store_lock(store, true, &err), 0);
  assert_false(other_can_lock(LOCK_SH));
  assert_false(other_can_lock(LOCK_EX));
  strata_store_unlock(store);
  assert_true(other_can_lock(LOCK_EX));
  /* closing the store releases the lock too */
  assert_int_equal(strata_store_lock(store, true, &err), 0);
  strata_store_close(store);
  store = NULL;
  assert_true(other_can_lock(LOCK_EX));
}

static void test_store__driver_roundtrip(void **state) {
  struct strata_error *err = NULL;
  char *d;
  json_t *doc = NULL;

  (void)state;
  open_store();
  d = strata_store_driver(store, &err);
  assert_null(d); /* a new store */
  assert_null(err);
  assert_int_equal(strata_store_set_driver(store, "copy", &err), 0);
  d = strata_store_driver(store, &err);
  assert_non_null(d);
  assert_string_equal(d, "copy");
  free(d);
  assert_int_equal(strata_store_set_driver(store, "overlay", &err), 0);
  d = strata_store_driver(store, &err);
  assert_string_equal(d, "overlay");
  free(d);
  assert_int_equal(strata_store_read_json(store, "store.json", &doc, &err), 0);
  assert_string_equal(json_string_value(json_object_get(doc, "storage-driver")), "overlay");
  json_decref(doc);
}

static void test_store__driver_corrupt_store_json(void **state) {
  struct strata_error *err = NULL;

  (void)state;
  open_store();
  put_file("store.json", "{broken");
  assert_null(strata_store_driver(store, &err));
  assert_error_contains(err, "corrupt store record");
  strata_error_free(err);
}

/* ------------------------------------------------------------------ images */

#define ID_A1 "sha256:aaaa111111111111111111111111111111111111111111111111111111111111"
#define ID_A2 "sha256:aaaa222222222222222222222222222222222222222222222222222222222222"
#define ID_B "sha256:bbbb000000000000000000000000000000000000000000000000000000000000"
#define ID_DEAD "sha256:deadbeef00000000000000000000000000000000000000000000000000000000"

static void save_image(const char *id) {
  struct strata_error *err = NULL;
  json_t *rec = json_pack("{s:s, s:[s]}", "id", id, "layers", ID_B);

  if (strata_image_save(store, rec, &err) != 0)
    fail_msg("cannot save image %s: %s", id, err ? err->msg : "(no error)");
  json_decref(rec);
}

static void save_names(const char *text) {
  struct strata_error *err = NULL;
  json_t *names = load(text);

  assert_int_equal(strata_names_save(store, names, &err), 0);
  json_decref(names);
}

static void test_store__image_records(void **state) {
  struct strata_error *err = NULL;
  json_t *rec = NULL;
  char **ids;

  (void)state;
  open_store();
  save_image(ID_A1);
  save_image(ID_B);
  assert_true(exists("images/aaaa111111111111111111111111111111111111111111111111111111111111.json"));
  assert_int_equal(strata_image_load(store, ID_A1, &rec, &err), 0);
  assert_string_equal(json_string_value(json_object_get(rec, "id")), ID_A1);
  json_decref(rec);
  rec = NULL;

  ids = strata_image_list(store, &err);
  assert_non_null(ids);
  assert_int_equal(strv_len(ids), 2);
  assert_true(strv_has(ids, ID_A1));
  assert_true(strv_has(ids, ID_B));
  strv_free(ids);

  assert_int_equal(strata_image_load(store, ID_A2, &rec, &err), 1);
  assert_null(rec);
  assert_int_equal(strata_image_remove_record(store, ID_A1, &err), 0);
  assert_int_equal(strata_image_load(store, ID_A1, &rec, &err), 1);
  assert_int_equal(strata_image_remove_record(store, ID_A1, &err), 0);
  assert_null(err);
}

static void test_store__image_invalid_ids(void **state) {
  struct strata_error *err = NULL;
  json_t *rec = NULL;
  json_t *bad = json_pack("{s:s}", "id", "sha256:../../store");
  json_t *none = json_pack("{s:i}", "layers", 1);

  (void)state;
  open_store();
  assert_true(strata_image_load(store, "sha256:../x", &rec, &err) < 0);
  assert_error_contains(err, "invalid image ID");
  strata_error_clear(&err);
  assert_true(strata_image_load(store, "aaaa", &rec, &err) < 0);
  strata_error_clear(&err);
  assert_true(strata_image_save(store, bad, &err) < 0);
  strata_error_clear(&err);
  assert_true(strata_image_save(store, none, &err) < 0);
  strata_error_clear(&err);
  assert_true(strata_image_remove_record(store, "../images", &err) < 0);
  strata_error_clear(&err);
  assert_int_equal(count_entries("images"), 0);
  json_decref(bad);
  json_decref(none);
}

static void test_store__names_table(void **state) {
  struct strata_error *err = NULL;
  json_t *names = NULL;
  char **of;

  (void)state;
  open_store();
  assert_int_equal(strata_names_load(store, &names, &err), 0);
  assert_true(json_is_object(names));
  assert_int_equal(json_object_size(names), 0);
  json_object_set_new(names, "docker.io/library/busybox:latest", json_string(ID_A1));
  json_object_set_new(names, "docker.io/library/busybox:1", json_string(ID_A1));
  json_object_set_new(names, "localhost/mine:1", json_string(ID_A2));
  json_object_set_new(names, "docker.io/library/alpine:3", json_string(ID_A1));
  /* sorted, whatever the order of the table */
  of = strata_names_of(names, ID_A1);
  assert_int_equal(strv_len(of), 3);
  assert_string_equal(of[0], "docker.io/library/alpine:3");
  assert_string_equal(of[1], "docker.io/library/busybox:1");
  assert_string_equal(of[2], "docker.io/library/busybox:latest");
  strv_free(of);
  assert_int_equal(strata_names_save(store, names, &err), 0);
  json_decref(names);
  names = NULL;

  assert_int_equal(strata_names_load(store, &names, &err), 0);
  assert_int_equal(json_object_size(names), 4);
  of = strata_names_of(names, ID_A1);
  assert_int_equal(strv_len(of), 3);
  assert_string_equal(of[0], "docker.io/library/alpine:3");
  assert_string_equal(of[1], "docker.io/library/busybox:1");
  assert_string_equal(of[2], "docker.io/library/busybox:latest");
  strv_free(of);
  of = strata_names_of(names, ID_B);
  assert_int_equal(strv_len(of), 0);
  strv_free(of);
  json_decref(names);
}

static void test_store__names_table_not_an_object(void **state) {
  struct strata_error *err = NULL;
  json_t *names = NULL;

  (void)state;
  open_store();
  put_file("repositories.json", "[\"x\"]");
  assert_int_equal(strata_names_load(store, &names, &err), 0);
  assert_true(json_is_object(names));
  assert_int_equal(json_object_size(names), 0);
  json_decref(names);
}

/* Resolves WHAT, which must give WANT_ID and WANT_NAME (NULL for an ID match). */
static void resolve_is(const char *what, const char *want_id, const char *want_name) {
  struct strata_error *err = NULL;
  char *id = NULL, *name = (char *)0x1;
  int r = strata_image_resolve(store, what, &id, &name, &err);

  if (r != 0)
    fail_msg("'%s' not resolved (%d): %s", what, r, err ? err->msg : "(no error)");
  assert_string_equal(id, want_id);
  assert_string_or_null_equal(name, want_name);
  free(id);
  free(name);
}

static void image_fixture(void) {
  open_store();
  save_image(ID_A1);
  save_image(ID_A2);
  save_image(ID_B);
  save_image(ID_DEAD);
  save_names("{\"docker.io/library/busybox:latest\": \"" ID_A1 "\","
             " \"docker.io/library/busybox:1\": \"" ID_A1 "\","
             " \"localhost/mine:1\": \"" ID_A2 "\","
             " \"docker.io/library/deadbeef:latest\": \"" ID_B "\","
             " \"quay.io/team/tool:2\": \"" ID_B "\"}");
}

static void test_store__image_resolve_by_id(void **state) {
  (void)state;
  image_fixture();
  resolve_is(ID_A1, ID_A1, NULL);
  resolve_is(ID_B, ID_B, NULL);
  /* a full ID without "sha256:" is a (complete) prefix */
  resolve_is(ID_A2 + 7, ID_A2, NULL);
}

static void test_store__image_resolve_by_prefix(void **state) {
  (void)state;
  image_fixture();
  resolve_is("bbbb", ID_B, NULL);
  resolve_is("sha256:bbbb", ID_B, NULL);
  resolve_is("aaaa1", ID_A1, NULL);
  resolve_is("sha256:aaaa2", ID_A2, NULL);
  resolve_is("b", ID_B, NULL);
}

static void test_store__image_resolve_ambiguous_prefix(void **state) {
  struct strata_error *err = NULL;
  char *id = NULL;

  (void)state;
  image_fixture();
  assert_true(strata_image_resolve(store, "aaaa", &id, NULL, &err) < 0);
  assert_null(id);
  assert_error_contains(err, "ambiguous");
  strata_error_clear(&err);
  assert_true(strata_image_resolve(store, "sha256:a", &id, NULL, &err) < 0);
  assert_null(id);
  assert_error_contains(err, "ambiguous");
  strata_error_free(err);
}

static void test_store__image_resolve_by_name(void **state) {
  (void)state;
  image_fixture();
  resolve_is("busybox", ID_A1, "docker.io/library/busybox:latest");
  resolve_is("busybox:latest", ID_A1, "docker.io/library/busybox:latest");
  resolve_is("busybox:1", ID_A1, "docker.io/library/busybox:1");
  resolve_is("library/busybox:1", ID_A1, "docker.io/library/busybox:1");
  resolve_is("docker.io/library/busybox", ID_A1, "docker.io/library/busybox:latest");
  resolve_is("quay.io/team/tool:2", ID_B, "quay.io/team/tool:2");
}

static void test_store__image_resolve_short_name_finds_localhost(void **state) {
  struct strata_error *err = NULL;
  char *id = NULL, *name = NULL;

  (void)state;
  image_fixture();
  resolve_is("mine:1", ID_A2, "localhost/mine:1");
  resolve_is("localhost/mine:1", ID_A2, "localhost/mine:1");
  /* only short names: "user/mine:1" is docker.io/user/mine:1 */
  assert_int_equal(strata_image_resolve(store, "user/mine:1", &id, &name, &err), 1);
  assert_null(name);
  /* and the tag must match */
  assert_int_equal(strata_image_resolve(store, "mine", &id, &name, &err), 1);
  assert_null(err);
}

static void test_store__image_resolve_name_before_id(void **state) {
  (void)state;
  image_fixture();
  /* "deadbeef" is a name and a prefix of ID_DEAD: Docker picks the name */
  resolve_is("deadbeef", ID_B, "docker.io/library/deadbeef:latest");
  resolve_is("sha256:deadbeef", ID_DEAD, NULL);
}

static void test_store__image_resolve_not_found(void **state) {
  struct strata_error *err = NULL;
  char *id = NULL, *name = (char *)0x1;

  (void)state;
  image_fixture();
  assert_int_equal(strata_image_resolve(store, "nope", &id, &name, &err), 1);
  assert_null(name);
  assert_int_equal(strata_image_resolve(store, "cccc", &id, NULL, &err), 1);
  assert_int_equal(strata_image_resolve(store, "sha256:", &id, NULL, &err), 1);
  assert_int_equal(strata_image_resolve(store, "sha256:cccc", &id, NULL, &err), 1);
  assert_int_equal(strata_image_resolve(store, "AAAA", &id, NULL, &err), 1);
  assert_int_equal(strata_image_resolve(store, "busybox:2", &id, NULL, &err), 1);
  assert_int_equal(strata_image_resolve(store, ID_B "0", &id, NULL, &err), 1);
  assert_null(err);
}

static void test_store__image_normalize_name(void **state) {
  struct strata_error *err = NULL;
  char *s;

  (void)state;
  s = strata_image_normalize_name("busybox", &err);
  assert_string_equal(s, "docker.io/library/busybox:latest");
  free(s);
  s = strata_image_normalize_name("localhost/x", &err);
  assert_string_equal(s, "localhost/x:latest");
  free(s);
  assert_null(strata_image_normalize_name("Bad", &err));
  assert_error_contains(err, "invalid reference format");
  strata_error_free(err);
}

/* ------------------------------------------------------------------ containers */

#define CID_1 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define CID_2 "0123999999999999999999999999999999999999999999999999999999999999"
#define CID_3 "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"

static void save_container(const char *id, const char *name) {
  struct strata_error *err = NULL;
  json_t *rec = json_pack("{s:s, s:s, s:s}", "Id", id, "Name", name, "Image", ID_A1);

  if (strata_container_save(store, rec, &err) != 0)
    fail_msg("cannot save container %s: %s", id, err ? err->msg : "(no error)");
  json_decref(rec);
}

static bool is_hex64(const char *s) {
  if (strlen(s) != 64)
    return false;
  for (; *s; s++)
    if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
      return false;
  return true;
}

static void test_store__container_new_id(void **state) {
  char *a = strata_container_new_id(), *b = strata_container_new_id();

  (void)state;
  assert_non_null(a);
  assert_non_null(b);
  assert_true(is_hex64(a));
  assert_true(is_hex64(b));
  assert_string_not_equal(a, b);
  free(a);
  free(b);
}

static void test_store__container_records(void **state) {
  struct strata_error *err = NULL;
  json_t *rec = NULL;
  char **ids;

  (void)state;
  open_store();
  save_container(CID_1, "/brave_turing");
  save_container(CID_3, "/calm_hopper");
  assert_true(exists("containers/" CID_1 ".json"));
  assert_int_equal(strata_container_load(store, CID_1, &rec, &err), 0);
  assert_string_equal(json_string_value(json_object_get(rec, "Name")), "/brave_turing");
  json_decref(rec);
  rec = NULL;
  ids = strata_container_list(store, &err);
  assert_int_equal(strv_len(ids), 2);
  assert_true(strv_has(ids, CID_1));
  assert_true(strv_has(ids, CID_3));
  strv_free(ids);
  assert_int_equal(strata_container_load(store, CID_2, &rec, &err), 1);
  assert_null(rec);
  assert_int_equal(strata_container_remove_record(store, CID_1, &err), 0);
  assert_int_equal(strata_container_load(store, CID_1, &rec, &err), 1);
  assert_null(err);
}

static void test_store__container_invalid_ids(void **state) {
  struct strata_error *err = NULL;
  json_t *rec = NULL;
  json_t *upper = json_pack("{s:s}", "Id", "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef");
  json_t *traversal = json_pack("{s:s}", "Id", "../../../../../../../../../../../../../../tmp/x");
  json_t *none = json_pack("{s:s}", "Name", "/x");

  (void)state;
  open_store();
  assert_true(strata_container_save(store, upper, &err) < 0);
  strata_error_clear(&err);
  assert_true(strata_container_save(store, traversal, &err) < 0);
  strata_error_clear(&err);
  assert_true(strata_container_save(store, none, &err) < 0);
  strata_error_clear(&err);
  assert_true(strata_container_load(store, "0123", &rec, &err) < 0);
  assert_error_contains(err, "invalid container ID");
  strata_error_clear(&err);
  assert_true(strata_container_remove_record(store, "../lock", &err) < 0);
  strata_error_clear(&err);
  assert_int_equal(count_entries("containers"), 0);
  assert_true(exists("lock"));
  json_decref(upper);
  json_decref(traversal);
  json_decref(none);
}

static void resolve_container_is(const char *what, const char *want) {
  struct strata_error *err = NULL;
  char *id = NULL;
  int r = strata_container_resolve(store, what, &id, &err);

  if (r != 0)
    fail_msg("'%s' not resolved (%d): %s", what, r, err ? err->msg : "(no error)");
  assert_string_equal(id, want);
  free(id);
}

static void container_fixture(void) {
  open_store();
  save_container(CID_1, "/brave_turing");
  save_container(CID_2, "/calm_hopper");
  save_container(CID_3, "/0123");
}

static void test_store__container_resolve(void **state) {
  (void)state;
  container_fixture();
  resolve_container_is(CID_1, CID_1);
  resolve_container_is("01234", CID_1);
  resolve_container_is("01239", CID_2);
  resolve_container_is("f", CID_3);
  resolve_container_is("brave_turing", CID_1);
  resolve_container_is("/brave_turing", CID_1);
  resolve_container_is("calm_hopper", CID_2);
}

static void test_store__container_resolve_name_before_prefix(void **state) {
  (void)state;
  container_fixture();
  /* "0123" is a prefix of CID_1 and CID_2, and the name of CID_3 */
  resolve_container_is("0123", CID_3);
  resolve_container_is("/0123", CID_3);
}

static void test_store__container_resolve_id_before_name(void **state) {
  (void)state;
  open_store();
  /* Docker's order: an exact ID beats a container *named* like that ID */
  save_container(CID_1, "/brave_turing");
  save_container(CID_3, "/" CID_1);
  resolve_container_is(CID_1, CID_1);
  resolve_container_is("/" CID_1, CID_3);
}

static void test_store__container_resolve_ambiguous(void **state) {
  struct strata_error *err = NULL;
  char *id = NULL;

  (void)state;
  container_fixture();
  assert_true(strata_container_resolve(store, "012", &id, &err) < 0);
  assert_null(id);
  assert_error_contains(err, "012");
  strata_error_free(err);
}

static void test_store__container_resolve_not_found(void **state) {
  struct strata_error *err = NULL;
  char *id = NULL;

  (void)state;
  container_fixture();
  assert_int_equal(strata_container_resolve(store, "nope", &id, &err), 1);
  assert_int_equal(strata_container_resolve(store, "", &id, &err), 1);
  assert_int_equal(strata_container_resolve(store, "brave", &id, &err), 1);
  assert_int_equal(strata_container_resolve(store, "/01234", &id, &err), 1);
  assert_int_equal(strata_container_resolve(store, CID_1 "0", &id, &err), 1);
  assert_null(id);
  assert_null(err);
}

static void test_store__container_name_taken(void **state) {
  struct strata_error *err = NULL;

  (void)state;
  container_fixture();
  assert_int_equal(strata_container_name_taken(store, "brave_turing", &err), 1);
  assert_int_equal(strata_container_name_taken(store, "calm_hopper", &err), 1);
  assert_int_equal(strata_container_name_taken(store, "brave_hopper", &err), 0);
  assert_int_equal(strata_container_name_taken(store, "brave_turin", &err), 0);
  assert_null(err);
}

static void assert_name_format(const char *name) {
  regex_t re;

  assert_int_equal(regcomp(&re, "^[a-z]+_[a-z]+[0-9]?$", REG_EXTENDED | REG_NOSUB), 0);
  if (regexec(&re, name, 0, NULL, 0) != 0)
    fail_msg("'%s' is not adjective_surname", name);
  regfree(&re);
}

static void test_store__container_new_name_format(void **state) {
  struct strata_error *err = NULL;

  (void)state;
  container_fixture();
  for (int i = 0; i < 50; i++) {
    char *name = strata_container_new_name(store, &err);
    assert_non_null(name);
    assert_name_format(name);
    assert_int_equal(strata_container_name_taken(store, name, &err), 0);
    free(name);
  }
  assert_null(err);
}

static void test_store__random_name_spread(void **state) {
  char a[96], b[96];

  (void)state;
  /* every draw gives a well-formed name; different draws, different names */
  for (uint64_t r = 0; r < 5000; r += 7) {
    strata_random_name(r * 0x9e3779b97f4a7c15ULL, a, sizeof(a));
    assert_name_format(a);
  }
  strata_random_name(0, a, sizeof(a));
  strata_random_name(1, b, sizeof(b));
  assert_string_not_equal(a, b);
  /* the buffer bound is honoured */
  strata_random_name(0, a, 4);
  assert_int_equal(strlen(a), 3);
}

static void test_store__container_new_name_avoids_taken(void **state) {
  static const uint64_t draws[] = {0, 0, 1};
  struct strata_error *err = NULL;
  char taken[96], free_name[96], rec_name[100];
  char *name;
  size_t used;

  (void)state;
  open_store();
  strata_random_name(0, taken, sizeof(taken));
  strata_random_name(1, free_name, sizeof(free_name));
  assert_string_not_equal(taken, free_name);
  snprintf(rec_name, sizeof(rec_name), "/%s", taken);
  save_container(CID_1, rec_name);

  script_set(draws, 3);
  name = strata_container_new_name(store, &err);
  used = script_done();
  if (used == 0)
    fail_msg("getrandom() was not interposed: cannot script the names");
  assert_int_equal(used, 3);
  assert_non_null(name);
  assert_string_equal(name, free_name);
  free(name);
}

static void test_store__container_new_name_crowded(void **state) {
  uint64_t draws[12];
  struct strata_error *err = NULL;
  char taken[96], rec_name[100];
  char *name;

  (void)state;
  open_store();
  strata_random_name(0, taken, sizeof(taken));
  snprintf(rec_name, sizeof(rec_name), "/%s", taken);
  save_container(CID_1, rec_name);
  /* the first draws all give the taken name; whatever the retry strategy
   * (Docker adds a digit), the result is well-formed and free */
  memset(draws, 0, sizeof(draws));
  draws[9] = (uint64_t)7 << 56;
  draws[10] = draws[11] = 1;
  script_set(draws, 12);
  name = strata_container_new_name(store, &err);
  script_done();
  assert_non_null(name);
  assert_string_not_equal(name, taken);
  assert_name_format(name);
  assert_int_equal(strata_container_name_taken(store, name, &err), 0);
  free(name);
}

static void test_store__now_rfc3339(void **state) {
  char *s = strata_now_rfc3339();
  time_t t = 0, now = time(NULL);
  regex_t re;

  (void)state;
  assert_non_null(s);
  assert_int_equal(regcomp(&re,
                           "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{9}Z$",
                           REG_EXTENDED | REG_NOSUB),
                   0);
  if (regexec(&re, s, 0, NULL, 0) != 0)
    fail_msg("'%s' is not RFC 3339 with nanoseconds", s);
  regfree(&re);
  assert_int_equal(strata_parse_rfc3339(s, &t), 0);
  assert_true(t >= now - 5 && t <= now + 5);
  free(s);
}

#define T(name) cmocka_unit_test_setup_teardown(test_store__##name, setup, teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      T(open_creates_layout),
      T(open_creates_parents),
      T(open_makes_existing_root_private),
      T(open_refuses_relative),
      T(open_refuses_a_file),
      T(reopen_keeps_content),
      T(json_roundtrip),
      T(write_replaces),
      T(write_into_missing_dir_fails_clean),
      T(read_json_missing_is_1),
      T(read_json_corrupt),
      T(read_json_never_follows_symlinks),
      T(read_file_limits),
      T(remove),
      T(blob_roundtrip),
      T(blob_empty),
      T(blob_mismatch_refused),
      T(blob_invalid_digest),
      T(blob_missing),
      T(list),
      T(tmpfile_and_tmpdir),
      T(exclusive_lock_clears_tmp),
      T(lock_excludes_others),
      T(driver_roundtrip),
      T(driver_corrupt_store_json),
      T(image_records),
      T(image_invalid_ids),
      T(names_table),
      T(names_table_not_an_object),
      T(image_resolve_by_id),
      T(image_resolve_by_prefix),
      T(image_resolve_ambiguous_prefix),
      T(image_resolve_by_name),
      T(image_resolve_short_name_finds_localhost),
      T(image_resolve_name_before_id),
      T(image_resolve_not_found),
      T(image_normalize_name),
      T(container_new_id),
      T(container_records),
      T(container_invalid_ids),
      T(container_resolve),
      T(container_resolve_name_before_prefix),
      T(container_resolve_id_before_name),
      T(container_resolve_ambiguous),
      T(container_resolve_not_found),
      T(container_name_taken),
      T(container_new_name_format),
      T(random_name_spread),
      T(container_new_name_avoids_taken),
      T(container_new_name_crowded),
      T(now_rfc3339),
  };
  umask(022);
  return cmocka_run_group_tests(tests, NULL, NULL);
}
