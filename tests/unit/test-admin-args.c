/* Command lines of pymapctl (src/admin/ctl/ctl-args.c) and pymap-lda
 * (src/admin/lda/lda-args.c), and the LDA's reply -> sysexits mapping. */
#include "test.h"
#include "src/admin/ctl/ctl-args.h"
#include "src/admin/lda/lda-args.h"

#include <sysexits.h>

#define ARGV(...) ((char *const[]){ "prog", __VA_ARGS__, NULL })
#define ARGC(...) ((int)(sizeof((const char *[]){ "prog", __VA_ARGS__ }) / sizeof(char *)))
#define CTL(a, ...) ctl_args_parse(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), (a), &error)
#define LDA(a, ...) lda_args_parse(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), (a), &error)

static void test_ctl_set_user(void)
{
	struct ctl_args a;
	const char *error = NULL;
	TEST_ASSERT_INT_EQ(CTL(&a, "--path", "/s", "set-user", "alice", "--param",
			       "mailbox_path=x/y", "--role", "admin", "--role=sudo",
			       "--no-overwrite", "--password-file", "pw", "--json"), 0);
	TEST_ASSERT_INT_EQ(a.command, CTL_SET_USER);
	TEST_ASSERT_STR_EQ(a.arg, "alice");
	TEST_ASSERT_STR_EQ(a.path, "/s");
	TEST_ASSERT_INT_EQ(a.param_count, 1);
	TEST_ASSERT_STR_EQ(a.params[0], "mailbox_path=x/y");
	TEST_ASSERT_INT_EQ(a.role_count, 2);
	TEST_ASSERT_STR_EQ(a.roles[1], "sudo");
	TEST_ASSERT(a.no_overwrite && a.json);
	TEST_ASSERT_STR_EQ(a.password_file, "pw");
	TEST_ASSERT_INT_EQ(CTL(&a, "set-user", "alice", "--param", "novalue"), -1);
	TEST_ASSERT_STR_EQ(error, "--param: expected KEY=VAL, got: novalue");
	TEST_ASSERT_INT_EQ(CTL(&a, "set-user", "alice", "--password-file", "f", "--no-password"), -1);
	TEST_ASSERT_INT_EQ(CTL(&a, "set-user"), -1);
	TEST_ASSERT_STR_EQ(error, "set-user: missing USER argument");
	TEST_ASSERT_INT_EQ(CTL(&a, "set-user", "a", "b"), -1);
	TEST_ASSERT_STR_EQ(error, "set-user: unexpected argument: b");
	/* an option of another command */
	TEST_ASSERT_INT_EQ(CTL(&a, "get-user", "alice", "--role", "x"), -1);
	TEST_ASSERT_STR_EQ(error, "unknown option --role for get-user");
}

static void test_ctl_login_and_append(void)
{
	struct ctl_args a;
	const char *error = NULL;
	TEST_ASSERT_INT_EQ(CTL(&a, "login", "alice", "-t", "-s", "-z", "bob"), 0);
	TEST_ASSERT(a.token_login && a.save);
	TEST_ASSERT_STR_EQ(a.authzid, "bob");
	TEST_ASSERT_INT_EQ(CTL(&a, "login", "alice"), -1);
	TEST_ASSERT_INT_EQ(CTL(&a, "login", "alice", "-t", "--password", "x"), -1);
	TEST_ASSERT_INT_EQ(CTL(&a, "login", "alice", "-i", "--expiration", "soon"), -1);
	TEST_ASSERT_INT_EQ(CTL(&a, "append", "alice", "--from", "b@x", "--mailbox", "Sent",
			       "--seen", "--flag", "$Junk", "--flagged", "--timestamp", "1700000000",
			       "--data", "m.eml"), 0);
	TEST_ASSERT_INT_EQ(a.command, CTL_APPEND);
	TEST_ASSERT_INT_EQ(a.flag_count, 3);
	TEST_ASSERT_STR_EQ(a.flags[0], "\\Seen");
	TEST_ASSERT_STR_EQ(a.flags[1], "$Junk");
	TEST_ASSERT_STR_EQ(a.flags[2], "\\Flagged");
	TEST_ASSERT_STR_EQ(a.timestamp, "1700000000");
	TEST_ASSERT_STR_EQ(a.data, "m.eml");
	TEST_ASSERT_INT_EQ(CTL(&a, "append", "alice", "--timestamp", "-5"), -1);
	TEST_ASSERT_INT_EQ(CTL(&a, "append", "alice", "--mailbox"), -1);
	TEST_ASSERT_STR_EQ(error, "option --mailbox needs a value");
	TEST_ASSERT_INT_EQ(CTL(&a, "--json", "--seen", "append", "x"), -1);
}

static void test_ctl_misc(void)
{
	struct ctl_args a;
	const char *error = NULL;
	TEST_ASSERT_INT_EQ(CTL(&a, "check"), 0);
	TEST_ASSERT(a.arg == NULL);
	TEST_ASSERT_INT_EQ(CTL(&a, "check", "pymap.backend"), 0);
	TEST_ASSERT_STR_EQ(a.arg, "pymap.backend");
	TEST_ASSERT_INT_EQ(CTL(&a, "kick", "alice"), 0);
	TEST_ASSERT_INT_EQ(a.command, CTL_KICK);
	TEST_ASSERT_INT_EQ(CTL(&a, "kick"), -1);
	TEST_ASSERT_INT_EQ(CTL(&a, "frobnicate"), -1);
	TEST_ASSERT_STR_EQ(error, "unknown command: frobnicate (see --help)");
	TEST_ASSERT_INT_EQ(CTL(&a, "--json"), -1);
	TEST_ASSERT_STR_EQ(error, "no command given (see --help)");
	TEST_ASSERT_INT_EQ(CTL(&a, "--help"), 0);
	TEST_ASSERT(a.help);
	TEST_ASSERT_INT_EQ(CTL(&a, "ping", "--json=yes"), -1);
	TEST_ASSERT_INT_EQ(CTL(&a, "get-user", "--", "-dash"), 0);
	TEST_ASSERT_STR_EQ(a.arg, "-dash");
	TEST_ASSERT_INT_EQ(CTL(&a, "--token-file", "t", "--config=c", "list-users"), 0);
	TEST_ASSERT_STR_EQ(a.token_file, "t");
	TEST_ASSERT_STR_EQ(a.config, "c");
}

static void test_lda_args(void)
{
	struct lda_args a;
	const char *error = NULL;
	TEST_ASSERT_INT_EQ(LDA(&a, "--from", "s@x", "alice"), 0);
	TEST_ASSERT_STR_EQ(a.user, "alice");
	TEST_ASSERT_STR_EQ(a.from, "s@x");
	TEST_ASSERT(a.mailbox == NULL);
	TEST_ASSERT_INT_EQ(LDA(&a, "-f", "", "-m", "Junk", "--flag", "\\Seen", "--flag=$X",
			       "--timeout", "5", "--path=/p", "-d", "bob"), 0);
	TEST_ASSERT_STR_EQ(a.user, "bob");
	TEST_ASSERT_STR_EQ(a.from, "");
	TEST_ASSERT_STR_EQ(a.mailbox, "Junk");
	TEST_ASSERT_INT_EQ(a.flag_count, 2);
	TEST_ASSERT_STR_EQ(a.flags[1], "$X");
	TEST_ASSERT_INT_EQ(a.timeout_secs, 5);
	TEST_ASSERT_STR_EQ(a.path, "/p");
	TEST_ASSERT_INT_EQ(LDA(&a, "--from", "x"), -1);
	TEST_ASSERT_STR_EQ(error, "no USER given");
	TEST_ASSERT_INT_EQ(LDA(&a, "a", "b"), -1);
	TEST_ASSERT_INT_EQ(LDA(&a, "--bogus", "1", "a"), -1);
	TEST_ASSERT_INT_EQ(LDA(&a, "--timeout", "0", "a"), -1);
	TEST_ASSERT_INT_EQ(LDA(&a, "a", "--from"), -1);
}

static int status_for(const char *json)
{
	const char *line;
	json_t *reply = json != NULL ? json_loads(json, 0, NULL) : NULL;
	int status = lda_reply_status(reply, &line);
	json_decref(reply);
	return status;
}

static void test_lda_exit_codes(void)
{
	const char *line;
	json_t *ok = json_loads("{\"id\":1,\"ok\":true,\"uid\":3}", 0, NULL);
	TEST_ASSERT_INT_EQ(lda_reply_status(ok, &line), 0);
	TEST_ASSERT_STR_EQ(line, "2.0.0 Message delivered");
	json_decref(ok);
	TEST_ASSERT_INT_EQ(status_for(NULL), EX_TEMPFAIL);
	TEST_ASSERT_INT_EQ(status_for("{\"ok\":false,\"temp\":true,\"reason\":\"x\"}"), 75);
	TEST_ASSERT_INT_EQ(status_for("{\"ok\":false,\"code\":\"NOTFOUND\"}"), 67);
	TEST_ASSERT_INT_EQ(status_for("{\"ok\":false,\"code\":\"TOOBIG\"}"), 65);
	TEST_ASSERT_INT_EQ(status_for("{\"ok\":false,\"code\":\"NOTALLOWED\"}"), 77);
	TEST_ASSERT_INT_EQ(status_for("{\"ok\":false,\"code\":\"AUTHORIZATIONFAILED\"}"), 77);
	TEST_ASSERT_INT_EQ(status_for("{\"ok\":false,\"code\":\"READONLY\"}"), 77);
	TEST_ASSERT_INT_EQ(status_for("{\"ok\":false,\"code\":\"NONEXISTENT\"}"), 75);
	TEST_ASSERT_INT_EQ(status_for("{\"ok\":false,\"code\":\"SOMETHINGNEW\"}"), 75);
	TEST_ASSERT_INT_EQ(status_for("{\"ok\":\"yes\"}"), 75);
}

TEST_MAIN(TEST(test_ctl_set_user), TEST(test_ctl_login_and_append), TEST(test_ctl_misc),
	  TEST(test_lda_args), TEST(test_lda_exit_codes))
