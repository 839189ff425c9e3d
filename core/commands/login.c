/* strata login: check credentials against a registry, then keep them in
 * Docker's client file (~/.docker/config.json) for pulls to use. */
#include "config.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "auth-file.h"
#include "cleanup.h"
#include "commands.h"

static const char help[] =
    "Usage:  strata login [OPTIONS] [SERVER]\n\n"
    "Log in to a registry.\n"
    "If no server is specified, the default is Docker Hub (docker.io).\n\n"
    "Options:\n"
    "  -p, --password string   Password\n"
    "      --password-stdin    Take the password from stdin\n"
    "      --tls-verify        Require HTTPS and verify certificates (default: true unless the\n"
    "                          registry is in insecure-registries)\n"
    "  -u, --username string   Username\n";

/* One line from stdin without its line end; with ECHO_OFF on a terminal the
 * typing is not shown.  NULL at EOF. */
static char *read_line(bool echo_off) {
  struct termios old, quiet;
  bool restore = false;
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;

  if (echo_off && tcgetattr(STDIN_FILENO, &old) == 0) {
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    restore = tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
  }
  n = getline(&line, &cap, stdin);
  if (restore) {
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    fputc('\n', stderr);
  }
  if (n < 0) {
    free(line);
    return NULL;
  }
  while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
    line[--n] = '\0';
  return line;
}

static void secret_free(char *s) {
  if (s != NULL) {
    explicit_bzero(s, strlen(s));
    free(s);
  }
}

int cmd_login(struct strata_context *ctx, int argc, char **argv) {
  static const struct option opts[] = {
      {"username", required_argument, NULL, 'u'},
      {"password", required_argument, NULL, 'p'},
      {"password-stdin", no_argument, NULL, 'S'},
      {"tls-verify", optional_argument, NULL, 'T'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  struct strata_error *err = NULL;
  struct strata_transport_options o = {.size = sizeof(o)};
  const struct strata_transport_ops *ops;
  struct strata_plugin *tp;
  cleanup_free char *domain = NULL, *key = NULL, *path = NULL, *user = NULL;
  char *password = NULL;
  bool from_stdin = false, verify;
  int c, r;

  while ((c = getopt_long(argc, argv, "+u:p:h", opts, NULL)) != -1) {
    switch (c) {
    case 'u':
      free(user);
      user = strdup(optarg);
      break;
    case 'p':
      secret_free(password);
      password = strdup(optarg);
      break;
    case 'S':
      from_stdin = true;
      break;
    case 'T':
      if (cli_parse_bool(optarg, &verify) < 0) {
        secret_free(password);
        return cli_usage("login", EXIT_ENGINE, "invalid argument \"%s\" for \"--tls-verify\" flag", optarg);
      }
      o.tls_verify = verify ? STRATA_TLS_VERIFY_ON : STRATA_TLS_VERIFY_OFF;
      break;
    case 'h':
      secret_free(password);
      cli_help("login", help);
      return 0;
    default:
      secret_free(password);
      return cli_bad_option("login");
    }
  }
  if (argc - optind > 1) {
    secret_free(password);
    return cli_usage("login", EXIT_ENGINE, "\"login\" requires at most 1 argument");
  }
  if (password != NULL && from_stdin) {
    secret_free(password);
    return cli_failf(1, "--password and --password-stdin are mutually exclusive");
  }
  if (from_stdin && user == NULL)
    return cli_failf(1, "Must provide --username with --password-stdin");
  if (password != NULL)
    fprintf(stderr, "WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n");
  if (strata_auth_server(argc > optind ? argv[optind] : NULL, &domain, &key, &err) < 0) {
    secret_free(password);
    return cli_fail(err, 1);
  }
  path = strata_auth_file_path();
  if (path == NULL) {
    secret_free(password);
    return cli_failf(1, "cannot find the credentials file: $HOME is not set");
  }

  /* what was not given is asked for, on a terminal only (as Docker) */
  if (from_stdin) {
    password = read_line(false);
    if (password == NULL)
      return cli_failf(1, "no password on stdin");
  }
  if ((user == NULL || password == NULL) && !isatty(STDIN_FILENO)) {
    secret_free(password);
    return cli_failf(1, "Cannot perform an interactive login from a non TTY device");
  }
  if (user == NULL) {
    cleanup_free char *old = strata_auth_file_user(path, key);
    if (old != NULL)
      fprintf(stderr, "Username (%s): ", old);
    else
      fprintf(stderr, "Username: ");
    user = read_line(false);
    if (user != NULL && *user == '\0' && old != NULL) {
      free(user);
      user = steal_ptr(old);
    }
  }
  if (user == NULL || *user == '\0') {
    secret_free(password);
    return cli_failf(1, "Username is required");
  }
  if (password == NULL) {
    fprintf(stderr, "Password: ");
    password = read_line(true);
  }
  if (password == NULL || *password == '\0') {
    secret_free(password);
    return cli_failf(1, "Password is required");
  }

  /* the registry says whether they are good (the docker transport speaks
   * its challenge flow); only then are they written */
  o.domain = domain;
  if (strata_context_transport(ctx, "docker", &tp, &err) < 0) {
    secret_free(password);
    return cli_fail(err, 1);
  }
  ops = tp->info->ops;
  if (ops->version < 3 || ops->check_auth == NULL) {
    secret_free(password);
    return cli_failf(1, "the docker transport plugin cannot check credentials (it predates "
                        "transport ABI 3)");
  }
  r = ops->check_auth(tp->state, &o, user, password, &err);
  if (r == 0)
    r = strata_auth_file_store(path, key, user, password, &err);
  secret_free(password);
  if (r < 0)
    return cli_fail(err, 1);
  fprintf(stderr, "WARNING! Your credentials are stored unencrypted in '%s'.\n", path);
  printf("Login Succeeded\n");
  return 0;
}
