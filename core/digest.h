/* SHA-256 digests through libcrypto, and "sha256:<hex>" strings. */
#ifndef STRATA_CORE_DIGEST_H
#define STRATA_CORE_DIGEST_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

#define STRATA_DIGEST_HEX_LEN 64
#define STRATA_DIGEST_STR_LEN (7 + STRATA_DIGEST_HEX_LEN) /* "sha256:" + hex */

struct strata_hasher;

/* A streaming hasher; free with strata_hasher_free. */
struct strata_hasher *strata_hasher_new(void);
void strata_hasher_update(struct strata_hasher *h, const void *buf, size_t len);
/* Writes "sha256:<hex>" (STRATA_DIGEST_STR_LEN + 1 bytes) into out. */
void strata_hasher_final(struct strata_hasher *h, char out[STRATA_DIGEST_STR_LEN + 1]);
void strata_hasher_free(struct strata_hasher *h);

/* One-shot digest of a buffer. */
void strata_digest_buffer(const void *buf, size_t len, char out[STRATA_DIGEST_STR_LEN + 1]);

/* True for "sha256:" followed by exactly 64 lowercase hex digits: the only
 * form strata ever turns into a file name. */
bool strata_digest_valid(const char *digest);
/* The hex part of a valid digest (points into DIGEST). */
const char *strata_digest_hex(const char *digest);

#endif
