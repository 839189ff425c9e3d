#include "config.h"
#include <strata/strata.h>

const char *strata_version(void) { return PACKAGE_VERSION; }
