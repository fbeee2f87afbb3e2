/* Parse-result storage: see mime-tree.h. */
#include "mime-tree.h"

#include <string.h>
#include <strings.h>

#include "alloc.h"

struct mime_tree *mime_tree_create(void)
{
	struct mime_tree *tree = i_new0(struct mime_tree);
	buffer_init(&tree->arena, MIME_TREE_MAX_ARENA_BYTES);
	return tree;
}

void mime_tree_destroy(struct mime_tree **tree_p)
{
	struct mime_tree *tree = *tree_p;
	if (tree == NULL)
		return;
	free(tree->parts);
	free(tree->params);
	free(tree->envelopes);
	buffer_deinit(&tree->arena);
	i_free(tree);
	*tree_p = NULL;
}

const char *mime_tree_str(const struct mime_tree *tree, struct mime_str s)
{
	if (s.off == MIME_NONE || (size_t)s.off + s.len >= buffer_len(&tree->arena))
		return NULL;
	return (const char *)buffer_data(&tree->arena) + s.off;
}

struct mime_str mime_tree_add_str(struct mime_tree *tree, const void *data, size_t len)
{
	struct mime_str s = { MIME_NONE, 0 };
	const unsigned char *p = data;
	size_t used = buffer_len(&tree->arena);
	unsigned char *dst = buffer_reserve(&tree->arena, len + 1);
	if (dst == NULL) {
		tree->flags |= MIME_TREE_FLAG_LIMITED;
		return s;
	}
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		if (p[i] != '\0')
			dst[n++] = p[i];
	}
	dst[n] = '\0';
	buffer_commit(&tree->arena, n + 1);
	s.off = (uint32_t)used;
	s.len = (uint32_t)n;
	return s;
}

static void *grow(void *array, uint32_t *alloc, uint32_t count, size_t size)
{
	if (count < *alloc)
		return array;
	*alloc = *alloc == 0 ? 8 : *alloc * 2;
	return i_reallocarray(array, *alloc, size);
}

uint32_t mime_tree_add_part(struct mime_tree *tree)
{
	tree->parts = grow(tree->parts, &tree->part_alloc, tree->part_count,
			   sizeof(*tree->parts));
	struct mime_part *part = &tree->parts[tree->part_count];
	memset(part, 0, sizeof(*part));
	part->parent = part->first_child = part->next_sibling = MIME_NONE;
	part->type.off = part->subtype.off = MIME_NONE;
	for (unsigned i = 0; i < MIME_FIELD_COUNT; i++)
		part->fields[i].off = MIME_NONE;
	part->envelope = MIME_NONE;
	return tree->part_count++;
}

uint32_t mime_tree_add_param(struct mime_tree *tree, struct mime_str name, struct mime_str value)
{
	tree->params = grow(tree->params, &tree->param_alloc, tree->param_count,
			    sizeof(*tree->params));
	tree->params[tree->param_count].name = name;
	tree->params[tree->param_count].value = value;
	return tree->param_count++;
}

uint32_t mime_tree_add_envelope(struct mime_tree *tree)
{
	tree->envelopes = grow(tree->envelopes, &tree->envelope_alloc, tree->envelope_count,
			       sizeof(*tree->envelopes));
	struct mime_envelope_raw *env = &tree->envelopes[tree->envelope_count];
	for (unsigned i = 0; i < MIME_ENV_COUNT; i++) {
		env->fields[i].off = MIME_NONE;
		env->fields[i].len = 0;
	}
	return tree->envelope_count++;
}

const struct mime_part *mime_tree_child(const struct mime_tree *tree,
					const struct mime_part *part, uint32_t n)
{
	if (n == 0)
		return NULL;
	uint32_t idx = part->first_child;
	while (idx != MIME_NONE && --n > 0)
		idx = tree->parts[idx].next_sibling;
	return mime_tree_part(tree, idx);
}

const char *mime_tree_param(const struct mime_tree *tree, const struct mime_part *part,
			    const char *name)
{
	for (uint32_t i = 0; i < part->param_count; i++) {
		const struct mime_param_ref *p = &tree->params[part->param_first + i];
		const char *pname = mime_tree_str(tree, p->name);
		if (pname != NULL && strcasecmp(pname, name) == 0)
			return mime_tree_str(tree, p->value);
	}
	return NULL;
}

bool mime_tree_part_is(const struct mime_tree *tree, const struct mime_part *part,
		       const char *type, const char *subtype)
{
	const char *t = mime_tree_str(tree, part->type);
	const char *s = mime_tree_str(tree, part->subtype);
	return t != NULL && s != NULL && strcasecmp(t, type) == 0 &&
		(subtype == NULL || strcasecmp(s, subtype) == 0);
}
