#include "config.h"

#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <strata/plugin/storage.h>

#include "plugin-loader.h"
#include "unit.h"

/* FAKE_PLUGIN_DIR comes from the Makefile: the build folder of
 * tests/unit/fake-plugins, whose NAME/.libs/fake-NAME.so the tests load. */
#ifndef FAKE_PLUGIN_DIR
#error "FAKE_PLUGIN_DIR must be defined"
#endif

/* "MAJOR.MINOR" as the loader prints it; a few rotating buffers so that two
 * calls can sit in one expression. */
static const char *abi_str(int major, int minor) {
  static char bufs[4][32];
  static int next;
  char *b = bufs[next++ % 4];
  snprintf(b, sizeof(bufs[0]), "%d.%d", major, minor);
  return b;
}

static char *libs_dir(const char *name) {
  char *d = NULL;
  assert_true(asprintf(&d, "%s/%s/.libs", FAKE_PLUGIN_DIR, name) > 0);
  return d;
}

static char *so_path(const char *name) {
  char *p = NULL;
  assert_true(asprintf(&p, "%s/%s/.libs/fake-%s.so", FAKE_PLUGIN_DIR, name, name) > 0);
  return p;
}

/* Loads the folders of the fake plugins NAMES (NULL-terminated), in order. */
static struct strata_plugin_set *load_names(const char *const *names) {
  const char *dirs[16] = {NULL};
  char *owned[16] = {NULL};
  struct strata_plugin_set *set = NULL;
  struct strata_error *err = NULL;
  size_t n = 0;

  for (; names[n] != NULL; n++) {
    assert_true(n < 15);
    owned[n] = libs_dir(names[n]);
    if (access(owned[n], R_OK) != 0)
      fail_msg("%s is not built: run `make check`", owned[n]);
    dirs[n] = owned[n];
  }
  if (strata_plugins_load(dirs, &set, &err) != 0)
    fail_msg("strata_plugins_load failed: %s", err ? err->msg : "(no error)");
  assert_non_null(set);
  for (size_t i = 0; i < n; i++)
    free(owned[i]);
  return set;
}

#define LOAD(...) load_names((const char *const[]){__VA_ARGS__, NULL})

static size_t nrefused(const struct strata_plugin_set *set) {
  size_t n = 0;
  while (set->refused != NULL && set->refused[n] != NULL)
    n++;
  return n;
}

/* The only line of set->refused, which must name the fake plugin NAME. */
static const char *only_refusal(const struct strata_plugin_set *set, const char *name) {
  char *path = so_path(name);

  assert_int_equal(set->n, 0);
  if (nrefused(set) != 1)
    fail_msg("%zu refusal lines for %s, wanted exactly 1", nrefused(set), name);
  assert_contains(set->refused[0], path);
  free(path);
  return set->refused[0];
}

/* ------------------------------------------------------------------ loading */

static void test_plugin_loader__good_is_found(void **state) {
  struct strata_plugin_set *set = LOAD("good");
  struct strata_plugin *p;
  const struct strata_storage_ops *ops;
  const char **names;
  char *path = so_path("good");

  (void)state;
  assert_int_equal(nrefused(set), 0);
  assert_int_equal(set->n, 1);
  p = strata_plugins_find(set, STRATA_PLUGIN_STORAGE, "fake-good");
  assert_non_null(p);
  assert_string_equal(p->path, path);
  assert_non_null(p->handle);
  assert_false(p->initialized);
  assert_string_equal(p->info->name, "fake-good");
  assert_string_equal(p->info->version, "good");
  assert_int_equal(p->info->kind, STRATA_PLUGIN_STORAGE);
  /* the ops table is the plugin's and its code runs */
  ops = p->info->ops;
  assert_int_equal(ops->version, STRATA_STORAGE_OPS_VERSION);
  assert_int_equal(ops->probe(NULL, NULL), 0);

  /* other kinds and names are not found */
  assert_null(strata_plugins_find(set, STRATA_PLUGIN_TRANSPORT, "fake-good"));
  assert_null(strata_plugins_find(set, STRATA_PLUGIN_STORAGE, "fake"));
  assert_null(strata_plugins_find(set, STRATA_PLUGIN_STORAGE, "fake-good-x"));

  names = strata_plugins_names(set, STRATA_PLUGIN_STORAGE);
  assert_non_null(names);
  assert_string_equal(names[0], "fake-good");
  assert_null(names[1]);
  free(names);
  names = strata_plugins_names(set, STRATA_PLUGIN_ISOLATION);
  assert_non_null(names);
  assert_null(names[0]);
  free(names);

  free(path);
  strata_plugins_free(set);
}

static void test_plugin_loader__bad_magic_refused(void **state) {
  struct strata_plugin_set *set = LOAD("bad-magic");
  const char *line = only_refusal(set, "bad-magic");

  (void)state;
  assert_contains(line, "bad magic");
  assert_contains(line, "plugin ABI unknown");
  assert_contains(line, abi_str(STRATA_PLUGIN_ABI_MAJOR, STRATA_PLUGIN_ABI_MINOR)); /* what strata speaks */
  assert_null(strata_plugins_find(set, STRATA_PLUGIN_STORAGE, "fake-bad-magic"));
  strata_plugins_free(set);
}

static void test_plugin_loader__abi_major_refused(void **state) {
  struct strata_plugin_set *set = LOAD("abi-major");
  const char *line = only_refusal(set, "abi-major");

  (void)state;
  assert_contains(line, abi_str(STRATA_PLUGIN_ABI_MAJOR + 1, 0));
  assert_contains(line, abi_str(STRATA_PLUGIN_ABI_MAJOR, STRATA_PLUGIN_ABI_MINOR));
  assert_null(strata_plugins_find(set, STRATA_PLUGIN_STORAGE, "fake-abi-major"));
  strata_plugins_free(set);
}

static void test_plugin_loader__abi_minor_newer_refused(void **state) {
  struct strata_plugin_set *set = LOAD("abi-minor");
  const char *line = only_refusal(set, "abi-minor");

  (void)state;
  assert_contains(line, abi_str(STRATA_PLUGIN_ABI_MAJOR, STRATA_PLUGIN_ABI_MINOR + 1));
  assert_contains(line, abi_str(STRATA_PLUGIN_ABI_MAJOR, STRATA_PLUGIN_ABI_MINOR));
  assert_null(strata_plugins_find(set, STRATA_PLUGIN_STORAGE, "fake-abi-minor"));
  strata_plugins_free(set);
}

static void test_plugin_loader__short_descriptor_refused(void **state) {
  struct strata_plugin_set *set = LOAD("short");
  const char *line = only_refusal(set, "short");

  (void)state;
  assert_contains(line, "too short");
  assert_contains(line, abi_str(STRATA_PLUGIN_ABI_MAJOR, STRATA_PLUGIN_ABI_MINOR));
  assert_null(strata_plugins_find(set, STRATA_PLUGIN_STORAGE, "fake-short"));
  strata_plugins_free(set);
}

static void test_plugin_loader__no_entry_point_refused(void **state) {
  struct strata_plugin_set *set = LOAD("no-entry");
  const char *line = only_refusal(set, "no-entry");

  (void)state;
  assert_contains(line, "no entry point");
  assert_contains(line, STRATA_PLUGIN_ENTRY_SYMBOL);
  assert_contains(line, abi_str(STRATA_PLUGIN_ABI_MAJOR, STRATA_PLUGIN_ABI_MINOR));
  assert_null(strata_plugins_find(set, STRATA_PLUGIN_STORAGE, "fake-no-entry"));
  strata_plugins_free(set);
}

static void test_plugin_loader__unresolved_symbol_refused(void **state) {
  struct strata_plugin_set *set = LOAD("unresolved");
  struct strata_plugin *p = strata_plugins_find(set, STRATA_PLUGIN_STORAGE, "fake-unresolved");
  const char *line;

  (void)state;
  /* Never call p->info->ops->probe: a lazily bound plugin would kill the
   * test.  libltdl falls back to its own lazy loader when dlopen(RTLD_NOW)
   * fails; the loader must refuse the plugin all the same. */
  if (p != NULL) {
    strata_plugins_free(set);
    fail_msg("fake-unresolved was accepted");
  }
  line = only_refusal(set, "unresolved");
  assert_contains(line, "cannot load");
  assert_contains(line, "strata_fake_missing_function");
  assert_contains(line, abi_str(STRATA_PLUGIN_ABI_MAJOR, STRATA_PLUGIN_ABI_MINOR));
  strata_plugins_free(set);
}

static void test_plugin_loader__every_bad_one_once(void **state) {
  static const char *const bad[] = {"bad-magic", "abi-major", "abi-minor", "short", "no-entry"};
  struct strata_plugin_set *set =
      LOAD("bad-magic", "abi-major", "good", "abi-minor", "short", "no-entry");

  (void)state;
  assert_int_equal(set->n, 1);
  assert_non_null(strata_plugins_find(set, STRATA_PLUGIN_STORAGE, "fake-good"));
  assert_int_equal(nrefused(set), 5);
  /* one line per file, in the order of the folders */
  for (size_t i = 0; i < 5; i++) {
    char *path = so_path(bad[i]);
    assert_contains(set->refused[i], path);
    for (size_t j = 0; j < 5; j++)
      if (j != i)
        assert_not_contains(set->refused[j], path);
    free(path);
  }
  strata_plugins_free(set);
}

static void test_plugin_loader__earlier_dir_shadows_later(void **state) {
  struct strata_plugin_set *set = LOAD("shadow", "good");
  struct strata_plugin *p;
  char *path = so_path("shadow");

  (void)state;
  assert_int_equal(set->n, 1);
  assert_int_equal(nrefused(set), 0);
  p = strata_plugins_find(set, STRATA_PLUGIN_STORAGE, "fake-good");
  assert_non_null(p);
  assert_string_equal(p->info->version, "shadow");
  assert_string_equal(p->path, path);
  free(path);
  strata_plugins_free(set);

  set = LOAD("good", "shadow");
  path = so_path("good");
  assert_int_equal(set->n, 1);
  p = strata_plugins_find(set, STRATA_PLUGIN_STORAGE, "fake-good");
  assert_non_null(p);
  assert_string_equal(p->info->version, "good");
  assert_string_equal(p->path, path);
  free(path);
  strata_plugins_free(set);
}

static void test_plugin_loader__first_file_by_name_wins(void **state) {
  struct strata_plugin_set *set = LOAD("pair");
  struct strata_plugin *p;
  char *want = NULL;

  (void)state;
  assert_true(asprintf(&want, "%s/pair/.libs/fake-pair-a.so", FAKE_PLUGIN_DIR) > 0);
  assert_int_equal(set->n, 1);
  assert_int_equal(nrefused(set), 0);
  p = strata_plugins_find(set, STRATA_PLUGIN_STORAGE, "fake-pair");
  assert_non_null(p);
  assert_string_equal(p->info->version, "a");
  assert_string_equal(p->path, want);
  free(want);
  strata_plugins_free(set);
}

static void test_plugin_loader__kind_and_name_identify(void **state) {
  struct strata_plugin_set *set = LOAD("good", "other-kind");
  struct strata_plugin *s, *t;
  const char **names;

  (void)state;
  assert_int_equal(set->n, 2);
  s = strata_plugins_find(set, STRATA_PLUGIN_STORAGE, "fake-good");
  t = strata_plugins_find(set, STRATA_PLUGIN_TRANSPORT, "fake-good");
  assert_non_null(s);
  assert_non_null(t);
  assert_ptr_not_equal(s, t);
  assert_string_equal(s->info->version, "good");
  assert_string_equal(t->info->version, "other");
  names = strata_plugins_names(set, STRATA_PLUGIN_TRANSPORT);
  assert_string_equal(names[0], "fake-good");
  assert_null(names[1]);
  free(names);
  strata_plugins_free(set);
}

static void test_plugin_loader__same_dir_twice(void **state) {
  struct strata_plugin_set *set = LOAD("good", "good");

  (void)state;
  assert_int_equal(set->n, 1);
  assert_int_equal(nrefused(set), 0);
  assert_non_null(strata_plugins_find(set, STRATA_PLUGIN_STORAGE, "fake-good"));
  strata_plugins_free(set);
}

static void test_plugin_loader__missing_and_empty_dirs(void **state) {
  /* FAKE_PLUGIN_DIR holds only folders, no *.so */
  const char *dirs[] = {"/nonexistent/strata/plugins", FAKE_PLUGIN_DIR, NULL};
  struct strata_plugin_set *set = NULL;
  struct strata_error *err = NULL;

  (void)state;
  assert_int_equal(strata_plugins_load(dirs, &set, &err), 0);
  assert_int_equal(set->n, 0);
  assert_int_equal(nrefused(set), 0);
  assert_null(strata_plugins_find(set, STRATA_PLUGIN_STORAGE, "copy"));
  strata_plugins_free(set);

  set = NULL;
  assert_int_equal(strata_plugins_load(NULL, &set, &err), 0);
  assert_int_equal(set->n, 0);
  strata_plugins_free(set);
  assert_null(err);
  assert_null(strata_plugins_find(NULL, STRATA_PLUGIN_STORAGE, "copy"));
}

static void test_plugin_loader__load_free_load(void **state) {
  /* libltdl is started and stopped with the sets; a second round works */
  struct strata_plugin_set *a = LOAD("good");
  struct strata_plugin_set *b = LOAD("shadow");

  (void)state;
  assert_non_null(strata_plugins_find(a, STRATA_PLUGIN_STORAGE, "fake-good"));
  strata_plugins_free(a);
  assert_string_equal(strata_plugins_find(b, STRATA_PLUGIN_STORAGE, "fake-good")->info->version,
                      "shadow");
  strata_plugins_free(b);
  a = LOAD("good");
  assert_string_equal(strata_plugins_find(a, STRATA_PLUGIN_STORAGE, "fake-good")->info->version,
                      "good");
  strata_plugins_free(a);
}

/* ------------------------------------------------------------------ check_info */

static const struct strata_storage_ops ops_v1 = {.version = STRATA_STORAGE_OPS_VERSION};
static const struct strata_storage_ops ops_v0 = {.version = 0};

static struct strata_plugin_info valid_info(void) {
  return (struct strata_plugin_info){
      STRATA_PLUGIN_INFO_INIT(STRATA_PLUGIN_STORAGE, "x", "1", "test", "MIT"),
      .ops = &ops_v1,
  };
}

static void check_ok(const struct strata_plugin_info *info) {
  struct strata_error *err = NULL;

  if (strata_plugin_check_info(info, &err) != 0)
    fail_msg("descriptor refused: %s", err ? err->msg : "(no error)");
  assert_null(err);
}

static void check_fails(const struct strata_plugin_info *info, const char *needle1,
                        const char *needle2) {
  struct strata_error *err = NULL;

  if (strata_plugin_check_info(info, &err) >= 0)
    fail_msg("descriptor accepted (wanted an error with '%s')", needle1);
  assert_error_contains(err, needle1);
  if (needle2)
    assert_error_contains(err, needle2);
  strata_error_free(err);
}

static void test_plugin_loader__check_info_valid(void **state) {
  struct strata_plugin_info info = valid_info();

  (void)state;
  check_ok(&info);
  info.kind = STRATA_PLUGIN_TRANSPORT;
  check_ok(&info);
  info.kind = STRATA_PLUGIN_ISOLATION;
  check_ok(&info);
  /* a descriptor from a later 1.x with members appended is fine */
  info.struct_size = sizeof(info) + 64;
  check_ok(&info);
  /* no init/fini is fine */
  info.init = NULL;
  info.fini = NULL;
  check_ok(&info);
}

static void test_plugin_loader__check_info_null(void **state) {
  (void)state;
  check_fails(NULL, "no descriptor", NULL);
}

static void test_plugin_loader__check_info_magic(void **state) {
  struct strata_plugin_info info = valid_info();

  (void)state;
  info.magic = 0;
  check_fails(&info, "bad magic", NULL);
  info.magic = STRATA_PLUGIN_MAGIC ^ 1;
  check_fails(&info, "bad magic", NULL);
}

static void test_plugin_loader__check_info_versions(void **state) {
  struct strata_plugin_info info = valid_info();

  (void)state;
  info.abi_major = STRATA_PLUGIN_ABI_MAJOR + 1;
  info.abi_minor = 0;
  check_fails(&info, abi_str(STRATA_PLUGIN_ABI_MAJOR + 1, 0), NULL);
  info.abi_major = STRATA_PLUGIN_ABI_MAJOR - 1;
  info.abi_minor = 7;
  check_fails(&info, abi_str(STRATA_PLUGIN_ABI_MAJOR - 1, 7), NULL);
  info.abi_major = STRATA_PLUGIN_ABI_MAJOR;
  info.abi_minor = STRATA_PLUGIN_ABI_MINOR + 1;
  check_fails(&info, abi_str(STRATA_PLUGIN_ABI_MAJOR, STRATA_PLUGIN_ABI_MINOR + 1), NULL);
  info.abi_minor = 0xffff;
  check_fails(&info, abi_str(STRATA_PLUGIN_ABI_MAJOR, 0xffff), NULL);
  info.abi_minor = STRATA_PLUGIN_ABI_MINOR;
  check_ok(&info);
}

static void test_plugin_loader__check_info_struct_size(void **state) {
  struct strata_plugin_info info = valid_info();
  const size_t needed = offsetof(struct strata_plugin_info, ops) + sizeof(info.ops);

  (void)state;
  info.struct_size = (uint32_t)needed - 1;
  check_fails(&info, "too short", abi_str(STRATA_PLUGIN_ABI_MAJOR, STRATA_PLUGIN_ABI_MINOR));
  info.struct_size = (uint32_t)offsetof(struct strata_plugin_info, ops);
  check_fails(&info, "too short", NULL);
  info.struct_size = 0;
  check_fails(&info, "too short", NULL);
  info.struct_size = (uint32_t)needed;
  check_ok(&info);
}

static void test_plugin_loader__check_info_kind(void **state) {
  struct strata_plugin_info info = valid_info();

  (void)state;
  info.kind = 0;
  check_fails(&info, "unknown plugin kind 0", NULL);
  info.kind = STRATA_PLUGIN_ISOLATION + 1;
  check_fails(&info, "unknown plugin kind", NULL);
  info.kind = UINT32_MAX;
  check_fails(&info, "unknown plugin kind", NULL);
}

static void test_plugin_loader__check_info_name(void **state) {
  struct strata_plugin_info info = valid_info();

  (void)state;
  info.name = NULL;
  check_fails(&info, "no valid name", NULL);
  info.name = "";
  check_fails(&info, "no valid name", NULL);
  info.name = "../overlay";
  check_fails(&info, "no valid name", NULL);
  info.name = "a/b";
  check_fails(&info, "no valid name", NULL);
}

static void test_plugin_loader__check_info_ops(void **state) {
  struct strata_plugin_info info = valid_info();

  (void)state;
  info.ops = NULL;
  check_fails(&info, "no ops table", NULL);
  info.ops = &ops_v0;
  check_fails(&info, "version 0", NULL);
}

static void test_plugin_loader__kind_names(void **state) {
  (void)state;
  assert_string_equal(strata_plugin_kind_name(STRATA_PLUGIN_STORAGE), "storage");
  assert_string_equal(strata_plugin_kind_name(STRATA_PLUGIN_TRANSPORT), "transport");
  assert_string_equal(strata_plugin_kind_name(STRATA_PLUGIN_ISOLATION), "isolation");
  assert_string_equal(strata_plugin_kind_name(0), "unknown");
  assert_string_equal(strata_plugin_kind_name(42), "unknown");
}

#define T(name) cmocka_unit_test(test_plugin_loader__##name)

int main(void) {
  const struct CMUnitTest tests[] = {
      T(good_is_found),
      T(bad_magic_refused),
      T(abi_major_refused),
      T(abi_minor_newer_refused),
      T(short_descriptor_refused),
      T(no_entry_point_refused),
      T(unresolved_symbol_refused),
      T(every_bad_one_once),
      T(earlier_dir_shadows_later),
      T(first_file_by_name_wins),
      T(kind_and_name_identify),
      T(same_dir_twice),
      T(missing_and_empty_dirs),
      T(load_free_load),
      T(check_info_valid),
      T(check_info_null),
      T(check_info_magic),
      T(check_info_versions),
      T(check_info_struct_size),
      T(check_info_kind),
      T(check_info_name),
      T(check_info_ops),
      T(kind_names),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
