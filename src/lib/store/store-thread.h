#ifndef PYMAP_STORE_THREAD_H
#define PYMAP_STORE_THREAD_H
/* THREADID assignment (RFC 8474) shared by backends that keep a per-user index: a
 * message joins the thread of any earlier message it names in In-Reply-To or
 * References, or that names it; otherwise it starts a new thread. The index maps
 * Message-IDs ("<...>" with white space removed) to thread ids; it is bounded
 * (STORE_THREAD_MAX_IDS: past it, new ids start new threads). */
#include <stdbool.h>
#include <stddef.h>
#include "store.h"

#define STORE_THREAD_MAX_IDS (4 * 1024 * 1024)
#define STORE_THREAD_MAX_REFS 100   /* References looked at per message */

/* The ids a message names: its own Message-ID and those of In-Reply-To and
 * References (in header order, at most STORE_THREAD_MAX_REFS), each "<...>" with
 * white space removed; an id longer than 998 bytes is cut off at 998 (it then lacks
 * its closing '>'). Backends whose index lives elsewhere (redis) read them with
 * store_thread_ids_read(); store_thread_assign() uses the same function. */
struct store_thread_ids {
	char *own;                  /* NULL: no Message-ID */
	char *refs[STORE_THREAD_MAX_REFS];
	unsigned int ref_count;
};

void store_thread_ids_read(const void *data, size_t size, struct store_thread_ids *ids_r);
void store_thread_ids_free(struct store_thread_ids *ids);

struct store_thread_index;

struct store_thread_index *store_thread_index_create(void);
void store_thread_index_destroy(struct store_thread_index **index);
/* The thread rule over any map of Message-IDs to thread ids (the maildir backend
 * keeps its own, store_thread_assign() uses struct store_thread_index): the thread of
 * a message with these ids is that of the first one known -- its own id first, then
 * In-Reply-To and References in order -- else a new random one; every id of the
 * message is then put under it. */
struct store_thread_map {
	/* The thread of msgid into threadid_r: false when unknown. */
	bool (*lookup)(void *context, const char *msgid, char threadid_r[STORE_ID_MAX_BYTES]);
	/* Remember msgid under threadid (a no-op when it is there already). */
	void (*put)(void *context, const char *msgid, const char *threadid);
};
void store_thread_assign_map(const struct store_thread_map *map, void *context,
			     const struct store_thread_ids *ids,
			     char threadid_r[STORE_ID_MAX_BYTES]);
/* Read the message's Message-ID, In-Reply-To and References, pick its thread id and
 * remember its ids. */
void store_thread_assign(struct store_thread_index *index, const void *data, size_t size,
			 char threadid_r[STORE_ID_MAX_BYTES]);

#endif
