#ifndef PYMAP_MAILDIR_MIME_H
#define PYMAP_MAILDIR_MIME_H
/* The maildir backend's MIME parse cache: one append-only file per folder,
 * "pymap-mime" (format in doc/maildir-index.md), holding mime_cache_serialize() blobs
 * keyed by UID and checked against the message file's base name and size, so FETCH
 * ENVELOPE/BODYSTRUCTURE/BODY[section] and SEARCH parse a message once, not on every
 * command. A handle keeps only UID -> (offset, length) in memory; blobs are read on
 * demand. The file is a cache: a record that is torn, corrupt, stale or of another
 * version is a miss (the caller parses and stores again), never trusted; a damaged or
 * mostly dead file is rewritten. Used by store-maildir-mbox.c (get_content /
 * set_parsed) and store-maildir-folder.c (handle lifetime: dropped with the folder). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mime/mime-tree.h"

#define MAILDIR_MIME_NAME "pymap-mime"
#define MAILDIR_MIME_MAX_BYTES (1024u * 1024 * 1024)
#define MAILDIR_MIME_MAX_BLOB (16u * 1024 * 1024)
#define MAILDIR_MIME_HEADER_SIZE 16
#define MAILDIR_MIME_RECORD_HEADER 28

/* What a record must match to be used: the message's UID, its file's base name (the
 * part before the ":2," info, so flag renames keep it valid) and its size. */
struct maildir_mime_key {
	uint32_t uid;
	const char *base;
	size_t base_len;
	uint64_t size;          /* the message file's own size (part of the record key) */
	/* Lookup only: the size of the bytes the parse describes when they differ from the
	 * file (a bare-LF file served with CRLF); 0 = the same as size. */
	uint64_t content_size;
};

/* Whether a record still belongs to a message of the folder (compaction drops the
 * others). */
typedef bool maildir_mime_live_t(void *context, const struct maildir_mime_key *key);

struct maildir_mime;

/* A handle on folder_dir's cache for this UIDVALIDITY (a file of another UIDVALIDITY
 * is replaced). Nothing is opened until the first lookup or store. live may be NULL
 * (then nothing is dropped as dead). Reference counted: a message content keeps the
 * handle it came from. */
struct maildir_mime *maildir_mime_create(const char *folder_dir, uint32_t uidvalidity,
					 maildir_mime_live_t *live, void *live_context);
void maildir_mime_ref(struct maildir_mime *mm);
/* Drop a reference; the last one closes the file. Sets *mm NULL. */
void maildir_mime_unref(struct maildir_mime **mm);
uint32_t maildir_mime_uidvalidity(const struct maildir_mime *mm);
/* Forget the liveness callback (its context is going away while contents still hold
 * the handle). */
void maildir_mime_detach(struct maildir_mime *mm);

/* 1 with *tree_r (destroy with mime_tree_destroy()), 0 when there is no valid record
 * for exactly this key. */
int maildir_mime_lookup(struct maildir_mime *mm, const struct maildir_mime_key *key,
			struct mime_tree **tree_r);
/* Append a record. 0 stored, -1 not (no cache file, read-only, disk full, too big):
 * the caller goes on without it. */
int maildir_mime_store(struct maildir_mime *mm, const struct maildir_mime_key *key,
		       const struct mime_tree *tree);

/* Counters for tests and benchmarks: records read from the file and found valid,
 * records written, full scans, rewrites. */
struct maildir_mime_stats {
	unsigned int hits, stores, scans, compactions;
};
void maildir_mime_get_stats(const struct maildir_mime *mm, struct maildir_mime_stats *stats_r);

#endif
