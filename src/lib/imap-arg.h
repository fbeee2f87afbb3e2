#ifndef PYMAP_IMAP_ARG_H
#define PYMAP_IMAP_ARG_H
/* The argument tree produced by imap-parser (struct imap_arg) and helpers to read it.
 * Owned by lib; used by the imap worker's commands, tests and tools. Args are owned by
 * the parser and valid as long as imap-parser.h says. Included by imap-parser.h. */
#include <stdbool.h>
#include <stddef.h>

enum imap_arg_type {
	IMAP_ARG_NIL,
	IMAP_ARG_ATOM,
	IMAP_ARG_STRING,   /* quoted string, unescaped */
	IMAP_ARG_LITERAL,  /* {n} / {n+} / ~{n} / ~{n+} */
	IMAP_ARG_LIST,     /* ( ... ) */
	IMAP_ARG_EOL       /* terminates every argument array */
};

struct imap_arg {
	enum imap_arg_type type;
	/* Always non-NULL and NUL-terminated. ATOM and NIL: the text as sent; STRING: the
	 * unescaped contents; LITERAL: the data (may itself contain NUL bytes: len is
	 * authoritative), or "" when the literal went to an fd; LIST and EOL: "". */
	const char *str;
	/* Bytes in str; for an fd-backed literal the literal size (bytes written to fd). */
	size_t len;
	/* LIST: children, terminated by an IMAP_ARG_EOL arg; list_count excludes it. */
	const struct imap_arg *list;
	unsigned int list_count;
	bool literal8;     /* LITERAL announced as ~{n} / ~{n+} */
	/* LITERAL accepted with imap_parser_literal_accept_fd(): the fd given there (owned
	 * by the caller, not closed by the parser), data not in str. Otherwise -1. */
	int literal_fd;
};

/* Argument helpers: return true and set *_r when the arg has the wanted type.
 * The string helpers return false for a string or literal that contains a NUL byte
 * (it could not be used as a C string safely) and for fd-backed literals. */
static inline bool imap_arg_is_eol(const struct imap_arg *arg)
{ return arg->type == IMAP_ARG_EOL; }
static inline bool imap_arg_is_nil(const struct imap_arg *arg)
{ return arg->type == IMAP_ARG_NIL; }
/* ATOM only (not NIL). */
bool imap_arg_get_atom(const struct imap_arg *arg, const char **str_r);
/* STRING or LITERAL. */
bool imap_arg_get_string(const struct imap_arg *arg, const char **str_r);
/* ATOM, NIL (its text, e.g. a mailbox named "NIL"), STRING or LITERAL. */
bool imap_arg_get_astring(const struct imap_arg *arg, const char **str_r);
/* NIL (*str_r = NULL), STRING or LITERAL. */
bool imap_arg_get_nstring(const struct imap_arg *arg, const char **str_r);
/* LIST: *list_r = children terminated by EOL; count_r may be NULL. */
bool imap_arg_get_list(const struct imap_arg *arg, const struct imap_arg **list_r,
		       unsigned int *count_r);
/* ATOM or NIL whose text equals str ASCII-case-insensitively. */
bool imap_arg_atom_equals(const struct imap_arg *arg, const char *str);

#endif
