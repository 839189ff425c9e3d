#include "config.h"
#include "pull-layers.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "digest.h"
#include "json-cleanup.h"
#include "layer-store.h"
#include "log.h"

#define LOG_DOMAIN "pull"
#define RESUME_CHUNK (256 * 1024)

enum job_state { JOB_QUEUED, JOB_RUNNING, JOB_DONE, JOB_FAILED };
/* a layer's writing: taken by an extraction thread, then staged (written,
 * waiting to be published in order) or failed */
enum extract_state { EXTRACT_QUEUED, EXTRACT_RUNNING, EXTRACT_STAGED, EXTRACT_FAILED };

struct pipeline;

struct job {
  struct pipeline *pl;
  struct strata_pull_layer *layer;
  char shortid[13];
  char partial[128]; /* downloads/HEX.partial, relative to the store */
  int fd;
  /* under pl->lock */
  uint64_t avail; /* bytes of the blob in the file, from its start */
  enum job_state state;
  struct strata_error *err;
  bool keep; /* the network cut the transfer: the bytes are worth resuming */
  /* the downloading thread's own */
  struct strata_hasher *hash;
  uint64_t written;
  bool sink_failed; /* the bytes themselves were wrong (too many) */
  /* the extraction's own (its read-ahead thread reads the blob) */
  uint64_t consumed;
  bool cancelled; /* under pl->lock: the extraction gave up on the blob */
  struct strata_layer_import li;
  /* under pl->lock */
  enum extract_state extract;
  struct strata_layer_staged *staged; /* EXTRACT_STAGED: not yet published */
  struct strata_error *extract_err;   /* EXTRACT_FAILED */
};

struct pipeline {
  const struct strata_pull_layers_options *o;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  struct job *jobs;
  size_t njobs;
  size_t next;        /* the next job a download thread takes */
  bool abort;         /* something failed: every thread stops */
  struct job *failed; /* the download that failed first */
  /* the extraction threads' */
  bool detach;             /* the driver stages a layer before its parent is published */
  size_t next_extract;     /* the next job an extraction thread takes */
  size_t published;        /* jobs [0, published) are in the store */
  struct job *failed_extract; /* the extraction that failed first, for a cause of its own */
};

struct worker {
  struct pipeline *pl;
  void *session;
  bool own_session; /* a clone, closed by us */
  pthread_t thread;
  bool started;
};

static void abort_all(struct pipeline *pl) {
  pthread_mutex_lock(&pl->lock);
  pl->abort = true;
  pthread_cond_broadcast(&pl->cond);
  pthread_mutex_unlock(&pl->lock);
}

static int sink_write(void *arg, const void *buf, size_t len, struct strata_error **err) {
  struct job *j = arg;
  struct pipeline *pl = j->pl;
  uint64_t limit = (uint64_t)j->layer->desc->size;
  bool stop;

  if (j->written + len > limit) {
    j->sink_failed = true;
    return strata_error_set(err, 0, "blob %s is larger than its descriptor's %llu bytes",
                            j->layer->desc->digest, (unsigned long long)limit);
  }
  strata_hasher_update(j->hash, buf, len);
  for (const char *p = buf; len > 0;) {
    ssize_t w = pwrite(j->fd, p, len, (off_t)j->written);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return strata_error_set(err, w < 0 ? errno : EIO, "cannot write '%s'", j->partial);
    p += w;
    len -= (size_t)w;
    j->written += (uint64_t)w;
  }
  pthread_mutex_lock(&pl->lock);
  j->avail = j->written;
  stop = pl->abort;
  pthread_cond_broadcast(&pl->cond);
  pthread_mutex_unlock(&pl->lock);
  if (stop)
    return strata_error_set(err, ECANCELED, "download of %s stopped", j->shortid);
  strata_progress_layer(pl->o->progress, j->shortid, "Downloading", j->written, limit);
  return 0;
}

/* What an interrupted pull left in the file is hashed again, so that only
 * the rest is asked for (a Range request from there). */
static int resume(struct job *j, struct strata_error **err) {
  uint64_t limit = (uint64_t)j->layer->desc->size;
  cleanup_free char *buf = NULL;
  struct stat st;

  if (fstat(j->fd, &st) < 0)
    return strata_error_set(err, errno, "cannot read '%s'", j->partial);
  if ((uint64_t)st.st_size > limit) {
    if (ftruncate(j->fd, 0) < 0)
      return strata_error_set(err, errno, "cannot reset '%s'", j->partial);
    return 0;
  }
  if (st.st_size == 0)
    return 0;
  buf = malloc(RESUME_CHUNK);
  if (buf == NULL)
    return strata_error_set(err, ENOMEM, "cannot resume %s", j->shortid);
  while (j->written < (uint64_t)st.st_size) {
    ssize_t n = pread(j->fd, buf, RESUME_CHUNK, (off_t)j->written);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return strata_error_set(err, errno, "cannot read '%s'", j->partial);
    if (n == 0)
      break;
    strata_hasher_update(j->hash, buf, (size_t)n);
    j->written += (uint64_t)n;
  }
  log_info("blob %s: resuming after %llu bytes", j->layer->desc->digest,
           (unsigned long long)j->written);
  return 0;
}

/* Fetches one blob into its file, checking size and digest; the job ends
 * DONE (the extraction may read to the end) or FAILED. */
static void download(struct job *j, void *session) {
  struct pipeline *pl = j->pl;
  const struct strata_descriptor *d = j->layer->desc;
  struct strata_blob_sink sink = {.write = sink_write, .arg = j};
  struct strata_error *err = NULL;
  char actual[STRATA_DIGEST_STR_LEN + 1];
  int r = -1;

  j->hash = strata_hasher_new();
  if (j->hash == NULL) {
    strata_error_set(&err, ENOMEM, "cannot fetch blob %s", d->digest);
    goto out;
  }
  if (resume(j, &err) < 0)
    goto out;
  pthread_mutex_lock(&pl->lock);
  j->avail = j->written;
  pthread_cond_broadcast(&pl->cond);
  pthread_mutex_unlock(&pl->lock);
  strata_progress_layer(pl->o->progress, j->shortid, "Downloading", j->written, (uint64_t)d->size);
  if (j->written < (uint64_t)d->size &&
      pl->o->ops->get_blob(session, d->digest, j->written, &sink, &err) < 0) {
    strata_error_wrap(&err, "cannot fetch blob %s", d->digest);
    /* bytes that came and were right, cut off by the network: worth
     * resuming on the next pull (never ones we stopped, or wrong ones) */
    j->keep = !j->sink_failed && err->errnum != ECANCELED && j->written > 0;
    goto out;
  }
  strata_progress_layer(pl->o->progress, j->shortid, "Verifying Checksum", 0, 0);
  strata_hasher_final(j->hash, actual);
  if (j->written != (uint64_t)d->size) {
    strata_error_set(&err, 0, "blob %s: size mismatch (got %llu bytes, expected %lld)", d->digest,
                     (unsigned long long)j->written, (long long)d->size);
    goto out;
  }
  if (strcmp(actual, d->digest) != 0) {
    strata_error_set(&err, 0, "blob %s: digest mismatch (content hashes to %s)", d->digest, actual);
    goto out;
  }
  strata_progress_layer(pl->o->progress, j->shortid, "Download complete", 0, 0);
  r = 0;
out:
  strata_hasher_free(j->hash);
  j->hash = NULL;
  pthread_mutex_lock(&pl->lock);
  if (r == 0) {
    j->state = JOB_DONE;
  } else {
    j->state = JOB_FAILED;
    j->err = err;
    /* the first failure is the one to tell; one we caused is not */
    if (pl->failed == NULL && !(err && err->errnum == ECANCELED))
      pl->failed = j;
    pl->abort = true;
  }
  pthread_cond_broadcast(&pl->cond);
  pthread_mutex_unlock(&pl->lock);
}

static void *worker_main(void *arg) {
  struct worker *w = arg;
  struct pipeline *pl = w->pl;

  pthread_mutex_lock(&pl->lock);
  while (!pl->abort && pl->next < pl->njobs) {
    struct job *j = &pl->jobs[pl->next++];
    j->state = JOB_RUNNING;
    pthread_mutex_unlock(&pl->lock);
    download(j, w->session);
    pthread_mutex_lock(&pl->lock);
  }
  pthread_mutex_unlock(&pl->lock);
  return NULL;
}

/* The layer engine's source: the blob's file, read right behind its
 * download; the end comes only once the download is verified. */
static ssize_t job_read(void *arg, void *buf, size_t len, struct strata_error **err) {
  struct job *j = arg;
  struct pipeline *pl = j->pl;
  uint64_t avail;
  bool downloaded;
  ssize_t n;

  pthread_mutex_lock(&pl->lock);
  while (j->consumed == j->avail && (j->state == JOB_QUEUED || j->state == JOB_RUNNING) &&
         !pl->abort && !j->cancelled)
    pthread_cond_wait(&pl->cond, &pl->lock);
  if (j->cancelled) {
    pthread_mutex_unlock(&pl->lock);
    return strata_error_set(err, ECANCELED, "layer %s: extraction stopped", j->shortid);
  }
  avail = j->avail;
  downloaded = j->state == JOB_DONE;
  if (j->state == JOB_FAILED) {
    strata_error_set(err, 0, "%s", j->err ? j->err->msg : "download failed");
    pthread_mutex_unlock(&pl->lock);
    return -1;
  }
  if (pl->abort) {
    pthread_mutex_unlock(&pl->lock);
    return strata_error_set(err, ECANCELED, "layer %s: pull stopped", j->shortid);
  }
  pthread_mutex_unlock(&pl->lock);
  if (j->consumed == avail) {
    /* JOB_DONE: all of it, verified (an extraction that kept pace with the
     * download still says so, as every layer does before Pull complete) */
    strata_progress_layer(pl->o->progress, j->shortid, "Extracting", j->consumed,
                          (uint64_t)j->layer->desc->size);
    return 0;
  }
  if (len > avail - j->consumed)
    len = (size_t)(avail - j->consumed);
  do
    n = pread(j->fd, buf, len, (off_t)j->consumed);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return strata_error_set(err, errno, "cannot read '%s'", j->partial);
  if (n == 0)
    return strata_error_set(err, EIO, "'%s' is shorter than what was written to it", j->partial);
  j->consumed += (uint64_t)n;
  /* one line per layer, as Docker has it: its download's until that is
   * complete, then the extraction's (which has been running behind it) */
  if (downloaded)
    strata_progress_layer(pl->o->progress, j->shortid, "Extracting", j->consumed,
                          (uint64_t)j->layer->desc->size);
  return n;
}

static void job_cancel(void *arg) {
  struct job *j = arg;
  pthread_mutex_lock(&j->pl->lock);
  j->cancelled = true;
  pthread_cond_broadcast(&j->pl->cond);
  pthread_mutex_unlock(&j->pl->lock);
}

/* The layer is written again from the blob's start (the file keeps it all
 * until the pull ends). */
static int job_rewind(void *arg, struct strata_error **err) {
  struct job *j = arg;
  (void)err;
  pthread_mutex_lock(&j->pl->lock);
  j->consumed = 0;
  j->cancelled = false;
  pthread_mutex_unlock(&j->pl->lock);
  return 0;
}

/* An extraction thread: takes the lowest layer nobody writes yet and
 * writes it into a stage of its own, streaming behind its download.  With
 * a driver that can, a layer whose parent is one of this pull's goes into
 * a detached stage, so independent layers extract at once; otherwise it
 * waits for the parent to be published.  The main thread publishes in
 * order. */
static void *extract_main(void *arg) {
  struct pipeline *pl = arg;

  pthread_mutex_lock(&pl->lock);
  while (!pl->abort && pl->next_extract < pl->njobs) {
    size_t k = pl->next_extract++;
    struct job *j = &pl->jobs[k];
    struct strata_layer_staged *staged = NULL;
    struct strata_error *e = NULL;
    bool detached;
    int r;

    /* job k's parent is job k - 1: what exists already is a prefix */
    while (!pl->detach && !pl->abort && pl->published < k)
      pthread_cond_wait(&pl->cond, &pl->lock);
    if (pl->abort) {
      j->extract = EXTRACT_FAILED;
      strata_error_set(&j->extract_err, ECANCELED, "layer %s: pull stopped", j->shortid);
      break;
    }
    /* always so for a layer on one of this pull's (not only when the
     * parent is still being written): a pull does the same whatever the
     * timing, and costs the same */
    detached = k > 0;
    j->extract = EXTRACT_RUNNING;
    pthread_mutex_unlock(&pl->lock);
    r = strata_layer_import_begin(pl->o->ctx, -1, &j->li, detached, &staged, &e);
    pthread_mutex_lock(&pl->lock);
    if (r < 0) {
      j->extract = EXTRACT_FAILED;
      j->extract_err = e;
      if (pl->failed_extract == NULL && !(e && e->errnum == ECANCELED))
        pl->failed_extract = j;
      pl->abort = true;
    } else {
      j->extract = EXTRACT_STAGED;
      j->staged = staged;
    }
    pthread_cond_broadcast(&pl->cond);
  }
  pthread_cond_broadcast(&pl->cond);
  pthread_mutex_unlock(&pl->lock);
  return NULL;
}

/* Publishes job K once its extraction has staged it. */
static int publish(struct pipeline *pl, size_t k, struct strata_error **err) {
  struct job *j = &pl->jobs[k];
  struct strata_layer_staged *staged;

  pthread_mutex_lock(&pl->lock);
  while (j->extract == EXTRACT_RUNNING || (j->extract == EXTRACT_QUEUED && !pl->abort))
    pthread_cond_wait(&pl->cond, &pl->lock);
  if (j->extract != EXTRACT_STAGED) {
    if (j->extract_err != NULL)
      *err = steal_ptr(j->extract_err);
    else
      strata_error_set(err, ECANCELED, "layer %s: pull stopped", j->shortid);
    pthread_mutex_unlock(&pl->lock);
    return -1;
  }
  staged = steal_ptr(j->staged);
  pthread_mutex_unlock(&pl->lock);
  if (strata_layer_import_finish(pl->o->ctx, staged, &j->layer->size, err) < 0)
    return -1;
  pthread_mutex_lock(&pl->lock);
  pl->published = k + 1;
  pthread_cond_broadcast(&pl->cond);
  pthread_mutex_unlock(&pl->lock);
  return 0;
}

/* How many layers are written at once: a few when the driver can stage a
 * layer before its parent is published (each has a thread inflating ahead
 * of it too), else one after the other. */
static size_t extract_threads(const struct pipeline *pl) {
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  size_t n = cpus >= 4 ? 4 : 2;
  if (!pl->detach)
    n = 1;
  return n < pl->njobs ? n : pl->njobs;
}

static int existing_size(struct strata_context *ctx, struct strata_pull_layer *l,
                         struct strata_error **err) {
  cleanup_json json_t *rec = NULL;
  if (strata_layer_load(ctx->store, l->chain_id, &rec, err) < 0)
    return -1;
  l->size = (uint64_t)json_integer_value(json_object_get(rec, "size"));
  return 0;
}

/* The sessions downloads run on: the pull's own, and clones of it. */
static size_t start_workers(struct pipeline *pl, struct worker *w, size_t want) {
  const struct strata_transport_ops *ops = pl->o->ops;
  size_t n = 0;

  for (size_t i = 0; i < want; i++) {
    w[i].pl = pl;
    if (i == 0) {
      w[i].session = pl->o->session;
    } else {
      struct strata_error *e = NULL;
      if (ops->version < 3 || ops->session_clone == NULL)
        break;
      if (ops->session_clone(pl->o->session, &w[i].session, &e) < 0) {
        log_warning("downloading with %zu connections only: %s", i, e ? e->msg : "?");
        strata_error_free(e);
        break;
      }
      w[i].own_session = true;
    }
    if (pthread_create(&w[i].thread, NULL, worker_main, &w[i]) != 0) {
      if (w[i].own_session)
        ops->close(w[i].session);
      w[i].own_session = false;
      break;
    }
    w[i].started = true;
    n++;
  }
  return n;
}

int strata_pull_layers(const struct strata_pull_layers_options *o, struct strata_pull_layer *layers,
                       size_t n, struct strata_error **err) {
  struct strata_store *store = o->ctx->store;
  struct pipeline pl = {.o = o};
  cleanup_free struct worker *workers = NULL;
  pthread_t extractors[4];
  size_t nextractors = 0;
  struct strata_error *xerr = NULL;
  size_t nworkers = 0, want;
  int ret = -1;

  pl.jobs = calloc(n ? n : 1, sizeof(struct job));
  if (pl.jobs == NULL) {
    free(pl.jobs);
    return strata_error_set(err, ENOMEM, "cannot pull");
  }
  pthread_mutex_init(&pl.lock, NULL);
  pthread_cond_init(&pl.cond, NULL);

  /* Docker's opening lines: what is there, what is to fetch */
  for (size_t i = 0; i < n; i++) {
    char shortid[13];
    snprintf(shortid, sizeof(shortid), "%s", strata_digest_hex(layers[i].desc->digest));
    if (strata_layer_exists(store, layers[i].chain_id)) {
      char stale[128];
      if (existing_size(o->ctx, &layers[i], &xerr) < 0)
        goto out;
      /* a killed pull may have fetched the blob of a layer it then
       * published: nothing will resume it */
      snprintf(stale, sizeof(stale), "downloads/%s.partial", strata_digest_hex(layers[i].desc->digest));
      unlinkat(store->rootfd, stale, 0);
      strata_progress_layer(o->progress, shortid, "Already exists", 0, 0);
      continue;
    }
    {
      struct job *j = &pl.jobs[pl.njobs++];
      j->pl = &pl;
      j->layer = &layers[i];
      j->fd = -1;
      j->li = (struct strata_layer_import){.chain_id = layers[i].chain_id,
                                           .parent_chain_id = layers[i].parent_chain_id,
                                           .diff_id = layers[i].diff_id,
                                           .blob_digest = layers[i].desc->digest,
                                           .blob_size = (uint64_t)layers[i].desc->size,
                                           .read = job_read,
                                           .read_arg = j,
                                           .cancel = job_cancel,
                                           .rewind = job_rewind};
      memcpy(j->shortid, shortid, sizeof(shortid));
      snprintf(j->partial, sizeof(j->partial), "downloads/%s.partial",
               strata_digest_hex(layers[i].desc->digest));
      /* the same blob twice in one image (identical layers): each download
       * gets a file of its own */
      for (size_t k = 0; k + 1 < pl.njobs; k++)
        if (strcmp(pl.jobs[k].layer->desc->digest, layers[i].desc->digest) == 0)
          snprintf(j->partial, sizeof(j->partial), "downloads/%s-%zu.partial",
                   strata_digest_hex(layers[i].desc->digest), i);
      strata_progress_layer(o->progress, shortid, "Pulling fs layer", 0, 0);
    }
  }
  for (size_t k = 0; k < pl.njobs; k++) {
    struct job *j = &pl.jobs[k];
    j->fd = openat(store->rootfd, j->partial, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (j->fd < 0) {
      strata_error_set(&xerr, errno, "cannot create '%s/%s'", store->root, j->partial);
      goto out;
    }
  }
  if (pl.njobs == 0) {
    ret = 0;
    goto out;
  }
  want = o->max_downloads < 1 ? 1 : o->max_downloads;
  if (want > pl.njobs)
    want = pl.njobs;
  workers = calloc(want, sizeof(*workers));
  if (workers == NULL) {
    strata_error_set(&xerr, ENOMEM, "cannot pull");
    goto out;
  }
  nworkers = start_workers(&pl, workers, want);
  if (nworkers == 0) {
    strata_error_set(&xerr, EAGAIN, "cannot start a download thread");
    goto out;
  }
  for (size_t k = nworkers; k < pl.njobs; k++)
    strata_progress_layer(o->progress, pl.jobs[k].shortid, "Waiting", 0, 0);

  {
    const struct strata_storage_ops *sops;
    void *sstate;
    if (strata_context_storage(o->ctx, &sops, &sstate, &xerr) < 0)
      goto out;
    pl.detach = (sops->caps & STRATA_STORAGE_CAP_DETACHED_STAGE) != 0;
  }
  want = extract_threads(&pl);
  for (; nextractors < want; nextractors++)
    if (pthread_create(&extractors[nextractors], NULL, extract_main, &pl) != 0)
      break;
  if (nextractors == 0) {
    strata_error_set(&xerr, EAGAIN, "cannot start an extraction thread");
    goto out;
  }
  /* layers are published in order, each on top of its parent */
  for (size_t k = 0; k < pl.njobs; k++) {
    if (publish(&pl, k, &xerr) < 0)
      goto out;
    strata_progress_layer(o->progress, pl.jobs[k].shortid, "Pull complete", 0, 0);
  }
  ret = 0;
out:
  if (ret < 0)
    abort_all(&pl);
  for (size_t i = 0; i < nextractors; i++)
    pthread_join(extractors[i], NULL);
  for (size_t i = 0; i < nworkers; i++) {
    if (workers[i].started)
      pthread_join(workers[i].thread, NULL);
    if (workers[i].own_session)
      o->ops->close(workers[i].session);
  }
  if (ret < 0) {
    /* the download that failed first says why, not the extraction it
     * starved or the downloads it stopped */
    if (pl.failed != NULL && pl.failed->err != NULL) {
      strata_error_free(xerr);
      xerr = steal_ptr(pl.failed->err);
    } else if (pl.failed_extract != NULL && pl.failed_extract->extract_err != NULL) {
      /* a later layer's bad tar, say, stopped the one published before */
      strata_error_free(xerr);
      xerr = steal_ptr(pl.failed_extract->extract_err);
    }
    if (err != NULL)
      *err = steal_ptr(xerr);
  }
  strata_error_free(xerr);
  for (size_t k = 0; k < pl.njobs; k++) {
    struct job *j = &pl.jobs[k];
    if (j->fd >= 0)
      close(j->fd);
    if (j->fd >= 0 && !(ret < 0 && j->keep))
      unlinkat(store->rootfd, j->partial, 0);
    else if (j->fd >= 0)
      log_info("keeping %llu bytes of %s for the next pull to resume",
               (unsigned long long)j->written, j->layer->desc->digest);
    strata_error_free(j->err);
    strata_error_free(j->extract_err);
    strata_layer_import_abort(j->staged);
  }
  free(pl.jobs);
  pthread_cond_destroy(&pl.cond);
  pthread_mutex_destroy(&pl.lock);
  return ret;
}
