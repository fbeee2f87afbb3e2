#ifndef PYMAP_BUFFER_H
#define PYMAP_BUFFER_H
/* Growable byte buffer. Owns its memory; data is always followed by a NUL byte (not
 * counted in used) so text can be passed to C string functions. An optional max_size
 * bounds growth: appends past it fail with -1 and leave the buffer unchanged, never a
 * silent truncation. A consumed prefix is skipped by an offset and compacted lazily, so
 * reading a stream through a buffer is linear. */
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>

struct buffer {
	unsigned char *data;  /* readable bytes start at data + skip */
	size_t skip;          /* consumed prefix */
	size_t used;          /* bytes after skip */
	size_t alloc;
	size_t max_size;      /* 0 = unbounded */
};

void buffer_init(struct buffer *buf, size_t max_size);
void buffer_deinit(struct buffer *buf);
/* Wipe the memory before freeing it (for buffers that held secrets). */
void buffer_deinit_secret(struct buffer *buf);

static inline const unsigned char *buffer_data(const struct buffer *buf)
{ return buf->data == NULL ? (const unsigned char *)"" : buf->data + buf->skip; }
static inline size_t buffer_len(const struct buffer *buf) { return buf->used; }
static inline const char *buffer_str(const struct buffer *buf)
{ return (const char *)buffer_data(buf); }

/* All return 0, or -1 when max_size would be exceeded (buffer unchanged). */
int buffer_append(struct buffer *buf, const void *data, size_t size);
int buffer_append_str(struct buffer *buf, const char *str);
int buffer_append_c(struct buffer *buf, unsigned char c);
int buffer_printf(struct buffer *buf, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int buffer_vprintf(struct buffer *buf, const char *fmt, va_list args)
	__attribute__((format(printf, 2, 0)));

/* Room for at least size more bytes; returns a pointer to write into, or NULL when
 * max_size would be exceeded. Follow with buffer_commit(n). */
unsigned char *buffer_reserve(struct buffer *buf, size_t size);
void buffer_commit(struct buffer *buf, size_t size);

void buffer_consume(struct buffer *buf, size_t size);  /* drop size bytes from the front */
void buffer_truncate(struct buffer *buf, size_t len);  /* keep the first len bytes */
void buffer_reset(struct buffer *buf);
/* Detach the data as a malloc'ed NUL-terminated string; the buffer becomes empty. */
char *buffer_steal_str(struct buffer *buf);

#endif
