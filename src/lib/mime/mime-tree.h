#ifndef PYMAP_MIME_TREE_H
#define PYMAP_MIME_TREE_H
/* The parse result of one message: a flat array of parts in document order (pre-order),
 * each with byte offsets into the message and the MIME fields IMAP reports, plus the raw
 * envelope header fields of every message (the top level and each message/rfc822 body).
 * Strings live in one arena and are referenced by offset, so the whole tree can be
 * serialised by mime-cache.c and used by FETCH without touching the message again.
 * Built by mime-parser.c (or mime-cache.c); read by mime-envelope.c,
 * mime-bodystructure.c, mime-section.c, mime-decode.c and the IMAP worker.
 *
 * Byte ranges of a part: header = [hdr_start, body_start) including the blank separator
 * line when present; body = [body_start, body_end). For a part inside a multipart the
 * line break before the next boundary line belongs to the boundary (RFC 2046 5.1.1), so
 * it is not part of the body. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buffer.h"

#define MIME_NONE UINT32_MAX

/* A string in the tree's arena; off == MIME_NONE means absent (NIL). Stored strings
 * never contain NUL bytes and are NUL-terminated in the arena. */
struct mime_str {
	uint32_t off;
	uint32_t len;
};

struct mime_param_ref {
	struct mime_str name;   /* as written, without RFC 2231 "*n*" suffixes */
	struct mime_str value;  /* unquoted; RFC 2231 continuations joined, charset -> UTF-8 */
};

enum mime_part_flag {
	MIME_PART_FLAG_MULTIPART = 0x01,  /* type multipart/... */
	MIME_PART_FLAG_MESSAGE = 0x02,    /* type message/rfc822 (or message/global) */
	MIME_PART_FLAG_TEXT = 0x04,       /* type text/...: lines are reported */
	MIME_PART_FLAG_BLANK_LINE = 0x08, /* the header ended with a blank line */
	MIME_PART_FLAG_DEFAULT_TYPE = 0x10, /* no usable Content-Type: text/plain us-ascii */
	MIME_PART_FLAG_OPAQUE = 0x20,     /* multipart/message not descended into (too deep,
					   * encoded, no boundary, too many parts) */
};

/* Content fields kept per part (raw, unfolded, trimmed). */
enum mime_field {
	MIME_FIELD_ID,           /* Content-ID */
	MIME_FIELD_DESCRIPTION,  /* Content-Description */
	MIME_FIELD_ENCODING,     /* Content-Transfer-Encoding */
	MIME_FIELD_MD5,          /* Content-MD5 */
	MIME_FIELD_LANGUAGE,     /* Content-Language (comma separated list) */
	MIME_FIELD_LOCATION,     /* Content-Location */
	MIME_FIELD_DISPOSITION,  /* Content-Disposition type token ("attachment") */
	MIME_FIELD_COUNT
};

/* Envelope fields kept per message (raw, unfolded, trimmed; first occurrence wins). */
enum mime_env_field {
	MIME_ENV_DATE, MIME_ENV_SUBJECT, MIME_ENV_FROM, MIME_ENV_SENDER, MIME_ENV_REPLY_TO,
	MIME_ENV_TO, MIME_ENV_CC, MIME_ENV_BCC, MIME_ENV_IN_REPLY_TO, MIME_ENV_MESSAGE_ID,
	MIME_ENV_COUNT
};

struct mime_part {
	uint32_t parent, first_child, next_sibling;  /* part indexes or MIME_NONE */
	uint32_t depth;                               /* 0 for the message itself */
	uint32_t flags;                               /* enum mime_part_flag */
	uint64_t hdr_start, body_start, body_end;
	uint64_t body_lines;  /* line breaks in the body, +1 for a final unterminated line */
	struct mime_str type, subtype;                /* as written, or "text" "plain" */
	uint32_t param_first, param_count;            /* Content-Type params in tree->params */
	uint32_t dparam_first, dparam_count;          /* Content-Disposition params */
	struct mime_str fields[MIME_FIELD_COUNT];
	uint32_t envelope;  /* index in tree->envelopes when this part is a message */
};

struct mime_envelope_raw {
	struct mime_str fields[MIME_ENV_COUNT];
};

enum mime_tree_flag {
	MIME_TREE_FLAG_LIMITED = 0x01,  /* some limit was hit: the tree is incomplete */
};

struct mime_tree {
	struct mime_part *parts;
	uint32_t part_count, part_alloc;
	struct mime_param_ref *params;
	uint32_t param_count, param_alloc;
	struct mime_envelope_raw *envelopes;
	uint32_t envelope_count, envelope_alloc;
	struct buffer arena;
	uint64_t size;   /* octets of the whole message */
	uint32_t flags;  /* enum mime_tree_flag */
};

/* Most bytes of strings a tree stores; past it further strings are dropped (NIL). */
#define MIME_TREE_MAX_ARENA_BYTES (8u * 1024 * 1024)

struct mime_tree *mime_tree_create(void);
void mime_tree_destroy(struct mime_tree **tree);

/* The root part (the message), index 0. A tree always has at least one part. */
static inline const struct mime_part *mime_tree_root(const struct mime_tree *tree)
{ return &tree->parts[0]; }
static inline const struct mime_part *mime_tree_part(const struct mime_tree *tree, uint32_t idx)
{ return idx == MIME_NONE ? NULL : &tree->parts[idx]; }

/* A stored string, or NULL when absent. Valid until the tree is destroyed. */
const char *mime_tree_str(const struct mime_tree *tree, struct mime_str s);
/* Copy len bytes (NULs dropped) into the arena; returns the reference, or an absent one
 * when the arena is full. */
struct mime_str mime_tree_add_str(struct mime_tree *tree, const void *data, size_t len);

/* Builders used by the parser and the cache loader. Return the new index. */
uint32_t mime_tree_add_part(struct mime_tree *tree);
uint32_t mime_tree_add_param(struct mime_tree *tree, struct mime_str name, struct mime_str value);
uint32_t mime_tree_add_envelope(struct mime_tree *tree);

/* The n-th child (1-based) of a part, or NULL. */
const struct mime_part *mime_tree_child(const struct mime_tree *tree,
					const struct mime_part *part, uint32_t n);
/* Value of a Content-Type parameter (case-insensitive name), or NULL. */
const char *mime_tree_param(const struct mime_tree *tree, const struct mime_part *part,
			    const char *name);
/* Whether the part's stored type/subtype equal these (case-insensitive). */
bool mime_tree_part_is(const struct mime_tree *tree, const struct mime_part *part,
		       const char *type, const char *subtype);

#endif
