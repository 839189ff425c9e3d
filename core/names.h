/* Docker-style random container names: "adjective_surname". */
#ifndef STRATA_CORE_NAMES_H
#define STRATA_CORE_NAMES_H

#include <stddef.h>
#include <stdint.h>

/* Writes a name built from the random number R into BUF. */
void strata_random_name(uint64_t r, char *buf, size_t len);

#endif
