#ifndef PYMAP_LLIST_H
#define PYMAP_LLIST_H
/* Doubly linked lists threaded through the items' own prev/next fields, with the
 * list head a pointer to the first item: the unlink every such list needs, written
 * once. head is the address of the head pointer. The item's own prev/next are left
 * as they were (a caller walking the list may still read them). */
#define DLLIST_REMOVE(head, item) \
	do { \
		if ((item)->prev != NULL) \
			(item)->prev->next = (item)->next; \
		else \
			*(head) = (item)->next; \
		if ((item)->next != NULL) \
			(item)->next->prev = (item)->prev; \
	} while (0)

#endif
