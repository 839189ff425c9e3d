/* Image records and the name table.
 *
 * An image is keyed by its ID, the digest of its config ("sha256:..."); its
 * record (images/HEX.json) lists its layers by chain ID.  Names ("tags")
 * live in one table, repositories.json, mapping a full reference
 * ("docker.io/library/busybox:1") to an image ID, so re-tagging is one atomic
 * write. */
#ifndef STRATA_CORE_IMAGE_H
#define STRATA_CORE_IMAGE_H

#include <stdbool.h>
#include <jansson.h>

#include "error.h"
#include "store.h"

/* Loads the record of image ID; returns 1 when there is none. */
int strata_image_load(struct strata_store *store, const char *id, json_t **record,
                      struct strata_error **err);
int strata_image_save(struct strata_store *store, json_t *record, struct strata_error **err);
int strata_image_remove_record(struct strata_store *store, const char *id,
                               struct strata_error **err);
/* Every image ID in the store (NULL-terminated, strv_free). */
char **strata_image_list(struct strata_store *store, struct strata_error **err);

/* Name table: a JSON object name -> image ID.  Always returns an object. */
int strata_names_load(struct strata_store *store, json_t **names, struct strata_error **err);
int strata_names_save(struct strata_store *store, json_t *names, struct strata_error **err);
/* The names pointing at ID, sorted (NULL-terminated, strv_free). */
char **strata_names_of(json_t *names, const char *id);

/* Resolves what a user typed to an image ID: a full "sha256:..." ID, a
 * unique hex prefix of one, or a name (normalised as Docker does; a short
 * name also matches "localhost/NAME").  *id is malloc'd; *name (optional)
 * gets the full name matched, or NULL for an ID match.  Returns 1 when no
 * image matches (nothing set), 0 on success, negative on error
 * (ambiguous prefix, bad reference). */
int strata_image_resolve(struct strata_store *store, const char *what, char **id, char **name,
                         struct strata_error **err);

/* Normalises a user-given name to the full form used in the name table,
 * "docker.io/library/busybox:latest".  malloc'd; NULL with *err. */
char *strata_image_normalize_name(const char *what, struct strata_error **err);

#endif
