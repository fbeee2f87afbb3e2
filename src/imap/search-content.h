#ifndef PYMAP_IMAP_SEARCH_CONTENT_H
#define PYMAP_IMAP_SEARCH_CONTENT_H
/* Matching SEARCH keys against message content (RFC 3501 6.4.4): header fields with
 * RFC 2047 encoded words decoded, text parts with their transfer encoding and charset
 * decoded to UTF-8, and the Date header. Comparison is substring, case-insensitive
 * for ASCII letters (i;ascii-casemap); other bytes compare exactly. */
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct store_content;
struct mime_tree;

bool search_text_contains(const void *hay, size_t len, const char *needle);
/* Any field named field in the message's header whose decoded value contains value
 * (an empty value matches the field's presence). */
bool search_header_matches(const struct store_content *content, const struct mime_tree *tree,
			   const char *field, const char *value);
/* BODY: the decoded text parts; TEXT (with_headers): also every header block. */
bool search_body_matches(const struct store_content *content, const struct mime_tree *tree,
			 const char *value, bool with_headers);
/* The calendar day of the Date header in its own zone, as the Unix time of its
 * 00:00 UTC; -1 when there is no parsable Date header. */
int search_sent_day(const struct store_content *content, const struct mime_tree *tree,
		    time_t *day_r);

#endif
