#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "digest.h"
#include "manifest.h"
#include "unit.h"

#define D_CONFIG "sha256:b5a6c2a4b0f1f0d1a7e2b35d3e2b1c6f9a1c0f4e8d7c6b5a4f3e2d1c0b9a8f7e"
#define D_LAYER1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define D_LAYER2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"
#define D_AMD64 "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define D_ARM64 "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define D_ARM64V8 "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
#define D_ARMV6 "sha256:dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
#define D_ARMV7 "sha256:eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"
#define D_S390X "sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
#define D_ATTEST "sha256:9999999999999999999999999999999999999999999999999999999999999999"

/* An OCI image manifest as registries serve it. */
static const char oci_manifest[] =
    "{\n"
    "  \"schemaVersion\": 2,\n"
    "  \"mediaType\": \"application/vnd.oci.image.manifest.v1+json\",\n"
    "  \"config\": {\n"
    "    \"mediaType\": \"application/vnd.oci.image.config.v1+json\",\n"
    "    \"digest\": \"" D_CONFIG "\",\n"
    "    \"size\": 1457\n"
    "  },\n"
    "  \"layers\": [\n"
    "    {\n"
    "      \"mediaType\": \"application/vnd.oci.image.layer.v1.tar+gzip\",\n"
    "      \"digest\": \"" D_LAYER1 "\",\n"
    "      \"size\": 2152262\n"
    "    },\n"
    "    {\n"
    "      \"mediaType\": \"application/vnd.oci.image.layer.v1.tar+zstd\",\n"
    "      \"digest\": \"" D_LAYER2 "\",\n"
    "      \"size\": 0\n"
    "    }\n"
    "  ],\n"
    "  \"annotations\": {\n"
    "    \"org.opencontainers.image.created\": \"2024-01-01T00:00:00Z\"\n"
    "  }\n"
    "}\n";

static const char docker_manifest[] =
    "{\n"
    "   \"schemaVersion\": 2,\n"
    "   \"mediaType\": \"application/vnd.docker.distribution.manifest.v2+json\",\n"
    "   \"config\": {\n"
    "      \"mediaType\": \"application/vnd.docker.container.image.v1+json\",\n"
    "      \"size\": 1472,\n"
    "      \"digest\": \"" D_CONFIG "\"\n"
    "   },\n"
    "   \"layers\": [\n"
    "      {\n"
    "         \"mediaType\": \"application/vnd.docker.image.rootfs.diff.tar.gzip\",\n"
    "         \"size\": 2591575,\n"
    "         \"digest\": \"" D_LAYER1 "\"\n"
    "      }\n"
    "   ]\n"
    "}";

/* arm64 first, then amd64, then an attestation entry as buildx writes them */
static const char oci_index[] =
    "{\n"
    "  \"schemaVersion\": 2,\n"
    "  \"mediaType\": \"application/vnd.oci.image.index.v1+json\",\n"
    "  \"manifests\": [\n"
    "    {\"mediaType\": \"application/vnd.oci.image.manifest.v1+json\", \"digest\": \"" D_ARM64V8
    "\", \"size\": 1000,\n"
    "     \"platform\": {\"architecture\": \"arm64\", \"os\": \"linux\", \"variant\": \"v8\"}},\n"
    "    {\"mediaType\": \"application/vnd.oci.image.manifest.v1+json\", \"digest\": \"" D_AMD64
    "\", \"size\": 1001,\n"
    "     \"platform\": {\"architecture\": \"amd64\", \"os\": \"linux\"}},\n"
    "    {\"mediaType\": \"application/vnd.oci.image.manifest.v1+json\", \"digest\": \"" D_ATTEST
    "\", \"size\": 566,\n"
    "     \"annotations\": {\"vnd.docker.reference.type\": \"attestation-manifest\"},\n"
    "     \"platform\": {\"architecture\": \"unknown\", \"os\": \"unknown\"}}\n"
    "  ]\n"
    "}\n";

static const char docker_list[] =
    "{\n"
    "  \"schemaVersion\": 2,\n"
    "  \"mediaType\": \"application/vnd.docker.distribution.manifest.list.v2+json\",\n"
    "  \"manifests\": [\n"
    "    {\"mediaType\": \"application/vnd.docker.distribution.manifest.v2+json\", \"size\": 527,"
    " \"digest\": \"" D_ARMV6 "\", \"platform\": {\"architecture\": \"arm\", \"os\": \"linux\","
    " \"variant\": \"v6\"}},\n"
    "    {\"mediaType\": \"application/vnd.docker.distribution.manifest.v2+json\", \"size\": 527,"
    " \"digest\": \"" D_ARMV7 "\", \"platform\": {\"architecture\": \"arm\", \"os\": \"linux\","
    " \"variant\": \"v7\"}},\n"
    "    {\"mediaType\": \"application/vnd.docker.distribution.manifest.v2+json\", \"size\": 527,"
    " \"digest\": \"" D_ARM64 "\", \"platform\": {\"architecture\": \"arm64\", \"os\": \"linux\"}},\n"
    "    {\"mediaType\": \"application/vnd.docker.distribution.manifest.v2+json\", \"size\": 527,"
    " \"digest\": \"" D_ARM64V8 "\", \"platform\": {\"architecture\": \"arm64\", \"os\": \"linux\","
    " \"variant\": \"v8\"}},\n"
    "    {\"mediaType\": \"application/vnd.docker.distribution.manifest.v2+json\", \"size\": 527,"
    " \"digest\": \"" D_S390X "\", \"platform\": {\"architecture\": \"s390x\", \"os\": \"linux\"}}\n"
    "  ]\n"
    "}\n";

static struct strata_manifest *parse_ok(const char *data, const char *declared) {
  struct strata_manifest *m = NULL;
  struct strata_error *err = NULL;

  if (strata_manifest_parse(data, strlen(data), declared, &m, &err) != 0)
    fail_msg("manifest refused: %s", err ? err->msg : "(no error)");
  assert_null(err);
  assert_non_null(m);
  return m;
}

/* Parsing must fail with an error containing NEEDLE and leave *out alone. */
static void parse_fails(const char *data, size_t len, const char *declared, const char *needle) {
  struct strata_manifest *m = (struct strata_manifest *)0x1;
  struct strata_error *err = NULL;

  if (strata_manifest_parse(data, len, declared, &m, &err) >= 0)
    fail_msg("manifest accepted (wanted an error with '%s')", needle);
  assert_ptr_equal(m, (struct strata_manifest *)0x1);
  assert_error_contains(err, needle);
  strata_error_free(err);
}

#define PARSE_FAILS(data, declared, needle) parse_fails((data), strlen(data), (declared), (needle))

/* ------------------------------------------------------------------ manifests */

static void test_manifest__oci_manifest(void **state) {
  struct strata_manifest *m;

  (void)state;
  m = parse_ok(oci_manifest, STRATA_MT_OCI_MANIFEST);
  assert_int_equal(m->kind, STRATA_MANIFEST_IMAGE);
  assert_string_equal(m->media_type, STRATA_MT_OCI_MANIFEST);
  assert_string_equal(m->config.media_type, "application/vnd.oci.image.config.v1+json");
  assert_string_equal(m->config.digest, D_CONFIG);
  assert_int_equal(m->config.size, 1457);
  assert_int_equal(m->nlayers, 2);
  assert_string_equal(m->layers[0].media_type, "application/vnd.oci.image.layer.v1.tar+gzip");
  assert_string_equal(m->layers[0].digest, D_LAYER1);
  assert_int_equal(m->layers[0].size, 2152262);
  assert_string_equal(m->layers[1].media_type, "application/vnd.oci.image.layer.v1.tar+zstd");
  assert_string_equal(m->layers[1].digest, D_LAYER2);
  assert_int_equal(m->layers[1].size, 0);
  assert_null(m->layers[0].os);
  assert_int_equal(m->nmanifests, 0);
  strata_manifest_free(m);
}

static void test_manifest__oci_manifest_undeclared(void **state) {
  struct strata_manifest *m;

  (void)state;
  /* a source that announced nothing, or something generic */
  m = parse_ok(oci_manifest, NULL);
  assert_int_equal(m->kind, STRATA_MANIFEST_IMAGE);
  strata_manifest_free(m);
  m = parse_ok(oci_manifest, "application/json");
  assert_int_equal(m->kind, STRATA_MANIFEST_IMAGE);
  strata_manifest_free(m);
  m = parse_ok(oci_manifest, "application/octet-stream");
  assert_int_equal(m->kind, STRATA_MANIFEST_IMAGE);
  strata_manifest_free(m);
}

static void test_manifest__oci_manifest_without_media_type(void **state) {
  /* mediaType is optional in OCI; the declared type or the shape decides */
  static const char body[] =
      "{\"schemaVersion\": 2, \"config\": {\"mediaType\": \"application/vnd.oci.image.config.v1+json\","
      " \"digest\": \"" D_CONFIG "\", \"size\": 7},"
      " \"layers\": [{\"mediaType\": \"application/vnd.oci.image.layer.v1.tar\", \"digest\": \"" D_LAYER1
      "\", \"size\": 9}]}";
  struct strata_manifest *m;

  (void)state;
  m = parse_ok(body, STRATA_MT_OCI_MANIFEST);
  assert_int_equal(m->kind, STRATA_MANIFEST_IMAGE);
  assert_null(m->media_type);
  assert_int_equal(m->nlayers, 1);
  assert_int_equal(m->layers[0].size, 9);
  strata_manifest_free(m);
  m = parse_ok(body, NULL);
  assert_int_equal(m->kind, STRATA_MANIFEST_IMAGE);
  assert_string_equal(m->config.digest, D_CONFIG);
  strata_manifest_free(m);
}

static void test_manifest__docker_manifest(void **state) {
  struct strata_manifest *m;

  (void)state;
  m = parse_ok(docker_manifest, STRATA_MT_DOCKER_MANIFEST);
  assert_int_equal(m->kind, STRATA_MANIFEST_IMAGE);
  assert_string_equal(m->media_type, STRATA_MT_DOCKER_MANIFEST);
  assert_string_equal(m->config.media_type, "application/vnd.docker.container.image.v1+json");
  assert_string_equal(m->config.digest, D_CONFIG);
  assert_int_equal(m->config.size, 1472);
  assert_int_equal(m->nlayers, 1);
  assert_string_equal(m->layers[0].media_type,
                      "application/vnd.docker.image.rootfs.diff.tar.gzip");
  assert_string_equal(m->layers[0].digest, D_LAYER1);
  assert_int_equal(m->layers[0].size, 2591575);
  strata_manifest_free(m);
}

static void test_manifest__large_sizes(void **state) {
  static const char body[] =
      "{\"schemaVersion\": 2, \"mediaType\": \"application/vnd.oci.image.manifest.v1+json\","
      " \"config\": {\"digest\": \"" D_CONFIG "\", \"size\": 1},"
      " \"layers\": [{\"digest\": \"" D_LAYER1 "\", \"size\": 9007199254740993}]}";
  struct strata_manifest *m;

  (void)state;
  m = parse_ok(body, NULL);
  assert_true(m->layers[0].size == INT64_C(9007199254740993));
  strata_manifest_free(m);
}

static void test_manifest__oci_index(void **state) {
  struct strata_manifest *m;

  (void)state;
  m = parse_ok(oci_index, STRATA_MT_OCI_INDEX);
  assert_int_equal(m->kind, STRATA_MANIFEST_INDEX);
  assert_string_equal(m->media_type, STRATA_MT_OCI_INDEX);
  assert_int_equal(m->nmanifests, 3);
  assert_int_equal(m->nlayers, 0);
  assert_string_equal(m->manifests[0].digest, D_ARM64V8);
  assert_string_equal(m->manifests[0].media_type, STRATA_MT_OCI_MANIFEST);
  assert_int_equal(m->manifests[0].size, 1000);
  assert_string_equal(m->manifests[0].os, "linux");
  assert_string_equal(m->manifests[0].architecture, "arm64");
  assert_string_equal(m->manifests[0].variant, "v8");
  assert_string_equal(m->manifests[1].digest, D_AMD64);
  assert_string_equal(m->manifests[1].architecture, "amd64");
  assert_null(m->manifests[1].variant);
  assert_string_equal(m->manifests[2].os, "unknown");
  strata_manifest_free(m);
}

static void test_manifest__docker_list(void **state) {
  struct strata_manifest *m;

  (void)state;
  m = parse_ok(docker_list, STRATA_MT_DOCKER_LIST);
  assert_int_equal(m->kind, STRATA_MANIFEST_INDEX);
  assert_string_equal(m->media_type, STRATA_MT_DOCKER_LIST);
  assert_int_equal(m->nmanifests, 5);
  assert_string_equal(m->manifests[0].media_type, STRATA_MT_DOCKER_MANIFEST);
  assert_string_equal(m->manifests[0].variant, "v6");
  assert_string_equal(m->manifests[4].architecture, "s390x");
  strata_manifest_free(m);
}

static void test_manifest__index_without_media_type(void **state) {
  static const char body[] =
      "{\"schemaVersion\": 2, \"manifests\": [{\"digest\": \"" D_AMD64 "\", \"size\": 3,"
      " \"platform\": {\"os\": \"linux\", \"architecture\": \"amd64\"}}]}";
  struct strata_manifest *m;

  (void)state;
  m = parse_ok(body, NULL);
  assert_int_equal(m->kind, STRATA_MANIFEST_INDEX);
  assert_int_equal(m->nmanifests, 1);
  strata_manifest_free(m);
  m = parse_ok(body, STRATA_MT_OCI_INDEX);
  assert_int_equal(m->kind, STRATA_MANIFEST_INDEX);
  strata_manifest_free(m);
}

static void test_manifest__schema1_declared_refused(void **state) {
  (void)state;
  /* refused on the declared type alone, whatever the body */
  PARSE_FAILS(docker_manifest, "application/vnd.docker.distribution.manifest.v1+prettyjws",
              "schema 1");
  PARSE_FAILS(docker_manifest, "application/vnd.docker.distribution.manifest.v1+json",
              "schema 1");
}

static void test_manifest__schema1_body_refused(void **state) {
  static const char body[] =
      "{\"schemaVersion\": 1, \"name\": \"library/busybox\", \"tag\": \"latest\","
      " \"architecture\": \"amd64\", \"fsLayers\": [{\"blobSum\": \"" D_LAYER1 "\"}],"
      " \"history\": [{\"v1Compatibility\": \"{}\"}]}";

  (void)state;
  PARSE_FAILS(body, NULL, "schema 1");
  PARSE_FAILS(body, "application/json", "schema 1");
}

static void test_manifest__schema_version_required(void **state) {
  static const char no_version[] =
      "{\"mediaType\": \"application/vnd.oci.image.manifest.v1+json\","
      " \"config\": {\"digest\": \"" D_CONFIG "\", \"size\": 1}, \"layers\": []}";
  static const char version3[] =
      "{\"schemaVersion\": 3, \"mediaType\": \"application/vnd.oci.image.manifest.v1+json\","
      " \"config\": {\"digest\": \"" D_CONFIG "\", \"size\": 1}, \"layers\": []}";
  static const char version_string[] =
      "{\"schemaVersion\": \"2\", \"mediaType\": \"application/vnd.oci.image.manifest.v1+json\","
      " \"config\": {\"digest\": \"" D_CONFIG "\", \"size\": 1}, \"layers\": []}";

  (void)state;
  PARSE_FAILS(no_version, NULL, "schemaVersion");
  PARSE_FAILS(version3, NULL, "schemaVersion");
  PARSE_FAILS(version_string, NULL, "schemaVersion");
}

static void test_manifest__declared_type_contradicts_body(void **state) {
  (void)state;
  PARSE_FAILS(oci_manifest, STRATA_MT_DOCKER_MANIFEST, "contradicts");
  PARSE_FAILS(docker_manifest, STRATA_MT_OCI_MANIFEST, "contradicts");
  PARSE_FAILS(oci_manifest, STRATA_MT_OCI_INDEX, "contradicts");
  PARSE_FAILS(oci_index, STRATA_MT_OCI_MANIFEST, "contradicts");
  PARSE_FAILS(docker_list, STRATA_MT_OCI_INDEX, "contradicts");
}

static void test_manifest__declared_type_without_body_type_must_fit(void **state) {
  /* no mediaType in the body: the declared type decides, and an index
   * announced for an image body is refused */
  static const char body[] =
      "{\"schemaVersion\": 2, \"config\": {\"digest\": \"" D_CONFIG "\", \"size\": 7},"
      " \"layers\": [{\"digest\": \"" D_LAYER1 "\", \"size\": 9}]}";

  (void)state;
  PARSE_FAILS(body, STRATA_MT_OCI_INDEX, "invalid index");
}

static void test_manifest__unknown_type_refused(void **state) {
  static const char body[] =
      "{\"schemaVersion\": 2, \"mediaType\": \"application/vnd.example.thing+json\","
      " \"config\": {\"digest\": \"" D_CONFIG "\", \"size\": 1}, \"layers\": []}";
  static const char shapeless[] = "{\"schemaVersion\": 2}";

  (void)state;
  PARSE_FAILS(body, NULL, "unsupported manifest type");
  PARSE_FAILS(shapeless, NULL, "unsupported manifest type");
}

static void test_manifest__missing_config_refused(void **state) {
  static const char body[] =
      "{\"schemaVersion\": 2, \"mediaType\": \"application/vnd.oci.image.manifest.v1+json\","
      " \"layers\": [{\"digest\": \"" D_LAYER1 "\", \"size\": 9}]}";
  static const char config_not_object[] =
      "{\"schemaVersion\": 2, \"mediaType\": \"application/vnd.oci.image.manifest.v1+json\","
      " \"config\": \"" D_CONFIG "\", \"layers\": []}";

  (void)state;
  PARSE_FAILS(body, NULL, "config");
  PARSE_FAILS(config_not_object, NULL, "config");
}

static void test_manifest__invalid_layer_digest_refused(void **state) {
  static const char short_hex[] =
      "{\"schemaVersion\": 2, \"mediaType\": \"application/vnd.oci.image.manifest.v1+json\","
      " \"config\": {\"digest\": \"" D_CONFIG "\", \"size\": 1},"
      " \"layers\": [{\"digest\": \"" D_LAYER1 "\", \"size\": 9},"
      " {\"digest\": \"sha256:1234\", \"size\": 9}]}";
  static const char traversal[] =
      "{\"schemaVersion\": 2, \"mediaType\": \"application/vnd.oci.image.manifest.v1+json\","
      " \"config\": {\"digest\": \"" D_CONFIG "\", \"size\": 1},"
      " \"layers\": [{\"digest\": \"sha256:../../../../etc/passwd\", \"size\": 9}]}";
  static const char sha512[] =
      "{\"schemaVersion\": 2, \"mediaType\": \"application/vnd.oci.image.manifest.v1+json\","
      " \"config\": {\"digest\": \"" D_CONFIG "\", \"size\": 1},"
      " \"layers\": [{\"digest\": \"sha512:" "1111111111111111111111111111111111111111111111111111111111111111"
      "1111111111111111111111111111111111111111111111111111111111111111\", \"size\": 9}]}";
  static const char no_digest[] =
      "{\"schemaVersion\": 2, \"mediaType\": \"application/vnd.oci.image.manifest.v1+json\","
      " \"config\": {\"digest\": \"" D_CONFIG "\", \"size\": 1},"
      " \"layers\": [{\"size\": 9}]}";
  static const char bad_config_digest[] =
      "{\"schemaVersion\": 2, \"mediaType\": \"application/vnd.oci.image.manifest.v1+json\","
      " \"config\": {\"digest\": \"sha256:XYZ\", \"size\": 1}, \"layers\": []}";
  static const char bad_index_digest[] =
      "{\"schemaVersion\": 2, \"mediaType\": \"application/vnd.oci.image.index.v1+json\","
      " \"manifests\": [{\"digest\": \"sha256:" "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
      "\", \"size\": 1}]}";

  (void)state;
  PARSE_FAILS(short_hex, NULL, "invalid digest 'sha256:1234'");
  PARSE_FAILS(traversal, NULL, "invalid digest");
  PARSE_FAILS(sha512, NULL, "invalid digest");
  PARSE_FAILS(no_digest, NULL, "invalid digest");
  PARSE_FAILS(bad_config_digest, NULL, "invalid digest");
  PARSE_FAILS(bad_index_digest, NULL, "invalid digest");
}

static void test_manifest__bad_size_refused(void **state) {
  static const char negative[] =
      "{\"schemaVersion\": 2, \"mediaType\": \"application/vnd.oci.image.manifest.v1+json\","
      " \"config\": {\"digest\": \"" D_CONFIG "\", \"size\": 1},"
      " \"layers\": [{\"digest\": \"" D_LAYER1 "\", \"size\": -1}]}";
  static const char string_size[] =
      "{\"schemaVersion\": 2, \"mediaType\": \"application/vnd.oci.image.manifest.v1+json\","
      " \"config\": {\"digest\": \"" D_CONFIG "\", \"size\": 1},"
      " \"layers\": [{\"digest\": \"" D_LAYER1 "\", \"size\": \"9\"}]}";
  static const char real_size[] =
      "{\"schemaVersion\": 2, \"mediaType\": \"application/vnd.oci.image.manifest.v1+json\","
      " \"config\": {\"digest\": \"" D_CONFIG "\", \"size\": 1.5}, \"layers\": []}";
  static const char missing_size[] =
      "{\"schemaVersion\": 2, \"mediaType\": \"application/vnd.oci.image.manifest.v1+json\","
      " \"config\": {\"digest\": \"" D_CONFIG "\"}, \"layers\": []}";
  static const char negative_index[] =
      "{\"schemaVersion\": 2, \"mediaType\": \"application/vnd.oci.image.index.v1+json\","
      " \"manifests\": [{\"digest\": \"" D_AMD64 "\", \"size\": -5}]}";

  (void)state;
  PARSE_FAILS(negative, NULL, "no valid size");
  PARSE_FAILS(string_size, NULL, "no valid size");
  PARSE_FAILS(real_size, NULL, "no valid size");
  PARSE_FAILS(missing_size, NULL, "no valid size");
  PARSE_FAILS(negative_index, NULL, "no valid size");
}

/* A valid manifest padded with blanks to LEN bytes. */
static char *padded_manifest(size_t len) {
  char *buf = malloc(len + 1);
  size_t n = strlen(docker_manifest);

  assert_non_null(buf);
  assert_true(len >= n);
  memcpy(buf, docker_manifest, n);
  memset(buf + n, ' ', len - n);
  buf[len] = '\0';
  return buf;
}

static void test_manifest__size_limit(void **state) {
  struct strata_manifest *m = NULL;
  struct strata_error *err = NULL;
  char *at_limit = padded_manifest(STRATA_MANIFEST_MAX);
  char *over = padded_manifest(STRATA_MANIFEST_MAX + 1);

  (void)state;
  assert_int_equal(strata_manifest_parse(at_limit, STRATA_MANIFEST_MAX, NULL, &m, &err), 0);
  assert_int_equal(m->kind, STRATA_MANIFEST_IMAGE);
  strata_manifest_free(m);
  parse_fails(over, STRATA_MANIFEST_MAX + 1, NULL, "too large");
  free(at_limit);
  free(over);
}

static void test_manifest__layers_and_manifests_refused(void **state) {
  static const char untyped[] =
      "{\"schemaVersion\": 2, \"config\": {\"digest\": \"" D_CONFIG "\", \"size\": 1},"
      " \"layers\": [{\"digest\": \"" D_LAYER1 "\", \"size\": 9}],"
      " \"manifests\": [{\"digest\": \"" D_AMD64 "\", \"size\": 3}]}";
  static const char as_manifest[] =
      "{\"schemaVersion\": 2, \"mediaType\": \"application/vnd.oci.image.manifest.v1+json\","
      " \"config\": {\"digest\": \"" D_CONFIG "\", \"size\": 1},"
      " \"layers\": [{\"digest\": \"" D_LAYER1 "\", \"size\": 9}],"
      " \"manifests\": [{\"digest\": \"" D_AMD64 "\", \"size\": 3}]}";
  static const char as_index[] =
      "{\"schemaVersion\": 2, \"mediaType\": \"application/vnd.oci.image.index.v1+json\","
      " \"layers\": [{\"digest\": \"" D_LAYER1 "\", \"size\": 9}],"
      " \"manifests\": [{\"digest\": \"" D_AMD64 "\", \"size\": 3}]}";
  static const char empty_both[] =
      "{\"schemaVersion\": 2, \"config\": {\"digest\": \"" D_CONFIG "\", \"size\": 1},"
      " \"layers\": [], \"manifests\": []}";

  (void)state;
  PARSE_FAILS(untyped, NULL, "no 'manifests'");
  PARSE_FAILS(as_manifest, NULL, "no 'manifests'");
  PARSE_FAILS(as_index, NULL, "no 'layers'");
  PARSE_FAILS(empty_both, NULL, "invalid");
}

static void test_manifest__malformed_json_refused(void **state) {
  static const char dup[] =
      "{\"schemaVersion\": 2, \"mediaType\": \"application/vnd.oci.image.manifest.v1+json\","
      " \"config\": {\"digest\": \"" D_CONFIG "\", \"size\": 1},"
      " \"layers\": [], \"layers\": [{\"digest\": \"" D_LAYER1 "\", \"size\": 9}]}";

  (void)state;
  PARSE_FAILS("", NULL, "invalid manifest");
  PARSE_FAILS("{", NULL, "invalid manifest");
  PARSE_FAILS("[]", NULL, "not an object");
  PARSE_FAILS("\"manifest\"", NULL, "invalid manifest");
  /* two readers must never see two different manifests */
  PARSE_FAILS(dup, NULL, "invalid manifest");
  /* LEN is honoured: the valid text after LEN bytes is not read */
  parse_fails(oci_manifest, 10, NULL, "invalid manifest");
}

static void test_manifest__layers_not_array_refused(void **state) {
  static const char body[] =
      "{\"schemaVersion\": 2, \"mediaType\": \"application/vnd.oci.image.manifest.v1+json\","
      " \"config\": {\"digest\": \"" D_CONFIG "\", \"size\": 1}, \"layers\": {}}";
  static const char index_body[] =
      "{\"schemaVersion\": 2, \"mediaType\": \"application/vnd.oci.image.index.v1+json\","
      " \"manifests\": \"" D_AMD64 "\"}";
  static const char layer_not_object[] =
      "{\"schemaVersion\": 2, \"mediaType\": \"application/vnd.oci.image.manifest.v1+json\","
      " \"config\": {\"digest\": \"" D_CONFIG "\", \"size\": 1}, \"layers\": [\"" D_LAYER1 "\"]}";

  (void)state;
  PARSE_FAILS(body, NULL, "needs 'layers'");
  PARSE_FAILS(index_body, NULL, "needs 'manifests'");
  PARSE_FAILS(layer_not_object, NULL, "not an object");
}

/* ------------------------------------------------------------------ platforms */

static struct strata_manifest *index_of(const char *json) { return parse_ok(json, NULL); }

static void pick_is(const struct strata_manifest *m, const char *os, const char *arch,
                    const char *variant, const char *digest) {
  const struct strata_descriptor *d = NULL;
  struct strata_error *err = NULL;

  if (strata_manifest_pick(m, os, arch, variant, &d, &err) != 0)
    fail_msg("no pick for %s/%s/%s: %s", os, arch, variant ? variant : "(null)",
             err ? err->msg : "(no error)");
  assert_non_null(d);
  assert_string_equal(d->digest, digest);
}

static void pick_fails(const struct strata_manifest *m, const char *os, const char *arch,
                       const char *variant, const char *needle) {
  const struct strata_descriptor *d = (const struct strata_descriptor *)0x1;
  struct strata_error *err = NULL;

  if (strata_manifest_pick(m, os, arch, variant, &d, &err) >= 0)
    fail_msg("%s/%s picked %s", os, arch, d ? d->digest : "(null)");
  assert_ptr_equal(d, (const struct strata_descriptor *)0x1);
  assert_error_contains(err, needle);
  strata_error_free(err);
}

static void test_manifest__pick_amd64_after_arm64(void **state) {
  struct strata_manifest *m = index_of(oci_index);

  (void)state;
  pick_is(m, "linux", "amd64", "", D_AMD64);
  pick_is(m, "linux", "amd64", NULL, D_AMD64);
  strata_manifest_free(m);
}

static void test_manifest__pick_variant(void **state) {
  struct strata_manifest *m = index_of(docker_list);

  (void)state;
  /* arm64 without a variant comes first, but v8 is an exact match */
  pick_is(m, "linux", "arm64", "v8", D_ARM64V8);
  pick_is(m, "linux", "arm", "v7", D_ARMV7);
  pick_is(m, "linux", "arm", "v6", D_ARMV6);
  /* no variant asked: any arm64 will do, the first one */
  pick_is(m, "linux", "arm64", "", D_ARM64);
  pick_is(m, "linux", "s390x", NULL, D_S390X);
  strata_manifest_free(m);
}

static void test_manifest__pick_entry_without_variant_serves_any(void **state) {
  struct strata_manifest *m = index_of(oci_index);
  static const char only_plain[] =
      "{\"schemaVersion\": 2, \"mediaType\": \"application/vnd.oci.image.index.v1+json\","
      " \"manifests\": [{\"digest\": \"" D_ARM64 "\", \"size\": 1,"
      " \"platform\": {\"os\": \"linux\", \"architecture\": \"arm64\"}}]}";
  struct strata_manifest *plain = index_of(only_plain);

  (void)state;
  pick_is(m, "linux", "arm64", "v8", D_ARM64V8);
  pick_is(m, "linux", "arm64", "", D_ARM64V8);
  pick_is(plain, "linux", "arm64", "v8", D_ARM64);
  strata_manifest_free(plain);
  strata_manifest_free(m);
}

static void test_manifest__pick_never_another_platform(void **state) {
  struct strata_manifest *m = index_of(oci_index);
  static const char windows[] =
      "{\"schemaVersion\": 2, \"mediaType\": \"application/vnd.oci.image.index.v1+json\","
      " \"manifests\": [{\"digest\": \"" D_AMD64 "\", \"size\": 1,"
      " \"platform\": {\"os\": \"windows\", \"architecture\": \"amd64\"}},"
      " {\"digest\": \"" D_ARM64 "\", \"size\": 1}]}";
  struct strata_manifest *w = index_of(windows);

  (void)state;
  pick_fails(m, "linux", "s390x", "", "linux/s390x");
  pick_fails(m, "linux", "riscv64", NULL, "linux/riscv64");
  /* a variant that is not there is not replaced by another one */
  pick_fails(m, "linux", "arm64", "v9", "linux/arm64/v9");
  /* same arch, other OS; and an entry without a platform is never picked */
  pick_fails(w, "linux", "amd64", "", "linux/amd64");
  strata_manifest_free(w);
  strata_manifest_free(m);
}

static void test_manifest__pick_error_names_platform_only(void **state) {
  struct strata_manifest *m = index_of(oci_index);
  const struct strata_descriptor *d = NULL;
  struct strata_error *err = NULL;

  (void)state;
  assert_true(strata_manifest_pick(m, "linux", "ppc64le", "", &d, &err) < 0);
  assert_error_contains(err, "no matching manifest for linux/ppc64le");
  assert_not_contains(err->msg, "amd64");
  assert_not_contains(err->msg, "arm64");
  strata_error_free(err);
  strata_manifest_free(m);
}

static void test_manifest__host_platform(void **state) {
  const char *os = NULL, *arch = NULL, *variant = NULL;

  (void)state;
  strata_host_platform(&os, &arch, &variant);
  assert_string_equal(os, "linux");
  assert_non_null(arch);
  assert_non_null(variant);
#if defined(__x86_64__)
  assert_string_equal(arch, "amd64");
  assert_string_equal(variant, "");
#elif defined(__aarch64__)
  assert_string_equal(arch, "arm64");
  assert_string_equal(variant, "v8");
#endif
}

static void platform_is(const char *s, const char *os, const char *arch, const char *variant) {
  char *o = NULL, *a = NULL, *v = NULL;
  struct strata_error *err = NULL;

  if (strata_platform_parse(s, &o, &a, &v, &err) != 0)
    fail_msg("'%s' refused: %s", s, err ? err->msg : "(no error)");
  assert_string_equal(o, os);
  assert_string_equal(a, arch);
  assert_string_equal(v, variant);
  free(o);
  free(a);
  free(v);
}

static void platform_fails(const char *s) {
  char *o = NULL, *a = NULL, *v = NULL;
  struct strata_error *err = NULL;

  if (strata_platform_parse(s, &o, &a, &v, &err) >= 0)
    fail_msg("'%s' accepted as os '%s' arch '%s' variant '%s'", s, o, a, v);
  assert_error_contains(err, "invalid platform");
  assert_null(o);
  strata_error_free(err);
}

static void test_manifest__platform_parse(void **state) {
  (void)state;
  platform_is("linux/amd64", "linux", "amd64", "");
  platform_is("linux/arm64/v8", "linux", "arm64", "v8");
  platform_is("linux/arm/v7", "linux", "arm", "v7");
  platform_is("windows/amd64", "windows", "amd64", "");
}

static void test_manifest__platform_parse_refused(void **state) {
  (void)state;
  platform_fails("");
  platform_fails("linux");
  platform_fails("/amd64");
  platform_fails("linux/");
  platform_fails("amd64");
}

static void test_manifest__platform_parse_empty_parts_refused(void **state) {
  (void)state;
  platform_fails("linux//v8");
  platform_fails("linux/arm64/v8/x");
  platform_fails("linux/arm64/");
}

/* ------------------------------------------------------------------ image config */

static const char image_config[] =
    "{\n"
    "  \"architecture\": \"amd64\",\n"
    "  \"os\": \"linux\",\n"
    "  \"created\": \"2024-01-01T00:00:00Z\",\n"
    "  \"config\": {\"Env\": [\"PATH=/usr/bin:/bin\"], \"Cmd\": [\"sh\"]},\n"
    "  \"rootfs\": {\n"
    "    \"type\": \"layers\",\n"
    "    \"diff_ids\": [\"" D_LAYER1 "\", \"" D_LAYER2 "\"]\n"
    "  },\n"
    "  \"history\": [{\"created_by\": \"ADD rootfs.tar /\"}]\n"
    "}\n";

static void config_fails(const char *data, const char *needle) {
  struct strata_image_config *c = (struct strata_image_config *)0x1;
  struct strata_error *err = NULL;

  if (strata_image_config_parse(data, strlen(data), &c, &err) >= 0)
    fail_msg("config accepted (wanted an error with '%s')", needle);
  assert_ptr_equal(c, (struct strata_image_config *)0x1);
  assert_error_contains(err, needle);
  strata_error_free(err);
}

static void test_manifest__image_config(void **state) {
  struct strata_image_config *c = NULL;
  struct strata_error *err = NULL;

  (void)state;
  assert_int_equal(strata_image_config_parse(image_config, strlen(image_config), &c, &err), 0);
  assert_null(err);
  assert_int_equal(c->ndiff_ids, 2);
  assert_string_equal(c->diff_ids[0], D_LAYER1);
  assert_string_equal(c->diff_ids[1], D_LAYER2);
  assert_null(c->diff_ids[2]);
  assert_true(json_is_object(c->doc));
  assert_string_equal(json_string_value(json_object_get(c->doc, "os")), "linux");
  strata_image_config_free(c);
}

static void test_manifest__image_config_no_layers(void **state) {
  static const char empty[] = "{\"rootfs\": {\"type\": \"layers\", \"diff_ids\": []}}";
  struct strata_image_config *c = NULL;
  struct strata_error *err = NULL;

  (void)state;
  assert_int_equal(strata_image_config_parse(empty, strlen(empty), &c, &err), 0);
  assert_int_equal(c->ndiff_ids, 0);
  assert_non_null(c->diff_ids);
  assert_null(c->diff_ids[0]);
  strata_image_config_free(c);
}

static void test_manifest__image_config_diff_ids_required(void **state) {
  (void)state;
  config_fails("{\"os\": \"linux\"}", "diff_ids");
  config_fails("{\"rootfs\": {\"type\": \"layers\"}}", "diff_ids");
  config_fails("{\"rootfs\": {\"diff_ids\": \"" D_LAYER1 "\"}}", "diff_ids");
  config_fails("{\"rootfs\": [\"" D_LAYER1 "\"]}", "diff_ids");
}

static void test_manifest__image_config_invalid_diff_id(void **state) {
  (void)state;
  config_fails("{\"rootfs\": {\"diff_ids\": [\"" D_LAYER1 "\", \"sha256:abc\"]}}",
               "diff_id 1");
  config_fails("{\"rootfs\": {\"diff_ids\": [\"sha256:../../x\"]}}", "diff_id 0");
  config_fails("{\"rootfs\": {\"diff_ids\": [42]}}", "diff_id 0");
  config_fails("{\"rootfs\": {\"diff_ids\": [\"" D_LAYER1 "\", null]}}", "diff_id 1");
}

static void test_manifest__image_config_too_large(void **state) {
  struct strata_image_config *c = NULL;
  struct strata_error *err = NULL;
  size_t n = strlen(image_config);
  char *big = malloc(STRATA_MANIFEST_MAX + 2);

  (void)state;
  assert_non_null(big);
  memcpy(big, image_config, n);
  memset(big + n, ' ', STRATA_MANIFEST_MAX + 1 - n);
  big[STRATA_MANIFEST_MAX + 1] = '\0';
  assert_int_equal(strata_image_config_parse(big, STRATA_MANIFEST_MAX, &c, &err), 0);
  strata_image_config_free(c);
  c = NULL;
  assert_true(strata_image_config_parse(big, STRATA_MANIFEST_MAX + 1, &c, &err) < 0);
  assert_null(c);
  assert_error_contains(err, "too large");
  strata_error_free(err);
  free(big);
}

static void test_manifest__image_config_malformed(void **state) {
  (void)state;
  /* jansson: "'[' or '{' expected near 'garbage'" */
  config_fails("garbage", "expected near");
  config_fails("{\"rootfs\": ", "invalid image config");
  config_fails("[]", "not an object");
}

/* ------------------------------------------------------------------ chain IDs */

/* Expected values computed with
 *   printf '%s' 'layer-one' | sha256sum                      -> DIFF1 (etc.)
 *   printf '%s' "$DIFF1 $DIFF2" | sha256sum                    -> CHAIN2
 *   printf '%s' "$CHAIN2 $DIFF3" | sha256sum                   -> CHAIN3 */
#define DIFF1 "sha256:0139c1c77468f75e6763a4612262743bd47a36b26cb2863d662756b3377bb029"
#define DIFF2 "sha256:4381142a944dccfafc4428f3b1d4469713054b918f3c97f2e7f1cac2c25e0cc4"
#define DIFF3 "sha256:6c743db43f0448c007a51265ac822887f39ea7e6600820511cc46f9f63690fd5"
#define CHAIN2 "sha256:aff998a96a2f925843dfb74108505e06ba8a26c9ff277ee74ede14a9bd9090b0"
#define CHAIN3 "sha256:0c591124fb48bc3416c43b04465bf075a13e4949d16e3c58b274b18a00494da7"

static void test_manifest__chain_ids_known_values(void **state) {
  char *diffs[] = {DIFF1, DIFF2, DIFF3};
  char out[3][72];

  (void)state;
  memset(out, 'x', sizeof(out));
  strata_chain_ids(diffs, 3, out);
  assert_string_equal(out[0], DIFF1);
  assert_string_equal(out[1], CHAIN2);
  assert_string_equal(out[2], CHAIN3);
}

static void test_manifest__chain_ids_match_definition(void **state) {
  /* the definition spelled out with the digest helper, for a longer chain */
  char *diffs[6];
  char store[6][STRATA_DIGEST_STR_LEN + 1];
  char out[6][72];
  char want[STRATA_DIGEST_STR_LEN + 1];

  (void)state;
  for (int i = 0; i < 6; i++) {
    char text[16];
    snprintf(text, sizeof(text), "layer %d", i);
    strata_digest_buffer(text, strlen(text), store[i]);
    diffs[i] = store[i];
  }
  strata_chain_ids(diffs, 6, out);
  strcpy(want, diffs[0]);
  assert_string_equal(out[0], want);
  for (int i = 1; i < 6; i++) {
    char buf[2 * STRATA_DIGEST_STR_LEN + 2];
    snprintf(buf, sizeof(buf), "%s %s", want, diffs[i]);
    strata_digest_buffer(buf, strlen(buf), want);
    assert_string_equal(out[i], want);
  }
}

static void test_manifest__chain_ids_single_and_empty(void **state) {
  char *diffs[] = {DIFF2};
  char out[2][72];

  (void)state;
  memset(out, 'x', sizeof(out));
  strata_chain_ids(diffs, 1, out);
  assert_string_equal(out[0], DIFF2);
  assert_int_equal(out[1][0], 'x'); /* nothing written past N */
  strata_chain_ids(diffs, 0, out);  /* writes nothing, must not crash */
  assert_string_equal(out[0], DIFF2);
}

static void test_manifest__chain_ids_depend_on_order(void **state) {
  char *ab[] = {DIFF1, DIFF2};
  char *ba[] = {DIFF2, DIFF1};
  char out1[2][72], out2[2][72];

  (void)state;
  strata_chain_ids(ab, 2, out1);
  strata_chain_ids(ba, 2, out2);
  assert_string_not_equal(out1[1], out2[1]);
}

#define T(name) cmocka_unit_test(test_manifest__##name)

int main(void) {
  const struct CMUnitTest tests[] = {
      T(oci_manifest),
      T(oci_manifest_undeclared),
      T(oci_manifest_without_media_type),
      T(docker_manifest),
      T(large_sizes),
      T(oci_index),
      T(docker_list),
      T(index_without_media_type),
      T(schema1_declared_refused),
      T(schema1_body_refused),
      T(schema_version_required),
      T(declared_type_contradicts_body),
      T(declared_type_without_body_type_must_fit),
      T(unknown_type_refused),
      T(missing_config_refused),
      T(invalid_layer_digest_refused),
      T(bad_size_refused),
      T(size_limit),
      T(layers_and_manifests_refused),
      T(malformed_json_refused),
      T(layers_not_array_refused),
      T(pick_amd64_after_arm64),
      T(pick_variant),
      T(pick_entry_without_variant_serves_any),
      T(pick_never_another_platform),
      T(pick_error_names_platform_only),
      T(host_platform),
      T(platform_parse),
      T(platform_parse_refused),
      T(platform_parse_empty_parts_refused),
      T(image_config),
      T(image_config_no_layers),
      T(image_config_diff_ids_required),
      T(image_config_invalid_diff_id),
      T(image_config_too_large),
      T(image_config_malformed),
      T(chain_ids_known_values),
      T(chain_ids_match_definition),
      T(chain_ids_single_and_empty),
      T(chain_ids_depend_on_order),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
