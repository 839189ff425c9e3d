#include "config.h"
#include "humanize.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void strata_human_size(uint64_t bytes, char *buf, size_t len) {
  static const char *const units[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"};
  double size = (double)bytes;
  int i = 0;
  while (size >= 1000.0 && i < 8) {
    size /= 1000.0;
    i++;
  }
  snprintf(buf, len, "%.3g%s", size, units[i]);
}

void strata_human_duration(double seconds, char *buf, size_t len) {
  long s = (long)seconds;
  long minutes = (long)(seconds / 60);
  long hours = (long)(seconds / 3600 + 0.5);

  if (s < 1)
    snprintf(buf, len, "Less than a second");
  else if (s == 1)
    snprintf(buf, len, "1 second");
  else if (s < 60)
    snprintf(buf, len, "%ld seconds", s);
  else if (minutes == 1)
    snprintf(buf, len, "About a minute");
  else if (minutes < 60)
    snprintf(buf, len, "%ld minutes", minutes);
  else if (hours == 1)
    snprintf(buf, len, "About an hour");
  else if (hours < 48)
    snprintf(buf, len, "%ld hours", hours);
  else if (hours < 24 * 7 * 2)
    snprintf(buf, len, "%ld days", hours / 24);
  else if (hours < 24 * 30 * 2)
    snprintf(buf, len, "%ld weeks", hours / 24 / 7);
  else if (hours < 24 * 365 * 2)
    snprintf(buf, len, "%ld months", hours / 24 / 30);
  else
    snprintf(buf, len, "%ld years", (long)(seconds / 3600) / 24 / 365);
}

void strata_human_ago(time_t t, time_t now, char *buf, size_t len) {
  char d[64];
  strata_human_duration(difftime(now, t), d, sizeof(d));
  snprintf(buf, len, "%s ago", d);
}

int strata_parse_rfc3339(const char *s, time_t *t) {
  struct tm tm = {0};
  const char *p;
  long off = 0;

  if (s == NULL)
    return -1;
  p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
  if (p == NULL)
    return -1;
  if (*p == '.') {
    p++;
    if (!isdigit((unsigned char)*p))
      return -1;
    while (isdigit((unsigned char)*p))
      p++;
  }
  if (*p == 'Z' || *p == 'z') {
    p++;
  } else if (*p == '+' || *p == '-') {
    /* exactly [+-]hh:mm */
    int sign = *p == '-' ? -1 : 1;
    for (int i = 1; i <= 5; i++)
      if (i == 3 ? p[i] != ':' : !isdigit((unsigned char)p[i]))
        return -1;
    off = sign * (((p[1] - '0') * 10 + (p[2] - '0')) * 3600L + ((p[4] - '0') * 10 + (p[5] - '0')) * 60L);
    p += 6;
  } else {
    return -1;
  }
  if (*p != '\0')
    return -1;
  *t = timegm(&tm) - off;
  return 0;
}
