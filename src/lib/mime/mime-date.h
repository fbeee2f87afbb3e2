#ifndef PYMAP_MIME_DATE_H
#define PYMAP_MIME_DATE_H
/* RFC 5322 section 3.3 date-time parsing for the Date header (SEARCH SENTBEFORE,
 * SENTON, SENTSINCE). Accepts the obsolete forms of section 4.3: two- and
 * three-digit years, alphabetic zones (UT, GMT, EST...; military zones count as
 * -0000), comments and extra folding white space; the day name is optional.
 * Called by the imap worker's SEARCH. */
#include <stddef.h>
#include <time.h>

/* 0 with *time_r (the instant, UTC) and *tz_min_r (offset east of UTC in minutes), or
 * -1 when value is not a date. */
int mime_date_parse(const char *value, size_t len, time_t *time_r, int *tz_min_r);

#endif
