/* Container records (containers/HEX.json), kept in the shape `inspect`
 * prints (Docker's schema: Id, Name, Created, Path, Args, State, Image,
 * Config, GraphDriver, HostConfig), plus "StrataLayer", the chain ID of the
 * image layer the container's writable layer sits on. */
#ifndef STRATA_CORE_CONTAINER_H
#define STRATA_CORE_CONTAINER_H

#include <jansson.h>

#include "error.h"
#include "store.h"

/* Returns 1 when there is no such container. */
int strata_container_load(struct strata_store *store, const char *id, json_t **record,
                          struct strata_error **err);
int strata_container_save(struct strata_store *store, json_t *record, struct strata_error **err);
int strata_container_remove_record(struct strata_store *store, const char *id,
                                   struct strata_error **err);
/* Every container ID (64 hex), NULL-terminated (strv_free). */
char **strata_container_list(struct strata_store *store, struct strata_error **err);
/* Full ID, unique ID prefix or name (with or without a leading '/') -> *id.
 * Returns 1 when nothing matches. */
int strata_container_resolve(struct strata_store *store, const char *what, char **id,
                             struct strata_error **err);
/* A new random 64-hex ID (malloc'd). */
char *strata_container_new_id(void);
/* A free Docker-style name ("brave_hopper"), malloc'd. */
char *strata_container_new_name(struct strata_store *store, struct strata_error **err);
/* Is NAME taken by another container? */
int strata_container_name_taken(struct strata_store *store, const char *name,
                                struct strata_error **err);
/* The current time as RFC 3339 with nanoseconds, UTC (malloc'd). */
char *strata_now_rfc3339(void);

#endif
