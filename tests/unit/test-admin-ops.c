/* The pymap-admin op table against doc/ipc.md, flag parsing of mail.append, and the
 * maildir users rules of admin-users.c (create-only, overwrite, entity tags, roles,
 * privileges) on real files in a temporary directory. */
#include "test.h"
#include "src/admin/admin-error.h"
#include "src/admin/admin-ops.h"
#include "src/admin/admin-users.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *read_doc(void)
{
	FILE *f = fopen("doc/ipc.md", "r");
	if (f == NULL)
		return NULL;
	static char buf[256 * 1024];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

static void test_doc_matches_op_table(void)
{
	const char *doc = read_doc();
	TEST_ASSERT(doc != NULL);
	if (doc == NULL)
		return;
	TEST_ASSERT_INT_EQ(admin_op_count, 15);
	for (unsigned int i = 0; i < admin_op_count; i++) {
		const struct admin_op *op = &admin_ops[i];
		char head[128], *want;
		snprintf(head, sizeof(head), "\n| `%s` | ", op->name);
		const char *row = strstr(doc, head);
		if (row == NULL) {
			test_fail(__FILE__, __LINE__, "no doc row for %s", op->name);
			continue;
		}
		row = strchr(row + strlen(head), '|');   /* after "sent by" */
		const char *end = strchr(row, '\n');
		if (asprintf(&want, "| %s | %s | %s |", op->doc_fields, op->doc_reply,
			     op->doc_errors) < 0)
			continue;
		TEST_ASSERT_MEM_EQ(row, (size_t)(end - row), want, strlen(want));
		free(want);
		TEST_ASSERT(admin_op_find(op->name) == op);
	}
	/* and no pymapctl row the code does not know */
	for (const char *p = strstr(doc, "| pymapctl"); p != NULL; p = strstr(p + 1, "| pymapctl")) {
		const char *start = p;
		while (start > doc && start[-1] != '\n')
			start--;
		char name[64];
		if (sscanf(start, "| `%63[^`]`", name) == 1)
			TEST_ASSERT(admin_op_find(name) != NULL);
	}
	TEST_ASSERT(admin_op_find("nope") == NULL);
	TEST_ASSERT(admin_op_find(NULL) == NULL);
}

static void test_parse_flags(void)
{
	struct admin_error err;
	unsigned int system;
	const char **kw;
	unsigned int count;
	json_t *flags = json_pack("[s,s,s,s,s]", "\\seen", "\\Flagged", "$Label", "\\Recent", "Junk");
	TEST_ASSERT_INT_EQ(admin_deliver_parse_flags(flags, &system, &kw, &count, &err), 0);
	TEST_ASSERT_INT_EQ(system, STORE_FLAG_SEEN | STORE_FLAG_FLAGGED);
	TEST_ASSERT_INT_EQ(count, 2);
	TEST_ASSERT_STR_EQ(kw[0], "$Label");
	TEST_ASSERT_STR_EQ(kw[1], "Junk");
	free(kw);
	json_decref(flags);
	const char *bad[] = { "\\Bogus", "has space", "paren(", "", "quote\"" };
	for (unsigned int i = 0; i < 5; i++) {
		flags = json_pack("[s]", bad[i]);
		TEST_ASSERT_INT_EQ(admin_deliver_parse_flags(flags, &system, &kw, &count, &err), -1);
		TEST_ASSERT_STR_EQ(err.code, ADMIN_ERR_BADREQUEST);
		json_decref(flags);
	}
	flags = json_pack("[i]", 1);
	TEST_ASSERT_INT_EQ(admin_deliver_parse_flags(flags, &system, &kw, &count, &err), -1);
	json_decref(flags);
	TEST_ASSERT_INT_EQ(admin_deliver_parse_flags(NULL, &system, &kw, &count, &err), 0);
	TEST_ASSERT_INT_EQ(count, 0);
}

static char *slurp(const char *dir, const char *name)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "r");
	static char buf[4096];
	if (f == NULL)
		return NULL;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

static struct admin_users *maildir_users(void)
{
	struct admin_users_settings set = {
		.backend = "maildir", .base_dir = test_tmpdir(), .lock_timeout_msecs = 100,
	};
	return admin_users_create(&set);
}

static void test_maildir_set_rules(void)
{
	struct admin_users *users = maildir_users();
	struct admin_users_update u = { .password_hash = "$y$hash1", .may_change_privileges = true };
	struct admin_error err;
	uint64_t tag1 = 0, tag2 = 0;
	json_t *roles = json_pack("[s,s]", "sudo", "admin");
	u.roles = roles;
	u.mode = ADMIN_USERS_CREATE;
	TEST_ASSERT_INT_EQ(admin_users_set(users, "alice", &u, &tag1, &err), 0);
	TEST_ASSERT(tag1 != 0);
	TEST_ASSERT_STR_EQ(slurp(test_tmpdir(), "pymap-etc-passwd"), "alice:x::::alice:\r\n");
	TEST_ASSERT_STR_EQ(slurp(test_tmpdir(), "pymap-etc-shadow"), "alice:$y$hash1:::::::\r\n");
	TEST_ASSERT_STR_EQ(slurp(test_tmpdir(), "pymap-etc-group"),
			   "sudo:x::alice\r\nadmin:x::alice\r\n");
	/* create-only again: refused */
	TEST_ASSERT_INT_EQ(admin_users_set(users, "alice", &u, &tag2, &err), -1);
	TEST_ASSERT_STR_EQ(err.code, ADMIN_ERR_CANNOTREPLACE);
	/* stale tag: refused; right tag: replaced, new tag */
	u.mode = ADMIN_USERS_REPLACE_TAG;
	u.previous_tag = tag1 ^ 1;
	TEST_ASSERT_INT_EQ(admin_users_set(users, "alice", &u, &tag2, &err), -1);
	TEST_ASSERT_STR_EQ(err.code, ADMIN_ERR_CANNOTREPLACE);
	u.previous_tag = tag1;
	u.password_hash = "$y$hash2";
	TEST_ASSERT_INT_EQ(admin_users_set(users, "alice", &u, &tag2, &err), 0);
	TEST_ASSERT(tag2 != tag1);
	/* a tag for a user that does not exist: refused */
	TEST_ASSERT_INT_EQ(admin_users_set(users, "nobody", &u, &tag2, &err), -1);
	/* overwrite, second user, fewer roles */
	json_decref(roles);
	roles = json_pack("[s]", "sudo");
	u.roles = roles;
	u.mode = ADMIN_USERS_OVERWRITE;
	TEST_ASSERT_INT_EQ(admin_users_set(users, "bob", &u, &tag2, &err), 0);
	TEST_ASSERT_INT_EQ(admin_users_set(users, "alice", &u, &tag2, &err), 0);
	TEST_ASSERT_STR_EQ(slurp(test_tmpdir(), "pymap-etc-group"),
			   "sudo:x::alice,bob\r\nadmin:x::\r\n");
	json_t *rec = NULL;
	TEST_ASSERT_INT_EQ(admin_users_get(users, "alice", &rec, &err), 0);
	char *text = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
	char want[256];
	snprintf(want, sizeof(want), "{\"data\":{\"params\":{\"mailbox_path\":\"alice\"},"
		 "\"password\":\"$y$hash2\",\"roles\":[\"sudo\"]},\"entity_tag\":%llu,"
		 "\"user\":\"alice\"}", (unsigned long long)tag2);
	TEST_ASSERT_STR_EQ(text, want);
	free(text);
	json_decref(rec);
	/* a non-admin may change its password, not its roles */
	u.may_change_privileges = false;
	TEST_ASSERT_INT_EQ(admin_users_set(users, "alice", &u, &tag2, &err), 0);
	json_decref(roles);
	roles = json_pack("[s]", "admin");
	u.roles = roles;
	TEST_ASSERT_INT_EQ(admin_users_set(users, "alice", &u, &tag2, &err), -1);
	TEST_ASSERT_STR_EQ(err.code, ADMIN_ERR_NOTALLOWED);
	json_decref(roles);
	/* list, delete, lookup */
	json_t *names;
	TEST_ASSERT_INT_EQ(admin_users_list(users, &names, &err), 0);
	TEST_ASSERT_INT_EQ(json_array_size(names), 2);
	json_decref(names);
	TEST_ASSERT_INT_EQ(admin_users_delete(users, "alice", &err), 0);
	TEST_ASSERT_INT_EQ(admin_users_delete(users, "alice", &err), -1);
	TEST_ASSERT_STR_EQ(err.code, ADMIN_ERR_NOTFOUND);
	json_t *params = NULL;
	TEST_ASSERT_INT_EQ(admin_users_lookup(users, "alice", &params, &err), 0);
	TEST_ASSERT_INT_EQ(admin_users_lookup(users, "bob", &params, &err), 1);
	json_decref(params);
	TEST_ASSERT_STR_EQ(slurp(test_tmpdir(), "pymap-etc-group"), "sudo:x::bob\r\nadmin:x::\r\n");
	admin_users_destroy(&users);
	TEST_ASSERT(users == NULL);
}

static void test_maildir_lock_and_names(void)
{
	struct admin_users *users = maildir_users();
	struct admin_users_update u = { .mode = ADMIN_USERS_OVERWRITE, .may_change_privileges = true };
	struct admin_error err;
	uint64_t tag;
	char lock[512];
	snprintf(lock, sizeof(lock), "%s/pymap-etc-passwd.lock", test_tmpdir());
	FILE *f = fopen(lock, "w");
	fclose(f);
	TEST_ASSERT_INT_EQ(admin_users_set(users, "carol", &u, &tag, &err), -1);
	TEST_ASSERT(err.temp);
	remove(lock);
	TEST_ASSERT_INT_EQ(admin_users_set(users, "a,b", &u, &tag, &err), -1);
	TEST_ASSERT_STR_EQ(err.code, ADMIN_ERR_BADREQUEST);
	json_t *params = json_pack("{s:s}", "color", "blue");
	u.params = params;
	TEST_ASSERT_INT_EQ(admin_users_set(users, "carol", &u, &tag, &err), -1);
	TEST_ASSERT_STR_EQ(err.code, ADMIN_ERR_BADREQUEST);
	json_decref(params);
	params = json_pack("{s:s}", "mailbox_path", "/var/mail/carol");
	u.params = params;
	TEST_ASSERT_INT_EQ(admin_users_set(users, "carol", &u, &tag, &err), 0);
	json_decref(params);
	params = NULL;
	TEST_ASSERT_INT_EQ(admin_users_lookup(users, "carol", &params, &err), 1);
	TEST_ASSERT_STR_EQ(json_string_value(json_object_get(params, "mailbox_path")),
			   "/var/mail/carol");
	json_decref(params);
	/* no password: "*" */
	TEST_ASSERT(strstr(slurp(test_tmpdir(), "pymap-etc-shadow"), "carol:*:::::::\r\n") != NULL);
	admin_users_destroy(&users);
}

static void test_dict_users_are_fixed(void)
{
	struct admin_users_settings set = { .backend = "dict", .demo_user = "demouser" };
	struct admin_users *users = admin_users_create(&set);
	struct admin_users_update u = { .mode = ADMIN_USERS_OVERWRITE };
	struct admin_error err;
	uint64_t tag;
	json_t *rec;
	TEST_ASSERT_INT_EQ(admin_users_set(users, "demouser", &u, &tag, &err), -1);
	TEST_ASSERT_STR_EQ(err.code, ADMIN_ERR_CANNOT);
	TEST_ASSERT_STR_EQ(err.message, "dict users are fixed");
	TEST_ASSERT_INT_EQ(admin_users_get(users, "demouser", &rec, &err), 0);
	json_decref(rec);
	TEST_ASSERT_INT_EQ(admin_users_get(users, "other", &rec, &err), -1);
	TEST_ASSERT_STR_EQ(err.code, ADMIN_ERR_NOTFOUND);
	admin_users_destroy(&users);
	set.backend = "redis";
	users = admin_users_create(&set);
	TEST_ASSERT_INT_EQ(admin_users_get(users, "demouser", &rec, &err), -1);
	TEST_ASSERT(err.temp);
	admin_users_destroy(&users);
}

TEST_MAIN(TEST(test_doc_matches_op_table), TEST(test_parse_flags),
	  TEST(test_maildir_set_rules), TEST(test_maildir_lock_and_names),
	  TEST(test_dict_users_are_fixed))
