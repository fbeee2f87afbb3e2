#include "restrict.h"
#include "strnum.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

static char restrict_errbuf[512];

static int restrict_fail(const char **error_r, const char *what, int err)
{
	if (err != 0)
		snprintf(restrict_errbuf, sizeof(restrict_errbuf), "%s: %s", what, strerror(err));
	else
		snprintf(restrict_errbuf, sizeof(restrict_errbuf), "%s", what);
	*error_r = restrict_errbuf;
	return -1;
}

int restrict_lookup_user(const char *user, uid_t *uid_r)
{
	unsigned int id;
	if (str_to_uint(user, &id) == 0) {
		*uid_r = (uid_t)id;
		return 0;
	}
	struct passwd *pw = getpwnam(user);
	if (pw == NULL)
		return -1;
	*uid_r = pw->pw_uid;
	return 0;
}

int restrict_lookup_group(const char *group, gid_t *gid_r)
{
	unsigned int id;
	if (str_to_uint(group, &id) == 0) {
		*gid_r = (gid_t)id;
		return 0;
	}
	struct group *gr = getgrnam(group);
	if (gr == NULL)
		return -1;
	*gid_r = gr->gr_gid;
	return 0;
}

static int restrict_switch(uid_t uid, gid_t gid, const char **error_r)
{
	char what[128];
	if (setgroups(1, &gid) < 0)
		return restrict_fail(error_r, "setgroups", errno);
	if (setgid(gid) < 0) {
		snprintf(what, sizeof(what), "setgid(%u)", (unsigned int)gid);
		return restrict_fail(error_r, what, errno);
	}
	if (setuid(uid) < 0) {
		snprintf(what, sizeof(what), "setuid(%u)", (unsigned int)uid);
		return restrict_fail(error_r, what, errno);
	}
	return 0;
}

int restrict_access(const char *user, const char *group, bool allow_root,
		    const char **error_r)
{
	uid_t uid;
	gid_t gid;
	char what[300];

	if (restrict_lookup_user(user, &uid) < 0) {
		snprintf(what, sizeof(what), "unknown user '%s'", user);
		return restrict_fail(error_r, what, 0);
	}
	if (restrict_lookup_group(group, &gid) < 0) {
		snprintf(what, sizeof(what), "unknown group '%s'", group);
		return restrict_fail(error_r, what, 0);
	}
	if (uid == 0 && !allow_root)
		return restrict_fail(error_r, "refusing to run as root "
				     "(set allow_root = yes in [server] for tests)", 0);
	if (geteuid() == 0) {
		if (restrict_switch(uid, gid, error_r) < 0)
			return -1;
	} else if (geteuid() != uid || getuid() != uid) {
		snprintf(what, sizeof(what), "cannot switch to user '%s': not running as root",
			 user);
		return restrict_fail(error_r, what, 0);
	} else if (getegid() != gid || getgid() != gid) {
		snprintf(what, sizeof(what), "cannot switch to group '%s': not running as root",
			 group);
		return restrict_fail(error_r, what, 0);
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return restrict_fail(error_r, "prctl(PR_SET_NO_NEW_PRIVS)", errno);
	if (uid != 0 && (setuid(0) == 0 || seteuid(0) == 0))
		return restrict_fail(error_r, "setuid(0) still works after dropping privileges", 0);
	return 0;
}
