#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "reference.h"
#include "unit.h"

#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define DIGEST "sha256:" HEX64

/* Parses S, which must succeed, and checks every part and both string forms. */
static void parse_ok(const char *s, const char *domain, const char *path, const char *tag,
                     const char *digest, const char *string) {
  struct strata_reference *ref = NULL;
  struct strata_error *err = NULL;
  char *str, *repo, *want_repo = NULL;

  if (strata_reference_parse(s, &ref, &err) != 0)
    fail_msg("'%s' refused: %s", s, err ? err->msg : "(no error)");
  assert_null(err);
  assert_non_null(ref);
  assert_string_equal(ref->domain, domain);
  assert_string_equal(ref->path, path);
  assert_string_or_null_equal(ref->tag, tag);
  assert_string_or_null_equal(ref->digest, digest);

  str = strata_reference_string(ref);
  assert_non_null(str);
  assert_string_equal(str, string);
  free(str);

  repo = strata_reference_repository(ref);
  assert_true(asprintf(&want_repo, "%s/%s", domain, path) > 0);
  assert_string_equal(repo, want_repo);
  free(repo);
  free(want_repo);
  strata_reference_free(ref);
}

/* Parses S, which must fail with an error mentioning "invalid reference
 * format" and leave *out alone. */
static void parse_fails(const char *s) {
  struct strata_reference *ref = (struct strata_reference *)0x1;
  struct strata_error *err = NULL;

  if (strata_reference_parse(s, &ref, &err) >= 0)
    fail_msg("'%s' accepted as %s/%s", s, ref->domain, ref->path);
  assert_ptr_equal(ref, (struct strata_reference *)0x1);
  assert_error_contains(err, "invalid reference format");
  strata_error_free(err);
}

/* ------------------------------------------------------------------ parse */

static void test_reference__short_name(void **state) {
  (void)state;
  parse_ok("busybox", "docker.io", "library/busybox", "latest", NULL,
           "docker.io/library/busybox:latest");
}

static void test_reference__short_name_with_tag(void **state) {
  (void)state;
  parse_ok("busybox:1", "docker.io", "library/busybox", "1", NULL, "docker.io/library/busybox:1");
  parse_ok("busybox:1.36.1-glibc", "docker.io", "library/busybox", "1.36.1-glibc", NULL,
           "docker.io/library/busybox:1.36.1-glibc");
  parse_ok("busybox:_x", "docker.io", "library/busybox", "_x", NULL,
           "docker.io/library/busybox:_x");
  parse_ok("busybox:UPPER", "docker.io", "library/busybox", "UPPER", NULL,
           "docker.io/library/busybox:UPPER");
}

static void test_reference__library_prefix_kept(void **state) {
  (void)state;
  parse_ok("library/busybox", "docker.io", "library/busybox", "latest", NULL,
           "docker.io/library/busybox:latest");
}

static void test_reference__user_repo(void **state) {
  (void)state;
  parse_ok("user/repo", "docker.io", "user/repo", "latest", NULL, "docker.io/user/repo:latest");
  parse_ok("user/repo/deeper:v2", "docker.io", "user/repo/deeper", "v2", NULL,
           "docker.io/user/repo/deeper:v2");
}

static void test_reference__explicit_docker_io(void **state) {
  (void)state;
  parse_ok("docker.io/busybox", "docker.io", "library/busybox", "latest", NULL,
           "docker.io/library/busybox:latest");
  parse_ok("docker.io/user/repo:3", "docker.io", "user/repo", "3", NULL,
           "docker.io/user/repo:3");
}

static void test_reference__localhost(void **state) {
  (void)state;
  /* localhost is a domain, and no "library/" is added outside docker.io */
  parse_ok("localhost/x:1", "localhost", "x", "1", NULL, "localhost/x:1");
  parse_ok("localhost/x", "localhost", "x", "latest", NULL, "localhost/x:latest");
  /* a lone "localhost" is an image name on Docker Hub */
  parse_ok("localhost", "docker.io", "library/localhost", "latest", NULL,
           "docker.io/library/localhost:latest");
}

static void test_reference__registry_with_port(void **state) {
  (void)state;
  parse_ok("localhost:5000/a/b:tag", "localhost:5000", "a/b", "tag", NULL,
           "localhost:5000/a/b:tag");
  parse_ok("127.0.0.1:5000/x", "127.0.0.1:5000", "x", "latest", NULL,
           "127.0.0.1:5000/x:latest");
  parse_ok("registry.example.com/team/app:v1.2", "registry.example.com", "team/app", "v1.2",
           NULL, "registry.example.com/team/app:v1.2");
  parse_ok("quay.io/x", "quay.io", "x", "latest", NULL, "quay.io/x:latest");
}

static void test_reference__index_docker_io_is_docker_io(void **state) {
  (void)state;
  parse_ok("index.docker.io/library/x", "docker.io", "library/x", "latest", NULL,
           "docker.io/library/x:latest");
  parse_ok("index.docker.io/x:2", "docker.io", "library/x", "2", NULL,
           "docker.io/library/x:2");
}

static void test_reference__digest(void **state) {
  (void)state;
  parse_ok("name@" DIGEST, "docker.io", "library/name", NULL, DIGEST,
           "docker.io/library/name@" DIGEST);
  parse_ok("localhost:5000/a/b@" DIGEST, "localhost:5000", "a/b", NULL, DIGEST,
           "localhost:5000/a/b@" DIGEST);
}

static void test_reference__tag_and_digest(void **state) {
  struct strata_reference *ref = NULL;
  struct strata_error *err = NULL;

  (void)state;
  assert_int_equal(strata_reference_parse("name:tag@" DIGEST, &ref, &err), 0);
  assert_string_equal(ref->domain, "docker.io");
  assert_string_equal(ref->path, "library/name");
  assert_string_equal(ref->tag, "tag");
  assert_string_equal(ref->digest, DIGEST);
  strata_reference_free(ref);

  assert_int_equal(strata_reference_parse("localhost:5000/a:1@" DIGEST, &ref, &err), 0);
  assert_string_equal(ref->domain, "localhost:5000");
  assert_string_equal(ref->path, "a");
  assert_string_equal(ref->tag, "1");
  assert_string_equal(ref->digest, DIGEST);
  strata_reference_free(ref);
  assert_null(err);
}

static void test_reference__separators(void **state) {
  (void)state;
  /* path-component: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)* */
  parse_ok("a.b_c__d-e---f9", "docker.io", "library/a.b_c__d-e---f9", "latest", NULL,
           "docker.io/library/a.b_c__d-e---f9:latest");
  parse_fails("a..b");
  parse_fails("a___b");
  parse_fails("a_.b");
  parse_fails("-a");
  parse_fails("a-");
  parse_fails("_a");
  parse_fails("a.");
  parse_fails("user/.repo");
}

static void test_reference__uppercase_repository_refused(void **state) {
  (void)state;
  parse_fails("BusyBox");
  parse_fails("busyBox:1");
  parse_fails("docker.io/Library/busybox");
  parse_fails("user/Repo");
  parse_fails("localhost:5000/A");
}

static void test_reference__uppercase_domain_accepted(void **state) {
  (void)state;
  /* as in Docker: a first component with an uppercase letter is a domain */
  parse_ok("Example.com/x", "Example.com", "x", "latest", NULL, "Example.com/x:latest");
  parse_ok("MyHost/x", "MyHost", "x", "latest", NULL, "MyHost/x:latest");
}

static void test_reference__empty_refused(void **state) {
  struct strata_reference *ref = NULL;
  struct strata_error *err = NULL;

  (void)state;
  parse_fails("");
  assert_true(strata_reference_parse(NULL, &ref, &err) < 0);
  assert_null(ref);
  assert_non_null(err);
  strata_error_free(err);
}

static void test_reference__bad_tag_refused(void **state) {
  (void)state;
  parse_fails("busybox:");
  parse_fails("busybox:t!g");
  parse_fails("busybox:t g");
  parse_fails("busybox:.x");
  parse_fails("busybox:-x");
  parse_fails("busybox:a+b");
  parse_fails("busybox:é");
}

static void test_reference__tag_length_limit(void **state) {
  char name[8 + 130 + 1];
  char tag[130];
  char want[64 + 130];

  (void)state;
  memset(tag, 'a', 128);
  tag[128] = '\0';
  snprintf(name, sizeof(name), "busybox:%s", tag);
  snprintf(want, sizeof(want), "docker.io/library/busybox:%s", tag);
  parse_ok(name, "docker.io", "library/busybox", tag, NULL, want);

  memset(tag, 'a', 129);
  tag[129] = '\0';
  snprintf(name, sizeof(name), "busybox:%s", tag);
  parse_fails(name);
}

static void test_reference__bad_digest_refused(void **state) {
  (void)state;
  parse_fails("busybox@");
  parse_fails("busybox@sha256:abc");
  parse_fails("busybox@sha256:" HEX64 "0");                                  /* 65 hex */
  parse_fails("busybox@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef");
  parse_fails("busybox@sha512:" HEX64);
  parse_fails("busybox@md5:0123456789abcdef0123456789abcdef");
  parse_fails("busybox@" HEX64);
  parse_fails("busybox:1@sha256:zz23456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
}

static void test_reference__empty_components_refused(void **state) {
  (void)state;
  parse_fails("a//b");
  parse_fails("a/");
  parse_fails("/a");
  parse_fails("docker.io/");
  parse_fails("localhost:5000/a//b:1");
  parse_fails("user/repo/");
  parse_fails("localhost:5000/");
}

static void test_reference__bad_domain_refused(void **state) {
  (void)state;
  parse_fails("exa mple.com/x");
  parse_fails("ex_ample.com/x");
}

static void test_reference__too_long_refused(void **state) {
  char name[700];

  (void)state;
  memset(name, 'a', sizeof(name) - 1);
  name[sizeof(name) - 1] = '\0';
  parse_fails(name);
}

static void test_reference__uppercase_anywhere_in_domain(void **state) {
  (void)state;
  parse_ok("myHost/x", "myHost", "x", "latest", NULL, "myHost/x:latest");
}

static void test_reference__port_must_be_numeric(void **state) {
  (void)state;
  parse_fails("busybox:ta/g");
  parse_fails("localhost:50a0/x");
}

/* ------------------------------------------------------------------ familiar */

static void test_reference__familiar(void **state) {
  (void)state;
  assert_string_equal(strata_reference_familiar("docker.io/library/busybox"), "busybox");
  assert_string_equal(strata_reference_familiar("docker.io/library/busybox:1"), "busybox:1");
  assert_string_equal(strata_reference_familiar("docker.io/user/repo"), "user/repo");
  assert_string_equal(strata_reference_familiar("docker.io/user/repo:2"), "user/repo:2");
  /* "library/" is only dropped for single-component names, as Docker does */
  assert_string_equal(strata_reference_familiar("docker.io/library/a/b"), "library/a/b");
  assert_string_equal(strata_reference_familiar("localhost/x:1"), "localhost/x:1");
  assert_string_equal(strata_reference_familiar("quay.io/library/x"), "quay.io/library/x");
  assert_string_equal(strata_reference_familiar("localhost:5000/a/b"), "localhost:5000/a/b");
  assert_string_equal(strata_reference_familiar("docker.iox/y"), "docker.iox/y");
  assert_string_equal(strata_reference_familiar("busybox"), "busybox");
}

static void test_reference__familiar_points_into_name(void **state) {
  const char *name = "docker.io/library/busybox:latest";

  (void)state;
  assert_ptr_equal(strata_reference_familiar(name), name + strlen("docker.io/library/"));
}

static void test_reference__familiar_roundtrip(void **state) {
  static const char *const names[] = {"busybox", "busybox:1", "user/repo:2", "localhost/x:1",
                                      "quay.io/a/b:c"};
  (void)state;
  /* familiar(string(parse(x))) == x for names already in familiar form */
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
    struct strata_reference *ref = NULL;
    struct strata_error *err = NULL;
    char *full, *want = NULL;

    assert_int_equal(strata_reference_parse(names[i], &ref, &err), 0);
    full = strata_reference_string(ref);
    if (strchr(names[i], ':') == NULL)
      assert_true(asprintf(&want, "%s:latest", names[i]) > 0);
    else
      want = strdup(names[i]);
    assert_string_equal(strata_reference_familiar(full), want);
    free(want);
    free(full);
    strata_reference_free(ref);
  }
}

/* ------------------------------------------------------------------ transports */

static const char *const known[] = {"oci", "docker", NULL};

static void split_is(const char *s, const char *const *k, const char *transport,
                     const char *location) {
  char *t = NULL, *l = NULL;

  assert_int_equal(strata_reference_split_transport(s, k, &t, &l), 0);
  assert_string_equal(t, transport);
  assert_string_equal(l, location);
  free(t);
  free(l);
}

static void test_reference__split_docker_scheme(void **state) {
  (void)state;
  split_is("docker://busybox", known, "docker", "busybox");
  split_is("docker://localhost:5000/a/b:1", known, "docker", "localhost:5000/a/b:1");
  split_is("docker://busybox", NULL, "docker", "busybox");
}

static void test_reference__split_known_transport(void **state) {
  (void)state;
  split_is("oci:/dir:tag", known, "oci", "/dir:tag");
  split_is("oci:/dir", known, "oci", "/dir");
  split_is("oci:relative/dir:t", known, "oci", "relative/dir:t");
}

static void test_reference__split_unknown_transport(void **state) {
  static const char *const docker_only[] = {"docker", NULL};

  (void)state;
  split_is("oci:/dir:tag", docker_only, "docker", "oci:/dir:tag");
  split_is("oci:/dir:tag", NULL, "docker", "oci:/dir:tag");
  /* "ocix" is not "oci" */
  split_is("ocix:/dir", known, "docker", "ocix:/dir");
  split_is("oc:/dir", known, "docker", "oc:/dir");
}

static void test_reference__split_plain_names(void **state) {
  (void)state;
  split_is("localhost:5000/x", known, "docker", "localhost:5000/x");
  split_is("busybox:1", known, "docker", "busybox:1");
  split_is("busybox", known, "docker", "busybox");
  split_is("name@" DIGEST, known, "docker", "name@" DIGEST);
  /* "docker:" is not a transport prefix: only "docker://" is */
  split_is("docker:busybox", known, "docker", "docker:busybox");
}

#define T(name) cmocka_unit_test(test_reference__##name)

int main(void) {
  const struct CMUnitTest tests[] = {
      T(short_name),
      T(short_name_with_tag),
      T(library_prefix_kept),
      T(user_repo),
      T(explicit_docker_io),
      T(localhost),
      T(registry_with_port),
      T(index_docker_io_is_docker_io),
      T(digest),
      T(tag_and_digest),
      T(separators),
      T(uppercase_repository_refused),
      T(uppercase_domain_accepted),
      T(empty_refused),
      T(bad_tag_refused),
      T(tag_length_limit),
      T(bad_digest_refused),
      T(empty_components_refused),
      T(bad_domain_refused),
      T(too_long_refused),
      T(uppercase_anywhere_in_domain),
      T(port_must_be_numeric),
      T(familiar),
      T(familiar_points_into_name),
      T(familiar_roundtrip),
      T(split_docker_scheme),
      T(split_known_transport),
      T(split_unknown_transport),
      T(split_plain_names),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
