#include "saslprep.h"
#include "alloc.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sodium.h>

struct saslprep_range { uint32_t first, last; };
struct saslprep_ccc { uint32_t first, last; uint8_t ccc; };
struct saslprep_decomp { uint32_t cp; uint16_t offset; uint8_t len; };
struct saslprep_comp { uint64_t pair; uint32_t cp; };

#include "saslprep-tables.h"

#define N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))
/* The longest full decomposition of one code point (U+FDFA) is 18 code points. */
#define MAX_DECOMP_LEN 18

/* Hangul syllables are decomposed and composed algorithmically (Unicode 3.12). */
#define HANGUL_S_BASE 0xAC00
#define HANGUL_L_BASE 0x1100
#define HANGUL_V_BASE 0x1161
#define HANGUL_T_BASE 0x11A7
#define HANGUL_L_COUNT 19
#define HANGUL_V_COUNT 21
#define HANGUL_T_COUNT 28
#define HANGUL_N_COUNT (HANGUL_V_COUNT * HANGUL_T_COUNT)
#define HANGUL_S_COUNT (HANGUL_L_COUNT * HANGUL_N_COUNT)

static bool in_ranges(const struct saslprep_range *r, size_t n, uint32_t cp)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (cp < r[mid].first)
			hi = mid;
		else if (cp > r[mid].last)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}
#define IN_TABLE(t, cp) in_ranges(t, N_ELEMENTS(t), cp)

static uint8_t ccc_of(uint32_t cp)
{
	size_t lo = 0, hi = N_ELEMENTS(table_ccc);
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (cp < table_ccc[mid].first)
			hi = mid;
		else if (cp > table_ccc[mid].last)
			lo = mid + 1;
		else
			return table_ccc[mid].ccc;
	}
	return 0;
}

/* Strict UTF-8 to code points; -1 on malformed input. */
static int utf8_decode(const unsigned char *p, size_t len, uint32_t *out, size_t *count_r)
{
	size_t i = 0, n = 0;
	while (i < len) {
		unsigned char c = p[i];
		unsigned int extra;
		uint32_t cp;
		if (c < 0x80) { out[n++] = c; i++; continue; }
		if (c >= 0xc2 && c <= 0xdf) { extra = 1; cp = c & 0x1f; }
		else if (c >= 0xe0 && c <= 0xef) { extra = 2; cp = c & 0x0f; }
		else if (c >= 0xf0 && c <= 0xf4) { extra = 3; cp = c & 0x07; }
		else return -1;
		if (i + extra >= len)
			return -1;
		for (unsigned int k = 1; k <= extra; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return -1;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if ((extra == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (extra == 3 && (cp < 0x10000 || cp > 0x10ffff)))
			return -1;
		out[n++] = cp;
		i += extra + 1;
	}
	*count_r = n;
	return 0;
}

static size_t utf8_encode(const uint32_t *cps, size_t n, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		uint32_t c = cps[i];
		if (c < 0x80) {
			out[o++] = (char)c;
		} else if (c < 0x800) {
			out[o++] = (char)(0xc0 | (c >> 6));
			out[o++] = (char)(0x80 | (c & 0x3f));
		} else if (c < 0x10000) {
			out[o++] = (char)(0xe0 | (c >> 12));
			out[o++] = (char)(0x80 | ((c >> 6) & 0x3f));
			out[o++] = (char)(0x80 | (c & 0x3f));
		} else {
			out[o++] = (char)(0xf0 | (c >> 18));
			out[o++] = (char)(0x80 | ((c >> 12) & 0x3f));
			out[o++] = (char)(0x80 | ((c >> 6) & 0x3f));
			out[o++] = (char)(0x80 | (c & 0x3f));
		}
	}
	out[o] = '\0';
	return o;
}

/* Append the full compatibility decomposition of cp to out; returns the count. */
static size_t decompose_one(uint32_t cp, uint32_t *out)
{
	if (cp >= HANGUL_S_BASE && cp < HANGUL_S_BASE + HANGUL_S_COUNT) {
		uint32_t s = cp - HANGUL_S_BASE, t = s % HANGUL_T_COUNT;
		out[0] = HANGUL_L_BASE + s / HANGUL_N_COUNT;
		out[1] = HANGUL_V_BASE + (s % HANGUL_N_COUNT) / HANGUL_T_COUNT;
		if (t == 0)
			return 2;
		out[2] = HANGUL_T_BASE + t;
		return 3;
	}
	size_t lo = 0, hi = N_ELEMENTS(table_decomp);
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (cp < table_decomp[mid].cp) {
			hi = mid;
		} else if (cp > table_decomp[mid].cp) {
			lo = mid + 1;
		} else {
			memcpy(out, &table_decomp_pool[table_decomp[mid].offset],
			       table_decomp[mid].len * sizeof(uint32_t));
			return table_decomp[mid].len;
		}
	}
	out[0] = cp;
	return 1;
}

/* Canonical ordering: stable sort of each run of non-starters by combining class. */
static void canonical_order(uint32_t *cps, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		uint8_t c = ccc_of(cps[i]);
		if (c == 0)
			continue;
		for (size_t j = i; j > 0; j--) {
			uint8_t prev = ccc_of(cps[j - 1]);
			if (prev == 0 || prev <= c)
				break;
			uint32_t tmp = cps[j];
			cps[j] = cps[j - 1];
			cps[j - 1] = tmp;
		}
	}
}

static uint32_t compose_pair(uint32_t a, uint32_t b)
{
	if (a >= HANGUL_L_BASE && a < HANGUL_L_BASE + HANGUL_L_COUNT &&
	    b >= HANGUL_V_BASE && b < HANGUL_V_BASE + HANGUL_V_COUNT)
		return HANGUL_S_BASE + ((a - HANGUL_L_BASE) * HANGUL_V_COUNT +
					(b - HANGUL_V_BASE)) * HANGUL_T_COUNT;
	if (a >= HANGUL_S_BASE && a < HANGUL_S_BASE + HANGUL_S_COUNT &&
	    (a - HANGUL_S_BASE) % HANGUL_T_COUNT == 0 &&
	    b > HANGUL_T_BASE && b < HANGUL_T_BASE + HANGUL_T_COUNT)
		return a + (b - HANGUL_T_BASE);
	uint64_t key = ((uint64_t)a << 21) | b;
	size_t lo = 0, hi = N_ELEMENTS(table_comp);
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (key < table_comp[mid].pair)
			hi = mid;
		else if (key > table_comp[mid].pair)
			lo = mid + 1;
		else
			return table_comp[mid].cp;
	}
	return 0;
}

/* Canonical composition (UAX #15): a character combines with the last starter when
 * it is not blocked (no character in between with class 0 or >= its own). */
static size_t compose(uint32_t *cps, size_t n)
{
	size_t starter = 0, out = 0;
	bool have_starter = false;
	int last_ccc = -1;
	for (size_t i = 0; i < n; i++) {
		uint32_t c = cps[i];
		uint8_t cc = ccc_of(c);
		if (have_starter && (last_ccc < cc || last_ccc == 0)) {
			uint32_t comp = compose_pair(cps[starter], c);
			if (comp != 0) {
				cps[starter] = comp;
				continue;
			}
		}
		if (cc == 0) {
			starter = out;
			have_starter = true;
			last_ccc = 0;
		} else {
			last_ccc = cc;
		}
		cps[out++] = c;
	}
	return out;
}

/* Steps 1 and 2: map and normalize from in[0..n) into out; returns the new count. */
static size_t map_and_normalize(const uint32_t *in, size_t n, uint32_t *out)
{
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		uint32_t cp = in[i];
		if (IN_TABLE(table_b1, cp))
			continue;
		if (IN_TABLE(table_c12, cp))
			cp = ' ';
		m += decompose_one(cp, out + m);
	}
	canonical_order(out, m);
	return compose(out, m);
}

static int check_output(const uint32_t *cps, size_t n, const char **error_r)
{
	if (n == 0)
		return 0;
	bool ral = IN_TABLE(table_d1, cps[0]);
	if (ral && !IN_TABLE(table_d1, cps[n - 1])) {
		*error_r = "malformed bidirectional string";
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (IN_TABLE(table_prohibited, cps[i])) {
			*error_r = "prohibited character";
			return -1;
		}
		if (ral ? IN_TABLE(table_d2, cps[i]) : IN_TABLE(table_d1, cps[i])) {
			*error_r = "forbidden bidirectional character";
			return -1;
		}
	}
	return 0;
}

static bool printable_ascii(const char *in, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (in[i] < 0x20 || in[i] > 0x7e)
			return false;
	}
	return true;
}

int saslprep(const char *in, size_t len, char **out_r, const char **error_r)
{
	if (len > SASLPREP_MAX_INPUT_BYTES) {
		*error_r = "string too long";
		return -1;
	}
	if (printable_ascii(in, len)) {
		/* SASLprep leaves printable ASCII unchanged */
		*out_r = i_strndup(in, len);
		return 0;
	}
	uint32_t *cps = i_new(uint32_t, len + 1);
	uint32_t *norm = i_new(uint32_t, len * MAX_DECOMP_LEN + 1);
	size_t n, m;
	int ret = -1;
	if (utf8_decode((const unsigned char *)in, len, cps, &n) < 0) {
		*error_r = "not valid UTF-8";
	} else {
		m = map_and_normalize(cps, n, norm);
		ret = check_output(norm, m, error_r);
		if (ret == 0) {
			char *out = i_malloc(m * 4 + 1);
			utf8_encode(norm, m, out);
			*out_r = out;
		}
	}
	sodium_memzero(cps, (len + 1) * sizeof(uint32_t));
	sodium_memzero(norm, (len * MAX_DECOMP_LEN + 1) * sizeof(uint32_t));
	free(cps);
	free(norm);
	return ret;
}
