#include "test.h"
#include "users-file.h"
#include "alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Fixtures written in pymap's format (see tests/data/users/README.md); the unit tests
 * run from the top of the source tree. */
#define FIXTURES "tests/data/users"

static char **parse(enum users_file_kind kind, const char *line, const char **reason_r)
{
	*reason_r = NULL;
	return users_file_parse_line(kind, line, strlen(line), reason_r);
}

static void fields_free(char **f, enum users_file_kind kind)
{
	for (unsigned int i = 0; i < users_file_field_count(kind); i++)
		free(f[i]);
	free(f);
}

static void test_parse_passwd_line(void)
{
	const char *reason;
	char **f = parse(USERS_FILE_PASSWD, "alice:x::::alice:", &reason);
	TEST_ASSERT(f != NULL);
	TEST_ASSERT_STR_EQ(f[0], "alice");
	TEST_ASSERT_STR_EQ(f[1], "x");
	TEST_ASSERT_STR_EQ(f[2], "");
	TEST_ASSERT_STR_EQ(f[5], "alice");
	TEST_ASSERT_STR_EQ(f[6], "");
	fields_free(f, USERS_FILE_PASSWD);

	/* only the name: the other fields default to "" as in pymap's dataclass */
	f = parse(USERS_FILE_PASSWD, "bob", &reason);
	TEST_ASSERT(f != NULL);
	TEST_ASSERT_STR_EQ(f[0], "bob");
	TEST_ASSERT_STR_EQ(f[5], "");
	fields_free(f, USERS_FILE_PASSWD);
}

static void test_parse_escaped_colon(void)
{
	const char *reason;
	char **f = parse(USERS_FILE_PASSWD, "a\\:b:x::::dir\\:with\\:colons:sh", &reason);
	TEST_ASSERT(f != NULL);
	TEST_ASSERT_STR_EQ(f[0], "a:b");
	TEST_ASSERT_STR_EQ(f[5], "dir:with:colons");
	TEST_ASSERT_STR_EQ(f[6], "sh");
	fields_free(f, USERS_FILE_PASSWD);
	/* a backslash not before a colon is kept as it is */
	f = parse(USERS_FILE_GROUP, "r\\ole:x::u1,u2", &reason);
	TEST_ASSERT(f != NULL);
	TEST_ASSERT_STR_EQ(f[0], "r\\ole");
	TEST_ASSERT_STR_EQ(f[3], "u1,u2");
	fields_free(f, USERS_FILE_GROUP);
}

static void test_parse_malformed(void)
{
	const char *reason;
	TEST_ASSERT(parse(USERS_FILE_PASSWD, "a:b:c:d:e:f:g:h", &reason) == NULL);
	TEST_ASSERT_STR_EQ(reason, "too many fields");
	TEST_ASSERT(parse(USERS_FILE_GROUP, "a:b:c:d:e", &reason) == NULL);
	TEST_ASSERT(parse(USERS_FILE_SHADOW, "nopassword", &reason) == NULL);
	TEST_ASSERT_STR_EQ(reason, "missing password field");
	TEST_ASSERT(parse(USERS_FILE_PASSWD, ":x::::dir:", &reason) == NULL);
	TEST_ASSERT_STR_EQ(reason, "empty name");
	TEST_ASSERT(parse(USERS_FILE_PASSWD, "bad\xff\xfename:x", &reason) == NULL);
	TEST_ASSERT_STR_EQ(reason, "not valid UTF-8 text");
	/* overlong encoding of '/' and a UTF-16 surrogate are not UTF-8 either */
	TEST_ASSERT(parse(USERS_FILE_PASSWD, "a\xc0\xaf", &reason) == NULL);
	TEST_ASSERT(parse(USERS_FILE_PASSWD, "a\xed\xa0\x80", &reason) == NULL);
	TEST_ASSERT(parse(USERS_FILE_PASSWD, "trunc\xc3", &reason) == NULL);
	/* valid multi-byte UTF-8 is fine */
	char **f = parse(USERS_FILE_PASSWD, "j\xc3\xbcrgen:x", &reason);
	TEST_ASSERT(f != NULL);
	fields_free(f, USERS_FILE_PASSWD);
}

static void test_format_line_round_trip(void)
{
	const char *fields_in[] = { "a:b", "x", "", "", "", "home:dir", "" };
	char *fields[7];
	for (unsigned int i = 0; i < 7; i++)
		fields[i] = (char *)fields_in[i];
	char *line = users_file_format_line(USERS_FILE_PASSWD, fields);
	TEST_ASSERT_STR_EQ(line, "a\\:b:x::::home\\:dir:");
	const char *reason;
	char **back = parse(USERS_FILE_PASSWD, line, &reason);
	TEST_ASSERT(back != NULL);
	TEST_ASSERT_STR_EQ(back[0], "a:b");
	TEST_ASSERT_STR_EQ(back[5], "home:dir");
	fields_free(back, USERS_FILE_PASSWD);
	free(line);
}

static void test_read_fixture_files(void)
{
	struct users_file *pw, *sh;
	unsigned int malformed = 99;
	const char *error;
	TEST_ASSERT_INT_EQ(users_file_read(FIXTURES "/pymap-etc-passwd", USERS_FILE_PASSWD,
					   &pw, &malformed, &error), 0);
	TEST_ASSERT_INT_EQ(malformed, 1);   /* line 19: too many fields */
	TEST_ASSERT_INT_EQ(pw->count, 19);
	TEST_ASSERT(pw->exists);
	const struct users_file_record *r = users_file_get(pw, "weird");
	TEST_ASSERT(r != NULL);
	TEST_ASSERT_STR_EQ(r->fields[USERS_PASSWD_HOME_DIR], "mail:box");
	TEST_ASSERT_INT_EQ(r->line, 18);
	TEST_ASSERT(users_file_get(pw, "too") == NULL);
	TEST_ASSERT_STR_EQ(users_file_get(pw, "root")->fields[USERS_PASSWD_UID], "0");

	TEST_ASSERT_INT_EQ(users_file_read(FIXTURES "/pymap-etc-shadow", USERS_FILE_SHADOW,
					   &sh, &malformed, &error), 0);
	TEST_ASSERT_INT_EQ(malformed, 1);   /* line 19: no password field */
	TEST_ASSERT_STR_EQ(users_file_get(sh, "testuser")->fields[USERS_SHADOW_PASSWORD],
			   "$pbkdf2$1$$FzEpdTtdOaIFkUucxV4PjfW88BE=");
	TEST_ASSERT_STR_EQ(users_file_get(sh, "nopass")->fields[USERS_SHADOW_PASSWORD], "*");
	users_file_destroy(&pw);
	users_file_destroy(&sh);
	TEST_ASSERT(pw == NULL);
}

static char *write_text(const char *name, const char *text)
{
	char *path = i_strdup_printf("%s/%s", test_tmpdir(), name);
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	return path;
}

static void test_line_endings_and_duplicates(void)
{
	/* LF, CRLF and a lone CR all end a line (Python universal newlines); empty lines
	 * are skipped; a later duplicate replaces the earlier record in place. */
	char *path = write_text("le", "a:x::::one:\nb:x\r\n\r\nc:x\ra:x::::two:");
	struct users_file *f;
	unsigned int malformed;
	const char *error;
	TEST_ASSERT_INT_EQ(users_file_read(path, USERS_FILE_PASSWD, &f, &malformed, &error), 0);
	TEST_ASSERT_INT_EQ(malformed, 0);
	TEST_ASSERT_INT_EQ(f->count, 3);
	TEST_ASSERT_STR_EQ(f->records[0].fields[0], "a");
	TEST_ASSERT_STR_EQ(f->records[0].fields[5], "two");
	TEST_ASSERT_INT_EQ(f->records[0].line, 5);
	TEST_ASSERT_STR_EQ(f->records[2].fields[0], "c");
	users_file_destroy(&f);
	free(path);
}

static void test_missing_and_unreadable(void)
{
	struct users_file *f;
	const char *error;
	char *path = i_strdup_printf("%s/does-not-exist", test_tmpdir());
	TEST_ASSERT_INT_EQ(users_file_read(path, USERS_FILE_SHADOW, &f, NULL, &error), 0);
	TEST_ASSERT(!f->exists);
	TEST_ASSERT_INT_EQ(f->count, 0);
	TEST_ASSERT(!users_file_changed(f));
	users_file_destroy(&f);
	free(path);
	/* a directory is not a users file */
	f = NULL;
	TEST_ASSERT_INT_EQ(users_file_read(test_tmpdir(), USERS_FILE_SHADOW, &f, NULL, &error), -1);
	TEST_ASSERT(f == NULL);
	TEST_ASSERT_STR_EQ(error, "not a regular file");
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return i_strdup("(missing)");
	char *buf = i_malloc(4096);
	size_t n = fread(buf, 1, 4095, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void test_write_set_remove(void)
{
	char *path = i_strdup_printf("%s/pymap-etc-group", test_tmpdir());
	struct users_file *f = users_file_create(path, USERS_FILE_GROUP);
	const char *error;
	const char *admin[] = { "admin", "x", "", "root" };
	const char *sudo[] = { "sudo", "x", "", "a:b,c" };
	users_file_set(f, admin, 4);
	users_file_set(f, sudo, 4);
	TEST_ASSERT_INT_EQ(users_file_write(f, 0640, &error), 0);
	char *text = slurp(path);
	TEST_ASSERT_STR_EQ(text, "admin:x::root\r\nsudo:x::a\\:b,c\r\n");
	free(text);
	struct stat st;
	TEST_ASSERT_INT_EQ(stat(path, &st), 0);
	TEST_ASSERT_INT_EQ(st.st_mode & 0777, 0640);
	TEST_ASSERT(!users_file_changed(f));

	/* replacing keeps the position; the mode of the existing file is kept */
	TEST_ASSERT_INT_EQ(chmod(path, 0600), 0);
	const char *admin2[] = { "admin", "x", "", "root,zed" };
	users_file_set(f, admin2, 4);
	TEST_ASSERT_INT_EQ(users_file_remove(f, "nobody"), 0);
	TEST_ASSERT_INT_EQ(users_file_write(f, 0644, &error), 0);
	text = slurp(path);
	TEST_ASSERT_STR_EQ(text, "admin:x::root,zed\r\nsudo:x::a\\:b,c\r\n");
	free(text);
	TEST_ASSERT_INT_EQ(stat(path, &st), 0);
	TEST_ASSERT_INT_EQ(st.st_mode & 0777, 0600);

	/* an empty file is removed, as pymap does */
	TEST_ASSERT_INT_EQ(users_file_remove(f, "admin"), 1);
	TEST_ASSERT_INT_EQ(users_file_remove(f, "sudo"), 1);
	TEST_ASSERT_INT_EQ(users_file_write(f, 0644, &error), 0);
	TEST_ASSERT(access(path, F_OK) < 0);
	users_file_destroy(&f);
	free(path);
}

static void copy_fixture(const char *dir, const char *name)
{
	char *src = i_strdup_printf(FIXTURES "/%s", name);
	char *dst = i_strdup_printf("%s/%s", dir, name);
	char *cmd = i_strdup_printf("cp '%s' '%s'", src, dst);
	TEST_ASSERT_INT_EQ(system(cmd), 0);
	free(src);
	free(dst);
	free(cmd);
}

static struct users_db *fixture_db(char **dir_r)
{
	char *dir = i_strdup_printf("%s/db", test_tmpdir());
	mkdir(dir, 0700);
	copy_fixture(dir, "pymap-etc-passwd");
	copy_fixture(dir, "pymap-etc-shadow");
	copy_fixture(dir, "pymap-etc-group");
	struct users_db_settings set = { .base_dir = dir };
	*dir_r = dir;
	return users_db_create(&set);
}

static void test_db_lookup(void)
{
	char *dir;
	struct users_db *db = fixture_db(&dir);
	struct users_db_user u;
	const char *error;
	TEST_ASSERT_INT_EQ(users_db_refresh(db, &error), 0);

	TEST_ASSERT_INT_EQ(users_db_lookup(db, "alice", &u), 1);
	TEST_ASSERT_STR_EQ(u.name, "alice");
	TEST_ASSERT_STR_EQ(u.mailbox_path, "alice");
	TEST_ASSERT(u.hash != NULL && strncmp(u.hash, "$pbkdf2-sha256$1000$", 20) == 0);
	TEST_ASSERT_INT_EQ(u.shadow_line, 2);
	TEST_ASSERT_STR_EQ(u.roles[0], "sudo");
	TEST_ASSERT_STR_EQ(u.roles[1], "users");
	TEST_ASSERT(u.roles[2] == NULL);
	users_db_user_free(&u);

	TEST_ASSERT_INT_EQ(users_db_lookup(db, "root", &u), 1);
	TEST_ASSERT_STR_EQ(u.roles[0], "admin");   /* from the group, not added twice */
	TEST_ASSERT(u.roles[1] == NULL);
	users_db_user_free(&u);

	TEST_ASSERT_INT_EQ(users_db_lookup(db, "noshadow", &u), 1);
	TEST_ASSERT(u.hash == NULL);
	TEST_ASSERT(u.roles[0] == NULL);
	users_db_user_free(&u);

	TEST_ASSERT_INT_EQ(users_db_lookup(db, "nobody", &u), 0);
	TEST_ASSERT_INT_EQ(users_db_lookup(db, "too", &u), 0);
	users_db_destroy(&db);
	free(dir);
}

static void test_db_reload_on_change(void)
{
	char *dir;
	struct users_db *db = fixture_db(&dir);
	struct users_db_user u;
	const char *error;
	TEST_ASSERT_INT_EQ(users_db_refresh(db, &error), 0);
	TEST_ASSERT_INT_EQ(users_db_lookup(db, "newuser", &u), 0);

	/* what `pymapctl set-user` does: rewrite the files through rename */
	char *path = i_strdup_printf("%s/pymap-etc-passwd", dir);
	struct users_file *f;
	TEST_ASSERT_INT_EQ(users_file_read(path, USERS_FILE_PASSWD, &f, NULL, &error), 0);
	const char *fields[] = { "newuser", "x", "", "", "", "/abs/path", "" };
	users_file_set(f, fields, 7);
	TEST_ASSERT_INT_EQ(users_file_write(f, 0644, &error), 0);
	users_file_destroy(&f);

	TEST_ASSERT_INT_EQ(users_db_refresh(db, &error), 0);
	TEST_ASSERT_INT_EQ(users_db_lookup(db, "newuser", &u), 1);
	TEST_ASSERT_STR_EQ(u.mailbox_path, "/abs/path");
	users_db_user_free(&u);

	/* removing the passwd file removes every user */
	TEST_ASSERT_INT_EQ(unlink(path), 0);
	TEST_ASSERT_INT_EQ(users_db_refresh(db, &error), 0);
	TEST_ASSERT_INT_EQ(users_db_lookup(db, "alice", &u), 0);
	users_db_destroy(&db);
	free(path);
	free(dir);
}

TEST_MAIN(TEST(test_parse_passwd_line), TEST(test_parse_escaped_colon),
	  TEST(test_parse_malformed), TEST(test_format_line_round_trip),
	  TEST(test_read_fixture_files), TEST(test_line_endings_and_duplicates),
	  TEST(test_missing_and_unreadable), TEST(test_write_set_remove),
	  TEST(test_db_lookup), TEST(test_db_reload_on_change))
