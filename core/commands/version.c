#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/utsname.h>

#include <strata/strata.h>

#include "cleanup.h"
#include "commands.h"
#include "json-cleanup.h"
#include "manifest.h"

static const char help[] =
    "Usage:  strata version [OPTIONS]\n\n"
    "Show the strata version information\n\n"
    "Options:\n"
    "  -f, --format string   Format output using a Go template ('json' for JSON)\n";

/* Docker's document: Client and Server.  strata has no daemon, so the
 * "server" is the engine library in this very process; scripts that ask for
 * {{.Server.Version}} get the same answer as for the client. */
static json_t *version_doc(void) {
  const char *os, *arch, *variant;
  struct utsname u;
  char abi[32];

  strata_host_platform(&os, &arch, &variant);
  uname(&u);
  snprintf(abi, sizeof abi, "%d.%d", STRATA_PLUGIN_ABI_MAJOR, STRATA_PLUGIN_ABI_MINOR);
  return json_pack("{s:{s:{s:s}, s:s, s:s, s:s, s:s, s:s, s:b},"
                   " s:{s:{s:s}, s:[{s:s, s:s, s:{s:s, s:s}}], s:s, s:s, s:s, s:s, s:s}}",
                   "Client", "Platform", "Name", "strata", "Version", PACKAGE_VERSION,
                   "LibraryVersion", strata_version(), "PluginABI", abi, "Os", os, "Arch", arch,
                   "Experimental", 0, "Server", "Platform", "Name", "strata engine (daemonless)",
                   "Components", "Name", "Engine", "Version", strata_version(), "Details", "Os",
                   os, "Arch", arch, "Version", strata_version(), "PluginABI", abi, "Os", os,
                   "Arch", arch, "KernelVersion", u.release);
}

int cmd_version(struct strata_context *ctx, int argc, char **argv) {
  static const struct option opts[] = {
      {"format", required_argument, NULL, 'f'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  const char *format = NULL;
  cleanup_json json_t *doc = NULL;
  json_t *c, *s;
  int ch;

  (void)ctx;
  while ((ch = getopt_long(argc, argv, "+f:h", opts, NULL)) != -1) {
    switch (ch) {
    case 'f':
      format = optarg;
      break;
    case 'h':
      cli_help("version", help);
      return 0;
    default:
      return cli_bad_option("version");
    }
  }
  if (optind < argc)
    return cli_usage("version", EXIT_ENGINE, "\"version\" accepts no arguments");
  doc = version_doc();
  if (doc == NULL)
    return cli_failf(EXIT_ENGINE, "out of memory");
  if (format != NULL)
    return cli_print_docs(format, &doc, 1);
  c = json_object_get(doc, "Client");
  s = json_object_get(doc, "Server");
#define F(obj, key) json_string_value(json_object_get(obj, key))
  printf("Client:\n");
  printf(" Version:      %s\n", F(c, "Version"));
  printf(" Library:      %s\n", F(c, "LibraryVersion"));
  printf(" Plugin ABI:   %s\n", F(c, "PluginABI"));
  printf(" OS/Arch:      %s/%s\n", F(c, "Os"), F(c, "Arch"));
  printf("\nServer: %s\n", F(json_object_get(s, "Platform"), "Name"));
  printf(" Engine:\n");
  printf("  Version:     %s\n", F(s, "Version"));
  printf("  Plugin ABI:  %s\n", F(s, "PluginABI"));
  printf("  OS/Arch:     %s/%s\n", F(s, "Os"), F(s, "Arch"));
  printf("  Kernel:      %s\n", F(s, "KernelVersion"));
#undef F
  return 0;
}
