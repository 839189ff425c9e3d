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
#include "monitor.h"
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

/* --userns auto: 65536 host IDs that no other container of this store
 * uses, from the "strata" entry of /etc/subuid and /etc/subgid, or else
 * from a pool above 2^30 (beyond where distributions allocate users and
 * their subordinate ranges).  Recorded as HostConfig.StrataUsernsRange. */
#define USERNS_SIZE 65536u
static void subid_range(const char *file, uint64_t *start, uint64_t *count) {
  cleanup_file FILE *f = fopen(file, "re");
  char line[256];
  *start = 1u << 30;
  *count = (uint64_t)USERNS_SIZE * 4096;
  while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
    unsigned long long s, c;
    if (sscanf(line, "strata:%llu:%llu", &s, &c) == 2 && c >= USERNS_SIZE) {
      *start = s;
      *count = c;
      return;
    }
  }
}

static int userns_pick(struct strata_context *ctx, json_t *hc, struct strata_error **err) {
  cleanup_strv char **ids = strata_container_list(ctx->store, err);
  uint64_t us, uc, gs, gc;
  if (ids == NULL)
    return -1;
  subid_range("/etc/subuid", &us, &uc);
  subid_range("/etc/subgid", &gs, &gc);
  for (uint64_t slot = 0; (slot + 1) * USERNS_SIZE <= uc && (slot + 1) * USERNS_SIZE <= gc; slot++) {
    uint64_t u = us + slot * USERNS_SIZE, g = gs + slot * USERNS_SIZE;
    bool taken = false;
    if (u + USERNS_SIZE > UINT32_MAX || g + USERNS_SIZE > UINT32_MAX)
      break;
    for (char **i = ids; *i && !taken; i++) {
      cleanup_json json_t *rec = NULL;
      json_t *r;
      if (strata_container_load(ctx->store, *i, &rec, NULL) != 0)
        continue;
      r = json_object_get(json_object_get(rec, "HostConfig"), "StrataUsernsRange");
      taken = json_array_size(r) == 3 &&
              (uint64_t)json_integer_value(json_array_get(r, 0)) < u + USERNS_SIZE &&
              u < (uint64_t)json_integer_value(json_array_get(r, 0)) +
                      (uint64_t)json_integer_value(json_array_get(r, 2));
    }
    if (!taken) {
      json_object_set_new(hc, "StrataUsernsRange",
                          json_pack("[I, I, I]", (json_int_t)u, (json_int_t)g,
                                    (json_int_t)USERNS_SIZE));
      return 0;
    }
  }
  return strata_error_set(err, 0, "--userns auto: no free range of %u host IDs left (see the "
                                  "\"strata\" entries of /etc/subuid and /etc/subgid)",
                          USERNS_SIZE);
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
  cleanup_free char *init = NULL;
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
                  auto_remove, "NetworkMode", "none", "StrataLayer", top, "Isolation", "");
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
    if (strata_runspec_host_config(flags, hc, err) < 0)
      return -1;
    if (strcmp(json_string_value(json_object_get(hc, "UsernsMode")) ?: "", "auto") == 0 &&
        userns_pick(ctx, hc, err) < 0)
      return -1;
  }
  /* the backends' mount points live in the image's init layer, never in
   * the container's own */
  if (strata_layer_init(ctx, top, &init, err) < 0)
    return -1;
  json_object_set_new(rec, "StrataLayer", json_string(init));
  if (ops->container_create(state, id, strata_digest_hex(init), err) < 0)
    return strata_error_wrap(err, "cannot create container");
  /* not measured here: a walk of a copied tree would cost more than the
   * create itself; the monitor measures when the container stops, and
   * `ps --size` when asked */
  if (strata_container_save(ctx->store, rec, err) < 0) {
    cleanup_error struct strata_error *e = NULL;
    ops->container_remove(state, id, &e);
    return -1;
  }
  *out_id = steal_ptr(id);
  return 0;
}

int cli_container_start(struct strata_context *ctx, const char *id, bool detach,
                        struct strata_error **err) {
  struct strata_monitor_options mo = {.detach = detach};
  return strata_monitor_start(ctx, id, &mo, err);
}

int cli_container_remove(struct strata_context *ctx, const char *id, struct strata_error **err) {
  return strata_container_destroy(ctx, id, err);
}

const char cli_run_options_help[] =
    "      --cap-add list        Add Linux capabilities (NAME, CAP_NAME or ALL)\n"
    "      --cap-drop list       Drop Linux capabilities\n"
    "      --cpus decimal        Number of CPUs (namespaces backend)\n"
    "      --entrypoint string   Overwrite the default ENTRYPOINT of the image\n"
    "  -e, --env list            Set environment variables\n"
    "      --env-file list       Read in a file of environment variables\n"
    "  -h, --hostname string     Container host name\n"
    "  -i, --interactive         Keep STDIN open\n"
    "  -m, --memory bytes        Memory limit (namespaces backend)\n"
    "      --name string         Assign a name to the container\n"
    "      --network string      none (a network namespace with loopback only, the\n"
    "                            default) or host (the host's network)\n"
    "      --pids-limit int      Tune container pids limit (-1 for unlimited)\n"
    "      --platform string     Platform to pull if the image is missing\n"
    "      --privileged          Give extended privileges: every capability, no masked\n"
    "                            paths, the host's devices\n"
    "      --read-only           Mount the container's root filesystem as read only\n"
    "      --rm                  Automatically remove the container when it exits\n"
    "      --security-opt list   Security options (no-new-privileges)\n"
    "      --tmpfs list          Mount a tmpfs directory (PATH[:OPTIONS])\n"
    "  -t, --tty                 Allocate a pseudo-TTY\n"
    "  -u, --user string         Username or UID (format: <name|uid>[:<group|gid>])\n"
    "      --userns string       User namespace: host (none, the default) or auto (root\n"
    "                            in the container is an unprivileged host UID range)\n"
    "  -v, --volume list         Bind mount a host path: HOST-PATH:CONTAINER-PATH[:ro]\n"
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
  free(o->cap_add);
  free(o->cap_drop);
  free(o->security_opt);
  free(o->binds);
  free(o->tmpfs);
  strv_free(o->owned);
  memset(o, 0, sizeof(*o));
}

/* Appends S to the NULL-terminated array *V (the strings are not copied). */
static int strv_push(char ***v, char *s) {
  size_t n = 0;
  char **nv;
  while (*v && (*v)[n])
    n++;
  nv = realloc(*v, (n + 2) * sizeof(char *));
  if (nv == NULL)
    return -1;
  nv[n] = s;
  nv[n + 1] = NULL;
  *v = nv;
  return 0;
}

/* Docker's --env-file: one K=V (or K, taken from the caller's environment)
 * a line; blank lines and lines starting with '#' are skipped; leading
 * blanks are dropped, the value is kept as written. */
static int read_env_file(const char *path, char ***owned, struct strata_error **err) {
  cleanup_file FILE *f = fopen(path, "re");
  cleanup_free char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  if (f == NULL)
    return strata_error_set(err, errno, "open %s", path);
  while ((len = getline(&line, &cap, f)) >= 0) {
    char *l = line, *eq;
    size_t klen;
    while (len > 0 && (l[len - 1] == '\n' || l[len - 1] == '\r'))
      l[--len] = '\0';
    while (*l == ' ' || *l == '\t')
      l++;
    if (*l == '\0' || *l == '#')
      continue;
    eq = strchr(l, '=');
    klen = eq ? (size_t)(eq - l) : strlen(l);
    if (klen == 0)
      return strata_error_set(err, 0, "invalid environment variable: %s (in %s)", l, path);
    for (size_t i = 0; i < klen; i++)
      if (l[i] == ' ' || l[i] == '\t')
        return strata_error_set(err, 0, "variable '%.*s' contains whitespaces (in %s)",
                                (int)klen, l, path);
    if (eq == NULL && getenv(l) == NULL)
      continue;
    {
      char *copy = strdup(l);
      if (copy == NULL || strv_push(owned, copy) < 0) {
        free(copy);
        return strata_error_set(err, ENOMEM, "cannot read %s", path);
      }
    }
  }
  return 0;
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
      {"cpus", required_argument, NULL, 'C'},     {"cap-add", required_argument, NULL, 'A'},
      {"cap-drop", required_argument, NULL, 'D'}, {"privileged", no_argument, NULL, 'p'},
      {"security-opt", required_argument, NULL, 'S'}, {"network", required_argument, NULL, 'N'},
      {"net", required_argument, NULL, 'N'},      {"userns", required_argument, NULL, 'U'},
      {"volume", required_argument, NULL, 'v'},   {"tmpfs", required_argument, NULL, 'T'},
      {"env-file", required_argument, NULL, 'F'}, {"read-only", no_argument, NULL, 'r'},
      {NULL, 0, NULL, 0},
  };
  char **env_files = NULL;
  size_t nenv = 0;
  int c;

  memset(o, 0, sizeof(*o));
  while ((c = getopt_long(argc, argv, "+e:w:u:h:itdm:v:", opts, NULL)) != -1) {
    char ***list = NULL;
    switch (c) {
    case 'A':
      list = &o->cap_add;
      break;
    case 'D':
      list = &o->cap_drop;
      break;
    case 'S':
      list = &o->security_opt;
      break;
    case 'v':
      list = &o->binds;
      break;
    case 'T':
      list = &o->tmpfs;
      break;
    case 'F':
      list = &env_files;
      break;
    case 'p':
      o->flags.privileged = true;
      break;
    case 'r':
      o->flags.read_only = true;
      break;
    case 'N':
      o->flags.network = optarg;
      break;
    case 'U':
      o->flags.userns = optarg;
      break;
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
      free(env_files);
      return cli_bad_option(cmd);
    }
    if (list != NULL && strv_push(list, optarg) < 0) {
      free(env_files);
      return cli_failf(EXIT_ENGINE, "out of memory");
    }
  }
  /* --env-file entries come first, so -e overrides them (Docker) */
  for (char **f = env_files; f && *f; f++) {
    struct strata_error *err = NULL;
    if (read_env_file(*f, &o->owned, &err) < 0) {
      free(env_files);
      return cli_fail(err, EXIT_ENGINE);
    }
  }
  free(env_files);
  if (o->owned != NULL) {
    char **merged = NULL;
    for (char **e = o->owned; *e; e++)
      if (strv_push(&merged, *e) < 0)
        return cli_failf(EXIT_ENGINE, "out of memory");
    for (char **e = o->env; e && *e; e++)
      if (strv_push(&merged, *e) < 0)
        return cli_failf(EXIT_ENGINE, "out of memory");
    free(o->env);
    o->env = merged;
  }
  o->flags.env = o->env;
  o->flags.cap_add = o->cap_add;
  o->flags.cap_drop = o->cap_drop;
  o->flags.security_opt = o->security_opt;
  o->flags.binds = o->binds;
  o->flags.tmpfs = o->tmpfs;
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
