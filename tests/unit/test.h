#ifndef PYMAP_TEST_H
#define PYMAP_TEST_H
/* A small unit-test harness. Each test is a function; an assertion that fails prints
 * both values with file:line and marks the current test failed (the test goes on).
 * test_run() prints one line per failed test and ends with "N passed, M failed".
 *
 *   static void test_foo(void) { TEST_ASSERT_INT_EQ(add(1, 2), 3); }
 *   TEST_MAIN(TEST(test_foo), TEST(test_bar))
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct test_case {
	const char *name;
	void (*func)(void);
};

int test_run(const char *suite, const struct test_case *tests);
void test_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
bool test_mem_eq(const void *a, size_t alen, const void *b, size_t blen);
/* A temporary directory for this test binary, removed at exit. */
const char *test_tmpdir(void);

#define TEST(func) { #func, func }
#define TEST_MAIN(...) \
	int main(void) { \
		static const struct test_case tests[] = { __VA_ARGS__, { NULL, NULL } }; \
		return test_run(__FILE__, tests); \
	}

#define TEST_ASSERT(expr) \
	do { if (!(expr)) test_fail(__FILE__, __LINE__, "assertion failed: %s", #expr); } while (0)
#define TEST_ASSERT_INT_EQ(a, b) \
	do { long long _a = (long long)(a), _b = (long long)(b); \
	     if (_a != _b) test_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, _a, _b); \
	} while (0)
#define TEST_ASSERT_UINT_EQ(a, b) \
	do { unsigned long long _a = (unsigned long long)(a), _b = (unsigned long long)(b); \
	     if (_a != _b) test_fail(__FILE__, __LINE__, "%s == %s: %llu != %llu", #a, #b, _a, _b); \
	} while (0)
#define TEST_ASSERT_STR_EQ(a, b) \
	do { const char *_a = (a), *_b = (b); \
	     if (_a == NULL || _b == NULL || strcmp(_a, _b) != 0) \
		test_fail(__FILE__, __LINE__, "%s == %s: \"%s\" != \"%s\"", #a, #b, \
			  _a == NULL ? "(null)" : _a, _b == NULL ? "(null)" : _b); \
	} while (0)
#define TEST_ASSERT_MEM_EQ(a, alen, b, blen) \
	do { if (!test_mem_eq((a), (alen), (b), (blen))) \
		test_fail(__FILE__, __LINE__, "%s == %s: \"%.*s\" != \"%.*s\"", #a, #b, \
			  (int)(alen), (const char *)(a), (int)(blen), (const char *)(b)); \
	} while (0)

#include <string.h>
#endif
