#ifndef PYMAP_MIME_ADDRESS_H
#define PYMAP_MIME_ADDRESS_H
/* RFC 5322 3.4 address-list parsing (with the obsolete forms of 4.4: routes, empty list
 * elements, dotted phrases, CFWS anywhere) into the four parts IMAP's ENVELOPE reports.
 * Used by mime-envelope.c and by the IMAP worker for SEARCH FROM/TO/CC/BCC.
 *
 * Groups are flattened the way RFC 3501 7.4.2 writes them: a start marker (mailbox =
 * group name, domain NULL), the members, then an end marker (mailbox and domain NULL).
 * Broken input is never an error: unparsable pieces up to the next "," are skipped, an
 * address without "@" gets the domain MIME_ADDRESS_MISSING_DOMAIN (the UW/Dovecot
 * convention: a NIL host would mean a group marker). Empty "<>" is skipped. Display names
 * keep encoded words as written (ENVELOPE is not decoded); quoted strings are unquoted;
 * comments are dropped. */
#include <stddef.h>

#define MIME_ADDRESS_MISSING_DOMAIN ".MISSING-HOST-NAME."
#define MIME_ADDRESS_MAX_COUNT 1000

struct mime_address {
	char *name;     /* display name or NULL */
	char *route;    /* obsolete source route "@a,@b" or NULL */
	char *mailbox;  /* local part (quoted strings kept quoted); group name; NULL: group end */
	char *domain;   /* NULL for group markers */
};

struct mime_address_list {
	struct mime_address *items;
	unsigned int count;
};

/* Parse an (unfolded or folded) header value. Always succeeds; the list may be empty. */
void mime_address_parse(const void *value, size_t len, struct mime_address_list *list_r);
void mime_address_list_free(struct mime_address_list *list);

#endif
