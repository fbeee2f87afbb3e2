#include "strnum.h"

#include <limits.h>
#include <string.h>

int str_parse_uint64(const char *str, uint64_t *num_r, const char **end_r)
{
	uint64_t num = 0;
	const char *p = str;

	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned int digit = (unsigned int)(*p - '0');
		if (num > (UINT64_MAX - digit) / 10)
			return -1;
		num = num * 10 + digit;
	}
	*num_r = num;
	*end_r = p;
	return 0;
}

int str_to_uint64_n(const char *str, size_t len, uint64_t *num_r)
{
	uint64_t num = 0;

	if (len == 0)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (str[i] < '0' || str[i] > '9')
			return -1;
		unsigned int digit = (unsigned int)(str[i] - '0');
		if (num > (UINT64_MAX - digit) / 10)
			return -1;
		num = num * 10 + digit;
	}
	*num_r = num;
	return 0;
}

int str_to_uint64(const char *str, uint64_t *num_r)
{
	return str_to_uint64_n(str, strlen(str), num_r);
}

int str_to_uint32(const char *str, uint32_t *num_r)
{
	uint64_t num;
	if (str_to_uint64(str, &num) < 0 || num > UINT32_MAX)
		return -1;
	*num_r = (uint32_t)num;
	return 0;
}

int str_to_uint(const char *str, unsigned int *num_r)
{
	uint64_t num;
	if (str_to_uint64(str, &num) < 0 || num > UINT_MAX)
		return -1;
	*num_r = (unsigned int)num;
	return 0;
}
