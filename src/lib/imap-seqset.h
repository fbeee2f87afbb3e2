#ifndef PYMAP_IMAP_SEQSET_H
#define PYMAP_IMAP_SEQSET_H
/* IMAP sequence sets (RFC 3501 section 9: sequence-set, seq-range, seq-number; RFC 9051
 * clarifications). Owned by lib; called by the imap worker (FETCH, STORE, COPY, MOVE,
 * SEARCH, UID variants, APPENDUID/COPYUID output) and tools.
 *
 * A set is a sorted list of disjoint, non-adjacent ranges [seq1, seq2] with
 * 1 <= seq1 <= seq2 <= 4294967295, plus a symbolic "*" part: "*" stands for the
 * largest number in use (highest sequence number or UID) and is only known when the
 * command runs, so the parser stores it apart and imap_seqset_resolve_star() merges it
 * in. "n:*" and "*:n" mean the range between n and the maximum, whichever is larger
 * (so "5:*" with maximum 3 is 3:5, as RFC 3501 says). "5:1" equals "1:5". Numbers
 * are non-zero 32-bit; 0, leading "+", signs, spaces and overflow are errors. At most
 * IMAP_SEQSET_MAX_RANGES ranges may appear in a parsed string (before merging) or
 * result from adds, so a hostile set can't use unbounded memory; parsing is
 * O(n log n). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buffer;

#define IMAP_SEQSET_MAX_RANGES 100000

struct imap_seq_range {
	uint32_t seq1, seq2;  /* seq1 <= seq2 */
};

struct imap_seqset;

struct imap_seqset *imap_seqset_create(void);
void imap_seqset_destroy(struct imap_seqset **set);

/* Parse a whole sequence-set string (e.g. an ATOM's text). Returns 0 and a new set in
 * *set_r, or -1 and a static error message in *error_r (may be NULL). */
int imap_seqset_parse(const char *str, struct imap_seqset **set_r, const char **error_r);

/* Add [seq1, seq2] (either order; both non-zero). Returns 0, or -1 when 0 is given or
 * the set would exceed IMAP_SEQSET_MAX_RANGES ranges (set unchanged). Appending in
 * ascending order is O(1) amortised; other orders cost O(ranges) each. */
int imap_seqset_add_range(struct imap_seqset *set, uint32_t seq1, uint32_t seq2);
static inline int imap_seqset_add(struct imap_seqset *set, uint32_t seq)
{ return imap_seqset_add_range(set, seq, seq); }

/* True if the set has an unresolved "*" part. */
bool imap_seqset_has_star(const struct imap_seqset *set);
/* Replace "*" by max and merge the star part into the ranges. With max == 0 (empty
 * mailbox) the star part is dropped: it matches nothing. No-op without a star part. */
void imap_seqset_resolve_star(struct imap_seqset *set, uint32_t max);

/* Membership in O(log ranges). Only the resolved ranges count: resolve "*" first. */
bool imap_seqset_contains(const struct imap_seqset *set, uint32_t seq);
/* The ranges (ascending), *count_r of them; valid until the set is changed. */
const struct imap_seq_range *imap_seqset_get_ranges(const struct imap_seqset *set,
						    unsigned int *count_r);
/* Lowest / highest number in the ranges, 0 if there are none. */
uint32_t imap_seqset_first(const struct imap_seqset *set);
uint32_t imap_seqset_last(const struct imap_seqset *set);
/* How many numbers the ranges hold. */
uint64_t imap_seqset_count(const struct imap_seqset *set);
bool imap_seqset_is_empty(const struct imap_seqset *set);

/* Ascending iteration over the ranges' numbers:
 *   struct imap_seqset_iter it; uint32_t n;
 *   imap_seqset_iter_init(&it, set);
 *   while (imap_seqset_iter_next(&it, &n)) ...
 * The set must not change during the iteration. */
struct imap_seqset_iter {
	const struct imap_seqset *set;
	unsigned int idx;
	uint64_t next;
};
void imap_seqset_iter_init(struct imap_seqset_iter *iter, const struct imap_seqset *set);
bool imap_seqset_iter_next(struct imap_seqset_iter *iter, uint32_t *seq_r);

/* Write the set as "1:3,7,9:*" (ranges ascending, then an unresolved star part).
 * Writes nothing for an empty set. 0, or -1 if dest's max_size would be exceeded
 * (dest unchanged). */
int imap_seqset_append(struct buffer *dest, const struct imap_seqset *set);
/* Write uids[0..count) compressed, keeping their order (COPYUID pairs source and
 * destination UIDs by position): runs of consecutive ascending numbers become "a:b",
 * e.g. {1,2,3,7,5,6} -> "1:3,7,5:6". Zero entries are skipped. 0 or -1 as above. */
int imap_seqset_append_uids(struct buffer *dest, const uint32_t *uids, unsigned int count);

#endif
