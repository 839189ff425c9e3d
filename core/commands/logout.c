/* strata logout: forget a registry's credentials in Docker's client file. */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "auth-file.h"
#include "cleanup.h"
#include "commands.h"

static const char help[] = "Usage:  strata logout [SERVER]\n\n"
                           "Log out from a registry.\n"
                           "If no server is specified, the default is Docker Hub (docker.io).\n";

int cmd_logout(struct strata_context *ctx, int argc, char **argv) {
  struct strata_error *err = NULL;
  cleanup_free char *domain = NULL, *key = NULL, *path = NULL;
  bool found;

  (void)ctx;
  if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
    cli_help("logout", help);
    return 0;
  }
  if (argc > 1 && argv[1][0] == '-')
    return cli_usage("logout", EXIT_ENGINE, "unknown flag: %s", argv[1]);
  if (argc > 2)
    return cli_usage("logout", EXIT_ENGINE, "\"logout\" requires at most 1 argument");
  if (strata_auth_server(argc > 1 ? argv[1] : NULL, &domain, &key, &err) < 0)
    return cli_fail(err, 1);
  path = strata_auth_file_path();
  if (path == NULL)
    return cli_failf(1, "cannot find the credentials file: $HOME is not set");
  if (strata_auth_file_remove(path, key, &found, &err) < 0)
    return cli_fail(err, 1);
  if (found)
    printf("Removing login credentials for %s\n", key);
  else
    printf("Not logged in to %s\n", key);
  return 0;
}
