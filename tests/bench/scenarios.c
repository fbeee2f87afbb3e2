/* imapbench scenarios: login, mixed, fetch-big, append, idle-fleet, load.
 * Every scenario checks what it gets: tagged OK, EXISTS/EXPUNGE counts against a
 * model, FLAGS against the model, message bodies against msggen. */
#include "bench.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the setup stage shared by scenarios: connect, LOGIN, [CREATE], [SELECT],
 * [clear the mailbox], then after_setup() with the connection logged in ---- */
enum {
	S_CONN = 0, S_LOGIN, S_CREATE, S_SELECT, S_CLEAR_STORE, S_CLEAR_EXPUNGE, S_END,
};

struct plan {
	bool create, select, clear;
	void (*after)(struct conn *c);
};

static void fail(struct conn *c, const char *fmt, const char *detail)
{
	bench_error(c, fmt, detail);
	c->dead = true;
	bench_finish(c);
}

static void login(struct conn *c)
{
	conn_cmd(c, K_LOGIN, "LOGIN \"%s\" \"%s\"", opt.user, opt.pass);
}

static void clear_mailbox(struct conn *c)
{
	c->step = S_CLEAR_STORE;
	conn_cmd(c, K_SETUP, "STORE 1:* +FLAGS.SILENT (\\Deleted)");
}

/* Returns true when the event was consumed by the setup stage. */
static bool setup_event(struct conn *c, const struct plan *p, enum bench_ev ev,
			const char *data, size_t len)
{
	if (c->step >= S_END)
		return false;
	uint32_t n;
	if (ev == EV_UNTAGGED) {
		if (resp_untagged_num(data, len, "EXISTS", &n))
			c->n_exists = n;
		return true;
	}
	if (ev == EV_EOF) {
		fail(c, "connection lost during setup%s", "");
		return true;
	}
	if (ev == EV_GREETING) {
		c->step = S_LOGIN;
		login(c);
		return true;
	}
	if (ev != EV_TAGGED)
		return true;
	if (!c->tagged_ok && c->step != S_CREATE) {
		fail(c, "setup command failed: %.120s", data);
		return true;
	}
	switch (c->step) {
	case S_LOGIN:
		if (p->create) {
			c->step = S_CREATE;
			conn_cmd(c, K_SETUP, "CREATE %s", c->mailbox);
			return true;
		}
		/* fall through */
	case S_CREATE:
		if (p->select) {
			c->step = S_SELECT;
			c->n_exists = 0;
			conn_cmd(c, K_SELECT, "SELECT %s", c->mailbox);
			return true;
		}
		break;
	case S_SELECT:
		if (p->clear && c->n_exists > 0) {
			clear_mailbox(c);
			return true;
		}
		break;
	case S_CLEAR_STORE:
		c->step = S_CLEAR_EXPUNGE;
		conn_cmd(c, K_SETUP, "EXPUNGE");
		return true;
	case S_CLEAR_EXPUNGE:
		c->n_exists = 0;
		break;
	}
	c->step = S_END;
	conn_ramp_release(c);
	p->after(c);
	return true;
}

static bool parse_appenduid(const char *data, size_t len, uint32_t *uid_r)
{
	const char *p = resp_find(data, len, "[APPENDUID ");
	if (p == NULL)
		return false;
	char *end;
	strtoul(p + 11, &end, 10);
	if (*end != ' ')
		return false;
	*uid_r = (uint32_t)strtoul(end + 1, &end, 10);
	return *end == ']';
}

static size_t first_line_len(const char *data, size_t len)
{
	const char *nl = memchr(data, '\n', len);
	return nl == NULL ? len : (size_t)(nl - data);
}

/* The UID item of a FETCH answer: on the first line, or after a literal. */
static bool fetch_uid(const char *data, size_t len, uint32_t *uid_r)
{
	size_t l1 = first_line_len(data, len);
	if (resp_find_num(data, l1, "UID ", uid_r))
		return true;
	const char *lit;
	size_t litlen;
	if (!resp_literal(data, len, "BODY[] ", &lit, &litlen))
		return false;
	const char *tail = lit + litlen;
	return resp_find_num(tail, len - (size_t)(tail - data), "UID ", uid_r);
}

static unsigned parse_flags(const char *data, size_t len, bool *ok_r)
{
	const char *p = resp_find(data, first_line_len(data, len), "FLAGS (");
	*ok_r = p != NULL;
	if (p == NULL)
		return 0;
	const char *end = memchr(p, ')', len - (size_t)(p - data));
	size_t fl = end == NULL ? 0 : (size_t)(end - p);
	unsigned f = 0;
	if (memmem(p, fl, "\\Seen", 5) != NULL)
		f |= MF_SEEN;
	if (memmem(p, fl, "\\Flagged", 8) != NULL)
		f |= MF_FLAGGED;
	return f;
}

static bool check_body(struct conn *c, const char *data, size_t len, uint32_t *id_r)
{
	const char *lit, *why;
	size_t litlen;
	if (!resp_literal(data, len, "BODY[] ", &lit, &litlen)) {
		bench_error(c, "FETCH without a BODY[] literal: %.100s", data);
		return false;
	}
	if (msggen_check(lit, litlen, id_r, &why) < 0) {
		bench_error(c, "FETCH BODY[] (%zu bytes) is wrong: %s", litlen, why);
		return false;
	}
	return true;
}

/* ---- session end: LOGOUT, wait for the server to close, then again or stop ---- */
static void session_logout(struct conn *c, int step)
{
	c->step = step;
	conn_logout(c);
}

static void session_eof(struct conn *c, void (*again)(struct conn *c))
{
	if (c->dead || c->done)
		return;
	if (!c->waiting_eof) {
		c->dead = true;
		bench_finish(c);
		return;
	}
	bench_sample(K_SESSION, now_us() - c->t_conn);
	bench_session_done();
	if (bench_running())
		again(c);
	else
		bench_finish(c);
}

static void on_logout_tagged(struct conn *c)
{
	if (!c->tagged_ok) {
		fail(c, "LOGOUT failed%s", "");
		return;
	}
	c->waiting_eof = true;
}

/* ===================================== login ===================================== */
enum { L_GREET = 100, L_LOGIN, L_LOGOUT };

static void login_start(struct conn *c)
{
	c->step = L_GREET;
	conn_connect(c);
}

static void login_event(struct conn *c, enum bench_ev ev, const char *data, size_t len)
{
	(void)len;
	if (ev == EV_EOF) {
		session_eof(c, login_start);
		return;
	}
	if (ev == EV_GREETING) {
		c->step = L_LOGIN;
		login(c);
	} else if (ev == EV_TAGGED && c->step == L_LOGIN) {
		if (!c->tagged_ok) {
			fail(c, "LOGIN failed: %.120s", data);
			return;
		}
		conn_ramp_release(c);
		session_logout(c, L_LOGOUT);
	} else if (ev == EV_TAGGED && c->step == L_LOGOUT) {
		on_logout_tagged(c);
	}
}

/* ===================================== mixed ===================================== */
enum {
	M_LOGIN = 200, M_SELECT, M_FFLAGS, M_FBODY, M_STORE, M_APPEND, M_DEL, M_EXPUNGE,
	M_IDLE, M_DONE, M_LOGOUT, M_SETUP_APPEND,
};

static void model_add(struct conn *c, uint32_t uid, uint32_t gen, unsigned flags)
{
	if (c->n_msgs == c->cap_msgs) {
		c->cap_msgs = c->cap_msgs ? c->cap_msgs * 2 : 64;
		c->msgs = realloc(c->msgs, c->cap_msgs * sizeof(*c->msgs));
		if (c->msgs == NULL)
			abort();
	}
	c->msgs[c->n_msgs++] = (struct model_msg){ uid, gen, flags };
}

static struct model_msg *model_find(struct conn *c, uint32_t uid)
{
	size_t lo = 0, hi = c->n_msgs;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (c->msgs[mid].uid == uid)
			return &c->msgs[mid];
		if (c->msgs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static void mixed_append(struct conn *c, int step)
{
	uint32_t gen = ((uint32_t)c->id << 20) | (c->next_gen++ & 0xfffff);
	size_t size = msggen_pick_size(&c->rng, opt.max_size);
	msggen_generate(opt.seed, gen, size, &c->mb);
	c->step = step;
	c->want_uids[0] = gen;
	conn_append(c, c->mailbox, gen % 3 == 0 ? "" : "\\Seen", c->mb.data, c->mb.len);
}

static void mixed_after_setup(struct conn *c)
{
	c->n_msgs = 0;
	c->count = 0;
	mixed_append(c, M_SETUP_APPEND);
}

static const struct plan mixed_plan = { true, true, true, mixed_after_setup };

static void mixed_setup(struct conn *c)
{
	snprintf(c->mailbox, sizeof(c->mailbox), "%s-%d", opt.prefix, c->id);
	c->step = S_CONN;
	conn_connect(c);
}

static void mixed_start(struct conn *c)
{
	c->step = M_LOGIN - 1;
	c->waiting_eof = false;
	conn_connect(c);
}

static bool on_append_ok(struct conn *c, const char *data, size_t len, unsigned flags)
{
	uint32_t uid;
	if (!c->tagged_ok || !parse_appenduid(data, len, &uid)) {
		fail(c, "APPEND: no OK [APPENDUID]: %.120s", data);
		return false;
	}
	if (c->n_msgs > 0 && uid <= c->msgs[c->n_msgs - 1].uid) {
		fail(c, "APPENDUID not above the previous UIDs: %.120s", data);
		return false;
	}
	model_add(c, uid, c->want_uids[0], flags);
	return true;
}

static void mixed_untagged(struct conn *c, const char *data, size_t len)
{
	uint32_t n, uid;
	bool ok;
	if (c->step == M_SELECT && resp_untagged_num(data, len, "EXISTS", &n)) {
		c->n_exists = n;
	} else if (c->step == M_EXPUNGE && resp_untagged_num(data, len, "EXPUNGE", &n)) {
		if (n != 1)
			bench_error(c, "EXPUNGE of seq %u, expected 1", n);
		c->seen_n++;
	} else if (resp_untagged_num(data, len, "FETCH", &n)) {
		if (!fetch_uid(data, len, &uid)) {
			if (c->step == M_FFLAGS || c->step == M_FBODY)
				bench_error(c, "FETCH without UID: %.100s", data);
			return;
		}
		struct model_msg *m = model_find(c, uid);
		if (m == NULL) {
			bench_error(c, "FETCH of UID %u not in the mailbox", uid);
			return;
		}
		if (c->step == M_FFLAGS || c->step == M_STORE) {
			unsigned f = parse_flags(data, len, &ok);
			if (!ok || f != m->flags)
				bench_error(c, "UID %u FLAGS %s, expected %#x: %.100s", uid,
					    ok ? "differ" : "missing", m->flags, data);
			c->seen_n++;
		} else if (c->step == M_FBODY) {
			uint32_t id;
			if (check_body(c, data, len, &id) && id != m->gen)
				bench_error(c, "UID %u has message %u, expected %u", uid, id, m->gen);
			c->seen_n++;
		}
	}
}

static void mixed_fetch_bodies(struct conn *c)
{
	char set[128];
	size_t off = 0;
	unsigned k = (unsigned)opt.fetch_bodies;
	if (k > c->n_msgs)
		k = (unsigned)c->n_msgs;
	if (k > 8)
		k = 8;
	for (unsigned i = 0; i < k; i++) {
		uint32_t uid = c->msgs[msggen_rand(&c->rng) % c->n_msgs].uid;
		off += (size_t)snprintf(set + off, sizeof(set) - off, "%s%u", i ? "," : "", uid);
	}
	c->step = M_FBODY;
	c->seen_n = 0;
	c->expect_n = k;
	/* duplicates in the set are answered once */
	conn_cmd(c, K_FETCH_BODY, "UID FETCH %s (BODY.PEEK[])", set);
}

static void mixed_store(struct conn *c)
{
	struct model_msg *m = &c->msgs[msggen_rand(&c->rng) % c->n_msgs];
	c->step = M_STORE;
	c->seen_n = 0;
	if (m->flags & MF_FLAGGED) {
		m->flags &= ~MF_FLAGGED;
		conn_cmd(c, K_STORE, "UID STORE %u -FLAGS (\\Flagged)", m->uid);
	} else {
		m->flags |= MF_FLAGGED | MF_SEEN;
		conn_cmd(c, K_STORE, "UID STORE %u +FLAGS (\\Flagged \\Seen)", m->uid);
	}
}

static void mixed_tagged(struct conn *c, const char *data, size_t len)
{
	if (!c->tagged_ok && c->step != M_LOGOUT) {
		fail(c, "command failed: %.120s", data);
		return;
	}
	switch (c->step) {
	case M_SETUP_APPEND:
		if (!on_append_ok(c, data, len, c->want_uids[0] % 3 == 0 ? 0 : MF_SEEN))
			return;
		if (++c->count < opt.msgs) {
			mixed_append(c, M_SETUP_APPEND);
		} else {
			c->step = M_LOGOUT;
			conn_logout(c);
		}
		return;
	case M_LOGIN:
		c->step = M_SELECT;
		c->n_exists = (uint32_t)-1;
		conn_cmd(c, K_SELECT, "SELECT %s", c->mailbox);
		return;
	case M_SELECT:
		if (c->n_exists != c->n_msgs) {
			fail(c, "SELECT: EXISTS differs from the model%s", "");
			return;
		}
		c->step = M_FFLAGS;
		c->seen_n = 0;
		conn_cmd(c, K_FETCH_FLAGS, "UID FETCH 1:* (FLAGS)");
		return;
	case M_FFLAGS:
		if (c->seen_n != c->n_msgs)
			bench_error(c, "FETCH 1:* FLAGS: %u answers for %zu messages", c->seen_n,
				    c->n_msgs);
		mixed_fetch_bodies(c);
		return;
	case M_FBODY:
		if (c->seen_n == 0 || c->seen_n > c->expect_n)
			bench_error(c, "FETCH BODY[]: %u answers for %u UIDs", c->seen_n,
				    c->expect_n);
		mixed_store(c);
		return;
	case M_STORE:
		if (c->seen_n != 1)
			bench_error(c, "STORE: %u FETCH answers, expected 1", c->seen_n);
		mixed_append(c, M_APPEND);
		return;
	case M_APPEND:
		if (!on_append_ok(c, data, len, c->want_uids[0] % 3 == 0 ? 0 : MF_SEEN))
			return;
		c->step = M_DEL;
		conn_cmd(c, K_STORE, "UID STORE %u +FLAGS.SILENT (\\Deleted)", c->msgs[0].uid);
		return;
	case M_DEL:
		c->step = M_EXPUNGE;
		c->seen_n = 0;
		conn_cmd(c, K_EXPUNGE, "EXPUNGE");
		return;
	case M_EXPUNGE:
		if (c->seen_n != 1)
			bench_error(c, "EXPUNGE: %u answers, expected 1", c->seen_n);
		memmove(c->msgs, c->msgs + 1, (c->n_msgs - 1) * sizeof(*c->msgs));
		c->n_msgs--;
		c->step = M_IDLE;
		conn_cmd(c, K_IDLE, "IDLE");
		return;
	case M_DONE:
		session_logout(c, M_LOGOUT);
		return;
	case M_LOGOUT:
		on_logout_tagged(c);
		return;
	}
}

static void mixed_event(struct conn *c, enum bench_ev ev, const char *data, size_t len)
{
	if (setup_event(c, &mixed_plan, ev, data, len))
		return;
	switch (ev) {
	case EV_GREETING:
		c->step = M_LOGIN;
		c->t_sent = now_us();
		login(c);
		break;
	case EV_UNTAGGED:
		mixed_untagged(c, data, len);
		break;
	case EV_CONT:
		if (c->step == M_IDLE) {
			bench_sample(K_IDLE, now_us() - c->t_sent);
			conn_timer(c, (unsigned)opt.idle_ms);
		}
		break;
	case EV_TIMER:
		if (c->step == M_IDLE) {
			c->step = M_DONE;
			c->kind = K_DONE;
			c->t_sent = now_us();
			conn_raw(c, "DONE\r\n");
		}
		break;
	case EV_TAGGED:
		mixed_tagged(c, data, len);
		break;
	case EV_EOF:
		if (c->iter == 0) {
			/* end of the setup session */
			if (!c->waiting_eof) {
				c->dead = true;
				bench_finish(c);
				return;
			}
			c->iter = 1;
			c->waiting_eof = false;
			bench_setup_done(c);
			return;
		}
		session_eof(c, mixed_start);
		break;
	}
}

/* =================================== fetch-big =================================== */
enum { F_ALL = 300, F_BODY, F_LOGOUT };

static void big_after_setup(struct conn *c)
{
	if (c->n_exists == 0) {
		fail(c, "fetch-big: mailbox %s is empty", c->mailbox);
		return;
	}
	bench_setup_done(c);
}

static const struct plan big_plan = { false, true, false, big_after_setup };

static void big_setup(struct conn *c)
{
	snprintf(c->mailbox, sizeof(c->mailbox), "%s", opt.mailbox ? opt.mailbox : "bigbox");
	c->step = S_CONN;
	conn_connect(c);
}

static void big_fetch_all(struct conn *c)
{
	c->step = F_ALL;
	c->seen_n = 0;
	conn_cmd(c, c->iter == 0 ? K_FETCH_ALL_COLD : K_FETCH_ALL,
		 "FETCH 1:* (FLAGS ENVELOPE BODYSTRUCTURE)");
}

static void big_untagged(struct conn *c, const char *data, size_t len)
{
	uint32_t n;
	if (!resp_untagged_num(data, len, "FETCH", &n))
		return;
	if (c->step == F_ALL) {
		if (resp_find(data, len, "ENVELOPE (") == NULL ||
		    resp_find(data, len, "BODYSTRUCTURE (") == NULL ||
		    resp_find(data, len, "FLAGS (") == NULL)
			bench_error(c, "FETCH %u lacks ENVELOPE/BODYSTRUCTURE/FLAGS: %.100s",
				    n, data);
		c->seen_n++;
	} else if (c->step == F_BODY) {
		(void)check_body(c, data, len, NULL);
		c->seen_n++;
	}
}

static void big_tagged(struct conn *c, const char *data)
{
	if (!c->tagged_ok && c->step != F_LOGOUT) {
		fail(c, "command failed: %.120s", data);
		return;
	}
	if (c->step == F_ALL) {
		if (c->seen_n != c->n_exists)
			bench_error(c, "FETCH 1:*: %u answers for %u messages", c->seen_n,
				    c->n_exists);
		c->iter++;
		char set[128];
		size_t off = 0;
		for (int i = 0; i < opt.fetch_bodies && i < 8; i++)
			off += (size_t)snprintf(set + off, sizeof(set) - off, "%s%u", i ? "," : "",
					(unsigned)(msggen_rand(&c->rng) % c->n_exists) + 1);
		c->step = F_BODY;
		c->seen_n = 0;
		conn_cmd(c, K_FETCH_BODY, "FETCH %s (BODY.PEEK[])", set);
	} else if (c->step == F_BODY) {
		bench_session_done();
		if (bench_running())
			big_fetch_all(c);
		else
			session_logout(c, F_LOGOUT);
	} else if (c->step == F_LOGOUT) {
		on_logout_tagged(c);
	}
}

static void big_event(struct conn *c, enum bench_ev ev, const char *data, size_t len)
{
	if (setup_event(c, &big_plan, ev, data, len))
		return;
	if (ev == EV_UNTAGGED)
		big_untagged(c, data, len);
	else if (ev == EV_TAGGED)
		big_tagged(c, data);
	else if (ev == EV_EOF)
		bench_finish(c);
}

static void big_report(void)
{
	bench_extra("mailbox_messages", conns[0].n_exists);
}

/* ==================================== append ===================================== */
enum { A_APPEND = 400, A_CHECK, A_CLEAR_STORE, A_CLEAR_EXPUNGE, A_LOGOUT };
#define APPEND_POOL 16
static struct msgbuf append_pool[APPEND_POOL];
static double append_bytes;

static void append_after_setup(struct conn *c)
{
	bench_setup_done(c);
}

static const struct plan append_plan = { true, true, true, append_after_setup };

static void append_setup(struct conn *c)
{
	snprintf(c->mailbox, sizeof(c->mailbox), "%s-app-%d", opt.prefix, c->id);
	c->step = S_CONN;
	conn_connect(c);
}

static void append_next(struct conn *c)
{
	if (!bench_running()) {
		session_logout(c, A_LOGOUT);
		return;
	}
	unsigned i = (unsigned)(msggen_rand(&c->rng) % APPEND_POOL);
	struct msgbuf *mb = &append_pool[i];
	if (mb->len == 0) {
		/* 4 KiB .. 1 MiB, log-uniform over the pool */
		size_t size = (size_t)(4096.0 * pow(256.0, i / (double)(APPEND_POOL - 1)));
		msggen_generate(opt.seed, 0x7f000000u + i, size, mb);
	}
	c->step = A_APPEND;
	c->want_uids[1] = i;
	conn_append(c, c->mailbox, "", mb->data, mb->len);
}

static void append_tagged(struct conn *c, const char *data, size_t len)
{
	if (!c->tagged_ok && c->step != A_LOGOUT) {
		fail(c, "command failed: %.120s", data);
		return;
	}
	uint32_t uid;
	switch (c->step) {
	case A_APPEND:
		if (!parse_appenduid(data, len, &uid)) {
			fail(c, "APPEND: no [APPENDUID]: %.120s", data);
			return;
		}
		if (bench_running())
			append_bytes += (double)append_pool[c->want_uids[1]].len;
		c->last_uid = uid;
		if (++c->count % 8 != 0) {
			append_next(c);
			return;
		}
		c->step = A_CHECK;
		c->seen_n = 0;
		conn_cmd(c, K_FETCH_BODY, "UID FETCH %u (BODY.PEEK[])", uid);
		return;
	case A_CHECK:
		if (c->seen_n != 1)
			bench_error(c, "UID FETCH of the appended UID: %u answers", c->seen_n);
		c->step = A_CLEAR_STORE;
		conn_cmd(c, K_STORE, "STORE 1:* +FLAGS.SILENT (\\Deleted)");
		return;
	case A_CLEAR_STORE:
		c->step = A_CLEAR_EXPUNGE;
		conn_cmd(c, K_EXPUNGE, "EXPUNGE");
		return;
	case A_CLEAR_EXPUNGE:
		append_next(c);
		return;
	case A_LOGOUT:
		on_logout_tagged(c);
		return;
	}
}

static void append_event(struct conn *c, enum bench_ev ev, const char *data, size_t len)
{
	uint32_t n;
	if (setup_event(c, &append_plan, ev, data, len))
		return;
	if (ev == EV_UNTAGGED && c->step == A_CHECK && resp_untagged_num(data, len, "FETCH", &n)) {
		uint32_t id;
		if (check_body(c, data, len, &id) && id != 0x7f000000u + c->want_uids[1])
			bench_error(c, "appended message %u came back as %u",
				    0x7f000000u + c->want_uids[1], id);
		c->seen_n++;
	} else if (ev == EV_TAGGED) {
		append_tagged(c, data, len);
	} else if (ev == EV_EOF) {
		bench_finish(c);
	}
}

static void append_report(void)
{
	bench_extra("append_bytes", append_bytes);
}

/* =================================== idle-fleet ================================== */
enum { I_LOGIN = 500, I_SELECT, I_IDLE, I_DONE, I_LOGOUT, D_WAIT, D_APPEND, D_LOGOUT };

static struct {
	int ready, target, delivered;
	uint32_t base, expect;
	uint64_t t_sent, t_ok;
	bool ok_seen, waiting;
	int seen, early, missing;
	int late;                    /* pushes not seen within FLEET_WAIT_MS */
} fleet;

#define FLEET_WAIT_MS 5000

static struct conn *deliverer(void)
{
	return &conns[n_conns - 1];
}

static void fleet_after_setup(struct conn *c)
{
	fleet.base = c->n_exists;
	c->step = D_WAIT;
	bench_setup_done(c);
}

static const struct plan fleet_plan = { true, true, false, fleet_after_setup };

static void fleet_setup(struct conn *c)
{
	snprintf(c->mailbox, sizeof(c->mailbox), "%s", opt.mailbox ? opt.mailbox : "fleet");
	if (c != deliverer()) {
		bench_setup_done(c);
		return;
	}
	c->step = S_CONN;
	conn_connect(c);
}

static void fleet_start(struct conn *c)
{
	if (c == deliverer()) {
		fleet.target = n_conns - 1;
		return;
	}
	c->step = I_LOGIN - 1;
	conn_connect(c);
}

static void fleet_deliver(struct conn *c)
{
	uint32_t id = 0x7e000000u + (uint32_t)fleet.delivered;
	msggen_generate(opt.seed, id, 3000, &c->mb);
	fleet.expect = fleet.base + (uint32_t)fleet.delivered + 1;
	fleet.seen = 0;
	fleet.ok_seen = false;
	fleet.waiting = true;
	fleet.t_sent = now_us();
	c->step = D_APPEND;
	conn_append(c, c->mailbox, "", c->mb.data, c->mb.len);
}

/* Sessions that saw no delivery at all (not even late): IDLE does not work for them
 * (an error, unlike a slow push). */
static void fleet_check_never_pushed(struct conn *d)
{
	int never = 0;
	for (int i = 0; i < n_conns - 1; i++) {
		struct conn *c = &conns[i];
		if (!c->dead && c->step == I_IDLE && c->expect_n <= c->n_exists)
			never++;
	}
	if (never > 0 && fleet.delivered > 0)
		bench_error(d, "%d idle sessions saw none of the %d deliveries", never,
			    fleet.delivered);
}

static void fleet_all_done(void)
{
	struct conn *d = deliverer();
	fleet_check_never_pushed(d);
	bench_stop();
	session_logout(d, D_LOGOUT);
	for (int i = 0; i < n_conns - 1; i++) {
		struct conn *c = &conns[i];
		if (c->done || c->dead || c->step != I_IDLE)
			continue;
		c->step = I_DONE;
		c->kind = K_DONE;
		c->t_sent = now_us();
		conn_raw(c, "DONE\r\n");
	}
}

/* The delivery was seen by every idler (or timed out): next one after the interval. */
static void fleet_delivery_complete(void)
{
	struct conn *d = deliverer();
	d->step = D_WAIT;
	fleet.waiting = false;
	fleet.delivered++;
	if (fleet.delivered >= opt.deliveries) {
		fleet_all_done();
		return;
	}
	conn_timer(d, (unsigned)opt.interval_ms);
}

static void fleet_check_complete(void)
{
	if (fleet.waiting && fleet.ok_seen && fleet.seen >= fleet.target - fleet.missing)
		fleet_delivery_complete();
}

static void deliverer_event(struct conn *c, enum bench_ev ev, const char *data)
{
	if (ev == EV_TIMER && c->step == D_WAIT) {
		fleet_deliver(c);
	} else if (ev == EV_TIMER && c->step == D_APPEND && fleet.waiting) {
		/* The late ones count as pushed now (the wait is a lower bound): left out,
		 * the percentiles would look better the more sessions are late. A late
		 * push is a figure (push_late); no push at all is an error (above). */
		int miss = fleet.target - fleet.missing - fleet.seen;
		uint64_t now = now_us();
		for (int i = 0; i < miss; i++) {
			bench_sample(K_PUSH, now - fleet.t_ok);
			bench_sample(K_PUSH_SENT, now - fleet.t_sent);
		}
		fleet.late += miss;
		fprintf(stderr, "imapbench: delivery %d: %d of %d sessions saw no EXISTS "
			"within %d ms\n", fleet.delivered, miss, fleet.target - fleet.missing,
			FLEET_WAIT_MS);
		fleet_delivery_complete();
	} else if (ev == EV_TAGGED && c->step == D_APPEND) {
		if (!c->tagged_ok) {
			fail(c, "APPEND failed: %.120s", data);
			return;
		}
		fleet.t_ok = now_us();
		fleet.ok_seen = true;
		c->step = D_WAIT;
		if (fleet.seen >= fleet.target) {
			fleet_delivery_complete();
		} else {
			c->step = D_APPEND;
			conn_timer(c, FLEET_WAIT_MS);
		}
	} else if (ev == EV_TAGGED && c->step == D_LOGOUT) {
		on_logout_tagged(c);
	} else if (ev == EV_EOF) {
		bench_finish(c);
	}
}

static void idler_ready(struct conn *c)
{
	conn_ramp_release(c);
	if (++fleet.ready == fleet.target) {
		printf("READY %d idle sessions\n", fleet.ready);
		fflush(stdout);
		conn_timer(deliverer(), (unsigned)opt.settle_s * 1000u);
	}
}

static void idler_untagged(struct conn *c, const char *data, size_t len)
{
	uint32_t n;
	if (!resp_untagged_num(data, len, "EXISTS", &n))
		return;
	if (c->step == I_SELECT) {
		c->n_exists = n;
		return;
	}
	if (c->step == I_IDLE && n > c->expect_n)
		c->expect_n = n;   /* pushed, in time or late */
	if (c->step != I_IDLE || !fleet.waiting || n < fleet.expect || c->seen_n >= fleet.expect)
		return;
	c->seen_n = n;
	uint64_t now = now_us();
	bench_sample(K_PUSH_SENT, now - fleet.t_sent);
	if (fleet.ok_seen) {
		bench_sample(K_PUSH, now - fleet.t_ok);
	} else {
		bench_sample(K_PUSH, 0);
		fleet.early++;
	}
	fleet.seen++;
	fleet_check_complete();
}

static void idler_event(struct conn *c, enum bench_ev ev, const char *data, size_t len)
{
	switch (ev) {
	case EV_GREETING:
		c->step = I_LOGIN;
		login(c);
		return;
	case EV_UNTAGGED:
		idler_untagged(c, data, len);
		return;
	case EV_CONT:
		if (c->step == I_IDLE && !c->in_ramp)
			return;
		bench_sample(K_IDLE, now_us() - c->t_sent);
		idler_ready(c);
		return;
	case EV_EOF:
		if (!c->waiting_eof) {
			fleet.missing++;
			fleet_check_complete();
		}
		bench_finish(c);
		return;
	case EV_TIMER:
		return;
	case EV_TAGGED:
		break;
	}
	if (!c->tagged_ok && c->step != I_LOGOUT) {
		fail(c, "command failed: %.120s", data);
		fleet.target--;
		fleet_check_complete();
		return;
	}
	if (c->step == I_LOGIN) {
		c->step = I_SELECT;
		conn_cmd(c, K_SELECT, "SELECT %s", c->mailbox);
	} else if (c->step == I_SELECT) {
		c->step = I_IDLE;
		c->seen_n = c->expect_n = c->n_exists;
		conn_cmd(c, K_IDLE, "IDLE");
	} else if (c->step == I_DONE) {
		session_logout(c, I_LOGOUT);
	} else if (c->step == I_LOGOUT) {
		on_logout_tagged(c);
	}
}

static void fleet_event(struct conn *c, enum bench_ev ev, const char *data, size_t len)
{
	if (c == deliverer()) {
		if (!setup_event(c, &fleet_plan, ev, data, len))
			deliverer_event(c, ev, data);
		return;
	}
	idler_event(c, ev, data, len);
}

static void fleet_report(void)
{
	bench_extra("idle_sessions", fleet.ready);
	bench_extra("deliveries", fleet.delivered);
	bench_extra("push_before_append_ok", fleet.early);
	bench_extra("push_late", fleet.late);
}

/* ===================================== load ====================================== */
enum { LD_APPEND = 600, LD_LOGOUT };

static void load_next(struct conn *c)
{
	uint32_t id = (uint32_t)c->count;
	if (c->count >= opt.msgs) {
		session_logout(c, LD_LOGOUT);
		return;
	}
	c->count += opt.conns;
	msggen_generate(opt.seed, id, msggen_size_for(opt.seed, id, opt.max_size), &c->mb);
	c->step = LD_APPEND;
	conn_append(c, c->mailbox, msggen_flags(id), c->mb.data, c->mb.len);
}

static void load_after_setup(struct conn *c)
{
	c->count = c->id;
	bench_setup_done(c);
}

static const struct plan load_plan = { true, false, false, load_after_setup };

static void load_setup(struct conn *c)
{
	snprintf(c->mailbox, sizeof(c->mailbox), "%s", opt.mailbox ? opt.mailbox : "bigbox");
	c->step = S_CONN;
	conn_connect(c);
}

static void load_event(struct conn *c, enum bench_ev ev, const char *data, size_t len)
{
	if (setup_event(c, &load_plan, ev, data, len))
		return;
	if (ev == EV_TAGGED && c->step == LD_APPEND) {
		if (!c->tagged_ok) {
			fail(c, "APPEND failed: %.120s", data);
			return;
		}
		bench_session_done();
		load_next(c);
	} else if (ev == EV_TAGGED && c->step == LD_LOGOUT) {
		on_logout_tagged(c);
	} else if (ev == EV_EOF) {
		bench_finish(c);
	}
}

const struct scenario scenarios[] = {
	{ "login", NULL, login_start, login_event, NULL },
	{ "mixed", mixed_setup, mixed_start, mixed_event, NULL },
	{ "fetch-big", big_setup, big_fetch_all, big_event, big_report },
	{ "append", append_setup, append_next, append_event, append_report },
	{ "idle-fleet", fleet_setup, fleet_start, fleet_event, fleet_report },
	{ "load", load_setup, load_next, load_event, NULL },
	{ NULL, NULL, NULL, NULL, NULL },
};
