#ifndef PYMAP_STORE_DICT_DEMO_H
#define PYMAP_STORE_DICT_DEMO_H
/* Loading demo mailboxes into the dict backend from a directory in the Python
 * pymap's demo layout (pymap-inventory.md 3.1):
 *   DIR/INBOX/, DIR/<Mailbox>/ ...   one folder per mailbox; INBOX first, then the
 *                                    others in sorted name order
 *   <folder>/<file>                  one message per regular file, in sorted name order:
 *                                    line 1 flags (space separated; \Recent marks the
 *                                    message recent), line 2 internal date as a Unix
 *                                    timestamp (may have a fraction), then the raw message
 *   <folder>/.readonly               marks the mailbox read-only
 * Called by the dict backend when the demo user's data is first created. */
#include "store.h"

int dict_demo_load(struct store_user *user, const char *dir, struct store_error *error_r);

/* Hooks into the dict backend for what the public store API has no verbs for. */
void dict_demo_set_readonly(struct store_user *user, const char *mailbox);
void dict_demo_keep_recent(struct store_user *user, const char *mailbox, uint32_t uid,
			   bool recent);

#endif
