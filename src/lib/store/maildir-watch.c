/* The maildir change feed (store-maildir.h): tells every view of a folder that the
 * folder changed on disk (new files, renames, unlinks in new/ and cur/ by anyone:
 * pymap, Dovecot, an MTA; dovecot-uidlist or dovecot-keywords replaced; the folder
 * itself deleted or renamed; not pymap-index alone, see root_event_matters). The view then asks store_mailbox_changes().
 *
 * One inotify instance per process and ioloop, created with the first watch and closed
 * with the last one. Each watched folder has one set of watch descriptors (folder,
 * new/, cur/), shared by every watch of that folder: the folder is found by the wd
 * inotify_add_watch returns for its directory, which is the same for the same inode.
 * Events are read once and fanned out in user space, one callback per watch per read
 * batch. IN_Q_OVERFLOW calls every watch.
 *
 * When inotify is not available (fs.inotify.max_user_instances or max_user_watches
 * reached, too many open files) the folder's stamps are polled every second instead,
 * with one clear error in the log; polled folders try inotify again every 30 s.
 *
 * Watches may be removed (and added) from inside a callback: during a fan-out a
 * removed watch is only marked, and marked watches, empty folders and an empty
 * instance are released when the outermost fan-out ends. */
#include "store-maildir.h"
#include "maildir-round.h"
#include "alloc.h"
#include "ioloop.h"
#include "log.h"
#include "llist.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#define WATCH_POLL_MSECS 1000
#define WATCH_RETRY_MSECS 30000
#define WATCH_READ_MAX_ROUNDS 64
/* A change in new/ or cur/ is looked at again this long after the first event not yet
 * looked at again: after its own change the folder state lists the directory again a
 * second after the first change not yet checked (store-maildir-sync.c), so a change by
 * someone else in the same clock tick as ours reaches IDLE sessions then. */
#define WATCH_RECHECK_MSECS 1100
#define WATCH_RECHECK_TICK_MSECS 250
/* IN_MASK_ADD: adding a directory that is watched already (the same folder opened
 * again, or a directory that is also another folder's) must not take events away. */
#define WATCH_DIR_MASK (IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | \
			IN_DONT_FOLLOW | IN_ONLYDIR | IN_MASK_ADD)
#define WATCH_ROOT_MASK (IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE_SELF | IN_MOVE_SELF | \
			 IN_DONT_FOLLOW | IN_ONLYDIR | IN_MASK_ADD)

enum wdir_kind { WDIR_ROOT, WDIR_NEW, WDIR_CUR, WDIR_COUNT };
static const char *const wdir_names[WDIR_COUNT] = { NULL, "new", "cur" };

/* What a polled folder compares: new/, cur/, the uidlist and keywords (in the order of
 * maildir_folder_stamps), the folder (inode only) and the index. */
enum wstamp { WSTAMP_NEW, WSTAMP_CUR, WSTAMP_UIDLIST, WSTAMP_KEYWORDS, WSTAMP_ROOT,
	      WSTAMP_INDEX, WSTAMP_COUNT };

struct wdir {
	struct wfolder *folder;
	enum wdir_kind kind;
	int wd;                      /* -1: none */
	struct wdir *hnext;          /* ctx->wds bucket chain */
};

struct wfolder {
	struct watch_ctx *ctx;
	char *path;
	struct wfolder *prev, *next;     /* ctx->folders */
	struct wdir dirs[WDIR_COUNT];
	struct maildir_watch *watches;   /* removed ones stay linked during a fan-out */
	unsigned int live;               /* watches not removed */
	bool polling;
	bool pending;                    /* in ctx->pending */
	bool unstable;                   /* a stamp was too recent to trust */
	struct maildir_stamp stamps[WSTAMP_COUNT];
	uint64_t recheck_msecs;          /* poll the views again then (0: no) */
};

struct watch_ctx {
	struct ioloop *loop;
	pid_t pid;
	int fd;                          /* the inotify instance, -1: none */
	struct io *io;
	struct timeout *poll_to;
	struct timeout *recheck_to;      /* while a folder has recheck_msecs */
	uint64_t retry_msecs;            /* when polled folders try inotify again */
	struct wdir **buckets;           /* wd -> wdir */
	unsigned int bucket_count, wd_count;
	struct wfolder *folders;
	unsigned int polled;
	struct wfolder **pending;        /* folders with events since the last fan-out */
	unsigned int pending_count, pending_alloc;
	unsigned int dispatching;
	bool sweep;                      /* something was removed during a fan-out */
	struct watch_ctx *next;
};

struct maildir_watch {
	struct store_watch base;
	struct wfolder *folder;          /* NULL: no feed (no ioloop) */
	struct maildir_watch *prev, *next;
	store_watch_callback_t *callback;
	void *context;
	bool removed;
	bool called;                     /* due in the running fan-out */
};

static struct watch_ctx *contexts;
static bool logged_instances, logged_watches, logged_other;

/* ---- errors ---- */

/* The value of sysctl fs.inotify.<name> as text ("unknown" when unreadable). */
static const char *read_sysctl(const char *name, char buf[32])
{
	char path[128];
	snprintf(path, sizeof(path), "/proc/sys/fs/inotify/%s", name);
	FILE *f = fopen(path, "r");
	bool ok = f != NULL && fgets(buf, 32, f) != NULL;
	if (f != NULL)
		fclose(f);
	if (!ok)
		strcpy(buf, "unknown");
	buf[strcspn(buf, "\n")] = '\0';
	return buf;
}

/* One error per kind and process: with thousands of sessions the same failure would
 * otherwise fill the log. */
static void log_failure(const char *what, const char *path, int error)
{
	char value[32];
	if (error == EMFILE || error == ENFILE) {
		if (logged_instances)
			return;
		logged_instances = true;
		log_error("maildir: %s: %s: the per-user limit of inotify instances "
			  "(sysctl fs.inotify.max_user_instances = %s) or the open files "
			  "limit is reached; raise fs.inotify.max_user_instances (in a user "
			  "namespace: user.max_inotify_instances) or ulimit -n. Folders are "
			  "polled every %u ms until then (IDLE updates are late)",
			  what, strerror(error), read_sysctl("max_user_instances", value),
			  WATCH_POLL_MSECS);
	} else if (error == ENOSPC) {
		if (logged_watches)
			return;
		logged_watches = true;
		log_error("maildir: %s(%s): %s: the per-user limit of inotify watches "
			  "(sysctl fs.inotify.max_user_watches = %s) is reached; raise "
			  "fs.inotify.max_user_watches (in a user namespace: "
			  "user.max_inotify_watches). Folders are polled every %u ms until "
			  "then (IDLE updates are late)", what, path, strerror(error),
			  read_sysctl("max_user_watches", value), WATCH_POLL_MSECS);
	} else if (!logged_other) {
		logged_other = true;
		log_error("maildir: %s(%s): %s; that folder is polled every %u ms "
			  "(further such failures are not logged)", what,
			  path != NULL ? path : "", strerror(error), WATCH_POLL_MSECS);
	}
}

/* ---- wd table ---- */

static unsigned int wd_bucket(const struct watch_ctx *ctx, int wd)
{
	return ((unsigned int)wd * 2654435761u) & (ctx->bucket_count - 1);
}

static struct wdir *wd_lookup(const struct watch_ctx *ctx, int wd)
{
	if (ctx->bucket_count == 0)
		return NULL;
	for (struct wdir *d = ctx->buckets[wd_bucket(ctx, wd)]; d != NULL; d = d->hnext) {
		if (d->wd == wd)
			return d;
	}
	return NULL;
}

static void wd_insert_nogrow(struct watch_ctx *ctx, struct wdir *dir)
{
	unsigned int b = wd_bucket(ctx, dir->wd);
	dir->hnext = ctx->buckets[b];
	ctx->buckets[b] = dir;
}

static void wd_insert(struct watch_ctx *ctx, struct wdir *dir)
{
	if (ctx->wd_count >= ctx->bucket_count) {
		unsigned int old_count = ctx->bucket_count;
		struct wdir **old = ctx->buckets;
		ctx->bucket_count = old_count == 0 ? 64 : old_count * 2;
		ctx->buckets = i_reallocarray(NULL, ctx->bucket_count, sizeof(*ctx->buckets));
		memset(ctx->buckets, 0, ctx->bucket_count * sizeof(*ctx->buckets));
		for (unsigned int i = 0; i < old_count; i++) {
			for (struct wdir *d = old[i], *next; d != NULL; d = next) {
				next = d->hnext;
				wd_insert_nogrow(ctx, d);
			}
		}
		free(old);
	}
	wd_insert_nogrow(ctx, dir);
	ctx->wd_count++;
}

static void wd_delete(struct watch_ctx *ctx, struct wdir *dir)
{
	for (struct wdir **p = &ctx->buckets[wd_bucket(ctx, dir->wd)]; *p != NULL;
	     p = &(*p)->hnext) {
		if (*p == dir) {
			*p = dir->hnext;
			ctx->wd_count--;
			break;
		}
	}
	dir->wd = -1;
	dir->hnext = NULL;
}

/* ---- folders ---- */

static void folder_set_pending(struct wfolder *folder)
{
	struct watch_ctx *ctx = folder->ctx;
	if (folder->pending)
		return;
	folder->pending = true;
	if (ctx->pending_count == ctx->pending_alloc) {
		ctx->pending_alloc = ctx->pending_alloc == 0 ? 16 : ctx->pending_alloc * 2;
		ctx->pending = i_reallocarray(ctx->pending, ctx->pending_alloc,
					      sizeof(*ctx->pending));
	}
	ctx->pending[ctx->pending_count++] = folder;
}

static void folder_stamps(struct wfolder *folder,
			  struct maildir_stamp stamps_r[WSTAMP_COUNT])
{
	maildir_folder_stamps(folder->path, stamps_r);
	if (maildir_stamp_get(folder->path, &stamps_r[WSTAMP_ROOT]) < 0)
		memset(&stamps_r[WSTAMP_ROOT], 0, sizeof(stamps_r[WSTAMP_ROOT]));
	char *path = i_strdup_printf("%s/%s", folder->path, MAILDIR_INDEX_NAME);
	if (maildir_stamp_get(path, &stamps_r[WSTAMP_INDEX]) < 0)
		memset(&stamps_r[WSTAMP_INDEX], 0, sizeof(stamps_r[WSTAMP_INDEX]));
	free(path);
	/* a file moved into the folder changes its mtime (a lock file, a temp file):
	 * of the folder itself only its identity counts */
	stamps_r[WSTAMP_ROOT].size = 0;
	stamps_r[WSTAMP_ROOT].mtime_sec = stamps_r[WSTAMP_ROOT].mtime_nsec = 0;
}

/* Poll one folder: pending when a stamp changed, or when the last look saw a stamp
 * too recent to trust (a second change in the same clock tick looks unchanged). */
static void folder_poll(struct wfolder *folder)
{
	struct maildir_stamp now[WSTAMP_COUNT];
	bool changed = folder->unstable, unstable = false;
	folder_stamps(folder, now);
	for (unsigned int i = 0; i < WSTAMP_COUNT; i++) {
		if (!maildir_stamp_equal(&now[i], &folder->stamps[i]))
			changed = true;
		if (now[i].exists && i != WSTAMP_ROOT && maildir_stamp_is_recent(&now[i]))
			unstable = true;
	}
	memcpy(folder->stamps, now, sizeof(now));
	folder->unstable = unstable;
	if (changed)
		folder_set_pending(folder);
}

static void folder_rm_watches(struct wfolder *folder)
{
	struct watch_ctx *ctx = folder->ctx;
	for (unsigned int i = 0; i < WDIR_COUNT; i++) {
		struct wdir *dir = &folder->dirs[i];
		if (dir->wd < 0)
			continue;
		/* EINVAL: the kernel dropped it already (IN_IGNORED not read yet) */
		(void)inotify_rm_watch(ctx->fd, dir->wd);
		wd_delete(ctx, dir);
	}
}

/* Add the folder's wds. -1 with errno (nothing added) when one fails; 1 when the
 * folder's directory is already watched by another folder (*other_r). */
static int folder_add_watches(struct wfolder *folder, struct wfolder **other_r,
			      const char **failed_r)
{
	struct watch_ctx *ctx = folder->ctx;
	int wd = inotify_add_watch(ctx->fd, folder->path, WATCH_ROOT_MASK);
	if (wd < 0) {
		*failed_r = folder->path;
		return -1;
	}
	struct wdir *dir = wd_lookup(ctx, wd);
	if (dir != NULL && dir->kind == WDIR_ROOT) {
		*other_r = dir->folder;
		return 1;
	}
	if (dir != NULL) {   /* the folder is another folder's new/ or cur/ (a loop) */
		*failed_r = folder->path;
		errno = EEXIST;
		return -1;
	}
	folder->dirs[WDIR_ROOT].wd = wd;
	wd_insert(ctx, &folder->dirs[WDIR_ROOT]);
	for (unsigned int i = WDIR_NEW; i < WDIR_COUNT; i++) {
		char *path = i_strdup_printf("%s/%s", folder->path, wdir_names[i]);
		wd = inotify_add_watch(ctx->fd, path, WATCH_DIR_MASK);
		if (wd < 0 || wd_lookup(ctx, wd) != NULL) {
			int saved = wd < 0 ? errno : EEXIST;
			log_failure("inotify_add_watch", path, saved);
			free(path);
			folder_rm_watches(folder);
			*failed_r = NULL;
			errno = saved;
			return -1;
		}
		free(path);
		folder->dirs[i].wd = wd;
		wd_insert(ctx, &folder->dirs[i]);
	}
	return 0;
}

static struct wfolder *folder_new(struct watch_ctx *ctx, const char *path)
{
	struct wfolder *folder = i_new0(struct wfolder);
	folder->ctx = ctx;
	folder->path = i_strdup(path);
	for (unsigned int i = 0; i < WDIR_COUNT; i++) {
		folder->dirs[i].folder = folder;
		folder->dirs[i].kind = (enum wdir_kind)i;
		folder->dirs[i].wd = -1;
	}
	return folder;
}

static void folder_link(struct wfolder *folder)
{
	struct watch_ctx *ctx = folder->ctx;
	folder->next = ctx->folders;
	if (ctx->folders != NULL)
		ctx->folders->prev = folder;
	ctx->folders = folder;
}

static void poll_timeout(void *context);

static void folder_start_polling(struct wfolder *folder)
{
	struct watch_ctx *ctx = folder->ctx;
	folder->polling = true;
	folder_stamps(folder, folder->stamps);
	if (ctx->polled++ == 0) {
		ctx->poll_to = timeout_add(ctx->loop, WATCH_POLL_MSECS, poll_timeout, ctx);
		ctx->retry_msecs = ioloop_now_msecs(ctx->loop) + WATCH_RETRY_MSECS;
	}
}

static void folder_stop_polling(struct wfolder *folder)
{
	struct watch_ctx *ctx = folder->ctx;
	folder->polling = false;
	if (--ctx->polled == 0)
		timeout_remove(&ctx->poll_to);
}

static void folder_free(struct wfolder *folder)
{
	struct watch_ctx *ctx = folder->ctx;
	for (unsigned int i = 0; folder->pending && i < ctx->pending_count; i++) {
		if (ctx->pending[i] == folder) {   /* listed once at most */
			ctx->pending[i] = ctx->pending[--ctx->pending_count];
			break;
		}
	}
	if (folder->polling)
		folder_stop_polling(folder);
	folder_rm_watches(folder);
	DLLIST_REMOVE(&ctx->folders, folder);
	free(folder->path);
	free(folder);
}

/* ---- the instance ---- */

static void ctx_input(void *context);

static int ctx_open(struct watch_ctx *ctx)
{
	if (ctx->fd >= 0)
		return 0;
	ctx->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (ctx->fd < 0) {
		log_failure("inotify_init1", NULL, errno);
		return -1;
	}
	ctx->io = io_add(ctx->loop, ctx->fd, IO_READ, ctx_input, ctx);
	return 0;
}

static struct watch_ctx *ctx_get(struct ioloop *loop)
{
	pid_t pid = getpid();
	for (struct watch_ctx *ctx = contexts; ctx != NULL; ctx = ctx->next) {
		/* one made before a fork belongs to the parent: never share its fd */
		if (ctx->loop == loop && ctx->pid == pid)
			return ctx;
	}
	struct watch_ctx *ctx = i_new0(struct watch_ctx);
	ctx->loop = loop;
	ctx->pid = pid;
	ctx->fd = -1;
	ctx->next = contexts;
	contexts = ctx;
	return ctx;
}

static void ctx_free(struct watch_ctx *ctx)
{
	for (struct watch_ctx **p = &contexts; *p != NULL; p = &(*p)->next) {
		if (*p == ctx) {
			*p = ctx->next;
			break;
		}
	}
	io_remove(&ctx->io);
	timeout_remove(&ctx->poll_to);
	timeout_remove(&ctx->recheck_to);
	if (ctx->fd >= 0 && close(ctx->fd) < 0)
		log_error_errno("maildir: close(inotify)");
	free(ctx->buckets);
	free(ctx->pending);
	free(ctx);
	/* a round_end still queued is dropped with its ioloop: never leave one open */
	maildir_round_reset();
}

static void watch_unlink_free(struct wfolder *folder, struct maildir_watch *watch)
{
	DLLIST_REMOVE(&folder->watches, watch);
	free(watch);
}

/* Release what was removed during fan-outs (outermost fan-out only). */
static void ctx_sweep(struct watch_ctx *ctx)
{
	ctx->sweep = false;
	for (struct wfolder *folder = ctx->folders, *fnext; folder != NULL; folder = fnext) {
		fnext = folder->next;
		for (struct maildir_watch *w = folder->watches, *next; w != NULL; w = next) {
			next = w->next;
			if (w->removed)
				watch_unlink_free(folder, w);
		}
		if (folder->live == 0)
			folder_free(folder);
	}
	if (ctx->folders == NULL)
		ctx_free(ctx);
}

static void round_begin(void *context)
{
	(void)context;
	maildir_round_begin();
}

static void round_end(void *context)
{
	(void)context;
	maildir_round_end();
}

/* Call each watch of each pending folder once. Watches removed meanwhile are skipped;
 * watches added meanwhile were not due. The views push from deferred callbacks: the
 * ones they queue are bracketed by a push round (maildir-round.h), so that the folder
 * state is compared with the disk once for all of them, not by every view. */
static void ctx_fan_out(struct watch_ctx *ctx)
{
	struct wfolder **pending = ctx->pending;
	unsigned int count = ctx->pending_count;
	if (count == 0)
		return;
	ctx->pending = NULL;
	ctx->pending_count = ctx->pending_alloc = 0;
	ioloop_defer(ctx->loop, round_begin, NULL);
	ctx->dispatching++;
	for (unsigned int i = 0; i < count; i++) {
		pending[i]->pending = false;
		for (struct maildir_watch *w = pending[i]->watches; w != NULL; w = w->next)
			w->called = !w->removed;
	}
	for (unsigned int i = 0; i < count; i++) {
		for (struct maildir_watch *w = pending[i]->watches; w != NULL; w = w->next) {
			if (w->called && !w->removed) {
				w->called = false;
				w->callback(w->context);
			}
		}
	}
	free(pending);
	ioloop_defer(ctx->loop, round_end, NULL);
	if (--ctx->dispatching == 0 && ctx->sweep)
		ctx_sweep(ctx);
}

static bool root_event_matters(const struct inotify_event *ev)
{
	if ((ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) != 0)
		return true;
	/* Not pymap-index: every change other views must see also changes new/, cur/,
	 * the uidlist or the keywords; a write of the index alone (a \Recent claim)
	 * would make every view of the folder poll again for nothing. */
	return ev->len > 0 && (strcmp(ev->name, MAILDIR_UIDLIST_NAME) == 0 ||
			       strcmp(ev->name, MAILDIR_KEYWORDS_NAME) == 0);
}

static void recheck_timeout(void *context)
{
	struct watch_ctx *ctx = context;
	uint64_t now = ioloop_now_msecs(ctx->loop);
	bool waiting = false;
	for (struct wfolder *folder = ctx->folders; folder != NULL; folder = folder->next) {
		if (folder->recheck_msecs == 0)
			continue;
		if (folder->recheck_msecs > now) {
			waiting = true;
		} else {
			folder->recheck_msecs = 0;
			if (folder->live > 0)
				folder_set_pending(folder);
		}
	}
	if (!waiting)
		timeout_remove(&ctx->recheck_to);
	ctx_fan_out(ctx);
}

static void folder_recheck_later(struct wfolder *folder)
{
	struct watch_ctx *ctx = folder->ctx;
	if (folder->recheck_msecs != 0)
		return;   /* pending: later events do not put it off (the state's deadline
			   * is a second after the first unchecked change, too) */
	folder->recheck_msecs = ioloop_now_msecs(ctx->loop) + WATCH_RECHECK_MSECS;
	if (ctx->recheck_to == NULL)
		ctx->recheck_to = timeout_add(ctx->loop, WATCH_RECHECK_TICK_MSECS,
					      recheck_timeout, ctx);
}

static void ctx_event(struct watch_ctx *ctx, const struct inotify_event *ev)
{
	if ((ev->mask & IN_Q_OVERFLOW) != 0) {
		log_warning("maildir: inotify queue overflow (sysctl "
			    "fs.inotify.max_queued_events): every view resynchronises");
		for (struct wfolder *folder = ctx->folders; folder != NULL; folder = folder->next)
			folder_set_pending(folder);
		return;
	}
	struct wdir *dir = wd_lookup(ctx, ev->wd);
	if (dir == NULL)
		return;   /* a folder removed since */
	if (dir->kind == WDIR_ROOT && !root_event_matters(ev))
		return;
	if ((ev->mask & IN_IGNORED) != 0)
		wd_delete(ctx, dir);   /* the directory is gone: the kernel dropped the wd */
	else if (dir->kind != WDIR_ROOT)
		folder_recheck_later(dir->folder);
	folder_set_pending(dir->folder);
}

static void ctx_input(void *context)
{
	struct watch_ctx *ctx = context;
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	/* bounded: a busy queue is read again in the next round */
	for (unsigned int round = 0; round < WATCH_READ_MAX_ROUNDS; round++) {
		ssize_t n = read(ctx->fd, buf, sizeof(buf));
		if (n <= 0) {
			if (n < 0 && errno != EAGAIN && errno != EINTR)
				log_error_errno("maildir: inotify read");
			break;
		}
		for (char *p = buf; p < buf + n; ) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			ctx_event(ctx, ev);
			p += sizeof(*ev) + ev->len;
		}
	}
	ctx_fan_out(ctx);
}

/* Give polled folders another chance at inotify (the limit may have been raised or
 * other processes may have gone). */
static void ctx_retry_inotify(struct watch_ctx *ctx)
{
	if (ctx_open(ctx) < 0)
		return;
	for (struct wfolder *folder = ctx->folders; folder != NULL; folder = folder->next) {
		if (!folder->polling)
			continue;
		struct wfolder *other = NULL;
		const char *failed = NULL;
		int ret = folder_add_watches(folder, &other, &failed);
		if (ret < 0) {
			if (errno == ENOSPC)
				break;   /* the others would fail alike */
			continue;
		}
		if (ret == 0) {
			folder_stop_polling(folder);
			folder_set_pending(folder);   /* changes between the last poll and now */
		}
	}
}

static void poll_timeout(void *context)
{
	struct watch_ctx *ctx = context;
	for (struct wfolder *folder = ctx->folders; folder != NULL; folder = folder->next) {
		if (folder->polling && folder->live > 0)
			folder_poll(folder);
	}
	if (ctx->dispatching == 0 && ioloop_now_msecs(ctx->loop) >= ctx->retry_msecs) {
		ctx->retry_msecs = ioloop_now_msecs(ctx->loop) + WATCH_RETRY_MSECS;
		ctx_retry_inotify(ctx);
	}
	ctx_fan_out(ctx);
}

/* ---- the API ---- */

static struct wfolder *folder_find_polled(struct watch_ctx *ctx, const char *path)
{
	struct maildir_stamp st;
	if (maildir_stamp_get(path, &st) < 0 || !st.exists)
		return NULL;
	for (struct wfolder *folder = ctx->folders; folder != NULL; folder = folder->next) {
		if (folder->polling && st.ino == folder->stamps[WSTAMP_ROOT].ino &&
		    strcmp(folder->path, path) == 0)
			return folder;
	}
	return NULL;
}

/* The folder watching path: shared when its directory is watched already, else new
 * (with inotify, or polled when inotify fails). */
static struct wfolder *folder_get(struct watch_ctx *ctx, const char *path)
{
	struct wfolder *folder = folder_new(ctx, path), *other = NULL;
	int ret = -1;
	if (ctx_open(ctx) == 0) {
		const char *failed = NULL;
		ret = folder_add_watches(folder, &other, &failed);
		if (ret < 0 && failed != NULL)
			log_failure("inotify_add_watch", failed, errno);
	}
	if (ret < 0)
		other = folder_find_polled(ctx, path);
	if (other != NULL) {
		free(folder->path);
		free(folder);
		return other;
	}
	folder_link(folder);
	if (ret < 0)
		folder_start_polling(folder);
	return folder;
}

struct store_watch *maildir_watch(struct store_mailbox *mbox,
				  store_watch_callback_t *callback, void *context)
{
	struct maildir_watch *watch = i_new0(struct maildir_watch);
	struct store_error error;
	char *path;
	watch->base.store = mbox->user->store;
	watch->callback = callback;
	watch->context = context;
	struct ioloop *loop = mbox->user->store->loop;
	if (loop == NULL)
		return &watch->base;   /* no feed: the view still sees changes per command */
	/* the opened mailbox has this name: its directory */
	if (maildir_folder_path((struct maildir_user *)mbox->user, mbox->name, &path,
				&error) < 0) {
		log_error("maildir: watch %s: %s", mbox->name, error.message);
		return &watch->base;
	}
	struct watch_ctx *ctx = ctx_get(loop);
	struct wfolder *folder = folder_get(ctx, path);
	free(path);
	watch->folder = folder;
	watch->next = folder->watches;
	if (folder->watches != NULL)
		folder->watches->prev = watch;
	folder->watches = watch;
	folder->live++;
	return &watch->base;
}

void maildir_watch_remove(struct store_watch *_watch)
{
	struct maildir_watch *watch = (struct maildir_watch *)_watch;
	struct wfolder *folder = watch->folder;
	if (folder == NULL) {
		free(watch);
		return;
	}
	struct watch_ctx *ctx = folder->ctx;
	watch->removed = true;
	folder->live--;
	if (ctx->dispatching > 0) {
		ctx->sweep = true;   /* a fan-out may still walk past it */
		return;
	}
	watch_unlink_free(folder, watch);
	if (folder->live == 0) {
		folder_free(folder);
		if (ctx->folders == NULL)
			ctx_free(ctx);
	}
}
