/* imapbench: an epoll-driven IMAP load generator that checks every answer.
 * Core: options, connections, framing, timers, samples, report. Scenarios: scenarios.c.
 * Usage: imapbench --help */
#include "bench.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct bench_opts opt = {
	.host = "127.0.0.1", .user = "demouser", .pass = "demopass", .scenario = "login",
	.prefix = "bench", .port = 1143, .conns = 1, .ramp = 200, .msgs = 30,
	.deliveries = 20, .interval_ms = 100, .idle_ms = 50, .settle_s = 2,
	.fetch_bodies = 3, .duration = 10, .max_size = 128 * 1024, .seed = 1,
};
struct conn *conns;
int n_conns;

static const char *const kind_names[K_COUNT] = {
	"connect", "LOGIN", "SELECT", "FETCH-flags", "FETCH-body", "FETCH-all",
	"FETCH-all-cold", "STORE", "APPEND", "EXPUNGE", "IDLE", "DONE", "LOGOUT",
	"push", "push-from-send", "session", "setup",
};

struct samples {
	uint32_t *v;
	size_t n, cap;
	uint64_t errors;
};

static struct {
	const struct scenario *sc;
	int epfd;
	bool timed, stopping;
	uint64_t t_start, t_stop, t_end;
	long sessions;
	uint64_t errors;
	int setup_left, active, ramp_busy;
	struct samples s[K_COUNT];
	char extra[2048];
	/* ramp queue */
	int *rq;
	int rq_head, rq_tail;
} g;

/* ---- timers: a binary heap of (when, conn, gen) ---- */
struct timer { uint64_t when; int conn; unsigned gen; };
static struct timer *heap;
static size_t heap_n, heap_cap;

static void heap_push(struct timer t)
{
	if (heap_n == heap_cap) {
		heap_cap = heap_cap ? heap_cap * 2 : 1024;
		heap = realloc(heap, heap_cap * sizeof(*heap));
		if (heap == NULL)
			abort();
	}
	size_t i = heap_n++;
	while (i > 0 && heap[(i - 1) / 2].when > t.when) {
		heap[i] = heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	heap[i] = t;
}

static struct timer heap_pop(void)
{
	struct timer top = heap[0], last = heap[--heap_n];
	size_t i = 0;
	for (;;) {
		size_t l = 2 * i + 1, m = i;
		if (l >= heap_n)
			break;
		m = l;
		if (l + 1 < heap_n && heap[l + 1].when < heap[l].when)
			m = l + 1;
		if (heap[m].when >= last.when)
			break;
		heap[i] = heap[m];
		i = m;
	}
	if (heap_n > 0)
		heap[i] = last;
	return top;
}

uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (p == NULL && n > 0)
		abort();
	return p;
}

/* ---- bookkeeping ---- */
bool bench_running(void)
{
	return g.timed && !g.stopping;
}

void bench_stop(void)
{
	if (g.timed && !g.stopping) {
		g.stopping = true;
		g.t_stop = now_us();
	}
}

void bench_session_done(void)
{
	if (!bench_running())
		return;
	g.sessions++;
	if (opt.count > 0 && g.sessions >= opt.count)
		bench_stop();
}

void bench_sample(enum cmd_kind k, uint64_t us)
{
	struct samples *s = &g.s[k];
	if (k != K_SETUP && k != K_FETCH_ALL_COLD && !bench_running())
		return;
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 4096;
		s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	s->v[s->n++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

void bench_extra(const char *key, double value)
{
	size_t l = strlen(g.extra);
	snprintf(g.extra + l, sizeof(g.extra) - l, ",\"%s\":%.6g", key, value);
}

void bench_error(struct conn *c, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	g.errors++;
	g.s[c->kind].errors++;
	if (g.errors <= 20)
		fprintf(stderr, "imapbench: conn %d: ERROR: %s\n", c->id, msg);
	else if (g.errors == 21)
		fprintf(stderr, "imapbench: (further errors not shown)\n");
}

void bench_finish(struct conn *c)
{
	if (c->done)
		return;
	c->done = true;
	if (c->open)
		conn_close(c);
	g.active--;
	if (!c->setup_done)
		bench_setup_done(c);
}

static void start_timed(void)
{
	g.timed = true;
	g.t_start = now_us();
	if (!opt.quiet)
		fprintf(stderr, "imapbench: timed phase starts (%d connections)\n", n_conns);
	for (int i = 0; i < n_conns; i++)
		if (!conns[i].done && !conns[i].dead)
			g.sc->start(&conns[i]);
}

void bench_setup_done(struct conn *c)
{
	if (c->setup_done)
		return;
	c->setup_done = true;
	if (--g.setup_left == 0)
		start_timed();
}

/* ---- ramp: at most opt.ramp connections between connect and logged in ---- */
static void ramp_next(void);

void conn_ramp_release(struct conn *c)
{
	if (!c->in_ramp)
		return;
	c->in_ramp = false;
	g.ramp_busy--;
	ramp_next();
}

static void conn_connect_now(struct conn *c)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)opt.port) };
	if (inet_pton(AF_INET, opt.host, &sin.sin_addr) != 1) {
		fprintf(stderr, "imapbench: bad host %s\n", opt.host);
		exit(2);
	}
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		bench_error(c, "socket: %s", strerror(errno));
		c->dead = true;
		bench_finish(c);
		return;
	}
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->t_conn = now_us();
	c->conn_gen++;
	c->connecting = true;
	c->open = true;
	c->rlen = c->resplen = c->lit_left = c->wlen = c->wpos = 0;
	c->lit = NULL;
	c->cmd_busy = false;
	c->waiting_eof = false;
	c->kind = K_CONNECT;
	if (connect(c->fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 && errno != EINPROGRESS) {
		bench_error(c, "connect: %s", strerror(errno));
		conn_close(c);
		c->dead = true;
		bench_finish(c);
		return;
	}
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.u32 = (uint32_t)c->id };
	epoll_ctl(g.epfd, EPOLL_CTL_ADD, c->fd, &ev);
}

static void ramp_next(void)
{
	while (g.ramp_busy < opt.ramp && g.rq_head != g.rq_tail) {
		struct conn *c = &conns[g.rq[g.rq_head]];
		g.rq_head = (g.rq_head + 1) % (n_conns + 1);
		c->in_ramp = true;
		g.ramp_busy++;
		conn_connect_now(c);
	}
}

void conn_connect(struct conn *c)
{
	g.rq[g.rq_tail] = c->id;
	g.rq_tail = (g.rq_tail + 1) % (n_conns + 1);
	ramp_next();
}

void conn_close(struct conn *c)
{
	if (!c->open)
		return;
	epoll_ctl(g.epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	c->open = false;
	c->connecting = false;
	conn_ramp_release(c);
}

/* ---- output ---- */
static void out_add(struct conn *c, const char *data, size_t len)
{
	if (c->wlen + len > c->wcap) {
		size_t cap = c->wcap ? c->wcap : 1024;
		while (cap < c->wlen + len)
			cap *= 2;
		c->wbuf = xrealloc(c->wbuf, cap);
		c->wcap = cap;
	}
	memcpy(c->wbuf + c->wlen, data, len);
	c->wlen += len;
}

static void out_flush(struct conn *c)
{
	while (c->wpos < c->wlen) {
		ssize_t n = send(c->fd, c->wbuf + c->wpos, c->wlen - c->wpos, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN)
				break;
			return;   /* the read side reports the failure */
		}
		c->wpos += (size_t)n;
	}
	uint32_t events = EPOLLIN;
	if (c->wpos == c->wlen) {
		c->wpos = c->wlen = 0;
	} else {
		events |= EPOLLOUT;
	}
	struct epoll_event ev = { .events = events, .data.u32 = (uint32_t)c->id };
	epoll_ctl(g.epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

void conn_raw(struct conn *c, const char *text)
{
	out_add(c, text, strlen(text));
	out_flush(c);
}

void conn_cmd(struct conn *c, enum cmd_kind k, const char *fmt, ...)
{
	char line[1024];
	int n = snprintf(line, sizeof(line), "A%u ", ++c->tagn);
	va_list ap;
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n - 2, fmt, ap);
	va_end(ap);
	if ((size_t)n > sizeof(line) - 3)
		n = (int)sizeof(line) - 3;
	memcpy(line + n, "\r\n", 2);
	c->kind = k;
	c->cmd_busy = true;
	c->t_sent = now_us();
	out_add(c, line, (size_t)n + 2);
	out_flush(c);
}

void conn_append(struct conn *c, const char *mailbox, const char *flags,
		 const char *msg, size_t len)
{
	c->lit = msg;
	c->litlen = len;
	conn_cmd(c, K_APPEND, "APPEND %s (%s) {%zu}", mailbox, flags, len);
}

void conn_logout(struct conn *c)
{
	conn_cmd(c, K_LOGOUT, "LOGOUT");
}

void conn_timer(struct conn *c, unsigned ms)
{
	heap_push((struct timer){ now_us() + (uint64_t)ms * 1000u, c->id, ++c->timer_gen });
}

/* ---- input framing ---- */
static void resp_add(struct conn *c, const char *data, size_t len)
{
	if (c->resplen + len + 1 > c->respcap) {
		size_t cap = c->respcap ? c->respcap : 1024;
		while (cap < c->resplen + len + 1)
			cap *= 2;
		c->resp = xrealloc(c->resp, cap);
		c->respcap = cap;
	}
	memcpy(c->resp + c->resplen, data, len);
	c->resplen += len;
	c->resp[c->resplen] = '\0';
}

/* A line ending "{N}" or "{N+}" announces a literal of N bytes. */
static bool line_literal(const char *line, size_t len, size_t *n_r)
{
	if (len < 3 || line[len - 1] != '}')
		return false;
	size_t i = len - 1;
	if (line[i - 1] == '+')
		i--;
	size_t end = i;
	while (i > 0 && line[i - 1] >= '0' && line[i - 1] <= '9')
		i--;
	if (i == 0 || i == end || line[i - 1] != '{')
		return false;
	*n_r = strtoull(line + i, NULL, 10);
	return true;
}

static void dispatch(struct conn *c)
{
	const char *r = c->resp;
	size_t len = c->resplen;
	if (c->connecting) {
		c->connecting = false;
		if (len < 4 || memcmp(r, "* OK", 4) != 0) {
			bench_error(c, "bad greeting: %.80s", r);
			c->dead = true;
			bench_finish(c);
			return;
		}
		bench_sample(K_CONNECT, now_us() - c->t_conn);
		g.sc->event(c, EV_GREETING, r, len);
		return;
	}
	if (len >= 2 && r[0] == '*' && r[1] == ' ') {
		g.sc->event(c, EV_UNTAGGED, r, len);
		return;
	}
	if (len >= 1 && r[0] == '+') {
		if (c->lit != NULL) {
			out_add(c, c->lit, c->litlen);
			out_add(c, "\r\n", 2);
			c->lit = NULL;
			out_flush(c);
		} else {
			g.sc->event(c, EV_CONT, r, len);
		}
		return;
	}
	char tag[24];
	int tl = snprintf(tag, sizeof(tag), "A%u ", c->tagn);
	if (!c->cmd_busy || len < (size_t)tl || memcmp(r, tag, (size_t)tl) != 0) {
		bench_error(c, "unexpected response: %.100s", r);
		return;
	}
	c->cmd_busy = false;
	c->lit = NULL;
	c->tagged_ok = len >= (size_t)tl + 2 && memcmp(r + tl, "OK", 2) == 0;
	if (c->tagged_ok)
		bench_sample(c->kind, now_us() - c->t_sent);
	g.sc->event(c, EV_TAGGED, r, len);
}

static void parse_input(struct conn *c)
{
	size_t pos = 0;
	unsigned gen = c->conn_gen;
	while (pos < c->rlen && c->open && c->conn_gen == gen) {
		if (c->lit_left > 0) {
			size_t n = c->rlen - pos < c->lit_left ? c->rlen - pos : c->lit_left;
			resp_add(c, c->rbuf + pos, n);
			pos += n;
			c->lit_left -= n;
			continue;
		}
		char *nl = memchr(c->rbuf + pos, '\n', c->rlen - pos);
		if (nl == NULL)
			break;
		size_t linelen = (size_t)(nl - (c->rbuf + pos)) + 1;
		resp_add(c, c->rbuf + pos, linelen);
		pos += linelen;
		size_t body = linelen >= 2 && nl[-1] == '\r' ? linelen - 2 : linelen - 1, n;
		if (line_literal(c->rbuf + pos - linelen, body, &n) && n > 0) {
			c->lit_left = n;
			continue;
		}
		dispatch(c);
		if (c->conn_gen == gen)
			c->resplen = 0;
	}
	if (!c->open || c->conn_gen != gen)
		return;
	memmove(c->rbuf, c->rbuf + pos, c->rlen - pos);
	c->rlen -= pos;
}

static void handle_eof(struct conn *c)
{
	bool expected = c->waiting_eof;
	conn_close(c);
	if (!expected && !c->done)
		bench_error(c, "connection closed by the server");
	g.sc->event(c, EV_EOF, NULL, 0);
}

static void handle_io(struct conn *c, uint32_t events)
{
	if (c->connecting && (events & EPOLLOUT) && !(events & (EPOLLERR | EPOLLHUP))) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)c->id };
		epoll_ctl(g.epfd, EPOLL_CTL_MOD, c->fd, &ev);
	} else if (events & EPOLLOUT) {
		out_flush(c);
	}
	if (!(events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
		return;
	for (;;) {
		if (c->rcap - c->rlen < 16384) {
			c->rcap = c->rcap ? c->rcap * 2 : 32768;
			c->rbuf = xrealloc(c->rbuf, c->rcap);
		}
		ssize_t n = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen, 0);
		if (n > 0) {
			unsigned gen = c->conn_gen;
			c->rlen += (size_t)n;
			parse_input(c);
			if (!c->open || c->conn_gen != gen)
				return;
			if ((size_t)n < 16384)
				break;
		} else if (n == 0 || errno != EAGAIN) {
			handle_eof(c);
			return;
		} else {
			break;
		}
	}
	/* shrink idle buffers so that 10k idle connections stay small */
	if (c->rlen == 0 && c->rcap > 65536) {
		free(c->rbuf);
		c->rbuf = NULL;
		c->rcap = 0;
	}
}

/* ---- response helpers ---- */
const char *resp_find(const char *data, size_t len, const char *key)
{
	return memmem(data, len, key, strlen(key));
}

bool resp_untagged_num(const char *data, size_t len, const char *word, uint32_t *n_r)
{
	char *end;
	if (len < 3 || data[0] != '*')
		return false;
	unsigned long n = strtoul(data + 2, &end, 10);
	if (end == data + 2 || *end != ' ')
		return false;
	size_t wl = strlen(word);
	if ((size_t)(end + 1 - data) + wl > len || strncasecmp(end + 1, word, wl) != 0)
		return false;
	*n_r = (uint32_t)n;
	return true;
}

bool resp_find_num(const char *data, size_t len, const char *key, uint32_t *n_r)
{
	const char *p = resp_find(data, len, key);
	if (p == NULL)
		return false;
	p += strlen(key);
	if (p >= data + len || *p < '0' || *p > '9')
		return false;
	*n_r = (uint32_t)strtoul(p, NULL, 10);
	return true;
}

bool resp_literal(const char *data, size_t len, const char *key, const char **lit_r,
		  size_t *litlen_r)
{
	const char *p = resp_find(data, len, key);
	if (p == NULL)
		return false;
	p += strlen(key);
	if (p >= data + len || *p != '{')
		return false;
	char *end;
	size_t n = strtoull(p + 1, &end, 10);
	if (end + 3 > data + len || memcmp(end, "}\r\n", 3) != 0)
		return false;
	if ((size_t)(data + len - (end + 3)) < n)
		return false;
	*lit_r = end + 3;
	*litlen_r = n;
	return true;
}

/* ---- report ---- */
static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static double pct(const struct samples *s, double p)
{
	if (s->n == 0)
		return 0;
	size_t i = (size_t)(p * (double)(s->n - 1) + 0.5);
	return s->v[i] / 1000.0;
}

static void report(void)
{
	double secs = (double)(g.t_stop - g.t_start) / 1e6;
	if (secs <= 0)
		secs = 1e-6;
	printf("%-16s %10s %10s %9s %9s %9s %7s\n", "command", "count", "per sec",
	       "p50 ms", "p99 ms", "max ms", "errors");
	printf("RESULT {\"scenario\":\"%s\",\"conns\":%d,\"secs\":%.3f,\"sessions\":%ld,"
	       "\"errors\":%llu,\"cmds\":{", g.sc->name, n_conns, secs, g.sessions,
	       (unsigned long long)g.errors);
	bool first = true;
	for (int k = 0; k < K_COUNT; k++) {
		struct samples *s = &g.s[k];
		if (s->n == 0 && s->errors == 0)
			continue;
		qsort(s->v, s->n, sizeof(*s->v), cmp_u32);
		printf("%s\"%s\":{\"n\":%zu,\"rate\":%.2f,\"p50\":%.3f,\"p99\":%.3f,"
		       "\"max\":%.3f,\"errors\":%llu}", first ? "" : ",", kind_names[k], s->n,
		       s->n / secs, pct(s, 0.5), pct(s, 0.99), pct(s, 1.0),
		       (unsigned long long)s->errors);
		first = false;
	}
	printf("}%s}\n", g.extra);
	for (int k = 0; k < K_COUNT; k++) {
		struct samples *s = &g.s[k];
		if (s->n == 0 && s->errors == 0)
			continue;
		printf("%-16s %10zu %10.1f %9.3f %9.3f %9.3f %7llu\n", kind_names[k], s->n,
		       s->n / secs, pct(s, 0.5), pct(s, 0.99), pct(s, 1.0),
		       (unsigned long long)s->errors);
	}
	printf("SUMMARY %s: %d conns, %.1f s, %ld sessions (%.1f/s), errors %llu\n",
	       g.sc->name, n_conns, secs, g.sessions, g.sessions / secs,
	       (unsigned long long)g.errors);
}

/* ---- main loop ---- */
/* SIGTERM (bench.py's time limit): stop and report what was measured so far. */
static volatile sig_atomic_t terminated;

static void on_sigterm(int signo)
{
	(void)signo;
	terminated = 1;
}

static void run_timers(void)
{
	uint64_t now = now_us();
	while (heap_n > 0 && heap[0].when <= now) {
		struct timer t = heap_pop();
		struct conn *c = &conns[t.conn];
		if (t.gen == c->timer_gen && !c->done)
			g.sc->event(c, EV_TIMER, NULL, 0);
	}
}

static void loop(void)
{
	struct epoll_event evs[512];
	for (;;) {
		uint64_t now = now_us();
		if (g.timed && !g.stopping && opt.duration > 0 &&
		    now >= g.t_start + (uint64_t)(opt.duration * 1e6))
			bench_stop();
		if (g.active == 0)
			break;
		if (terminated) {
			fprintf(stderr, "imapbench: stopped by SIGTERM with %d connections busy; "
				"reporting what was measured\n", g.active);
			g.errors++;
			break;
		}
		if (g.stopping && now > g.t_stop + 20000000u) {
			fprintf(stderr, "imapbench: %d connections still busy 20 s after the end\n",
				g.active);
			g.errors++;
			break;
		}
		int timeout = 100;
		if (heap_n > 0) {
			int64_t d = ((int64_t)heap[0].when - (int64_t)now) / 1000;
			timeout = d < 0 ? 0 : d < timeout ? (int)d + 1 : timeout;
		}
		int n = epoll_wait(g.epfd, evs, 512, timeout);
		for (int i = 0; i < n; i++) {
			struct conn *c = &conns[evs[i].data.u32];
			if (c->open)
				handle_io(c, evs[i].events);
		}
		run_timers();
	}
	if (!g.stopping)
		g.t_stop = now_us();
}

static void usage(void)
{
	fprintf(stderr,
		"usage: imapbench [-H HOST] [-p PORT] [-u USER] [-w PASS] [-s SCENARIO]\n"
		"         [-c CONNS] [-d SECONDS] [-n COUNT] [-m MAILBOX] [--prefix P]\n"
		"         [--msgs N] [--max-size BYTES] [--seed N] [--ramp N] [--idle-ms MS]\n"
		"         [--deliveries N] [--interval-ms MS] [--settle S] [--bodies N] [-q]\n"
		"scenarios: login mixed fetch-big append idle-fleet load\n");
	exit(2);
}

static void parse_args(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "prefix", 1, NULL, 1 }, { "msgs", 1, NULL, 2 }, { "max-size", 1, NULL, 3 },
		{ "seed", 1, NULL, 4 }, { "ramp", 1, NULL, 5 }, { "idle-ms", 1, NULL, 6 },
		{ "deliveries", 1, NULL, 7 }, { "interval-ms", 1, NULL, 8 },
		{ "settle", 1, NULL, 9 }, { "bodies", 1, NULL, 10 }, { "help", 0, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;
	while ((ch = getopt_long(argc, argv, "H:p:u:w:s:c:d:n:m:qh", lo, NULL)) != -1) {
		switch (ch) {
		case 'H': opt.host = optarg; break;
		case 'p': opt.port = atoi(optarg); break;
		case 'u': opt.user = optarg; break;
		case 'w': opt.pass = optarg; break;
		case 's': opt.scenario = optarg; break;
		case 'c': opt.conns = atoi(optarg); break;
		case 'd': opt.duration = atof(optarg); break;
		case 'n': opt.count = atol(optarg); break;
		case 'm': opt.mailbox = optarg; break;
		case 'q': opt.quiet = true; break;
		case 1: opt.prefix = optarg; break;
		case 2: opt.msgs = atoi(optarg); break;
		case 3: opt.max_size = strtoull(optarg, NULL, 10); break;
		case 4: opt.seed = strtoull(optarg, NULL, 10); break;
		case 5: opt.ramp = atoi(optarg); break;
		case 6: opt.idle_ms = atoi(optarg); break;
		case 7: opt.deliveries = atoi(optarg); break;
		case 8: opt.interval_ms = atoi(optarg); break;
		case 9: opt.settle_s = atoi(optarg); break;
		case 10: opt.fetch_bodies = atoi(optarg); break;
		default: usage();
		}
	}
	if (optind != argc || opt.conns < 1 || opt.ramp < 1 || opt.port <= 0)
		usage();
}

static void raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)opt.conns + 64)
		fprintf(stderr, "imapbench: warning: RLIMIT_NOFILE %llu < %d connections\n",
			(unsigned long long)rl.rlim_cur, opt.conns);
}

int main(int argc, char **argv)
{
	parse_args(argc, argv);
	for (g.sc = scenarios; g.sc->name != NULL; g.sc++)
		if (strcmp(g.sc->name, opt.scenario) == 0)
			break;
	if (g.sc->name == NULL)
		usage();
	signal(SIGPIPE, SIG_IGN);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigterm;
	sigaction(SIGTERM, &sa, NULL);
	raise_nofile();
	n_conns = opt.conns;
	if (strcmp(g.sc->name, "idle-fleet") == 0) {
		n_conns++;   /* the deliverer */
		opt.duration = 0;   /* ends after the deliveries */
	}
	if (strcmp(g.sc->name, "load") == 0)
		opt.duration = 0;   /* ends when every message is in */
	conns = calloc((size_t)n_conns, sizeof(*conns));
	g.rq = calloc((size_t)n_conns + 1, sizeof(int));
	g.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (conns == NULL || g.rq == NULL || g.epfd < 0)
		abort();
	g.active = n_conns;
	g.setup_left = n_conns;
	for (int i = 0; i < n_conns; i++) {
		conns[i].id = i;
		conns[i].fd = -1;
		conns[i].rng = opt.seed * 1000003u + (uint64_t)i + 1;
	}
	for (int i = 0; i < n_conns; i++) {
		if (g.sc->setup != NULL)
			g.sc->setup(&conns[i]);
		else
			bench_setup_done(&conns[i]);
	}
	loop();
	if (g.sc->report != NULL)
		g.sc->report();
	report();
	return g.errors > 0 ? 1 : 0;
}
