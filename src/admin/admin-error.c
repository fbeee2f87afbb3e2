/* Building admin errors and their replies (see admin-error.h). */
#include "admin-error.h"
#include "ipc.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void admin_error_set(struct admin_error *err, const char *code, const char *fmt, ...)
{
	va_list args;
	err->temp = false;
	err->code = code;
	va_start(args, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, args);
	va_end(args);
}

void admin_error_temp(struct admin_error *err, const char *fmt, ...)
{
	va_list args;
	err->temp = true;
	err->code = NULL;
	va_start(args, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, args);
	va_end(args);
}

static const struct {
	const char *code, *key;
} pymap_keys[] = {
	{ ADMIN_ERR_NOTFOUND, "UserNotFound" },
	{ ADMIN_ERR_CANNOTREPLACE, "CannotReplaceUser" },
	{ ADMIN_ERR_NOTALLOWED, "NotAllowedError" },
	{ ADMIN_ERR_AUTHENTICATIONFAILED, "InvalidAuth" },
	{ ADMIN_ERR_AUTHORIZATIONFAILED, "AuthorizationFailure" },
	{ ADMIN_ERR_NONEXISTENT, "MailboxNotFound" },
	{ ADMIN_ERR_READONLY, "MailboxReadOnly" },
	{ ADMIN_ERR_TOOBIG, "AppendFailure" },
};

const char *admin_error_pymap_key(const char *code)
{
	for (size_t i = 0; code != NULL && i < sizeof(pymap_keys) / sizeof(pymap_keys[0]); i++) {
		if (strcmp(pymap_keys[i].code, code) == 0)
			return pymap_keys[i].key;
	}
	return code == NULL ? "TemporaryFailure" : NULL;
}

json_t *admin_error_reply(const json_t *request, const struct admin_error *err)
{
	json_t *reply = err->temp ? ipc_reply_tempfail(request, err->message) :
		ipc_reply_error(request, err->code, err->message);
	const char *key = admin_error_pymap_key(err->code);
	if (key != NULL)
		json_object_set_new(reply, "key", json_string(key));
	return reply;
}
