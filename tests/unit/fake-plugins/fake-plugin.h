/* Fake plugins for test_plugin_loader: each folder holds one, built as a
 * libtool module for `make check` only. */
#ifndef STRATA_TESTS_FAKE_PLUGIN_H
#define STRATA_TESTS_FAKE_PLUGIN_H

#include <stddef.h>
#include <stdint.h>
#include <strata/plugin/plugin.h>
#include <strata/plugin/storage.h>
#include <strata/plugin/transport.h>

static inline int fake_probe(void *state, struct strata_error **err) {
  (void)state;
  (void)err;
  return 0;
}

static inline int fake_init(const struct strata_host *host, const struct strata_plugin_context *ctx,
                            void **state, struct strata_error **err) {
  (void)host;
  (void)ctx;
  (void)err;
  *state = NULL;
  return 0;
}

static inline void fake_fini(void *state) { (void)state; }

/* A descriptor with every member spelled out, so a fake can get any of
 * them wrong without overriding an initializer. */
#define FAKE_INFO(magic_, major_, minor_, size_, kind_, name_, version_, ops_)                  \
  {                                                                                          \
    .magic = (magic_), .abi_major = (major_), .abi_minor = (minor_), .struct_size = (size_),  \
    .kind = (kind_), .name = (name_), .version = (version_),                                  \
    .description = "fake plugin for the unit tests", .license = "Apache-2.0",                 \
    .init = fake_init, .fini = fake_fini, .ops = (ops_),                                      \
  }

#endif
