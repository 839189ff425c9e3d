/* Sizes and times printed the way Docker prints them (go-units). */
#ifndef STRATA_CORE_HUMANIZE_H
#define STRATA_CORE_HUMANIZE_H

#include <stdint.h>
#include <time.h>

/* "1.23MB", "124MB", "0B": decimal units, 3 significant digits. */
void strata_human_size(uint64_t bytes, char *buf, size_t len);
/* "Less than a second", "About a minute", "11 months", ... for SECONDS. */
void strata_human_duration(double seconds, char *buf, size_t len);
/* "2 years ago" for a time T relative to NOW. */
void strata_human_ago(time_t t, time_t now, char *buf, size_t len);
/* Parses RFC 3339 ("2024-01-01T00:00:00Z", fractional seconds and offsets
 * allowed) into *t.  Returns 0, or -1 if it cannot. */
int strata_parse_rfc3339(const char *s, time_t *t);

#endif
