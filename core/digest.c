#include "config.h"
#include "digest.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

struct strata_hasher {
  EVP_MD_CTX *ctx;
};

struct strata_hasher *strata_hasher_new(void) {
  struct strata_hasher *h = calloc(1, sizeof(*h));
  if (h == NULL)
    return NULL;
  h->ctx = EVP_MD_CTX_new();
  if (h->ctx == NULL || EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1) {
    EVP_MD_CTX_free(h->ctx);
    free(h);
    return NULL;
  }
  return h;
}

void strata_hasher_update(struct strata_hasher *h, const void *buf, size_t len) {
  EVP_DigestUpdate(h->ctx, buf, len);
}

static void to_digest_string(const unsigned char *md, char out[STRATA_DIGEST_STR_LEN + 1]) {
  static const char hex[] = "0123456789abcdef";
  memcpy(out, "sha256:", 7);
  for (int i = 0; i < 32; i++) {
    out[7 + 2 * i] = hex[md[i] >> 4];
    out[8 + 2 * i] = hex[md[i] & 15];
  }
  out[STRATA_DIGEST_STR_LEN] = '\0';
}

void strata_hasher_final(struct strata_hasher *h, char out[STRATA_DIGEST_STR_LEN + 1]) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(h->ctx, md, &len);
  to_digest_string(md, out);
}

void strata_hasher_free(struct strata_hasher *h) {
  if (h == NULL)
    return;
  EVP_MD_CTX_free(h->ctx);
  free(h);
}

void strata_digest_buffer(const void *buf, size_t len, char out[STRATA_DIGEST_STR_LEN + 1]) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL);
  to_digest_string(md, out);
}

bool strata_digest_valid(const char *digest) {
  if (digest == NULL || strncmp(digest, "sha256:", 7) != 0)
    return false;
  for (int i = 0; i < STRATA_DIGEST_HEX_LEN; i++) {
    char c = digest[7 + i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      return false;
  }
  return digest[STRATA_DIGEST_STR_LEN] == '\0';
}

const char *strata_digest_hex(const char *digest) { return digest + 7; }
