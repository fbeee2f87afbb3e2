#ifndef PYMAP_MAILDIR_ROUND_H
#define PYMAP_MAILDIR_ROUND_H
/* The maildir backend's "checked in this push round" memory: after a watch event
 * (maildir-watch.c) every view of the folder polls it (store_mailbox_changes, then
 * a \Recent claim), each from its own deferred callback in the same ioloop round.
 * The folder state is shared, so only the first of those polls needs to compare the
 * folder's stamps with the disk; the others find it checked in this round and skip
 * the lstat calls.
 *
 * maildir-watch.c opens a round with a deferred callback queued before it calls the
 * watches and closes it with one queued after them, so the round spans exactly the
 * deferred pushes of that fan-out (and other deferred callbacks queued in between),
 * all of which run after every read of this ioloop round: a check made inside it is
 * later than any command bytes that were read before it. Outside a round nothing is
 * remembered: every command compares the stamps, so a change that raised no inotify
 * event (NFS, another host) is still seen by the next command.
 * store-maildir-sync.c asks and marks (maildir_mbox_refresh) in the folder's own
 * round_mark field. Single-threaded, process-global. */
#include <stdbool.h>
#include <stdint.h>

void maildir_round_begin(void);
void maildir_round_end(void);
/* Close every open round (maildir-watch.c, when a watch context goes away: its queued
 * round_end may be dropped with the ioloop). */
void maildir_round_reset(void);
/* Whether the folder whose round mark is *mark (a field of the folder, zeroed when it
 * is made) was checked since the current round began (false outside one). */
bool maildir_round_checked(const uint64_t *mark);
/* Remember in *mark that the folder's stamps were just checked (nothing outside a
 * round). */
void maildir_round_mark(uint64_t *mark);
/* Counters for tests: rounds begun, checks skipped. */
struct maildir_round_stats {
	uint64_t rounds, skipped;
};
void maildir_round_get_stats(struct maildir_round_stats *stats_r);

#endif
