#include "test.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool current_failed;
static const char *current_name;
static char tmpdir[64];

void test_fail(const char *file, int line, const char *fmt, ...)
{
	va_list args;
	fprintf(stderr, "FAIL %s (%s:%d): ", current_name, file, line);
	va_start(args, fmt);
	vfprintf(stderr, fmt, args);
	va_end(args);
	fputc('\n', stderr);
	current_failed = true;
}

bool test_mem_eq(const void *a, size_t alen, const void *b, size_t blen)
{
	return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

static void remove_tmpdir(void)
{
	char cmd[96];
	if (tmpdir[0] == '\0')
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "warning: could not remove %s\n", tmpdir);
}

const char *test_tmpdir(void)
{
	if (tmpdir[0] == '\0') {
		snprintf(tmpdir, sizeof(tmpdir), "/tmp/pymap-unit.XXXXXX");
		if (mkdtemp(tmpdir) == NULL) {
			perror("mkdtemp");
			exit(2);
		}
		atexit(remove_tmpdir);
	}
	return tmpdir;
}

int test_run(const char *suite, const struct test_case *tests)
{
	unsigned int passed = 0, failed = 0;
	const char *name = strrchr(suite, '/');
	name = name == NULL ? suite : name + 1;

	for (const struct test_case *t = tests; t->name != NULL; t++) {
		current_failed = false;
		current_name = t->name;
		t->func();
		if (current_failed)
			failed++;
		else
			passed++;
	}
	printf("%s: %u passed, %u failed\n", name, passed, failed);
	return failed == 0 ? 0 : 1;
}
