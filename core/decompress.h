/* Streaming decompression of layer blobs, in-process (never a helper found
 * on a PATH): gzip through ISA-L's igzip when built with it (zlib
 * otherwise), zstd through libzstd, and plain tar as is.  The format is
 * sniffed from the first bytes, not trusted from a media type. */
#ifndef STRATA_CORE_DECOMPRESS_H
#define STRATA_CORE_DECOMPRESS_H

#include <stddef.h>
#include <sys/types.h>

#include "error.h"

enum strata_compression {
  STRATA_COMPRESSION_NONE = 0,
  STRATA_COMPRESSION_GZIP,
  STRATA_COMPRESSION_ZSTD,
};

struct strata_decompressor;

/* Where compressed bytes come from: up to LEN bytes into BUF, 0 at the
 * end, negative with *err set on error. */
typedef ssize_t (*strata_read_fn)(void *arg, void *buf, size_t len, struct strata_error **err);

/* Reads compressed bytes from FD (which it does not own). */
int strata_decompressor_new(int fd, struct strata_decompressor **out, struct strata_error **err);
/* Reads compressed bytes through READ (a download still in progress, say). */
int strata_decompressor_new_reader(strata_read_fn read, void *arg, struct strata_decompressor **out,
                                   struct strata_error **err);
/* Up to LEN decompressed bytes into BUF; 0 at the end of the stream. */
ssize_t strata_decompressor_read(struct strata_decompressor *d, void *buf, size_t len,
                                 struct strata_error **err);
enum strata_compression strata_decompressor_format(const struct strata_decompressor *d);
void strata_decompressor_free(struct strata_decompressor *d);
const char *strata_compression_name(enum strata_compression c);

#endif
