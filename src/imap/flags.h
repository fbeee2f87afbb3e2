#ifndef PYMAP_IMAP_FLAGS_H
#define PYMAP_IMAP_FLAGS_H
/* Parsing IMAP flag lists (APPEND, STORE) into store flags and keyword names. */
#include <stdbool.h>
#include <stdint.h>

struct imap_arg;

struct flag_list {
	uint32_t system;
	const char **keywords;   /* point into the parser's args */
	unsigned int keyword_count;
	bool recent;             /* \Recent was given */
};

/* Parse a parenthesised list, or (for STORE) a single flag atom. -1 on a syntax
 * error or an unknown system flag (\Foo). Free with flag_list_free. */
int flag_list_parse(const struct imap_arg *arg, bool allow_single, struct flag_list *flags_r);
void flag_list_free(struct flag_list *flags);

#endif
