#ifndef PYMAP_IMAP_DATE_H
#define PYMAP_IMAP_DATE_H
/* IMAP dates (RFC 3501 section 9: date, date-time). Owned by lib; called by the imap
 * worker (APPEND's date-time, SEARCH BEFORE/ON/SINCE/SENTxxx, FETCH INTERNALDATE).
 *
 * Parsing is strict: month names are the English three-letter abbreviations (any
 * case), the year has exactly 4 digits (0001-9999), the day must exist in that month
 * (29-Feb only in leap years), hours 00-23, minutes and seconds 00-59, the zone is
 * "+" or "-" followed by 4 digits with hours 00-23 and minutes 00-59. No surrounding
 * quotes or spaces: the caller passes the unquoted string argument. Functions return
 * 0 and write the _r outputs, or -1 leaving them untouched. */
#include <stddef.h>
#include <time.h>

/* "dd-Mon-yyyy" with a 1- or 2-digit day (date-text). *time_r is 00:00:00 UTC of that
 * day; compare it with a message's date converted the same way. */
int imap_date_parse(const char *str, time_t *time_r);

/* "dd-Mon-yyyy hh:mm:ss +zzzz" where the day is 2 digits or SP + digit (date-day-fixed);
 * a 1-digit day without the space is accepted too (lenient, like pymap). *time_r is
 * the UTC instant, *tz_offset_min_r the zone offset in minutes east of UTC
 * (e.g. -0700 -> -420). */
int imap_date_time_parse(const char *str, time_t *time_r, int *tz_offset_min_r);

/* "dd-Mon-yyyy hh:mm:ss +zzzz" without quotes (the caller adds them), the instant
 * shown in local time of the given offset (minutes east of UTC, clamped to
 * +-(23*60+59)); the day is zero-padded to 2 digits. Returns buf. */
#define IMAP_DATE_TIME_BUF_SIZE 32
const char *imap_date_time_format(time_t t, int tz_offset_min,
				  char buf[IMAP_DATE_TIME_BUF_SIZE]);
/* "d-Mon-yyyy" (UTC day of t), e.g. for tests and tools. Returns buf. */
#define IMAP_DATE_BUF_SIZE 16
const char *imap_date_format(time_t t, char buf[IMAP_DATE_BUF_SIZE]);

#endif
