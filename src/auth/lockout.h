#ifndef PYMAP_AUTH_LOCKOUT_H
#define PYMAP_AUTH_LOCKOUT_H
/* Brute-force protection in the auth process: failed logins counted per remote IP and
 * per user name. When either key reaches `threshold` failures inside `window_secs`
 * (counted from its first failure), that key is locked out for `window_secs`: further
 * attempts are refused without checking the password (the caller answers with a
 * temporary failure, IMAP "NO [UNAVAILABLE]"). The lockout is logged once per window
 * and key. A success clears the user's and the IP's counters. threshold 0 disables.
 *
 * Memory is bounded: at most LOCKOUT_MAX_ENTRIES keys; expired ones are purged when
 * the table fills, and past the cap new keys are not tracked (logged once).
 * Time is passed in by the caller (seconds, monotonic) so tests control it. */
#include <stdbool.h>
#include <stdint.h>

#define LOCKOUT_MAX_ENTRIES 100000

struct lockout_settings {
	unsigned int threshold;     /* failures before lockout; 0 = never lock */
	unsigned int window_secs;
};

struct lockout;
struct lockout *lockout_create(const struct lockout_settings *set);
void lockout_destroy(struct lockout **lockout);

/* true when remote or user (either may be NULL) is locked out at now. */
bool lockout_is_locked(struct lockout *lockout, const char *remote, const char *user,
		       uint64_t now_secs);
void lockout_failure(struct lockout *lockout, const char *remote, const char *user,
		     uint64_t now_secs);
void lockout_success(struct lockout *lockout, const char *remote, const char *user);
unsigned int lockout_entry_count(const struct lockout *lockout);

#endif
