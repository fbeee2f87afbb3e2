#ifndef PYMAP_STORE_THREAD_H
#define PYMAP_STORE_THREAD_H
/* THREADID assignment (RFC 8474) shared by backends that keep a per-user index: a
 * message joins the thread of any earlier message it names in In-Reply-To or
 * References, or that names it; otherwise it starts a new thread. The index maps
 * Message-IDs ("<...>" with white space removed) to thread ids; it is bounded
 * (STORE_THREAD_MAX_IDS: past it, new ids start new threads). */
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
/* Lower the bound on remembered ids (default STORE_THREAD_MAX_IDS). */
void store_thread_index_set_max(struct store_thread_index *index, size_t max_ids);
size_t store_thread_index_count(const struct store_thread_index *index);
/* The thread id remembered for a Message-ID, or NULL. */
const char *store_thread_index_lookup(const struct store_thread_index *index,
				      const char *msgid);
/* Remember (or change) the thread of msgid: 1 new or changed, 0 already so, -1
 * not remembered (the index is full). */
int store_thread_index_put(struct store_thread_index *index, const char *msgid,
			   const char *threadid);
/* Call cb for every remembered id (in no particular order). */
void store_thread_index_foreach(const struct store_thread_index *index,
				void (*cb)(const char *msgid, const char *threadid,
					   void *context),
				void *context);
/* The thread of a message with these ids (the first known of its own id and its
 * references, else a new random one); remembers them all under it. changed (may be
 * NULL) is called for each id whose entry was added or changed, so that a caller
 * keeping the index in a file can record just those. */
void store_thread_assign_ids(struct store_thread_index *index,
			     const struct store_thread_ids *ids,
			     char threadid_r[STORE_ID_MAX_BYTES],
			     void (*changed)(const char *msgid, const char *threadid,
					     void *context),
			     void *context);
/* Read the message's Message-ID, In-Reply-To and References, pick its thread id and
 * remember its ids. */
void store_thread_assign(struct store_thread_index *index, const void *data, size_t size,
			 char threadid_r[STORE_ID_MAX_BYTES]);

#endif
