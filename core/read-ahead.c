#include "config.h"
#include "read-ahead.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#define SLOTS 4
#define CHUNK (256 * 1024)

/* A ring of SLOTS chunks.  The filled ones are head .. head + count - 1;
 * the one before head is the reader's while it holds it (held); the
 * thread fills the slot after the filled ones, never the held one. */
struct strata_read_ahead {
  struct strata_decompressor *dec;
  struct strata_hasher *hash;
  char *buf[SLOTS];
  size_t len[SLOTS];
  pthread_t thread;
  bool threaded;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  size_t head, count;
  bool held;
  bool end;                 /* the thread read the end (or failed: err) */
  bool stop;                /* the reader gave up */
  struct strata_error *err; /* the stream's failure, until handed out */
  bool failed;              /* ... and after */
};

/* Fills slot I: its length, 0 at the end, -1 with ra->err. */
static ssize_t fill(struct strata_read_ahead *ra, size_t i, struct strata_error **err) {
  ssize_t n = strata_decompressor_read(ra->dec, ra->buf[i], CHUNK, err);
  if (n > 0)
    strata_hasher_update(ra->hash, ra->buf[i], (size_t)n);
  return n;
}

static void *run(void *arg) {
  struct strata_read_ahead *ra = arg;
  pthread_mutex_lock(&ra->lock);
  for (;;) {
    struct strata_error *e = NULL;
    size_t i;
    ssize_t n;
    while (!ra->stop && ra->count + (ra->held ? 1 : 0) == SLOTS)
      pthread_cond_wait(&ra->cond, &ra->lock);
    if (ra->stop)
      break;
    i = (ra->head + ra->count) % SLOTS;
    pthread_mutex_unlock(&ra->lock);
    n = fill(ra, i, &e);
    pthread_mutex_lock(&ra->lock);
    if (n <= 0) {
      ra->err = e;
      ra->end = true;
      pthread_cond_broadcast(&ra->cond);
      break;
    }
    ra->len[i] = (size_t)n;
    ra->count++;
    pthread_cond_broadcast(&ra->cond);
  }
  pthread_mutex_unlock(&ra->lock);
  return NULL;
}

int strata_read_ahead_new(struct strata_decompressor *dec, struct strata_hasher *hash,
                          struct strata_read_ahead **out, struct strata_error **err) {
  struct strata_read_ahead *ra = calloc(1, sizeof(*ra));
  if (ra == NULL)
    return strata_error_set(err, ENOMEM, "cannot read a layer");
  ra->dec = dec;
  ra->hash = hash;
  for (size_t i = 0; i < SLOTS; i++)
    if ((ra->buf[i] = malloc(CHUNK)) == NULL) {
      strata_read_ahead_free(ra);
      return strata_error_set(err, ENOMEM, "cannot read a layer");
    }
  pthread_mutex_init(&ra->lock, NULL);
  pthread_cond_init(&ra->cond, NULL);
  ra->threaded = pthread_create(&ra->thread, NULL, run, ra) == 0;
  *out = ra;
  return 0;
}

ssize_t strata_read_ahead_next(struct strata_read_ahead *ra, const void **buf,
                               struct strata_error **err) {
  ssize_t n;
  if (!ra->threaded) { /* one slot, read here */
    n = ra->end ? 0 : fill(ra, 0, err);
    if (n <= 0)
      ra->end = true;
    *buf = ra->buf[0];
    return n;
  }
  pthread_mutex_lock(&ra->lock);
  if (ra->held) { /* the chunk handed out last time is done with */
    ra->held = false;
    pthread_cond_broadcast(&ra->cond);
  }
  while (ra->count == 0 && !ra->end)
    pthread_cond_wait(&ra->cond, &ra->lock);
  if (ra->count == 0) {
    n = ra->err != NULL || ra->failed ? -1 : 0;
    if (ra->err != NULL) {
      if (err != NULL) {
        strata_error_free(*err);
        *err = ra->err;
      } else
        strata_error_free(ra->err);
      ra->err = NULL;
      ra->failed = true;
    } else if (ra->failed)
      strata_error_set(err, EIO, "the layer stream failed");
  } else {
    size_t i = ra->head;
    *buf = ra->buf[i];
    n = (ssize_t)ra->len[i];
    ra->head = (i + 1) % SLOTS;
    ra->count--;
    ra->held = true;
  }
  pthread_mutex_unlock(&ra->lock);
  return n;
}

void strata_read_ahead_free(struct strata_read_ahead *ra) {
  if (ra == NULL)
    return;
  if (ra->threaded) {
    pthread_mutex_lock(&ra->lock);
    ra->stop = true;
    pthread_cond_broadcast(&ra->cond);
    pthread_mutex_unlock(&ra->lock);
    pthread_join(ra->thread, NULL);
    pthread_cond_destroy(&ra->cond);
    pthread_mutex_destroy(&ra->lock);
  }
  strata_error_free(ra->err);
  for (size_t i = 0; i < SLOTS; i++)
    free(ra->buf[i]);
  free(ra);
}
