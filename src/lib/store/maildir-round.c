/* Folders checked in the current push round (maildir-round.h): each folder keeps the
 * epoch of the round it was last checked in, so starting or ending a round forgets
 * every check without touching any folder. */
#include "maildir-round.h"

static unsigned int depth;           /* open rounds */
static uint64_t epoch = 1;           /* 0 (a new folder's mark) is never current */
static struct maildir_round_stats stats;

void maildir_round_begin(void)
{
	depth++;
	epoch++;
	stats.rounds++;
}

void maildir_round_end(void)
{
	if (depth > 0 && --depth == 0)
		epoch++;
}

void maildir_round_reset(void)
{
	depth = 0;
	epoch++;
}

bool maildir_round_checked(const uint64_t *mark)
{
	if (depth == 0 || *mark != epoch)
		return false;
	stats.skipped++;
	return true;
}

void maildir_round_mark(uint64_t *mark)
{
	if (depth > 0)
		*mark = epoch;
}

void maildir_round_get_stats(struct maildir_round_stats *stats_r)
{
	*stats_r = stats;
}
