#include "config.h"
#include "layer-export.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "safe-path.h"

#define LOG_DOMAIN "layer-export"

#define WHITEOUT_PREFIX ".wh."
#define WHITEOUT_OPAQUE ".wh..wh..opq"
#define OVERLAY_OPAQUE_XATTR "trusted.overlay.opaque"
#define XATTR_LIST_MAX_BYTES (64 * 1024)

/* ------------------------------------------------------------------ change lists */

int strata_changes_add(struct strata_changes *c, const char *path, char kind, bool opaque,
                       bool covered) {
  if (c->n == c->cap) {
    size_t cap = c->cap ? c->cap * 2 : 64;
    struct strata_change *v = reallocarray(c->v, cap, sizeof(*v));
    if (v == NULL)
      return -1;
    c->v = v;
    c->cap = cap;
  }
  c->v[c->n].path = strdup(path);
  if (c->v[c->n].path == NULL)
    return -1;
  c->v[c->n].kind = kind;
  c->v[c->n].opaque = opaque;
  c->v[c->n].covered = covered;
  c->n++;
  return 0;
}

static int change_cmp(const void *a, const void *b) {
  const struct strata_change *x = a, *y = b;
  return strcmp(x->path, y->path);
}

void strata_changes_sort(struct strata_changes *c) {
  if (c->n > 1)
    qsort(c->v, c->n, sizeof(*c->v), change_cmp);
}

void strata_changes_free(struct strata_changes *c) {
  for (size_t i = 0; i < c->n; i++)
    free(c->v[i].path);
  free(c->v);
  c->v = NULL;
  c->n = c->cap = 0;
}

bool strata_path_within(const char *path, const char *dir) {
  size_t n = strlen(dir);
  if (n == 0)
    return *path != '\0';
  return strncmp(path, dir, n) == 0 && path[n] == '/';
}

/* ------------------------------------------------------------------ helpers */

static char *join(const char *dir, const char *name) {
  char *p = NULL;
  if (asprintf(&p, "%s%s%s", dir, *dir ? "/" : "", name) < 0)
    return NULL;
  return p;
}

static bool is_whiteout(const struct stat *st) {
  return S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0);
}

static bool skip_xattr(const char *name) {
  return strncmp(name, "trusted.overlay.", 16) == 0 || strncmp(name, "user.overlay.", 13) == 0 ||
         strcmp(name, "security.selinux") == 0;
}

/* The xattr names of NAME in DIRFD (never following it), as one buffer of
 * NUL-separated names; *len 0 when there are none. */
static int list_xattrs(int dirfd, const char *name, char **out, ssize_t *len) {
  char path[64 + 256];
  char *buf;
  ssize_t n;

  /* no "llistxattrat": reach NAME through the directory's fd; the last
   * component is not followed */
  snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", dirfd, name);
  *out = NULL;
  *len = 0;
  n = llistxattr(path, NULL, 0);
  if (n <= 0)
    return (n < 0 && errno != ENOTSUP && errno != EOPNOTSUPP) ? -1 : 0;
  if (n > XATTR_LIST_MAX_BYTES)
    n = XATTR_LIST_MAX_BYTES;
  buf = malloc((size_t)n);
  if (buf == NULL)
    return -1;
  n = llistxattr(path, buf, (size_t)n);
  if (n < 0) {
    free(buf);
    return -1;
  }
  *out = buf;
  *len = n;
  return 0;
}

static ssize_t get_xattr(int dirfd, const char *name, const char *xname, char **value) {
  char path[64 + 256];
  ssize_t n;
  snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", dirfd, name);
  *value = NULL;
  n = lgetxattr(path, xname, NULL, 0);
  if (n < 0)
    return -1;
  *value = malloc((size_t)n + 1);
  if (*value == NULL)
    return -1;
  n = lgetxattr(path, xname, *value, (size_t)n);
  if (n < 0) {
    free(*value);
    *value = NULL;
  }
  return n;
}

static bool is_opaque(int dirfd, const char *name) {
  char path[64 + 256], v[2];
  snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", dirfd, name);
  return lgetxattr(path, OVERLAY_OPAQUE_XATTR, v, sizeof(v)) == 1 && v[0] == 'y';
}

/* Do NAME in A and B carry the same xattrs (ignoring overlay's own)? */
static bool same_xattrs(int afd, const char *aname, int bfd, const char *bname) {
  cleanup_free char *al = NULL, *bl = NULL;
  ssize_t an, bn;

  if (list_xattrs(afd, aname, &al, &an) < 0 || list_xattrs(bfd, bname, &bl, &bn) < 0)
    return false;
  for (int pass = 0; pass < 2; pass++) {
    const char *l = pass ? bl : al;
    ssize_t n = pass ? bn : an;
    for (ssize_t i = 0; i < n; i += (ssize_t)strlen(l + i) + 1) {
      cleanup_free char *av = NULL, *bv = NULL;
      ssize_t x, y;
      if (skip_xattr(l + i))
        continue;
      x = get_xattr(afd, aname, l + i, &av);
      y = get_xattr(bfd, bname, l + i, &bv);
      if (x != y || (x > 0 && memcmp(av, bv, (size_t)x) != 0))
        return false;
    }
  }
  return true;
}

static bool same_link(int afd, const char *name, int bfd) {
  char a[4097], b[4097];
  ssize_t x = readlinkat(afd, name, a, sizeof(a)), y = readlinkat(bfd, name, b, sizeof(b));
  return x >= 0 && x == y && memcmp(a, b, (size_t)x) == 0;
}

/* Docker's test for "changed": type and mode, owner, device number, and for
 * anything but a directory mtime and size (a directory's change shows in
 * what is inside it); then link targets and xattrs. */
static bool differs(int nfd, const struct stat *n, int ofd, const struct stat *o, const char *name) {
  if (n->st_mode != o->st_mode || n->st_uid != o->st_uid || n->st_gid != o->st_gid ||
      n->st_rdev != o->st_rdev)
    return true;
  if (!S_ISDIR(n->st_mode) &&
      (n->st_mtim.tv_sec != o->st_mtim.tv_sec || n->st_mtim.tv_nsec != o->st_mtim.tv_nsec ||
       n->st_size != o->st_size))
    return true;
  if (S_ISLNK(n->st_mode) && !same_link(nfd, name, ofd))
    return true;
  return !same_xattrs(nfd, name, ofd, name);
}

/* The names in directory FD, sorted (strv). */
static char **read_names(int fd, struct strata_error **err, const char *what) {
  cleanup_dir DIR *d = NULL;
  char **v = NULL;
  size_t n = 0, cap = 0;
  struct dirent *de;
  int fd2 = fcntl(fd, F_DUPFD_CLOEXEC, 3);

  if (fd2 < 0 || (d = fdopendir(fd2)) == NULL) {
    if (fd2 >= 0)
      close(fd2);
    strata_error_set(err, errno, "cannot read directory '/%s'", what);
    return NULL;
  }
  rewinddir(d);
  while ((errno = 0, de = readdir(d)) != NULL) {
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
      continue;
    if (n + 2 > cap) {
      char **nv = reallocarray(v, cap = cap ? cap * 2 : 32, sizeof(*v));
      if (nv == NULL)
        goto nomem;
      v = nv;
    }
    if ((v[n] = strdup(de->d_name)) == NULL)
      goto nomem;
    v[++n] = NULL;
  }
  if (errno != 0) {
    strata_error_set(err, errno, "cannot read directory '/%s'", what);
    strv_free(v);
    return NULL;
  }
  if (v == NULL && (v = calloc(1, sizeof(*v))) == NULL)
    goto nomem;
  return v;
nomem:
  strv_free(v);
  strata_error_set(err, ENOMEM, "cannot read directory '/%s'", what);
  return NULL;
}

static bool strv_has(char **v, const char *s) {
  for (; v && *v; v++)
    if (strcmp(*v, s) == 0)
      return true;
  return false;
}

static int open_dir_at(int dirfd, const char *name) {
  return openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* ------------------------------------------------------------------ whole trees */

struct walk {
  struct strata_changes *out;
  struct strata_error **err;
};

static int nomem(struct walk *w) { return strata_error_set(w->err, ENOMEM, "cannot list changes"); }

/* Everything below directory FD (at REL) is new. */
static int all_added(struct walk *w, int fd, const char *rel) {
  cleanup_strv char **names = read_names(fd, w->err, rel);
  if (names == NULL)
    return -1;
  for (char **p = names; *p; p++) {
    cleanup_free char *path = join(rel, *p);
    struct stat st;
    if (path == NULL || strata_changes_add(w->out, path, 'A', false, false) < 0)
      return nomem(w);
    if (fstatat(fd, *p, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
      cleanup_close int cfd = open_dir_at(fd, *p);
      if (cfd < 0)
        return strata_error_set(w->err, errno, "cannot open '/%s'", path);
      if (all_added(w, cfd, path) < 0)
        return -1;
    }
  }
  return 0;
}

/* Compares directory NFD with OFD (both at REL).  *CHANGED tells the
 * caller something inside changed. */
static int compare_dirs(struct walk *w, int nfd, int ofd, const char *rel, bool *changed) {
  cleanup_strv char **nn = read_names(nfd, w->err, rel);
  cleanup_strv char **on = nn ? read_names(ofd, w->err, rel) : NULL;
  size_t before = w->out->n;

  if (on == NULL)
    return -1;
  for (char **p = on; *p; p++)
    if (!strv_has(nn, *p)) {
      cleanup_free char *path = join(rel, *p);
      if (path == NULL || strata_changes_add(w->out, path, 'D', false, false) < 0)
        return nomem(w);
    }
  for (char **p = nn; *p; p++) {
    cleanup_free char *path = join(rel, *p);
    struct stat ns, os;
    bool inner = false;

    if (path == NULL)
      return nomem(w);
    if (fstatat(nfd, *p, &ns, AT_SYMLINK_NOFOLLOW) < 0) {
      if (errno == ENOENT) /* a running container removed it meanwhile */
        continue;
      return strata_error_set(w->err, errno, "cannot stat '/%s'", path);
    }
    if (fstatat(ofd, *p, &os, AT_SYMLINK_NOFOLLOW) < 0) {
      if (errno != ENOENT)
        return strata_error_set(w->err, errno, "cannot stat '/%s' below", path);
      if (strata_changes_add(w->out, path, 'A', false, false) < 0)
        return nomem(w);
      if (S_ISDIR(ns.st_mode)) {
        cleanup_close int cfd = open_dir_at(nfd, *p);
        if (cfd < 0 || all_added(w, cfd, path) < 0)
          return cfd < 0 ? strata_error_set(w->err, errno, "cannot open '/%s'", path) : -1;
      }
      continue;
    }
    if (S_ISDIR(ns.st_mode)) {
      cleanup_close int cfd = open_dir_at(nfd, *p);
      size_t mark = w->out->n;
      bool diff = differs(nfd, &ns, ofd, &os, *p);
      if (cfd < 0)
        return strata_error_set(w->err, errno, "cannot open '/%s'", path);
      if (diff && strata_changes_add(w->out, path, 'C', false, false) < 0)
        return nomem(w);
      if (S_ISDIR(os.st_mode)) {
        cleanup_close int ocfd = open_dir_at(ofd, *p);
        if (ocfd < 0)
          return strata_error_set(w->err, errno, "cannot open '/%s' below", path);
        if (compare_dirs(w, cfd, ocfd, path, &inner) < 0)
          return -1;
      } else if (all_added(w, cfd, path) < 0) {
        return -1;
      } else {
        inner = w->out->n > mark + (diff ? 1 : 0);
      }
      /* a directory with changes inside is itself "changed", so that its
       * owner and mode travel with them */
      if (inner && !diff && strata_changes_add(w->out, path, 'C', false, false) < 0)
        return nomem(w);
      continue;
    }
    if (differs(nfd, &ns, ofd, &os, *p) && strata_changes_add(w->out, path, 'C', false, false) < 0)
      return nomem(w);
  }
  *changed = w->out->n > before;
  return 0;
}

/* ------------------------------------------------------------------ overlay diffs */

/* What the stack LOWERS (top first, overlay form) shows at PATH. */
struct lower_view {
  char **lowers;
};

/* Looks PATH up in the merged view of the lowers.  Returns 1 and fills *ST
 * when something is there, 0 when not, -1 on error. */
static int lower_lookup(const struct lower_view *lv, const char *path, struct stat *st,
                        int *fdp, char **basep) {
  for (char **l = lv->lowers; l && *l; l++) {
    cleanup_free char *copy = strdup(path);
    cleanup_close int cur = open(*l, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    bool hidden_below = false;
    char *save = NULL, *comp, *next;

    if (copy == NULL)
      return -1;
    if (cur < 0)
      return -1;
    comp = strtok_r(copy, "/", &save);
    while (comp != NULL) {
      struct stat cs;
      next = strtok_r(NULL, "/", &save);
      if (fstatat(cur, comp, &cs, AT_SYMLINK_NOFOLLOW) < 0) {
        if (errno != ENOENT && errno != ENOTDIR)
          return -1;
        break; /* not in this layer: look further down, unless hidden */
      }
      if (is_whiteout(&cs))
        return 0;
      if (next == NULL) {
        *st = cs;
        if (fdp != NULL) {
          *fdp = steal_fd(cur);
          *basep = strdup(comp);
        }
        return 1;
      }
      if (!S_ISDIR(cs.st_mode))
        return 0; /* a file where a directory would be: nothing below */
      {
        int nfd = open_dir_at(cur, comp);
        if (nfd < 0)
          return -1;
        if (is_opaque(cur, comp))
          hidden_below = true;
        close(cur);
        cur = nfd;
      }
      comp = next;
    }
    if (hidden_below)
      return 0;
  }
  return 0;
}

/* The names the merged lowers show inside directory PATH (strv). */
static char **lower_children(const struct lower_view *lv, const char *path) {
  char **seen = calloc(1, sizeof(*seen)), **shown = calloc(1, sizeof(*shown));
  size_t nseen = 0, nshown = 0;

  if (seen == NULL || shown == NULL)
    goto fail;
  for (char **l = lv->lowers; l && *l; l++) {
    cleanup_free char *copy = strdup(path);
    cleanup_close int cur = open(*l, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    cleanup_strv char **names = NULL;
    bool opaque = false, stop = false, missing = false;
    char *save = NULL;

    if (copy == NULL || cur < 0)
      goto fail;
    for (char *comp = strtok_r(copy, "/", &save); comp; comp = strtok_r(NULL, "/", &save)) {
      struct stat cs;
      int nfd;
      if (fstatat(cur, comp, &cs, AT_SYMLINK_NOFOLLOW) < 0) {
        missing = true;
        break;
      }
      if (is_whiteout(&cs) || !S_ISDIR(cs.st_mode)) {
        stop = true;
        break;
      }
      if (is_opaque(cur, comp))
        opaque = true;
      nfd = open_dir_at(cur, comp);
      if (nfd < 0)
        goto fail;
      close(cur);
      cur = nfd;
    }
    if (stop)
      break;
    if (missing) {
      if (opaque)
        break;
      continue;
    }
    names = read_names(cur, NULL, path);
    if (names == NULL)
      goto fail;
    for (char **p = names; *p; p++) {
      struct stat cs;
      char **ns;
      if (strv_has(seen, *p))
        continue;
      ns = reallocarray(seen, nseen + 2, sizeof(*seen));
      if (ns == NULL)
        goto fail;
      seen = ns;
      if ((seen[nseen] = strdup(*p)) == NULL)
        goto fail;
      seen[++nseen] = NULL;
      if (fstatat(cur, *p, &cs, AT_SYMLINK_NOFOLLOW) == 0 && is_whiteout(&cs))
        continue;
      ns = reallocarray(shown, nshown + 2, sizeof(*shown));
      if (ns == NULL)
        goto fail;
      shown = ns;
      if ((shown[nshown] = strdup(*p)) == NULL)
        goto fail;
      shown[++nshown] = NULL;
    }
    if (opaque) /* the directory itself is opaque at this layer */
      break;
  }
  strv_free(seen);
  return shown;
fail:
  strv_free(seen);
  strv_free(shown);
  return NULL;
}

/* Walks overlay diff directory FD at REL.  LOWER says the merged lowers
 * may hold something below REL (false inside a new or opaque directory). */
static int walk_pure(struct walk *w, const struct lower_view *lv, int fd, const char *rel,
                     bool lower, bool *changed) {
  cleanup_strv char **names = read_names(fd, w->err, rel);
  size_t before = w->out->n;

  if (names == NULL)
    return -1;
  for (char **p = names; *p; p++) {
    cleanup_free char *path = join(rel, *p);
    cleanup_free char *lbase = NULL;
    cleanup_close int lfd = -1;
    struct stat ns, ls;
    int found = 0;

    if (path == NULL)
      return nomem(w);
    if (fstatat(fd, *p, &ns, AT_SYMLINK_NOFOLLOW) < 0) {
      if (errno == ENOENT)
        continue;
      return strata_error_set(w->err, errno, "cannot stat '/%s'", path);
    }
    if (lower) {
      found = lower_lookup(lv, path, &ls, &lfd, &lbase);
      if (found < 0)
        return strata_error_set(w->err, errno ? errno : ENOMEM, "cannot look up '/%s' below",
                                path);
    }
    if (is_whiteout(&ns)) {
      if (found && strata_changes_add(w->out, path, 'D', false, false) < 0)
        return nomem(w);
      continue;
    }
    if (!found) {
      bool inner;
      if (strata_changes_add(w->out, path, 'A', false, false) < 0)
        return nomem(w);
      if (S_ISDIR(ns.st_mode)) {
        cleanup_close int cfd = open_dir_at(fd, *p);
        if (cfd < 0)
          return strata_error_set(w->err, errno, "cannot open '/%s'", path);
        if (walk_pure(w, lv, cfd, path, false, &inner) < 0)
          return -1;
      }
      continue;
    }
    if (S_ISDIR(ns.st_mode)) {
      cleanup_close int cfd = open_dir_at(fd, *p);
      bool opaque = is_opaque(fd, *p) && S_ISDIR(ls.st_mode);
      bool diff = !S_ISDIR(ls.st_mode) || differs(fd, &ns, lfd, &ls, *p);
      bool inner = false;
      size_t at = w->out->n;

      if (cfd < 0)
        return strata_error_set(w->err, errno, "cannot open '/%s'", path);
      if ((diff || opaque) && strata_changes_add(w->out, path, 'C', opaque, false) < 0)
        return nomem(w);
      if (opaque) {
        /* everything the lowers had in it is gone, save what the diff
         * puts back */
        cleanup_strv char **gone = lower_children(lv, path);
        cleanup_strv char **mine = read_names(cfd, w->err, path);
        if (gone == NULL || mine == NULL)
          return gone == NULL ? nomem(w) : -1;
        for (char **g = gone; *g; g++) {
          cleanup_free char *gp = join(path, *g);
          if (gp == NULL)
            return nomem(w);
          if (!strv_has(mine, *g) && strata_changes_add(w->out, gp, 'D', false, true) < 0)
            return nomem(w);
        }
      }
      if (walk_pure(w, lv, cfd, path, S_ISDIR(ls.st_mode) && !opaque, &inner) < 0)
        return -1;
      if (inner && !diff && !opaque && strata_changes_add(w->out, path, 'C', false, false) < 0)
        return nomem(w);
      (void)at;
      continue;
    }
    /* overlay copies a file up only to change it */
    if (strata_changes_add(w->out, path, 'C', false, false) < 0)
      return nomem(w);
  }
  *changed = w->out->n > before;
  return 0;
}

int strata_changes_collect(const struct strata_diff_dirs *dirs, struct strata_changes *out,
                           struct strata_error **err) {
  struct walk w = {.out = out, .err = err};
  cleanup_close int ufd = open(dirs->upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  bool changed = false;
  int r;

  if (ufd < 0)
    return strata_error_set(err, errno, "cannot open '%s'", dirs->upper);
  if (dirs->flags & STRATA_DIFF_PURE) {
    struct lower_view lv = {.lowers = dirs->lowers};
    r = walk_pure(&w, &lv, ufd, "", dirs->lowers && dirs->lowers[0], &changed);
  } else if (dirs->lowers && dirs->lowers[0]) {
    cleanup_close int lfd = open(dirs->lowers[0], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (lfd < 0)
      return strata_error_set(err, errno, "cannot open '%s'", dirs->lowers[0]);
    r = compare_dirs(&w, ufd, lfd, "", &changed);
  } else {
    r = all_added(&w, ufd, "");
  }
  if (r < 0) {
    strata_changes_free(out);
    return -1;
  }
  strata_changes_sort(out);
  return 0;
}

/* ------------------------------------------------------------------ tar writing */

struct tar_out {
  const struct strata_tar_sink *sink;
  struct strata_error *err;
};

static la_ssize_t tar_write_cb(struct archive *a, void *arg, const void *buf, size_t len) {
  struct tar_out *o = arg;
  if (o->sink->write(o->sink->arg, buf, len, &o->err) < 0) {
    archive_set_error(a, EIO, "%s", o->err ? o->err->msg : "write error");
    return -1;
  }
  return (la_ssize_t)len;
}

struct link_seen {
  dev_t dev;
  ino_t ino;
  char *path;
};

struct export_state {
  struct archive *a;
  struct tar_out *o;
  struct link_seen *links;
  size_t nlinks, caplinks;
  char *buf;
};

static int archive_fail(struct export_state *x, const char *what, struct strata_error **err) {
  if (x->o->err != NULL) {
    strata_error_free(*err);
    *err = steal_ptr(x->o->err);
    return strata_error_wrap(err, "cannot write '%s'", what);
  }
  return strata_error_set(err, 0, "cannot write '%s': %s", what, archive_error_string(x->a));
}

static int add_xattrs(struct archive_entry *e, int dirfd, const char *name) {
  cleanup_free char *list = NULL;
  ssize_t n;

  if (list_xattrs(dirfd, name, &list, &n) < 0)
    return -1;
  for (ssize_t i = 0; i < n; i += (ssize_t)strlen(list + i) + 1) {
    cleanup_free char *v = NULL;
    ssize_t vl;
    if (skip_xattr(list + i))
      continue;
    vl = get_xattr(dirfd, name, list + i, &v);
    if (vl >= 0)
      archive_entry_xattr_add_entry(e, list + i, v, (size_t)vl);
  }
  return 0;
}

static int write_whiteout(struct export_state *x, const char *path, bool opaque,
                          struct strata_error **err) {
  cleanup_free char *name = NULL;
  const char *slash = strrchr(path, '/');
  struct archive_entry *e;
  int r;

  if (opaque)
    r = asprintf(&name, "%s/" WHITEOUT_OPAQUE, path);
  else if (slash != NULL)
    r = asprintf(&name, "%.*s/" WHITEOUT_PREFIX "%s", (int)(slash - path), path, slash + 1);
  else
    r = asprintf(&name, WHITEOUT_PREFIX "%s", path);
  if (r < 0 || (e = archive_entry_new()) == NULL)
    return strata_error_set(err, ENOMEM, "cannot write a whiteout for '/%s'", path);
  archive_entry_set_pathname(e, name);
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_perm(e, 0);
  archive_entry_set_size(e, 0);
  archive_entry_set_mtime(e, 0, 0);
  r = archive_write_header(x->a, e);
  archive_entry_free(e);
  if (r != ARCHIVE_OK)
    return archive_fail(x, name, err);
  return 0;
}

static int write_data_fd(struct export_state *x, int fd, const char *path, int64_t size,
                         struct strata_error **err) {
  int64_t left = size;
  while (left > 0) {
    ssize_t n = read(fd, x->buf, left < 1 << 20 ? (size_t)left : 1 << 20);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return strata_error_set(err, errno, "cannot read '/%s'", path);
    if (n == 0)
      return strata_error_set(err, 0, "'/%s' shrank while it was written", path);
    if (archive_write_data(x->a, x->buf, (size_t)n) != n)
      return archive_fail(x, path, err);
    left -= n;
  }
  return 0;
}

static int write_entry(struct export_state *x, int rootfd, const struct strata_change *c,
                       struct strata_error **err) {
  cleanup_free char *parent = NULL;
  cleanup_close int pfd = -1, fd = -1;
  const char *slash = strrchr(c->path, '/');
  const char *base = slash ? slash + 1 : c->path;
  struct archive_entry *e = NULL;
  struct stat st;
  int ret = -1;

  parent = slash ? strndup(c->path, (size_t)(slash - c->path)) : strdup("");
  if (parent == NULL)
    return strata_error_set(err, ENOMEM, "cannot export '/%s'", c->path);
  /* no symlink anywhere on the way: the tree is the container's own */
  pfd = strata_open_in_root_nofollow(rootfd, parent, O_RDONLY | O_DIRECTORY, 0, err);
  if (pfd < 0)
    return strata_error_wrap(err, "cannot export '/%s'", c->path);
  if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return strata_error_set(err, errno, "cannot stat '/%s'", c->path);
  if (S_ISSOCK(st.st_mode)) {
    log_info("skipping socket '/%s'", c->path);
    return 0;
  }
  if ((e = archive_entry_new()) == NULL)
    return strata_error_set(err, ENOMEM, "cannot export '/%s'", c->path);
  archive_entry_copy_stat(e, &st);
  archive_entry_unset_atime(e);
  archive_entry_unset_ctime(e);
  archive_entry_unset_birthtime(e);
  archive_entry_set_pathname(e, c->path);
  archive_entry_set_nlink(e, 1);
  if (add_xattrs(e, pfd, base) < 0) {
    strata_error_set(err, errno, "cannot read the xattrs of '/%s'", c->path);
    goto out;
  }
  if (S_ISLNK(st.st_mode)) {
    char target[4097];
    ssize_t n = readlinkat(pfd, base, target, sizeof(target) - 1);
    if (n < 0) {
      strata_error_set(err, errno, "cannot read link '/%s'", c->path);
      goto out;
    }
    target[n] = '\0';
    archive_entry_set_symlink(e, target);
    archive_entry_set_size(e, 0);
  } else if (S_ISREG(st.st_mode)) {
    if (st.st_nlink > 1) {
      for (size_t i = 0; i < x->nlinks; i++)
        if (x->links[i].dev == st.st_dev && x->links[i].ino == st.st_ino) {
          archive_entry_set_hardlink(e, x->links[i].path);
          archive_entry_set_size(e, 0);
          if (archive_write_header(x->a, e) != ARCHIVE_OK) {
            archive_fail(x, c->path, err);
            goto out;
          }
          ret = 0;
          goto out;
        }
      if (x->nlinks == x->caplinks) {
        size_t cap = x->caplinks ? x->caplinks * 2 : 16;
        struct link_seen *nl = reallocarray(x->links, cap, sizeof(*nl));
        if (nl == NULL) {
          strata_error_set(err, ENOMEM, "cannot export '/%s'", c->path);
          goto out;
        }
        x->links = nl;
        x->caplinks = cap;
      }
      x->links[x->nlinks].dev = st.st_dev;
      x->links[x->nlinks].ino = st.st_ino;
      if ((x->links[x->nlinks].path = strdup(c->path)) == NULL) {
        strata_error_set(err, ENOMEM, "cannot export '/%s'", c->path);
        goto out;
      }
      x->nlinks++;
    }
    fd = openat(pfd, base, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      strata_error_set(err, errno, "cannot open '/%s'", c->path);
      goto out;
    }
  } else if (!S_ISDIR(st.st_mode)) {
    archive_entry_set_size(e, 0);
  }
  if (archive_write_header(x->a, e) != ARCHIVE_OK) {
    archive_fail(x, c->path, err);
    goto out;
  }
  if (fd >= 0 && write_data_fd(x, fd, c->path, st.st_size, err) < 0)
    goto out;
  if (c->opaque && S_ISDIR(st.st_mode) && write_whiteout(x, c->path, true, err) < 0)
    goto out;
  ret = 0;
out:
  archive_entry_free(e);
  return ret;
}

int strata_layer_export(const char *upper, const struct strata_changes *changes,
                        const struct strata_tar_sink *sink, struct strata_error **err) {
  struct tar_out o = {.sink = sink};
  struct export_state x = {.o = &o};
  cleanup_close int rootfd = open(upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int ret = -1;

  if (rootfd < 0)
    return strata_error_set(err, errno, "cannot open '%s'", upper);
  x.a = archive_write_new();
  x.buf = malloc(1 << 20);
  if (x.a == NULL || x.buf == NULL) {
    strata_error_set(err, ENOMEM, "cannot write a layer");
    goto out;
  }
  /* PAX only where ustar cannot say it (long names, xattrs, big numbers);
   * no padding of the last block, as Go's archive/tar */
  archive_write_set_format_pax_restricted(x.a);
  archive_write_set_bytes_per_block(x.a, 10240);
  archive_write_set_bytes_in_last_block(x.a, 1);
  if (archive_write_open2(x.a, &o, NULL, tar_write_cb, NULL, NULL) != ARCHIVE_OK) {
    archive_fail(&x, "layer", err);
    goto out;
  }
  for (size_t i = 0; i < changes->n; i++) {
    const struct strata_change *c = &changes->v[i];
    int r = c->kind == 'D' ? (c->covered ? 0 : write_whiteout(&x, c->path, false, err))
                           : write_entry(&x, rootfd, c, err);
    if (r < 0)
      goto out;
  }
  if (archive_write_close(x.a) != ARCHIVE_OK) {
    archive_fail(&x, "layer", err);
    goto out;
  }
  ret = 0;
out:
  if (x.a != NULL)
    archive_write_free(x.a);
  for (size_t i = 0; i < x.nlinks; i++)
    free(x.links[i].path);
  free(x.links);
  free(x.buf);
  strata_error_free(o.err);
  return ret;
}

/* ------------------------------------------------------------------ tar-split */

#define SPLIT_MAGIC "strata-tar-split 1\n"
#define SPLIT_MAX_PATH 65536

struct strata_tar_split {
  char *q; /* raw bytes [qbase, qbase + qlen) not yet recorded */
  size_t qlen, qcap;
  uint64_t qbase;
  uint64_t mark; /* everything before this is recorded */
  char *out;
  size_t olen, ocap;
  bool broken;
};

static int out_add(struct strata_tar_split *s, const void *buf, size_t len) {
  if (s->olen + len > s->ocap) {
    size_t cap = s->ocap ? s->ocap : 4096;
    char *n;
    while (cap < s->olen + len)
      cap *= 2;
    n = realloc(s->out, cap);
    if (n == NULL)
      return -1;
    s->out = n;
    s->ocap = cap;
  }
  memcpy(s->out + s->olen, buf, len);
  s->olen += len;
  return 0;
}

static int out_u64(struct strata_tar_split *s, uint64_t v) {
  unsigned char b[8];
  for (int i = 0; i < 8; i++)
    b[i] = (unsigned char)(v >> (8 * i));
  return out_add(s, b, 8);
}

struct strata_tar_split *strata_tar_split_new(void) {
  struct strata_tar_split *s = calloc(1, sizeof(*s));
  if (s != NULL && out_add(s, SPLIT_MAGIC, strlen(SPLIT_MAGIC)) < 0) {
    free(s);
    return NULL;
  }
  return s;
}

void strata_tar_split_free(struct strata_tar_split *s) {
  if (s == NULL)
    return;
  free(s->q);
  free(s->out);
  free(s);
}

int strata_tar_split_feed(struct strata_tar_split *s, uint64_t offset, const void *buf,
                          size_t len) {
  uint64_t start = offset > s->mark ? offset : s->mark;
  size_t skip, n;

  if (s->broken || start >= offset + len)
    return 0;
  if (s->qlen == 0)
    s->qbase = start;
  else if (s->qbase + s->qlen != start) {
    s->broken = true;
    return -1;
  }
  skip = (size_t)(start - offset);
  n = len - skip;
  if (s->qlen + n > s->qcap) {
    size_t cap = s->qcap ? s->qcap : 65536;
    char *nq;
    while (cap < s->qlen + n)
      cap *= 2;
    nq = realloc(s->q, cap);
    if (nq == NULL) {
      s->broken = true;
      return -1;
    }
    s->q = nq;
    s->qcap = cap;
  }
  memcpy(s->q + s->qlen, (const char *)buf + skip, n);
  s->qlen += n;
  return 0;
}

/* Records the raw bytes [mark, UPTO) as one segment. */
static int flush_raw(struct strata_tar_split *s, uint64_t upto) {
  size_t n;
  if (upto == s->mark)
    return 0;
  if (s->qlen == 0 || s->qbase != s->mark || upto > s->qbase + s->qlen)
    return -1;
  n = (size_t)(upto - s->mark);
  if (out_add(s, "R", 1) < 0 || out_u64(s, n) < 0 || out_add(s, s->q, n) < 0)
    return -1;
  return 0;
}

static void drop_below(struct strata_tar_split *s, uint64_t mark) {
  s->mark = mark;
  if (s->qlen == 0)
    return;
  if (s->qbase + s->qlen <= mark) {
    s->qlen = 0;
    return;
  }
  if (mark > s->qbase) {
    size_t cut = (size_t)(mark - s->qbase);
    memmove(s->q, s->q + cut, s->qlen - cut);
    s->qlen -= cut;
    s->qbase = mark;
  }
}

int strata_tar_split_file(struct strata_tar_split *s, uint64_t offset, uint64_t size,
                          const char *path) {
  uint32_t plen = (uint32_t)strlen(path);
  unsigned char b[4];

  if (s->broken)
    return -1;
  if (offset < s->mark || plen == 0 || plen > SPLIT_MAX_PATH || flush_raw(s, offset) < 0) {
    s->broken = true;
    return -1;
  }
  for (int i = 0; i < 4; i++)
    b[i] = (unsigned char)(plen >> (8 * i));
  if (out_add(s, "F", 1) < 0 || out_u64(s, size) < 0 || out_add(s, b, 4) < 0 ||
      out_add(s, path, plen) < 0) {
    s->broken = true;
    return -1;
  }
  drop_below(s, offset + size);
  return 0;
}

int strata_tar_split_finish(struct strata_tar_split *s, uint64_t total, char **data, size_t *len,
                            struct strata_error **err) {
  if (s->broken || total < s->mark || flush_raw(s, total) < 0 ||
      (s->qlen > 0 && s->qbase + s->qlen != total))
    return strata_error_set(err, 0, "the layer's tar stream could not be recorded");
  if (out_add(s, "E", 1) < 0 || out_u64(s, total) < 0)
    return strata_error_set(err, ENOMEM, "cannot record the layer's tar stream");
  *data = steal_ptr(s->out);
  *len = s->olen;
  s->olen = s->ocap = 0;
  return 0;
}

static uint64_t get_u64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--)
    v = (v << 8) | p[i];
  return v;
}

/* Walks a record: FN sees each segment.  Returns -1 with *err on damage. */
struct split_seg {
  char kind; /* 'R', 'F', 'E' */
  const char *raw;
  uint64_t len; /* R: bytes, F: file size, E: total */
  char *path;   /* F */
};

static int split_walk(const char *data, size_t len,
                      int (*fn)(const struct split_seg *seg, void *arg, struct strata_error **err),
                      void *arg, struct strata_error **err) {
  size_t off = strlen(SPLIT_MAGIC);
  uint64_t sum = 0;

  if (len < off || memcmp(data, SPLIT_MAGIC, off) != 0)
    return strata_error_set(err, 0, "damaged tar-split record");
  while (off < len) {
    struct split_seg seg = {.kind = data[off]};
    const unsigned char *p = (const unsigned char *)data + off + 1;
    int r;
    if (len - off < 9)
      return strata_error_set(err, 0, "damaged tar-split record");
    seg.len = get_u64(p);
    off += 9;
    if (seg.kind == 'R') {
      if (seg.len > len - off)
        return strata_error_set(err, 0, "damaged tar-split record");
      seg.raw = data + off;
      off += (size_t)seg.len;
      sum += seg.len;
    } else if (seg.kind == 'F') {
      uint32_t plen;
      if (len - off < 4)
        return strata_error_set(err, 0, "damaged tar-split record");
      p = (const unsigned char *)data + off;
      plen = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
      off += 4;
      if (plen == 0 || plen > SPLIT_MAX_PATH || plen > len - off)
        return strata_error_set(err, 0, "damaged tar-split record");
      seg.path = strndup(data + off, plen);
      if (seg.path == NULL)
        return strata_error_set(err, ENOMEM, "cannot read tar-split record");
      off += plen;
      sum += seg.len;
    } else if (seg.kind == 'E') {
      if (seg.len != sum || off != len)
        return strata_error_set(err, 0, "damaged tar-split record");
    } else {
      return strata_error_set(err, 0, "damaged tar-split record");
    }
    r = fn(&seg, arg, err);
    free(seg.path);
    if (r < 0)
      return -1;
    if (seg.kind == 'E')
      return 0;
  }
  return strata_error_set(err, 0, "damaged tar-split record: no end");
}

static int size_fn(const struct split_seg *seg, void *arg, struct strata_error **err) {
  if (seg->kind == 'E')
    *(uint64_t *)arg = seg->len;
  return 0;
}

int strata_tar_split_size(const char *data, size_t len, uint64_t *size,
                          struct strata_error **err) {
  *size = 0;
  return split_walk(data, len, size_fn, size, err);
}

struct replay {
  int rootfd;
  const struct strata_tar_sink *sink;
  struct strata_hasher *h;
  char *buf;
};

static int replay_fn(const struct split_seg *seg, void *arg, struct strata_error **err) {
  struct replay *r = arg;
  cleanup_close int fd = -1;
  struct stat st;
  uint64_t left;

  if (seg->kind == 'R') {
    strata_hasher_update(r->h, seg->raw, (size_t)seg->len);
    return r->sink->write(r->sink->arg, seg->raw, (size_t)seg->len, err);
  }
  if (seg->kind != 'F')
    return 0;
  fd = strata_open_in_root(r->rootfd, seg->path, O_RDONLY | O_NOFOLLOW, 0, err);
  if (fd < 0)
    return strata_error_wrap(err, "file '/%s' of the layer", seg->path);
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != seg->len)
    return strata_error_set(err, 0, "file '/%s' of the layer is not what the layer wrote",
                            seg->path);
  for (left = seg->len; left > 0;) {
    ssize_t n = read(fd, r->buf, left < 1 << 20 ? (size_t)left : 1 << 20);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return strata_error_set(err, n < 0 ? errno : 0, "cannot read '/%s'", seg->path);
    strata_hasher_update(r->h, r->buf, (size_t)n);
    if (r->sink->write(r->sink->arg, r->buf, (size_t)n, err) < 0)
      return -1;
    left -= (uint64_t)n;
  }
  return 0;
}

int strata_tar_split_replay(const char *data, size_t len, const char *root,
                            const struct strata_tar_sink *sink,
                            char digest[STRATA_DIGEST_STR_LEN + 1], struct strata_error **err) {
  struct replay r = {.sink = sink};
  int ret;

  r.rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (r.rootfd < 0)
    return strata_error_set(err, errno, "cannot open '%s'", root);
  r.h = strata_hasher_new();
  r.buf = malloc(1 << 20);
  if (r.h == NULL || r.buf == NULL)
    ret = strata_error_set(err, ENOMEM, "cannot write a layer");
  else
    ret = split_walk(data, len, replay_fn, &r, err);
  if (ret == 0)
    strata_hasher_final(r.h, digest);
  if (r.h)
    strata_hasher_free(r.h);
  free(r.buf);
  close(r.rootfd);
  return ret;
}
