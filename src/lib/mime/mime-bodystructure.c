/* BODY / BODYSTRUCTURE writer: see mime-bodystructure.h. */
#include "mime-bodystructure.h"

#include <inttypes.h>
#include <string.h>

#include "imap-quote.h"
#include "mime-envelope.h"

#define EMPTY_TEXT_PART "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 0 0"

static int write_nstr(const struct mime_tree *tree, struct mime_str s, struct buffer *out)
{
	return imap_append_nstring(out, mime_tree_str(tree, s));
}

static int write_params(const struct mime_tree *tree, uint32_t first, uint32_t count,
			struct buffer *out)
{
	if (count == 0)
		return buffer_append_str(out, "NIL");
	int ret = buffer_append_c(out, '(');
	for (uint32_t i = 0; i < count; i++) {
		const struct mime_param_ref *p = &tree->params[first + i];
		const char *name = mime_tree_str(tree, p->name);
		const char *value = mime_tree_str(tree, p->value);
		if (i > 0)
			ret |= buffer_append_c(out, ' ');
		ret |= imap_append_string(out, name == NULL ? "" : name);
		ret |= buffer_append_c(out, ' ');
		ret |= imap_append_string(out, value == NULL ? "" : value);
	}
	return ret | buffer_append_c(out, ')');
}

static int write_disposition(const struct mime_tree *tree, const struct mime_part *part,
			     struct buffer *out)
{
	const char *disp = mime_tree_str(tree, part->fields[MIME_FIELD_DISPOSITION]);
	if (disp == NULL)
		return buffer_append_str(out, "NIL");
	int ret = buffer_append_c(out, '(');
	ret |= imap_append_string(out, disp);
	ret |= buffer_append_c(out, ' ');
	ret |= write_params(tree, part->dparam_first, part->dparam_count, out);
	return ret | buffer_append_c(out, ')');
}

/* Content-Language: "en, de (comment)" -> "en" or ("en" "de"). */
static int write_language(const struct mime_tree *tree, const struct mime_part *part,
			  struct buffer *out)
{
	const char *lang = mime_tree_str(tree, part->fields[MIME_FIELD_LANGUAGE]);
	struct buffer tags;
	unsigned int count = 0;
	buffer_init(&tags, 0);
	for (const char *p = lang == NULL ? "" : lang; *p != '\0';) {
		p += strspn(p, " \t,");
		size_t n = strcspn(p, " \t,(");
		if (n > 0) {
			buffer_append_str(&tags, count++ > 0 ? " " : "");
			imap_append_string_data(&tags, p, n);
		}
		p += n;
		if (*p == '(')
			p += strcspn(p, ")") + (strchr(p, ')') != NULL ? 1 : 0);
	}
	int ret = count == 0 ? buffer_append_str(out, "NIL") : count == 1 ?
		buffer_append(out, buffer_data(&tags), buffer_len(&tags)) :
		buffer_printf(out, "(%s)", buffer_str(&tags));
	buffer_deinit(&tags);
	return ret;
}

static int write_part(const struct mime_tree *tree, const struct mime_part *part, bool ext,
		      struct buffer *out);

static int write_empty_part(bool ext, struct buffer *out)
{
	int ret = buffer_append_str(out, EMPTY_TEXT_PART);
	if (ext)
		ret |= buffer_append_str(out, " NIL NIL NIL NIL");
	return ret | buffer_append_c(out, ')');
}

static int write_multipart(const struct mime_tree *tree, const struct mime_part *part,
			   bool ext, struct buffer *out)
{
	int ret = buffer_append_c(out, '(');
	if (part->first_child == MIME_NONE)
		ret |= write_empty_part(ext, out);
	for (uint32_t i = part->first_child; i != MIME_NONE; i = tree->parts[i].next_sibling)
		ret |= write_part(tree, &tree->parts[i], ext, out);
	ret |= buffer_append_c(out, ' ');
	ret |= write_nstr(tree, part->subtype, out);
	if (ext) {
		ret |= buffer_append_c(out, ' ');
		ret |= write_params(tree, part->param_first, part->param_count, out);
		ret |= buffer_append_c(out, ' ');
		ret |= write_disposition(tree, part, out);
		ret |= buffer_append_c(out, ' ');
		ret |= write_language(tree, part, out);
		ret |= buffer_append_c(out, ' ');
		ret |= write_nstr(tree, part->fields[MIME_FIELD_LOCATION], out);
	}
	return ret | buffer_append_c(out, ')');
}

/* message/rfc822 additions: envelope, body, lines. */
static int write_message_body(const struct mime_tree *tree, const struct mime_part *part,
			      bool ext, struct buffer *out)
{
	const struct mime_part *msg = mime_tree_part(tree, part->first_child);
	int ret = buffer_append_c(out, ' ');
	ret |= mime_envelope_write(tree, msg, out);
	ret |= buffer_append_c(out, ' ');
	ret |= msg == NULL ? write_empty_part(ext, out) : write_part(tree, msg, ext, out);
	return ret | buffer_printf(out, " %" PRIu64, part->body_lines);
}

static int write_single(const struct mime_tree *tree, const struct mime_part *part, bool ext,
			struct buffer *out)
{
	const char *enc = mime_tree_str(tree, part->fields[MIME_FIELD_ENCODING]);
	int ret = buffer_append_c(out, '(');
	ret |= write_nstr(tree, part->type, out);
	ret |= buffer_append_c(out, ' ');
	ret |= write_nstr(tree, part->subtype, out);
	ret |= buffer_append_c(out, ' ');
	ret |= write_params(tree, part->param_first, part->param_count, out);
	ret |= buffer_append_c(out, ' ');
	ret |= write_nstr(tree, part->fields[MIME_FIELD_ID], out);
	ret |= buffer_append_c(out, ' ');
	ret |= write_nstr(tree, part->fields[MIME_FIELD_DESCRIPTION], out);
	ret |= buffer_append_c(out, ' ');
	ret |= imap_append_string(out, enc == NULL || *enc == '\0' ? "7BIT" : enc);
	ret |= buffer_printf(out, " %" PRIu64, part->body_end - part->body_start);
	if ((part->flags & MIME_PART_FLAG_MESSAGE) != 0)
		ret |= write_message_body(tree, part, ext, out);
	else if ((part->flags & MIME_PART_FLAG_TEXT) != 0)
		ret |= buffer_printf(out, " %" PRIu64, part->body_lines);
	if (ext) {
		ret |= buffer_append_c(out, ' ');
		ret |= write_nstr(tree, part->fields[MIME_FIELD_MD5], out);
		ret |= buffer_append_c(out, ' ');
		ret |= write_disposition(tree, part, out);
		ret |= buffer_append_c(out, ' ');
		ret |= write_language(tree, part, out);
		ret |= buffer_append_c(out, ' ');
		ret |= write_nstr(tree, part->fields[MIME_FIELD_LOCATION], out);
	}
	return ret | buffer_append_c(out, ')');
}

static int write_part(const struct mime_tree *tree, const struct mime_part *part, bool ext,
		      struct buffer *out)
{
	if ((part->flags & MIME_PART_FLAG_MULTIPART) != 0)
		return write_multipart(tree, part, ext, out);
	return write_single(tree, part, ext, out);
}

int mime_bodystructure_write(const struct mime_tree *tree, const struct mime_part *part,
			     bool extended, struct buffer *out)
{
	size_t mark = buffer_len(out);
	if (write_part(tree, part, extended, out) != 0) {
		buffer_truncate(out, mark);
		return -1;
	}
	return 0;
}
