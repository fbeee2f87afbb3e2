#include "msggen.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const words[] = {
	"the", "meeting", "report", "quarterly", "please", "review", "attached", "budget",
	"schedule", "project", "update", "thanks", "regards", "tomorrow", "server", "release",
	"notes", "customer", "invoice", "question", "about", "draft", "final", "version",
	"team", "office", "call", "agenda", "minutes", "follow", "up", "on", "our", "plan",
	"and", "with", "for", "this", "week", "next", "Monday", "Friday", "numbers", "data",
	"mail", "list", "backup", "storage", "login", "password", "reset", "ticket", "fixed",
	"caf\xc3\xa9", "na\xc3\xafve", "\xc3\xbc" "ber", "stra\xc3\x9f" "e",
};
#define N_WORDS (sizeof(words) / sizeof(words[0]))
static const char *const names[] = {
	"Alice Martin", "Bob Nguyen", "Carol Schmidt", "Dave O'Brien", "Erin Rossi",
	"Frank Dubois", "Grace Kim", "Heidi Larsen", "Ivan Petrov", "Judy Alvarez",
};
#define N_NAMES (sizeof(names) / sizeof(names[0]))

uint64_t msggen_rand(uint64_t *state)
{
	uint64_t x = *state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545F4914F6CDD1DULL;
}

void msgbuf_reset(struct msgbuf *b)
{
	b->len = 0;
}

void msgbuf_free(struct msgbuf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

static void msgbuf_reserve(struct msgbuf *b, size_t more)
{
	if (b->len + more + 1 <= b->cap)
		return;
	size_t cap = b->cap < 4096 ? 4096 : b->cap;
	while (cap < b->len + more + 1)
		cap *= 2;
	b->data = realloc(b->data, cap);
	if (b->data == NULL)
		abort();
	b->cap = cap;
}

void msgbuf_add(struct msgbuf *b, const void *data, size_t len)
{
	msgbuf_reserve(b, len);
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
}

void msgbuf_addstr(struct msgbuf *b, const char *s)
{
	msgbuf_add(b, s, strlen(s));
}

void msgbuf_printf(struct msgbuf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	msgbuf_reserve(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

size_t msggen_pick_size(uint64_t *rng, size_t max)
{
	unsigned r = (unsigned)(msggen_rand(rng) % 100);
	size_t lo, hi;
	if (r < 40) {
		lo = 1500; hi = 4096;
	} else if (r < 70) {
		lo = 4096; hi = 16384;
	} else if (r < 90) {
		lo = 16384; hi = 65536;
	} else if (r < 98) {
		lo = 65536; hi = 524288;
	} else {
		lo = 524288; hi = 2097152;
	}
	size_t size = lo + (size_t)(msggen_rand(rng) % (hi - lo));
	return size > max ? max : size;
}

size_t msggen_size_for(uint64_t seed, uint32_t id, size_t max)
{
	uint64_t rng = (seed + 0x632BE59BD9B4E019ULL) * (id + 0x9E3779B97F4A7C15ULL);
	if (rng == 0)
		rng = 1;
	(void)msggen_rand(&rng);
	return msggen_pick_size(&rng, max);
}

const char *msggen_flags(uint32_t id)
{
	if (id % 20 == 0)
		return "\\Flagged \\Seen";
	if (id % 10 == 9)
		return "\\Answered \\Seen";
	if (id % 10 < 7)
		return "\\Seen";
	return "";
}

/* Text lines of words until about n bytes were written. */
static void add_text(struct msgbuf *b, uint64_t *rng, size_t n)
{
	size_t start = b->len, line = 0;
	while (b->len - start < n) {
		const char *w = words[msggen_rand(rng) % N_WORDS];
		size_t wl = strlen(w);
		if (line + wl + 1 > 72) {
			msgbuf_add(b, "\r\n", 2);
			line = 0;
		} else if (line > 0) {
			msgbuf_add(b, " ", 1);
			line++;
		}
		msgbuf_add(b, w, wl);
		line += wl;
	}
	msgbuf_add(b, "\r\n", 2);
}

static void add_base64(struct msgbuf *b, uint64_t *rng, size_t n)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t start = b->len, col = 0;
	while (b->len - start < n) {
		uint64_t r = msggen_rand(rng);
		char q[4] = { tab[r & 63], tab[(r >> 6) & 63], tab[(r >> 12) & 63],
			      tab[(r >> 18) & 63] };
		msgbuf_add(b, q, 4);
		col += 4;
		if (col >= 76) {
			msgbuf_add(b, "\r\n", 2);
			col = 0;
		}
	}
	if (col > 0)
		msgbuf_add(b, "\r\n", 2);
}

static void add_headers(struct msgbuf *b, uint64_t seed, uint32_t id, size_t size,
			uint64_t *rng)
{
	time_t t = (time_t)(1700000000 + (int64_t)id * 37);
	struct tm tm;
	char date[64];
	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	const char *from = names[msggen_rand(rng) % N_NAMES];
	const char *to = names[msggen_rand(rng) % N_NAMES];
	msgbuf_printf(b, "Return-Path: <u%u@example.net>\r\n", (unsigned)(id % 97));
	msgbuf_printf(b, "Received: from mx%u.example.net (mx.example.net [192.0.2.%u])\r\n"
		      "\tby mail.example.org with ESMTPS id %08x;\r\n\t%s\r\n",
		      (unsigned)(id % 7), (unsigned)(id % 250) + 1, (unsigned)(id * 2654435761u),
		      date);
	msgbuf_printf(b, "Date: %s\r\nFrom: \"%s\" <sender%u@example.net>\r\n"
		      "To: \"%s\" <rcpt@example.org>\r\n", date, from, (unsigned)(id % 13), to);
	if (id % 5 == 0)
		msgbuf_addstr(b, "Cc: list@example.org, \"Ops\" <ops@example.org>\r\n");
	msgbuf_addstr(b, "Subject: ");
	if (id % 3 == 0)
		msgbuf_addstr(b, "Re: ");
	for (int i = 0; i < 4; i++)
		msgbuf_printf(b, "%s%s", i > 0 ? " " : "", words[msggen_rand(rng) % 53]);
	msgbuf_printf(b, " %u\r\nMessage-ID: <gen.%llu.%u@bench.example.org>\r\n",
		      (unsigned)id, (unsigned long long)seed, (unsigned)id);
	if (id % 3 == 0 && id > 0)
		msgbuf_printf(b, "In-Reply-To: <gen.%llu.%u@bench.example.org>\r\n",
			      (unsigned long long)seed, (unsigned)id - 1);
	msgbuf_printf(b, "X-Bench-Gen: %llu.%u.%zu\r\nMIME-Version: 1.0\r\n",
		      (unsigned long long)seed, (unsigned)id, size);
}

static void add_alternative(struct msgbuf *b, uint64_t *rng, const char *bnd, size_t n)
{
	msgbuf_printf(b, "--%s\r\nContent-Type: text/plain; charset=utf-8\r\n"
		      "Content-Transfer-Encoding: 8bit\r\n\r\n", bnd);
	add_text(b, rng, n / 2);
	msgbuf_printf(b, "--%s\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
		      "<html><body><p>\r\n", bnd);
	add_text(b, rng, n / 2);
	msgbuf_printf(b, "</p></body></html>\r\n--%s--\r\n", bnd);
}

static void add_attachment(struct msgbuf *b, uint64_t *rng, const char *bnd, size_t n,
			   uint32_t id)
{
	static const char *const types[] = { "application/pdf", "image/png",
		"application/octet-stream", "application/zip" };
	msgbuf_printf(b, "--%s\r\nContent-Type: %s; name=\"file%u.bin\"\r\n"
		      "Content-Disposition: attachment; filename=\"file%u.bin\"\r\n"
		      "Content-Transfer-Encoding: base64\r\n\r\n",
		      bnd, types[id % 4], (unsigned)id, (unsigned)id);
	add_base64(b, rng, n);
}

void msggen_generate(uint64_t seed, uint32_t id, size_t size, struct msgbuf *b)
{
	uint64_t rng = (seed * 0x9E3779B97F4A7C15ULL) ^ ((uint64_t)id << 20) ^ size;
	if (rng == 0)
		rng = 1;
	msgbuf_reset(b);
	add_headers(b, seed, id, size, &rng);
	size_t used = b->len + 200;
	size_t body = size > used ? size - used : 64;
	unsigned kind = (unsigned)(msggen_rand(&rng) % 100);
	char bnd[64], inner[64];
	snprintf(bnd, sizeof(bnd), "=_b%u_%08x", (unsigned)id, (unsigned)rng);
	snprintf(inner, sizeof(inner), "=_a%u_%08x", (unsigned)id, (unsigned)(rng >> 32));
	if (kind < 50) {
		msgbuf_addstr(b, "Content-Type: text/plain; charset=utf-8\r\n"
			      "Content-Transfer-Encoding: 8bit\r\n\r\n");
		add_text(b, &rng, body);
	} else if (kind < 75) {
		msgbuf_printf(b, "Content-Type: multipart/alternative; boundary=\"%s\"\r\n\r\n"
			      "This is a multi-part message in MIME format.\r\n", bnd);
		add_alternative(b, &rng, bnd, body);
	} else if (kind < 95) {
		msgbuf_printf(b, "Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n"
			      "--%s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n", bnd, bnd);
		add_text(b, &rng, body / 5);
		add_attachment(b, &rng, bnd, body - body / 5, id);
		msgbuf_printf(b, "--%s--\r\n", bnd);
	} else {
		msgbuf_printf(b, "Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n"
			      "--%s\r\nContent-Type: multipart/alternative; boundary=\"%s\"\r\n\r\n",
			      bnd, bnd, inner);
		add_alternative(b, &rng, inner, body / 3);
		add_attachment(b, &rng, bnd, body - body / 3, id);
		msgbuf_printf(b, "--%s--\r\n", bnd);
	}
}

static int parse_gen_header(const char *data, size_t len, uint64_t *seed_r, uint32_t *id_r,
			    size_t *size_r)
{
	static const char key[] = "\r\nX-Bench-Gen: ";
	size_t klen = sizeof(key) - 1;
	for (size_t i = 0; i + klen < len; i++) {
		if (data[i] == '\r' && i + 3 < len && memcmp(data + i, "\r\n\r\n", 4) == 0)
			return -1;   /* end of header */
		if (memcmp(data + i, key, klen) != 0)
			continue;
		char tmp[80];
		size_t n = len - i - klen < sizeof(tmp) - 1 ? len - i - klen : sizeof(tmp) - 1;
		memcpy(tmp, data + i + klen, n);
		tmp[n] = '\0';
		unsigned long long seed;
		unsigned id;
		size_t size;
		if (sscanf(tmp, "%llu.%u.%zu", &seed, &id, &size) != 3)
			return -1;
		*seed_r = seed;
		*id_r = id;
		*size_r = size;
		return 0;
	}
	return -1;
}

int msggen_check(const char *data, size_t len, uint32_t *id_r, const char **why_r)
{
	static struct msgbuf expect;
	uint64_t seed;
	uint32_t id;
	size_t size;
	if (parse_gen_header(data, len, &seed, &id, &size) < 0) {
		*why_r = "no X-Bench-Gen header";
		return -1;
	}
	msggen_generate(seed, id, size, &expect);
	if (expect.len != len) {
		*why_r = "length differs from the generated message";
		return -1;
	}
	if (memcmp(expect.data, data, len) != 0) {
		*why_r = "bytes differ from the generated message";
		return -1;
	}
	if (id_r != NULL)
		*id_r = id;
	return 0;
}
