/* Folders checked in the current push round (maildir-round.h): an open-addressing set
 * of folder pointers whose slots carry the round's epoch, so starting a round empties
 * it without touching memory. */
#include "maildir-round.h"
#include "alloc.h"

struct round_slot {
	const void *folder;
	uint64_t epoch;              /* the slot is used only when this is the current */
};

static struct round_slot *slots;
static unsigned int slot_count;      /* a power of two, or 0 */
static unsigned int used;            /* slots of the current epoch */
static unsigned int depth;           /* open rounds */
static uint64_t epoch = 1;
static struct maildir_round_stats stats;

static void round_clear(void)
{
	epoch++;
	used = 0;
}

void maildir_round_begin(void)
{
	depth++;
	round_clear();
	stats.rounds++;
}

void maildir_round_end(void)
{
	if (depth > 0 && --depth == 0)
		round_clear();
}

void maildir_round_reset(void)
{
	depth = 0;
	round_clear();
}

static unsigned int slot_of(const void *folder)
{
	uint64_t h = (uint64_t)(uintptr_t)folder * 0x9e3779b97f4a7c15ull;
	return (unsigned int)(h >> 32) & (slot_count - 1);
}

static struct round_slot *round_find(const void *folder)
{
	for (unsigned int i = slot_of(folder); ; i = (i + 1) & (slot_count - 1)) {
		if (slots[i].epoch != epoch || slots[i].folder == folder)
			return &slots[i];
	}
}

bool maildir_round_checked(const void *folder)
{
	if (depth == 0 || used == 0)
		return false;
	struct round_slot *slot = round_find(folder);
	if (slot->epoch != epoch)
		return false;
	stats.skipped++;
	return true;
}

static void round_grow(void)
{
	struct round_slot *old = slots;
	unsigned int old_count = slot_count;
	slot_count = old_count == 0 ? 64 : old_count * 2;
	slots = i_new(struct round_slot, slot_count);   /* zeroed: epoch 0 is never current */
	for (unsigned int i = 0; i < old_count; i++) {
		if (old[i].epoch == epoch)
			*round_find(old[i].folder) = old[i];
	}
	free(old);
}

void maildir_round_mark(const void *folder)
{
	if (depth == 0)
		return;
	if ((used + 1) * 2 > slot_count)
		round_grow();
	struct round_slot *slot = round_find(folder);
	if (slot->epoch == epoch)
		return;
	slot->folder = folder;
	slot->epoch = epoch;
	used++;
}

void maildir_round_forget(const void *folder)
{
	/* rare (a folder freed inside a round): forget them all rather than delete one
	 * slot from the probe chains */
	if (depth > 0 && used > 0 && round_find(folder)->epoch == epoch)
		round_clear();
}

void maildir_round_get_stats(struct maildir_round_stats *stats_r)
{
	*stats_r = stats;
}
