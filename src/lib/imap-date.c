/* IMAP date and date-time parsing and formatting; see imap-date.h. */
#include "imap-date.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <strings.h>

static const char month_names[12][4] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};

#define MAX_TZ_OFFSET_MIN (23 * 60 + 59)

static bool is_leap(int year)
{
	return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

static int days_in_month(int year, int month)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	return month == 2 && is_leap(year) ? 29 : days[month - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (month 1-12). Counts in 400-year
 * eras of 146097 days, with the year starting in March so the leap day is last. */
static int64_t days_from_civil(int year, int month, int day)
{
	int64_t y = month <= 2 ? year - 1 : year;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t year_of_era = y - era * 400;
	int64_t month_from_march = month > 2 ? month - 3 : month + 9;
	int64_t day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
	int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 +
		day_of_year;
	return era * 146097 + day_of_era - 719468;
}

/* Exactly n digits at *sp; advances. */
static bool parse_digits(const char **sp, int n, int *num_r)
{
	int num = 0;
	for (int i = 0; i < n; i++) {
		char c = (*sp)[i];
		if (c < '0' || c > '9')
			return false;
		num = num * 10 + (c - '0');
	}
	*sp += n;
	*num_r = num;
	return true;
}

static bool parse_month(const char **sp, int *month_r)
{
	for (int i = 0; i < 12; i++) {
		if (strncasecmp(*sp, month_names[i], 3) == 0) {
			*sp += 3;
			*month_r = i + 1;
			return true;
		}
	}
	return false;
}

/* "-Mon-yyyy" after the day; checks the day against the month. */
static bool parse_month_year(const char **sp, int day, int64_t *days_r)
{
	const char *s = *sp;
	int month, year;

	if (*s++ != '-' || !parse_month(&s, &month) || *s++ != '-' ||
	    !parse_digits(&s, 4, &year))
		return false;
	if (year < 1 || day < 1 || day > days_in_month(year, month))
		return false;
	*sp = s;
	*days_r = days_from_civil(year, month, day);
	return true;
}

/* 1 or 2 digit day */
static bool parse_day(const char **sp, int *day_r)
{
	if (!parse_digits(sp, 1, day_r))
		return false;
	int second;
	if (parse_digits(sp, 1, &second))
		*day_r = *day_r * 10 + second;
	return true;
}

int imap_date_parse(const char *str, time_t *time_r)
{
	int day;
	int64_t days;

	if (!parse_day(&str, &day) || !parse_month_year(&str, day, &days) || *str != '\0')
		return -1;
	*time_r = (time_t)(days * 86400);
	return 0;
}

static bool parse_time(const char **sp, int64_t *secs_r)
{
	const char *s = *sp;
	int h, m, sec;

	if (!parse_digits(&s, 2, &h) || *s++ != ':' || !parse_digits(&s, 2, &m) ||
	    *s++ != ':' || !parse_digits(&s, 2, &sec))
		return false;
	if (h > 23 || m > 59 || sec > 59)
		return false;
	*sp = s;
	*secs_r = h * 3600 + m * 60 + sec;
	return true;
}

static bool parse_zone(const char **sp, int *offset_min_r)
{
	const char *s = *sp;
	char sign = *s++;
	int h, m;

	if ((sign != '+' && sign != '-') || !parse_digits(&s, 2, &h) ||
	    !parse_digits(&s, 2, &m) || h > 23 || m > 59)
		return false;
	*sp = s;
	*offset_min_r = (sign == '-' ? -1 : 1) * (h * 60 + m);
	return true;
}

int imap_date_time_parse(const char *str, time_t *time_r, int *tz_offset_min_r)
{
	int day, offset;
	int64_t days, secs;

	if (*str == ' ')
		str++;  /* date-day-fixed: SP DIGIT */
	if (!parse_day(&str, &day) || !parse_month_year(&str, day, &days) ||
	    *str++ != ' ' || !parse_time(&str, &secs) || *str++ != ' ' ||
	    !parse_zone(&str, &offset) || *str != '\0')
		return -1;
	*time_r = (time_t)(days * 86400 + secs - (int64_t)offset * 60);
	*tz_offset_min_r = offset;
	return 0;
}

const char *imap_date_time_format(time_t t, int tz_offset_min,
				  char buf[IMAP_DATE_TIME_BUF_SIZE])
{
	struct tm tm;
	if (tz_offset_min > MAX_TZ_OFFSET_MIN)
		tz_offset_min = MAX_TZ_OFFSET_MIN;
	if (tz_offset_min < -MAX_TZ_OFFSET_MIN)
		tz_offset_min = -MAX_TZ_OFFSET_MIN;
	time_t local = t + (time_t)tz_offset_min * 60;
	if (gmtime_r(&local, &tm) == NULL || tm.tm_year + 1900 > 9999 ||
	    tm.tm_year + 1900 < 1) {
		local = 0;
		tz_offset_min = 0;
		gmtime_r(&local, &tm);
	}
	int abs_off = tz_offset_min < 0 ? -tz_offset_min : tz_offset_min;
	snprintf(buf, IMAP_DATE_TIME_BUF_SIZE, "%02d-%s-%04d %02d:%02d:%02d %c%02d%02d",
		 tm.tm_mday, month_names[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, tz_offset_min < 0 ? '-' : '+', abs_off / 60,
		 abs_off % 60);
	return buf;
}

const char *imap_date_format(time_t t, char buf[IMAP_DATE_BUF_SIZE])
{
	struct tm tm;
	if (gmtime_r(&t, &tm) == NULL || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 1) {
		t = 0;
		gmtime_r(&t, &tm);
	}
	snprintf(buf, IMAP_DATE_BUF_SIZE, "%d-%s-%04d", tm.tm_mday, month_names[tm.tm_mon],
		 tm.tm_year + 1900);
	return buf;
}
