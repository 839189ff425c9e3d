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
  char **cap_add;          /* --cap-add NAME ("NET_ADMIN", "CAP_NET_ADMIN", "ALL"), NULL-terminated or NULL */
  char **cap_drop;         /* --cap-drop NAME */
  char **security_opt;     /* --security-opt: "no-new-privileges[:true|false]" only */
  char **binds;            /* -v HOST:CTR[:ro|rw] */
  char **tmpfs;            /* --tmpfs PATH[:OPTIONS] */
  const char *network;     /* --network none|host, NULL: none */
  const char *userns;      /* --userns host|auto, NULL: host */
  bool privileged;         /* --privileged */
  bool read_only;          /* --read-only */
};

/* Checks the flags that end up in the container's HostConfig (capability
 * names, security options, network, userns, -v, --tmpfs) and records them
 * there under Docker's names: CapAdd, CapDrop, Privileged, SecurityOpt,
 * NetworkMode, UsernsMode, Binds, Tmpfs, ReadonlyRootfs. */
int strata_runspec_host_config(const struct strata_run_flags *flags, json_t *host_config,
                               struct strata_error **err);

/* Docker's default capability set (moby oci/caps/defaults.go), bit N =
 * capability N: 0x00000000a80425fb. */
#define STRATA_DEFAULT_CAPS 0x00000000a80425fbULL

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
  struct strata_mount *mounts; /* spec.mounts; the strings are in mount_strings */
  char **mount_strings;
};

/* Fills the ABI 1.2 members of RS->spec (capabilities, run flags, -v and
 * --tmpfs mounts, user namespace) from a container's HOST_CONFIG. */
int strata_runspec_apply_host_config(struct strata_runspec *rs, json_t *host_config,
                                     struct strata_error **err);

/* Capability NAME ("net_admin", "CAP_NET_ADMIN") -> its number, or -1. */
int strata_cap_from_name(const char *name);
/* Capability number -> "CAP_NET_ADMIN", or NULL for one this build does not name. */
const char *strata_cap_name(int cap);

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
