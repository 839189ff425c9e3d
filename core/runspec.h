/* The run spec, built once by the core for every isolation backend: the
 * image config merged with the user's flags (Docker's rules for
 * Entrypoint/Cmd, Env, WorkingDir, User), then resolved against the
 * container's root file system (user and group names, supplementary
 * groups, HOME). */
#ifndef STRATA_CORE_RUNSPEC_H
#define STRATA_CORE_RUNSPEC_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include <strata/plugin/isolation.h>

#include "error.h"

struct strata_run_flags {
  const char *entrypoint;  /* --entrypoint, NULL when not given ("" resets it) */
  char **cmd;              /* arguments after the image, NULL-terminated or NULL */
  char **env;              /* -e K=V or -e K (taken from the caller's env), NULL-terminated */
  const char *workdir;     /* -w */
  const char *user;        /* -u */
  const char *hostname;    /* --hostname */
  bool tty;                /* -t */
  bool interactive;        /* -i */
  int64_t memory;          /* --memory, bytes; 0 none */
  int64_t pids_limit;      /* --pids-limit; 0 none */
  int64_t nano_cpus;       /* --cpus, billionths of a CPU; 0 none */
};

/* Docker's merge.  IMAGE_CONFIG is the image config's "config" object (may
 * be NULL).  Returns a new container Config object (Hostname, Env, Cmd,
 * Entrypoint, WorkingDir, User, Labels, Tty, OpenStdin, Image) in *config.
 * ID is the container ID (its first 12 characters are the default
 * hostname); IMAGE the name the user gave. */
int strata_runspec_merge(json_t *image_config, const struct strata_run_flags *flags,
                         const char *id, const char *image, json_t **config,
                         struct strata_error **err);

/* Path and Args as Docker's inspect shows them: the first word of
 * Entrypoint+Cmd and the rest. */
int strata_runspec_command(json_t *config, json_t **path, json_t **args,
                           struct strata_error **err);

/* Everything a backend needs, owned by this struct. */
struct strata_runspec {
  struct strata_run_spec spec;
  char **argv;
  char **env;
  char *cwd;
  uint32_t *groups;
  char *rootfs;
  char *id;
  char *hostname;
};

/* Resolves CONFIG (a container Config) against ROOTFS into RS. */
int strata_runspec_build(json_t *config, const char *id, const char *rootfs,
                         struct strata_runspec *rs, struct strata_error **err);
void strata_runspec_clear(struct strata_runspec *rs);

/* Resolves USER ("", "name", "uid", "name:group", "uid:gid") against the
 * passwd and group files under ROOTFD (never leaving it).  *home is
 * malloc'd. */
int strata_runspec_resolve_user(int rootfd, const char *user, uint32_t *uid, uint32_t *gid,
                                uint32_t **groups, size_t *ngroups, char **home,
                                struct strata_error **err);

#endif
