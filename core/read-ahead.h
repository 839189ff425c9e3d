/* A layer stream inflated and hashed on a thread of its own, a few chunks
 * ahead of the tar parser that reads it: decompression and the diff ID's
 * sha256 take one core while the layer engine writes files on the other,
 * and memory stays at a few fixed chunks whatever the layer's size. */
#ifndef STRATA_CORE_READ_AHEAD_H
#define STRATA_CORE_READ_AHEAD_H

#include <sys/types.h>

#include "decompress.h"
#include "digest.h"
#include "error.h"

struct strata_read_ahead;

/* Starts reading DEC, feeding every byte to HASH; both stay the caller's,
 * and must outlive the read-ahead.  Without a thread (none could be made)
 * it reads on the caller's. */
int strata_read_ahead_new(struct strata_decompressor *dec, struct strata_hasher *hash,
                          struct strata_read_ahead **out, struct strata_error **err);

/* The next chunk of the stream in *BUF (valid until the next call), its
 * length; 0 at the end; -1 with *ERR when the stream failed. */
ssize_t strata_read_ahead_next(struct strata_read_ahead *ra, const void **buf,
                               struct strata_error **err);

/* Stops the thread (at once, when the stream is not read to its end) and
 * frees everything.  After it, HASH holds exactly what was handed out. */
void strata_read_ahead_free(struct strata_read_ahead *ra);

#endif
