#include "config.h"
#include "history.h"

#include <errno.h>
#include <stdlib.h>

static const char *str_or(json_t *obj, const char *key, const char *dflt) {
  json_t *v = json_object_get(obj, key);
  return json_is_string(v) ? json_string_value(v) : dflt;
}

int strata_history_rows(json_t *config, json_t *layer_sizes, struct strata_history_row **rows,
                        size_t *nrows, struct strata_error **err) {
  json_t *history = json_object_get(config, "history");
  size_t nlayers = json_array_size(layer_sizes);
  size_t n = json_array_size(history);
  size_t layer = 0;
  struct strata_history_row *r;

  if (n == 0) {
    r = calloc(nlayers + 1, sizeof(*r));
    if (r == NULL)
      return strata_error_set(err, ENOMEM, "cannot build history");
    for (size_t i = 0; i < nlayers; i++)
      r[i] = (struct strata_history_row){
          .created = str_or(config, "created", NULL),
          .created_by = "",
          .comment = "",
          .size = (uint64_t)json_integer_value(json_array_get(layer_sizes, i)),
          .layer = (int)i,
      };
    *rows = r;
    *nrows = nlayers;
    return 0;
  }
  r = calloc(n, sizeof(*r));
  if (r == NULL)
    return strata_error_set(err, ENOMEM, "cannot build history");
  for (size_t i = 0; i < n; i++) {
    json_t *h = json_array_get(history, i);
    r[i].created = str_or(h, "created", NULL);
    r[i].created_by = str_or(h, "created_by", "");
    r[i].comment = str_or(h, "comment", "");
    r[i].empty_layer = json_is_true(json_object_get(h, "empty_layer"));
    r[i].layer = -1;
    if (!r[i].empty_layer) {
      if (layer >= nlayers) {
        free(r);
        return strata_error_set(err, 0, "too many non-empty layers in History section");
      }
      r[i].layer = (int)layer;
      r[i].size = (uint64_t)json_integer_value(json_array_get(layer_sizes, layer));
      layer++;
    }
  }
  *rows = r;
  *nrows = n;
  return 0;
}
