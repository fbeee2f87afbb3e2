#ifndef BENCH_BENCH_H
#define BENCH_BENCH_H
/* imapbench's core (imapbench.c) and its scenarios (scenarios.c).
 *
 * The core owns connections, the epoll loop, timers, response framing (lines and
 * literals), tags, latency samples and the report. A scenario is a state machine per
 * connection driven by events: the greeting, an untagged response, a continuation,
 * the tagged completion of the command in flight, a timer, end of stream. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msggen.h"

enum cmd_kind {
	K_CONNECT, K_LOGIN, K_SELECT, K_FETCH_FLAGS, K_FETCH_BODY, K_FETCH_ALL,
	K_FETCH_ALL_COLD, K_STORE, K_APPEND, K_EXPUNGE, K_IDLE, K_DONE, K_LOGOUT,
	K_PUSH, K_PUSH_SENT, K_SESSION, K_SETUP, K_COUNT
};

enum bench_ev { EV_GREETING, EV_UNTAGGED, EV_CONT, EV_TAGGED, EV_TIMER, EV_EOF };

/* Per-connection model of a mailbox (mixed): uids ascending. */
struct model_msg {
	uint32_t uid, gen;
	unsigned flags;      /* MF_* */
};
#define MF_SEEN 1u
#define MF_FLAGGED 2u

struct conn {
	int id, fd;
	bool connecting, open, dead, done, in_ramp, waiting_eof, setup_done;
	unsigned tagn, conn_gen;
	enum cmd_kind kind;          /* of the command in flight */
	bool cmd_busy, tagged_ok;
	uint64_t t_sent, t_conn;
	/* input */
	char *rbuf;
	size_t rlen, rcap;
	char *resp;                  /* the response being framed: lines + literals */
	size_t resplen, respcap, lit_left;
	/* output */
	char *wbuf;
	size_t wlen, wpos, wcap;
	const char *lit;             /* APPEND literal waiting for "+" */
	size_t litlen;
	/* timer */
	unsigned timer_gen;
	/* scenario state */
	int step, count, iter;
	uint32_t n_exists, expect_n, seen_n, uidvalidity, last_uid;
	struct model_msg *msgs;
	size_t n_msgs, cap_msgs;
	uint32_t next_gen;
	uint32_t want_uids[8];
	unsigned n_want;
	uint64_t rng;
	struct msgbuf mb;
	char mailbox[64];
};

struct bench_opts {
	const char *host, *user, *pass, *scenario, *mailbox, *prefix;
	int port, conns, ramp, msgs, deliveries, interval_ms, idle_ms, settle_s, fetch_bodies;
	double duration;
	long count;
	size_t max_size;
	uint64_t seed;
	bool quiet;
};

struct scenario {
	const char *name;
	void (*setup)(struct conn *c);       /* NULL: no setup stage */
	void (*start)(struct conn *c);       /* a timed session */
	void (*event)(struct conn *c, enum bench_ev ev, const char *data, size_t len);
	void (*report)(void);                /* extra RESULT fields, may be NULL */
};

extern struct bench_opts opt;
extern const struct scenario scenarios[];
extern struct conn *conns;
extern int n_conns;

uint64_t now_us(void);
bool bench_running(void);      /* timed phase and not past the deadline/count */
void bench_session_done(void); /* counts toward -n */
void bench_setup_done(struct conn *c);
void bench_error(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void bench_sample(enum cmd_kind k, uint64_t us);
void bench_extra(const char *key, double value);
void bench_finish(struct conn *c);   /* the connection has nothing more to do */
void bench_stop(void);               /* end the timed phase now */

void conn_connect(struct conn *c);
void conn_close(struct conn *c);
void conn_cmd(struct conn *c, enum cmd_kind k, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void conn_append(struct conn *c, const char *mailbox, const char *flags,
		 const char *msg, size_t len);
void conn_raw(struct conn *c, const char *text);
void conn_timer(struct conn *c, unsigned ms);
void conn_ramp_release(struct conn *c);
void conn_logout(struct conn *c);

/* Response helpers: data/len is one whole response (literals inline). */
bool resp_untagged_num(const char *data, size_t len, const char *word, uint32_t *n_r);
bool resp_find_num(const char *data, size_t len, const char *key, uint32_t *n_r);
bool resp_literal(const char *data, size_t len, const char *key, const char **lit_r,
		  size_t *litlen_r);
const char *resp_find(const char *data, size_t len, const char *key);

#endif
