#include "config.h"

#include <stdio.h>
#include <sys/utsname.h>

#include <strata/strata.h>

#include "commands.h"
#include "manifest.h"

int cmd_version(struct strata_context *ctx, int argc, char **argv) {
  const char *os, *arch, *variant;
  strata_host_platform(&os, &arch, &variant);
  printf("Client:\n");
  printf(" Version:      %s\n", PACKAGE_VERSION);
  printf(" Library:      %s\n", strata_version());
  printf(" Plugin ABI:   %d.%d\n", STRATA_PLUGIN_ABI_MAJOR, STRATA_PLUGIN_ABI_MINOR);
  printf(" OS/Arch:      %s/%s\n", os, arch);
  return 0;
}
