/* mail.append: deliver a message passed as a descriptor into a user's mailbox
 * (see admin-ops.h and doc/ipc.md). */
#include "admin-ops.h"
#include "admin-error.h"
#include "admin-users.h"
#include "alloc.h"
#include "log.h"
#include "store/store.h"

#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/stat.h>

static const struct {
	const char *name;
	unsigned int bit;
} system_flags[] = {
	{ "\\Seen", STORE_FLAG_SEEN }, { "\\Answered", STORE_FLAG_ANSWERED },
	{ "\\Flagged", STORE_FLAG_FLAGGED }, { "\\Deleted", STORE_FLAG_DELETED },
	{ "\\Draft", STORE_FLAG_DRAFT },
};

/* An IMAP flag-keyword: atom characters only (RFC 3501 atom-specials excluded). */
static bool keyword_valid(const char *kw)
{
	size_t len = strlen(kw);
	if (len == 0 || len > 100)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)kw[i];
		if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\]", c) != NULL)
			return false;
	}
	return true;
}

int admin_deliver_parse_flags(const json_t *flags, unsigned int *system_r,
			      const char ***keywords_r, unsigned int *keyword_count_r,
			      struct admin_error *err)
{
	size_t i;
	json_t *item;
	*system_r = 0;
	*keywords_r = NULL;
	*keyword_count_r = 0;
	if (flags == NULL)
		return 0;
	if (!json_is_array(flags) || json_array_size(flags) > STORE_MAX_KEYWORDS) {
		admin_error_set(err, ADMIN_ERR_BADREQUEST, "flags must be a list of flags.");
		return -1;
	}
	const char **keywords = i_reallocarray(NULL, json_array_size(flags) + 1, sizeof(char *));
	unsigned int count = 0;
	json_array_foreach(flags, i, item) {
		const char *flag = json_string_value(item);
		unsigned int bit = 0;
		for (size_t j = 0; flag != NULL && j < sizeof(system_flags) / sizeof(system_flags[0]); j++) {
			if (strcasecmp(flag, system_flags[j].name) == 0)
				bit = system_flags[j].bit;
		}
		if (bit != 0) {
			*system_r |= bit;
		} else if (flag != NULL && strcasecmp(flag, "\\Recent") == 0) {
			continue;   /* session state, never stored */
		} else if (flag == NULL || !keyword_valid(flag)) {
			free(keywords);
			admin_error_set(err, ADMIN_ERR_BADREQUEST, "Invalid flag.");
			return -1;
		} else {
			keywords[count++] = flag;
		}
	}
	*keywords_r = keywords;
	*keyword_count_r = count;
	return 0;
}

static void store_error_to_admin(const struct store_error *serr, const char *mailbox,
				 struct admin_error *err)
{
	switch (serr->code) {
	case STORE_ERR_NONEXISTENT:
		admin_error_set(err, ADMIN_ERR_NONEXISTENT, "Mailbox %.100s does not exist.",
				mailbox);
		break;
	case STORE_ERR_READONLY:
		admin_error_set(err, ADMIN_ERR_READONLY, "Mailbox %.100s is read-only.", mailbox);
		break;
	case STORE_ERR_CANNOT:
	case STORE_ERR_LIMIT:
	case STORE_ERR_ALREADYEXISTS:
		admin_error_set(err, ADMIN_ERR_CANNOT, "%s", serr->message);
		break;
	default:   /* over quota / disk full, in use, unavailable, server bug */
		admin_error_temp(err, "%s", serr->message[0] != '\0' ? serr->message :
				 "storage failure");
		break;
	}
}

static int deliver_check_fd(struct admin_context *ctx, int fd, size_t *size_r,
			    struct admin_error *err)
{
	struct stat st;
	if (fd < 0) {
		admin_error_set(err, ADMIN_ERR_BADREQUEST,
				"The message must be passed as a descriptor.");
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		admin_error_set(err, ADMIN_ERR_BADREQUEST,
				"The message descriptor must be a regular file or memfd.");
		return -1;
	}
	if ((unsigned long long)st.st_size > ctx->max_append_bytes) {
		admin_error_set(err, ADMIN_ERR_TOOBIG, "Message too big (%lld bytes, limit %llu).",
				(long long)st.st_size, ctx->max_append_bytes);
		return -1;
	}
	*size_r = (size_t)st.st_size;
	return 0;
}

static int deliver_user(struct admin_context *ctx, const char *user, json_t *params,
			const char *mailbox, struct store_append_msg *msg, json_t *reply,
			struct admin_error *err)
{
	struct store_user *suser;
	struct store_error serr;
	uint32_t uidvalidity = 0, uid = 0;
	memset(&serr, 0, sizeof(serr));
	if (store_user_open(ctx->store, user, params, &suser, &serr) < 0) {
		store_error_to_admin(&serr, mailbox, err);
		return -1;
	}
	int ret = store_append(suser, mailbox, msg, 1, &uidvalidity, &uid, &serr);
	store_user_close(&suser);
	if (ret < 0) {
		store_error_to_admin(&serr, mailbox, err);
		return -1;
	}
	json_object_set_new(reply, "mailbox", json_string(mailbox));
	json_object_set_new(reply, "uidvalidity", json_integer(uidvalidity));
	json_object_set_new(reply, "uid", json_integer(uid));
	return 0;
}

static int deliver_prepare(struct admin_context *ctx, const json_t *request,
			   const char **user_r, const char **mailbox_r, time_t *when_r,
			   struct admin_error *err)
{
	const json_t *when = json_object_get(request, "when");
	*user_r = json_string_value(json_object_get(request, "user"));
	*mailbox_r = json_string_value(json_object_get(request, "mailbox"));
	if (*mailbox_r == NULL || (*mailbox_r)[0] == '\0' || strcasecmp(*mailbox_r, "INBOX") == 0)
		*mailbox_r = "INBOX";
	*when_r = json_is_integer(when) && json_integer_value(when) >= 0 ?
		(time_t)json_integer_value(when) : time(NULL);
	if (*user_r == NULL || (when != NULL && !json_is_integer(when))) {
		admin_error_set(err, ADMIN_ERR_BADREQUEST, "user is required; when is an integer.");
		return -1;
	}
	if (strcmp(ctx->backend, "dict") == 0) {
		admin_error_set(err, ADMIN_ERR_NOTIMPLEMENTED,
				"delivery into the dict backend is not possible: its mail lives "
				"in the imap worker's memory");
		return -1;
	}
	if (ctx->store == NULL) {
		admin_error_temp(err, "storage backend unavailable: %s", ctx->store_error);
		return -1;
	}
	return 0;
}

int admin_deliver_op(struct admin_context *ctx, const struct admin_caller *caller,
		     const json_t *request, int fd, json_t *reply, struct admin_error *err)
{
	const char *user, *mailbox;
	time_t when;
	struct store_append_msg msg;
	json_t *params = NULL;
	(void)caller;
	memset(&msg, 0, sizeof(msg));
	if (deliver_check_fd(ctx, fd, &msg.size, err) < 0 ||
	    deliver_prepare(ctx, request, &user, &mailbox, &when, err) < 0)
		return -1;
	int found = admin_users_lookup(ctx->users, user, &params, err);
	if (found <= 0) {
		if (found == 0)
			admin_error_set(err, ADMIN_ERR_NOTFOUND, "User not found.");
		return -1;
	}
	if (admin_deliver_parse_flags(json_object_get(request, "flags"), &msg.flags.system,
				      (const char ***)&msg.keyword_names, &msg.keyword_count,
				      err) < 0) {
		json_decref(params);
		return -1;
	}
	for (unsigned int i = 0; i < msg.keyword_count && i < 64; i++)
		msg.flags.keywords |= 1ULL << i;
	msg.fd = fd;
	msg.internal_date = (int64_t)when;
	int ret = deliver_user(ctx, user, params, mailbox, &msg, reply, err);
	free((void *)msg.keyword_names);
	json_decref(params);
	const char *sender = json_string_value(json_object_get(request, "sender"));
	if (ret == 0)
		log_info("admin: delivered to %s/%s uid=%lld size=%zu from=<%s>", user, mailbox,
			 json_integer_value(json_object_get(reply, "uid")), msg.size,
			 sender != NULL ? sender : "");
	return ret;
}
