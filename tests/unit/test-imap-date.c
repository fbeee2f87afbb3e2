/* Tests for imap-date: RFC 3501 date / date-time; epoch values computed by hand
 * (e.g. 2000-03-01 = 11017 days after 1970-01-01). */
#include "test.h"
#include "imap-date.h"

static void test_date(void)
{
	time_t t = 1;
	TEST_ASSERT_INT_EQ(imap_date_parse("1-Jan-1970", &t), 0);
	TEST_ASSERT_INT_EQ(t, 0);
	TEST_ASSERT_INT_EQ(imap_date_parse("01-Jan-1970", &t), 0);
	TEST_ASSERT_INT_EQ(t, 0);
	TEST_ASSERT_INT_EQ(imap_date_parse("1-mar-2000", &t), 0);
	TEST_ASSERT_INT_EQ(t, 11017LL * 86400);
	TEST_ASSERT_INT_EQ(imap_date_parse("29-Feb-2000", &t), 0);
	TEST_ASSERT_INT_EQ(t, 11016LL * 86400);
	TEST_ASSERT_INT_EQ(imap_date_parse("31-DEC-1969", &t), 0);
	TEST_ASSERT_INT_EQ(t, -86400);
	TEST_ASSERT_INT_EQ(imap_date_parse("17-Jul-1996", &t), 0);
	TEST_ASSERT_INT_EQ(t, 837561600);
	static const char *const bad[] = {
		"", "1-Jan-70", "001-Jan-1970", "0-Jan-1970", "32-Jan-1970", "31-Apr-2020",
		"29-Feb-1900", "29-Feb-2021", "30-Feb-2000", "1-Jan-0000", "1-Janu-1970",
		"1 Jan 1970", "1-Jan-1970 ", " 1-Jan-1970", "1-Foo-1970", "1-Jan-19700",
		"\"1-Jan-1970\"", "a-Jan-1970", "1-Jan-197x", "-1-Jan-1970",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		t = 42;
		if (imap_date_parse(bad[i], &t) != -1)
			test_fail(__FILE__, __LINE__, "accepted \"%s\"", bad[i]);
		TEST_ASSERT_INT_EQ(t, 42);
	}
}

static void test_date_time(void)
{
	time_t t;
	int tz = 0;
	/* RFC 3501 example: 17-Jul-1996 02:44:25 -0700 = 09:44:25 UTC */
	TEST_ASSERT_INT_EQ(imap_date_time_parse("17-Jul-1996 02:44:25 -0700", &t, &tz), 0);
	TEST_ASSERT_INT_EQ(t, 837561600 + 9 * 3600 + 44 * 60 + 25);
	TEST_ASSERT_INT_EQ(tz, -420);
	TEST_ASSERT_INT_EQ(imap_date_time_parse(" 1-Jan-1970 00:00:00 +0000", &t, &tz), 0);
	TEST_ASSERT_INT_EQ(t, 0);
	TEST_ASSERT_INT_EQ(tz, 0);
	TEST_ASSERT_INT_EQ(imap_date_time_parse("1-Jan-1970 01:30:00 +0130", &t, &tz), 0);
	TEST_ASSERT_INT_EQ(t, 0);
	TEST_ASSERT_INT_EQ(tz, 90);
	TEST_ASSERT_INT_EQ(imap_date_time_parse("31-Dec-9999 23:59:59 -2359", &t, &tz), 0);
	TEST_ASSERT_INT_EQ(tz, -1439);
	static const char *const bad[] = {
		"17-Jul-1996 02:44:25", "17-Jul-1996 24:00:00 +0000", "17-Jul-1996 23:60:00 +0000",
		"17-Jul-1996 23:59:60 +0000", "17-Jul-1996 2:44:25 +0000",
		"17-Jul-1996 02:44:25 0700", "17-Jul-1996 02:44:25 +2400",
		"17-Jul-1996 02:44:25 +0060", "17-Jul-1996 02:44:25 +07", "17-Jul-1996  02:44:25 +0000",
		"17-Jul-1996 02:44:25 +0000 ", "  1-Jan-1970 00:00:00 +0000",
		"32-Jul-1996 02:44:25 +0000", "17-Jul-96 02:44:25 +0000",
		"17-Jul-1996 02:44:25 GMT", "17-Jul-1996T02:44:25 +0000",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		t = 42;
		tz = 7;
		if (imap_date_time_parse(bad[i], &t, &tz) != -1)
			test_fail(__FILE__, __LINE__, "accepted \"%s\"", bad[i]);
		TEST_ASSERT_INT_EQ(t, 42);
		TEST_ASSERT_INT_EQ(tz, 7);
	}
}

static void test_format(void)
{
	char buf[IMAP_DATE_TIME_BUF_SIZE], dbuf[IMAP_DATE_BUF_SIZE];
	time_t t = 837561600 + 9 * 3600 + 44 * 60 + 25;
	TEST_ASSERT_STR_EQ(imap_date_time_format(t, -420, buf), "17-Jul-1996 02:44:25 -0700");
	TEST_ASSERT_STR_EQ(imap_date_time_format(t, 0, buf), "17-Jul-1996 09:44:25 +0000");
	TEST_ASSERT_STR_EQ(imap_date_time_format(0, 90, buf), "01-Jan-1970 01:30:00 +0130");
	TEST_ASSERT_STR_EQ(imap_date_time_format(0, 5000, buf), "01-Jan-1970 23:59:00 +2359");
	TEST_ASSERT_STR_EQ(imap_date_format(t, dbuf), "17-Jul-1996");
	TEST_ASSERT_STR_EQ(imap_date_format(11016LL * 86400 + 5, dbuf), "29-Feb-2000");
	/* round trip */
	time_t back;
	int tz;
	TEST_ASSERT_INT_EQ(imap_date_time_parse(imap_date_time_format(t, 330, buf), &back, &tz), 0);
	TEST_ASSERT_INT_EQ(back, t);
	TEST_ASSERT_INT_EQ(tz, 330);
}

TEST_MAIN(TEST(test_date), TEST(test_date_time), TEST(test_format))
