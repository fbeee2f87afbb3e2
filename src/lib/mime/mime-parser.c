/* Streaming MIME parser: see mime-parser.h.
 *
 * The input is cut into lines at LF. Each line is classified when its LF arrives (or at
 * the end of input): in a header it becomes part of a field, ends the header or is a
 * boundary; in a body only boundary lines matter. Only a bounded prefix of a body line is
 * kept, so memory does not grow with line length. Body line counts come from a running
 * count of LFs. */
#include "mime-parser.h"

#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "mime-decode.h"
#include "mime-header.h"

#define BODY_LINE_PREFIX_BYTES (MIME_PARSER_MAX_BOUNDARY_LEN + 4 + 60)

struct boundary {
	uint32_t part;        /* the multipart */
	uint32_t last_child;  /* its last body part so far, or MIME_NONE */
	char *str;
	size_t len;
};

struct mime_parser {
	struct mime_tree *tree;
	uint64_t offset;      /* bytes consumed */
	uint64_t lfs;         /* LFs consumed */

	struct buffer line;   /* kept bytes of the current line (bounded) */
	uint64_t line_len;    /* full length of the current line so far */
	unsigned char last2[2];
	uint64_t prev_content_len;
	unsigned int prev_eol_len;

	uint32_t cur;         /* innermost open part */
	bool in_header;
	struct buffer field;  /* current header field, unfolded */
	bool field_active;
	unsigned int field_count;
	struct buffer ctype, cdisp;
	bool have_ctype, have_cdisp;

	struct boundary stack[MIME_PARSER_MAX_DEPTH + 1];
	unsigned int nboundaries;
};

/* What a line looks like once complete. */
struct line {
	const unsigned char *data;  /* kept prefix of the content */
	size_t kept;
	uint64_t content_len, start;
	unsigned int eol_len;
};

static struct mime_part *cur_part(struct mime_parser *p)
{
	return &p->tree->parts[p->cur];
}

static void header_reset(struct mime_parser *p)
{
	buffer_reset(&p->field);
	buffer_reset(&p->ctype);
	buffer_reset(&p->cdisp);
	p->field_active = p->have_ctype = p->have_cdisp = false;
	p->field_count = 0;
}

/* Start a part at the current offset as child of parent, in header state. */
static uint32_t open_part(struct mime_parser *p, uint32_t parent, bool is_message)
{
	uint32_t idx = mime_tree_add_part(p->tree);
	struct mime_part *part = &p->tree->parts[idx];
	part->parent = parent;
	part->depth = parent == MIME_NONE ? 0 : p->tree->parts[parent].depth + 1;
	part->hdr_start = part->body_start = part->body_end = p->offset;
	if (is_message)
		part->envelope = mime_tree_add_envelope(p->tree);
	p->cur = idx;
	p->in_header = true;
	header_reset(p);
	return idx;
}

struct mime_parser *mime_parser_create(void)
{
	struct mime_parser *p = i_new0(struct mime_parser);
	p->tree = mime_tree_create();
	buffer_init(&p->line, 0);
	buffer_init(&p->field, MIME_PARSER_MAX_FIELD_BYTES);
	buffer_init(&p->ctype, 0);
	buffer_init(&p->cdisp, 0);
	open_part(p, MIME_NONE, true);
	return p;
}

/* ---- header fields ------------------------------------------------------------------ */

static const char *const content_fields[MIME_FIELD_COUNT] = {
	[MIME_FIELD_ID] = "Content-ID",
	[MIME_FIELD_DESCRIPTION] = "Content-Description",
	[MIME_FIELD_ENCODING] = "Content-Transfer-Encoding",
	[MIME_FIELD_MD5] = "Content-MD5",
	[MIME_FIELD_LANGUAGE] = "Content-Language",
	[MIME_FIELD_LOCATION] = "Content-Location",
	[MIME_FIELD_DISPOSITION] = NULL,
};

static const char *const envelope_fields[MIME_ENV_COUNT] = {
	"Date", "Subject", "From", "Sender", "Reply-To", "To", "Cc", "Bcc", "In-Reply-To",
	"Message-ID",
};

static bool name_is(const unsigned char *name, size_t len, const char *want)
{
	return want != NULL && strlen(want) == len && strncasecmp((const char *)name, want, len) == 0;
}

static void store_value(struct mime_parser *p, struct mime_str *dst,
			const unsigned char *value, size_t len)
{
	if (dst->off != MIME_NONE)
		return;  /* first occurrence wins */
	struct buffer tmp;
	buffer_init(&tmp, 0);
	mime_header_unfold(value, len, &tmp);
	*dst = mime_tree_add_str(p->tree, buffer_data(&tmp), buffer_len(&tmp));
	buffer_deinit(&tmp);
}

static void keep_raw(struct buffer *dst, bool *have, const unsigned char *value, size_t len)
{
	if (*have)
		return;
	*have = true;
	buffer_append(dst, value, len);
}

static void flush_field(struct mime_parser *p)
{
	size_t name_len;
	if (!p->field_active)
		return;
	p->field_active = false;
	const unsigned char *f = buffer_data(&p->field);
	size_t len = buffer_len(&p->field);
	if (mime_header_classify(f, len, &name_len) != MIME_HEADER_LINE_FIELD)
		return;
	const unsigned char *value = (const unsigned char *)memchr(f, ':', len) + 1;
	size_t value_len = len - (size_t)(value - f);
	struct mime_part *part = cur_part(p);
	if (name_is(f, name_len, "Content-Type"))
		keep_raw(&p->ctype, &p->have_ctype, value, value_len);
	else if (name_is(f, name_len, "Content-Disposition"))
		keep_raw(&p->cdisp, &p->have_cdisp, value, value_len);
	for (unsigned int i = 0; i < MIME_FIELD_COUNT; i++) {
		if (name_is(f, name_len, content_fields[i]))
			store_value(p, &part->fields[i], value, value_len);
	}
	if (part->envelope == MIME_NONE)
		return;
	for (unsigned int i = 0; i < MIME_ENV_COUNT; i++) {
		if (name_is(f, name_len, envelope_fields[i]))
			store_value(p, &p->tree->envelopes[part->envelope].fields[i], value,
				    value_len);
	}
}

static void field_append(struct mime_parser *p, const unsigned char *data, size_t len)
{
	size_t room = MIME_PARSER_MAX_FIELD_BYTES - buffer_len(&p->field);
	buffer_append(&p->field, data, len < room ? len : room);
}

/* ---- end of a header: content type and descent -------------------------------------- */

static uint32_t add_params(struct mime_parser *p, const struct mime_header_params *params)
{
	uint32_t first = p->tree->param_count;
	for (unsigned int i = 0; i < params->count; i++) {
		const char *n = params->items[i].name, *v = params->items[i].value;
		mime_tree_add_param(p->tree, mime_tree_add_str(p->tree, n, strlen(n)),
				    mime_tree_add_str(p->tree, v, strlen(v)));
	}
	return first;
}

static bool parent_is_digest(struct mime_parser *p, const struct mime_part *part)
{
	const struct mime_part *parent = mime_tree_part(p->tree, part->parent);
	return parent != NULL && (parent->flags & MIME_PART_FLAG_MULTIPART) != 0 &&
		mime_tree_part_is(p->tree, parent, "multipart", "digest");
}

static void set_default_type(struct mime_parser *p, struct mime_part *part)
{
	bool digest = parent_is_digest(p, part);
	part->type = mime_tree_add_str(p->tree, digest ? "message" : "text", digest ? 7 : 4);
	part->subtype = mime_tree_add_str(p->tree, digest ? "rfc822" : "plain", digest ? 6 : 5);
	part->flags |= MIME_PART_FLAG_DEFAULT_TYPE;
	if (!digest) {
		struct mime_header_param param = { "charset", "us-ascii" };
		struct mime_header_params params = { &param, 1 };
		part->param_first = add_params(p, &params);
		part->param_count = 1;
	}
}

static void apply_content_type(struct mime_parser *p, uint32_t idx)
{
	struct mime_header_params params;
	char *type, *subtype, *disp;
	struct mime_part *part = &p->tree->parts[idx];
	if (p->have_ctype && mime_header_parse_content_type(buffer_data(&p->ctype),
		buffer_len(&p->ctype), &type, &subtype, &params) == 0) {
		part->type = mime_tree_add_str(p->tree, type, strlen(type));
		part->subtype = mime_tree_add_str(p->tree, subtype, strlen(subtype));
		part->param_first = add_params(p, &params);
		part->param_count = params.count;
		free(type);
		free(subtype);
		mime_header_params_free(&params);
	} else {
		set_default_type(p, part);
	}
	part = &p->tree->parts[idx];
	if (mime_tree_part_is(p->tree, part, "multipart", NULL))
		part->flags |= MIME_PART_FLAG_MULTIPART;
	else if (mime_tree_part_is(p->tree, part, "message", "rfc822"))
		part->flags |= MIME_PART_FLAG_MESSAGE;
	else if (mime_tree_part_is(p->tree, part, "text", NULL))
		part->flags |= MIME_PART_FLAG_TEXT;
	if (p->have_cdisp && mime_header_parse_disposition(buffer_data(&p->cdisp),
		buffer_len(&p->cdisp), &disp, &params) == 0) {
		part->fields[MIME_FIELD_DISPOSITION] = mime_tree_add_str(p->tree, disp, strlen(disp));
		part->dparam_first = add_params(p, &params);
		part->dparam_count = params.count;
		free(disp);
		mime_header_params_free(&params);
	}
}

/* Whether the parser may look inside this multipart or message part. */
static bool can_descend(struct mime_parser *p, const struct mime_part *part, const char **bnd_r)
{
	enum mime_cte cte = mime_decode_cte(mime_tree_str(p->tree,
							  part->fields[MIME_FIELD_ENCODING]));
	if (cte != MIME_CTE_7BIT && cte != MIME_CTE_8BIT && cte != MIME_CTE_BINARY)
		return false;
	if (part->depth + 1 >= MIME_PARSER_MAX_DEPTH ||
	    p->tree->part_count >= MIME_PARSER_MAX_PARTS) {
		p->tree->flags |= MIME_TREE_FLAG_LIMITED;
		return false;
	}
	if ((part->flags & MIME_PART_FLAG_MULTIPART) == 0)
		return true;
	const char *b = mime_tree_param(p->tree, part, "boundary");
	*bnd_r = b;
	return b != NULL && *b != '\0' && strlen(b) <= MIME_PARSER_MAX_BOUNDARY_LEN &&
		p->nboundaries < MIME_PARSER_MAX_DEPTH;
}

/* The header of the current part ends; its body starts at body_start, where lfs LFs have
 * been seen. Unless closing, multiparts push their boundary and message parts open the
 * encapsulated message. */
static void finish_header(struct mime_parser *p, uint64_t body_start, uint64_t lfs,
			  bool blank_line, bool closing)
{
	uint32_t idx = p->cur;
	const char *bnd = NULL;
	flush_field(p);
	struct mime_part *part = cur_part(p);
	part->body_start = body_start < part->hdr_start ? part->hdr_start : body_start;
	part->body_lines = lfs;  /* LFs before the body, until the part is closed */
	if (blank_line)
		part->flags |= MIME_PART_FLAG_BLANK_LINE;
	apply_content_type(p, idx);
	p->in_header = false;
	header_reset(p);
	part = &p->tree->parts[idx];
	if ((part->flags & (MIME_PART_FLAG_MULTIPART | MIME_PART_FLAG_MESSAGE)) == 0)
		return;
	if (closing || !can_descend(p, part, &bnd)) {
		part->flags |= MIME_PART_FLAG_OPAQUE;
		return;
	}
	if ((part->flags & MIME_PART_FLAG_MULTIPART) != 0) {
		struct boundary *b = &p->stack[p->nboundaries++];
		b->part = idx;
		b->last_child = MIME_NONE;
		b->len = strlen(bnd);
		b->str = i_strdup(bnd);
		return;
	}
	uint64_t saved = p->offset;
	p->offset = part->body_start;
	uint32_t child = open_part(p, idx, true);
	p->offset = saved;
	p->tree->parts[idx].first_child = child;
}

/* ---- closing parts ---------------------------------------------------------------- */

/* Close part idx at end offset end; lfs = LFs before end; last_lf = byte end-1 is LF. */
static void close_part(struct mime_parser *p, uint32_t idx, uint64_t end, uint64_t lfs,
		       bool last_lf)
{
	if (idx == p->cur && p->in_header)
		finish_header(p, end, lfs, false, true);
	struct mime_part *part = &p->tree->parts[idx];
	if (end <= part->body_start) {
		part->body_end = part->body_start;
		part->body_lines = 0;
		return;
	}
	part->body_end = end;
	part->body_lines = lfs - part->body_lines + (last_lf ? 0 : 1);
}

/* Close the open parts from the innermost up to (not including) stop. */
static void close_until(struct mime_parser *p, uint32_t stop, uint64_t end, uint64_t lfs,
			bool last_lf)
{
	while (p->cur != stop && p->cur != MIME_NONE) {
		uint32_t idx = p->cur;
		close_part(p, idx, end, lfs, last_lf);
		p->cur = p->tree->parts[idx].parent;
		p->in_header = false;
	}
}

static void pop_boundaries(struct mime_parser *p, unsigned int keep)
{
	while (p->nboundaries > keep) {
		p->nboundaries--;
		i_free(p->stack[p->nboundaries].str);
	}
}

/* ---- lines ---------------------------------------------------------------------------- */

/* Index in the boundary stack of the boundary this line is, or -1. */
static int match_boundary(struct mime_parser *p, const struct line *l, bool *close_r)
{
	if (l->kept != l->content_len || l->kept < 2 || l->data[0] != '-' || l->data[1] != '-')
		return -1;
	for (int i = (int)p->nboundaries - 1; i >= 0; i--) {
		const struct boundary *b = &p->stack[i];
		if (l->kept < 2 + b->len || memcmp(l->data + 2, b->str, b->len) != 0)
			continue;
		size_t pos = 2 + b->len;
		bool is_close = l->kept >= pos + 2 && l->data[pos] == '-' && l->data[pos + 1] == '-';
		if (is_close)
			pos += 2;
		while (pos < l->kept && (l->data[pos] == ' ' || l->data[pos] == '\t'))
			pos++;
		if (pos == l->kept) {
			*close_r = is_close;
			return i;
		}
	}
	return -1;
}

static void handle_boundary(struct mime_parser *p, int level, bool is_close,
			    const struct line *l, uint64_t lfs_at_start)
{
	struct boundary *b = &p->stack[level];
	uint64_t end = l->start >= p->prev_eol_len ? l->start - p->prev_eol_len : 0;
	uint64_t lfs = lfs_at_start - (p->prev_eol_len > 0 ? 1 : 0);
	close_until(p, b->part, end, lfs, p->prev_content_len == 0);
	pop_boundaries(p, (unsigned int)level + (is_close ? 0 : 1));
	p->cur = b->part;
	p->in_header = false;
	if (is_close)
		return;
	if (p->tree->part_count >= MIME_PARSER_MAX_PARTS) {
		p->tree->flags |= MIME_TREE_FLAG_LIMITED;
		return;
	}
	uint32_t child = open_part(p, b->part, false);
	if (b->last_child == MIME_NONE)
		p->tree->parts[b->part].first_child = child;
	else
		p->tree->parts[b->last_child].next_sibling = child;
	b->last_child = child;
}

/* A header line; returns true when the line must be looked at again in the new state. */
static bool header_line(struct mime_parser *p, const struct line *l, uint64_t lfs_at_start)
{
	size_t name_len, len = l->kept < l->content_len ? l->kept : (size_t)l->content_len;
	switch (mime_header_classify(l->data, len, &name_len)) {
	case MIME_HEADER_LINE_BLANK:
		finish_header(p, p->offset, p->lfs, true, false);
		return false;
	case MIME_HEADER_LINE_CONTINUATION:
		if (p->field_active)
			field_append(p, l->data, len);
		return false;
	case MIME_HEADER_LINE_FIELD:
		flush_field(p);
		if (++p->field_count > MIME_PARSER_MAX_HEADER_FIELDS) {
			p->tree->flags |= MIME_TREE_FLAG_LIMITED;
			return false;
		}
		p->field_active = true;
		buffer_reset(&p->field);
		field_append(p, l->data, len);
		return false;
	case MIME_HEADER_LINE_GARBAGE:
		break;
	}
	finish_header(p, l->start, lfs_at_start, false, false);
	return true;
}

static void process_line(struct mime_parser *p, bool has_lf)
{
	struct line l;
	l.eol_len = !has_lf ? 0 : p->line_len >= 2 && p->last2[0] == '\r' ? 2 : 1;
	l.content_len = p->line_len - l.eol_len;
	l.start = p->offset - p->line_len;
	l.data = buffer_data(&p->line);
	l.kept = buffer_len(&p->line) < l.content_len ? buffer_len(&p->line) :
		(size_t)l.content_len;
	uint64_t lfs_at_start = p->lfs - (has_lf ? 1 : 0);
	bool is_close;
	int level = match_boundary(p, &l, &is_close);
	if (level >= 0) {
		handle_boundary(p, level, is_close, &l, lfs_at_start);
	} else {
		/* each repeat finishes one header, so this ends within the depth limit */
		while (p->in_header && header_line(p, &l, lfs_at_start))
			;
	}
	p->prev_content_len = l.content_len;
	p->prev_eol_len = l.eol_len;
	buffer_reset(&p->line);
	p->line_len = 0;
}

static void line_append(struct mime_parser *p, const unsigned char *data, size_t n)
{
	size_t cap = p->in_header ? MIME_PARSER_MAX_FIELD_BYTES : BODY_LINE_PREFIX_BYTES;
	size_t kept = buffer_len(&p->line);
	if (kept < cap)
		buffer_append(&p->line, data, n < cap - kept ? n : cap - kept);
	if (n >= 2) {
		p->last2[0] = data[n - 2];
		p->last2[1] = data[n - 1];
	} else if (n == 1) {
		p->last2[0] = p->last2[1];
		p->last2[1] = data[0];
	}
	p->line_len += n;
}

void mime_parser_feed(struct mime_parser *p, const void *data, size_t size)
{
	const unsigned char *d = data;
	while (size > 0) {
		const unsigned char *lf = memchr(d, '\n', size);
		size_t n = lf == NULL ? size : (size_t)(lf - d) + 1;
		line_append(p, d, n);
		p->offset += n;
		if (lf != NULL) {
			p->lfs++;
			process_line(p, true);
		}
		d += n;
		size -= n;
	}
}

struct mime_tree *mime_parser_finish(struct mime_parser **parser)
{
	struct mime_parser *p = *parser;
	bool last_lf = p->offset > 0 && p->line_len == 0;
	if (p->line_len > 0)
		process_line(p, false);
	close_until(p, MIME_NONE, p->offset, p->lfs, last_lf);
	struct mime_tree *tree = p->tree;
	tree->size = p->offset;
	pop_boundaries(p, 0);
	buffer_deinit(&p->line);
	buffer_deinit(&p->field);
	buffer_deinit(&p->ctype);
	buffer_deinit(&p->cdisp);
	i_free(p);
	*parser = NULL;
	return tree;
}

struct mime_tree *mime_parse(const void *data, size_t size)
{
	struct mime_parser *p = mime_parser_create();
	mime_parser_feed(p, data, size);
	return mime_parser_finish(&p);
}
