#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "cleanup.h"
#include "commands.h"
#include "container.h"
#include "image.h"
#include "manifest.h"

static const char help[] = "Usage:  strata info\n\n"
                           "Display system-wide information and every plugin found, with\n"
                           "whether it can work on this host\n";

static void print_plugin(struct strata_context *ctx, struct strata_plugin *p) {
  cleanup_error struct strata_error *e = NULL;
  const struct strata_plugin_info *i = p->info;
  bool ok = strata_context_plugin_probe(ctx, p, &e) == 0;
  printf("  %s %s:\n", strata_plugin_kind_name(i->kind), i->name);
  printf("   Version:      %s\n", i->version ? i->version : "");
  printf("   ABI:          %u.%u\n", i->abi_major, i->abi_minor);
  printf("   File:         %s\n", p->path);
  printf("   Description:  %s\n", i->description ? i->description : "");
  if (i->kind == STRATA_PLUGIN_ISOLATION) {
    const struct strata_isolation_ops *ops = i->ops;
    printf("   Isolates:     %s\n", (ops->caps & STRATA_ISOLATION_CAP_ISOLATES)
                                        ? "yes"
                                        : "NO - processes share the host's namespaces and "
                                          "capabilities");
  }
  if (ok)
    printf("   Probe:        ok\n");
  else
    printf("   Probe:        failed: %s\n", e && e->msg ? e->msg : "unknown reason");
}

int cmd_info(struct strata_context *ctx, int argc, char **argv) {
  struct strata_error *err = NULL;
  struct utsname u;
  const char *os, *arch, *variant;
  static const enum strata_plugin_kind kinds[] = {STRATA_PLUGIN_STORAGE, STRATA_PLUGIN_TRANSPORT,
                                                  STRATA_PLUGIN_ISOLATION};

  if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
    cli_help("info", help);
    return 0;
  }
  if (strata_context_plugins(ctx, &err) < 0)
    return cli_fail(err, 1);
  uname(&u);
  strata_host_platform(&os, &arch, &variant);
  printf("Server Version: %s\n", PACKAGE_VERSION);
  printf("Plugin ABI: %d.%d\n", STRATA_PLUGIN_ABI_MAJOR, STRATA_PLUGIN_ABI_MINOR);
  printf("Root Dir: %s\n", ctx->root);
  {
    struct strata_error *e = NULL;
    if (strata_context_store(ctx, false, &e) == 0) {
      cleanup_strv char **ids = strata_container_list(ctx->store, NULL);
      cleanup_strv char **imgs = strata_image_list(ctx->store, NULL);
      cleanup_free char *drv = strata_store_driver(ctx->store, NULL);
      size_t nc = 0, ni = 0;
      while (ids && ids[nc])
        nc++;
      while (imgs && imgs[ni])
        ni++;
      printf("Containers: %zu\n", nc);
      printf("Images: %zu\n", ni);
      printf("Storage Driver: %s\n", drv ? drv : "(not chosen yet)");
    } else {
      printf("Store: unavailable: %s\n", e->msg);
      strata_error_free(e);
    }
  }
  printf("Kernel Version: %s\n", u.release);
  printf("OSType: %s\n", os);
  printf("Architecture: %s\n", u.machine);
  printf("Plugin Search Path:\n");
  for (char **d = ctx->plugin_dirs; d && *d; d++)
    printf("  %s\n", *d);
  printf("Plugins:\n");
  for (size_t k = 0; k < 3; k++)
    for (size_t i = 0; i < ctx->plugins->n; i++)
      if (ctx->plugins->items[i].info->kind == (uint32_t)kinds[k])
        print_plugin(ctx, &ctx->plugins->items[i]);
  if (ctx->plugins->refused != NULL && ctx->plugins->refused[0] != NULL) {
    printf("Refused Plugins:\n");
    for (char **r = ctx->plugins->refused; *r; r++)
      printf("  %s\n", *r);
  }
  return 0;
}
