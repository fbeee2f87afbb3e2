#ifndef PYMAP_MAILDIR_KEYWORDS_H
#define PYMAP_MAILDIR_KEYWORDS_H
/* dovecot-keywords: the names of the keyword letters a-z in a maildir folder's file
 * names, one "<index> <keyword>" line each (index 0 = 'a'). Read and extended by the
 * maildir backend (store-maildir-sync.c); Dovecot never renumbers, neither do we.
 * Malformed lines (bad index, index >= 26, empty name, a name starting with '\' or
 * holding spaces/control characters or IMAP atom specials) are skipped. A letter with
 * no name is a gap: it has the placeholder name "" and is never given to a message. */
#include <stddef.h>

#define MAILDIR_KEYWORDS_NAME "dovecot-keywords"
#define MAILDIR_MAX_KEYWORDS 26
#define MAILDIR_KEYWORD_MAX_LEN 250

struct maildir_keywords {
	char *names[MAILDIR_MAX_KEYWORDS];   /* NULL = gap */
	unsigned int count;                  /* highest used index + 1 */
	unsigned int bad_lines;
};

void maildir_keywords_parse(const char *data, size_t size, struct maildir_keywords *kw);
/* 1 read, 0 missing (empty table), -1 error with errno. */
int maildir_keywords_read(const char *path, struct maildir_keywords *kw);
char *maildir_keywords_format(const struct maildir_keywords *kw, size_t *size_r);
int maildir_keywords_write(const char *path, const struct maildir_keywords *kw);
/* Index of name (case-insensitive) or -1. */
int maildir_keywords_lookup(const struct maildir_keywords *kw, const char *name);
/* Index of name, added at the end when missing; -1 when the table is full or the name
 * is not a valid keyword. */
int maildir_keywords_add(struct maildir_keywords *kw, const char *name);
void maildir_keywords_clear(struct maildir_keywords *kw);
void maildir_keywords_copy(struct maildir_keywords *dest, const struct maildir_keywords *src);

#endif
