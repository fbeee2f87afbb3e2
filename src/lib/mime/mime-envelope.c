/* ENVELOPE writer: see mime-envelope.h. */
#include "mime-envelope.h"

#include <string.h>

#include "imap-quote.h"
#include "mime-address.h"

static int write_address(const struct mime_address *a, struct buffer *out)
{
	int ret = buffer_append_c(out, '(');
	ret |= imap_append_nstring(out, a->name);
	ret |= buffer_append_c(out, ' ');
	ret |= imap_append_nstring(out, a->route);
	ret |= buffer_append_c(out, ' ');
	ret |= imap_append_nstring(out, a->mailbox);
	ret |= buffer_append_c(out, ' ');
	ret |= imap_append_nstring(out, a->domain);
	ret |= buffer_append_c(out, ')');
	return ret;
}

static void parse_field(const struct mime_tree *tree, const struct mime_envelope_raw *env,
			enum mime_env_field field, struct mime_address_list *list_r)
{
	const char *value = env == NULL ? NULL : mime_tree_str(tree, env->fields[field]);
	mime_address_parse(value == NULL ? "" : value, value == NULL ? 0 : strlen(value), list_r);
}

/* The address list of field; Sender and Reply-To fall back to From. */
static int write_addresses(const struct mime_tree *tree, const struct mime_envelope_raw *env,
			   enum mime_env_field field, struct buffer *out)
{
	struct mime_address_list list;
	int ret = 0;
	parse_field(tree, env, field, &list);
	if (list.count == 0 && (field == MIME_ENV_SENDER || field == MIME_ENV_REPLY_TO)) {
		mime_address_list_free(&list);
		parse_field(tree, env, MIME_ENV_FROM, &list);
	}
	if (list.count == 0) {
		ret = buffer_append_str(out, "NIL");
	} else {
		ret |= buffer_append_c(out, '(');
		for (unsigned int i = 0; i < list.count; i++)
			ret |= write_address(&list.items[i], out);
		ret |= buffer_append_c(out, ')');
	}
	mime_address_list_free(&list);
	return ret;
}

int mime_envelope_write(const struct mime_tree *tree, const struct mime_part *msg,
			struct buffer *out)
{
	const struct mime_envelope_raw *env = msg == NULL || msg->envelope == MIME_NONE ? NULL :
		&tree->envelopes[msg->envelope];
	size_t mark = buffer_len(out);
	int ret = buffer_append_c(out, '(');
	for (unsigned int i = 0; i < MIME_ENV_COUNT; i++) {
		if (i > 0)
			ret |= buffer_append_c(out, ' ');
		switch ((enum mime_env_field)i) {
		case MIME_ENV_DATE:
		case MIME_ENV_SUBJECT:
		case MIME_ENV_IN_REPLY_TO:
		case MIME_ENV_MESSAGE_ID:
			ret |= imap_append_nstring(out, env == NULL ? NULL :
						   mime_tree_str(tree, env->fields[i]));
			break;
		default:
			ret |= write_addresses(tree, env, (enum mime_env_field)i, out);
			break;
		}
	}
	ret |= buffer_append_c(out, ')');
	if (ret != 0) {
		buffer_truncate(out, mark);
		return -1;
	}
	return 0;
}
