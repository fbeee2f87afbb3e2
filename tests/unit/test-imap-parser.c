/* Tests for imap-parser: expected results written by hand from RFC 3501 section 9,
 * RFC 7888 and RFC 3516. Each input is run whole and fed one byte at a time; the two
 * transcripts must match. */
#include "test.h"
#include "imap-parser.h"
#include "buffer.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

enum lit_policy { LIT_ACCEPT, LIT_ACCEPT_FD, LIT_REJECT };

struct run {
	struct imap_parser_settings set;
	enum lit_policy policy;
	struct buffer out;   /* transcript */
	FILE *fd_files[8];
	unsigned int fd_count;
};

static void dump_args(struct run *r, const struct imap_arg *args);

static void dump_fd_literal(struct run *r, const struct imap_arg *arg)
{
	char data[256];
	ssize_t n = pread(arg->literal_fd, data, sizeof(data), 0);
	buffer_printf(&r->out, "%s{%zu:fd}%.*s", arg->literal8 ? "~" : "", arg->len,
		      (int)(n < 0 ? 0 : n), data);
}

static void dump_arg(struct run *r, const struct imap_arg *arg)
{
	switch (arg->type) {
	case IMAP_ARG_NIL: buffer_printf(&r->out, "NIL<%s>", arg->str); break;
	case IMAP_ARG_ATOM: buffer_printf(&r->out, "%s", arg->str); break;
	case IMAP_ARG_STRING:
		buffer_append_c(&r->out, '"');
		buffer_append(&r->out, arg->str, arg->len);
		buffer_append_c(&r->out, '"');
		break;
	case IMAP_ARG_LITERAL:
		if (arg->literal_fd >= 0) {
			dump_fd_literal(r, arg);
			break;
		}
		buffer_printf(&r->out, "%s{%zu}", arg->literal8 ? "~" : "", arg->len);
		for (size_t i = 0; i < arg->len; i++) {
			unsigned char c = (unsigned char)arg->str[i];
			if (c < 0x20) buffer_printf(&r->out, "\\x%02x", c);
			else buffer_append_c(&r->out, c);
		}
		TEST_ASSERT(arg->str[arg->len] == '\0');
		break;
	case IMAP_ARG_LIST:
		buffer_append_c(&r->out, '(');
		dump_args(r, arg->list);
		buffer_append_c(&r->out, ')');
		break;
	case IMAP_ARG_EOL: buffer_append_str(&r->out, "EOL?"); break;
	}
}

static void dump_args(struct run *r, const struct imap_arg *args)
{
	for (unsigned int i = 0; args[i].type != IMAP_ARG_EOL; i++) {
		if (i > 0)
			buffer_append_c(&r->out, ' ');
		dump_arg(r, &args[i]);
	}
}

static void handle_literal(struct run *r, struct imap_parser *parser)
{
	const struct imap_parser_literal *lit = imap_parser_get_literal(parser);
	unsigned int count;
	const struct imap_arg *partial = imap_parser_get_partial_args(parser, &count);

	buffer_printf(&r->out, "LIT %llu%s%s d%u [", (unsigned long long)lit->size,
		      lit->sync ? "" : "+", lit->literal8 ? " l8" : "", lit->depth);
	dump_args(r, partial);
	buffer_append_str(&r->out, "]\n");
	if (r->policy == LIT_ACCEPT) {
		if (imap_parser_literal_accept(parser) == 0)
			return;
		buffer_append_str(&r->out, "TOOBIG\n");
	} else if (r->policy == LIT_ACCEPT_FD && r->fd_count < 8) {
		FILE *f = tmpfile();
		r->fd_files[r->fd_count++] = f;
		imap_parser_literal_accept_fd(parser, fileno(f));
		return;
	}
	imap_parser_literal_reject(parser);
}

/* Call read until it needs more input; log every result. Returns false after fatal. */
static bool drain(struct run *r, struct imap_parser *parser)
{
	for (;;) {
		int ret = imap_parser_read(parser);
		const char *tag = imap_parser_get_tag(parser);
		bool fatal;
		switch (ret) {
		case IMAP_PARSE_MORE:
			return true;
		case IMAP_PARSE_OK:
			buffer_printf(&r->out, "OK %s [", tag);
			dump_args(r, imap_parser_get_args(parser, NULL));
			buffer_append_str(&r->out, "]\n");
			break;
		case IMAP_PARSE_LITERAL:
			handle_literal(r, parser);
			break;
		case IMAP_PARSE_ERROR: {
			const char *error = imap_parser_get_error(parser, &fatal);
			buffer_printf(&r->out, "%s %s: %s\n", fatal ? "FATAL" : "ERR",
				      tag == NULL ? "*" : tag, error);
			if (fatal)
				return false;
			break;
		}
		default:
			buffer_printf(&r->out, "BAD RETURN %d\n", ret);
			return false;
		}
	}
}

/* Parse input (whole or byte by byte); returns the transcript (caller frees) and
 * what was left unconsumed in the input buffer after the end ("REST:..."). */
static char *run_input(struct run *r, const char *input, size_t len, bool bytewise)
{
	struct buffer in;
	buffer_init(&in, 0);
	buffer_init(&r->out, 0);
	r->fd_count = 0;
	struct imap_parser *parser = imap_parser_create(&in, &r->set);
	bool alive = true;

	if (!bytewise) {
		buffer_append(&in, input, len);
		alive = drain(r, parser);
	} else {
		for (size_t i = 0; i < len && alive; i++) {
			buffer_append(&in, input + i, 1);
			alive = drain(r, parser);
		}
	}
	if (alive && buffer_len(&in) > 0)
		buffer_printf(&r->out, "REST:%s\n", buffer_str(&in));
	imap_parser_destroy(&parser);
	TEST_ASSERT(parser == NULL);
	for (unsigned int i = 0; i < r->fd_count; i++)
		fclose(r->fd_files[i]);
	buffer_deinit(&in);
	return buffer_steal_str(&r->out);
}

/* Run both ways, check they agree and that the transcript is the expected one. */
static void check_full(const struct imap_parser_settings *set, enum lit_policy policy,
		       const char *input, size_t len, const char *expected, int line)
{
	struct run r = { .policy = policy };
	if (set != NULL)
		r.set = *set;
	char *whole = run_input(&r, input, len, false);
	char *bytes = run_input(&r, input, len, true);
	if (strcmp(whole, expected) != 0)
		test_fail(__FILE__, line, "whole input:\n%s\nexpected:\n%s", whole, expected);
	if (strcmp(bytes, expected) != 0)
		test_fail(__FILE__, line, "byte by byte:\n%s\nexpected:\n%s", bytes, expected);
	free(whole);
	free(bytes);
}

#define CHECK(input, expected) \
	check_full(NULL, LIT_ACCEPT, input, strlen(input), expected, __LINE__)
#define CHECK_SET(set, policy, input, expected) \
	check_full(set, policy, input, strlen(input), expected, __LINE__)
#define CHECK_MEM(policy, input, expected) \
	check_full(NULL, policy, input, sizeof(input) - 1, expected, __LINE__)

static void test_simple_commands(void)
{
	CHECK("a1 NOOP\r\n", "OK a1 [NOOP]\n");
	CHECK("a1 NOOP\n", "OK a1 [NOOP]\n");
	CHECK("a1 NOOP\r\nb2 LOGOUT\r\n", "OK a1 [NOOP]\nOK b2 [LOGOUT]\n");
	CHECK("a1 NOOP\r\nb2 LOG", "OK a1 [NOOP]\n");
	/* trailing and repeated spaces are tolerated */
	CHECK("a1  SELECT   INBOX  \r\n", "OK a1 [SELECT INBOX]\n");
	/* tag only: parsed, no args (the session answers "Command not given") */
	CHECK("a1\r\n", "OK a1 []\n");
	CHECK("a1 \r\n", "OK a1 []\n");
	/* tag characters per RFC 3501: "]" and "}" allowed, "+" "*" "%" not */
	CHECK("x]}.9 NOOP\r\n", "OK x]}.9 [NOOP]\n");
}

static void test_arg_types(void)
{
	CHECK("t CMD atom \"quo\\\"ted\\\\\" NIL nil Nil \"NIL\" \"\"\r\n",
	      "OK t [CMD atom \"quo\"ted\\\" NIL<NIL> NIL<nil> NIL<Nil> \"NIL\" \"\"]\n");
	CHECK("t STORE 1:*,5 +FLAGS.SILENT (\\Seen \\Flagged $Junk)\r\n",
	      "OK t [STORE 1:*,5 +FLAGS.SILENT (\\Seen \\Flagged $Junk)]\n");
	CHECK("t LIST \"\" %/*\r\n", "OK t [LIST \"\" %/*]\n");
	CHECK("t X (a (b (c)) () ( d ))\r\n", "OK t [X (a (b (c)) () (d))]\n");
	CHECK("t ()\r\n", "OK t [()]\n");
	CHECK("t (())\r\n", "OK t [(())]\n");
	CHECK("t X ((\"x\"))(\r\n", "ERR t: Missing space between arguments\n");
	/* "~" not followed by "{" is an atom character */
	CHECK("t SELECT ~peter/mail ~\r\n", "OK t [SELECT ~peter/mail ~]\n");
	/* tabs and other CTLs other than CR/LF/NUL are TEXT-CHARs inside quotes */
	CHECK("t X \"a\tb\"\r\n", "OK t [X \"a\tb\"]\n");
}

static void test_fetch_brackets(void)
{
	CHECK("t FETCH 1 BODY[HEADER.FIELDS (DATE FROM)]<0.100>\r\n",
	      "OK t [FETCH 1 BODY[HEADER.FIELDS (DATE FROM)]<0.100>]\n");
	CHECK("t FETCH 1:3 (FLAGS BODY.PEEK[HEADER.FIELDS.NOT (\"Subject\" X)] BODY[] "
	      "BINARY[1.2]<5.10> RFC822.SIZE)\r\n",
	      "OK t [FETCH 1:3 (FLAGS BODY.PEEK[HEADER.FIELDS.NOT (\"Subject\" X)] BODY[] "
	      "BINARY[1.2]<5.10> RFC822.SIZE)]\n");
	/* "]" alone is an astring char: a mailbox "foo]" */
	CHECK("t SELECT foo]\r\n", "OK t [SELECT foo]]\n");
	CHECK("t FETCH 1 BODY[HEADER\r\n", "ERR t: Missing ']' in atom\n");
}

static void test_literals_accept(void)
{
	CHECK("t LOGIN {5}\r\nalice {3+}\r\npw!\r\n",
	      "LIT 5 d0 [LOGIN]\nLIT 3+ d0 [LOGIN {5}alice]\nOK t [LOGIN {5}alice {3}pw!]\n");
	CHECK("t APPEND box (\\Seen) {0}\r\n\r\n",
	      "LIT 0 d0 [APPEND box (\\Seen)]\nOK t [APPEND box (\\Seen) {0}]\n");
	/* literal8 with NUL bytes: length is authoritative */
	CHECK_MEM(LIT_ACCEPT, "t APPEND box ~{4}\r\na\0\r\n\r\n",
		  "LIT 4 l8 d0 [APPEND box]\nOK t [APPEND box ~{4}a\\x00\\x0d\\x0a]\n");
	CHECK("t APPEND box ~{2+}\r\nok\r\n",
	      "LIT 2+ l8 d0 [APPEND box]\nOK t [APPEND box ~{2}ok]\n");
	/* literal inside a list: the open list is not in the partial args */
	CHECK("t APPEND box (TEXT {2}\r\nhi URL x)\r\n",
	      "LIT 2 d1 [APPEND box]\nOK t [APPEND box (TEXT {2}hi URL x)]\n");
	/* MULTIAPPEND: several literals, data followed by more args */
	CHECK("t APPEND b {1+}\r\nx (\\Seen) {1+}\r\ny\r\nu NOOP\r\n",
	      "LIT 1+ d0 [APPEND b]\nLIT 1+ d0 [APPEND b {1}x (\\Seen)]\n"
	      "OK t [APPEND b {1}x (\\Seen) {1}y]\nOK u [NOOP]\n");
	/* data after the literal must be separated */
	CHECK("t X {1}\r\nab\r\n", "LIT 1 d0 [X]\nERR t: Missing space between arguments\n");
}

static void test_literals_fd(void)
{
	CHECK_SET(NULL, LIT_ACCEPT_FD, "t APPEND box {11}\r\nhello world\r\n",
		  "LIT 11 d0 [APPEND box]\nOK t [APPEND box {11:fd}hello world]\n");
	CHECK_SET(NULL, LIT_ACCEPT_FD, "t APPEND box ~{3+}\r\nabc {2}\r\nde\r\n",
		  "LIT 3+ l8 d0 [APPEND box]\nLIT 2 d0 [APPEND box ~{3:fd}abc]\n"
		  "OK t [APPEND box ~{3:fd}abc {2:fd}de]\n");
}

static void test_literals_reject(void)
{
	/* sync: the client sends nothing, the line is over */
	CHECK_SET(NULL, LIT_REJECT, "t APPEND box {10}\r\nu NOOP\r\n",
		  "LIT 10 d0 [APPEND box]\nERR t: Literal rejected\nOK u [NOOP]\n");
	/* non-sync: data and rest of the line are drained */
	CHECK_SET(NULL, LIT_REJECT, "t APPEND box {5+}\r\nhe\r\no (x) {2+}\r\nab\r\nu NOOP\r\n",
		  "LIT 5+ d0 [APPEND box]\nERR t: Literal rejected\nOK u [NOOP]\n");
	/* in-memory cap: accept fails, the caller rejects */
	struct imap_parser_settings set = { .max_literal_mem_bytes = 4 };
	CHECK_SET(&set, LIT_ACCEPT, "t X {3}\r\nabc {2}\r\nu NOOP\r\n",
		  "LIT 3 d0 [X]\nLIT 2 d0 [X {3}abc]\nTOOBIG\nERR t: Literal rejected\n"
		  "OK u [NOOP]\n");
	/* literal8 allows sizes beyond 32 bits; {n} does not */
	CHECK_SET(NULL, LIT_REJECT, "t X ~{5000000000}\r\nu NOOP\r\n",
		  "LIT 5000000000 l8 d0 [X]\nERR t: Literal rejected\nOK u [NOOP]\n");
	CHECK("t X {4294967295}\r\n", "LIT 4294967295 d0 [X]\nTOOBIG\nERR t: Literal rejected\n");
	CHECK("t X {4294967296}\r\nu NOOP\r\n",
	      "ERR t: Literal size too large\nOK u [NOOP]\n");
}

static void test_buffer_left_after_literal(void)
{
	struct buffer in;
	buffer_init(&in, 0);
	struct imap_parser *parser = imap_parser_create(&in, NULL);
	buffer_append_str(&in, "t APPEND box {3+}\r\nabc\r\nu NOOP\r\n");
	TEST_ASSERT_INT_EQ(imap_parser_read(parser), IMAP_PARSE_LITERAL);
	/* only the announcement is consumed; the data stays until accepted */
	TEST_ASSERT_STR_EQ(buffer_str(&in), "abc\r\nu NOOP\r\n");
	TEST_ASSERT_STR_EQ(imap_parser_get_tag(parser), "t");
	TEST_ASSERT_INT_EQ(imap_parser_literal_accept(parser), 0);
	TEST_ASSERT_INT_EQ(imap_parser_read(parser), IMAP_PARSE_OK);
	TEST_ASSERT_STR_EQ(buffer_str(&in), "u NOOP\r\n");
	unsigned int count;
	const struct imap_arg *args = imap_parser_get_args(parser, &count);
	TEST_ASSERT_INT_EQ(count, 3);
	TEST_ASSERT(imap_arg_atom_equals(&args[0], "append"));
	TEST_ASSERT_INT_EQ(args[2].type, IMAP_ARG_LITERAL);
	TEST_ASSERT_INT_EQ(args[2].literal_fd, -1);
	TEST_ASSERT(imap_arg_is_eol(&args[3]));
	TEST_ASSERT_INT_EQ(imap_parser_read(parser), IMAP_PARSE_OK);
	TEST_ASSERT_STR_EQ(imap_parser_get_tag(parser), "u");
	TEST_ASSERT_INT_EQ(buffer_len(&in), 0);
	TEST_ASSERT_INT_EQ(imap_parser_read(parser), IMAP_PARSE_MORE);
	TEST_ASSERT(imap_parser_get_tag(parser) == NULL);
	imap_parser_destroy(&parser);
	buffer_deinit(&in);
}

static void test_malformed_recovers(void)
{
	static const struct { const char *line, *error; } cases[] = {
		{ "\r\n", "ERR *: Command not given" },
		{ "\n", "ERR *: Command not given" },
		{ "* NOOP\r\n", "ERR *: Invalid tag" },
		{ "a+ NOOP\r\n", "ERR *: Invalid tag" },
		{ "a\\b NOOP\r\n", "ERR *: Invalid tag" },
		{ " NOOP\r\n", "ERR *: Invalid tag" },
		{ "t X (a b\r\n", "ERR t: Missing ')'" },
		{ "t X a)\r\n", "ERR t: Unexpected ')'" },
		{ "t X \"a\\qb\"\r\n", "ERR t: Invalid escape in quoted string" },
		{ "t X \"abc\r\n", "ERR t: Missing '\"'" },
		{ "t X \"a\xc3\xa9\"\r\n", "ERR t: 8-bit character in quoted string" },
		{ "t X a\xc3\xa9\r\n", "ERR t: Invalid character in atom" },
		{ "t X \xc3\xa9\r\n", "ERR t: Invalid character" },
		{ "t X {x}\r\n", "ERR t: Invalid literal size" },
		{ "t X {}\r\n", "ERR t: Invalid literal size" },
		{ "t X {+}\r\n", "ERR t: Invalid literal size" },
		{ "t X {12\r\n", "ERR t: Invalid literal size" },
		{ "t X {1+x}\r\n", "ERR t: Invalid literal size" },
		{ "t X {-1}\r\n", "ERR t: Invalid literal size" },
		{ "t X ~{x}\r\n", "ERR t: Invalid literal size" },
		{ "t X {5}x\r\n", "ERR t: Literal not at the end of the line" },
		{ "t X {5}\rx\r\n", "ERR t: Literal not at the end of the line" },
		{ "t X {99999999999999999999}\r\n", "ERR t: Literal size too large" },
		{ "t X ~{99999999999999999999}\r\n", "ERR t: Literal size too large" },
		{ "t X a\"b\"\r\n", "ERR t: Invalid character in atom" },
		{ "t X \"a\"b\r\n", "ERR t: Missing space between arguments" },
		{ "t X a{5}\r\n", "ERR t: Invalid character in atom" },
		{ "t X a\rb\r\n", "ERR t: CR without LF" },
		{ "t X a\x01\r\n", "ERR t: Invalid character in atom" },
		{ "t X \x7f\r\n", "ERR t: Invalid character" },
		{ "t X )\r\n", "ERR t: Unexpected ')'" },
		/* an error before a non-sync literal: its data is skipped too */
		{ "t X \"\\q\" {3+}\r\na)\n rest\r\n", "ERR t: Invalid escape in quoted string" },
		/* ... and a sync one ends the line (the client waits for "+") */
		{ "t X \"\\q\" {3}\r\n", "ERR t: Invalid escape in quoted string" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char input[256], expected[256];
		snprintf(input, sizeof(input), "%sz NOOP\r\n", cases[i].line);
		snprintf(expected, sizeof(expected), "%s\nOK z [NOOP]\n", cases[i].error);
		check_full(NULL, LIT_ACCEPT, input, strlen(input), expected, __LINE__ + (int)i * 0);
	}
	/* NUL in an atom and in a quoted string */
	CHECK_MEM(LIT_ACCEPT, "t X a\0b\r\nz NOOP\r\n",
		  "ERR t: Invalid character in atom\nOK z [NOOP]\n");
	CHECK_MEM(LIT_ACCEPT, "t X \"a\0b\"\r\nz NOOP\r\n",
		  "ERR t: NUL in quoted string\nOK z [NOOP]\n");
	CHECK_MEM(LIT_ACCEPT, "t\0 X\r\nz NOOP\r\n", "ERR *: Invalid tag\nOK z [NOOP]\n");
}

static void test_fatal_errors(void)
{
	/* a non-sync literal of unknowable size can't be skipped */
	CHECK("t X {99999999999999999999+}\r\nz NOOP\r\n",
	      "FATAL t: Literal size too large\n");
	CHECK("t X \"\\q\" {99999999999999999999+}\r\nz NOOP\r\n",
	      "FATAL t: Literal size too large\n");
	struct imap_parser_settings set = { .max_line_bytes = 16 };
	CHECK_SET(&set, LIT_ACCEPT, "t X 1234567890\r\n", "OK t [X 1234567890]\n");
	CHECK_SET(&set, LIT_ACCEPT, "t X 12345678901234\r\nz NOOP\r\n",
		  "FATAL t: Command line too long\n");
	/* literal data does not count, the parts of the line do */
	CHECK_SET(&set, LIT_ACCEPT, "t X {20+}\r\n01234567890123456789 a\r\n",
		  "LIT 20+ d0 [X]\nOK t [X {20}01234567890123456789 a]\n");
	CHECK_SET(&set, LIT_ACCEPT, "t X {2+}\r\nab 123456789\r\n",
		  "LIT 2+ d0 [X]\nFATAL t: Command line too long\n");
	/* after a fatal error the parser stays failed */
	struct buffer in;
	buffer_init(&in, 0);
	struct imap_parser *parser = imap_parser_create(&in, &set);
	buffer_append_str(&in, "t X 12345678901234567890\r\n");
	TEST_ASSERT_INT_EQ(imap_parser_read(parser), IMAP_PARSE_ERROR);
	buffer_reset(&in);
	buffer_append_str(&in, "z NOOP\r\n");
	TEST_ASSERT_INT_EQ(imap_parser_read(parser), IMAP_PARSE_ERROR);
	bool fatal = false;
	TEST_ASSERT_STR_EQ(imap_parser_get_error(parser, &fatal), "Command line too long");
	TEST_ASSERT(fatal);
	imap_parser_destroy(&parser);
	buffer_deinit(&in);
}

static void test_limits(void)
{
	struct imap_parser_settings set = { .max_depth = 3, .max_args = 6 };
	CHECK_SET(&set, LIT_ACCEPT, "t X (((a)))\r\n", "OK t [X (((a)))]\n");
	CHECK_SET(&set, LIT_ACCEPT, "t X ((((a))))\r\nz NOOP\r\n",
		  "ERR t: Too deeply nested lists\nOK z [NOOP]\n");
	/* 6 args: X, a, b, (, c, d */
	CHECK_SET(&set, LIT_ACCEPT, "t X a b (c d)\r\n", "OK t [X a b (c d)]\n");
	CHECK_SET(&set, LIT_ACCEPT, "t X a b (c d e)\r\nz NOOP\r\n",
		  "ERR t: Too many arguments\nOK z [NOOP]\n");
	CHECK_SET(&set, LIT_ACCEPT, "t X a b c d e f\r\nz NOOP\r\n",
		  "ERR t: Too many arguments\nOK z [NOOP]\n");
	CHECK_SET(&set, LIT_ACCEPT, "t X a b c d {1}\r\nz\r\nz NOOP\r\n",
		  "LIT 1 d0 [X a b c d]\nOK t [X a b c d {1}z]\nOK z [NOOP]\n");
	CHECK_SET(&set, LIT_ACCEPT, "t X a b c d {1}\r\nz NOOP\r\nz NOOP\r\n",
		  "LIT 1 d0 [X a b c d]\nERR t: Too many arguments\nOK z [NOOP]\n");
	CHECK_SET(&set, LIT_ACCEPT, "t X a b c d e {1}\r\nz NOOP\r\n",
		  "ERR t: Too many arguments\nOK z [NOOP]\n");
	CHECK_SET(&set, LIT_ACCEPT, "t X a b c d e {3+}\r\nabc\r\nz NOOP\r\n",
		  "ERR t: Too many arguments\nOK z [NOOP]\n");
	/* default depth 20 */
	char deep[128];
	snprintf(deep, sizeof(deep), "t X %.*s%.*s\r\nz NOOP\r\n", 21,
		 "((((((((((((((((((((((((", 21, "))))))))))))))))))))))))");
	CHECK(deep, "ERR t: Too deeply nested lists\nOK z [NOOP]\n");
	/* a set with 8-bit quoted strings allowed (UTF8=ACCEPT) */
	struct imap_parser_settings utf8 = { .allow_8bit_quoted = true };
	CHECK_SET(&utf8, LIT_ACCEPT, "t X \"\xc3\xa9\"\r\n", "OK t [X \"\xc3\xa9\"]\n");
}

static void test_many_args_linear(void)
{
	/* 9000 args in one line, fed in small pieces: bounded and not re-parsed */
	struct buffer in, line;
	buffer_init(&in, 0);
	buffer_init(&line, 0);
	buffer_append_str(&line, "t X");
	for (int i = 0; i < 9000; i++)
		buffer_printf(&line, " a%d", i % 10);
	buffer_append_str(&line, "\r\n");
	struct imap_parser *parser = imap_parser_create(&in, NULL);
	const unsigned char *data = buffer_data(&line);
	size_t len = buffer_len(&line), pos = 0;
	int ret = IMAP_PARSE_MORE;
	while (pos < len && ret == IMAP_PARSE_MORE) {
		size_t n = len - pos < 7 ? len - pos : 7;
		buffer_append(&in, data + pos, n);
		pos += n;
		ret = imap_parser_read(parser);
	}
	TEST_ASSERT_INT_EQ(ret, IMAP_PARSE_OK);
	unsigned int count;
	const struct imap_arg *args = imap_parser_get_args(parser, &count);
	TEST_ASSERT_INT_EQ(count, 9001);
	TEST_ASSERT_STR_EQ(args[9000].str, "a9");
	imap_parser_destroy(&parser);
	buffer_deinit(&in);
	buffer_deinit(&line);
}

static void test_read_line(void)
{
	struct imap_parser_settings set = { .max_line_bytes = 10 };
	struct buffer in;
	const char *line;
	size_t len;
	buffer_init(&in, 0);
	struct imap_parser *parser = imap_parser_create(&in, &set);
	buffer_append_str(&in, "DO");
	TEST_ASSERT_INT_EQ(imap_parser_read_line(parser, &line, &len), 0);
	buffer_append_str(&in, "NE\r\nt NOOP\r\n\n");
	TEST_ASSERT_INT_EQ(imap_parser_read_line(parser, &line, &len), 1);
	TEST_ASSERT_STR_EQ(line, "DONE");
	TEST_ASSERT_INT_EQ(len, 4);
	TEST_ASSERT_INT_EQ(imap_parser_read(parser), IMAP_PARSE_OK);
	TEST_ASSERT_STR_EQ(imap_parser_get_tag(parser), "t");
	TEST_ASSERT_INT_EQ(imap_parser_read_line(parser, &line, &len), 1);
	TEST_ASSERT_STR_EQ(line, "");
	TEST_ASSERT_INT_EQ(len, 0);
	/* the command's tag and args survive raw lines (IDLE ... DONE) */
	TEST_ASSERT_STR_EQ(imap_parser_get_tag(parser), "t");
	unsigned int count;
	const struct imap_arg *args = imap_parser_get_args(parser, &count);
	TEST_ASSERT_INT_EQ(count, 1);
	TEST_ASSERT(imap_arg_atom_equals(&args[0], "NOOP"));
	buffer_append_str(&in, "123456");
	TEST_ASSERT_INT_EQ(imap_parser_read_line(parser, &line, &len), 0);
	buffer_append_str(&in, "7890");
	TEST_ASSERT_INT_EQ(imap_parser_read_line(parser, &line, &len), 0);
	buffer_append_str(&in, "x\r\n");
	TEST_ASSERT_INT_EQ(imap_parser_read_line(parser, &line, &len), -1);
	bool fatal = false;
	imap_parser_get_error(parser, &fatal);
	TEST_ASSERT(fatal);
	imap_parser_destroy(&parser);
	buffer_deinit(&in);
}

static void test_arg_helpers(void)
{
	struct buffer in;
	const char *str;
	const struct imap_arg *list;
	unsigned int count;
	buffer_init(&in, 0);
	struct imap_parser *parser = imap_parser_create(&in, NULL);
	static const char input[] = "t sElEcT NIL \"q\" {2}\r\na\0 (x y) nil\r\n";
	buffer_append(&in, input, sizeof(input) - 1);
	TEST_ASSERT_INT_EQ(imap_parser_read(parser), IMAP_PARSE_LITERAL);
	TEST_ASSERT_INT_EQ(imap_parser_literal_accept(parser), 0);
	TEST_ASSERT_INT_EQ(imap_parser_read(parser), IMAP_PARSE_OK);
	const struct imap_arg *args = imap_parser_get_args(parser, &count);
	TEST_ASSERT_INT_EQ(count, 6);
	TEST_ASSERT(imap_arg_atom_equals(&args[0], "SELECT"));
	TEST_ASSERT(!imap_arg_atom_equals(&args[0], "SELEC"));
	TEST_ASSERT(imap_arg_get_atom(&args[0], &str) && strcmp(str, "sElEcT") == 0);
	TEST_ASSERT(!imap_arg_get_atom(&args[1], &str));
	TEST_ASSERT(imap_arg_is_nil(&args[1]));
	TEST_ASSERT(imap_arg_get_astring(&args[1], &str) && strcmp(str, "NIL") == 0);
	str = "x";
	TEST_ASSERT(imap_arg_get_nstring(&args[1], &str) && str == NULL);
	TEST_ASSERT(imap_arg_get_nstring(&args[2], &str) && strcmp(str, "q") == 0);
	TEST_ASSERT(!imap_arg_get_atom(&args[2], &str));
	TEST_ASSERT(!imap_arg_atom_equals(&args[2], "q"));
	/* a literal containing NUL is refused by the C-string helpers */
	TEST_ASSERT(!imap_arg_get_astring(&args[3], &str));
	TEST_ASSERT(!imap_arg_get_string(&args[3], &str));
	TEST_ASSERT_INT_EQ(args[3].len, 2);
	TEST_ASSERT(imap_arg_get_list(&args[4], &list, &count) && count == 2);
	TEST_ASSERT(imap_arg_get_astring(&list[1], &str) && strcmp(str, "y") == 0);
	TEST_ASSERT(imap_arg_is_eol(&list[2]));
	TEST_ASSERT(!imap_arg_get_list(&args[1], &list, NULL));
	TEST_ASSERT(!imap_arg_get_astring(&args[4], &str));
	TEST_ASSERT(imap_arg_atom_equals(&args[5], "NIL"));
	imap_parser_destroy(&parser);
	buffer_deinit(&in);
}

static void test_fd_write_error(void)
{
	int fds[2];
	TEST_ASSERT_INT_EQ(pipe(fds), 0);
	close(fds[1]);
	/* writing to a read-only fd fails (EBADF); the data is still drained */
	struct buffer in;
	buffer_init(&in, 0);
	struct imap_parser *parser = imap_parser_create(&in, NULL);
	buffer_append_str(&in, "t APPEND b {3+}\r\nabc\r\nu NOOP\r\n");
	TEST_ASSERT_INT_EQ(imap_parser_read(parser), IMAP_PARSE_LITERAL);
	imap_parser_literal_accept_fd(parser, fds[0]);
	TEST_ASSERT_INT_EQ(imap_parser_read(parser), IMAP_PARSE_ERROR);
	bool fatal = true;
	TEST_ASSERT_STR_EQ(imap_parser_get_error(parser, &fatal), "Failed to write literal");
	TEST_ASSERT(!fatal);
	TEST_ASSERT_INT_EQ(imap_parser_read(parser), IMAP_PARSE_OK);
	TEST_ASSERT_STR_EQ(imap_parser_get_tag(parser), "u");
	close(fds[0]);
	imap_parser_destroy(&parser);
	buffer_deinit(&in);
}

static void test_random_inputs(void)
{
	/* Deterministic garbage from an alphabet of syntax characters: every input must
	 * give the same transcript whole and byte by byte, and nothing may crash. */
	static const char *const tokens[] = {
		"a", " ", "(", ")", "\"", "\\", "\r\n", "\n", "\r", "[", "]", "{", "}", "~",
		"+", "*", "%", "0", "7", "\x01", "\x80", "NIL", "{3}\r\n", "{2+}\n",
		"~{1}\r\n", "{0}\n", "~{4+}\r\n", "{70}\r\n", "{1+}", "{99999999999+}\n",
		"BODY[X (A B)]<1.2>",
	};
	struct imap_parser_settings set = { .max_depth = 4, .max_args = 12,
					     .max_literal_mem_bytes = 64, .max_line_bytes = 120 };
	uint32_t seed = 12345;
	char input[256];
	for (int n = 0; n < 3000; n++) {
		size_t len = 0;
		seed = seed * 1103515245 + 12345;
		size_t want = (seed >> 16) % 200;
		bool line_start = true;
		while (len < want) {
			if (line_start && n % 5 != 0) {
				/* mostly valid command starts, so the args get exercised */
				memcpy(input + len, "t X ", 4);
				len += 4;
			}
			seed = seed * 1103515245 + 12345;
			const char *tok = tokens[(seed >> 16) % (sizeof(tokens) / sizeof(tokens[0]))];
			size_t tlen = strlen(tok);
			memcpy(input + len, tok, tlen);
			len += tlen;
			line_start = input[len - 1] == '\n';
		}
		enum lit_policy policy = (enum lit_policy)(n % 3);
		struct run r1 = { .set = set, .policy = policy }, r2 = r1;
		char *whole = run_input(&r1, input, len, false);
		char *bytes = run_input(&r2, input, len, true);
		if (strcmp(whole, bytes) != 0)
			test_fail(__FILE__, __LINE__, "input %d differs:\n%s\n---\n%s", n,
				  whole, bytes);
		free(whole);
		free(bytes);
	}
}

TEST_MAIN(TEST(test_simple_commands), TEST(test_arg_types), TEST(test_fetch_brackets),
	  TEST(test_literals_accept), TEST(test_literals_fd), TEST(test_literals_reject),
	  TEST(test_buffer_left_after_literal), TEST(test_malformed_recovers),
	  TEST(test_fatal_errors), TEST(test_limits), TEST(test_many_args_linear),
	  TEST(test_read_line), TEST(test_arg_helpers), TEST(test_fd_write_error),
	  TEST(test_random_inputs))
