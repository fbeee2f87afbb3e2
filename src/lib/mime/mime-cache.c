/* Parse-result serialisation: see mime-cache.h and doc/mime-cache.md. */
#include "mime-cache.h"

#include <string.h>

#include "alloc.h"
#include "mime-parser.h"

static const unsigned char cache_magic[3] = { 'P', 'M', 'C' };

static void put_u32(struct buffer *out, uint32_t v)
{
	unsigned char b[4] = { (unsigned char)v, (unsigned char)(v >> 8),
			       (unsigned char)(v >> 16), (unsigned char)(v >> 24) };
	buffer_append(out, b, 4);
}

static void put_u64(struct buffer *out, uint64_t v)
{
	put_u32(out, (uint32_t)v);
	put_u32(out, (uint32_t)(v >> 32));
}

static void put_str(struct buffer *out, struct mime_str s)
{
	put_u32(out, s.off);
	put_u32(out, s.len);
}

static void put_part(struct buffer *out, const struct mime_part *p)
{
	put_u32(out, p->parent);
	put_u32(out, p->first_child);
	put_u32(out, p->next_sibling);
	put_u32(out, p->depth);
	put_u32(out, p->flags);
	put_u64(out, p->hdr_start);
	put_u64(out, p->body_start);
	put_u64(out, p->body_end);
	put_u64(out, p->body_lines);
	put_str(out, p->type);
	put_str(out, p->subtype);
	put_u32(out, p->param_first);
	put_u32(out, p->param_count);
	put_u32(out, p->dparam_first);
	put_u32(out, p->dparam_count);
	for (unsigned int i = 0; i < MIME_FIELD_COUNT; i++)
		put_str(out, p->fields[i]);
	put_u32(out, p->envelope);
}

int mime_cache_serialize(const struct mime_tree *tree, struct buffer *out)
{
	struct buffer blob;
	buffer_init(&blob, 0);
	buffer_append(&blob, cache_magic, sizeof(cache_magic));
	buffer_append_c(&blob, MIME_CACHE_VERSION);
	put_u64(&blob, tree->size);
	put_u32(&blob, tree->flags);
	put_u32(&blob, tree->part_count);
	put_u32(&blob, tree->param_count);
	put_u32(&blob, tree->envelope_count);
	put_u32(&blob, (uint32_t)buffer_len(&tree->arena));
	for (uint32_t i = 0; i < tree->part_count; i++)
		put_part(&blob, &tree->parts[i]);
	for (uint32_t i = 0; i < tree->param_count; i++) {
		put_str(&blob, tree->params[i].name);
		put_str(&blob, tree->params[i].value);
	}
	for (uint32_t i = 0; i < tree->envelope_count; i++) {
		for (unsigned int f = 0; f < MIME_ENV_COUNT; f++)
			put_str(&blob, tree->envelopes[i].fields[f]);
	}
	buffer_append(&blob, buffer_data(&tree->arena), buffer_len(&tree->arena));
	int ret = buffer_append(out, buffer_data(&blob), buffer_len(&blob));
	buffer_deinit(&blob);
	return ret;
}

/* ---- loading -------------------------------------------------------------------------- */

struct reader {
	const unsigned char *d;
	size_t len, pos;
	bool bad;
};

static uint32_t get_u32(struct reader *r)
{
	if (r->len - r->pos < 4) {
		r->bad = true;
		return 0;
	}
	const unsigned char *b = r->d + r->pos;
	r->pos += 4;
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static uint64_t get_u64(struct reader *r)
{
	uint64_t lo = get_u32(r);
	return lo | (uint64_t)get_u32(r) << 32;
}

static struct mime_str get_str(struct reader *r)
{
	struct mime_str s;
	s.off = get_u32(r);
	s.len = get_u32(r);
	return s;
}

static void get_part(struct reader *r, struct mime_part *p)
{
	p->parent = get_u32(r);
	p->first_child = get_u32(r);
	p->next_sibling = get_u32(r);
	p->depth = get_u32(r);
	p->flags = get_u32(r);
	p->hdr_start = get_u64(r);
	p->body_start = get_u64(r);
	p->body_end = get_u64(r);
	p->body_lines = get_u64(r);
	p->type = get_str(r);
	p->subtype = get_str(r);
	p->param_first = get_u32(r);
	p->param_count = get_u32(r);
	p->dparam_first = get_u32(r);
	p->dparam_count = get_u32(r);
	for (unsigned int i = 0; i < MIME_FIELD_COUNT; i++)
		p->fields[i] = get_str(r);
	p->envelope = get_u32(r);
}

static bool str_ok(const struct mime_tree *tree, struct mime_str s)
{
	size_t alen = buffer_len(&tree->arena);
	if (s.off == MIME_NONE)
		return true;
	return (uint64_t)s.off + s.len < alen && buffer_data(&tree->arena)[s.off + s.len] == '\0' &&
		memchr(buffer_data(&tree->arena) + s.off, '\0', s.len) == NULL;
}

static bool range_ok(uint32_t first, uint32_t count, uint32_t total)
{
	return count == 0 || ((uint64_t)first + count <= total);
}

/* Links must point forward in document order with matching parents, so the tree has no
 * cycles and every walk ends. */
static bool part_ok(const struct mime_tree *tree, uint32_t idx)
{
	const struct mime_part *p = &tree->parts[idx];
	const struct mime_part *parent = mime_tree_part(tree, p->parent);
	bool ok = idx == 0 ? p->parent == MIME_NONE && p->depth == 0 :
		p->parent < idx && p->depth == parent->depth + 1 &&
		p->depth < MIME_PARSER_MAX_DEPTH;
	ok = ok && (p->first_child == MIME_NONE || (p->first_child > idx &&
		p->first_child < tree->part_count && tree->parts[p->first_child].parent == idx));
	ok = ok && (p->next_sibling == MIME_NONE || (p->next_sibling > idx &&
		p->next_sibling < tree->part_count &&
		tree->parts[p->next_sibling].parent == p->parent));
	ok = ok && p->hdr_start <= p->body_start && p->body_start <= p->body_end &&
		p->body_end <= tree->size && str_ok(tree, p->type) && str_ok(tree, p->subtype);
	ok = ok && range_ok(p->param_first, p->param_count, tree->param_count) &&
		range_ok(p->dparam_first, p->dparam_count, tree->param_count) &&
		(p->envelope == MIME_NONE || p->envelope < tree->envelope_count);
	for (unsigned int i = 0; ok && i < MIME_FIELD_COUNT; i++)
		ok = str_ok(tree, p->fields[i]);
	return ok;
}

static bool tree_ok(const struct mime_tree *tree)
{
	for (uint32_t i = 0; i < tree->part_count; i++) {
		if (!part_ok(tree, i))
			return false;
	}
	for (uint32_t i = 0; i < tree->param_count; i++) {
		if (!str_ok(tree, tree->params[i].name) || !str_ok(tree, tree->params[i].value))
			return false;
	}
	for (uint32_t i = 0; i < tree->envelope_count; i++) {
		for (unsigned int f = 0; f < MIME_ENV_COUNT; f++) {
			if (!str_ok(tree, tree->envelopes[i].fields[f]))
				return false;
		}
	}
	return true;
}

static bool load_arrays(struct reader *r, struct mime_tree *tree, uint32_t parts,
			uint32_t params, uint32_t envs)
{
	/* each record takes at least 8 bytes: refuse counts the blob cannot hold */
	if ((uint64_t)parts + params + envs > (r->len - r->pos) / 8 || parts == 0)
		return false;
	for (uint32_t i = 0; i < parts && !r->bad; i++) {
		uint32_t idx = mime_tree_add_part(tree);
		get_part(r, &tree->parts[idx]);
	}
	for (uint32_t i = 0; i < params && !r->bad; i++) {
		struct mime_str name = get_str(r);
		mime_tree_add_param(tree, name, get_str(r));
	}
	for (uint32_t i = 0; i < envs && !r->bad; i++) {
		uint32_t idx = mime_tree_add_envelope(tree);
		struct mime_envelope_raw *env = &tree->envelopes[idx];
		for (unsigned int f = 0; f < MIME_ENV_COUNT; f++)
			env->fields[f] = get_str(r);
	}
	return !r->bad;
}

int mime_cache_deserialize(const void *data, size_t len, struct mime_tree **tree_r)
{
	struct reader r = { data, len, 4, false };
	if (len < 4 || memcmp(data, cache_magic, 3) != 0 || r.d[3] != MIME_CACHE_VERSION)
		return -1;
	struct mime_tree *tree = mime_tree_create();
	tree->size = get_u64(&r);
	uint32_t flags = get_u32(&r), parts = get_u32(&r), params = get_u32(&r);
	uint32_t envs = get_u32(&r), arena_len = get_u32(&r);
	bool ok = !r.bad && arena_len <= MIME_TREE_MAX_ARENA_BYTES &&
		load_arrays(&r, tree, parts, params, envs) && r.len - r.pos == arena_len;
	if (ok) {
		buffer_append(&tree->arena, r.d + r.pos, arena_len);
		tree->flags = flags;
		ok = tree_ok(tree);
	}
	if (!ok) {
		mime_tree_destroy(&tree);
		return -1;
	}
	*tree_r = tree;
	return 0;
}
