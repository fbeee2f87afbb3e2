/* Incremental IMAP command parser: a byte-driven state machine (see imap-parser.h).
 *
 * Completed args live on one pending stack; each open list remembers where its
 * children start. Closing a list copies its children (plus an EOL) into the arena and
 * replaces them by one LIST arg; at the end of the line the stack itself (plus an EOL)
 * is the top-level array. Strings are collected in a token buffer and copied into the
 * arena when complete. Everything is freed or recycled by imap_parser_reset(). */
#include "imap-parser.h"
#include "alloc.h"
#include "buffer.h"
#include "log.h"

#include <errno.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

enum parser_state {
	STATE_START,       /* nothing of the command read yet */
	STATE_TAG,         /* in the tag */
	STATE_SEP,         /* after the tag or an arg: SP, ")" or EOL */
	STATE_ARG,         /* after SP or "(": an arg, ")" or EOL */
	STATE_ATOM,
	STATE_ATOM_BRACKET,/* inside "[...]" of an atom */
	STATE_QUOTED,
	STATE_QUOTED_ESC,
	STATE_LIT_OPEN,    /* after "~": expect "{" */
	STATE_LIT_NUM,     /* after "{": digits */
	STATE_LIT_CLOSE,   /* after "+": expect "}" */
	STATE_LIT_EOL,     /* after "}": CR or LF */
	STATE_LIT_LF,      /* after "}" CR: LF */
	STATE_LIT_WAIT,    /* IMAP_PARSE_LITERAL returned, waiting for accept/reject */
	STATE_LIT_DATA,    /* literal bytes to memory or fd */
	STATE_EOL_LF,      /* after CR at the end of the line */
	STATE_SKIP,        /* skipping the rest of a bad line */
	STATE_SKIP_DATA,   /* draining a rejected or skipped non-sync literal */
	STATE_ERROR_READY, /* error known and line over: return it on the next read */
	STATE_DONE,        /* a line (or error) was returned; reset on the next read */
	STATE_FATAL
};

/* Literal-announcement tracking while skipping a bad line. */
enum skip_lit { SKIP_LIT_NONE, SKIP_LIT_NUM, SKIP_LIT_PLUS, SKIP_LIT_CLOSED,
		SKIP_LIT_CR };

struct arena_chunk {
	struct arena_chunk *next;
	size_t size, used;
	unsigned char data[];
};

#define ARENA_MIN_CHUNK_BYTES 4096
#define LIT_MAX_SIZE (UINT64_C(0xffffffff))
#define LIT8_MAX_SIZE (UINT64_C(0x7fffffffffffffff))

struct imap_parser {
	struct buffer *input;
	struct imap_parser_settings set;
	enum parser_state state;

	struct arena_chunk *arena;
	struct buffer token;          /* atom / quoted string / tag being read */
	size_t line_bytes;            /* non-literal bytes of this command */
	char *tag;                    /* in the arena */

	struct imap_arg *stack;       /* completed args; grows up to max_args + 1 */
	unsigned int stack_count, stack_alloc, arg_count;
	unsigned int *frames;         /* frames[d] = stack index of list d's first child */
	unsigned int depth;
	struct imap_arg *partial;     /* imap_parser_get_partial_args() copy */
	unsigned int partial_alloc;

	struct imap_parser_literal lit;
	bool lit_overflow;
	uint64_t lit_remaining;
	unsigned char *lit_dest;      /* in-memory literal being filled */
	int lit_fd;
	int lit_write_errno;
	uint64_t literal_mem_used;

	enum skip_lit skip_lit;
	uint64_t skip_lit_size;
	bool skip_lit_overflow, skip_lit_plus, skip_lit_prev_ok;

	const char *error;
	bool error_fatal;
	bool raw_line;                /* inside imap_parser_read_line() */
};

/* ---- arena ------------------------------------------------------------------------ */

static void *arena_alloc(struct imap_parser *p, size_t size)
{
	struct arena_chunk *c = p->arena;
	size = (size + 7) & ~(size_t)7;
	if (c == NULL || c->size - c->used < size) {
		size_t csize = size > ARENA_MIN_CHUNK_BYTES ? size : ARENA_MIN_CHUNK_BYTES;
		if (c != NULL && c->size * 2 > csize && c->size < 64 * 1024)
			csize = c->size * 2 > size ? c->size * 2 : size;
		c = i_malloc(sizeof(*c) + csize);
		c->size = csize;
		c->next = p->arena;
		p->arena = c;
	}
	void *ret = c->data + c->used;
	c->used += size;
	return ret;
}

static void arena_clear(struct imap_parser *p)
{
	/* Keep the oldest chunk if it is small; free the rest. */
	struct arena_chunk *c = p->arena, *next;
	while (c != NULL && (c->next != NULL || c->size > ARENA_MIN_CHUNK_BYTES)) {
		next = c->next;
		free(c);
		c = next;
	}
	p->arena = c;
	if (c != NULL)
		c->used = 0;
}

static const char *arena_strndup(struct imap_parser *p, const void *data, size_t len)
{
	char *s = arena_alloc(p, len + 1);
	memcpy(s, data, len);
	s[len] = '\0';
	return s;
}

/* ---- lifecycle -------------------------------------------------------------------- */

struct imap_parser *imap_parser_create(struct buffer *input,
				       const struct imap_parser_settings *settings)
{
	struct imap_parser *p = i_new0(struct imap_parser);
	if (settings != NULL)
		p->set = *settings;
	if (p->set.max_line_bytes == 0)
		p->set.max_line_bytes = IMAP_PARSER_DEFAULT_MAX_LINE_BYTES;
	if (p->set.max_literal_mem_bytes == 0)
		p->set.max_literal_mem_bytes = IMAP_PARSER_DEFAULT_MAX_LITERAL_MEM_BYTES;
	if (p->set.max_depth == 0)
		p->set.max_depth = IMAP_PARSER_DEFAULT_MAX_DEPTH;
	if (p->set.max_args == 0)
		p->set.max_args = IMAP_PARSER_DEFAULT_MAX_ARGS;
	p->input = input;
	buffer_init(&p->token, p->set.max_line_bytes + 1);
	p->frames = i_new(unsigned int, p->set.max_depth + 1);
	p->lit_fd = -1;
	return p;
}

void imap_parser_destroy(struct imap_parser **parser)
{
	struct imap_parser *p = *parser;
	if (p == NULL)
		return;
	*parser = NULL;
	arena_clear(p);
	free(p->arena);
	buffer_deinit(&p->token);
	free(p->stack);
	free(p->frames);
	free(p->partial);
	free(p);
}

void imap_parser_reset(struct imap_parser *p)
{
	if (p->state == STATE_FATAL)
		return;
	arena_clear(p);
	buffer_reset(&p->token);
	p->state = STATE_START;
	p->line_bytes = 0;
	p->tag = NULL;
	p->stack_count = p->arg_count = p->depth = 0;
	memset(&p->lit, 0, sizeof(p->lit));
	p->lit_overflow = false;
	p->lit_remaining = 0;
	p->lit_dest = NULL;
	p->lit_fd = -1;
	p->lit_write_errno = 0;
	p->literal_mem_used = 0;
	p->skip_lit = SKIP_LIT_NONE;
	p->error = NULL;
	p->error_fatal = false;
	p->raw_line = false;
}

/* ---- errors ----------------------------------------------------------------------- */

/* A non-fatal syntax error: skip the rest of the line, then report it. The current
 * byte is not consumed, so the skipper sees it (it may be the LF). */
static void parse_error(struct imap_parser *p, const char *error)
{
	p->error = error;
	p->error_fatal = false;
	p->state = STATE_SKIP;
	p->skip_lit = SKIP_LIT_NONE;
	p->skip_lit_prev_ok = false;
}

static int fatal_error(struct imap_parser *p, const char *error)
{
	p->error = error;
	p->error_fatal = true;
	p->state = STATE_FATAL;
	return IMAP_PARSE_ERROR;
}

const char *imap_parser_get_error(const struct imap_parser *p, bool *fatal_r)
{
	if (fatal_r != NULL)
		*fatal_r = p->error_fatal;
	return p->error != NULL ? p->error : "No error";
}

/* ---- args ------------------------------------------------------------------------- */

/* Room for one more entry on the stack (stack_count <= arg_count <= max_args, plus one
 * slot for the final EOL). */
static void stack_grow(struct imap_parser *p)
{
	if (p->stack_count < p->stack_alloc)
		return;
	unsigned int alloc = p->stack_alloc == 0 ? 16 : p->stack_alloc * 2;
	if (alloc > p->set.max_args + 1)
		alloc = p->set.max_args + 1;
	p->stack = i_reallocarray(p->stack, alloc, sizeof(*p->stack));
	p->stack_alloc = alloc;
}

static bool push_arg(struct imap_parser *p, enum imap_arg_type type,
		     const char *str, size_t len)
{
	if (p->arg_count >= p->set.max_args) {
		parse_error(p, "Too many arguments");
		return false;
	}
	stack_grow(p);
	struct imap_arg *arg = &p->stack[p->stack_count++];
	p->arg_count++;
	memset(arg, 0, sizeof(*arg));
	arg->type = type;
	arg->str = str != NULL ? str : "";
	arg->len = len;
	arg->literal_fd = -1;
	return true;
}

static void set_eol(struct imap_arg *arg)
{
	memset(arg, 0, sizeof(*arg));
	arg->type = IMAP_ARG_EOL;
	arg->str = "";
	arg->literal_fd = -1;
}

static bool open_list(struct imap_parser *p)
{
	if (p->depth >= p->set.max_depth) {
		parse_error(p, "Too deeply nested lists");
		return false;
	}
	if (p->arg_count >= p->set.max_args) {
		parse_error(p, "Too many arguments");
		return false;
	}
	p->arg_count++; /* the LIST itself */
	p->frames[++p->depth] = p->stack_count;
	return true;
}

static void close_list(struct imap_parser *p)
{
	unsigned int start = p->frames[p->depth--];
	unsigned int count = p->stack_count - start;
	struct imap_arg *children = arena_alloc(p, sizeof(*children) * (count + 1));

	if (count > 0)
		memcpy(children, p->stack + start, sizeof(*children) * count);
	set_eol(&children[count]);
	p->stack_count = start;
	stack_grow(p); /* "()" as the very first arg: nothing allocated yet */
	struct imap_arg *list = &p->stack[p->stack_count++];
	memset(list, 0, sizeof(*list));
	list->type = IMAP_ARG_LIST;
	list->str = "";
	list->list = children;
	list->list_count = count;
	list->literal_fd = -1;
}

const struct imap_arg *imap_parser_get_args(const struct imap_parser *p,
					    unsigned int *count_r)
{
	static struct imap_arg eol = { .type = IMAP_ARG_EOL, .str = "", .literal_fd = -1 };
	if (p->state != STATE_DONE || p->error != NULL || p->stack == NULL) {
		if (count_r != NULL)
			*count_r = 0;
		return &eol;
	}
	if (count_r != NULL)
		*count_r = p->stack_count;
	return p->stack;
}

const struct imap_arg *imap_parser_get_partial_args(struct imap_parser *p,
						    unsigned int *count_r)
{
	unsigned int count = p->depth > 0 ? p->frames[1] : p->stack_count;
	if (p->partial_alloc < count + 1) {
		p->partial_alloc = count + 1;
		p->partial = i_reallocarray(p->partial, p->partial_alloc, sizeof(*p->partial));
	}
	if (count > 0)
		memcpy(p->partial, p->stack, sizeof(*p->partial) * count);
	set_eol(&p->partial[count]);
	if (count_r != NULL)
		*count_r = count;
	return p->partial;
}

const char *imap_parser_get_tag(const struct imap_parser *p)
{
	return p->tag;
}

const struct imap_parser_literal *imap_parser_get_literal(const struct imap_parser *p)
{
	return &p->lit;
}

/* ---- character classes ------------------------------------------------------------ */

/* Parser atom chars: CHAR except CTL, SP, "(", ")", "{", '"'. This is wider than
 * ATOM-CHAR so that flags ("\Seen"), list patterns ("%", "*"), sequence sets ("1:*")
 * and astrings ("]") are atoms; commands check their own syntax. */
static bool is_atom_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '(' && c != ')' && c != '{' && c != '"';
}

/* tag = 1*<any ASTRING-CHAR except "+"> */
static bool is_tag_char(unsigned char c)
{
	return is_atom_char(c) && c != '%' && c != '*' && c != '\\' && c != '+';
}

static bool is_eol_char(unsigned char c)
{
	return c == '\r' || c == '\n';
}

/* ---- state handlers --------------------------------------------------------------- */

enum step {
	STEP_NEXT,   /* byte consumed */
	STEP_AGAIN,  /* state changed, look at the same byte again */
	STEP_RETURN  /* byte consumed, return p->result */
};

static int token_add(struct imap_parser *p, unsigned char c)
{
	/* The token is bounded by max_line_bytes + 1 and line_bytes is checked first,
	 * so this cannot fail; check anyway. */
	if (buffer_append_c(&p->token, c) < 0)
		log_panic("imap-parser: token overflow");
	return STEP_NEXT;
}

/* The line ended with an error already known; nothing to skip. */
static int line_error(struct imap_parser *p, const char *error, int *result_r)
{
	p->error = error;
	p->error_fatal = false;
	p->state = STATE_DONE;
	*result_r = IMAP_PARSE_ERROR;
	return STEP_RETURN;
}

static int end_line(struct imap_parser *p, int *result_r)
{
	if (p->depth > 0)
		return line_error(p, "Missing ')'", result_r);
	if (p->lit_write_errno != 0)
		return line_error(p, "Failed to write literal", result_r);
	stack_grow(p);
	set_eol(&p->stack[p->stack_count]);
	p->state = STATE_DONE;
	*result_r = IMAP_PARSE_OK;
	return STEP_RETURN;
}

static int handle_start(struct imap_parser *p, unsigned char c)
{
	if (is_eol_char(c))
		parse_error(p, "Command not given");
	else if (is_tag_char(c))
		p->state = STATE_TAG;
	else
		parse_error(p, "Invalid tag");
	return STEP_AGAIN;
}

static int handle_tag(struct imap_parser *p, unsigned char c)
{
	if (is_tag_char(c))
		return token_add(p, c);
	if (c != ' ' && !is_eol_char(c)) {
		parse_error(p, "Invalid tag");
		return STEP_AGAIN;
	}
	p->tag = (char *)arena_strndup(p, buffer_data(&p->token), buffer_len(&p->token));
	buffer_reset(&p->token);
	p->state = STATE_SEP;
	return STEP_AGAIN;
}

/* ")" or EOL, shared by the SEP and ARG states; returns -1 if c is neither. */
static int handle_close_or_eol(struct imap_parser *p, unsigned char c, int *result_r)
{
	if (c == ')') {
		if (p->depth == 0) {
			parse_error(p, "Unexpected ')'");
			return STEP_AGAIN;
		}
		close_list(p);
		p->state = STATE_SEP;
		return STEP_NEXT;
	}
	if (c == '\r') {
		p->state = STATE_EOL_LF;
		return STEP_NEXT;
	}
	if (c == '\n')
		return end_line(p, result_r);
	return -1;
}

static int handle_sep(struct imap_parser *p, unsigned char c, int *result_r)
{
	if (c == ' ') {
		p->state = STATE_ARG;
		return STEP_NEXT;
	}
	int step = handle_close_or_eol(p, c, result_r);
	if (step >= 0)
		return step;
	parse_error(p, "Missing space between arguments");
	return STEP_AGAIN;
}

static void start_literal(struct imap_parser *p, bool literal8)
{
	memset(&p->lit, 0, sizeof(p->lit));
	p->lit.literal8 = literal8;
	p->lit_overflow = false;
	buffer_reset(&p->token);
	p->state = STATE_LIT_NUM;
}

static int handle_arg(struct imap_parser *p, unsigned char c, int *result_r)
{
	if (c == ' ')
		return STEP_NEXT;
	int step = handle_close_or_eol(p, c, result_r);
	if (step >= 0)
		return step;
	switch (c) {
	case '(':
		if (!open_list(p))
			return STEP_AGAIN;
		return STEP_NEXT;
	case '"':
		p->state = STATE_QUOTED;
		return STEP_NEXT;
	case '{':
		start_literal(p, false);
		return STEP_NEXT;
	case '~':
		/* "~{" starts a literal8, anything else an atom such as "~peter" */
		p->state = STATE_LIT_OPEN;
		return token_add(p, c);
	}
	if (is_atom_char(c))
		p->state = STATE_ATOM;
	else
		parse_error(p, "Invalid character");
	return STEP_AGAIN;
}

static void finish_string(struct imap_parser *p, enum imap_arg_type type)
{
	size_t len = buffer_len(&p->token);
	const char *str = arena_strndup(p, buffer_data(&p->token), len);

	if (type == IMAP_ARG_ATOM && len == 3 && strcasecmp(str, "NIL") == 0)
		type = IMAP_ARG_NIL;
	buffer_reset(&p->token);
	if (push_arg(p, type, str, len))
		p->state = STATE_SEP;
}

static int handle_atom(struct imap_parser *p, unsigned char c)
{
	if (c == '[') {
		p->state = STATE_ATOM_BRACKET;
		return token_add(p, c);
	}
	if (is_atom_char(c))
		return token_add(p, c);
	if (c == ' ' || c == ')' || is_eol_char(c))
		finish_string(p, IMAP_ARG_ATOM);
	else
		parse_error(p, "Invalid character in atom");
	return STEP_AGAIN;
}

static int handle_atom_bracket(struct imap_parser *p, unsigned char c)
{
	if (c == ']') {
		p->state = STATE_ATOM;
		return token_add(p, c);
	}
	if (c >= 0x20 && c < 0x7f)
		return token_add(p, c);
	parse_error(p, is_eol_char(c) ? "Missing ']' in atom" : "Invalid character in atom");
	return STEP_AGAIN;
}

static int handle_quoted(struct imap_parser *p, unsigned char c)
{
	switch (c) {
	case '"':
		finish_string(p, IMAP_ARG_STRING);
		return STEP_NEXT;
	case '\\':
		p->state = STATE_QUOTED_ESC;
		return STEP_NEXT;
	case '\r':
	case '\n':
		parse_error(p, "Missing '\"'");
		return STEP_AGAIN;
	case '\0':
		parse_error(p, "NUL in quoted string");
		return STEP_AGAIN;
	}
	if (c >= 0x80 && !p->set.allow_8bit_quoted) {
		parse_error(p, "8-bit character in quoted string");
		return STEP_AGAIN;
	}
	return token_add(p, c);
}

static int handle_quoted_esc(struct imap_parser *p, unsigned char c)
{
	if (c != '"' && c != '\\') {
		parse_error(p, "Invalid escape in quoted string");
		return STEP_AGAIN;
	}
	p->state = STATE_QUOTED;
	return token_add(p, c);
}

static int handle_lit_open(struct imap_parser *p, unsigned char c)
{
	if (c == '{') {
		start_literal(p, true);
		return STEP_NEXT;
	}
	p->state = STATE_ATOM;
	return STEP_AGAIN;
}

static int handle_lit_num(struct imap_parser *p, unsigned char c)
{
	uint64_t max = p->lit.literal8 ? LIT8_MAX_SIZE : LIT_MAX_SIZE;
	bool have_digits = buffer_len(&p->token) > 0;

	if (c >= '0' && c <= '9') {
		uint64_t d = (uint64_t)(c - '0');
		if (p->lit_overflow || p->lit.size > (max - d) / 10)
			p->lit_overflow = true;
		else
			p->lit.size = p->lit.size * 10 + d;
		return token_add(p, c);
	}
	if (have_digits && (c == '+' || c == '}')) {
		p->lit.sync = c == '}';
		p->state = c == '}' ? STATE_LIT_EOL : STATE_LIT_CLOSE;
		return STEP_NEXT;
	}
	parse_error(p, "Invalid literal size");
	return STEP_AGAIN;
}

/* "{n}" and its EOL were read. */
static int literal_announced(struct imap_parser *p, int *result_r)
{
	buffer_reset(&p->token);
	if (p->lit_overflow) {
		if (!p->lit.sync) {
			*result_r = fatal_error(p, "Literal size too large");
			return STEP_RETURN;
		}
		return line_error(p, "Literal size too large", result_r);
	}
	if (p->arg_count >= p->set.max_args) {
		if (p->lit.sync)
			return line_error(p, "Too many arguments", result_r);
		p->error = "Too many arguments";
		p->lit_remaining = p->lit.size;
		p->state = STATE_SKIP_DATA;
		return STEP_NEXT;
	}
	p->lit.depth = p->depth;
	p->state = STATE_LIT_WAIT;
	*result_r = IMAP_PARSE_LITERAL;
	return STEP_RETURN;
}

static int handle_lit_end(struct imap_parser *p, unsigned char c, int *result_r)
{
	switch (p->state) {
	case STATE_LIT_CLOSE:
		if (c == '}') {
			p->state = STATE_LIT_EOL;
			return STEP_NEXT;
		}
		break;
	case STATE_LIT_EOL:
		if (c == '\r') {
			p->state = STATE_LIT_LF;
			return STEP_NEXT;
		}
		/* fall through */
	default: /* STATE_LIT_LF */
		if (c == '\n')
			return literal_announced(p, result_r);
		break;
	}
	parse_error(p, p->state == STATE_LIT_CLOSE ? "Invalid literal size" :
		    "Literal not at the end of the line");
	return STEP_AGAIN;
}

/* ---- skipping a bad line ---------------------------------------------------------- */

/* Track "{n}" / "{n+}" / "~{n+}" right before the EOL of the skipped text. */
static void skip_track(struct imap_parser *p, unsigned char c)
{
	if (c >= '0' && c <= '9' && p->skip_lit == SKIP_LIT_NUM) {
		uint64_t d = (uint64_t)(c - '0');
		if (p->skip_lit_overflow || p->skip_lit_size > (LIT8_MAX_SIZE - d) / 10)
			p->skip_lit_overflow = true;
		else
			p->skip_lit_size = p->skip_lit_size * 10 + d;
		p->skip_lit_prev_ok = true;
	} else if (c == '+' && p->skip_lit == SKIP_LIT_NUM && p->skip_lit_prev_ok) {
		p->skip_lit = SKIP_LIT_PLUS;
		p->skip_lit_plus = true;
	} else if (c == '}' && p->skip_lit_prev_ok &&
		   (p->skip_lit == SKIP_LIT_NUM || p->skip_lit == SKIP_LIT_PLUS)) {
		p->skip_lit = SKIP_LIT_CLOSED;
	} else if (c == '\r' && p->skip_lit == SKIP_LIT_CLOSED) {
		p->skip_lit = SKIP_LIT_CR;
	} else if (c == '{') {
		p->skip_lit = SKIP_LIT_NUM;
		p->skip_lit_size = 0;
		p->skip_lit_overflow = p->skip_lit_plus = p->skip_lit_prev_ok = false;
	} else {
		p->skip_lit = SKIP_LIT_NONE;
	}
}

static int handle_skip(struct imap_parser *p, unsigned char c, int *result_r)
{
	if (c != '\n') {
		skip_track(p, c);
		return STEP_NEXT;
	}
	bool lit = p->skip_lit == SKIP_LIT_CLOSED || p->skip_lit == SKIP_LIT_CR;
	p->skip_lit = SKIP_LIT_NONE;
	if (lit && p->skip_lit_plus) {
		/* a non-synchronizing literal: its data follows without asking */
		if (p->skip_lit_overflow) {
			*result_r = fatal_error(p, "Literal size too large");
			return STEP_RETURN;
		}
		p->lit_remaining = p->skip_lit_size;
		p->state = STATE_SKIP_DATA;
		return STEP_NEXT;
	}
	/* End of the line (a synchronizing literal ends it too: the client waits). */
	p->state = STATE_DONE;
	*result_r = IMAP_PARSE_ERROR;
	return STEP_RETURN;
}

/* ---- literal data ----------------------------------------------------------------- */

static void write_literal(struct imap_parser *p, const unsigned char *data, size_t size)
{
	while (size > 0 && p->lit_write_errno == 0) {
		ssize_t ret = write(p->lit_fd, data, size);
		if (ret < 0) {
			if (errno != EINTR)
				p->lit_write_errno = errno;
			continue;
		}
		if (ret == 0) {
			p->lit_write_errno = EIO;
			break;
		}
		data += ret;
		size -= (size_t)ret;
	}
}

/* Take up to avail bytes of literal data; returns how many were used. */
static size_t literal_data(struct imap_parser *p, const unsigned char *data, size_t avail)
{
	size_t n = avail;
	if (n > p->lit_remaining)
		n = (size_t)p->lit_remaining;
	if (p->state == STATE_LIT_DATA) {
		size_t done = (size_t)(p->lit.size - p->lit_remaining);
		if (p->lit_dest != NULL)
			memcpy(p->lit_dest + done, data, n);
		else
			write_literal(p, data, n);
	}
	p->lit_remaining -= n;
	return n;
}

static void literal_done(struct imap_parser *p)
{
	if (p->state == STATE_SKIP_DATA) {
		p->state = STATE_SKIP;
		p->skip_lit = SKIP_LIT_NONE;
		return;
	}
	const char *str = p->lit_dest != NULL ? (const char *)p->lit_dest : "";
	/* arg_count was checked when the literal was announced */
	(void)push_arg(p, IMAP_ARG_LITERAL, str, (size_t)p->lit.size);
	struct imap_arg *arg = &p->stack[p->stack_count - 1];
	arg->literal8 = p->lit.literal8;
	arg->literal_fd = p->lit_dest != NULL ? -1 : p->lit_fd;
	p->lit_dest = NULL;
	p->state = STATE_SEP;
}

int imap_parser_literal_accept(struct imap_parser *p)
{
	if (p->state != STATE_LIT_WAIT)
		log_panic("imap_parser_literal_accept() without a literal");
	if (p->lit.size > p->set.max_literal_mem_bytes - p->literal_mem_used)
		return -1;
	p->literal_mem_used += p->lit.size;
	p->lit_dest = arena_alloc(p, (size_t)p->lit.size + 1);
	p->lit_dest[p->lit.size] = '\0';
	p->lit_remaining = p->lit.size;
	p->state = STATE_LIT_DATA;
	return 0;
}

void imap_parser_literal_accept_fd(struct imap_parser *p, int fd)
{
	if (p->state != STATE_LIT_WAIT)
		log_panic("imap_parser_literal_accept_fd() without a literal");
	p->lit_dest = NULL;
	p->lit_fd = fd;
	p->lit_remaining = p->lit.size;
	p->state = STATE_LIT_DATA;
}

void imap_parser_literal_reject(struct imap_parser *p)
{
	if (p->state != STATE_LIT_WAIT)
		log_panic("imap_parser_literal_reject() without a literal");
	p->error = "Literal rejected";
	p->error_fatal = false;
	if (p->lit.sync) {
		p->state = STATE_ERROR_READY;
	} else {
		p->lit_remaining = p->lit.size;
		p->state = STATE_SKIP_DATA;
	}
}

/* ---- main loop -------------------------------------------------------------------- */

static int handle_byte(struct imap_parser *p, unsigned char c, int *result_r)
{
	switch (p->state) {
	case STATE_START: return handle_start(p, c);
	case STATE_TAG: return handle_tag(p, c);
	case STATE_SEP: return handle_sep(p, c, result_r);
	case STATE_ARG: return handle_arg(p, c, result_r);
	case STATE_ATOM: return handle_atom(p, c);
	case STATE_ATOM_BRACKET: return handle_atom_bracket(p, c);
	case STATE_QUOTED: return handle_quoted(p, c);
	case STATE_QUOTED_ESC: return handle_quoted_esc(p, c);
	case STATE_LIT_OPEN: return handle_lit_open(p, c);
	case STATE_LIT_NUM: return handle_lit_num(p, c);
	case STATE_LIT_CLOSE:
	case STATE_LIT_EOL:
	case STATE_LIT_LF: return handle_lit_end(p, c, result_r);
	case STATE_EOL_LF:
		if (c == '\n')
			return end_line(p, result_r);
		parse_error(p, "CR without LF");
		return STEP_AGAIN;
	case STATE_SKIP: return handle_skip(p, c, result_r);
	default:
		log_panic("imap-parser: byte in state %d", (int)p->state);
	}
}

/* Run the state machine over data; *pos_r is how much was consumed. */
static int parse_data(struct imap_parser *p, const unsigned char *data, size_t len,
		      size_t *pos_r)
{
	size_t pos = 0;
	int result = IMAP_PARSE_MORE;

	for (;;) {
		if (p->state == STATE_LIT_DATA || p->state == STATE_SKIP_DATA) {
			pos += literal_data(p, data + pos, len - pos);
			if (p->lit_remaining > 0)
				break;
			literal_done(p);
			continue;
		}
		if (pos == len)
			break;
		int step = handle_byte(p, data[pos], &result);
		if (step == STEP_AGAIN)
			continue;
		pos++;
		if (step == STEP_RETURN)
			break;
		if (++p->line_bytes > p->set.max_line_bytes) {
			result = fatal_error(p, "Command line too long");
			break;
		}
	}
	*pos_r = pos;
	return result;
}

int imap_parser_read(struct imap_parser *p)
{
	switch (p->state) {
	case STATE_FATAL:
		return IMAP_PARSE_ERROR;
	case STATE_LIT_WAIT:
		log_panic("imap_parser_read() before the literal was accepted or rejected");
	case STATE_ERROR_READY:
		p->state = STATE_DONE;
		return IMAP_PARSE_ERROR;
	case STATE_DONE:
		imap_parser_reset(p);
		break;
	default:
		break;
	}
	if (p->raw_line)
		log_panic("imap_parser_read() during imap_parser_read_line()");

	size_t pos;
	int ret = parse_data(p, buffer_data(p->input), buffer_len(p->input), &pos);
	buffer_consume(p->input, pos);
	return ret;
}

int imap_parser_read_line(struct imap_parser *p, const char **line_r, size_t *len_r)
{
	if (p->state == STATE_FATAL)
		return -1;
	if (!p->raw_line) {
		if (p->state != STATE_START && p->state != STATE_DONE)
			log_panic("imap_parser_read_line() inside a command");
		/* keep the args of the command that reads the line; only the token
		 * buffer (unused once a command is complete) is reused */
		buffer_reset(&p->token);
		p->raw_line = true;
	}
	const unsigned char *data = buffer_data(p->input);
	size_t len = buffer_len(p->input);
	const unsigned char *lf = memchr(data, '\n', len);
	size_t n = lf != NULL ? (size_t)(lf - data) : len;

	if (buffer_len(&p->token) + n > p->set.max_line_bytes) {
		buffer_consume(p->input, len);
		return fatal_error(p, "Line too long");
	}
	(void)buffer_append(&p->token, data, n);
	buffer_consume(p->input, lf != NULL ? n + 1 : n);
	if (lf == NULL)
		return 0;
	size_t line_len = buffer_len(&p->token);
	if (line_len > 0 && buffer_data(&p->token)[line_len - 1] == '\r')
		buffer_truncate(&p->token, --line_len);
	p->raw_line = false;
	if (p->state == STATE_START)
		p->state = STATE_DONE;
	*line_r = buffer_str(&p->token);
	*len_r = line_len;
	return 1;
}
