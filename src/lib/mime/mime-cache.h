#ifndef PYMAP_MIME_CACHE_H
#define PYMAP_MIME_CACHE_H
/* A compact binary form of a struct mime_tree, so a storage backend can keep the parse
 * result next to the message (file, Redis) and FETCH ENVELOPE/BODYSTRUCTURE/BODY[...]
 * never parses the message again. The format is described in doc/mime-cache.md; it
 * starts with a version byte, and a blob of another version does not load (the caller
 * then parses the message again and rewrites the blob). Loading checks every index and
 * offset, so a corrupt blob is refused, never a crash. Called by the store backends. */
#include <stddef.h>

#include "buffer.h"
#include "mime-tree.h"

#define MIME_CACHE_VERSION 1

/* Append the blob. 0, or -1 when out is full (out truncated back). */
int mime_cache_serialize(const struct mime_tree *tree, struct buffer *out);
/* 0 with *tree_r set (destroy with mime_tree_destroy()), or -1 for a blob that is
 * truncated, corrupt or of another version. */
int mime_cache_deserialize(const void *data, size_t len, struct mime_tree **tree_r);

#endif
