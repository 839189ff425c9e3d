/* Scope-bound cleanup built on __attribute__((cleanup)); every helper is safe
 * on NULL and -1.  Hand ownership on with steal_ptr()/steal_fd(). */
#ifndef STRATA_CORE_CLEANUP_H
#define STRATA_CORE_CLEANUP_H

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "error.h"

static inline void cleanup_freep(void *p) {
  void **pp = (void **)p;
  free(*pp);
}
static inline void cleanup_closep(int *fd) {
  if (*fd >= 0) {
    int saved = errno;
    close(*fd);
    errno = saved;
  }
}
static inline void cleanup_dirp(DIR **d) {
  if (*d != NULL)
    closedir(*d);
}
static inline void cleanup_filep(FILE **f) {
  if (*f != NULL)
    fclose(*f);
}
static inline void cleanup_errorp(struct strata_error **e) { strata_error_free(*e); }

/* NULL-terminated arrays of malloc'd strings */
static inline void strv_free(char **v) {
  if (v == NULL)
    return;
  for (char **p = v; *p != NULL; p++)
    free(*p);
  free(v);
}
static inline void cleanup_strvp(char ***v) { strv_free(*v); }

#define cleanup_free __attribute__((cleanup(cleanup_freep)))
#define cleanup_close __attribute__((cleanup(cleanup_closep)))
#define cleanup_dir __attribute__((cleanup(cleanup_dirp)))
#define cleanup_file __attribute__((cleanup(cleanup_filep)))
#define cleanup_error __attribute__((cleanup(cleanup_errorp)))
#define cleanup_strv __attribute__((cleanup(cleanup_strvp)))


#define steal_ptr(p)                                                                          \
  ({                                                                                         \
    __typeof__(p) steal_tmp_ = (p);                                                          \
    (p) = NULL;                                                                              \
    steal_tmp_;                                                                              \
  })
#define steal_fd(fd)                                                                          \
  ({                                                                                         \
    int steal_tmp_ = (fd);                                                                   \
    (fd) = -1;                                                                               \
    steal_tmp_;                                                                              \
  })

#endif
