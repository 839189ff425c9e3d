#include "config.h"
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "digest.h"
#include "json-cleanup.h"
#include "log.h"
#include "safe-path.h"

#define LOG_DOMAIN "store"
#define STORE_JSON_MAX (16u << 20)

static const char *const store_dirs[] = {"tmp",        "blobs",   "blobs/sha256", "layers",
                                         "images",     "containers", "storage",   "downloads",
                                         NULL};

int strata_store_open(const char *root, struct strata_store **out, struct strata_error **err) {
  struct strata_store *s;
  cleanup_close int rootfd = -1;
  cleanup_close int lockfd = -1;
  cleanup_free char *copy = NULL;

  if (root == NULL || *root != '/')
    return strata_error_set(err, 0, "store root must be an absolute path, not '%s'",
                            root ? root : "");
  /* create the root and its parents; only the root itself is made private */
  copy = strdup(root);
  if (copy == NULL)
    return strata_error_set(err, ENOMEM, "cannot open store");
  for (char *p = copy + 1; *p; p++) {
    if (*p == '/') {
      *p = '\0';
      if (mkdir(copy, 0755) < 0 && errno != EEXIST)
        return strata_error_set(err, errno, "cannot create '%s'", copy);
      *p = '/';
    }
  }
  if (mkdir(root, 0700) < 0 && errno != EEXIST)
    return strata_error_set(err, errno, "cannot create store '%s'", root);
  rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0)
    return strata_error_set(err, errno, "cannot open store '%s'", root);
  if (fchmod(rootfd, 0700) < 0)
    return strata_error_set(err, errno, "cannot make store '%s' private", root);
  for (const char *const *d = store_dirs; *d; d++) {
    if (mkdirat(rootfd, *d, 0700) < 0 && errno != EEXIST)
      return strata_error_set(err, errno, "cannot create '%s/%s'", root, *d);
  }
  lockfd = openat(rootfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (lockfd < 0)
    return strata_error_set(err, errno, "cannot open '%s/lock'", root);
  s = calloc(1, sizeof(*s));
  if (s == NULL || (s->root = strdup(root)) == NULL) {
    free(s);
    return strata_error_set(err, ENOMEM, "cannot open store");
  }
  s->rootfd = steal_fd(rootfd);
  s->lockfd = steal_fd(lockfd);
  *out = s;
  return 0;
}

void strata_store_close(struct strata_store *store) {
  if (store == NULL)
    return;
  strata_store_unlock(store);
  close(store->lockfd);
  close(store->rootfd);
  free(store->root);
  free(store);
}

static bool dir_is_empty(int fd) {
  int dup = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC); /* own offset */
  DIR *d = dup >= 0 ? fdopendir(dup) : NULL;
  struct dirent *de;
  bool empty = true;
  if (d == NULL) {
    if (dup >= 0)
      close(dup);
    return true;
  }
  while (empty && (de = readdir(d)) != NULL)
    empty = strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0;
  closedir(d);
  return empty;
}

/* Partial downloads nobody resumed within a day are dropped. */
static void drop_stale_downloads(struct strata_store *store) {
  int fd = openat(store->rootfd, "downloads", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
  struct dirent *de;
  time_t now = time(NULL);

  if (d == NULL) {
    if (fd >= 0)
      close(fd);
    return;
  }
  while ((de = readdir(d)) != NULL) {
    struct stat st;
    if (de->d_name[0] == '.' || fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
      continue;
    if (S_ISREG(st.st_mode) && now - st.st_mtime > 24 * 3600)
      unlinkat(fd, de->d_name, 0);
  }
  closedir(d);
}

int strata_store_lock(struct strata_store *store, bool exclusive, struct strata_error **err) {
  int mode = exclusive ? LOCK_EX : LOCK_SH;
  if (store->locked == mode)
    return 0;
  while (flock(store->lockfd, mode) < 0) {
    if (errno != EINTR)
      return strata_error_set(err, errno, "cannot lock store '%s'", store->root);
  }
  store->locked = mode;
  if (exclusive) {
    /* nobody else holds the lock, so whatever is in tmp/ belongs to a
     * command that died: clear it */
    cleanup_close int tmpfd = openat(store->rootfd, "tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    cleanup_error struct strata_error *e = NULL;
    if (tmpfd >= 0 && !dir_is_empty(tmpfd))
      store->interrupted = true;
    if (tmpfd >= 0 && strata_empty_dir_at(tmpfd, &e) < 0)
      log_warning("cannot clear '%s/tmp': %s", store->root, e->msg);
    drop_stale_downloads(store);
  }
  return 0;
}

void strata_store_unlock(struct strata_store *store) {
  if (store->locked) {
    flock(store->lockfd, LOCK_UN);
    store->locked = 0;
  }
}

int strata_store_reopen_lock(struct strata_store *store, struct strata_error **err) {
  int fd = openat(store->rootfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    return strata_error_set(err, errno, "cannot open '%s/lock'", store->root);
  if (dup3(fd, store->lockfd, O_CLOEXEC) < 0) {
    int e = errno;
    close(fd);
    return strata_error_set(err, e, "cannot open '%s/lock'", store->root);
  }
  close(fd);
  store->locked = 0;
  return 0;
}

static int random_name(char *buf, size_t len, const char *prefix) {
  unsigned char r[8];
  if (getrandom(r, sizeof(r), 0) != sizeof(r))
    return -1;
  snprintf(buf, len, "%s%02x%02x%02x%02x%02x%02x%02x%02x", prefix, r[0], r[1], r[2], r[3], r[4],
           r[5], r[6], r[7]);
  return 0;
}

int strata_store_tmpfile(struct strata_store *store, char **name, struct strata_error **err) {
  char buf[64];
  for (int tries = 0; tries < 16; tries++) {
    int fd;
    if (random_name(buf, sizeof(buf), "tmp/f-") < 0)
      return strata_error_set(err, errno, "cannot make a temporary name");
    fd = openat(store->rootfd, buf, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd >= 0) {
      *name = strdup(buf);
      if (*name == NULL) {
        close(fd);
        unlinkat(store->rootfd, buf, 0);
        return strata_error_set(err, ENOMEM, "cannot make a temporary file");
      }
      return fd;
    }
    if (errno != EEXIST)
      return strata_error_set(err, errno, "cannot create '%s/%s'", store->root, buf);
  }
  return strata_error_set(err, EEXIST, "cannot create a temporary file in '%s/tmp'", store->root);
}

int strata_store_tmpdir(struct strata_store *store, char **name, struct strata_error **err) {
  char buf[64];
  for (int tries = 0; tries < 16; tries++) {
    if (random_name(buf, sizeof(buf), "tmp/d-") < 0)
      return strata_error_set(err, errno, "cannot make a temporary name");
    if (mkdirat(store->rootfd, buf, 0700) == 0) {
      *name = strdup(buf);
      return *name ? 0 : strata_error_set(err, ENOMEM, "cannot make a temporary directory");
    }
    if (errno != EEXIST)
      return strata_error_set(err, errno, "cannot create '%s/%s'", store->root, buf);
  }
  return strata_error_set(err, EEXIST, "cannot create a temporary directory in '%s/tmp'",
                          store->root);
}

static int fsync_parent(struct strata_store *store, const char *relpath) {
  cleanup_free char *dir = strdup(relpath);
  char *slash;
  cleanup_close int fd = -1;
  if (dir == NULL)
    return -1;
  slash = strrchr(dir, '/');
  if (slash == NULL)
    return fsync(store->rootfd);
  *slash = '\0';
  fd = openat(store->rootfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  return fd < 0 ? -1 : fsync(fd);
}

int strata_store_write_file(struct strata_store *store, const char *relpath, const void *data,
                            size_t len, struct strata_error **err) {
  cleanup_free char *tmp = NULL;
  cleanup_close int fd = strata_store_tmpfile(store, &tmp, err);

  if (fd < 0)
    return -1;
  if (strata_write_all(fd, data, len) < 0 || fsync(fd) < 0) {
    int e = errno;
    unlinkat(store->rootfd, tmp, 0);
    return strata_error_set(err, e, "cannot write '%s/%s'", store->root, relpath);
  }
  if (renameat(store->rootfd, tmp, store->rootfd, relpath) < 0) {
    int e = errno;
    unlinkat(store->rootfd, tmp, 0);
    return strata_error_set(err, e, "cannot publish '%s/%s'", store->root, relpath);
  }
  fsync_parent(store, relpath);
  return 0;
}

int strata_store_write_json(struct strata_store *store, const char *relpath, json_t *doc,
                            struct strata_error **err) {
  cleanup_free char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
  if (text == NULL)
    return strata_error_set(err, ENOMEM, "cannot serialise '%s'", relpath);
  return strata_store_write_file(store, relpath, text, strlen(text), err);
}

int strata_read_fd(int fd, size_t max, char **data, size_t *len, struct strata_error **err) {
  struct stat st;
  cleanup_free char *buf = NULL;
  size_t have = 0;

  if (fstat(fd, &st) < 0)
    return strata_error_set(err, errno, "cannot stat file");
  if (!S_ISREG(st.st_mode))
    return strata_error_set(err, EINVAL, "not a regular file");
  if ((size_t)st.st_size > max)
    return strata_error_set(err, EFBIG, "file too large (%lld bytes, at most %zu)",
                            (long long)st.st_size, max);
  buf = malloc((size_t)st.st_size + 1);
  if (buf == NULL)
    return strata_error_set(err, ENOMEM, "cannot read file");
  while (have < (size_t)st.st_size) {
    ssize_t r = read(fd, buf + have, (size_t)st.st_size - have);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0)
      return strata_error_set(err, errno, "cannot read file");
    if (r == 0)
      break;
    have += (size_t)r;
  }
  buf[have] = '\0';
  *data = steal_ptr(buf);
  if (len)
    *len = have;
  return 0;
}

int strata_read_file_at(int dirfd, const char *path, size_t max, char **data, size_t *len,
                        struct strata_error **err) {
  cleanup_close int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return strata_error_set(err, errno, "cannot open '%s'", path);
  if (strata_read_fd(fd, max, data, len, err) < 0)
    return strata_error_wrap(err, "cannot read '%s'", path);
  return 0;
}

int strata_store_read_json(struct strata_store *store, const char *relpath, json_t **doc,
                           struct strata_error **err) {
  cleanup_free char *text = NULL;
  size_t len = 0;
  json_error_t jerr;
  cleanup_error struct strata_error *e = NULL;

  *doc = NULL;
  if (strata_read_file_at(store->rootfd, relpath, STORE_JSON_MAX, &text, &len, &e) < 0) {
    if (e->errnum == ENOENT)
      return 1;
    *err = steal_ptr(e);
    return strata_error_wrap(err, "store '%s'", store->root);
  }
  *doc = json_loadb(text, len, 0, &jerr);
  if (*doc == NULL)
    return strata_error_set(err, 0, "corrupt store record '%s/%s': %s", store->root, relpath,
                            jerr.text);
  return 0;
}

int strata_store_remove(struct strata_store *store, const char *relpath, struct strata_error **err) {
  if (unlinkat(store->rootfd, relpath, 0) < 0 && errno != ENOENT)
    return strata_error_set(err, errno, "cannot remove '%s/%s'", store->root, relpath);
  return 0;
}

static int blob_path(const char *digest, char *buf, size_t len, struct strata_error **err) {
  if (!strata_digest_valid(digest))
    return strata_error_set(err, 0, "invalid digest '%s'", digest);
  snprintf(buf, len, "blobs/sha256/%s", strata_digest_hex(digest));
  return 0;
}

int strata_store_put_blob(struct strata_store *store, const char *digest, const void *data,
                          size_t len, struct strata_error **err) {
  char path[128], actual[STRATA_DIGEST_STR_LEN + 1];
  if (blob_path(digest, path, sizeof(path), err) < 0)
    return -1;
  strata_digest_buffer(data, len, actual);
  if (strcmp(actual, digest) != 0)
    return strata_error_set(err, 0, "digest mismatch for blob %s: content hashes to %s", digest,
                            actual);
  if (faccessat(store->rootfd, path, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
    return 0;
  return strata_store_write_file(store, path, data, len, err);
}

int strata_store_get_blob(struct strata_store *store, const char *digest, char **data,
                          size_t *len, struct strata_error **err) {
  char path[128];
  if (blob_path(digest, path, sizeof(path), err) < 0)
    return -1;
  return strata_read_file_at(store->rootfd, path, STORE_JSON_MAX, data, len, err);
}

bool strata_store_has_blob(struct strata_store *store, const char *digest) {
  char path[128];
  if (blob_path(digest, path, sizeof(path), NULL) < 0)
    return false;
  return faccessat(store->rootfd, path, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

char **strata_store_list(struct strata_store *store, const char *dir, struct strata_error **err) {
  cleanup_close int fd = openat(store->rootfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  cleanup_dir DIR *d = NULL;
  struct dirent *de;
  char **v = calloc(1, sizeof(char *));
  size_t n = 0;

  if (v == NULL) {
    strata_error_set(err, ENOMEM, "cannot list '%s'", dir);
    return NULL;
  }
  if (fd < 0) {
    strv_free(v);
    strata_error_set(err, errno, "cannot open '%s/%s'", store->root, dir);
    return NULL;
  }
  d = fdopendir(fd);
  if (d == NULL) {
    strv_free(v);
    strata_error_set(err, errno, "cannot list '%s/%s'", store->root, dir);
    return NULL;
  }
  fd = -1; /* owned by d now */
  while ((de = readdir(d)) != NULL) {
    size_t l = strlen(de->d_name);
    char **nv;
    if (l <= 5 || strcmp(de->d_name + l - 5, ".json") != 0)
      continue;
    nv = realloc(v, (n + 2) * sizeof(char *));
    if (nv == NULL)
      break;
    v = nv;
    v[n] = strndup(de->d_name, l - 5);
    v[++n] = NULL;
  }
  return v;
}

char *strata_store_driver(struct strata_store *store, struct strata_error **err) {
  cleanup_json json_t *doc = NULL;
  json_t *v;
  int r = strata_store_read_json(store, "store.json", &doc, err);
  if (r != 0)
    return NULL;
  v = json_object_get(doc, "storage-driver");
  return json_is_string(v) ? strdup(json_string_value(v)) : NULL;
}

int strata_store_set_driver(struct strata_store *store, const char *driver,
                            struct strata_error **err) {
  cleanup_json json_t *doc = json_pack("{s:s, s:i}", "storage-driver", driver, "version", 1);
  if (doc == NULL)
    return strata_error_set(err, ENOMEM, "cannot record the storage driver");
  return strata_store_write_json(store, "store.json", doc, err);
}
