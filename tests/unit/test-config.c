#include "test.h"
#include "config.h"
#include "alloc.h"

#include <stdio.h>
#include <unistd.h>

static void env_user(struct config_env *env)
{
	memset(env, 0, sizeof(*env));
	env->uid = 1000;
	env->user = "alice";
	env->group = "staff";
	env->fqdn = "mail.example.org";
	env->libexec_dir = "/opt/pymap/libexec/pymap";
	env->cpus = 3;
	env->check_files = false;
}

static char *write_file(const char *name, const char *text)
{
	char *path = i_strdup_printf("%s/%s", test_tmpdir(), name);
	FILE *f = fopen(path, "w");
	TEST_ASSERT(f != NULL);
	fputs(text, f);
	fclose(f);
	return path;
}

/* Parse text, finish with a non-root env, expect exactly one error equal to want. */
static void expect_error(const char *text, const char *want)
{
	struct config_env env;
	env_user(&env);
	struct config *cfg = config_create();
	config_load_string(cfg, "t.conf", text);
	TEST_ASSERT_INT_EQ(config_finish(cfg, &env), -1);
	TEST_ASSERT_UINT_EQ(config_error_count(cfg), 1);
	if (config_error_count(cfg) >= 1)
		TEST_ASSERT_STR_EQ(config_error(cfg, 0), want);
	config_destroy(&cfg);
	TEST_ASSERT(cfg == NULL);
}

static void test_defaults_non_root(void)
{
	struct config_env env;
	env_user(&env);
	struct config *cfg = config_create();
	TEST_ASSERT_INT_EQ(config_finish(cfg, &env), 0);
	TEST_ASSERT_UINT_EQ(config_get_int(cfg, "server", "port"), 143);
	TEST_ASSERT_UINT_EQ(config_get_int(cfg, "server", "tls_port"), 993);
	TEST_ASSERT_STR_EQ(config_get_str(cfg, "server", "run_dir"), "/tmp/pymap-1000");
	TEST_ASSERT_STR_EQ(config_get_str(cfg, "server", "pid_file"), "/tmp/pymap-1000/pymap.pid");
	TEST_ASSERT_STR_EQ(config_get_str(cfg, "server", "auth_socket"),
			   "/tmp/pymap-1000/auth.sock");
	TEST_ASSERT_STR_EQ(config_get_str(cfg, "server", "admin_socket"),
			   "/tmp/pymap-1000/admin.sock");
	TEST_ASSERT_STR_EQ(config_get_str(cfg, "server", "fqdn"), "mail.example.org");
	TEST_ASSERT_STR_EQ(config_get_str(cfg, "server", "libexec_dir"),
			   "/opt/pymap/libexec/pymap");
	/* backend dict (the default): exactly one worker */
	TEST_ASSERT_STR_EQ(config_get_str(cfg, "backend", "type"), "dict");
	TEST_ASSERT_UINT_EQ(config_get_int(cfg, "server", "workers"), 1);
	TEST_ASSERT_UINT_EQ(config_get_int(cfg, "imap", "max_append_bytes"), 1000000000);
	TEST_ASSERT(!config_get_bool(cfg, "server", "debug"));
	TEST_ASSERT(config_get_bool(cfg, "tls", "enabled"));
	TEST_ASSERT_STR_EQ(config_get_str(cfg, "users", "imap_user"), "alice");
	TEST_ASSERT_STR_EQ(config_get_str(cfg, "users", "auth_group"), "staff");
	TEST_ASSERT_STR_EQ(config_get_str(cfg, "redis", "data_address"), "redis://localhost");
	const json_t *hosts = config_get(cfg, "server", "host");
	TEST_ASSERT_UINT_EQ(json_array_size(hosts), 2);
	TEST_ASSERT_STR_EQ(json_string_value(json_array_get(hosts, 0)), "0.0.0.0");
	TEST_ASSERT_STR_EQ(json_string_value(json_array_get(hosts, 1)), "::");
	config_destroy(&cfg);
}

static void test_defaults_root(void)
{
	struct config_env env;
	env_user(&env);
	env.uid = 0;
	env.runtime_dir = "/run/user/0";
	env.admin_socket = "/srv/admin.sock";
	struct config *cfg = config_create();
	config_set(cfg, "backend", "type", "maildir", "maildir");
	config_set(cfg, "maildir", "base_dir", "/var/mail", "maildir");
	TEST_ASSERT_INT_EQ(config_finish(cfg, &env), 0);
	TEST_ASSERT_STR_EQ(config_get_str(cfg, "server", "run_dir"), "/run/pymap");
	TEST_ASSERT_STR_EQ(config_get_str(cfg, "server", "admin_socket"), "/srv/admin.sock");
	TEST_ASSERT_STR_EQ(config_get_str(cfg, "users", "imap_user"), "pymap");
	TEST_ASSERT_STR_EQ(config_get_str(cfg, "users", "imap_group"), "pymap");
	TEST_ASSERT_STR_EQ(config_get_str(cfg, "users", "admin_user"), "pymap");
	TEST_ASSERT_STR_EQ(config_get_str(cfg, "users", "auth_user"), "pymap-auth");
	TEST_ASSERT_STR_EQ(config_get_str(cfg, "users", "auth_group"), "pymap-auth");
	/* not dict: workers = number of CPUs */
	TEST_ASSERT_UINT_EQ(config_get_int(cfg, "server", "workers"), 3);
	config_destroy(&cfg);

	env.uid = 1000;
	cfg = config_create();
	TEST_ASSERT_INT_EQ(config_finish(cfg, &env), 0);
	TEST_ASSERT_STR_EQ(config_get_str(cfg, "server", "run_dir"), "/run/user/0/pymap");
	config_destroy(&cfg);
}

static void test_parse_values(void)
{
	struct config_env env;
	env_user(&env);
	struct config *cfg = config_create();
	TEST_ASSERT_INT_EQ(config_load_string(cfg, "t.conf",
		"# comment\n"
		"port = 1143\n"                 /* before any section: [server] */
		"  [ server ]  \n"
		"host = 127.0.0.1 , ::1\n"
		"debug = Yes\n"
		"workers = 4\n"
		"fqdn = \"  spaced  \"\n"
		"\n"
		"[backend]\n"
		"type = redis\n"
		"[redis]\n"
		"address = redis://db:6379/0\n"
		"separator = :\n"
		"[dict]\n"
		"demo_data = /srv/demo\n"
		"[imap]\n"
		"disable_search_keys = DRAFT, KEYWORD\n"
		"\t# indented comment\r\n"
		"max_append_bytes = 0\r\n"), 0);
	TEST_ASSERT_INT_EQ(config_finish(cfg, &env), 0);
	TEST_ASSERT_UINT_EQ(config_get_int(cfg, "server", "port"), 1143);
	TEST_ASSERT_UINT_EQ(config_get_int(cfg, "server", "workers"), 4);
	TEST_ASSERT(config_get_bool(cfg, "server", "debug"));
	TEST_ASSERT_STR_EQ(config_get_str(cfg, "server", "fqdn"), "  spaced  ");
	TEST_ASSERT_STR_EQ(config_get_str(cfg, "redis", "separator"), ":");
	TEST_ASSERT_STR_EQ(config_get_str(cfg, "redis", "data_address"), "redis://db:6379/0");
	TEST_ASSERT_STR_EQ(config_get_str(cfg, "dict", "demo_data"), "/srv/demo");
	TEST_ASSERT(config_get_bool(cfg, "dict", "demo_data"));
	TEST_ASSERT_UINT_EQ(config_get_int(cfg, "imap", "max_append_bytes"), 0);
	const json_t *hosts = config_get(cfg, "server", "host");
	TEST_ASSERT_UINT_EQ(json_array_size(hosts), 2);
	TEST_ASSERT_STR_EQ(json_string_value(json_array_get(hosts, 1)), "::1");
	TEST_ASSERT_UINT_EQ(json_array_size(config_get(cfg, "imap", "disable_search_keys")), 2);

	/* the printed config parses back to the same JSON */
	char *text = config_to_text(cfg);
	TEST_ASSERT(strstr(text, "[server]\nhost = 127.0.0.1, ::1\nport = 1143\n") != NULL);
	TEST_ASSERT(strstr(text, "fqdn = \"  spaced  \"\n") != NULL);
	TEST_ASSERT(strstr(text, "debug = yes\n") != NULL);
	struct config *again = config_create();
	TEST_ASSERT_INT_EQ(config_load_string(again, "printed", text), 0);
	TEST_ASSERT_INT_EQ(config_finish(again, &env), 0);
	TEST_ASSERT(json_equal((json_t *)config_json(cfg), (json_t *)config_json(again)));
	config_destroy(&again);
	i_free(text);
	config_destroy(&cfg);
}

static void test_command_line_overrides(void)
{
	struct config_env env;
	env_user(&env);
	struct config *cfg = config_create();
	TEST_ASSERT_INT_EQ(config_load_string(cfg, "t.conf", "[server]\nport = 1143\n"), 0);
	TEST_ASSERT_INT_EQ(config_set(cfg, "server", "port", "2143", "--port"), 0);
	TEST_ASSERT_INT_EQ(config_set(cfg, "server", "workers", "x", "--workers"), -1);
	TEST_ASSERT_INT_EQ(config_finish(cfg, &env), -1);
	TEST_ASSERT_UINT_EQ(config_get_int(cfg, "server", "port"), 2143);
	TEST_ASSERT_UINT_EQ(config_error_count(cfg), 1);
	TEST_ASSERT_STR_EQ(config_error(cfg, 0),
			   "--workers: [server] workers: not a non-negative decimal number");
	config_destroy(&cfg);

	/* $CERT_FILE / $KEY_FILE win over the file (as in the Python pymap) */
	env.cert_file = "/env/cert.pem";
	env.key_file = "/env/key.pem";
	cfg = config_create();
	config_load_string(cfg, "t.conf", "[tls]\ncert = /f/cert.pem\nkey = /f/key.pem\n");
	TEST_ASSERT_INT_EQ(config_finish(cfg, &env), 0);
	TEST_ASSERT_STR_EQ(config_get_str(cfg, "tls", "cert"), "/env/cert.pem");
	TEST_ASSERT_STR_EQ(config_get_str(cfg, "tls", "key"), "/env/key.pem");
	config_destroy(&cfg);
}

static void test_syntax_errors(void)
{
	expect_error("[server]\nfoo = 1\n", "t.conf:2: unknown key 'foo' in [server]");
	expect_error("\n[nosuch]\nkey = 1\nother = 2\n", "t.conf:2: unknown section [nosuch]");
	expect_error("[server\nport = 1\n", "t.conf:1: section header without ']'");
	expect_error("[server]\nport\n",
		     "t.conf:2: expected 'key = value', '[section]' or 'include FILE'");
	expect_error("[server]\n = 5\n", "t.conf:2: missing key before '='");
	expect_error("include\n",
		     "t.conf:1: expected 'key = value', '[section]' or 'include FILE'");
	expect_error("include   \t\n",
		     "t.conf:1: expected 'key = value', '[section]' or 'include FILE'");
	expect_error("[server]\nport = 1\nport = 2\n",
		     "t.conf:3: [server] port: already set at t.conf:2");
	expect_error("[imap]\nport = 1\n", "t.conf:2: unknown key 'port' in [imap]");
}

static void test_value_errors(void)
{
	expect_error("port = x\n", "t.conf:1: [server] port: not a non-negative decimal number");
	expect_error("port = -1\n", "t.conf:1: [server] port: not a non-negative decimal number");
	expect_error("port = 0\n", "t.conf:1: [server] port: 0 is out of range 1..65535");
	expect_error("port = 65536\n", "t.conf:1: [server] port: 65536 is out of range 1..65535");
	expect_error("port = 99999999999999999999\n",
		     "t.conf:1: [server] port: not a non-negative decimal number");
	expect_error("debug = maybe\n", "t.conf:1: [server] debug: not a boolean (use yes or no)");
	expect_error("[backend]\ntype = sql\n",
		     "t.conf:2: [backend] type: invalid value 'sql' (one of dict|maildir|redis)");
	expect_error("[maildir]\ncolon = ::\n",
		     "t.conf:2: [maildir] colon: must be exactly one character");
	expect_error("[maildir]\ncolon =\n",
		     "t.conf:2: [maildir] colon: must be exactly one character");
	expect_error("host = a,,b\n", "t.conf:1: [server] host: empty item in list");
	expect_error("host = a,\n", "t.conf:1: [server] host: empty item in list");
	expect_error("host = ,a\n", "t.conf:1: [server] host: empty item in list");
	expect_error("[dict]\ndemo_data = \"\"\n",
		     "t.conf:2: [dict] demo_data: must be yes, no or a path");
}

static void test_combination_errors(void)
{
	expect_error("host =\n", "t.conf:1: [server] host: at least one address is needed");
	expect_error("[imap]\nplaintext_auth = sometimes\n",
		     "t.conf:2: [imap] plaintext_auth: invalid value 'sometimes' "
		     "(one of always|loopback|never)");
	expect_error("[backend]\ntype = maildir\n",
		     "default: [maildir] base_dir: required with backend maildir");
	expect_error("[tls]\nkey = /k.pem\n", "t.conf:2: [tls] key: set without [tls] cert");
	expect_error("tls_port = 143\n[tls]\ncert = /c\nkey = /k\n",
		     "t.conf:1: [server] tls_port: same as [server] port");
	expect_error("disabled_services = imap, pop3\n",
		     "t.conf:1: [server] disabled_services: unknown service 'pop3' "
		     "(imap, auth or admin)");
}

static void test_file_checks(void)
{
	struct config_env env;
	env_user(&env);
	env.check_files = true;
	env.user = "root";
	env.group = "root";
	struct config *cfg = config_create();
	config_load_string(cfg, "t.conf", "[tls]\ncert = /nonexistent/c.pem\nkey = /dev/null\n"
			   "[users]\nimap_user = no-such-user-xyz\nadmin_group = no-such-group-xyz\n");
	TEST_ASSERT_INT_EQ(config_finish(cfg, &env), -1);
	TEST_ASSERT_UINT_EQ(config_error_count(cfg), 3);
	TEST_ASSERT_STR_EQ(config_error(cfg, 0), "t.conf:2: [tls] cert: /nonexistent/c.pem: "
			   "No such file or directory");
	TEST_ASSERT_STR_EQ(config_error(cfg, 1),
			   "t.conf:5: [users] imap_user: unknown user 'no-such-user-xyz'");
	TEST_ASSERT_STR_EQ(config_error(cfg, 2),
			   "t.conf:6: [users] admin_group: unknown group 'no-such-group-xyz'");
	config_destroy(&cfg);
}

static void test_include(void)
{
	struct config_env env;
	env_user(&env);
	char *inc = write_file("inc.conf", "[imap]\nbad_command_limit = 7\n");
	char *main_path = write_file("main.conf", "port = 1143\ninclude inc.conf\n"
				     "[server]\nworkers = 2\n");
	struct config *cfg = config_create();
	TEST_ASSERT_INT_EQ(config_load_file(cfg, main_path), 0);
	TEST_ASSERT_INT_EQ(config_finish(cfg, &env), 0);
	TEST_ASSERT_UINT_EQ(config_get_int(cfg, "imap", "bad_command_limit"), 7);
	TEST_ASSERT_UINT_EQ(config_get_int(cfg, "server", "port"), 1143);
	config_destroy(&cfg);

	/* errors in an included file name that file */
	char *bad = write_file("bad.conf", "[imap]\n\nnope = 1\n");
	char *outer = write_file("outer.conf", "include bad.conf\ninclude missing.conf\n");
	cfg = config_create();
	TEST_ASSERT_INT_EQ(config_load_file(cfg, outer), -1);
	TEST_ASSERT_UINT_EQ(config_error_count(cfg), 2);
	char *want = i_strdup_printf("%s:3: unknown key 'nope' in [imap]", bad);
	TEST_ASSERT_STR_EQ(config_error(cfg, 0), want);
	i_free(want);
	want = i_strdup_printf("%s:2: %s/missing.conf: No such file or directory", outer,
			       test_tmpdir());
	TEST_ASSERT_STR_EQ(config_error(cfg, 1), want);
	i_free(want);
	config_destroy(&cfg);

	/* a file that includes itself */
	char *loop = write_file("loop.conf", "include loop.conf\n");
	cfg = config_create();
	TEST_ASSERT_INT_EQ(config_load_file(cfg, loop), -1);
	want = i_strdup_printf("%s:1: include %s: includes itself", loop, loop);
	TEST_ASSERT_UINT_EQ(config_error_count(cfg), 1);
	TEST_ASSERT_STR_EQ(config_error(cfg, 0), want);
	i_free(want);
	config_destroy(&cfg);

	/* the -c file itself missing */
	cfg = config_create();
	TEST_ASSERT_INT_EQ(config_load_file(cfg, "/nonexistent/pymap.conf"), -1);
	TEST_ASSERT_STR_EQ(config_error(cfg, 0),
			   "-c: /nonexistent/pymap.conf: No such file or directory");
	config_destroy(&cfg);
	i_free(inc);
	i_free(main_path);
	i_free(bad);
	i_free(outer);
	i_free(loop);
}

static void test_include_depth(void)
{
	/* d0 includes d1 ... d9: nesting deeper than 8 is refused */
	char *paths[10];
	for (int i = 9; i >= 0; i--) {
		char name[32], text[64];
		snprintf(name, sizeof(name), "d%d.conf", i);
		snprintf(text, sizeof(text), i < 9 ? "include d%d.conf\n" : "port = 1\n", i + 1);
		paths[i] = write_file(name, text);
	}
	struct config *cfg = config_create();
	TEST_ASSERT_INT_EQ(config_load_file(cfg, paths[0]), -1);
	TEST_ASSERT_UINT_EQ(config_error_count(cfg), 1);
	char *want = i_strdup_printf("%s:1: include %s: nested more than 8 deep", paths[7],
				     paths[8]);
	TEST_ASSERT_STR_EQ(config_error(cfg, 0), want);
	i_free(want);
	config_destroy(&cfg);
	for (int i = 0; i < 10; i++)
		i_free(paths[i]);
}

static void test_bad_bytes(void)
{
	struct config *cfg = config_create();
	char *line = i_malloc(5000);
	memcpy(line, "fqdn = ", 7);
	memset(line + 7, 'a', 4990);
	TEST_ASSERT_INT_EQ(config_load_string(cfg, "t.conf", line), -1);
	TEST_ASSERT_STR_EQ(config_error(cfg, 0), "t.conf:1: line longer than 4096 bytes");
	i_free(line);
	config_destroy(&cfg);

	char *path = i_strdup_printf("%s/nul.conf", test_tmpdir());
	FILE *f = fopen(path, "w");
	fwrite("port = 1\0\n", 1, 10, f);
	fclose(f);
	cfg = config_create();
	TEST_ASSERT_INT_EQ(config_load_file(cfg, path), -1);
	char *want = i_strdup_printf("-c: %s: contains a NUL byte", path);
	TEST_ASSERT_STR_EQ(config_error(cfg, 0), want);
	i_free(want);
	i_free(path);
	config_destroy(&cfg);
}

static void test_every_error_reported(void)
{
	struct config_env env;
	env_user(&env);
	struct config *cfg = config_create();
	config_load_string(cfg, "t.conf", "port = x\nworkers = y\n[imap]\nzzz = 1\n");
	TEST_ASSERT_INT_EQ(config_finish(cfg, &env), -1);
	TEST_ASSERT_UINT_EQ(config_error_count(cfg), 3);
	TEST_ASSERT_STR_EQ(config_error(cfg, 1),
			   "t.conf:2: [server] workers: not a non-negative decimal number");
	config_destroy(&cfg);
}

TEST_MAIN(TEST(test_defaults_non_root), TEST(test_defaults_root), TEST(test_parse_values),
	  TEST(test_command_line_overrides), TEST(test_syntax_errors), TEST(test_value_errors),
	  TEST(test_combination_errors), TEST(test_file_checks), TEST(test_include),
	  TEST(test_include_depth), TEST(test_bad_bytes), TEST(test_every_error_reported))
