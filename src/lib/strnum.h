#ifndef PYMAP_STRNUM_H
#define PYMAP_STRNUM_H
/* Strict number parsing: decimal digits only (no sign, no spaces, no leading '+'),
 * the whole string must be consumed, overflow is an error. Return 0 on success and
 * write *num_r, or -1 and leave it untouched. */
#include <stddef.h>
#include <stdint.h>

int str_to_uint64(const char *str, uint64_t *num_r);
int str_to_uint32(const char *str, uint32_t *num_r);
int str_to_uint(const char *str, unsigned int *num_r);
/* Same on a length-delimited (not NUL-terminated) run of bytes. */
int str_to_uint64_n(const char *str, size_t len, uint64_t *num_r);
/* Parse a leading run of digits; *end_r points after it. At least one digit. */
int str_parse_uint64(const char *str, uint64_t *num_r, const char **end_r);

#endif
