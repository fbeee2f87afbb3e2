/* dovecot-uidlist reading and writing (see maildir-uidlist.h). */
#include "maildir-uidlist.h"
#include "maildir-file.h"
#include "alloc.h"
#include "buffer.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

struct maildir_uidlist *maildir_uidlist_new(uint32_t uidvalidity)
{
	unsigned char raw[MAILDIR_GUID_HEX / 2];
	struct maildir_uidlist *list = i_new0(struct maildir_uidlist);
	list->version = 3;
	list->uidvalidity = uidvalidity;
	list->next_uid = 1;
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(list->guid, sizeof(list->guid), raw, sizeof(raw));
	list->header_ext = i_strdup("");
	return list;
}

void maildir_uidlist_free(struct maildir_uidlist **_list)
{
	struct maildir_uidlist *list = *_list;
	if (list == NULL)
		return;
	*_list = NULL;
	for (unsigned int i = 0; i < list->count; i++) {
		free(list->recs[i].ext);
		free(list->recs[i].name);
	}
	free(list->recs);
	free(list->header_ext);
	free(list);
}

/* Strict decimal uint32 > 0 in [p, end). */
static bool parse_u32(const char *p, const char *end, uint32_t *value_r)
{
	uint64_t value = 0;
	if (p == end || end - p > 10)
		return false;
	for (; p < end; p++) {
		if (*p < '0' || *p > '9')
			return false;
		value = value * 10 + (uint64_t)(*p - '0');
	}
	if (value == 0 || value > UINT32_MAX)
		return false;
	*value_r = (uint32_t)value;
	return true;
}

static bool is_hex_guid(const char *p, size_t len)
{
	if (len != MAILDIR_GUID_HEX)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!isxdigit((unsigned char)p[i]))
			return false;
	}
	return true;
}

static int parse_header_v3(struct maildir_uidlist *list, const char *line, const char *end)
{
	struct buffer other;
	bool have_v = false, have_n = false;
	buffer_init(&other, 0);
	for (const char *p = line; p < end; ) {
		const char *tok_end = memchr(p, ' ', (size_t)(end - p));
		if (tok_end == NULL)
			tok_end = end;
		if (tok_end > p) {
			if (*p == 'V' && parse_u32(p + 1, tok_end, &list->uidvalidity))
				have_v = true;
			else if (*p == 'N' && parse_u32(p + 1, tok_end, &list->next_uid))
				have_n = true;
			else if (*p == 'G' && is_hex_guid(p + 1, (size_t)(tok_end - p - 1)))
				memcpy(list->guid, p + 1, MAILDIR_GUID_HEX);
			else if (isalpha((unsigned char)*p)) {
				(void)buffer_append_c(&other, ' ');
				(void)buffer_append(&other, p, (size_t)(tok_end - p));
			} else {
				buffer_deinit(&other);
				return -1;
			}
		}
		p = tok_end + (tok_end < end);
	}
	list->header_ext = buffer_steal_str(&other);
	return have_v && have_n ? 0 : -1;
}

static int parse_header(struct maildir_uidlist *list, const char *line, const char *end)
{
	if (end - line >= 2 && line[0] == '3' && line[1] == ' ') {
		list->version = 3;
		return parse_header_v3(list, line + 2, end);
	}
	if (end - line >= 2 && line[0] == '1' && line[1] == ' ') {
		/* "1 <uidvalidity> <next uid>" */
		const char *sp = memchr(line + 2, ' ', (size_t)(end - line - 2));
		list->version = 1;
		list->header_ext = i_strdup("");
		if (sp == NULL || !parse_u32(line + 2, sp, &list->uidvalidity) ||
		    !parse_u32(sp + 1, end, &list->next_uid))
			return -1;
		return 0;
	}
	return -1;
}

static void add_rec(struct maildir_uidlist *list, uint32_t uid, const char *ext,
		    size_t ext_len, const char *name, size_t name_len)
{
	if (list->count == list->alloc) {
		list->alloc = list->alloc == 0 ? 64 : list->alloc * 2;
		list->recs = i_reallocarray(list->recs, list->alloc, sizeof(*list->recs));
	}
	struct maildir_uidlist_rec *rec = &list->recs[list->count++];
	rec->uid = uid;
	rec->ext = i_strndup(ext, ext_len);
	rec->name = i_strndup(name, name_len);
	if (uid >= list->next_uid)
		list->next_uid = uid + 1;
}

static bool parse_record(struct maildir_uidlist *list, const char *line, const char *end)
{
	const char *sp = memchr(line, ' ', (size_t)(end - line));
	uint32_t uid;
	if (sp == NULL || !parse_u32(line, sp, &uid) || uid == UINT32_MAX)
		return false;
	if (list->count > 0 && uid <= list->recs[list->count - 1].uid)
		return false;
	const char *ext = sp + 1, *name;
	size_t ext_len = 0;
	if (list->version == 1) {
		name = ext;
	} else {
		/* Extension fields, then " :" and the file name. */
		const char *colon = *ext == ':' ? ext : NULL;
		for (const char *p = ext; colon == NULL && p + 1 < end; p++) {
			if (p[0] == ' ' && p[1] == ':')
				colon = p + 1;
		}
		if (colon == NULL)
			return false;
		ext_len = colon > ext ? (size_t)(colon - 1 - ext) : 0;
		name = colon + 1;
	}
	if (name >= end || memchr(name, '/', (size_t)(end - name)) != NULL ||
	    memchr(name, ' ', (size_t)(end - name)) != NULL || memchr(name, '\0', (size_t)(end - name)) != NULL)
		return false;
	add_rec(list, uid, ext, ext_len, name, (size_t)(end - name));
	return true;
}

int maildir_uidlist_parse(const char *data, size_t size, struct maildir_uidlist **list_r,
			  const char **error_r)
{
	struct maildir_uidlist *list = i_new0(struct maildir_uidlist);
	const char *p = data, *end = data + size;
	bool header = true;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *line_end = nl == NULL ? end : nl;
		const char *next = nl == NULL ? end : nl + 1;
		if (line_end > p && line_end[-1] == '\r')
			line_end--;
		if (header) {
			if (parse_header(list, p, line_end) < 0) {
				maildir_uidlist_free(&list);
				*error_r = "bad dovecot-uidlist header";
				return -1;
			}
			header = false;
		} else if (line_end > p && !parse_record(list, p, line_end)) {
			list->bad_records++;
		}
		p = next;
	}
	if (header) {
		maildir_uidlist_free(&list);
		*error_r = "empty dovecot-uidlist";
		return -1;
	}
	*list_r = list;
	return 0;
}

int maildir_uidlist_read(const char *path, struct maildir_uidlist **list_r,
			 const char **error_r)
{
	char *data;
	size_t size;
	int ret = maildir_file_read(path, MAILDIR_UIDLIST_MAX_BYTES, &data, &size);
	if (ret <= 0) {
		if (ret < 0)
			*error_r = strerror(errno);
		return ret;
	}
	ret = maildir_uidlist_parse(data, size, list_r, error_r);
	free(data);
	return ret < 0 ? -1 : 1;
}

static void format_records(struct buffer *buf, const struct maildir_uidlist *list,
			   unsigned int first)
{
	for (unsigned int i = first; i < list->count; i++) {
		const struct maildir_uidlist_rec *rec = &list->recs[i];
		(void)buffer_printf(buf, "%u %s%s:%s\n", rec->uid, rec->ext,
				    rec->ext[0] == '\0' ? "" : " ", rec->name);
	}
}

char *maildir_uidlist_format(const struct maildir_uidlist *list, size_t *size_r)
{
	struct buffer buf;
	buffer_init(&buf, 0);
	(void)buffer_printf(&buf, "3 V%u N%u", list->uidvalidity, list->next_uid);
	if (list->guid[0] != '\0')
		(void)buffer_printf(&buf, " G%s", list->guid);
	(void)buffer_printf(&buf, "%s\n", list->header_ext == NULL ? "" : list->header_ext);
	format_records(&buf, list, 0);
	*size_r = buffer_len(&buf);
	return buffer_steal_str(&buf);
}

char *maildir_uidlist_format_records(const struct maildir_uidlist *list, unsigned int first,
				     size_t *size_r)
{
	struct buffer buf;
	buffer_init(&buf, 0);
	format_records(&buf, list, first);
	*size_r = buffer_len(&buf);
	return buffer_steal_str(&buf);
}

int maildir_uidlist_write(const char *path, const struct maildir_uidlist *list)
{
	size_t size;
	char *data = maildir_uidlist_format(list, &size);
	int ret = maildir_file_replace(path, data, size, 0600, true);
	int err = errno;
	free(data);
	errno = err;
	return ret;
}

void maildir_uidlist_append(struct maildir_uidlist *list, uint32_t uid, const char *ext,
			    const char *name)
{
	add_rec(list, uid, ext, strlen(ext), name, strlen(name));
}

const char *maildir_uidlist_ext_get(const char *ext, char key, char *buf, size_t size)
{
	for (const char *p = ext; *p != '\0'; ) {
		size_t len = strcspn(p, " ");
		if (len > 0 && p[0] == key) {
			if (len - 1 >= size)
				return NULL;
			memcpy(buf, p + 1, len - 1);
			buf[len - 1] = '\0';
			return buf;
		}
		p += len;
		while (*p == ' ')
			p++;
	}
	return NULL;
}

/* The extension field key of record line [p, end) into *value_r (when present). */
static void line_ext(const char *p, const char *end, char key, char **value_r)
{
	const char *ext = memchr(p, ' ', (size_t)(end - p)), *stop;
	if (ext == NULL)
		return;
	ext++;
	for (stop = ext; stop < end && !(*stop == ':' && (stop == ext || stop[-1] == ' ')); )
		stop++;
	char *copy = i_strndup(ext, (size_t)(stop - ext));
	char buf[256];
	if (maildir_uidlist_ext_get(copy, key, buf, sizeof(buf)) != NULL && buf[0] != '\0')
		*value_r = i_strdup(buf);
	free(copy);
}

int maildir_uidlist_read_ext(const char *path, const uint32_t *uids, unsigned int count,
			     char key, char **values_r)
{
	char *data;
	size_t size;
	unsigned int j = 0;
	memset(values_r, 0, count * sizeof(*values_r));
	int ret = maildir_file_read(path, MAILDIR_UIDLIST_MAX_BYTES, &data, &size);
	if (ret <= 0)
		return ret;
	const char *p = memchr(data, '\n', size), *end = data + size;
	bool v3 = size > 2 && data[0] == '3' && data[1] == ' ';
	for (p = p == NULL ? end : p + 1; p < end && j < count; ) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *line_end = nl == NULL ? end : nl;
		const char *sp = memchr(p, ' ', (size_t)(line_end - p));
		uint32_t uid;
		if (v3 && sp != NULL && parse_u32(p, sp, &uid)) {
			while (j < count && uids[j] < uid)
				j++;
			if (j < count && uids[j] == uid)
				line_ext(p, line_end, key, &values_r[j++]);
		}
		p = nl == NULL ? end : nl + 1;
	}
	free(data);
	return 1;
}
