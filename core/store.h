/* The store: one directory (mode 0700) holding content-addressed blobs,
 * layer/image/container records as JSON, the name table, and each storage
 * driver's own area.  Every write is staged under tmp/ and published by an
 * atomic rename; a file lock keeps concurrent strata processes apart, and
 * whoever next takes the exclusive lock clears what a crashed one left.
 *
 *   ROOT/lock                 flock(2) target
 *   ROOT/store.json           {"storage-driver": NAME}: the driver that made the store
 *   ROOT/tmp/                 staging; emptied under the exclusive lock
 *   ROOT/downloads/HEX.partial  layer blobs being downloaded; an interrupted
 *                             pull leaves them for the next one to resume
 *   ROOT/blobs/sha256/HEX     manifests and configs, verified
 *   ROOT/layers/HEX.json      layer records, keyed by chain ID
 *   ROOT/images/HEX.json      image records, keyed by config digest (= image ID)
 *   ROOT/repositories.json    name -> image ID
 *   ROOT/containers/HEX.json  container records
 *   ROOT/storage/DRIVER/      the storage driver's area */
#ifndef STRATA_CORE_STORE_H
#define STRATA_CORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "error.h"

struct strata_store {
  char *root;
  int rootfd;
  int lockfd;
  int locked; /* 0, LOCK_SH or LOCK_EX */
  bool interrupted; /* the exclusive lock found leftovers of a command that died */
};

/* Creates ROOT and its folders if needed (0700) and opens it. */
int strata_store_open(const char *root, struct strata_store **out, struct strata_error **err);
void strata_store_close(struct strata_store *store);

/* Takes the store lock, waiting for other strata processes.  Taking it
 * exclusively also clears leftovers of interrupted commands under tmp/. */
int strata_store_lock(struct strata_store *store, bool exclusive, struct strata_error **err);
void strata_store_unlock(struct strata_store *store);
/* After fork(): gives this process a lock description of its own (flock
 * locks belong to the open file, which parent and child share), unlocked. */
int strata_store_reopen_lock(struct strata_store *store, struct strata_error **err);

/* Publishes DATA at RELPATH atomically (staged in tmp/, fsync, rename). */
int strata_store_write_file(struct strata_store *store, const char *relpath, const void *data,
                            size_t len, struct strata_error **err);
int strata_store_write_json(struct strata_store *store, const char *relpath, json_t *doc,
                            struct strata_error **err);
/* Reads RELPATH into *doc.  Returns 0, 1 if the file does not exist (with
 * *doc NULL), or negative on error. */
int strata_store_read_json(struct strata_store *store, const char *relpath, json_t **doc,
                           struct strata_error **err);
/* Removes RELPATH; a missing file is fine. */
int strata_store_remove(struct strata_store *store, const char *relpath, struct strata_error **err);

/* Creates a uniquely named file under tmp/; *name gets its path relative to
 * the store root (malloc'd).  Returns the fd. */
int strata_store_tmpfile(struct strata_store *store, char **name, struct strata_error **err);
/* A new unique directory under tmp/ (relative path in *name). */
int strata_store_tmpdir(struct strata_store *store, char **name, struct strata_error **err);

/* Blobs: "blobs/sha256/HEX".  put verifies DATA against DIGEST first. */
int strata_store_put_blob(struct strata_store *store, const char *digest, const void *data,
                          size_t len, struct strata_error **err);
int strata_store_get_blob(struct strata_store *store, const char *digest, char **data,
                          size_t *len, struct strata_error **err);
bool strata_store_has_blob(struct strata_store *store, const char *digest);

/* Lists the record names (hex IDs, without ".json") in DIR ("images",
 * "layers", "containers"); a NULL-terminated vector (strv_free). */
char **strata_store_list(struct strata_store *store, const char *dir, struct strata_error **err);

/* The storage driver the store was made with, or NULL for a new store. */
char *strata_store_driver(struct strata_store *store, struct strata_error **err);
int strata_store_set_driver(struct strata_store *store, const char *driver,
                            struct strata_error **err);

/* Reads at most MAX bytes of a file into a malloc'd buffer (NUL-terminated);
 * fails with EFBIG past MAX. */
int strata_read_fd(int fd, size_t max, char **data, size_t *len, struct strata_error **err);
int strata_read_file_at(int dirfd, const char *path, size_t max, char **data, size_t *len,
                        struct strata_error **err);

#endif
