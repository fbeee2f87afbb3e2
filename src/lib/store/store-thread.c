#include "store-thread.h"
#include "store-private.h"
#include "alloc.h"
#include "buffer.h"
#include "mime/mime-header.h"

#include <string.h>
#include <stdio.h>
#include <strings.h>

struct thread_entry {
	char *msgid;              /* NULL: empty slot */
	char threadid[STORE_ID_MAX_BYTES];
};

struct store_thread_index {
	struct thread_entry *slots;
	size_t size, count;       /* open addressing, size a power of two */
};

struct store_thread_index *store_thread_index_create(void)
{
	struct store_thread_index *index = i_new0(struct store_thread_index);
	index->size = 1024;
	index->slots = i_new(struct thread_entry, index->size);
	memset(index->slots, 0, index->size * sizeof(*index->slots));
	return index;
}

void store_thread_index_destroy(struct store_thread_index **_index)
{
	struct store_thread_index *index = *_index;
	if (index == NULL)
		return;
	*_index = NULL;
	for (size_t i = 0; i < index->size; i++)
		free(index->slots[i].msgid);
	free(index->slots);
	free(index);
}

static size_t hash_str(const char *s)
{
	size_t h = 14695981039346656037ULL;
	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static struct thread_entry *index_slot(const struct store_thread_index *index, const char *id)
{
	size_t mask = index->size - 1;
	for (size_t i = hash_str(id) & mask; ; i = (i + 1) & mask) {
		struct thread_entry *e = &index->slots[i];
		if (e->msgid == NULL || strcmp(e->msgid, id) == 0)
			return e;
	}
}

static void index_grow(struct store_thread_index *index)
{
	struct thread_entry *old = index->slots;
	size_t old_size = index->size;
	index->size *= 2;
	index->slots = i_new(struct thread_entry, index->size);
	memset(index->slots, 0, index->size * sizeof(*index->slots));
	for (size_t i = 0; i < old_size; i++) {
		if (old[i].msgid != NULL)
			*index_slot(index, old[i].msgid) = old[i];
	}
	free(old);
}

static const char *index_lookup(const struct store_thread_index *index, const char *msgid)
{
	const struct thread_entry *e = index_slot(index, msgid);
	return e->msgid != NULL ? e->threadid : NULL;
}

static void index_put(struct store_thread_index *index, const char *msgid,
		      const char *threadid)
{
	struct thread_entry *e = index_slot(index, msgid);
	if (e->msgid == NULL) {
		if (index->count >= STORE_THREAD_MAX_IDS)
			return;
		if ((index->count + 1) * 2 > index->size) {
			index_grow(index);
			e = index_slot(index, msgid);
		}
		e->msgid = i_strdup(msgid);
		index->count++;
	}
	snprintf(e->threadid, sizeof(e->threadid), "%s", threadid);
}

/* Collect the "<...>" ids of a header value (white space inside removed). */
static unsigned int extract_ids(const unsigned char *value, size_t len, char **ids,
				unsigned int max)
{
	unsigned int count = 0;
	for (size_t i = 0; i < len && count < max; i++) {
		if (value[i] != '<')
			continue;
		struct buffer id;
		buffer_init(&id, 998);
		size_t j = i;
		for (; j < len && value[j] != '>'; j++) {
			if (value[j] != ' ' && value[j] != '\t' && value[j] != '\r' && value[j] != '\n')
				buffer_append_c(&id, value[j]);
		}
		if (j < len && buffer_len(&id) > 1) {
			buffer_append_c(&id, '>');
			ids[count++] = buffer_steal_str(&id);
		}
		buffer_deinit(&id);
		i = j;
	}
	return count;
}

static bool field_is(const struct mime_header_field *f, const char *name)
{
	return f->name_len == strlen(name) && strncasecmp((const char *)f->name, name, f->name_len) == 0;
}

void store_thread_ids_read(const void *data, size_t size, struct store_thread_ids *ids_r)
{
	char *own[1];
	unsigned int own_count = 0;
	struct mime_header_iter iter;
	struct mime_header_field field;

	memset(ids_r, 0, sizeof(*ids_r));
	mime_header_iter_init(&iter, data, size);
	while (mime_header_iter_next(&iter, &field) > 0) {
		if (field_is(&field, "Message-ID") && own_count == 0)
			own_count = extract_ids(field.value, field.value_len, own, 1);
		else if (field_is(&field, "In-Reply-To") || field_is(&field, "References"))
			ids_r->ref_count += extract_ids(field.value, field.value_len,
							ids_r->refs + ids_r->ref_count,
							STORE_THREAD_MAX_REFS - ids_r->ref_count);
	}
	if (own_count > 0)
		ids_r->own = own[0];
}

void store_thread_ids_free(struct store_thread_ids *ids)
{
	free(ids->own);
	ids->own = NULL;
	for (unsigned int i = 0; i < ids->ref_count; i++)
		free(ids->refs[i]);
	ids->ref_count = 0;
}

void store_thread_assign_map(const struct store_thread_map *map, void *context,
			     const struct store_thread_ids *ids,
			     char threadid_r[STORE_ID_MAX_BYTES])
{
	unsigned int own_count = ids->own != NULL ? 1 : 0;
	bool known = false;
	/* Known ids: its own (a reply that arrived earlier named it) first. */
	for (unsigned int i = 0; i < own_count + ids->ref_count && !known; i++) {
		const char *id = i < own_count ? ids->own : ids->refs[i - own_count];
		known = map->lookup(context, id, threadid_r);
	}
	if (!known)
		store_random_id('T', threadid_r);
	if (ids->own != NULL)
		map->put(context, ids->own, threadid_r);
	for (unsigned int i = 0; i < ids->ref_count; i++)
		map->put(context, ids->refs[i], threadid_r);
}

static bool map_lookup(void *context, const char *msgid, char threadid_r[STORE_ID_MAX_BYTES])
{
	const char *threadid = index_lookup(context, msgid);
	if (threadid == NULL)
		return false;
	memcpy(threadid_r, threadid, STORE_ID_MAX_BYTES);
	return true;
}

static void map_put(void *context, const char *msgid, const char *threadid)
{
	index_put(context, msgid, threadid);
}

void store_thread_assign(struct store_thread_index *index, const void *data, size_t size,
			 char threadid_r[STORE_ID_MAX_BYTES])
{
	struct store_thread_ids ids;
	static const struct store_thread_map map = { map_lookup, map_put };
	store_thread_ids_read(data, size, &ids);
	store_thread_assign_map(&map, index, &ids, threadid_r);
	store_thread_ids_free(&ids);
}
