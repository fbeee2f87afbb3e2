#ifndef PYMAP_ADMIN_ERROR_H
#define PYMAP_ADMIN_ERROR_H
/* The outcome of an admin operation that failed, shared by the admin modules
 * (admin-users.c, admin-deliver.c, admin-ops.c) and turned into an IPC reply by
 * admin-server.c: a permanent error (code + message) or a temporary failure. The
 * codes are listed in doc/ipc.md (pymap-admin ops). */
#include <stdbool.h>
#include <jansson.h>

/* Permanent error codes of the pymap-admin protocol. */
#define ADMIN_ERR_BADREQUEST "BADREQUEST"
#define ADMIN_ERR_NOTFOUND "NOTFOUND"              /* unknown user */
#define ADMIN_ERR_CANNOTREPLACE "CANNOTREPLACE"    /* entity tag / create-only rules */
#define ADMIN_ERR_CANNOT "CANNOT"                  /* not possible with this backend */
#define ADMIN_ERR_NOTALLOWED "NOTALLOWED"          /* caller may not do this */
#define ADMIN_ERR_AUTHENTICATIONFAILED "AUTHENTICATIONFAILED"
#define ADMIN_ERR_AUTHORIZATIONFAILED "AUTHORIZATIONFAILED"
#define ADMIN_ERR_NONEXISTENT "NONEXISTENT"        /* mailbox does not exist */
#define ADMIN_ERR_READONLY "READONLY"              /* mailbox is read-only */
#define ADMIN_ERR_TOOBIG "TOOBIG"                  /* message over the append limit */
#define ADMIN_ERR_NOTIMPLEMENTED "NOTIMPLEMENTED"

struct admin_error {
	bool temp;
	const char *code;         /* static; NULL for a temporary failure */
	char message[256];
};

void admin_error_set(struct admin_error *err, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void admin_error_temp(struct admin_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The IPC reply for err (new reference). */
json_t *admin_error_reply(const json_t *request, const struct admin_error *err);
/* pymap's Result key for a code ("UserNotFound", ...), for the "key" member. */
const char *admin_error_pymap_key(const char *code);

#endif
