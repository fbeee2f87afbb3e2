#include "alloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sodium.h>

static void __attribute__((noreturn)) out_of_memory(size_t size)
{
	char msg[80];
	int len = snprintf(msg, sizeof(msg), "fatal: out of memory (%zu bytes)\n", size);
	if (len > 0 && write(STDERR_FILENO, msg, (size_t)len) < 0) {
		/* nothing more we can do */
	}
	abort();
}

void *i_malloc(size_t size)
{
	void *p = calloc(1, size == 0 ? 1 : size);
	if (p == NULL)
		out_of_memory(size);
	return p;
}

void *i_calloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb == 0 ? 1 : nmemb, size == 0 ? 1 : size);
	if (p == NULL)
		out_of_memory(nmemb * size);
	return p;
}

void *i_realloc(void *ptr, size_t size)
{
	void *p = realloc(ptr, size == 0 ? 1 : size);
	if (p == NULL)
		out_of_memory(size);
	return p;
}

void *i_reallocarray(void *ptr, size_t nmemb, size_t size)
{
	void *p = reallocarray(ptr, nmemb == 0 ? 1 : nmemb, size == 0 ? 1 : size);
	if (p == NULL)
		out_of_memory(nmemb * size);
	return p;
}

char *i_strdup(const char *str)
{
	return str == NULL ? NULL : i_memdup(str, strlen(str) + 1);
}

char *i_strndup(const char *str, size_t max_len)
{
	size_t len = strnlen(str, max_len);
	char *p = i_malloc(len + 1);
	memcpy(p, str, len);
	return p;
}

void *i_memdup(const void *data, size_t size)
{
	void *p = i_malloc(size);
	if (size > 0)
		memcpy(p, data, size);
	return p;
}

char *i_strdup_printf(const char *fmt, ...)
{
	va_list args;
	char *str;

	va_start(args, fmt);
	int len = vasprintf(&str, fmt, args);
	va_end(args);
	if (len < 0)
		out_of_memory(strlen(fmt));
	return str;
}

void i_free_secret(void *ptr, size_t size)
{
	if (ptr == NULL)
		return;
	sodium_memzero(ptr, size);
	free(ptr);
}
