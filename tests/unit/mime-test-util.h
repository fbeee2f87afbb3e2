#ifndef MIME_TEST_UTIL_H
#define MIME_TEST_UTIL_H
/* Helpers shared by the test-mime-*.c unit tests: read a corpus file. */
#include <stdio.h>
#include <stdlib.h>

#include "alloc.h"

#define MIME_TEST_CORPUS "tests/data/mail/"

/* The file's bytes (malloc'ed, NUL-terminated) and length; aborts the test binary when the
 * file is missing, since every test below needs it. */
static inline unsigned char *mime_test_read(const char *name, size_t *len_r)
{
	char path[512];
	snprintf(path, sizeof(path), "%s%s", MIME_TEST_CORPUS, name);
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		fprintf(stderr, "cannot open %s (run from the source tree root)\n", path);
		exit(2);
	}
	unsigned char *data = NULL;
	size_t len = 0, n;
	unsigned char tmp[4096];
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0) {
		data = i_realloc(data, len + n + 1);
		memcpy(data + len, tmp, n);
		len += n;
	}
	fclose(f);
	if (data == NULL)
		data = i_malloc(1);
	data[len] = '\0';
	*len_r = len;
	return data;
}

#endif
