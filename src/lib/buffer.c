#include "buffer.h"
#include "alloc.h"

#include <stdio.h>
#include <string.h>
#include <sodium.h>

void buffer_init(struct buffer *buf, size_t max_size)
{
	memset(buf, 0, sizeof(*buf));
	buf->max_size = max_size;
}

void buffer_deinit(struct buffer *buf)
{
	i_free(buf->data);
	buf->skip = buf->used = buf->alloc = 0;
}

void buffer_deinit_secret(struct buffer *buf)
{
	if (buf->data != NULL)
		sodium_memzero(buf->data, buf->alloc);
	buffer_deinit(buf);
}

static void buffer_compact(struct buffer *buf)
{
	if (buf->skip == 0)
		return;
	memmove(buf->data, buf->data + buf->skip, buf->used + 1);
	buf->skip = 0;
}

unsigned char *buffer_reserve(struct buffer *buf, size_t size)
{
	if (buf->max_size != 0 && (size > buf->max_size || buf->used > buf->max_size - size))
		return NULL;
	size_t need = buf->used + size + 1;
	if (buf->skip + need <= buf->alloc)
		return buf->data + buf->skip + buf->used;
	/* Compact only when that leaves at least half the buffer free, else grow:
	 * both keep appends amortised O(1) per byte. */
	buffer_compact(buf);
	if (need > buf->alloc / 2) {
		size_t new_alloc = buf->alloc < 64 ? 64 : buf->alloc * 2;
		while (new_alloc < need * 2)
			new_alloc *= 2;
		buf->data = i_realloc(buf->data, new_alloc);
		buf->alloc = new_alloc;
	}
	return buf->data + buf->skip + buf->used;
}

void buffer_commit(struct buffer *buf, size_t size)
{
	buf->used += size;
	buf->data[buf->skip + buf->used] = '\0';
}

int buffer_append(struct buffer *buf, const void *data, size_t size)
{
	unsigned char *dest = buffer_reserve(buf, size);
	if (dest == NULL)
		return -1;
	if (size > 0)
		memcpy(dest, data, size);
	buffer_commit(buf, size);
	return 0;
}

int buffer_append_str(struct buffer *buf, const char *str)
{
	return buffer_append(buf, str, strlen(str));
}

int buffer_append_c(struct buffer *buf, unsigned char c)
{
	return buffer_append(buf, &c, 1);
}

int buffer_vprintf(struct buffer *buf, const char *fmt, va_list args)
{
	va_list copy;
	char small[256];

	va_copy(copy, args);
	int len = vsnprintf(small, sizeof(small), fmt, copy);
	va_end(copy);
	if (len < 0)
		return -1;
	if ((size_t)len < sizeof(small))
		return buffer_append(buf, small, (size_t)len);
	unsigned char *dest = buffer_reserve(buf, (size_t)len);
	if (dest == NULL)
		return -1;
	vsnprintf((char *)dest, (size_t)len + 1, fmt, args);
	buffer_commit(buf, (size_t)len);
	return 0;
}

int buffer_printf(struct buffer *buf, const char *fmt, ...)
{
	va_list args;
	va_start(args, fmt);
	int ret = buffer_vprintf(buf, fmt, args);
	va_end(args);
	return ret;
}

void buffer_consume(struct buffer *buf, size_t size)
{
	if (size >= buf->used) {
		buffer_reset(buf);
		return;
	}
	buf->skip += size;
	buf->used -= size;
}

void buffer_truncate(struct buffer *buf, size_t len)
{
	if (len < buf->used) {
		buf->used = len;
		buf->data[buf->skip + len] = '\0';
	}
}

void buffer_reset(struct buffer *buf)
{
	buf->skip = 0;
	buf->used = 0;
	if (buf->data != NULL)
		buf->data[0] = '\0';
}

char *buffer_steal_str(struct buffer *buf)
{
	char *str;
	if (buf->data == NULL)
		return i_strdup("");
	buffer_compact(buf);
	str = (char *)buf->data;
	buf->data = NULL;
	buf->skip = buf->used = buf->alloc = 0;
	return str;
}
