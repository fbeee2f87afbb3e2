#include "test.h"
#include "mime/mime-date.h"

static time_t parse(const char *s, int *tz)
{
	time_t t;
	if (mime_date_parse(s, strlen(s), &t, tz) < 0)
		return (time_t)-1;
	return t;
}

static void test_rfc5322_forms(void)
{
	int tz = 99;
	/* 2000-01-01 10:00:00 UTC = 946720800 */
	TEST_ASSERT_INT_EQ(parse("Sat, 01 Jan 2000 10:00:00 +0000", &tz), 946720800);
	TEST_ASSERT_INT_EQ(tz, 0);
	TEST_ASSERT_INT_EQ(parse("1 Jan 2000 12:00:00 +0200", &tz), 946720800);
	TEST_ASSERT_INT_EQ(tz, 120);
	TEST_ASSERT_INT_EQ(parse("Sat, 01 Jan 2000 05:00 -0500", &tz), 946720800);
	TEST_ASSERT_INT_EQ(tz, -300);
	/* RFC 5322 4.3 obsolete: two-digit year, named zone, comments. */
	TEST_ASSERT_INT_EQ(parse("Sat, 01 Jan 00 05:00:00 EST", &tz), 946720800);
	TEST_ASSERT_INT_EQ(parse("Sat (day), 01 Jan 2000 10:00:00 GMT (zone)", &tz), 946720800);
	/* Leap day. 2020-02-29 00:00:00 UTC = 1582934400 */
	TEST_ASSERT_INT_EQ(parse("29 Feb 2020 00:00:00 +0000", &tz), 1582934400);
}

static void test_invalid(void)
{
	int tz;
	TEST_ASSERT_INT_EQ(parse("", &tz), -1);
	TEST_ASSERT_INT_EQ(parse("yesterday", &tz), -1);
	TEST_ASSERT_INT_EQ(parse("01 Foo 2000 10:00:00 +0000", &tz), -1);
	TEST_ASSERT_INT_EQ(parse("01 Jan 2000 25:00:00 +0000", &tz), -1);
	TEST_ASSERT_INT_EQ(parse("01 Jan 2000 10:00:00 +00", &tz), -1);
	TEST_ASSERT_INT_EQ(parse("32 Jan 2000 10:00:00 +0000", &tz), -1);
}

TEST_MAIN(TEST(test_rfc5322_forms), TEST(test_invalid))
