#include "config.h"
#include "decompress.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#ifdef HAVE_ISAL
#include <isa-l/igzip_lib.h>
#endif
#ifdef HAVE_ZSTD
#include <zstd.h>
#endif

#define IN_SIZE (256 * 1024)

struct strata_decompressor {
  strata_read_fn read;
  void *read_arg;
  enum strata_compression format;
  unsigned char *in;
  size_t in_len, in_pos;
  bool in_eof;
  bool stream_end; /* the current compressed member ended */
  bool done;
#ifdef HAVE_ISAL
  struct inflate_state isal;
#else
  z_stream z;
#endif
#ifdef HAVE_ZSTD
  ZSTD_DStream *zstd;
#endif
};

const char *strata_compression_name(enum strata_compression c) {
  switch (c) {
  case STRATA_COMPRESSION_GZIP:
    return "gzip";
  case STRATA_COMPRESSION_ZSTD:
    return "zstd";
  default:
    return "none";
  }
}

/* Refill the input buffer, keeping unread bytes; returns -1 on error. */
static int fill(struct strata_decompressor *d, struct strata_error **err) {
  ssize_t r;
  if (d->in_eof)
    return 0;
  if (d->in_pos > 0) {
    memmove(d->in, d->in + d->in_pos, d->in_len - d->in_pos);
    d->in_len -= d->in_pos;
    d->in_pos = 0;
  }
  while (d->in_len < IN_SIZE) {
    r = d->read(d->read_arg, d->in + d->in_len, IN_SIZE - d->in_len, err);
    if (r < 0)
      return -1;
    if (r == 0) {
      d->in_eof = true;
      break;
    }
    d->in_len += (size_t)r;
    if (d->in_len >= IN_SIZE / 2)
      break;
  }
  return 0;
}

static void gzip_reset(struct strata_decompressor *d) {
#ifdef HAVE_ISAL
  isal_inflate_init(&d->isal);
  d->isal.crc_flag = ISAL_GZIP;
#else
  inflateReset(&d->z);
#endif
}

static ssize_t read_fd(void *arg, void *buf, size_t len, struct strata_error **err) {
  int fd = (int)(intptr_t)arg;
  for (;;) {
    ssize_t r = read(fd, buf, len);
    if (r >= 0)
      return r;
    if (errno != EINTR)
      return strata_error_set(err, errno, "cannot read layer");
  }
}

int strata_decompressor_new(int fd, struct strata_decompressor **out, struct strata_error **err) {
  return strata_decompressor_new_reader(read_fd, (void *)(intptr_t)fd, out, err);
}

int strata_decompressor_new_reader(strata_read_fn read, void *arg, struct strata_decompressor **out,
                                   struct strata_error **err) {
  struct strata_decompressor *d = calloc(1, sizeof(*d));
  if (d == NULL || (d->in = malloc(IN_SIZE)) == NULL) {
    free(d);
    return strata_error_set(err, ENOMEM, "cannot decompress layer");
  }
  d->read = read;
  d->read_arg = arg;
  if (fill(d, err) < 0) {
    strata_decompressor_free(d);
    return -1;
  }
  if (d->in_len >= 2 && d->in[0] == 0x1f && d->in[1] == 0x8b) {
    d->format = STRATA_COMPRESSION_GZIP;
#ifdef HAVE_ISAL
    isal_inflate_init(&d->isal);
    d->isal.crc_flag = ISAL_GZIP;
#else
    if (inflateInit2(&d->z, 16 + MAX_WBITS) != Z_OK) {
      strata_decompressor_free(d);
      return strata_error_set(err, ENOMEM, "cannot start gzip decompression");
    }
#endif
  } else if (d->in_len >= 4 && d->in[0] == 0x28 && d->in[1] == 0xb5 && d->in[2] == 0x2f &&
             d->in[3] == 0xfd) {
    d->format = STRATA_COMPRESSION_ZSTD;
#ifdef HAVE_ZSTD
    d->zstd = ZSTD_createDStream();
    if (d->zstd == NULL || ZSTD_isError(ZSTD_initDStream(d->zstd))) {
      strata_decompressor_free(d);
      return strata_error_set(err, ENOMEM, "cannot start zstd decompression");
    }
#else
    strata_decompressor_free(d);
    return strata_error_set(err, 0, "zstd layer, but strata was built without libzstd");
#endif
  } else {
    d->format = STRATA_COMPRESSION_NONE;
  }
  *out = d;
  return 0;
}

void strata_decompressor_free(struct strata_decompressor *d) {
  if (d == NULL)
    return;
#ifndef HAVE_ISAL
  if (d->format == STRATA_COMPRESSION_GZIP)
    inflateEnd(&d->z);
#endif
#ifdef HAVE_ZSTD
  if (d->zstd)
    ZSTD_freeDStream(d->zstd);
#endif
  free(d->in);
  free(d);
}

enum strata_compression strata_decompressor_format(const struct strata_decompressor *d) {
  return d->format;
}

static ssize_t read_plain(struct strata_decompressor *d, void *buf, size_t len,
                          struct strata_error **err) {
  size_t n;
  if (d->in_pos == d->in_len) {
    if (d->in_eof)
      return 0;
    if (fill(d, err) < 0)
      return -1;
    if (d->in_len == 0)
      return 0;
  }
  n = d->in_len - d->in_pos;
  if (n > len)
    n = len;
  memcpy(buf, d->in + d->in_pos, n);
  d->in_pos += n;
  return (ssize_t)n;
}

/* One step of gzip inflation; handles concatenated members (RFC 1952 allows
 * them) and stops cleanly at the end of the last one. */
static ssize_t read_gzip(struct strata_decompressor *d, void *buf, size_t len,
                         struct strata_error **err) {
  for (;;) {
    size_t produced;
    if (d->in_pos == d->in_len || (d->in_len - d->in_pos < 64 && !d->in_eof)) {
      if (fill(d, err) < 0)
        return -1;
    }
    if (d->stream_end) {
      /* skip zero padding some writers leave after the member */
      while (d->in_pos < d->in_len && d->in[d->in_pos] == 0)
        d->in_pos++;
      if (d->in_pos == d->in_len) {
        if (d->in_eof)
          return 0;
        continue;
      }
      gzip_reset(d);
      d->stream_end = false;
    }
    if (d->in_pos == d->in_len && d->in_eof)
      return strata_error_set(err, 0, "truncated gzip stream");
#ifdef HAVE_ISAL
    d->isal.next_in = d->in + d->in_pos;
    d->isal.avail_in = (uint32_t)(d->in_len - d->in_pos);
    d->isal.next_out = buf;
    d->isal.avail_out = (uint32_t)len;
    if (isal_inflate(&d->isal) != ISAL_DECOMP_OK)
      return strata_error_set(err, 0, "corrupt gzip stream");
    d->in_pos = d->in_len - d->isal.avail_in;
    produced = len - d->isal.avail_out;
    if (d->isal.block_state == ISAL_BLOCK_FINISH)
      d->stream_end = true;
#else
    int r;
    d->z.next_in = d->in + d->in_pos;
    d->z.avail_in = (uInt)(d->in_len - d->in_pos);
    d->z.next_out = buf;
    d->z.avail_out = (uInt)len;
    r = inflate(&d->z, Z_NO_FLUSH);
    if (r != Z_OK && r != Z_STREAM_END && r != Z_BUF_ERROR)
      return strata_error_set(err, 0, "corrupt gzip stream: %s", d->z.msg ? d->z.msg : "error");
    d->in_pos = d->in_len - d->z.avail_in;
    produced = len - d->z.avail_out;
    if (r == Z_STREAM_END)
      d->stream_end = true;
    else if (r == Z_BUF_ERROR && produced == 0 && d->in_eof && d->z.avail_in == 0)
      return strata_error_set(err, 0, "truncated gzip stream");
#endif
    if (produced > 0)
      return (ssize_t)produced;
    if (!d->stream_end && d->in_eof && d->in_pos == d->in_len)
      return strata_error_set(err, 0, "truncated gzip stream");
  }
}

#ifdef HAVE_ZSTD
static ssize_t read_zstd(struct strata_decompressor *d, void *buf, size_t len,
                         struct strata_error **err) {
  for (;;) {
    ZSTD_inBuffer in;
    ZSTD_outBuffer out = {buf, len, 0};
    size_t r;
    if (d->in_pos == d->in_len && fill(d, err) < 0)
      return -1;
    if (d->in_pos == d->in_len && d->in_eof) {
      if (!d->stream_end)
        return strata_error_set(err, 0, "truncated zstd stream");
      return 0;
    }
    in = (ZSTD_inBuffer){d->in + d->in_pos, d->in_len - d->in_pos, 0};
    r = ZSTD_decompressStream(d->zstd, &out, &in);
    if (ZSTD_isError(r))
      return strata_error_set(err, 0, "corrupt zstd stream: %s", ZSTD_getErrorName(r));
    d->in_pos += in.pos;
    d->stream_end = (r == 0);
    if (out.pos > 0)
      return (ssize_t)out.pos;
  }
}
#endif

ssize_t strata_decompressor_read(struct strata_decompressor *d, void *buf, size_t len,
                                 struct strata_error **err) {
  switch (d->format) {
  case STRATA_COMPRESSION_GZIP:
    return read_gzip(d, buf, len, err);
#ifdef HAVE_ZSTD
  case STRATA_COMPRESSION_ZSTD:
    return read_zstd(d, buf, len, err);
#endif
  default:
    return read_plain(d, buf, len, err);
  }
}
