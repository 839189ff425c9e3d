/* storage driver "overlay": a directory per layer, containers mounted with
 * overlayfs.
 *
 *   DATA/layers/ID/diff     the layer's own changes (immutable once committed)
 *   DATA/layers/ID/link     the layer's short name, SHORT
 *   DATA/layers/ID/lower    "l/P1:l/P2:..." the short names of its ancestors,
 *                           parent first (absent for a base layer)
 *   DATA/l/SHORT            -> ../layers/ID/diff
 *   DATA/staging/ID/        a layer being written (diff, work, link, lower)
 *   DATA/containers/ID/     diff (upper), work, merged (the mount point), lower
 *   DATA/containers/ID.new/ a container being made
 *
 * Layers are mounted with the new mount API, one fsconfig("lowerdir+") per
 * layer, so neither the length of the paths nor the one-page limit of
 * mount(2)'s option string bounds an image's depth; kernels older than 6.8
 * (no "lowerdir+") get mount(2) with the short relative names above, from
 * DATA, the way containers/storage does it.
 *
 * A layer is staged on a detached overlay mount of its parent's stack, with
 * the empty diff as upper, and written through it in place: deletions become
 * overlay whiteouts in the diff, a hardlink to a file of a lower layer copies
 * the file up and links it, and the parents a layer writes into keep their
 * owners and modes.  Only when that mount cannot be made (no overlay for the
 * staging area) is the diff written directly in overlay whiteout form, and
 * then a hardlink to a lower layer's file fails with a clear error.
 *
 * The kernel stacks at most OVL_MAX_LOWERS layers.  A layer whose chain would
 * be deeper is flattened: it is staged as a full copy of its parent's merged
 * tree (a new base), so deeper images still pull and run. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <strata/plugin/host.h>
#include <strata/plugin/storage.h>

#include "../driver-area.h"

#define DOMAIN "storage.overlay"

/* the kernel's OVL_MAX_STACK */
#define OVL_MAX_LOWERS 500
#define SHORT_LEN 26
#define OVL_OPAQUE_XATTR "trusted.overlay.opaque"

static const struct strata_host *host;

struct ovl_state {
  struct driver_area area; /* first: the shared ops take the state as one */
  bool probed;
};

static int ovl_remove(struct driver_area *s, const char *dir, const char *name,
                      struct strata_error **err);

static const char *const ovl_dirs[] = {"layers", "staging", "containers", "l", NULL};
static const struct driver_area ovl_area = {
    .domain = DOMAIN, .dirs = ovl_dirs, .rootfs = "merged", .remove = ovl_remove};

/* ------------------------------------------------------------------ basics */

static int ovl_init(const struct strata_host *h, const struct strata_plugin_context *ctx,
                    void **state, struct strata_error **err) {
  host = h;
  if (h->size < offsetof(struct strata_host, copy_tree) + sizeof(h->copy_tree))
    return h->error(err, 0, "the overlay driver needs a core with copy_tree (ABI 1.2)");
  return driver_area_new(h, ctx, &ovl_area, sizeof(struct ovl_state), "overlay", state, err);
}

static bool valid_short(const char *name) {
  if (strlen(name) != SHORT_LEN)
    return false;
  for (const char *p = name; *p; p++)
    if (!((*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'Z')))
      return false;
  return true;
}

static void drop_error(struct strata_error **e) {
  host->error_free(*e);
  *e = NULL;
}

static int remove_at(struct driver_area *s, const char *path, struct strata_error **err) {
  return host->remove_tree_at(s->datafd, path, err);
}

/* Reads the small text file PATH under DIRFD into a malloc'd string.
 * Returns 1 (and *out NULL) when it does not exist. */
static int read_text(int dirfd, const char *path, char **out, struct strata_error **err) {
  int fd = openat(dirfd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  char *buf = NULL;
  size_t len = 0, cap = 0;

  *out = NULL;
  if (fd < 0) {
    if (errno == ENOENT)
      return 1;
    return host->error(err, errno, "cannot open '%s'", path);
  }
  for (;;) {
    ssize_t n;
    if (cap - len < 4097) {
      char *nb = realloc(buf, cap + 16384);
      if (nb == NULL) {
        free(buf);
        close(fd);
        return host->error(err, ENOMEM, "cannot read '%s'", path);
      }
      buf = nb;
      cap += 16384;
    }
    n = read(fd, buf + len, cap - len - 1);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      int e = errno;
      free(buf);
      close(fd);
      return host->error(err, e, "cannot read '%s'", path);
    }
    if (n == 0)
      break;
    len += (size_t)n;
  }
  close(fd);
  buf[len] = '\0';
  while (len > 0 && buf[len - 1] == '\n')
    buf[--len] = '\0';
  *out = buf;
  return 0;
}

static int write_text(int dirfd, const char *path, const char *text, struct strata_error **err) {
  int fd = openat(dirfd, path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  size_t len = strlen(text);
  if (fd < 0)
    return host->error(err, errno, "cannot create '%s'", path);
  for (const char *p = text; len > 0;) {
    ssize_t w = write(fd, p, len);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0) {
      int e = errno;
      close(fd);
      return host->error(err, e, "cannot write '%s'", path);
    }
    p += w;
    len -= (size_t)w;
  }
  close(fd);
  return 0;
}

/* A layer's chain: its own short name, then its ancestors'. */
struct chain {
  char *text;   /* "l/A:l/B:..." (owned) */
  char **names; /* pointers into text */
  size_t n;
};

static void chain_free(struct chain *c) {
  free(c->text);
  free(c->names);
  c->text = NULL;
  c->names = NULL;
  c->n = 0;
}

/* Splits C->text at ':' and checks every element is "l/SHORT". */
static int chain_split(struct chain *c, const char *what, struct strata_error **err) {
  size_t cap = 1;
  char *save = NULL;
  for (const char *p = c->text; *p; p++)
    cap += *p == ':';
  c->names = calloc(cap, sizeof(*c->names));
  if (c->names == NULL)
    return host->error(err, ENOMEM, "cannot read the layers of %s", what);
  c->n = 0;
  for (char *tok = strtok_r(c->text, ":", &save); tok; tok = strtok_r(NULL, ":", &save)) {
    if (strncmp(tok, "l/", 2) != 0 || !valid_short(tok + 2))
      return host->error(err, 0, "the layer list of %s is damaged ('%s')", what, tok);
    c->names[c->n++] = tok;
  }
  return 0;
}

/* The chain of committed layer ID: "l/LINK" followed by its lower file. */
static int layer_chain(struct driver_area *s, const char *id, struct chain *c,
                       struct strata_error **err) {
  char path[300];
  char *link = NULL, *lower = NULL;
  int r;

  snprintf(path, sizeof(path), "layers/%s/link", id);
  r = read_text(s->datafd, path, &link, err);
  if (r != 0) {
    if (r == 1)
      host->error(err, ENOENT, "layer %.12s is missing from the overlay store", id);
    return -1;
  }
  snprintf(path, sizeof(path), "layers/%s/lower", id);
  if (read_text(s->datafd, path, &lower, err) < 0) {
    free(link);
    return -1;
  }
  r = asprintf(&c->text, "l/%s%s%s", link, lower && *lower ? ":" : "", lower ? lower : "");
  free(link);
  free(lower);
  if (r < 0) {
    c->text = NULL;
    return host->error(err, ENOMEM, "cannot read the layers of %.12s", id);
  }
  return chain_split(c, id, err);
}

static int new_short_name(char out[SHORT_LEN + 1], struct strata_error **err) {
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  unsigned char rnd[SHORT_LEN];
  size_t got = 0;
  while (got < sizeof(rnd)) {
    ssize_t n = getrandom(rnd + got, sizeof(rnd) - got, 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return host->error(err, errno, "cannot make a layer link name");
    got += (size_t)n;
  }
  for (size_t i = 0; i < SHORT_LEN; i++)
    out[i] = alphabet[rnd[i] % 36];
  out[SHORT_LEN] = '\0';
  return 0;
}

/* ------------------------------------------------------------------ mounting */

struct mount_spec {
  char **lowers;     /* relative to DATA ("l/SHORT"), topmost first */
  size_t nlowers;
  const char *upper; /* relative to DATA, or NULL for a read-only stack */
  const char *work;
  bool staging;      /* a layer being written: nothing but plain files in its diff */
  bool index;        /* with overlay's inode index (staging only, see relink_lower_aliases) */
  bool throwaway;    /* the work directory goes when the mount does: mount it
                      * volatile, so that its last close does not sync the
                      * whole upper file system (a staging or probe mount) */
  const char *scratch; /* relative to DATA: where mount(2) may mount a detached mount first */
};

#ifdef HAVE_FSOPEN
/* The kernel explains a failed fsconfig in the context's log. */
static const char *fs_log(int fsfd, char *buf, size_t len) {
  ssize_t n = read(fsfd, buf, len - 1);
  if (n <= 2)
    return NULL;
  buf[n] = '\0';
  if (buf[n - 1] == '\n')
    buf[n - 1] = '\0';
  return buf + 2; /* "e overlayfs: ..." */
}

/* Sets a path parameter.  A path is passed as a string, which fsconfig
 * takes up to 255 bytes long; a longer one goes as /proc/self/fd/N. */
static int fs_set_path(struct driver_area *s, int fsfd, const char *key, const char *rel) {
  char abs[PATH_MAX];
  int fd, r, e;

  if ((size_t)snprintf(abs, sizeof(abs), "%s/%s", s->data_dir, rel) < 256)
    return fsconfig(fsfd, FSCONFIG_SET_STRING, key, abs, 0);
  fd = openat(s->datafd, rel, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  snprintf(abs, sizeof(abs), "/proc/self/fd/%d", fd);
  r = fsconfig(fsfd, FSCONFIG_SET_STRING, key, abs, 0);
  e = errno;
  close(fd);
  errno = e;
  return r;
}

/* The new mount API.  Returns the fsmount fd, -2 when this kernel lacks it
 * (or "lowerdir+"), -1 with *err set on failure. */
static int mount_new_api(struct driver_area *s, const struct mount_spec *m,
                         struct strata_error **err) {
  char logbuf[512];
  const char *why;
  int fsfd = fsopen("overlay", FSOPEN_CLOEXEC);
  int mfd, e;

  if (fsfd < 0) {
    if (errno == ENOSYS)
      return -2;
    if (errno == ENODEV)
      return host->error(err, errno, "the kernel has no overlay file system");
    return host->error(err, errno, "cannot set up an overlay mount");
  }
  for (size_t i = 0; i < m->nlowers; i++) {
    if (fs_set_path(s, fsfd, "lowerdir+", m->lowers[i]) == 0)
      continue;
    e = errno;
    why = fs_log(fsfd, logbuf, sizeof(logbuf));
    close(fsfd);
    if (i == 0 && e == EINVAL && why != NULL && strstr(why, "nknown parameter") != NULL)
      return -2; /* Linux < 6.8 */
    return host->error(err, e, "cannot add layer '%s' to the overlay%s%s", m->lowers[i],
                        why ? ": " : "", why ? why : "");
  }
  if (m->upper != NULL &&
      (fs_set_path(s, fsfd, "upperdir", m->upper) < 0 || fs_set_path(s, fsfd, "workdir", m->work) < 0)) {
    e = errno;
    why = fs_log(fsfd, logbuf, sizeof(logbuf));
    close(fsfd);
    return host->error(err, e, "cannot set the overlay's upper directory '%s'%s%s", m->upper,
                       why ? ": " : "", why ? why : "");
  }
  /* The index would tie a container's diff to the very lower stack it was
   * made on, and metacopy would leave a staged diff pointing into its
   * lowers: a layer must be a self-contained set of changes.  Older kernels
   * may not know an option; that is fine, their defaults are off.  A
   * staging mount asks for the index: with it, the lower names of a file
   * copied up for a hardlink lead to the copy, and the copy records its
   * origin. */
  if (fsconfig(fsfd, FSCONFIG_SET_STRING, "index", m->index ? "on" : "off", 0) < 0) {
    e = errno;
    why = fs_log(fsfd, logbuf, sizeof(logbuf));
    if (m->index) {
      close(fsfd);
      return host->error(err, e, "cannot use overlay's index%s%s", why ? ": " : "", why ? why : "");
    }
  }
  if (fsconfig(fsfd, FSCONFIG_SET_STRING, "metacopy", "off", 0) < 0)
    fs_log(fsfd, logbuf, sizeof(logbuf));
  if (m->staging && fsconfig(fsfd, FSCONFIG_SET_STRING, "redirect_dir", "off", 0) < 0)
    fs_log(fsfd, logbuf, sizeof(logbuf));
  /* The last close of a mount with an upper directory syncs the whole
   * upper file system, all of its dirty pages, whoever wrote them.  Whether
   * a layer is synced is the core's call (storage-sync), and a probe has
   * nothing to keep. */
  if (m->throwaway && fsconfig(fsfd, FSCONFIG_SET_FLAG, "volatile", NULL, 0) < 0)
    fs_log(fsfd, logbuf, sizeof(logbuf));
  if (fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
    e = errno;
    why = fs_log(fsfd, logbuf, sizeof(logbuf));
    close(fsfd);
    return host->error(err, e, "cannot mount overlay%s%s", why ? ": " : "", why ? why : "");
  }
  mfd = fsmount(fsfd, FSMOUNT_CLOEXEC, 0);
  e = errno;
  close(fsfd);
  if (mfd < 0)
    return host->error(err, e, "cannot mount overlay");
  return mfd;
}
#endif

/* mount(2), for kernels before "lowerdir+": the options are relative to
 * DATA (short link names) so that they fit in mount(2)'s one page. */
static int mount_legacy(struct driver_area *s, const struct mount_spec *m, const char *target,
                        struct strata_error **err) {
  long page = sysconf(_SC_PAGESIZE);
  size_t len = 64 + (m->upper ? strlen(m->upper) + strlen(m->work) : 0);
  char *opts, *p;
  int cwd, r, e;

  if (target == NULL)
    return host->error(err, EINVAL, "cannot mount overlay: no mount point");
  for (size_t i = 0; i < m->nlowers; i++)
    len += strlen(m->lowers[i]) + 1;
  if (page <= 0)
    page = 4096;
  if (len >= (size_t)page)
    return host->error(err, E2BIG,
                       "%zu layers do not fit in the overlay mount options of this kernel "
                       "(Linux 6.8 or later stacks up to %d)",
                       m->nlowers, OVL_MAX_LOWERS);
  opts = p = malloc(len);
  if (opts == NULL)
    return host->error(err, ENOMEM, "cannot mount overlay");
  p += sprintf(p, "lowerdir=");
  for (size_t i = 0; i < m->nlowers; i++)
    p += sprintf(p, "%s%s", i ? ":" : "", m->lowers[i]);
  if (m->upper)
    p += sprintf(p, ",upperdir=%s,workdir=%s", m->upper, m->work);
  sprintf(p, ",index=%s", m->index ? "on" : "off");
  /* the relative names resolve from the working directory */
  cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (cwd < 0 || fchdir(s->datafd) < 0) {
    e = errno;
    free(opts);
    if (cwd >= 0)
      close(cwd);
    return host->error(err, e, "cannot mount overlay");
  }
  r = mount("overlay", target, "overlay", 0, opts);
  if (r < 0 && errno == EINVAL) { /* a kernel that does not know index= */
    *strrchr(opts, ',') = '\0';
    r = mount("overlay", target, "overlay", 0, opts);
  }
  e = errno;
  if (fchdir(cwd) < 0)
    host->log(STRATA_LOG_WARNING, DOMAIN, "cannot return to the working directory");
  close(cwd);
  free(opts);
  if (r < 0)
    return host->error(err, e, "cannot mount overlay on '%s/%s'", s->data_dir, target);
  return 0;
}

/* Mounts the stack M.  With TARGET (relative to DATA) the mount is attached
 * there; with ROOTFD an fd of the mount's root is returned, and without
 * TARGET the mount stays detached: it lives as long as that fd. */
static int ovl_mount(struct driver_area *s, const struct mount_spec *m, const char *target,
                     int *rootfd, struct strata_error **err) {
#ifdef HAVE_FSOPEN
  int mfd = mount_new_api(s, m, err);
  if (mfd == -1)
    return -1;
  if (mfd >= 0) {
    int r = 0;
    if (target != NULL && move_mount(mfd, "", s->datafd, target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
      r = host->error(err, errno, "cannot mount overlay on '%s/%s'", s->data_dir, target);
    if (r == 0 && rootfd != NULL) {
      *rootfd = openat(mfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (*rootfd < 0)
        r = host->error(err, errno, "cannot open the overlay mount");
    }
    close(mfd);
    if (r < 0 && target != NULL)
      umount2(target, MNT_DETACH); /* (no-op when move_mount failed) */
    return r;
  }
#endif
  {
    const char *own_target = NULL;
    int r;
    if (target == NULL) {
      /* mount(2) needs a mount point: mount, open, then detach it */
      if (m->scratch == NULL || rootfd == NULL)
        return host->error(err, EINVAL, "cannot mount overlay without a mount point");
      own_target = m->scratch;
      if (mkdirat(s->datafd, own_target, 0700) < 0 && errno != EEXIST)
        return host->error(err, errno, "cannot create '%s/%s'", s->data_dir, own_target);
    }
    r = mount_legacy(s, m, target ? target : own_target, err);
    if (r == 0 && rootfd != NULL) {
      *rootfd = openat(s->datafd, target ? target : own_target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (*rootfd < 0)
        r = host->error(err, errno, "cannot open the overlay mount");
    }
    if (own_target != NULL) {
      char abs[PATH_MAX];
      snprintf(abs, sizeof(abs), "%s/%s", s->data_dir, own_target);
      umount2(abs, MNT_DETACH);
      unlinkat(s->datafd, own_target, AT_REMOVEDIR);
    }
    return r;
  }
}

/* Is DATA/PATH the root of a mount? */
static int is_mount_root(struct driver_area *s, const char *path) {
  struct statx stx;
  if (statx(s->datafd, path, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx) < 0)
    return errno == ENOENT ? 0 : -1;
  if (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT)
    return (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
  { /* kernels before 5.8: a different device than the directory above */
    struct stat a, b;
    char up[PATH_MAX];
    snprintf(up, sizeof(up), "%s/..", path);
    if (fstatat(s->datafd, path, &a, AT_SYMLINK_NOFOLLOW) < 0 || fstatat(s->datafd, up, &b, 0) < 0)
      return -1;
    return a.st_dev != b.st_dev;
  }
}

static int unmount_at(struct driver_area *s, const char *path, struct strata_error **err) {
  char abs[PATH_MAX];
  int m = is_mount_root(s, path);
  if (m <= 0)
    return 0;
  snprintf(abs, sizeof(abs), "%s/%s", s->data_dir, path);
  if (umount2(abs, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
    return host->error(err, errno, "cannot unmount '%s'", abs);
  return 0;
}

/* ------------------------------------------------------------------ probe */

static int probe_mount(struct driver_area *s, const char *dir, struct strata_error **err) {
  char lower[96], upper[96], work[96], merged[96];
  char *lowers[1] = {lower};
  struct mount_spec m = {
      .lowers = lowers, .nlowers = 1, .upper = upper, .work = work, .scratch = merged,
      .throwaway = true};
  int fd = -1, r;

  snprintf(lower, sizeof(lower), "%s/lower", dir);
  snprintf(upper, sizeof(upper), "%s/upper", dir);
  snprintf(work, sizeof(work), "%s/work", dir);
  snprintf(merged, sizeof(merged), "%s/merged", dir);
  if (mkdirat(s->datafd, lower, 0700) < 0 || mkdirat(s->datafd, upper, 0700) < 0 ||
      mkdirat(s->datafd, work, 0700) < 0)
    return host->error(err, errno, "cannot create a test directory in '%s'", s->data_dir);
  r = ovl_mount(s, &m, NULL, &fd, err);
  if (r < 0)
    return host->error_wrap(err, "a test mount failed");
  close(fd);
  return 0;
}

/* d_type and trusted xattrs: overlay needs both from the file system under
 * its layers (whiteouts are found through d_type, opaque directories are an
 * xattr). */
static int probe_fs(struct driver_area *s, const char *dir, struct strata_error **err) {
  char file[96];
  int dfd, fd;
  DIR *d;
  struct dirent *de;
  bool dtype = false;

  snprintf(file, sizeof(file), "%s/f", dir);
  fd = openat(s->datafd, file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    return host->error(err, errno, "cannot create a test file in '%s'", s->data_dir);
  if (fsetxattr(fd, "trusted.strata-probe", "y", 1, 0) < 0) {
    int e = errno;
    close(fd);
    return host->error(err, e, "the file system under '%s' has no trusted xattrs, which overlay needs",
                       s->data_dir);
  }
  close(fd);
  dfd = openat(s->datafd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  d = dfd < 0 ? NULL : fdopendir(dfd);
  if (d == NULL) {
    int e = errno;
    if (dfd >= 0)
      close(dfd);
    return host->error(err, e, "cannot read a test directory in '%s'", s->data_dir);
  }
  while ((de = readdir(d)) != NULL)
    if (strcmp(de->d_name, "f") == 0)
      dtype = de->d_type == DT_REG;
  closedir(d);
  if (!dtype)
    return host->error(err, 0,
                       "the file system under '%s' does not report file types in directory "
                       "entries (d_type), which overlay needs",
                       s->data_dir);
  return 0;
}

static int ovl_probe(void *state, struct strata_error **err) {
  struct ovl_state *o = state;
  struct driver_area *s = &o->area;
  struct statfs sfs;
  char dir[64];
  struct strata_error *e = NULL;
  int r;

  if (o->probed)
    return 0;
  if (driver_area_fd(s, err) < 0)
    return -1;
  if (fstatfs(s->datafd, &sfs) < 0)
    return host->error(err, errno, "cannot stat the file system of '%s'", s->data_dir);
  if (sfs.f_type == OVERLAYFS_SUPER_MAGIC)
    return host->error(err, 0, "overlay is not supported on top of overlayfs ('%s' is on overlayfs)",
                       s->data_dir);
  {
    char rnd[SHORT_LEN + 1];
    if (new_short_name(rnd, err) < 0)
      return -1;
    snprintf(dir, sizeof(dir), "probe-%.12s", rnd);
  }
  if (mkdirat(s->datafd, dir, 0700) < 0)
    return host->error(err, errno, "cannot create a test directory in '%s'", s->data_dir);
  r = probe_fs(s, dir, err);
  if (r == 0)
    r = probe_mount(s, dir, err);
  if (remove_at(s, dir, &e) < 0) {
    host->log(STRATA_LOG_WARNING, DOMAIN, "cannot remove '%s/%s'", s->data_dir, dir);
    drop_error(&e);
  }
  if (r == 0)
    o->probed = true;
  return r;
}

/* ------------------------------------------------------------------ flattening */

/* Fills DSTFD with the merged tree of CHAIN (SCRATCH: see struct mount_spec). */
static int flatten(struct driver_area *s, const struct chain *c, int dstfd, const char *scratch,
                   struct strata_error **err) {
  struct mount_spec m = {.lowers = c->names, .nlowers = c->n, .scratch = scratch};
  int src = -1, r;

  if (ovl_mount(s, &m, NULL, &src, err) < 0)
    return -1;
  /* a merged, read-only view: overlay's own xattrs are not content */
  r = host->copy_tree(src, dstfd, STRATA_COPY_DROP_OVERLAY_XATTRS, err);
  close(src);
  return r;
}

/* ------------------------------------------------------------------ hardlinks to lower files */

/* Without its index, overlay copies a lower file up when a link is made to
 * it, and the copy is a new inode: the lower file's other names still lead
 * to the old one, so the hardlink set the layer asked for would come apart.
 * The layer engine replaces files rather than changing them, so through the
 * staging mount only such a link copies a file up: an upper file with an
 * origin xattr is one.  At commit its lower aliases are linked to the copy
 * too, and the layer holds the whole set (as a copy driver's would). */

struct walk_hit {
  char *path;
  ino_t ino;    /* as the merged view reports it: the origin's */
  char *target; /* for an alias: the upper file to link it to */
};
struct walk_list {
  struct walk_hit *v;
  size_t n, cap;
};

static void walk_list_free(struct walk_list *l) {
  for (size_t i = 0; i < l->n; i++) {
    free(l->v[i].path);
    free(l->v[i].target);
  }
  free(l->v);
}

static int walk_add(struct walk_list *l, const char *path, ino_t ino, const char *target) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 16;
    struct walk_hit *n = realloc(l->v, cap * sizeof(*n));
    if (n == NULL)
      return -1;
    l->v = n;
    l->cap = cap;
  }
  l->v[l->n] = (struct walk_hit){strdup(path), ino, target ? strdup(target) : NULL};
  if (l->v[l->n].path == NULL)
    return -1;
  l->n++;
  return 0;
}

/* Calls FN for every non-directory under DIRFD (paths relative to it). */
static int walk_tree(int dirfd, const char *rel,
                     int (*fn)(int pfd, const char *name, const char *path, void *arg), void *arg) {
  int fd = openat(dirfd, *rel ? rel : ".", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  DIR *d = fd < 0 ? NULL : fdopendir(fd);
  struct dirent *de;
  int r = 0;

  if (d == NULL) {
    if (fd >= 0)
      close(fd);
    return -1;
  }
  while (r == 0 && (de = readdir(d)) != NULL) {
    char *child;
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
      continue;
    if (asprintf(&child, "%s%s%s", rel, *rel ? "/" : "", de->d_name) < 0) {
      r = -1;
      break;
    }
    if (de->d_type == DT_DIR)
      r = walk_tree(dirfd, child, fn, arg);
    else if (de->d_type == DT_UNKNOWN) {
      struct stat st;
      if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
        r = walk_tree(dirfd, child, fn, arg);
      else
        r = fn(fd, de->d_name, child, arg);
    } else
      r = fn(fd, de->d_name, child, arg);
    free(child);
  }
  closedir(d);
  return r;
}

struct copied_ctx {
  int mergedfd;
  struct walk_list *copied;
};

/* an upper file made by a copy-up: a link to it was made */
static int find_copied(int pfd, const char *name, const char *path, void *arg) {
  struct copied_ctx *c = arg;
  struct stat st;
  char v[8];
  int fd;
  ssize_t n;

  if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode) || st.st_nlink < 2)
    return 0;
  fd = openat(pfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return 0;
  n = fgetxattr(fd, "trusted.overlay.origin", v, 0);
  close(fd);
  if (n < 0)
    return 0;
  if (fstatat(c->mergedfd, path, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return 0;
  return walk_add(c->copied, path, st.st_ino, NULL);
}

struct alias_ctx {
  int diffd;
  struct walk_list *copied, *aliases;
};

/* a name in the merged view that still leads to the lower inode */
static int find_alias(int pfd, const char *name, const char *path, void *arg) {
  struct alias_ctx *c = arg;
  struct stat st, up;
  if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
    return 0;
  for (size_t i = 0; i < c->copied->n; i++) {
    if (c->copied->v[i].ino != st.st_ino)
      continue;
    /* already in the upper directory: the copy itself or its new link */
    if (fstatat(c->diffd, path, &up, AT_SYMLINK_NOFOLLOW) == 0)
      return 0;
    return walk_add(c->aliases, path, st.st_ino, c->copied->v[i].path);
  }
  return 0;
}

static int relink_lower_aliases(int mergedfd, int diffd, const char *id,
                                struct strata_error **err) {
  struct walk_list copied = {0}, aliases = {0};
  struct copied_ctx cc = {mergedfd, &copied};
  struct alias_ctx ac = {diffd, &copied, &aliases};
  int r = 0;

  if (walk_tree(diffd, "", find_copied, &cc) < 0) {
    r = host->error(err, errno, "cannot read the diff of layer %.12s", id);
    goto out;
  }
  if (copied.n == 0)
    goto out;
  if (walk_tree(mergedfd, "", find_alias, &ac) < 0) {
    r = host->error(err, errno, "cannot read layer %.12s", id);
    goto out;
  }
  for (size_t i = 0; i < aliases.n && r == 0; i++) {
    host->log(STRATA_LOG_DEBUG, DOMAIN, "layer %.12s: linking '%s' to its copy '%s'", id,
              aliases.v[i].path, aliases.v[i].target);
    /* through the mount: a whiteout for the lower name, then the link */
    if (unlinkat(mergedfd, aliases.v[i].path, 0) < 0 ||
        linkat(mergedfd, aliases.v[i].target, mergedfd, aliases.v[i].path, 0) < 0)
      r = host->error(err, errno, "cannot link '%s' to '%s' in layer %.12s", aliases.v[i].path,
                      aliases.v[i].target, id);
  }
out:
  walk_list_free(&copied);
  walk_list_free(&aliases);
  return r;
}

/* ------------------------------------------------------------------ layers */

/* How many layers one mount may stack: the kernel's limit, or less when
 * STRATA_OVERLAY_MAX_LAYERS says so (to exercise flattening without
 * building a 500-layer image). */
static size_t max_lowers(void) {
  const char *e = getenv("STRATA_OVERLAY_MAX_LAYERS");
  char *end;
  long v;
  if (e == NULL || *e == '\0')
    return OVL_MAX_LOWERS;
  v = strtol(e, &end, 10);
  if (*end != '\0' || v < 2 || v > OVL_MAX_LOWERS)
    return OVL_MAX_LOWERS;
  return (size_t)v;
}

static void remove_layer_link(struct driver_area *s, const char *dir) {
  char path[300], *link = NULL;
  struct strata_error *e = NULL;

  snprintf(path, sizeof(path), "%s/link", dir);
  if (read_text(s->datafd, path, &link, &e) == 0 && valid_short(link)) {
    snprintf(path, sizeof(path), "l/%s", link);
    unlinkat(s->datafd, path, 0);
  }
  drop_error(&e);
  free(link);
}

/* Writes DIR/lower: the chain PC of the layer's parent. */
static int write_lower(struct driver_area *s, const char *dir, const struct chain *pc,
                       const char *id, struct strata_error **err) {
  char path[300], *lower = NULL;
  int r;

  snprintf(path, sizeof(path), "%s/lower", dir);
  for (size_t i = 0; i < pc->n; i++) {
    size_t l = lower ? strlen(lower) : 0;
    char *n = realloc(lower, l + strlen(pc->names[i]) + 2);
    if (n == NULL) {
      free(lower);
      return host->error(err, ENOMEM, "cannot stage layer %.12s", id);
    }
    lower = n;
    sprintf(lower + l, "%s%s", l ? ":" : "", pc->names[i]);
  }
  r = write_text(s->datafd, path, lower ? lower : "", err);
  free(lower);
  return r;
}

/* A detached stage (DIR) goes on top of its parent, published by now.
 * EXDEV when the stack would be deeper than one mount takes: such a layer
 * is stored flattened, which a diff written apart cannot be. */
static int tie_to_parent(struct driver_area *s, const char *dir, const char *id,
                         struct strata_error **err) {
  char path[300], *parent = NULL;
  struct chain pc = {0};
  int r;

  snprintf(path, sizeof(path), "%s/parent", dir);
  r = read_text(s->datafd, path, &parent, err);
  if (r != 0)
    return r < 0 ? -1 : 0; /* not a detached stage */
  if (!driver_valid_id(parent)) {
    free(parent);
    return host->error(err, 0, "staged layer %.12s has a damaged parent", id);
  }
  r = layer_chain(s, parent, &pc, err);
  free(parent);
  if (r < 0)
    return host->error_wrap(err, "parent of layer %.12s", id);
  if (pc.n + 1 > max_lowers()) {
    chain_free(&pc);
    return host->error(err, EXDEV, "layer %.12s would stack more than overlay's %zu layers", id,
                       max_lowers());
  }
  r = write_lower(s, dir, &pc, id, err);
  chain_free(&pc);
  if (r < 0)
    return -1;
  return unlinkat(s->datafd, path, 0) < 0 ? host->error(err, errno, "cannot tie layer %.12s", id)
                                           : 0;
}

static int ovl_layer_stage(void *state, const char *id, const char *parent,
                           struct strata_layer_stage *stage, struct strata_error **err) {
  struct driver_area *s = state;
  char dir[200], diff[220], work[220], link[SHORT_LEN + 1], path[300];
  struct chain pc = {0};
  bool flat = false;
  /* the parent may still be being written: see STRATA_STAGE_DETACHED */
  bool detached = parent != NULL &&
                  stage->size >= offsetof(struct strata_layer_stage, flags) + sizeof(stage->flags) &&
                  (stage->flags & STRATA_STAGE_DETACHED);
  int diffd = -1, r;

  if (driver_stage_begin(s, id, parent, err) < 0)
    return -1;
  snprintf(dir, sizeof(dir), "staging/%s", id);
  snprintf(diff, sizeof(diff), "%s/diff", dir);
  snprintf(work, sizeof(work), "%s/work", dir);

  if (parent != NULL && !detached) {
    if (layer_chain(s, parent, &pc, err) < 0)
      return host->error_wrap(err, "parent layer %.12s", parent);
    /* the new layer's chain would be itself plus pc */
    flat = pc.n + 1 > max_lowers();
  }
  if (new_short_name(link, err) < 0) {
    chain_free(&pc);
    return -1;
  }
  if (mkdirat(s->datafd, dir, 0700) < 0 || mkdirat(s->datafd, diff, 0755) < 0 ||
      mkdirat(s->datafd, work, 0700) < 0) {
    host->error(err, errno, "cannot create '%s/%s'", s->data_dir, dir);
    goto fail;
  }
  snprintf(path, sizeof(path), "%s/link", dir);
  if (write_text(s->datafd, path, link, err) < 0)
    goto fail;
  if (parent != NULL && !flat && !detached && write_lower(s, dir, &pc, id, err) < 0)
    goto fail;
  if (detached) {
    /* the parent is tied in at commit, once it is there */
    snprintf(path, sizeof(path), "%s/parent", dir);
    if (write_text(s->datafd, path, parent, err) < 0)
      goto fail;
  }
  diffd = openat(s->datafd, diff, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (diffd < 0) {
    host->error(err, errno, "cannot open '%s/%s'", s->data_dir, diff);
    goto fail;
  }
  /* mkdir's mode went through the umask */
  if (fchmod(diffd, 0755) < 0) {
    host->error(err, errno, "cannot set the mode of '%s/%s'", s->data_dir, diff);
    goto fail;
  }

  if (parent == NULL) {
    stage->dirfd = diffd;
    stage->whiteout_mode = STRATA_WHITEOUT_IN_PLACE; /* nothing below to hide */
    return 0;
  }
  if (detached) {
    /* the core gives the root its parent's attributes when the layer has
     * none of its own */
    stage->dirfd = diffd;
    stage->whiteout_mode = STRATA_WHITEOUT_OVERLAY;
    return 0;
  }
  if (flat) {
    host->log(STRATA_LOG_INFO, DOMAIN,
              "layer %.12s would stack %zu layers, more than overlay's %zu: storing it flattened",
              id, pc.n + 1, max_lowers());
    snprintf(path, sizeof(path), "%s/merged", dir);
    if (flatten(s, &pc, diffd, path, err) < 0) {
      host->error_wrap(err, "cannot flatten layer %.12s", id);
      goto fail;
    }
    chain_free(&pc);
    stage->dirfd = diffd;
    stage->whiteout_mode = STRATA_WHITEOUT_IN_PLACE;
    return 0;
  }
  {
    char ppath[300];
    int pfd;
    snprintf(ppath, sizeof(ppath), "layers/%s/diff", parent);
    pfd = openat(s->datafd, ppath, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (pfd < 0) {
      host->error(err, errno, "cannot open '%s/%s'", s->data_dir, ppath);
      goto fail;
    }
    /* the root of a merged view takes its attributes from the topmost
     * layer, so a new diff starts as its parent's root looks */
    r = driver_copy_dir_attrs(s, pfd, diffd, ppath, err);
    close(pfd);
    if (r < 0)
      goto fail;
  }
  snprintf(path, sizeof(path), "%s/merged", dir);
  {
    struct mount_spec m = {.lowers = pc.names,
                           .nlowers = pc.n,
                           .upper = diff,
                           .work = work,
                           .staging = true,
                           .index = true,
                           .throwaway = true,
                           .scratch = path};
    struct strata_error *e = NULL;
    int mfd = -1;
    r = ovl_mount(s, &m, NULL, &mfd, &e);
    if (r < 0) {
      /* e.g. a lower file system without file handles: no index, and a
       * hardlink to a lower file then splits from its other names */
      host->log(STRATA_LOG_INFO, DOMAIN, "staging layer %.12s without overlay's index", id);
      drop_error(&e);
      m.index = false;
      r = ovl_mount(s, &m, NULL, &mfd, &e);
    }
    if (r == 0) {
      close(diffd);
      chain_free(&pc);
      stage->dirfd = mfd;
      stage->whiteout_mode = STRATA_WHITEOUT_IN_PLACE;
      return 0;
    }
    /* Written directly, whiteouts in overlay's own form; only a hardlink
     * to a lower layer's file cannot be made this way. */
    host->log(STRATA_LOG_WARNING, DOMAIN,
              "cannot stage layer %.12s on an overlay mount; writing its diff directly (a "
              "hardlink to a lower layer's file will fail)", id);
    drop_error(&e);
  }
  chain_free(&pc);
  stage->dirfd = diffd;
  stage->whiteout_mode = STRATA_WHITEOUT_OVERLAY;
  return 0;

fail:
  chain_free(&pc);
  if (diffd >= 0)
    close(diffd);
  driver_area_discard(s, "staging", id);
  return -1;
}

static int ovl_layer_commit(void *state, const char *id, struct strata_layer_stage *stage,
                            struct strata_error **err) {
  struct driver_area *s = state;
  char dir[200], to[200], path[300], target[300], *link = NULL;

  snprintf(dir, sizeof(dir), "staging/%s", id);
  snprintf(to, sizeof(to), "layers/%s", id);
  /* before anything else: a stage it refuses is still whole, to abort */
  if (tie_to_parent(s, dir, id, err) < 0)
    return -1;
  if (stage->dirfd >= 0) {
    struct statfs sfs;
    int r = 0;
    if (fstatfs(stage->dirfd, &sfs) == 0 && sfs.f_type == OVERLAYFS_SUPER_MAGIC) {
      int diffd;
      snprintf(path, sizeof(path), "%s/diff", dir);
      diffd = openat(s->datafd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      r = diffd < 0 ? host->error(err, errno, "cannot open '%s/%s'", s->data_dir, path)
                    : relink_lower_aliases(stage->dirfd, diffd, id, err);
      if (diffd >= 0)
        close(diffd);
    }
    /* for a staging mount, this is its last reference: it goes away */
    close(stage->dirfd);
    stage->dirfd = -1;
    if (r < 0)
      return -1;
  }
  /* the work directory belongs to the staging mount, which is gone */
  snprintf(path, sizeof(path), "%s/work", dir);
  if (remove_at(s, path, err) < 0)
    return -1;
  snprintf(path, sizeof(path), "%s/merged", dir);
  unlinkat(s->datafd, path, AT_REMOVEDIR);
  snprintf(path, sizeof(path), "%s/link", dir);
  if (read_text(s->datafd, path, &link, err) != 0 || !valid_short(link)) {
    free(link);
    return host->error(err, 0, "staged layer %.12s has no link name", id);
  }
  snprintf(path, sizeof(path), "l/%s", link);
  snprintf(target, sizeof(target), "../layers/%s/diff", id);
  free(link);
  /* the link first: a layer in place always has its link */
  if (symlinkat(target, s->datafd, path) < 0)
    return host->error(err, errno, "cannot create '%s/%s'", s->data_dir, path);
  if (renameat(s->datafd, dir, s->datafd, to) < 0) {
    int e = errno;
    unlinkat(s->datafd, path, 0);
    return host->error(err, e, "cannot publish layer '%s'", id);
  }
  return 0;
}

/* Every removal in DATA goes through here (driver_area_remove): a layer
 * takes its short name in l/ with it. */
static int ovl_remove(struct driver_area *s, const char *dir, const char *name,
                      struct strata_error **err) {
  char path[200];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  if (strcmp(dir, "layers") == 0)
    remove_layer_link(s, path);
  return remove_at(s, path, err);
}

/* ------------------------------------------------------------------ containers */

static int ovl_container_create(void *state, const char *id, const char *layer,
                                struct strata_error **err) {
  struct driver_area *s = state;
  char name[200], tmp[220], final[200], path[300];
  struct chain c = {0};
  int lfd = -1, dfd = -1;

  if (driver_create_begin(s, id, layer, err) < 0)
    return -1;
  snprintf(name, sizeof(name), "%s.new", id);
  snprintf(tmp, sizeof(tmp), "containers/%s", name);
  snprintf(final, sizeof(final), "containers/%s", id);
  if (layer_chain(s, layer, &c, err) < 0)
    return host->error_wrap(err, "cannot make container %.12s", id);
  if (c.n > OVL_MAX_LOWERS) { /* a store made before flattening existed */
    chain_free(&c);
    return host->error(err, 0, "the image has %zu layers; overlay stacks at most %d", c.n,
                       OVL_MAX_LOWERS);
  }
  if (mkdirat(s->datafd, tmp, 0700) < 0)
    goto fail_errno;
  snprintf(path, sizeof(path), "%s/diff", tmp);
  if (mkdirat(s->datafd, path, 0755) < 0)
    goto fail_errno;
  dfd = openat(s->datafd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  snprintf(path, sizeof(path), "layers/%s/diff", layer);
  lfd = openat(s->datafd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dfd < 0 || lfd < 0)
    goto fail_errno;
  if (driver_copy_dir_attrs(s, lfd, dfd, "the container's image", err) < 0)
    goto fail;
  close(lfd);
  close(dfd);
  lfd = dfd = -1;
  snprintf(path, sizeof(path), "%s/work", tmp);
  if (mkdirat(s->datafd, path, 0700) < 0)
    goto fail_errno;
  snprintf(path, sizeof(path), "%s/merged", tmp);
  if (mkdirat(s->datafd, path, 0700) < 0)
    goto fail_errno;
  /* restore the ':' that chain_split cut */
  {
    char *text = NULL;
    size_t len = 0;
    for (size_t i = 0; i < c.n; i++)
      len += strlen(c.names[i]) + 1;
    text = malloc(len + 1);
    if (text == NULL) {
      host->error(err, ENOMEM, "cannot make container %.12s", id);
      goto fail;
    }
    *text = '\0';
    for (size_t i = 0; i < c.n; i++)
      sprintf(text + strlen(text), "%s%s", i ? ":" : "", c.names[i]);
    snprintf(path, sizeof(path), "%s/lower", tmp);
    if (write_text(s->datafd, path, text, err) < 0) {
      free(text);
      goto fail;
    }
    free(text);
  }
  chain_free(&c);
  if (renameat(s->datafd, tmp, s->datafd, final) < 0) {
    host->error(err, errno, "cannot publish container '%s'", id);
    driver_area_discard(s, "containers", name);
    return -1;
  }
  return 0;

fail_errno:
  host->error(err, errno, "cannot make the root of container %.12s", id);
fail:
  if (lfd >= 0)
    close(lfd);
  if (dfd >= 0)
    close(dfd);
  chain_free(&c);
  driver_area_discard(s, "containers", name);
  return -1;
}

static int ovl_container_mount(void *state, const char *id, char **path,
                               struct strata_error **err) {
  struct driver_area *s = state;
  char dir[200], merged[220], upper[220], work[220], lowerp[220];
  struct chain c = {0};
  int m;

  if (driver_area_use(s, id, "container ID", err) < 0)
    return -1;
  snprintf(dir, sizeof(dir), "containers/%s", id);
  snprintf(merged, sizeof(merged), "%s/merged", dir);
  snprintf(upper, sizeof(upper), "%s/diff", dir);
  snprintf(work, sizeof(work), "%s/work", dir);
  snprintf(lowerp, sizeof(lowerp), "%s/lower", dir);
  m = is_mount_root(s, merged);
  if (m < 0 || (m == 0 && faccessat(s->datafd, merged, F_OK, AT_SYMLINK_NOFOLLOW) < 0))
    return host->error(err, errno, "container %.12s has no root file system", id);
  if (m == 0) {
    struct mount_spec ms = {.upper = upper, .work = work};
    int r = read_text(s->datafd, lowerp, &c.text, err);
    if (r != 0) {
      if (r == 1)
        host->error(err, ENOENT, "container %.12s has no layer list", id);
      return -1;
    }
    if (chain_split(&c, id, err) < 0) {
      chain_free(&c);
      return -1;
    }
    ms.lowers = c.names;
    ms.nlowers = c.n;
    r = ovl_mount(s, &ms, merged, NULL, err);
    chain_free(&c);
    if (r < 0)
      return host->error_wrap(err, "cannot mount the root of container %.12s", id);
  }
  if (asprintf(path, "%s/%s", s->data_dir, merged) < 0) {
    *path = NULL;
    return host->error(err, ENOMEM, "cannot mount container %.12s", id);
  }
  return 0;
}

static int ovl_container_unmount(void *state, const char *id, struct strata_error **err) {
  struct driver_area *s = state;
  char merged[220];
  if (driver_area_use(s, id, "container ID", err) < 0)
    return -1;
  snprintf(merged, sizeof(merged), "containers/%s/merged", id);
  return unmount_at(s, merged, err);
}

static int ovl_container_remove(void *state, const char *id, struct strata_error **err) {
  struct driver_area *s = state;
  char dir[200];
  if (!driver_valid_id(id))
    return host->error(err, 0, "invalid container ID");
  if (ovl_container_unmount(state, id, err) < 0)
    return -1;
  snprintf(dir, sizeof(dir), "containers/%s", id);
  return remove_at(s, dir, err);
}

/* ------------------------------------------------------------------ recovery */

/* Drops a layer being written or a container being made (or a probe's
 * folder): a staging mount made with mount(2) may still be attached. */
static void drop_leftover(struct driver_area *s, const char *dir, const char *name) {
  struct strata_error *e = NULL;
  char path[300];
  snprintf(path, sizeof(path), "%s/%s/merged", dir, name);
  unmount_at(s, path, &e);
  drop_error(&e);
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  remove_at(s, path, &e);
  drop_error(&e);
}

static bool probe_name(const char *name) { return strncmp(name, "probe-", 6) == 0; }

static int ovl_recover(void *state, struct strata_error **err) {
  struct driver_area *s = state;
  int fd;
  DIR *d;
  struct dirent *de;

  if (driver_area_recover(s, drop_leftover, err) < 0)
    return -1;
  driver_area_clear(s, ".", probe_name, drop_leftover);
  /* links whose layer never made it into place */
  fd = openat(s->datafd, "l", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  d = fd < 0 ? NULL : fdopendir(fd);
  while (d && (de = readdir(d)) != NULL) {
    struct stat st;
    if (de->d_name[0] != '.' && fstatat(fd, de->d_name, &st, 0) < 0 && errno == ENOENT)
      unlinkat(fd, de->d_name, 0);
  }
  if (d)
    closedir(d);
  else if (fd >= 0)
    close(fd);
  return 0;
}

/* A layer's or container's diff directory holds exactly its changes, in
 * overlay's own form; the lowers are the diffs of the stack below it.  A
 * layer stored flattened (deeper than the kernel's stack) is a full tree
 * without lowers: its own changes were not kept apart. */
static int ovl_diff_dirs(void *state, const char *id, const char *parent,
                         enum strata_diff_kind kind, struct strata_diff_dirs *out,
                         struct strata_error **err) {
  struct driver_area *s = state;
  const char *dir = kind == STRATA_DIFF_CONTAINER ? "containers" : "layers";
  struct chain c = {0};
  char path[300], *upper = NULL, **lowers = NULL;
  int r;

  (void)parent;
  if (driver_area_use(s, id, "layer or container ID", err) < 0)
    return -1;
  snprintf(path, sizeof(path), "%s/%s/lower", dir, id);
  r = read_text(s->datafd, path, &c.text, err);
  if (r < 0)
    return -1;
  if (r == 0 && chain_split(&c, id, err) < 0) {
    chain_free(&c);
    return -1;
  }
  lowers = calloc(c.n + 1, sizeof(*lowers));
  if (lowers == NULL || asprintf(&upper, "%s/%s/%s/diff", s->data_dir, dir, id) < 0)
    goto nomem;
  for (size_t i = 0; i < c.n; i++)
    if (asprintf(&lowers[i], "%s/%s", s->data_dir, c.names[i]) < 0) {
      lowers[i] = NULL;
      goto nomem;
    }
  chain_free(&c);
  out->flags = r == 0 || parent == NULL ? STRATA_DIFF_PURE : 0;
  out->upper = upper;
  out->lowers = lowers;
  return 0;
nomem:
  chain_free(&c);
  for (size_t i = 0; lowers && lowers[i]; i++)
    free(lowers[i]);
  free(lowers);
  free(upper);
  return host->error(err, ENOMEM, "cannot list changes");
}

static const struct strata_storage_ops ovl_ops = {
    .version = STRATA_STORAGE_OPS_VERSION,
    .caps = STRATA_STORAGE_CAP_DETACHED_STAGE,
    .probe = ovl_probe,
    .recover = ovl_recover,
    .layer_stage = ovl_layer_stage,
    .layer_commit = ovl_layer_commit,
    .layer_abort = driver_layer_abort,
    .layer_remove = driver_layer_remove,
    .container_create = ovl_container_create,
    .container_mount = ovl_container_mount,
    .container_unmount = ovl_container_unmount,
    .diff_dirs = ovl_diff_dirs,
    .container_remove = ovl_container_remove,
    /* a layer's diff holds only what it changed, a flattened one all of it;
     * a container's folder its upper and work directories (merged is a
     * mount point, not crossed) */
    .layer_usage = driver_layer_usage,
    .container_usage = driver_container_usage,
};

static const struct strata_plugin_info ovl_info = {
    STRATA_PLUGIN_INFO_INIT(STRATA_PLUGIN_STORAGE, "overlay", PACKAGE_VERSION,
                            "a directory per layer, containers mounted with overlayfs",
                            "Apache-2.0"),
    .init = ovl_init,
    .fini = driver_area_free,
    .ops = &ovl_ops,
};

STRATA_PLUGIN_DEFINE(ovl_info)
