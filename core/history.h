/* Lines an image config's history[] up with its layers, the way
 * `docker history` does: entries marked empty_layer have no layer (size 0);
 * every other entry takes the next layer in order. */
#ifndef STRATA_CORE_HISTORY_H
#define STRATA_CORE_HISTORY_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "error.h"

struct strata_history_row {
  const char *created;    /* RFC 3339 or NULL; points into the config */
  const char *created_by; /* may be "" */
  const char *comment;    /* may be "" */
  bool empty_layer;
  uint64_t size;          /* the layer's size; 0 for empty_layer */
  int layer;              /* index into the layers, -1 for empty_layer */
};

/* Builds the rows, oldest first, from CONFIG (the image config document) and
 * LAYER_SIZES (a JSON array of integers, one per layer).  *rows is malloc'd;
 * its strings point into CONFIG.  An image config without history gets one
 * row per layer. */
int strata_history_rows(json_t *config, json_t *layer_sizes, struct strata_history_row **rows,
                        size_t *nrows, struct strata_error **err);

#endif
