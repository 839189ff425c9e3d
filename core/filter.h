/* --filter KEY=VALUE lists, as Docker's `ps` and `images` take them.
 *
 * The parsed filters are a JSON object KEY -> array of VALUE strings, in the
 * order given.  Docker's rule: values given for the same key are
 * alternatives (OR), different keys must all hold (AND).  The one
 * exception, also Docker's, is "label": every label value must hold (see
 * strata_filter_match_labels).  Matching the keys against records is each
 * command's business; this file only parses and offers the generic tests. */
#ifndef STRATA_FILTER_H
#define STRATA_FILTER_H

#include <jansson.h>
#include <stdbool.h>

#include "error.h"

/* Adds one --filter argument ARG ("key=value"; the key is lowercased and
 * both sides trimmed of blanks, as Docker does) to *FILTERS, creating the
 * object when *FILTERS is NULL.  KEYS, NULL-terminated, are the keys the
 * command knows; any other key fails with "invalid filter 'KEY'", an
 * argument without '=' with Docker's "bad format of filter (expected
 * name=value)". */
int strata_filter_add(json_t **filters, const char *arg, const char *const *keys,
                      struct strata_error **err);

/* The values given for KEY (a JSON array), or NULL when KEY was not given. */
json_t *strata_filter_values(json_t *filters, const char *key);

/* Is KEY constrained at all? */
bool strata_filter_has(json_t *filters, const char *key);

/* True when KEY was not given or when MATCH(value, DATA) holds for at least
 * one of its values (the OR of one key). */
bool strata_filter_any(json_t *filters, const char *key,
                       bool (*match)(const char *value, void *data), void *data);

/* Docker's filters.Match: true when KEY was not given, or when some value
 * equals S or, read as an extended regular expression, matches somewhere
 * in S.  A value that is not a valid expression matches only by equality. */
bool strata_filter_match_regexp(json_t *filters, const char *key, const char *s);

/* Docker's MatchKVList over a Labels object: true when KEY was not given,
 * or when EVERY value holds: "k" needs label k to exist, "k=v" needs it to
 * equal v. */
bool strata_filter_match_labels(json_t *filters, const char *key, json_t *labels);

/* Checks that every value of KEY is one of ALLOWED (NULL-terminated);
 * otherwise fails with "invalid filter 'KEY=VALUE'". */
int strata_filter_check_values(json_t *filters, const char *key, const char *const *allowed,
                               struct strata_error **err);

#endif
