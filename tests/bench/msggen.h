#ifndef BENCH_MSGGEN_H
#define BENCH_MSGGEN_H
/* Deterministic, self-describing test messages for the benchmarks (imapbench, genmail).
 *
 * A message is a pure function of (seed, id, size): the same triple always gives the
 * same bytes. Every message carries the triple in its header
 *     X-Bench-Gen: SEED.ID.SIZE
 * so a FETCH BODY[] answer can be checked on its own: parse the header, regenerate,
 * compare byte for byte (msggen_check). Line ends are CRLF as IMAP sends them; genmail
 * converts to LF when it writes a maildir, as an MTA would.
 *
 * The MIME mix: text/plain (50%), multipart/alternative text+html (25%),
 * multipart/mixed with a base64 attachment (20%), mixed{alternative, attachment} (5%).
 * The length is close to SIZE (within the header overhead for tiny sizes). */
#include <stddef.h>
#include <stdint.h>

struct msgbuf {
	char *data;
	size_t len, cap;
};

void msgbuf_reset(struct msgbuf *b);
void msgbuf_free(struct msgbuf *b);
void msgbuf_add(struct msgbuf *b, const void *data, size_t len);
void msgbuf_addstr(struct msgbuf *b, const char *s);
void msgbuf_printf(struct msgbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Replaces b's content with the message (CRLF line ends). */
void msggen_generate(uint64_t seed, uint32_t id, size_t size, struct msgbuf *b);

/* A realistic size: most messages are a few KiB, a few are large; never above max. */
size_t msggen_pick_size(uint64_t *rng, size_t max);

/* The size genmail and imapbench's load scenario give message id (same on both). */
size_t msggen_size_for(uint64_t seed, uint32_t id, size_t max);

/* IMAP flags of message id in generated mailboxes (genmail, load): "\\Seen" etc. */
const char *msggen_flags(uint32_t id);

/* Checks a message returned by a server: 0 if it is exactly what its X-Bench-Gen
 * header says, -1 otherwise (*why_r says what). id_r (may be NULL) gets the id. */
int msggen_check(const char *data, size_t len, uint32_t *id_r, const char **why_r);

/* xorshift64* */
uint64_t msggen_rand(uint64_t *state);

#endif
