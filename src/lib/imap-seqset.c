/* IMAP sequence sets; see imap-seqset.h. */
#include "imap-seqset.h"
#include "alloc.h"
#include "buffer.h"

#include <stdlib.h>
#include <string.h>

struct imap_seqset {
	struct imap_seq_range *ranges;  /* sorted, disjoint, non-adjacent */
	unsigned int count, alloc;
	/* "*" part: the union of [min(n, max), max(n, max)] over every "n:*" (a bare "*"
	 * is n = max); that union is [min(star_min, max), max(star_max, max)]. */
	bool star, star_has_num;
	uint32_t star_min, star_max;
};

struct imap_seqset *imap_seqset_create(void)
{
	return i_new0(struct imap_seqset);
}

void imap_seqset_destroy(struct imap_seqset **set)
{
	if (*set == NULL)
		return;
	free((*set)->ranges);
	free(*set);
	*set = NULL;
}

static void ensure_room(struct imap_seqset *set, unsigned int count)
{
	if (count <= set->alloc)
		return;
	unsigned int alloc = set->alloc < 8 ? 8 : set->alloc * 2;
	while (alloc < count)
		alloc *= 2;
	set->ranges = i_reallocarray(set->ranges, alloc, sizeof(*set->ranges));
	set->alloc = alloc;
}

/* First index whose range ends at or after seq - 1 (touches or follows seq). */
static unsigned int find_touching(const struct imap_seqset *set, uint32_t seq)
{
	unsigned int lo = 0, hi = set->count;
	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;
		if ((uint64_t)set->ranges[mid].seq2 + 1 < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int insert_range(struct imap_seqset *set, uint32_t a, uint32_t b, bool limit)
{
	unsigned int i = find_touching(set, a), j = i;
	while (j < set->count && set->ranges[j].seq1 <= (uint64_t)b + 1)
		j++;
	if (i == j) {
		if (limit && set->count >= IMAP_SEQSET_MAX_RANGES)
			return -1;
		ensure_room(set, set->count + 1);
		memmove(set->ranges + i + 1, set->ranges + i,
			sizeof(*set->ranges) * (set->count - i));
		set->ranges[i].seq1 = a;
		set->ranges[i].seq2 = b;
		set->count++;
		return 0;
	}
	if (set->ranges[i].seq1 < a)
		a = set->ranges[i].seq1;
	if (set->ranges[j - 1].seq2 > b)
		b = set->ranges[j - 1].seq2;
	set->ranges[i].seq1 = a;
	set->ranges[i].seq2 = b;
	memmove(set->ranges + i + 1, set->ranges + j, sizeof(*set->ranges) * (set->count - j));
	set->count -= j - i - 1;
	return 0;
}

int imap_seqset_add_range(struct imap_seqset *set, uint32_t seq1, uint32_t seq2)
{
	if (seq1 == 0 || seq2 == 0)
		return -1;
	if (seq1 > seq2) {
		uint32_t tmp = seq1;
		seq1 = seq2;
		seq2 = tmp;
	}
	return insert_range(set, seq1, seq2, true);
}

/* ---- parsing ---------------------------------------------------------------------- */

/* seq-number: nz-number or "*" (*num_r = 0). */
static bool parse_number(const char **sp, uint32_t *num_r)
{
	const char *s = *sp;
	uint64_t num = 0;

	if (*s == '*') {
		*sp = s + 1;
		*num_r = 0;
		return true;
	}
	if (*s < '1' || *s > '9')
		return false;
	for (; *s >= '0' && *s <= '9'; s++) {
		num = num * 10 + (uint64_t)(*s - '0');
		if (num > UINT32_MAX)
			return false;
	}
	*sp = s;
	*num_r = (uint32_t)num;
	return true;
}

static void add_star(struct imap_seqset *set, uint32_t num)
{
	if (num != 0) {
		if (!set->star_has_num || num < set->star_min)
			set->star_min = num;
		if (!set->star_has_num || num > set->star_max)
			set->star_max = num;
		set->star_has_num = true;
	}
	set->star = true;
}

static int cmp_range(const void *p1, const void *p2)
{
	const struct imap_seq_range *r1 = p1, *r2 = p2;
	return r1->seq1 < r2->seq1 ? -1 : r1->seq1 > r2->seq1;
}

static void sort_and_merge(struct imap_seqset *set)
{
	unsigned int out = 0;
	if (set->count == 0)
		return;
	qsort(set->ranges, set->count, sizeof(*set->ranges), cmp_range);
	for (unsigned int i = 1; i < set->count; i++) {
		struct imap_seq_range *cur = &set->ranges[out];
		if (set->ranges[i].seq1 <= (uint64_t)cur->seq2 + 1) {
			if (set->ranges[i].seq2 > cur->seq2)
				cur->seq2 = set->ranges[i].seq2;
		} else {
			set->ranges[++out] = set->ranges[i];
		}
	}
	set->count = out + 1;
}

/* One seq-number or seq-range at *sp. */
static const char *parse_item(struct imap_seqset *set, const char **sp)
{
	uint32_t a, b;
	if (!parse_number(sp, &a))
		return "Invalid sequence number";
	b = a;
	if (**sp == ':') {
		(*sp)++;
		if (!parse_number(sp, &b))
			return "Invalid sequence number";
	}
	if (a == 0 || b == 0) {
		add_star(set, a != 0 ? a : b);
		return NULL;
	}
	if (set->count >= IMAP_SEQSET_MAX_RANGES)
		return "Too many ranges in sequence set";
	ensure_room(set, set->count + 1);
	set->ranges[set->count].seq1 = a < b ? a : b;
	set->ranges[set->count].seq2 = a < b ? b : a;
	set->count++;
	return NULL;
}

int imap_seqset_parse(const char *str, struct imap_seqset **set_r, const char **error_r)
{
	struct imap_seqset *set = imap_seqset_create();
	const char *error = NULL;

	for (;;) {
		error = parse_item(set, &str);
		if (error != NULL || *str != ',')
			break;
		str++;
	}
	if (error == NULL && *str != '\0')
		error = "Invalid sequence set";
	if (error != NULL) {
		imap_seqset_destroy(&set);
		if (error_r != NULL)
			*error_r = error;
		return -1;
	}
	sort_and_merge(set);
	*set_r = set;
	return 0;
}

/* ---- queries ---------------------------------------------------------------------- */

bool imap_seqset_has_star(const struct imap_seqset *set)
{
	return set->star;
}

void imap_seqset_resolve_star(struct imap_seqset *set, uint32_t max)
{
	if (!set->star)
		return;
	uint32_t lo = max, hi = max;
	if (set->star_has_num) {
		if (set->star_min < lo)
			lo = set->star_min;
		if (set->star_max > hi)
			hi = set->star_max;
	}
	set->star = set->star_has_num = false;
	if (max != 0)
		(void)insert_range(set, lo, hi, false);
}

bool imap_seqset_contains(const struct imap_seqset *set, uint32_t seq)
{
	if (seq == 0)
		return false;
	unsigned int i = find_touching(set, seq);
	return i < set->count && set->ranges[i].seq1 <= seq && seq <= set->ranges[i].seq2;
}

const struct imap_seq_range *imap_seqset_get_ranges(const struct imap_seqset *set,
						    unsigned int *count_r)
{
	*count_r = set->count;
	return set->ranges;
}

uint32_t imap_seqset_first(const struct imap_seqset *set)
{
	return set->count == 0 ? 0 : set->ranges[0].seq1;
}

uint32_t imap_seqset_last(const struct imap_seqset *set)
{
	return set->count == 0 ? 0 : set->ranges[set->count - 1].seq2;
}

uint64_t imap_seqset_count(const struct imap_seqset *set)
{
	uint64_t total = 0;
	for (unsigned int i = 0; i < set->count; i++)
		total += (uint64_t)set->ranges[i].seq2 - set->ranges[i].seq1 + 1;
	return total;
}

bool imap_seqset_is_empty(const struct imap_seqset *set)
{
	return set->count == 0;
}

void imap_seqset_iter_init(struct imap_seqset_iter *iter, const struct imap_seqset *set)
{
	iter->set = set;
	iter->idx = 0;
	iter->next = 0;
}

bool imap_seqset_iter_next(struct imap_seqset_iter *iter, uint32_t *seq_r)
{
	const struct imap_seqset *set = iter->set;
	while (iter->idx < set->count) {
		const struct imap_seq_range *r = &set->ranges[iter->idx];
		if (iter->next < r->seq1)
			iter->next = r->seq1;
		if (iter->next <= r->seq2) {
			*seq_r = (uint32_t)iter->next++;
			return true;
		}
		iter->idx++;
	}
	return false;
}

/* ---- output ----------------------------------------------------------------------- */

static int append_range(struct buffer *dest, bool *first, uint32_t a, uint32_t b)
{
	const char *sep = *first ? "" : ",";
	*first = false;
	if (a == b)
		return buffer_printf(dest, "%s%u", sep, a);
	return buffer_printf(dest, "%s%u:%u", sep, a, b);
}

static int append_set(struct buffer *dest, const struct imap_seqset *set)
{
	bool first = true;
	for (unsigned int i = 0; i < set->count; i++) {
		if (append_range(dest, &first, set->ranges[i].seq1, set->ranges[i].seq2) < 0)
			return -1;
	}
	if (!set->star)
		return 0;
	const char *sep = first ? "" : ",";
	if (!set->star_has_num)
		return buffer_printf(dest, "%s*", sep);
	if (buffer_printf(dest, "%s%u:*", sep, set->star_min) < 0)
		return -1;
	if (set->star_max != set->star_min)
		return buffer_printf(dest, ",%u:*", set->star_max);
	return 0;
}

int imap_seqset_append(struct buffer *dest, const struct imap_seqset *set)
{
	size_t orig_len = buffer_len(dest);
	if (append_set(dest, set) < 0) {
		buffer_truncate(dest, orig_len);
		return -1;
	}
	return 0;
}

static int append_uids(struct buffer *dest, const uint32_t *uids, unsigned int count)
{
	bool first = true;
	unsigned int i = 0;
	while (i < count) {
		if (uids[i] == 0) {
			i++;
			continue;
		}
		unsigned int j = i;
		while (j + 1 < count && (uint64_t)uids[j + 1] == (uint64_t)uids[j] + 1)
			j++;
		if (append_range(dest, &first, uids[i], uids[j]) < 0)
			return -1;
		i = j + 1;
	}
	return 0;
}

int imap_seqset_append_uids(struct buffer *dest, const uint32_t *uids, unsigned int count)
{
	size_t orig_len = buffer_len(dest);
	if (append_uids(dest, uids, count) < 0) {
		buffer_truncate(dest, orig_len);
		return -1;
	}
	return 0;
}
