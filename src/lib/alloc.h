#ifndef PYMAP_ALLOC_H
#define PYMAP_ALLOC_H
/* Allocation that never returns NULL: out of memory aborts the process (the master
 * restarts it), so callers need no error path. i_free(p) frees and sets p to NULL. */
#include <stddef.h>

void *i_malloc(size_t size);            /* zero-filled */
void *i_realloc(void *ptr, size_t size);
void *i_reallocarray(void *ptr, size_t nmemb, size_t size);
char *i_strdup(const char *str);        /* NULL in, NULL out */
char *i_strndup(const char *str, size_t max_len);
void *i_memdup(const void *data, size_t size);
char *i_strdup_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Zero-filled arrays: count elements of type, overflow-checked. */
void *i_calloc(size_t nmemb, size_t size);
#define i_new(type, count) ((type *)i_calloc((count), sizeof(type)))
#define i_new0(type) ((type *)i_malloc(sizeof(type)))
#define i_free(p) do { free(p); (p) = NULL; } while (0)

/* Wipe then free memory that held a secret. */
void i_free_secret(void *ptr, size_t size);

#include <stdlib.h>
#endif
