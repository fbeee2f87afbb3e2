#include "flags.h"
#include "alloc.h"
#include "imap-parser.h"
#include "store/store.h"

#include <string.h>
#include <strings.h>

static const struct { const char *name; uint32_t bit; } system_flag_names[] = {
	{ "\\Seen", STORE_FLAG_SEEN }, { "\\Answered", STORE_FLAG_ANSWERED },
	{ "\\Flagged", STORE_FLAG_FLAGGED }, { "\\Deleted", STORE_FLAG_DELETED },
	{ "\\Draft", STORE_FLAG_DRAFT },
};

static int flag_add(struct flag_list *flags, const struct imap_arg *arg)
{
	const char *name;
	if (!imap_arg_get_atom(arg, &name) || name[0] == '\0')
		return -1;
	if (name[0] != '\\') {
		for (const char *p = name; *p != '\0'; p++) {
			/* flag-keyword = atom: no list-wildcards, quoted-specials, ']' */
			if (strchr("(){%*\"\\]", *p) != NULL)
				return -1;
		}
		flags->keywords = i_reallocarray(flags->keywords, flags->keyword_count + 1,
						 sizeof(char *));
		flags->keywords[flags->keyword_count++] = name;
		return 0;
	}
	if (strcasecmp(name, "\\Recent") == 0) {
		flags->recent = true;
		return 0;
	}
	for (size_t i = 0; i < sizeof(system_flag_names) / sizeof(system_flag_names[0]); i++) {
		if (strcasecmp(name, system_flag_names[i].name) == 0) {
			flags->system |= system_flag_names[i].bit;
			return 0;
		}
	}
	return -1;
}

int flag_list_parse(const struct imap_arg *arg, bool allow_single, struct flag_list *flags_r)
{
	const struct imap_arg *list;
	unsigned int count;

	memset(flags_r, 0, sizeof(*flags_r));
	if (!imap_arg_get_list(arg, &list, &count)) {
		if (!allow_single)
			return -1;
		list = arg;
		count = 1;
	}
	for (unsigned int i = 0; i < count; i++) {
		if (flag_add(flags_r, &list[i]) < 0) {
			flag_list_free(flags_r);
			return -1;
		}
	}
	return 0;
}

void flag_list_free(struct flag_list *flags)
{
	i_free(flags->keywords);
	flags->keyword_count = 0;
}
