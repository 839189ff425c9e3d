/* exec: runs a command in a running container, through its isolation
 * backend's exec() (the namespaces backend joins the container's
 * namespaces and cgroups; chroot chroots into its root). */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "commands.h"
#include "container.h"
#include "json-cleanup.h"
#include "lifecycle.h"
#include "monitor.h"
#include "runspec.h"

static const char help[] =
    "Usage:  strata exec [OPTIONS] CONTAINER COMMAND [ARG...]\n\n"
    "Execute a command in a running container\n\n"
    "Options:\n"
    "  -d, --detach          Detached mode: run command in the background\n"
    "  -e, --env list        Set environment variables\n"
    "  -i, --interactive     Keep STDIN open even if not attached\n"
    "  -t, --tty             Allocate a pseudo-TTY\n"
    "  -u, --user string     Username or UID (format: \"<name|uid>[:<group|gid>]\")\n"
    "  -w, --workdir string  Working directory inside the container\n";

/* KEY=VALUE replaces KEY in ENV; a bare KEY takes the caller's value, as Docker. */
static void env_apply(json_t *env, const char *kv) {
  const char *eq = strchr(kv, '=');
  size_t klen = eq ? (size_t)(eq - kv) : strlen(kv);
  cleanup_free char *full = NULL;
  json_t *v;
  size_t i;
  if (eq == NULL) {
    const char *val = getenv(kv);
    if (val == NULL || asprintf(&full, "%s=%s", kv, val) < 0)
      return;
    kv = full;
  }
  json_array_foreach(env, i, v) {
    const char *s = json_string_value(v);
    if (s && strncmp(s, kv, klen) == 0 && s[klen] == '=') {
      json_array_set_new(env, i, json_string(kv));
      return;
    }
  }
  json_array_append_new(env, json_string(kv));
}

int cmd_exec(struct strata_context *ctx, int argc, char **argv) {
  static const struct option opts[] = {
      {"detach", no_argument, NULL, 'd'},      {"env", required_argument, NULL, 'e'},
      {"interactive", no_argument, NULL, 'i'}, {"tty", no_argument, NULL, 't'},
      {"user", required_argument, NULL, 'u'},  {"workdir", required_argument, NULL, 'w'},
      {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
  };
  struct strata_error *err = NULL;
  struct strata_plugin *iso;
  const struct strata_isolation_ops *iops;
  struct strata_runspec rs;
  cleanup_free char *id = NULL;
  cleanup_free char *rootfs = NULL;
  cleanup_json json_t *rec = NULL;
  cleanup_json json_t *config = NULL;
  cleanup_json json_t *envs = json_array();
  bool detach = false, tty = false, interactive = false;
  const char *user = NULL, *workdir = NULL, *isolation;
  json_t *st, *env, *cmd;
  int c, pid, r;

  while ((c = getopt_long(argc, argv, "+de:itu:w:h", opts, NULL)) != -1) {
    switch (c) {
    case 'd':
      detach = true;
      break;
    case 'e':
      json_array_append_new(envs, json_string(optarg));
      break;
    case 'i':
      interactive = true;
      break;
    case 't':
      tty = true;
      break;
    case 'u':
      user = optarg;
      break;
    case 'w':
      workdir = optarg;
      break;
    case 'h':
      cli_help("exec", help);
      return 0;
    default:
      return cli_bad_option("exec");
    }
  }
  if (argc - optind < 2)
    return cli_usage("exec", EXIT_ENGINE, "\"exec\" requires at least 2 arguments");
  if (workdir != NULL && workdir[0] != '/')
    return cli_failf(EXIT_ENGINE, "the working directory '%s' is invalid, it needs to be an "
                                  "absolute path", workdir);
  if ((c = cli_find_container(ctx, argv[optind], EXIT_ENGINE, &id, &rec)) != 0)
    return c;
  st = json_object_get(rec, "State");
  pid = (int)json_integer_value(json_object_get(st, "Pid"));
  if (strata_container_state(rec, NULL) != STRATA_STATE_RUNNING)
    return cli_failf(EXIT_ENGINE, "container %.12s is not running", id);
  if (pid <= 0 || !strata_proc_is(pid, (unsigned long long)json_integer_value(
                                            json_object_get(st, "StrataPidStart"))))
    return cli_failf(EXIT_ENGINE, "container %.12s has no process strata can enter (started by "
                                  "an isolation backend that does not report it)", id);
  /* the backend that runs the container, whatever today's default is */
  isolation = json_string_value(json_object_get(rec, "Isolation"));
  if (isolation && *isolation && ctx->opts.isolation == NULL)
    ctx->opts.isolation = isolation;
  if (strata_context_isolation(ctx, &iso, &err) < 0)
    return cli_fail(err, EXIT_ENGINE);
  iops = iso->info->ops;
  if (iso->info->abi_minor < 2 || !(iops->caps & STRATA_ISOLATION_CAP_EXEC) || iops->exec == NULL)
    return cli_failf(EXIT_ENGINE, "isolation backend '%s' cannot run a command in a running "
                                  "container (no exec)", iso->info->name);
  /* the container's own config, with the exec's command and options */
  config = json_deep_copy(json_object_get(rec, "Config"));
  if (config == NULL)
    return cli_failf(EXIT_ENGINE, "container %.12s has no config", id);
  cmd = json_array();
  for (int i = optind + 1; i < argc; i++)
    json_array_append_new(cmd, json_string(argv[i]));
  json_object_set_new(config, "Entrypoint", json_null());
  json_object_set_new(config, "Cmd", cmd);
  if (user)
    json_object_set_new(config, "User", json_string(user));
  if (workdir)
    json_object_set_new(config, "WorkingDir", json_string(workdir));
  json_object_set_new(config, "Tty", json_boolean(tty));
  json_object_set_new(config, "OpenStdin", json_boolean(interactive));
  env = json_object_get(config, "Env");
  if (!json_is_array(env)) {
    env = json_array();
    json_object_set_new(config, "Env", env);
  }
  {
    size_t i;
    json_t *v;
    json_array_foreach(envs, i, v) env_apply(env, json_string_value(v));
  }
  if (asprintf(&rootfs, "/proc/%d/root", pid) < 0)
    return cli_failf(EXIT_ENGINE, "out of memory");
  if (strata_runspec_build(config, id, rootfs, &rs, &err) < 0)
    return cli_fail(err, EXIT_ENGINE);
  /* the container's capabilities and flags (--cap-add, --privileged,
   * no-new-privileges) hold for exec too, as in Docker; its mounts are
   * already there, in the namespace the process joins */
  if (strata_runspec_apply_host_config(&rs, json_object_get(rec, "HostConfig"), &err) < 0) {
    strata_runspec_clear(&rs);
    return cli_fail(err, EXIT_ENGINE);
  }
  rs.spec.nmounts = 0;
  rs.spec.run_flags &= ~STRATA_RUN_READ_ONLY;
  /* the process may run for long: the store is not ours to hold */
  strata_store_unlock(ctx->store);
  r = strata_monitor_exec(iso, &rs.spec, pid, detach, &err);
  strata_runspec_clear(&rs);
  if (err != NULL)
    return cli_fail(err, r);
  return r;
}
