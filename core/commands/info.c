#include "config.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "cleanup.h"
#include "commands.h"
#include "container.h"
#include "image.h"
#include "json-cleanup.h"
#include "manifest.h"

static const char help[] =
    "Usage:  strata info [OPTIONS]\n\n"
    "Display system-wide information and every plugin found, with\n"
    "whether it can work on this host\n\n"
    "Options:\n"
    "  -f, --format string   Format output using a Go template ('json' for JSON)\n";

/* PRETTY_NAME from os-release, as Docker's OperatingSystem. */
static char *operating_system(void) {
  FILE *f = fopen("/etc/os-release", "re");
  char line[512];
  char *name = NULL;
  while (name == NULL && f != NULL && fgets(line, sizeof line, f) != NULL) {
    size_t n;
    char *v;
    if (strncmp(line, "PRETTY_NAME=", 12) != 0)
      continue;
    v = line + 12;
    n = strcspn(v, "\n");
    v[n] = '\0';
    if (*v == '"' && n >= 2 && v[n - 1] == '"') {
      v[n - 1] = '\0';
      v++;
    }
    name = strdup(v);
  }
  if (f != NULL)
    fclose(f);
  return name ? name : strdup("linux");
}

static json_t *plugin_doc(struct strata_context *ctx, struct strata_plugin *p) {
  cleanup_error struct strata_error *e = NULL;
  const struct strata_plugin_info *i = p->info;
  bool ok = strata_context_plugin_probe(ctx, p, &e) == 0;
  cleanup_free char *probe = NULL;
  char abi[32];
  json_t *doc;

  snprintf(abi, sizeof abi, "%u.%u", i->abi_major, i->abi_minor);
  if (ok)
    probe = strdup("ok");
  else if (asprintf(&probe, "failed: %s", e && e->msg ? e->msg : "unknown reason") < 0)
    probe = NULL;
  doc = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "Kind", strata_plugin_kind_name(i->kind),
                  "Name", i->name, "Version", i->version ? i->version : "", "ABI", abi, "File",
                  p->path, "Description", i->description ? i->description : "", "Probe",
                  probe ? probe : "failed");
  if (doc != NULL && i->kind == STRATA_PLUGIN_ISOLATION) {
    const struct strata_isolation_ops *ops = i->ops;
    json_object_set_new(doc, "Isolates",
                        json_boolean((ops->caps & STRATA_ISOLATION_CAP_ISOLATES) != 0));
  }
  return doc;
}

/* The document behind --format, with Docker's field names where Docker has
 * the notion, plus strata's plugins. */
static json_t *info_doc(struct strata_context *ctx) {
  static const enum strata_plugin_kind kinds[] = {STRATA_PLUGIN_STORAGE, STRATA_PLUGIN_TRANSPORT,
                                                  STRATA_PLUGIN_ISOLATION};
  cleanup_free char *os_name = operating_system();
  const char *os, *arch, *variant;
  char host[256] = "";
  struct utsname u;
  json_t *doc, *list;
  char abi[32];

  uname(&u);
  gethostname(host, sizeof host - 1);
  strata_host_platform(&os, &arch, &variant);
  snprintf(abi, sizeof abi, "%d.%d", STRATA_PLUGIN_ABI_MAJOR, STRATA_PLUGIN_ABI_MINOR);
  doc = json_pack("{s:s, s:s, s:s, s:s?, s:s, s:s, s:s, s:I, s:I}", "ServerVersion",
                  PACKAGE_VERSION, "PluginABI", abi, "DockerRootDir", ctx->root, "OperatingSystem",
                  os_name, "KernelVersion", u.release, "OSType", os, "Architecture", u.machine,
                  "NCPU", (json_int_t)sysconf(_SC_NPROCESSORS_ONLN), "MemTotal",
                  (json_int_t)sysconf(_SC_PHYS_PAGES) * (json_int_t)sysconf(_SC_PAGESIZE));
  if (doc == NULL)
    return NULL;
  json_object_set_new(doc, "Name", json_string(host));
  {
    struct strata_error *e = NULL;
    if (strata_context_store(ctx, false, &e) == 0) {
      cleanup_strv char **ids = strata_container_list(ctx->store, NULL);
      cleanup_strv char **imgs = strata_image_list(ctx->store, NULL);
      cleanup_free char *drv = strata_store_driver(ctx->store, NULL);
      json_int_t n = 0, running = 0, paused = 0, ni = 0;
      for (; ids && ids[n]; n++) {
        cleanup_json json_t *rec = NULL;
        const char *st = NULL;
        if (strata_container_load(ctx->store, ids[n], &rec, NULL) == 0)
          st = json_string_value(json_object_get(json_object_get(rec, "State"), "Status"));
        running += st && strcmp(st, "running") == 0;
        paused += st && strcmp(st, "paused") == 0;
      }
      while (imgs && imgs[ni])
        ni++;
      json_object_set_new(doc, "Containers", json_integer(n));
      json_object_set_new(doc, "ContainersRunning", json_integer(running));
      json_object_set_new(doc, "ContainersPaused", json_integer(paused));
      json_object_set_new(doc, "ContainersStopped", json_integer(n - running - paused));
      json_object_set_new(doc, "Images", json_integer(ni));
      json_object_set_new(doc, "Driver", drv ? json_string(drv) : json_string(""));
    } else {
      json_object_set_new(doc, "StoreError", json_string(e->msg));
      strata_error_free(e);
    }
  }
  list = json_array();
  for (char **d = ctx->plugin_dirs; d && *d; d++)
    json_array_append_new(list, json_string(*d));
  json_object_set_new(doc, "PluginSearchPath", list);
  list = json_array();
  for (size_t k = 0; k < 3; k++)
    for (size_t i = 0; i < ctx->plugins->n; i++)
      if (ctx->plugins->items[i]->info->kind == (uint32_t)kinds[k])
        json_array_append_new(list, plugin_doc(ctx, ctx->plugins->items[i]));
  json_object_set_new(doc, "Plugins", list);
  list = json_array();
  for (char **r = ctx->plugins->refused; r && *r; r++)
    json_array_append_new(list, json_string(*r));
  json_object_set_new(doc, "RefusedPlugins", list);
  return doc;
}

#define S(obj, key) json_string_value(json_object_get(obj, key))
#define I(obj, key) json_integer_value(json_object_get(obj, key))

static void print_text(json_t *doc) {
  size_t i;
  json_t *v;

  printf("Server Version: %s\n", S(doc, "ServerVersion"));
  printf("Plugin ABI: %s\n", S(doc, "PluginABI"));
  printf("Root Dir: %s\n", S(doc, "DockerRootDir"));
  if (json_object_get(doc, "StoreError") != NULL) {
    printf("Store: unavailable: %s\n", S(doc, "StoreError"));
  } else {
    printf("Containers: %lld\n", (long long)I(doc, "Containers"));
    printf(" Running: %lld\n", (long long)I(doc, "ContainersRunning"));
    printf(" Paused: %lld\n", (long long)I(doc, "ContainersPaused"));
    printf(" Stopped: %lld\n", (long long)I(doc, "ContainersStopped"));
    printf("Images: %lld\n", (long long)I(doc, "Images"));
    printf("Storage Driver: %s\n", *S(doc, "Driver") ? S(doc, "Driver") : "(not chosen yet)");
  }
  printf("Kernel Version: %s\n", S(doc, "KernelVersion"));
  printf("Operating System: %s\n", S(doc, "OperatingSystem"));
  printf("OSType: %s\n", S(doc, "OSType"));
  printf("Architecture: %s\n", S(doc, "Architecture"));
  printf("CPUs: %lld\n", (long long)I(doc, "NCPU"));
  printf("Total Memory: %.2fGiB\n", (double)I(doc, "MemTotal") / (1024.0 * 1024 * 1024));
  printf("Name: %s\n", S(doc, "Name"));
  printf("Plugin Search Path:\n");
  json_array_foreach(json_object_get(doc, "PluginSearchPath"), i, v) printf("  %s\n",
                                                                             json_string_value(v));
  printf("Plugins:\n");
  json_array_foreach(json_object_get(doc, "Plugins"), i, v) {
    json_t *iso = json_object_get(v, "Isolates");
    printf("  %s %s:\n", S(v, "Kind"), S(v, "Name"));
    printf("   Version:      %s\n", S(v, "Version"));
    printf("   ABI:          %s\n", S(v, "ABI"));
    printf("   File:         %s\n", S(v, "File"));
    printf("   Description:  %s\n", S(v, "Description"));
    if (iso != NULL)
      printf("   Isolates:     %s\n",
             json_is_true(iso) ? "yes"
                               : "NO - processes share the host's namespaces and capabilities");
    printf("   Probe:        %s\n", S(v, "Probe"));
  }
  if (json_array_size(json_object_get(doc, "RefusedPlugins")) > 0) {
    printf("Refused Plugins:\n");
    json_array_foreach(json_object_get(doc, "RefusedPlugins"), i, v) printf("  %s\n",
                                                                           json_string_value(v));
  }
}

int cmd_info(struct strata_context *ctx, int argc, char **argv) {
  static const struct option opts[] = {
      {"format", required_argument, NULL, 'f'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  struct strata_error *err = NULL;
  const char *format = NULL;
  cleanup_json json_t *doc = NULL;
  int c;

  while ((c = getopt_long(argc, argv, "+f:h", opts, NULL)) != -1) {
    switch (c) {
    case 'f':
      format = optarg;
      break;
    case 'h':
      cli_help("info", help);
      return 0;
    default:
      return cli_bad_option("info");
    }
  }
  if (optind < argc)
    return cli_usage("info", EXIT_ENGINE, "\"info\" accepts no arguments");
  if (strata_context_plugins(ctx, &err) < 0)
    return cli_fail(err, 1);
  doc = info_doc(ctx);
  if (doc == NULL)
    return cli_failf(1, "out of memory");
  if (format != NULL)
    return cli_print_docs(format, &doc, 1);
  print_text(doc);
  return 0;
}
