#include "config.h"

#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cleanup.h"
#include "settings.h"
#include "unit.h"

static char dir[64]; /* "/tmp/strata-test-settings-XXXXXX" */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static int setup(void **state) {
  (void)state;
  strcpy(dir, "/tmp/strata-test-settings-XXXXXX");
  if (mkdtemp(dir) == NULL)
    return -1;
  /* every test starts from a known environment */
  unsetenv("STRATA_CONFIG");
  unsetenv("XDG_CONFIG_HOME");
  unsetenv("STRATA_TEST_SETTING");
  setenv("HOME", dir, 1);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  return nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Writes TEXT to DIR/NAME (creating one level of folders) and returns the
 * path (static buffer). */
static const char *write_file(const char *name, const char *text) {
  static char path[PATH_MAX];
  char *slash;
  FILE *f;

  snprintf(path, sizeof(path), "%s/%s", dir, name);
  for (slash = strchr(path + strlen(dir) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
    *slash = '\0';
    mkdir(path, 0755);
    *slash = '/';
  }
  f = fopen(path, "w");
  assert_non_null(f);
  assert_int_equal(fputs(text, f) >= 0, 1);
  assert_int_equal(fclose(f), 0);
  return path;
}

static struct strata_config *load_ok(void) {
  struct strata_config *cfg = NULL;
  struct strata_error *err = NULL;

  if (strata_config_load(&cfg, &err) != 0)
    fail_msg("config refused: %s", err ? err->msg : "(no error)");
  assert_non_null(cfg);
  assert_non_null(cfg->doc);
  assert_non_null(cfg->files);
  return cfg;
}

static void load_fails(const char *needle1, const char *needle2) {
  struct strata_config *cfg = (struct strata_config *)0x1;
  struct strata_error *err = NULL;

  if (strata_config_load(&cfg, &err) >= 0)
    fail_msg("config accepted (wanted an error with '%s')", needle1);
  assert_ptr_equal(cfg, (struct strata_config *)0x1);
  assert_error_contains(err, needle1);
  if (needle2)
    assert_error_contains(err, needle2);
  strata_error_free(err);
}

static size_t count(char **v) {
  size_t n = 0;
  while (v[n])
    n++;
  return n;
}

/* ------------------------------------------------------------------ loading */

static const char sample[] =
    "{\n"
    "  \"storage-driver\": \"copy\",\n"
    "  \"plugin-dirs\": [\"/a\", \"/b\"],\n"
    "  \"single\": \"/x\",\n"
    "  \"mixed\": [\"one\", 2, null, \"three\"],\n"
    "  \"number\": 3,\n"
    "  \"empty\": \"\"\n"
    "}\n";

static void test_settings__strata_config_file(void **state) {
  const char *path = write_file("c.json", sample);
  struct strata_config *cfg;

  (void)state;
  setenv("STRATA_CONFIG", path, 1);
  cfg = load_ok();
  assert_int_equal(count(cfg->files), 1);
  assert_string_equal(cfg->files[0], path);
  assert_string_equal(strata_config_string(cfg, "storage-driver"), "copy");
  assert_string_equal(strata_config_string(cfg, "empty"), "");
  strata_config_free(cfg);
}

static void test_settings__strata_config_is_the_only_file(void **state) {
  const char *path;
  struct strata_config *cfg;
  char user[PATH_MAX];

  (void)state;
  /* the user's file exists but STRATA_CONFIG names another one */
  snprintf(user, sizeof(user), "%s", write_file(".config/strata/config.json",
                                                "{\"from-user\": \"yes\"}"));
  path = write_file("explicit.json", "{\"from-explicit\": \"yes\"}");
  setenv("STRATA_CONFIG", path, 1);
  cfg = load_ok();
  assert_string_equal(strata_config_string(cfg, "from-explicit"), "yes");
  assert_null(strata_config_string(cfg, "from-user"));
  assert_int_equal(count(cfg->files), 1);
  strata_config_free(cfg);
}

static void test_settings__malformed_file_named(void **state) {
  const char *path = write_file("bad.json", "{\n  \"storage-driver\": \"copy\",\n  \"x\": }\n");
  char want[PATH_MAX + 8];

  (void)state;
  setenv("STRATA_CONFIG", path, 1);
  snprintf(want, sizeof(want), "'%s'", path);
  load_fails(want, "line 3");
}

static void test_settings__not_an_object(void **state) {
  const char *path = write_file("array.json", "[\"copy\"]");

  (void)state;
  setenv("STRATA_CONFIG", path, 1);
  load_fails(path, "not a JSON object");
}

static void test_settings__duplicate_keys_refused(void **state) {
  const char *path = write_file("dup.json", "{\"storage-driver\": \"a\", \"storage-driver\": \"b\"}");

  (void)state;
  setenv("STRATA_CONFIG", path, 1);
  load_fails(path, NULL);
}

static void test_settings__missing_explicit_file(void **state) {
  char path[PATH_MAX];

  (void)state;
  snprintf(path, sizeof(path), "%s/does-not-exist.json", dir);
  setenv("STRATA_CONFIG", path, 1);
  load_fails(path, "No such file");
}

static void test_settings__empty_file(void **state) {
  struct strata_config *cfg;

  (void)state;
  setenv("STRATA_CONFIG", write_file("empty.json", " \n\t\n"), 1);
  cfg = load_ok();
  assert_int_equal(json_object_size(cfg->doc), 0);
  assert_null(strata_config_string(cfg, "storage-driver"));
  strata_config_free(cfg);
  /* /dev/null is how the integration tests ask for no configuration */
  setenv("STRATA_CONFIG", "/dev/null", 1);
  cfg = load_ok();
  assert_int_equal(json_object_size(cfg->doc), 0);
  strata_config_free(cfg);
}

static void test_settings__empty_strata_config_means_default_files(void **state) {
  struct strata_config *cfg;

  (void)state;
  write_file(".config/strata/config.json", "{\"where\": \"home\"}");
  setenv("STRATA_CONFIG", "", 1);
  cfg = load_ok();
  assert_string_equal(strata_config_string(cfg, "where"), "home");
  strata_config_free(cfg);
}

static void test_settings__xdg_config_home(void **state) {
  struct strata_config *cfg;
  char xdg[PATH_MAX], want[PATH_MAX + 32];
  bool found = false;

  (void)state;
  write_file(".config/strata/config.json", "{\"where\": \"home\"}");
  write_file("xdg/strata/config.json", "{\"where\": \"xdg\"}");
  snprintf(xdg, sizeof(xdg), "%s/xdg", dir);
  snprintf(want, sizeof(want), "%s/strata/config.json", xdg);
  setenv("XDG_CONFIG_HOME", xdg, 1);
  cfg = load_ok();
  assert_string_equal(strata_config_string(cfg, "where"), "xdg");
  for (char **f = cfg->files; *f; f++)
    found = found || strcmp(*f, want) == 0;
  assert_true(found);
  strata_config_free(cfg);
}

static void test_settings__home_config(void **state) {
  struct strata_config *cfg;
  char want[PATH_MAX + 32];

  (void)state;
  write_file(".config/strata/config.json", "{\"where\": \"home\"}");
  snprintf(want, sizeof(want), "%s/.config/strata/config.json", dir);
  cfg = load_ok();
  assert_string_equal(strata_config_string(cfg, "where"), "home");
  /* the user's file is read last */
  assert_string_equal(cfg->files[count(cfg->files) - 1], want);
  strata_config_free(cfg);
}

static void test_settings__malformed_user_file_named(void **state) {
  char want[PATH_MAX + 32];

  (void)state;
  write_file(".config/strata/config.json", "{oops}");
  snprintf(want, sizeof(want), "%s/.config/strata/config.json", dir);
  load_fails(want, "line 1");
}

static void test_settings__no_files_at_all(void **state) {
  struct strata_config *cfg;
  struct stat st;

  (void)state;
  /* HOME has no .config; only /etc/strata/config.json could be read */
  cfg = load_ok();
  if (stat("/etc/strata/config.json", &st) != 0)
    assert_int_equal(count(cfg->files), 0);
  strata_config_free(cfg);
}

/* The system file, /etc/strata/config.json, is read first and the user's
 * file overrides it key by key.  The test must not touch the real /etc: it
 * runs in a child with its own mount namespace and a tmpfs on /etc, and is
 * skipped where that is not allowed. */
static int system_and_user_child(const char *system_text, int check) {
  struct strata_config *cfg = NULL;
  struct strata_error *err = NULL;
  char user[PATH_MAX + 32];
  FILE *f;
  int r;

  if (unshare(CLONE_NEWNS) != 0 || mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) != 0 ||
      mount("tmpfs", "/etc", "tmpfs", 0, "mode=0755") != 0)
    return 77;
  if (mkdir("/etc/strata", 0755) != 0 || (f = fopen("/etc/strata/config.json", "w")) == NULL)
    return 2;
  fputs(system_text, f);
  fclose(f);
  snprintf(user, sizeof(user), "%s/.config/strata/config.json", dir);
  r = strata_config_load(&cfg, &err);
  if (check == 0) {
    /* both read, user last, user's keys win, the others stay */
    if (r != 0 || cfg->files[0] == NULL || cfg->files[1] == NULL || cfg->files[2] != NULL)
      return 3;
    if (strcmp(cfg->files[0], "/etc/strata/config.json") != 0 || strcmp(cfg->files[1], user) != 0)
      return 4;
    if (strcmp(strata_config_string(cfg, "a"), "user") != 0 ||
        strcmp(strata_config_string(cfg, "b"), "system") != 0 ||
        strcmp(strata_config_string(cfg, "c"), "user") != 0)
      return 5;
    strata_config_free(cfg);
    return 0;
  }
  /* a malformed system file is an error naming it */
  if (r == 0 || strstr(err->msg, "'/etc/strata/config.json'") == NULL)
    return 6;
  strata_error_free(err);
  return 0;
}

static void run_in_namespace(const char *user_text, const char *system_text, int check) {
  pid_t pid;
  int status;

  write_file(".config/strata/config.json", user_text);
  fflush(NULL);
  pid = fork();
  assert_true(pid >= 0);
  if (pid == 0)
    _exit(system_and_user_child(system_text, check));
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  if (WEXITSTATUS(status) == 77)
    skip(); /* no mount namespace here (not root, or no CAP_SYS_ADMIN) */
  if (WEXITSTATUS(status) != 0)
    fail_msg("check %d failed in the child (step %d)", check, WEXITSTATUS(status));
}

static void test_settings__user_file_overrides_system_file(void **state) {
  (void)state;
  run_in_namespace("{\"a\": \"user\", \"c\": \"user\"}",
                   "{\"a\": \"system\", \"b\": \"system\"}", 0);
}

static void test_settings__malformed_system_file_named(void **state) {
  (void)state;
  run_in_namespace("{\"a\": \"user\"}", "{\"a\": ", 1);
}

/* ------------------------------------------------------------------ accessors */

static void test_settings__string_accessor(void **state) {
  struct strata_config *cfg;

  (void)state;
  setenv("STRATA_CONFIG", write_file("c.json", sample), 1);
  cfg = load_ok();
  assert_string_equal(strata_config_string(cfg, "single"), "/x");
  assert_null(strata_config_string(cfg, "number"));
  assert_null(strata_config_string(cfg, "plugin-dirs"));
  assert_null(strata_config_string(cfg, "missing"));
  assert_null(strata_config_string(NULL, "single"));
  strata_config_free(cfg);
}

static void test_settings__strings_accessor(void **state) {
  struct strata_config *cfg;
  char **v;

  (void)state;
  setenv("STRATA_CONFIG", write_file("c.json", sample), 1);
  cfg = load_ok();

  v = strata_config_strings(cfg, "plugin-dirs");
  assert_int_equal(count(v), 2);
  assert_string_equal(v[0], "/a");
  assert_string_equal(v[1], "/b");
  strv_free(v);

  /* one string is a list of one */
  v = strata_config_strings(cfg, "single");
  assert_int_equal(count(v), 1);
  assert_string_equal(v[0], "/x");
  strv_free(v);

  /* non-strings in a list are skipped */
  v = strata_config_strings(cfg, "mixed");
  assert_int_equal(count(v), 2);
  assert_string_equal(v[0], "one");
  assert_string_equal(v[1], "three");
  strv_free(v);

  /* missing or wrong type: an empty vector, never NULL */
  v = strata_config_strings(cfg, "missing");
  assert_non_null(v);
  assert_int_equal(count(v), 0);
  strv_free(v);
  v = strata_config_strings(cfg, "number");
  assert_non_null(v);
  assert_int_equal(count(v), 0);
  strv_free(v);
  v = strata_config_strings(NULL, "plugin-dirs");
  assert_non_null(v);
  assert_int_equal(count(v), 0);
  strv_free(v);
  strata_config_free(cfg);
}

/* ------------------------------------------------------------------ precedence */

static struct strata_config *config_with_setting(const char *value) {
  char text[256];

  snprintf(text, sizeof(text), "{\"setting\": \"%s\"}", value);
  setenv("STRATA_CONFIG", write_file("p.json", text), 1);
  return load_ok();
}

static void test_settings__choose_flag_wins(void **state) {
  struct strata_config *cfg = config_with_setting("from-config");
  enum strata_setting_source src = STRATA_FROM_NONE;
  const char *flag = "from-flag";

  (void)state;
  setenv("STRATA_TEST_SETTING", "from-env", 1);
  assert_ptr_equal(strata_config_choose(cfg, flag, "STRATA_TEST_SETTING", "setting", "builtin",
                                        &src),
                   flag);
  assert_int_equal(src, STRATA_FROM_FLAG);
  strata_config_free(cfg);
}

static void test_settings__choose_env_over_config(void **state) {
  struct strata_config *cfg = config_with_setting("from-config");
  enum strata_setting_source src = STRATA_FROM_NONE;

  (void)state;
  setenv("STRATA_TEST_SETTING", "from-env", 1);
  assert_string_equal(
      strata_config_choose(cfg, NULL, "STRATA_TEST_SETTING", "setting", "builtin", &src),
      "from-env");
  assert_int_equal(src, STRATA_FROM_ENV);
  /* an empty flag is no flag */
  src = STRATA_FROM_NONE;
  assert_string_equal(
      strata_config_choose(cfg, "", "STRATA_TEST_SETTING", "setting", "builtin", &src),
      "from-env");
  assert_int_equal(src, STRATA_FROM_ENV);
  strata_config_free(cfg);
}

static void test_settings__choose_config_over_builtin(void **state) {
  struct strata_config *cfg = config_with_setting("from-config");
  enum strata_setting_source src = STRATA_FROM_NONE;

  (void)state;
  assert_string_equal(
      strata_config_choose(cfg, NULL, "STRATA_TEST_SETTING", "setting", "builtin", &src),
      "from-config");
  assert_int_equal(src, STRATA_FROM_CONFIG);
  /* an empty environment variable is skipped */
  setenv("STRATA_TEST_SETTING", "", 1);
  src = STRATA_FROM_NONE;
  assert_string_equal(
      strata_config_choose(cfg, "", "STRATA_TEST_SETTING", "setting", "builtin", &src),
      "from-config");
  assert_int_equal(src, STRATA_FROM_CONFIG);
  strata_config_free(cfg);
}

static void test_settings__choose_builtin(void **state) {
  struct strata_config *cfg = config_with_setting("");
  enum strata_setting_source src = STRATA_FROM_NONE;

  (void)state;
  /* the config key is there but empty */
  setenv("STRATA_TEST_SETTING", "", 1);
  assert_string_equal(
      strata_config_choose(cfg, "", "STRATA_TEST_SETTING", "setting", "builtin", &src),
      "builtin");
  assert_int_equal(src, STRATA_FROM_DEFAULT);
  /* no config at all */
  src = STRATA_FROM_NONE;
  assert_string_equal(strata_config_choose(NULL, NULL, NULL, "setting", "builtin", &src),
                      "builtin");
  assert_int_equal(src, STRATA_FROM_DEFAULT);
  strata_config_free(cfg);
}

static void test_settings__choose_nothing(void **state) {
  struct strata_config *cfg = config_with_setting("");
  enum strata_setting_source src = STRATA_FROM_FLAG;

  (void)state;
  assert_null(strata_config_choose(cfg, "", "STRATA_TEST_SETTING", "setting", "", &src));
  assert_int_equal(src, STRATA_FROM_NONE);
  src = STRATA_FROM_FLAG;
  assert_null(strata_config_choose(cfg, NULL, NULL, NULL, NULL, &src));
  assert_int_equal(src, STRATA_FROM_NONE);
  /* the source is optional */
  assert_string_equal(strata_config_choose(cfg, "f", NULL, NULL, NULL, NULL), "f");
  strata_config_free(cfg);
}

static void test_settings__choose_non_string_config_ignored(void **state) {
  struct strata_config *cfg;
  enum strata_setting_source src = STRATA_FROM_NONE;

  (void)state;
  setenv("STRATA_CONFIG", write_file("n.json", "{\"setting\": 5}"), 1);
  cfg = load_ok();
  assert_string_equal(strata_config_choose(cfg, NULL, NULL, "setting", "builtin", &src),
                      "builtin");
  assert_int_equal(src, STRATA_FROM_DEFAULT);
  strata_config_free(cfg);
}

static void test_settings__source_names(void **state) {
  (void)state;
  assert_string_equal(strata_setting_source_name(STRATA_FROM_FLAG), "flag");
  assert_string_equal(strata_setting_source_name(STRATA_FROM_ENV), "environment");
  assert_string_equal(strata_setting_source_name(STRATA_FROM_CONFIG), "config file");
  assert_string_equal(strata_setting_source_name(STRATA_FROM_DEFAULT), "configure default");
  assert_string_equal(strata_setting_source_name(STRATA_FROM_NONE), "probe");
}

#define T(name) cmocka_unit_test_setup_teardown(test_settings__##name, setup, teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      T(strata_config_file),
      T(strata_config_is_the_only_file),
      T(malformed_file_named),
      T(not_an_object),
      T(duplicate_keys_refused),
      T(missing_explicit_file),
      T(empty_file),
      T(empty_strata_config_means_default_files),
      T(xdg_config_home),
      T(home_config),
      T(malformed_user_file_named),
      T(no_files_at_all),
      T(user_file_overrides_system_file),
      T(malformed_system_file_named),
      T(string_accessor),
      T(strings_accessor),
      T(choose_flag_wins),
      T(choose_env_over_config),
      T(choose_config_over_builtin),
      T(choose_builtin),
      T(choose_nothing),
      T(choose_non_string_config_ignored),
      T(source_names),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
