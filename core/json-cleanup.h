/* cleanup_json: releases a jansson reference at scope end. */
#ifndef STRATA_CORE_JSON_CLEANUP_H
#define STRATA_CORE_JSON_CLEANUP_H
#include <jansson.h>
static inline void cleanup_jsonp(json_t **j) { json_decref(*j); }
#define cleanup_json __attribute__((cleanup(cleanup_jsonp)))
#endif
