/* libstrata: the engine's core as a library.  The CLI is a thin user of it. */
#ifndef STRATA_STRATA_H
#define STRATA_STRATA_H

#ifdef __cplusplus
extern "C" {
#endif

/* The library's version, "MAJOR.MINOR.PATCH"; a static string. */
const char *strata_version(void);

#ifdef __cplusplus
}
#endif
#endif
