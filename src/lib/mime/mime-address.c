/* RFC 5322 address lists: see mime-address.h. */
#include "mime-address.h"

#include <stdbool.h>
#include <string.h>

#include "alloc.h"
#include "buffer.h"

enum tok_type { T_END, T_ATOM, T_QSTRING, T_DLITERAL, T_SPECIAL };

struct atok {
	enum tok_type type;
	size_t start, end;  /* raw bytes */
	unsigned char c;    /* the character of a T_SPECIAL */
	bool ws_before;     /* CFWS before the token */
};

struct alex {
	const unsigned char *v;
	size_t len, pos;
	struct mime_address_list *list;
	bool in_group;
};

static bool skip_cfws(struct alex *lx)
{
	size_t start = lx->pos;
	unsigned int depth = 0;
	while (lx->pos < lx->len) {
		unsigned char c = lx->v[lx->pos];
		if (depth > 0 && c == '\\' && lx->pos + 1 < lx->len)
			lx->pos++;
		else if (c == '(')
			depth++;
		else if (c == ')' && depth > 0)
			depth--;
		else if (depth == 0 && c != ' ' && c != '\t' && c != '\r' && c != '\n' && c != '\0')
			break;
		lx->pos++;
	}
	return lx->pos > start;
}

/* RFC 5322 specials, plus controls and space (which end an atom too): a table, as
 * the lexer asks once per character of every address header. */
static const bool address_specials[256] = {
	['('] = true, [')'] = true, ['<'] = true, ['>'] = true, ['['] = true, [']'] = true,
	[':'] = true, [';'] = true, ['@'] = true, ['\\'] = true, [','] = true, ['.'] = true,
	['"'] = true, [127] = true,
};

static bool is_special(unsigned char c)
{
	return c <= 32 || address_specials[c];
}

static void scan_until(struct alex *lx, unsigned char close)
{
	lx->pos++;
	while (lx->pos < lx->len && lx->v[lx->pos] != close) {
		if (lx->v[lx->pos] == '\\' && lx->pos + 1 < lx->len)
			lx->pos++;
		lx->pos++;
	}
	if (lx->pos < lx->len)
		lx->pos++;
}

static void lex(struct alex *lx, struct atok *t)
{
	t->ws_before = skip_cfws(lx);
	t->start = lx->pos;
	if (lx->pos >= lx->len) {
		t->type = T_END;
	} else if (lx->v[lx->pos] == '"') {
		t->type = T_QSTRING;
		scan_until(lx, '"');
	} else if (lx->v[lx->pos] == '[') {
		t->type = T_DLITERAL;
		scan_until(lx, ']');
	} else if (is_special(lx->v[lx->pos])) {
		t->type = T_SPECIAL;
		t->c = lx->v[lx->pos++];
	} else {
		t->type = T_ATOM;
		while (lx->pos < lx->len && !is_special(lx->v[lx->pos]))
			lx->pos++;
	}
	t->end = lx->pos;
}

static void peek(struct alex *lx, struct atok *t)
{
	size_t pos = lx->pos;
	lex(lx, t);
	lx->pos = pos;
}

static bool is_char(const struct atok *t, unsigned char c)
{
	return t->type == T_SPECIAL && t->c == c;
}

/* Append a token to a phrase: quoted strings unquoted, words separated by one space. */
static void phrase_add(struct alex *lx, const struct atok *t, struct buffer *out)
{
	if (t->ws_before && buffer_len(out) > 0)
		buffer_append_c(out, ' ');
	if (t->type != T_QSTRING) {
		buffer_append(out, lx->v + t->start, t->end - t->start);
		return;
	}
	for (size_t i = t->start + 1; i < t->end; i++) {
		unsigned char c = lx->v[i];
		if (c == '\\' && i + 1 < t->end)
			c = lx->v[++i];
		else if (c == '"')
			break;
		if (c != '\r' && c != '\n' && c != '\0')
			buffer_append_c(out, c);
	}
}

static void raw_add(struct alex *lx, const struct atok *t, struct buffer *out)
{
	for (size_t i = t->start; i < t->end; i++) {
		if (lx->v[i] != '\r' && lx->v[i] != '\n' && lx->v[i] != '\0')
			buffer_append_c(out, lx->v[i]);
	}
}

static char *steal_or_null(struct buffer *buf)
{
	if (buffer_len(buf) == 0) {
		buffer_deinit(buf);
		return NULL;
	}
	return buffer_steal_str(buf);
}

static void add_address(struct alex *lx, char *name, char *route, char *mailbox, char *domain)
{
	struct mime_address_list *list = lx->list;
	if (list->count >= MIME_ADDRESS_MAX_COUNT) {
		free(name);
		free(route);
		free(mailbox);
		free(domain);
		return;
	}
	list->items = i_reallocarray(list->items, list->count + 1, sizeof(*list->items));
	struct mime_address *a = &list->items[list->count++];
	a->name = name;
	a->route = route;
	a->mailbox = mailbox;
	a->domain = domain;
}

/* Skip to the end of this list element: "," (not consumed), ";" in a group, or end. */
static void skip_element(struct alex *lx)
{
	struct atok t;
	for (;;) {
		peek(lx, &t);
		if (t.type == T_END || is_char(&t, ',') || (lx->in_group && is_char(&t, ';')))
			return;
		lex(lx, &t);
	}
}

/* domain: dot-atom or domain-literal, CFWS dropped. */
static char *parse_domain(struct alex *lx)
{
	struct buffer dom;
	struct atok t;
	buffer_init(&dom, 0);
	for (;;) {
		peek(lx, &t);
		if (t.type != T_ATOM && t.type != T_DLITERAL && !is_char(&t, '.'))
			break;
		lex(lx, &t);
		raw_add(lx, &t, &dom);
	}
	return steal_or_null(&dom);
}

/* local-part words up to "@" (or anything else); raw, CFWS dropped. */
static void parse_local(struct alex *lx, struct buffer *local)
{
	struct atok t;
	for (;;) {
		peek(lx, &t);
		if (t.type != T_ATOM && t.type != T_QSTRING && !is_char(&t, '.'))
			return;
		lex(lx, &t);
		raw_add(lx, &t, local);
	}
}

/* obs-route: "@dom1,@dom2:" right after "<". NULL when absent. */
static char *parse_route(struct alex *lx)
{
	struct buffer route;
	struct atok t;
	peek(lx, &t);
	if (!is_char(&t, '@'))
		return NULL;
	buffer_init(&route, 0);
	for (;;) {
		lex(lx, &t);
		if (t.type == T_END || is_char(&t, ':') || is_char(&t, '>'))
			break;
		if (is_char(&t, ',') || is_char(&t, '@') || t.type == T_ATOM ||
		    t.type == T_DLITERAL || is_char(&t, '.'))
			raw_add(lx, &t, &route);
	}
	return steal_or_null(&route);
}

/* After "<": [route] addr-spec ">". */
static void parse_angle(struct alex *lx, char *name)
{
	struct buffer local;
	struct atok t;
	char *route = parse_route(lx), *domain = NULL;
	buffer_init(&local, 0);
	parse_local(lx, &local);
	peek(lx, &t);
	if (is_char(&t, '@')) {
		lex(lx, &t);
		domain = parse_domain(lx);
	}
	peek(lx, &t);
	if (is_char(&t, '>'))
		lex(lx, &t);
	if (buffer_len(&local) == 0 && domain == NULL) {
		buffer_deinit(&local);
		free(name);
		free(route);
		return;
	}
	char *mailbox = buffer_steal_str(&local);
	add_address(lx, name, route, mailbox,
		    domain != NULL ? domain : i_strdup(MIME_ADDRESS_MISSING_DOMAIN));
}

static void parse_element(struct alex *lx);

static void parse_group(struct alex *lx, char *name)
{
	struct atok t;
	add_address(lx, NULL, NULL, name != NULL ? name : i_strdup(""), NULL);
	lx->in_group = true;
	for (;;) {
		lex(lx, &t);
		if (t.type == T_END || is_char(&t, ';'))
			break;
		if (!is_char(&t, ','))
			lx->pos = t.start;
		parse_element(lx);
	}
	lx->in_group = false;
	add_address(lx, NULL, NULL, NULL, NULL);
}

/* One mailbox or group. Words first; what follows them decides which form it is. */
static void parse_element(struct alex *lx)
{
	struct buffer phrase, local;
	struct atok t;
	size_t start = lx->pos;
	buffer_init(&phrase, 0);
	for (;;) {
		peek(lx, &t);
		if (t.type != T_ATOM && t.type != T_QSTRING && !is_char(&t, '.'))
			break;
		lex(lx, &t);
		phrase_add(lx, &t, &phrase);
	}
	lex(lx, &t);
	if (is_char(&t, '<')) {
		parse_angle(lx, steal_or_null(&phrase));
	} else if (is_char(&t, ':') && !lx->in_group) {
		parse_group(lx, steal_or_null(&phrase));
		return;
	} else if (is_char(&t, '@') || t.type == T_END || is_char(&t, ',') || is_char(&t, ';')) {
		buffer_deinit(&phrase);
		lx->pos = start;
		buffer_init(&local, 0);
		parse_local(lx, &local);
		peek(lx, &t);
		char *domain = NULL;
		if (is_char(&t, '@')) {
			lex(lx, &t);
			domain = parse_domain(lx);
		}
		if (buffer_len(&local) == 0 && domain == NULL)
			buffer_deinit(&local);
		else
			add_address(lx, NULL, NULL, buffer_steal_str(&local), domain != NULL ?
				    domain : i_strdup(MIME_ADDRESS_MISSING_DOMAIN));
	} else {
		buffer_deinit(&phrase);
	}
	skip_element(lx);
}

void mime_address_parse(const void *value, size_t len, struct mime_address_list *list_r)
{
	struct alex lx = { value, len, 0, list_r, false };
	struct atok t;
	list_r->items = NULL;
	list_r->count = 0;
	for (;;) {
		peek(&lx, &t);
		if (t.type == T_END)
			break;
		if (is_char(&t, ',') || is_char(&t, ';')) {
			lex(&lx, &t);
			continue;
		}
		size_t before = lx.pos;
		parse_element(&lx);
		if (lx.pos == before)
			lex(&lx, &t);  /* always make progress */
	}
}

void mime_address_list_free(struct mime_address_list *list)
{
	for (unsigned int i = 0; i < list->count; i++) {
		free(list->items[i].name);
		free(list->items[i].route);
		free(list->items[i].mailbox);
		free(list->items[i].domain);
	}
	i_free(list->items);
	list->count = 0;
}
