/* Registry credentials in Docker's client file, ${DOCKER_CONFIG:-~/.docker}/config.json:
 *
 *   {"auths": {"127.0.0.1:5000": {"auth": base64("user:pass")}, ...}, ...other keys}
 *
 * written by `strata login` and `strata logout` the way Docker writes it (the
 * docker transport reads it back when pulling).  Docker Hub's key is
 * "https://index.docker.io/v1/", any other registry's its "host[:port]".  The
 * file is replaced atomically (a temporary file in the same directory, mode
 * 0600, renamed over it) and every key strata does not own is kept. */
#ifndef STRATA_CORE_AUTH_FILE_H
#define STRATA_CORE_AUTH_FILE_H

#include <stdbool.h>

#include "error.h"

#define STRATA_DOCKER_HUB_KEY "https://index.docker.io/v1/"

/* The credentials file's path (malloc'd), or NULL without $HOME. */
char *strata_auth_file_path(void);

/* SERVER as the user gave it ("https://h:5000/v2/", "docker.io", NULL for
 * Docker Hub) -> *domain, the registry's name in references ("h:5000",
 * "docker.io"), and *key, its key in "auths".  Both malloc'd. */
int strata_auth_server(const char *server, char **domain, char **key, struct strata_error **err);

/* The user name stored for KEY (malloc'd), or NULL. */
char *strata_auth_file_user(const char *path, const char *key);
/* Stores USER:PASSWORD for KEY. */
int strata_auth_file_store(const char *path, const char *key, const char *user,
                           const char *password, struct strata_error **err);
/* Removes every entry of "auths" naming the same registry as KEY; *found says
 * whether there was one. */
int strata_auth_file_remove(const char *path, const char *key, bool *found,
                            struct strata_error **err);

#endif
