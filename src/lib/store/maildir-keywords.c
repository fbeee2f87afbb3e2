/* dovecot-keywords reading and writing (see maildir-keywords.h). */
#include "maildir-keywords.h"
#include "maildir-file.h"
#include "alloc.h"
#include "buffer.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

static bool keyword_is_valid(const char *name, size_t len)
{
	if (len == 0 || len > MAILDIR_KEYWORD_MAX_LEN || name[0] == '\\')
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\]", c) != NULL)
			return false;
	}
	return true;
}

void maildir_keywords_clear(struct maildir_keywords *kw)
{
	for (unsigned int i = 0; i < MAILDIR_MAX_KEYWORDS; i++)
		i_free(kw->names[i]);
	kw->count = 0;
	kw->bad_lines = 0;
}

void maildir_keywords_copy(struct maildir_keywords *dest, const struct maildir_keywords *src)
{
	maildir_keywords_clear(dest);
	for (unsigned int i = 0; i < MAILDIR_MAX_KEYWORDS; i++)
		dest->names[i] = i_strdup(src->names[i]);
	dest->count = src->count;
	dest->bad_lines = src->bad_lines;
}

static bool parse_line(struct maildir_keywords *kw, const char *p, const char *end)
{
	unsigned int idx = 0;
	const char *q = p;
	while (q < end && *q >= '0' && *q <= '9' && q - p < 3)
		idx = idx * 10 + (unsigned int)(*q++ - '0');
	if (q == p || q == end || *q != ' ' || idx >= MAILDIR_MAX_KEYWORDS)
		return false;
	q++;
	if (!keyword_is_valid(q, (size_t)(end - q)) || kw->names[idx] != NULL)
		return false;
	/* the same name twice keeps the first */
	for (unsigned int i = 0; i < kw->count; i++) {
		if (kw->names[i] != NULL && strlen(kw->names[i]) == (size_t)(end - q) &&
		    strncasecmp(kw->names[i], q, (size_t)(end - q)) == 0)
			return false;
	}
	kw->names[idx] = i_strndup(q, (size_t)(end - q));
	if (idx + 1 > kw->count)
		kw->count = idx + 1;
	return true;
}

void maildir_keywords_parse(const char *data, size_t size, struct maildir_keywords *kw)
{
	const char *p = data, *end = data + size;
	maildir_keywords_clear(kw);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *line_end = nl == NULL ? end : nl;
		const char *next = nl == NULL ? end : nl + 1;
		if (line_end > p && line_end[-1] == '\r')
			line_end--;
		if (line_end > p && !parse_line(kw, p, line_end))
			kw->bad_lines++;
		p = next;
	}
}

int maildir_keywords_read(const char *path, struct maildir_keywords *kw)
{
	char *data;
	size_t size;
	int ret = maildir_file_read(path, 64 * 1024, &data, &size);
	if (ret <= 0) {
		if (ret == 0)
			maildir_keywords_clear(kw);
		return ret;
	}
	maildir_keywords_parse(data, size, kw);
	free(data);
	return 1;
}

char *maildir_keywords_format(const struct maildir_keywords *kw, size_t *size_r)
{
	struct buffer buf;
	buffer_init(&buf, 0);
	for (unsigned int i = 0; i < kw->count; i++) {
		if (kw->names[i] != NULL)
			(void)buffer_printf(&buf, "%u %s\n", i, kw->names[i]);
	}
	*size_r = buffer_len(&buf);
	return buffer_steal_str(&buf);
}

int maildir_keywords_write(const char *path, const struct maildir_keywords *kw)
{
	size_t size;
	char *data = maildir_keywords_format(kw, &size);
	int ret = maildir_file_replace(path, data, size, 0600, true);
	free(data);
	return ret;
}

int maildir_keywords_lookup(const struct maildir_keywords *kw, const char *name)
{
	for (unsigned int i = 0; i < kw->count; i++) {
		if (kw->names[i] != NULL && strcasecmp(kw->names[i], name) == 0)
			return (int)i;
	}
	return -1;
}

int maildir_keywords_add(struct maildir_keywords *kw, const char *name)
{
	int idx = maildir_keywords_lookup(kw, name);
	if (idx >= 0)
		return idx;
	if (kw->count >= MAILDIR_MAX_KEYWORDS || !keyword_is_valid(name, strlen(name)))
		return -1;
	kw->names[kw->count] = i_strdup(name);
	return (int)kw->count++;
}
