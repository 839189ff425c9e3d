#include "config.h"
#include "host.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdio.h>

#include "copy-tree.h"
#include "error.h"
#include "log.h"
#include "safe-path.h"

static void host_log(enum strata_log_level level, const char *domain, const char *fmt, ...) {
  char buf[2048];
  va_list ap;
  if (level > strata_log_get_level())
    return;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  strata_log(level, domain, "%s", buf);
}

static int host_error(struct strata_error **err, int errnum, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  strata_error_setv(err, errnum, fmt, ap);
  va_end(ap);
  return -1;
}

static int host_error_wrap(struct strata_error **err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  strata_error_wrapv(err, fmt, ap);
  va_end(ap);
  return -1;
}

static int host_open_area(const char *dir, const char *const *subdirs,
                          struct strata_error **err) {
  int fd;
  if (mkdir(dir, 0700) < 0 && errno != EEXIST)
    return strata_error_set(err, errno, "cannot create '%s'", dir);
  fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return strata_error_set(err, errno, "cannot open '%s'", dir);
  for (const char *const *d = subdirs; d && *d; d++) {
    if (mkdirat(fd, *d, 0700) < 0 && errno != EEXIST) {
      int e = errno;
      close(fd);
      return strata_error_set(err, e, "cannot create '%s/%s'", dir, *d);
    }
  }
  return fd;
}

static const struct strata_host host = {
    .version = STRATA_HOST_VERSION,
    .size = sizeof(struct strata_host),
    .log = host_log,
    .error = host_error,
    .error_wrap = host_error_wrap,
    .error_free = strata_error_free,
    .open_in_root = strata_open_in_root,
    .remove_tree_at = strata_remove_tree_at,
    .mkdir_p_at = strata_mkdir_p_at,
    .open_area = host_open_area,
    .copy_tree = strata_copy_tree,
    .disk_usage = strata_disk_usage,
    .link_tree = strata_link_tree,
};

const struct strata_host *strata_host_table(void) { return &host; }
