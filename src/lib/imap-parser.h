#ifndef PYMAP_IMAP_PARSER_H
#define PYMAP_IMAP_PARSER_H
/* Incremental, bounded parser for IMAP command lines (RFC 3501 section 9, with
 * LITERAL+/LITERAL- from RFC 7888 and literal8 from RFC 3516). Owned by lib; called by
 * the imap worker's session (src/imap/), by tests and by tools.
 *
 * The session appends socket data to a struct buffer and calls imap_parser_read();
 * the parser consumes bytes from the front of that buffer as it parses and keeps its
 * state between calls, so a line that arrives in many pieces is scanned once (never
 * re-parsed from the start). Memory is bounded by the settings below whatever the
 * peer sends: the line (without literal data) by max_line_bytes, literal data kept in
 * memory by max_literal_mem_bytes, the argument tree by max_args and max_depth.
 *
 * Grammar accepted (a command is "tag SP args EOL"):
 *   - tag: 1*<ASTRING-CHAR except "+"> (so no "*", "+", "%", "(", ")", "{", '"', "\",
 *     SP, CTL, 8-bit). A missing or invalid tag is a non-fatal error with no tag.
 *   - EOL: CRLF or a bare LF. A CR not followed by LF is an error.
 *   - Separators: one or more SP between arguments; SP after "(" and before ")" and
 *     trailing SP before EOL are tolerated (lenient, like pymap). Two arguments must be
 *     separated: 'a"b"' or '"a"(b)' is an error.
 *   - ATOM: 1*<CHAR except CTL, SP, "(", ")", "{", '"'>. That is wider than RFC 3501's
 *     ATOM-CHAR on purpose, so that one token type covers astrings ("foo]"), flags
 *     ("\Seen"), list patterns ("INBOX.%", "*") and sequence sets ("1:*"); each
 *     command checks the syntax of its own arguments.
 *     Atom-with-brackets rule, always on: inside an atom a "[" opens a section that
 *     may contain SP, "(", ")", '"' and any other printable ASCII up to the first "]",
 *     after which the atom goes on. This keeps fetch attributes such as
 *     BODY.PEEK[HEADER.FIELDS (DATE FROM)]<0.100> one ATOM. Consequence (documented
 *     choice): an unquoted astring with an unbalanced "[" (a mailbox named "a[b" sent
 *     as an atom) is a syntax error; such names must be sent quoted or as literals.
 *   - NIL: the atom "NIL" in any case becomes IMAP_ARG_NIL (str keeps the text sent).
 *   - STRING: '"' ... '"' with only \" and \\ escapes; CR, LF and NUL are errors.
 *     Bytes >= 0x80 are an error (RFC 3501 quoted = 7-bit TEXT-CHAR) unless
 *     settings.allow_8bit_quoted is set (UTF8=ACCEPT, RFC 6855/9051).
 *   - LIST: "(" ... ")" nested up to max_depth. "[" and "]" are never lists.
 *   - LITERAL: "{n}", "{n+}" (non-synchronizing), "~{n}", "~{n+}" (literal8), the last
 *     thing before EOL; n is a 32-bit number for {..} and 63-bit for ~{..}. The n data
 *     bytes follow the EOL, then the command line continues.
 *   - NUL and other CTLs outside literals are errors; 8-bit outside quoted strings and
 *     literals is an error.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap-arg.h"

struct buffer;

/* Return codes of imap_parser_read(). */
#define IMAP_PARSE_ERROR   (-1) /* see imap_parser_get_error() */
#define IMAP_PARSE_MORE    0    /* need more input: append to the buffer, call again */
#define IMAP_PARSE_OK      1    /* a complete command line was parsed and consumed */
#define IMAP_PARSE_LITERAL 2    /* a literal was announced: accept or reject it */

#define IMAP_PARSER_DEFAULT_MAX_LINE_BYTES (64 * 1024)
#define IMAP_PARSER_DEFAULT_MAX_LITERAL_MEM_BYTES (8 * 1024 * 1024)
#define IMAP_PARSER_DEFAULT_MAX_DEPTH 20
#define IMAP_PARSER_DEFAULT_MAX_ARGS 10000

/* A zero field means its default. */
struct imap_parser_settings {
	/* Bytes of one command excluding literal data (all parts of a line that is
	 * continued after literals count together). Exceeding it is a fatal error: the
	 * line can't be resynchronised (it may end in a literal we never saw). Also the
	 * limit of imap_parser_read_line(). */
	size_t max_line_bytes;
	/* Absolute cap on literal bytes kept in memory per command (sum of all literals
	 * accepted with imap_parser_literal_accept()). The caller applies its own smaller
	 * per-command limits by choosing accept, accept_fd or reject. */
	uint64_t max_literal_mem_bytes;
	unsigned int max_depth;  /* list nesting; "((a))" is depth 2 */
	unsigned int max_args;   /* all args of a command, nested ones included, no EOLs */
	bool allow_8bit_quoted;  /* accept bytes >= 0x80 in quoted strings */
};

struct imap_parser;

/* The parser reads from and consumes *input, which the caller keeps filling; the
 * buffer must outlive the parser. settings may be NULL for the defaults. */
struct imap_parser *imap_parser_create(struct buffer *input,
				       const struct imap_parser_settings *settings);
void imap_parser_destroy(struct imap_parser **parser);

/* Parse (more of) one command.
 *   IMAP_PARSE_OK (1): the whole line up to and including its EOL is consumed from
 *     the buffer (pipelined data after it stays there). Tag and args are valid until
 *     the next imap_parser_read()/imap_parser_read_line()/imap_parser_reset().
 *   IMAP_PARSE_MORE (0): everything available was consumed into the parser's state;
 *     call again when more data arrived.
 *   IMAP_PARSE_LITERAL (2): "{n}", "{n+}", "~{n}" or "~{n+}" and its EOL were read.
 *     imap_parser_get_literal() describes it and imap_parser_get_partial_args() shows
 *     the complete top-level args so far (e.g. args[0] = "APPEND"). The caller must
 *     call exactly one of imap_parser_literal_accept(), _accept_fd() or _reject()
 *     before reading again. For a synchronizing literal the caller itself sends
 *     "+ ..." after accepting (or the tagged error after rejecting).
 *   IMAP_PARSE_ERROR (-1): imap_parser_get_error() gives a message and whether it is
 *     fatal. Fatal (line too long, unparsable literal size of a non-synchronizing
 *     literal, ...): send "* BYE" and close; the parser is unusable. Non-fatal: the
 *     rest of the bad line has already been skipped and consumed (including the data
 *     of non-synchronizing literals announced at the end of its parts; a synchronizing
 *     literal ends the line because the client waits for "+"), so the next call
 *     parses the next command. imap_parser_get_tag() still gives the tag when it was
 *     valid: answer "<tag> BAD ..." (or "* BAD ..." when NULL). */
int imap_parser_read(struct imap_parser *parser);

/* Tag of the command being parsed or just parsed (NUL-terminated), or NULL when no
 * valid tag has been read yet. Same validity as the args. */
const char *imap_parser_get_tag(const struct imap_parser *parser);

/* After IMAP_PARSE_OK: the top-level args after the tag (args[0] is normally the
 * command name atom), terminated by IMAP_ARG_EOL. count_r (may be NULL) excludes the
 * EOL. */
const struct imap_arg *imap_parser_get_args(const struct imap_parser *parser,
					    unsigned int *count_r);

/* After IMAP_PARSE_LITERAL: the completed top-level args so far (lists still open are
 * not included), terminated by IMAP_ARG_EOL; valid until the next parser call. */
const struct imap_arg *imap_parser_get_partial_args(struct imap_parser *parser,
						    unsigned int *count_r);

struct imap_parser_literal {
	uint64_t size;     /* announced data bytes */
	bool sync;         /* {n}: the client waits for "+" before sending the data */
	bool literal8;     /* ~{n}: may contain NUL, binary content */
	unsigned int depth;/* list nesting of the literal: 0 = top-level argument */
};
/* After IMAP_PARSE_LITERAL: the announced literal. */
const struct imap_parser_literal *imap_parser_get_literal(const struct imap_parser *parser);

/* Keep the literal in memory (arg->str/len). Returns 0, or -1 when its size would take
 * the command's in-memory literal bytes over max_literal_mem_bytes: nothing changed,
 * reject it or accept it to an fd instead. */
int imap_parser_literal_accept(struct imap_parser *parser);
/* Write the literal's bytes to fd as they arrive (blocking write(2) semantics expected,
 * e.g. a spool file); the arg gets literal_fd = fd, str = "" and len = size. The fd is
 * not closed. A write error does not stop parsing: the data is still drained and the
 * command then fails with a non-fatal IMAP_PARSE_ERROR ("Failed to write literal"). */
void imap_parser_literal_accept_fd(struct imap_parser *parser, int fd);
/* Refuse the literal. Synchronizing: the client sends no data, the line has ended; the
 * next imap_parser_read() returns a non-fatal IMAP_PARSE_ERROR ("Literal rejected").
 * Non-synchronizing: the next reads drain the n bytes and the rest of the command
 * without buffering them, then return the same non-fatal error. */
void imap_parser_literal_reject(struct imap_parser *parser);

/* After IMAP_PARSE_ERROR: a message for logging or a BAD/BYE text (no CR/LF), and in
 * *fatal_r (may be NULL) whether the connection must be closed. */
const char *imap_parser_get_error(const struct imap_parser *parser, bool *fatal_r);

/* Read one raw line (IDLE's "DONE", AUTHENTICATE responses) from the same buffer:
 * 1 with *line_r (NUL-terminated, without CR/LF, valid until the next parser call) and
 * *len_r; 0 = need more; -1 = longer than max_line_bytes (fatal, see get_error).
 * Only after a command was returned complete (or before any), not after
 * IMAP_PARSE_MORE/LITERAL of a partial command. The tag and args of the last command
 * stay valid (IDLE or AUTHENTICATE may still use them) until imap_parser_read() or
 * imap_parser_reset(). */
int imap_parser_read_line(struct imap_parser *parser, const char **line_r, size_t *len_r);

/* Forget the current command (args, tag, partial state) but not the input buffer.
 * imap_parser_read() does this itself before starting a new command. */
void imap_parser_reset(struct imap_parser *parser);

#endif
