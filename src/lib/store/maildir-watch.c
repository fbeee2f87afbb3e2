/* The maildir change feed (store-maildir.h): inotify on a folder's new/ and cur/ (new
 * files, renames, unlinks by anyone: pymap, Dovecot, an MTA) and on the folder itself
 * (the index, dovecot-uidlist and dovecot-keywords being replaced, or the folder being
 * deleted or renamed). Events are drained from the ioloop (one read of the queue),
 * then the watcher's callback runs and it asks store_mailbox_changes(). */
#include "store-maildir.h"
#include "alloc.h"
#include "ioloop.h"
#include "log.h"

#include <errno.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

struct maildir_watch {
	struct store_watch base;
	struct ioloop *loop;
	int fd;
	int root_wd;
	struct io *io;
	store_watch_callback_t *callback;
	void *context;
};

static bool root_event_matters(const struct inotify_event *ev)
{
	if ((ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) != 0)
		return true;
	return ev->len > 0 && (strcmp(ev->name, MAILDIR_INDEX_NAME) == 0 ||
			       strcmp(ev->name, MAILDIR_UIDLIST_NAME) == 0 ||
			       strcmp(ev->name, MAILDIR_KEYWORDS_NAME) == 0);
}

static void watch_input(void *context)
{
	struct maildir_watch *watch = context;
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool matters = false;
	for (;;) {
		ssize_t n = read(watch->fd, buf, sizeof(buf));
		if (n <= 0) {
			if (n < 0 && errno != EAGAIN && errno != EINTR)
				log_error_errno("maildir: inotify read");
			break;
		}
		for (char *p = buf; p < buf + n; ) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			if (ev->wd != watch->root_wd || root_event_matters(ev) ||
			    (ev->mask & IN_Q_OVERFLOW) != 0)
				matters = true;
			p += sizeof(*ev) + ev->len;
		}
	}
	/* the view only sets a flag: no need to coalesce further than one read */
	if (matters)
		watch->callback(watch->context);
}

struct store_watch *maildir_watch(struct store_mailbox *mbox,
				  store_watch_callback_t *callback, void *context)
{
	struct maildir_mbox *mb = &((struct maildir_mailbox *)mbox)->mb;
	struct maildir_watch *watch = i_new0(struct maildir_watch);
	watch->base.store = mbox->user->store;
	watch->loop = mbox->user->store->loop;
	watch->callback = callback;
	watch->context = context;
	watch->root_wd = -1;
	watch->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (watch->fd < 0 || watch->loop == NULL) {
		if (watch->fd < 0)
			log_error_errno("maildir: inotify_init1");
		return &watch->base;   /* no feed: the view still sees changes per command */
	}
	static const char *const subdirs[] = { "new", "cur" };
	for (unsigned int i = 0; i < 2; i++) {
		char *path = i_strdup_printf("%s/%s", mb->path, subdirs[i]);
		if (inotify_add_watch(watch->fd, path, IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM |
				      IN_DELETE | IN_DONT_FOLLOW | IN_ONLYDIR) < 0)
			log_error_errno("maildir: inotify_add_watch(%s)", path);
		free(path);
	}
	watch->root_wd = inotify_add_watch(watch->fd, mb->path, IN_MOVED_TO | IN_CLOSE_WRITE |
					   IN_DELETE_SELF | IN_MOVE_SELF | IN_DONT_FOLLOW |
					   IN_ONLYDIR);
	watch->io = io_add(watch->loop, watch->fd, IO_READ, watch_input, watch);
	return &watch->base;
}

void maildir_watch_remove(struct store_watch *_watch)
{
	struct maildir_watch *watch = (struct maildir_watch *)_watch;
	io_remove(&watch->io);
	if (watch->fd >= 0)
		close(watch->fd);
	free(watch);
}
