/* The table of core services handed to every plugin's init. */
#ifndef STRATA_CORE_HOST_H
#define STRATA_CORE_HOST_H

#include <strata/plugin/host.h>

/* A static table; never freed. */
const struct strata_host *strata_host_table(void);

#endif
