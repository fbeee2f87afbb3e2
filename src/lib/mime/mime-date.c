#include "mime-date.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

struct date_scanner {
	const char *p, *end;
};

/* Skip white space and (nested) comments. */
static void skip_cfws(struct date_scanner *s)
{
	int depth = 0;
	while (s->p < s->end) {
		char c = *s->p;
		if (c == '(')
			depth++;
		else if (c == ')' && depth > 0)
			depth--;
		else if (depth == 0 && c != ' ' && c != '\t' && c != '\r' && c != '\n')
			return;
		s->p++;
	}
}

static bool scan_number(struct date_scanner *s, unsigned int max_digits, int *num_r,
			unsigned int *digits_r)
{
	unsigned int digits = 0;
	int num = 0;
	skip_cfws(s);
	while (s->p < s->end && isdigit((unsigned char)*s->p) && digits < max_digits) {
		num = num * 10 + (*s->p++ - '0');
		digits++;
	}
	if (digits == 0)
		return false;
	*num_r = num;
	if (digits_r != NULL)
		*digits_r = digits;
	return true;
}

/* A run of letters (at most len-1 of them) into word. */
static size_t scan_word(struct date_scanner *s, char *word, size_t size)
{
	size_t n = 0;
	skip_cfws(s);
	while (s->p < s->end && isalpha((unsigned char)*s->p)) {
		if (n + 1 < size)
			word[n++] = *s->p;
		s->p++;
	}
	word[n] = '\0';
	return n;
}

static int month_index(const char *name)
{
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	for (int i = 0; i < 12; i++) {
		if (strcasecmp(name, months[i]) == 0)
			return i;
	}
	return -1;
}

static bool scan_zone(struct date_scanner *s, int *tz_min_r)
{
	static const struct { const char *name; int hours; } zones[] = {
		{ "UT", 0 }, { "GMT", 0 }, { "Z", 0 }, { "EST", -5 }, { "EDT", -4 },
		{ "CST", -6 }, { "CDT", -5 }, { "MST", -7 }, { "MDT", -6 }, { "PST", -8 },
		{ "PDT", -7 },
	};
	char word[8];
	skip_cfws(s);
	if (s->p < s->end && (*s->p == '+' || *s->p == '-')) {
		int sign = *s->p++ == '-' ? -1 : 1, hhmm;
		unsigned int digits;
		if (!scan_number(s, 4, &hhmm, &digits) || digits != 4 || hhmm % 100 > 59)
			return false;
		*tz_min_r = sign * ((hhmm / 100) * 60 + hhmm % 100);
		return true;
	}
	if (scan_word(s, word, sizeof(word)) == 0) {
		*tz_min_r = 0;  /* no zone: RFC 5322 4.3 treats it as unknown, -0000 */
		return true;
	}
	*tz_min_r = 0;
	for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
		if (strcasecmp(word, zones[i].name) == 0)
			*tz_min_r = zones[i].hours * 60;
	}
	return true;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (month 0..11). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m < 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int mp = (m + 10) % 12;
	int64_t doy = (153 * mp + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static bool scan_date(struct date_scanner *s, int *day, int *month, int *year)
{
	char word[16];
	unsigned int digits;
	const char *save = s->p;
	/* Optional day name and comma. */
	if (scan_word(s, word, sizeof(word)) > 0) {
		skip_cfws(s);
		if (s->p < s->end && *s->p == ',')
			s->p++;
	} else {
		s->p = save;
	}
	if (!scan_number(s, 2, day, NULL) || *day < 1 || *day > 31)
		return false;
	if (scan_word(s, word, sizeof(word)) == 0 || (*month = month_index(word)) < 0)
		return false;
	if (!scan_number(s, 4, year, &digits))
		return false;
	if (digits == 2)
		*year += *year < 50 ? 2000 : 1900;
	else if (digits == 3)
		*year += 1900;
	return true;
}

int mime_date_parse(const char *value, size_t len, time_t *time_r, int *tz_min_r)
{
	struct date_scanner s = { value, value + len };
	int day, month, year, hour, minute, second = 0, tz;

	if (!scan_date(&s, &day, &month, &year) || !scan_number(&s, 2, &hour, NULL))
		return -1;
	skip_cfws(&s);
	if (s.p >= s.end || *s.p++ != ':' || !scan_number(&s, 2, &minute, NULL))
		return -1;
	skip_cfws(&s);
	if (s.p < s.end && *s.p == ':') {
		s.p++;
		if (!scan_number(&s, 2, &second, NULL))
			return -1;
	}
	if (hour > 23 || minute > 59 || second > 60 || !scan_zone(&s, &tz))
		return -1;
	int64_t t = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 +
		    second - (int64_t)tz * 60;
	*time_r = (time_t)t;
	*tz_min_r = tz;
	return 0;
}
