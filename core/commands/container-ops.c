/* What create, start, run and rm share: making a container from an image,
 * running it in the foreground, and removing it. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "commands.h"
#include "container.h"
#include "digest.h"
#include "image.h"
#include "json-cleanup.h"
#include "layer-store.h"
#include "log.h"
#include "pull.h"
#include "reference.h"
#include "runspec.h"
#include "safe-path.h"

#define LOG_DOMAIN "container"

/* Finds IMAGE, pulling it first when it is missing (Docker's run/create). */
static int find_or_pull(struct strata_context *ctx, const char *image, const char *platform,
                        char **id, struct strata_error **err) {
  struct strata_pull_options po = {.out = stderr, .platform = platform};
  cleanup_free char *name = NULL;
  int r;

  if (strata_context_store(ctx, true, err) < 0)
    return -1;
  r = strata_image_resolve(ctx->store, image, id, NULL, err);
  if (r <= 0)
    return r;
  {
    /* Docker names the image in full: 'busybox:latest' */
    cleanup_free char *full = strata_image_normalize_name(image, NULL);
    fprintf(stderr, "Unable to find image '%s' locally\n",
            full ? strata_reference_familiar(full) : image);
  }
  return strata_pull(ctx, image, &po, id, &name, err);
}

int cli_container_create(struct strata_context *ctx, const char *image,
                         const struct strata_run_flags *flags, const char *name, bool auto_remove,
                         const char *platform, char **out_id, struct strata_error **err) {
  const struct strata_storage_ops *ops;
  void *state;
  cleanup_free char *image_id = NULL;
  cleanup_free char *cfg_data = NULL;
  cleanup_free char *id = strata_container_new_id();
  cleanup_free char *cname = NULL;
  cleanup_free char *now = strata_now_rfc3339();
  cleanup_json json_t *img = NULL;
  cleanup_json json_t *cfg = NULL;
  cleanup_json json_t *config = NULL;
  cleanup_json json_t *rec = NULL;
  json_t *path = NULL, *args = NULL, *layers;
  const char *top;

  if (id == NULL || now == NULL)
    return strata_error_set(err, ENOMEM, "cannot create container");
  if (find_or_pull(ctx, image, platform, &image_id, err) < 0)
    return -1;
  if (strata_context_storage(ctx, &ops, &state, err) < 0)
    return -1;
  if (strata_image_load(ctx->store, image_id, &img, err) != 0 ||
      strata_store_get_blob(ctx->store, image_id, &cfg_data, NULL, err) < 0)
    return strata_error_wrap(err, "image %s", image);
  cfg = json_loads(cfg_data, 0, NULL);
  if (cfg == NULL)
    return strata_error_set(err, 0, "corrupt image config %s", image_id);
  if (name != NULL) {
    int taken = strata_container_name_taken(ctx->store, name, err);
    if (taken < 0)
      return -1;
    if (taken)
      return strata_error_set(err, 0,
                              "Conflict. The container name \"/%s\" is already in use. You have to "
                              "remove (or rename) that container to be able to reuse that name",
                              name);
    cname = strdup(name);
  } else {
    cname = strata_container_new_name(ctx->store, err);
    if (cname == NULL)
      return -1;
  }
  if (strata_runspec_merge(json_object_get(cfg, "config"), flags, id, image, &config, err) < 0)
    return -1;
  if (strata_runspec_command(config, &path, &args, err) < 0)
    return -1;
  layers = json_object_get(img, "layers");
  top = json_string_value(json_array_get(layers, json_array_size(layers) - 1));
  if (top == NULL) {
    json_decref(path);
    json_decref(args);
    return strata_error_set(err, 0, "image %s has no layers", image_id);
  }
  rec = json_pack("{s:s, s:s, s:s, s:o, s:o, s:s, s:s, s:O, s:{s:s, s:b, s:b, s:i, s:i, s:s, s:s},"
                  " s:{s:s, s:{}}, s:{s:b, s:s}, s:s, s:s}",
                  "Id", id, "Name", "", "Created", now, "Path", path, "Args", args, "Image",
                  image_id, "ImageName", image, "Config", config, "State", "Status", "created",
                  "Running", 0, "Paused", 0, "Pid", 0, "ExitCode", 0, "StartedAt",
                  "0001-01-01T00:00:00Z", "FinishedAt", "0001-01-01T00:00:00Z", "GraphDriver",
                  "Name", ctx->storage->info->name, "Data", "HostConfig", "AutoRemove",
                  auto_remove, "NetworkMode", "host", "StrataLayer", top, "Isolation", "");
  if (rec == NULL)
    return strata_error_set(err, ENOMEM, "cannot create container");
  {
    cleanup_free char *slashed = NULL;
    json_t *hc = json_object_get(rec, "HostConfig");
    if (asprintf(&slashed, "/%s", cname) >= 0)
      json_object_set_new(rec, "Name", json_string(slashed));
    /* Docker's names for the resource limits */
    json_object_set_new(hc, "Memory", json_integer(flags->memory));
    json_object_set_new(hc, "PidsLimit", json_integer(flags->pids_limit));
    json_object_set_new(hc, "NanoCpus", json_integer(flags->nano_cpus));
  }
  if (ops->container_create(state, id, strata_digest_hex(top), err) < 0)
    return strata_error_wrap(err, "cannot create container");
  cli_container_measure(ctx, rec);
  if (strata_container_save(ctx->store, rec, err) < 0) {
    cleanup_error struct strata_error *e = NULL;
    ops->container_remove(state, id, &e);
    return -1;
  }
  *out_id = steal_ptr(id);
  return 0;
}

static int set_state(json_t *rec, const char *status, int pid, int exit_code, bool started) {
  json_t *st = json_object_get(rec, "State");
  cleanup_free char *now = strata_now_rfc3339();
  if (!json_is_object(st) || now == NULL)
    return -1;
  json_object_set_new(st, "Status", json_string(status));
  json_object_set_new(st, "Running", json_boolean(strcmp(status, "running") == 0));
  json_object_set_new(st, "Pid", json_integer(pid));
  json_object_set_new(st, "ExitCode", json_integer(exit_code));
  json_object_set_new(st, started ? "StartedAt" : "FinishedAt", json_string(now));
  return 0;
}

/* Docker creates a missing working directory; do it inside the root only. */
static int ensure_workdir(const char *rootfs, const char *cwd, struct strata_error **err) {
  cleanup_close int rootfd = open(rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0)
    return strata_error_set(err, errno, "cannot open '%s'", rootfs);
  return strata_mkdir_p_at(rootfd, cwd, 0755, err);
}

int cli_container_start(struct strata_context *ctx, const char *id, struct strata_error **err) {
  const struct strata_storage_ops *ops;
  void *state;
  struct strata_plugin *iso;
  const struct strata_isolation_ops *iops;
  struct strata_runspec rs;
  cleanup_json json_t *rec = NULL;
  cleanup_free char *rootfs = NULL;
  int r, code;

  if (strata_context_store(ctx, true, err) < 0 || strata_context_storage(ctx, &ops, &state, err) < 0)
    return EXIT_ENGINE;
  r = strata_container_load(ctx->store, id, &rec, err);
  if (r != 0) {
    if (r == 1)
      strata_error_set(err, 0, "No such container: %s", id);
    return EXIT_ENGINE;
  }
  if (json_is_true(json_object_get(json_object_get(rec, "State"), "Running"))) {
    pid_t pid = (pid_t)json_integer_value(json_object_get(json_object_get(rec, "State"), "Pid"));
    if (pid > 0 && kill(pid, 0) == 0) {
      strata_error_set(err, 0, "container %.12s is already running", id);
      return EXIT_ENGINE;
    }
  }
  if (strata_context_isolation(ctx, &iso, err) < 0)
    return EXIT_ENGINE;
  iops = iso->info->ops;
  if (ops->container_mount(state, id, &rootfs, err) < 0)
    return EXIT_ENGINE;
  if (strata_runspec_build(json_object_get(rec, "Config"), id, rootfs, &rs, err) < 0)
    goto fail_unmount;
  if (ensure_workdir(rootfs, rs.cwd, err) < 0) {
    strata_runspec_clear(&rs);
    goto fail_unmount;
  }
  {
    json_t *hc = json_object_get(rec, "HostConfig");
    rs.spec.memory = json_integer_value(json_object_get(hc, "Memory"));
    rs.spec.pids_limit = json_integer_value(json_object_get(hc, "PidsLimit"));
    rs.spec.nano_cpus = json_integer_value(json_object_get(hc, "NanoCpus"));
    if ((rs.spec.memory || rs.spec.pids_limit || rs.spec.nano_cpus) &&
        !(iops->caps & STRATA_ISOLATION_CAP_LIMITS)) {
      strata_error_set(err, 0, "isolation backend '%s' cannot enforce --memory, --pids-limit or "
                               "--cpus", iso->info->name);
      strata_runspec_clear(&rs);
      goto fail_unmount;
    }
  }
  json_object_set_new(rec, "Isolation", json_string(iso->info->name));
  set_state(rec, "running", (int)getpid(), 0, true);
  if (strata_container_save(ctx->store, rec, err) < 0) {
    strata_runspec_clear(&rs);
    goto fail_unmount;
  }
  /* the container may run for days: let other commands in meanwhile */
  strata_store_unlock(ctx->store);
  fflush(stdout);
  fflush(stderr);
  r = iops->run(iso->state, &rs.spec, err);
  strata_runspec_clear(&rs);
  code = r >= 0 ? r : (r == STRATA_RUN_NOT_FOUND ? 127 : r == STRATA_RUN_CANNOT_EXEC ? 126 : EXIT_ENGINE);
  {
    cleanup_error struct strata_error *e = NULL;
    cleanup_json json_t *now_rec = NULL;
    if (strata_context_store(ctx, true, &e) == 0 &&
        strata_container_load(ctx->store, id, &now_rec, &e) == 0) {
      set_state(now_rec, "exited", 0, code, false);
      cli_container_measure(ctx, now_rec);
      if (strata_container_save(ctx->store, now_rec, &e) < 0)
        log_warning("cannot record the exit of %.12s: %s", id, e->msg);
    }
  }
  {
    cleanup_error struct strata_error *e = NULL;
    if (ops->container_unmount(state, id, &e) < 0)
      log_warning("cannot unmount %.12s: %s", id, e->msg);
  }
  if (json_is_true(json_object_get(json_object_get(rec, "HostConfig"), "AutoRemove"))) {
    cleanup_error struct strata_error *e = NULL;
    if (cli_container_remove(ctx, id, &e) < 0)
      log_warning("cannot remove %.12s: %s", id, e->msg);
  }
  return code;

fail_unmount: {
  cleanup_error struct strata_error *e = NULL;
  ops->container_unmount(state, id, &e);
  strata_error_clear(&e);
  /* --rm: a container that could not start goes too, as with Docker */
  if (json_is_true(json_object_get(json_object_get(rec, "HostConfig"), "AutoRemove")) &&
      cli_container_remove(ctx, id, &e) < 0)
    log_warning("cannot remove %.12s: %s", id, e->msg);
}
  return EXIT_ENGINE;
}

void cli_container_measure(struct strata_context *ctx, json_t *rec) {
  const struct strata_storage_ops *ops;
  void *state;
  cleanup_error struct strata_error *e = NULL;
  const char *id = json_string_value(json_object_get(rec, "Id"));
  uint64_t bytes = 0;

  if (id == NULL || strata_context_storage(ctx, &ops, &state, &e) < 0 || ops->version < 2 ||
      ops->container_usage == NULL)
    return;
  if (ops->container_usage(state, id, &bytes, &e) < 0) {
    log_warning("cannot measure container %.12s: %s", id, e->msg);
    return;
  }
  json_object_set_new(rec, "SizeRw", json_integer((json_int_t)bytes));
}

int cli_container_remove(struct strata_context *ctx, const char *id, struct strata_error **err) {
  const struct strata_storage_ops *ops;
  void *state;
  cleanup_error struct strata_error *e = NULL;

  if (strata_context_store(ctx, true, err) < 0 || strata_context_storage(ctx, &ops, &state, err) < 0)
    return -1;
  ops->container_unmount(state, id, &e);
  strata_error_clear(&e);
  if (ops->container_remove(state, id, err) < 0)
    return -1;
  if (strata_container_remove_record(ctx->store, id, err) < 0)
    return -1;
  if (strata_layer_gc(ctx, NULL, NULL, &e) < 0)
    log_warning("cannot remove unused layers: %s", e->msg);
  return 0;
}

const char cli_run_options_help[] =
    "      --cpus decimal        Number of CPUs (namespaces backend)\n"
    "      --entrypoint string   Overwrite the default ENTRYPOINT of the image\n"
    "  -e, --env list            Set environment variables\n"
    "  -h, --hostname string     Container host name\n"
    "  -i, --interactive         Keep STDIN open\n"
    "  -m, --memory bytes        Memory limit (namespaces backend)\n"
    "      --name string         Assign a name to the container\n"
    "      --pids-limit int      Tune container pids limit (-1 for unlimited)\n"
    "      --platform string     Platform to pull if the image is missing\n"
    "      --rm                  Automatically remove the container when it exits\n"
    "  -t, --tty                 Allocate a pseudo-TTY\n"
    "  -u, --user string         Username or UID (format: <name|uid>[:<group|gid>])\n"
    "  -w, --workdir string      Working directory inside the container\n";

/* Docker's RAMInBytes: a number, then an optional unit k, m, g, t or p
 * (binary), optional "i", optional "b" ("512m", "1.5g", "64MiB"). */
static int parse_memory(const char *s, int64_t *out) {
  static const char units[] = "kmgtp";
  const char *u;
  char *end;
  double v;
  errno = 0;
  v = strtod(s, &end);
  if (errno || end == s || v < 0 || *s == '-' || *s == '+')
    return -1;
  if (*end == ' ')
    end++;
  if (*end && (u = strchr(units, *end | 0x20)) != NULL) {
    for (const char *k = units; k <= u; k++)
      v *= 1024;
    end++;
    if (*end == 'i' || *end == 'I')
      end++;
  }
  if (*end == 'b' || *end == 'B')
    end++;
  if (*end || v > 9.2e18)
    return -1;
  *out = (int64_t)v;
  return 0;
}

void cli_run_options_clear(struct cli_run_options *o) {
  free(o->env);
  memset(o, 0, sizeof(*o));
}

int cli_parse_run_options(const char *cmd, int argc, char **argv, struct cli_run_options *o) {
  static const struct option opts[] = {
      {"name", required_argument, NULL, 'n'},     {"rm", no_argument, NULL, 'R'},
      {"env", required_argument, NULL, 'e'},      {"workdir", required_argument, NULL, 'w'},
      {"user", required_argument, NULL, 'u'},     {"hostname", required_argument, NULL, 'H'},
      {"entrypoint", required_argument, NULL, 'E'}, {"interactive", no_argument, NULL, 'i'},
      {"tty", no_argument, NULL, 't'},            {"detach", no_argument, NULL, 'd'},
      {"platform", required_argument, NULL, 'P'}, {"help", no_argument, NULL, 'h'},
      {"memory", required_argument, NULL, 'm'},   {"pids-limit", required_argument, NULL, 'L'},
      {"cpus", required_argument, NULL, 'C'},     {NULL, 0, NULL, 0},
  };
  size_t nenv = 0;
  int c;

  memset(o, 0, sizeof(*o));
  while ((c = getopt_long(argc, argv, "+e:w:u:h:itdm:", opts, NULL)) != -1) {
    switch (c) {
    case 'n':
      o->name = optarg;
      break;
    case 'R':
      o->rm = true;
      break;
    case 'e': {
      char **nv = realloc(o->env, (nenv + 2) * sizeof(char *));
      if (nv == NULL)
        return cli_failf(EXIT_ENGINE, "out of memory");
      o->env = nv;
      nv[nenv++] = optarg;
      nv[nenv] = NULL;
      break;
    }
    case 'w':
      o->flags.workdir = optarg;
      break;
    case 'u':
      o->flags.user = optarg;
      break;
    case 'h': /* -h is --hostname, as in docker run */
    case 'H':
      o->flags.hostname = optarg;
      break;
    case 'E':
      o->flags.entrypoint = optarg;
      break;
    case 'i':
      o->flags.interactive = true;
      break;
    case 't':
      o->flags.tty = true;
      break;
    case 'd':
      o->detach = true;
      break;
    case 'P':
      o->platform = optarg;
      break;
    case 'm':
      if (parse_memory(optarg, &o->flags.memory) < 0)
        return cli_failf(EXIT_ENGINE, "invalid argument \"%s\" for \"-m, --memory\" flag: invalid "
                                      "size", optarg);
      if (o->flags.memory > 0 && o->flags.memory < 6 * 1024 * 1024)
        return cli_failf(EXIT_ENGINE, "Minimum memory limit allowed is 6MB");
      break;
    case 'L': {
      char *end;
      long long v;
      errno = 0;
      v = strtoll(optarg, &end, 10);
      if (errno || end == optarg || *end)
        return cli_failf(EXIT_ENGINE, "invalid argument \"%s\" for \"--pids-limit\" flag", optarg);
      o->flags.pids_limit = v <= 0 ? (v < 0 ? -1 : 0) : v; /* Docker: <= 0 means unlimited */
      break;
    }
    case 'C': {
      char *end;
      double v;
      errno = 0;
      v = strtod(optarg, &end);
      if (errno || end == optarg || *end || v < 0 || v > 1e6)
        return cli_failf(EXIT_ENGINE, "invalid argument \"%s\" for \"--cpus\" flag", optarg);
      o->flags.nano_cpus = (int64_t)(v * 1e9 + 0.5);
      break;
    }
    default:
      return cli_usage(cmd, EXIT_ENGINE, "invalid option");
    }
  }
  o->flags.env = o->env;
  if (optind >= argc)
    return cli_usage(cmd, EXIT_ENGINE, "\"%s\" requires at least 1 argument", cmd);
  o->image = argv[optind];
  o->flags.cmd = argv + optind + 1;
  if (o->name != NULL) {
    /* Docker's rule for names: [a-zA-Z0-9][a-zA-Z0-9_.-]+ */
    const char *n = o->name[0] == '/' ? o->name + 1 : o->name;
    bool ok = strlen(n) >= 2 && ((n[0] >= 'a' && n[0] <= 'z') || (n[0] >= 'A' && n[0] <= 'Z') ||
                                 (n[0] >= '0' && n[0] <= '9'));
    for (const char *p = n + 1; ok && *p; p++)
      ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
           *p == '_' || *p == '.' || *p == '-';
    if (!ok)
      return cli_failf(EXIT_ENGINE, "Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] "
                                    "are allowed",
                       o->name);
    o->name = n;
  }
  return 0;
}
