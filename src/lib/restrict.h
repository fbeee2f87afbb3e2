#ifndef PYMAP_RESTRICT_H
#define PYMAP_RESTRICT_H
/* Dropping root for good: the one place that changes a process's user and group.
 * Called by master_service_drop_privileges() in every child the master starts.
 *
 * Order: setgroups (only the target group) -> setgid -> setuid -> PR_SET_NO_NEW_PRIVS,
 * then verify that setuid(0) fails. A process that is not root cannot switch user: it
 * only checks that the target is itself and sets PR_SET_NO_NEW_PRIVS. */
#include <stdbool.h>
#include <sys/types.h>

/* user and group are names or decimal ids. Return 0, or -1 with a message in
 * error_r (static, valid until the next call). Running as uid 0 after the call is
 * refused unless allow_root. */
int restrict_access(const char *user, const char *group, bool allow_root,
		    const char **error_r);
/* Resolve a user or group name (or decimal id). Return 0 or -1. */
int restrict_lookup_user(const char *user, uid_t *uid_r);
int restrict_lookup_group(const char *group, gid_t *gid_r);

#endif
