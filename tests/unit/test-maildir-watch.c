/* Unit tests for the maildir change feed (maildir-watch.c) through the store API: all
 * watches of a process share one inotify instance and one set of watch descriptors
 * per folder (counted in /proc/self/fd and /proc/self/fdinfo), a delivery into new/
 * reaches each watch of that folder exactly once and no other folder's, watches
 * removed or added from inside a callback, a deleted and re-created folder, and the
 * polling fallback when inotify_init1 fails (max_user_instances reached in a child
 * process's own user namespace, or out of file descriptors) or inotify_add_watch fails
 * (max_user_watches reached the same way; a folder without cur/); the views' polls
 * after one event compare the folder with the disk once (maildir-round.h). */
#include "test-store-util.h"
#include "store/maildir-round.h"
#include "ioloop.h"
#include "alloc.h"

#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define WAIT_MAX_MSECS 5000

static struct ioloop *loop;

struct counter {
	unsigned int calls;
	struct store_watch **victims[4];     /* removed by the callback */
	unsigned int victim_count;
	struct store_mailbox *add_on;        /* watched by the callback (into added) */
	struct store_watch *added;
	struct counter *added_counter;
};

static void counter_cb(void *context)
{
	struct counter *c = context;
	c->calls++;
	for (unsigned int i = 0; i < c->victim_count; i++)
		store_watch_remove(c->victims[i]);
	if (c->add_on != NULL && c->added == NULL)
		c->added = store_mailbox_watch(c->add_on, counter_cb, c->added_counter);
}

static struct store *new_store(const char *name)
{
	if (loop == NULL)
		loop = ioloop_create();   /* one for the whole run, like a worker's */
	char *dir = i_strdup_printf("%s/%s", test_tmpdir(), name);
	TEST_ASSERT_INT_EQ(mkdir(dir, 0700), 0);
	struct store *store = test_maildir_store(dir, loop);
	free(dir);
	return store;
}

static struct store_mailbox *open_mbox(struct store_user *user, const char *name)
{
	struct store_mailbox *mbox = NULL;
	struct store_error error;
	if (store_mailbox_open(user, name, false, &mbox, &error) < 0)
		test_fail(__FILE__, __LINE__, "open %s: %s", name, error.message);
	return mbox;
}

static void create_mbox(struct store_user *user, const char *name)
{
	char id[STORE_ID_MAX_BYTES];
	struct store_error error;
	if (store_create_mailbox(user, name, id, &error) < 0)
		test_fail(__FILE__, __LINE__, "create %s: %s", name, error.message);
}

/* Deliver like an MTA: write into tmp/, rename into new/. */
static void deliver(const char *folder_dir, const char *name)
{
	char *tmp = i_strdup_printf("%s/tmp/%s", folder_dir, name);
	char *dest = i_strdup_printf("%s/new/%s", folder_dir, name);
	FILE *f = fopen(tmp, "w");
	TEST_ASSERT(f != NULL);
	if (f != NULL) {
		fputs("From: a@example.org\nSubject: hi\n\nbody\n", f);
		fclose(f);
	}
	TEST_ASSERT_INT_EQ(rename(tmp, dest), 0);
	free(tmp);
	free(dest);
}

/* Run the loop until *calls reaches want (bounded wait, not a timing assertion). */
static void run_until(const unsigned int *calls, unsigned int want)
{
	for (unsigned int waited = 0; *calls < want && waited < WAIT_MAX_MSECS; waited += 20)
		ioloop_run_once(loop, 20);
}

/* A few more rounds: anything still queued is delivered. */
static void drain(void)
{
	for (unsigned int i = 0; i < 5; i++)
		ioloop_run_once(loop, 20);
}

/* The inotify instances of this process and their watch descriptors in total. */
static unsigned int count_inotify(unsigned int *wds_r)
{
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *d;
	unsigned int instances = 0, wds = 0;
	char path[300], target[64], line[256];
	while (dir != NULL && (d = readdir(dir)) != NULL) {
		snprintf(path, sizeof(path), "/proc/self/fd/%s", d->d_name);
		ssize_t n = readlink(path, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (strcmp(target, "anon_inode:inotify") != 0)
			continue;
		instances++;
		snprintf(path, sizeof(path), "/proc/self/fdinfo/%s", d->d_name);
		FILE *f = fopen(path, "r");
		while (f != NULL && fgets(line, sizeof(line), f) != NULL)
			wds += strncmp(line, "inotify wd:", 11) == 0;
		if (f != NULL)
			fclose(f);
	}
	if (dir != NULL)
		closedir(dir);
	if (wds_r != NULL)
		*wds_r = wds;
	return instances;
}

static void test_shared_instance(void)
{
	struct store *store = new_store("share");
	struct store_user *user = test_store_user(store, "share");
	create_mbox(user, "Work");
	struct store_mailbox *in[3], *work[2];
	struct store_watch *win[3], *wwork[2];
	struct counter c = { 0 };
	unsigned int wds = 99;
	TEST_ASSERT_INT_EQ(count_inotify(NULL), 0);
	for (unsigned int i = 0; i < 3; i++)
		in[i] = open_mbox(user, "INBOX");
	for (unsigned int i = 0; i < 2; i++)
		work[i] = open_mbox(user, "Work");
	for (unsigned int i = 0; i < 3; i++)
		win[i] = store_mailbox_watch(in[i], counter_cb, &c);
	for (unsigned int i = 0; i < 2; i++)
		wwork[i] = store_mailbox_watch(work[i], counter_cb, &c);
	/* one instance; folder, new/ and cur/ of each of the two folders */
	TEST_ASSERT_INT_EQ(count_inotify(&wds), 1);
	TEST_ASSERT_UINT_EQ(wds, 6);
	store_watch_remove(&win[0]);
	TEST_ASSERT(win[0] == NULL);
	TEST_ASSERT_INT_EQ(count_inotify(&wds), 1);
	TEST_ASSERT_UINT_EQ(wds, 6);
	store_watch_remove(&win[1]);
	store_watch_remove(&win[2]);
	TEST_ASSERT_INT_EQ(count_inotify(&wds), 1);
	TEST_ASSERT_UINT_EQ(wds, 3);
	store_watch_remove(&wwork[0]);
	store_watch_remove(&wwork[1]);
	TEST_ASSERT_INT_EQ(count_inotify(&wds), 0);
	/* the instance comes back with the next watch */
	win[0] = store_mailbox_watch(in[0], counter_cb, &c);
	TEST_ASSERT_INT_EQ(count_inotify(&wds), 1);
	TEST_ASSERT_UINT_EQ(wds, 3);
	store_watch_remove(&win[0]);
	TEST_ASSERT_INT_EQ(count_inotify(NULL), 0);
	for (unsigned int i = 0; i < 3; i++)
		store_mailbox_close(&in[i]);
	for (unsigned int i = 0; i < 2; i++)
		store_mailbox_close(&work[i]);
	store_user_close(&user);
	store_destroy(&store);
}

static void test_delivery_once(void)
{
	struct store *store = new_store("once");
	struct store_user *user = test_store_user(store, "once");
	create_mbox(user, "Work");
	char *inbox_dir = i_strdup_printf("%s/once/once", test_tmpdir());
	char *work_dir = i_strdup_printf("%s/.Work", inbox_dir);
	struct store_mailbox *in[3], *work = open_mbox(user, "Work");
	struct store_watch *w[3], *ww;
	struct counter c[3] = { { 0 } }, cw = { 0 };
	for (unsigned int i = 0; i < 3; i++)
		in[i] = open_mbox(user, "INBOX");
	for (unsigned int i = 0; i < 3; i++)
		w[i] = store_mailbox_watch(in[i], counter_cb, &c[i]);
	ww = store_mailbox_watch(work, counter_cb, &cw);
	drain();
	TEST_ASSERT_UINT_EQ(c[0].calls + c[1].calls + c[2].calls + cw.calls, 0);
	/* two deliveries and a move to cur/: one batch of events, one call each */
	deliver(inbox_dir, "1.M1P1.host");
	deliver(inbox_dir, "2.M2P1.host");
	char *from = i_strdup_printf("%s/new/1.M1P1.host", inbox_dir);
	char *to = i_strdup_printf("%s/cur/1.M1P1.host:2,S", inbox_dir);
	TEST_ASSERT_INT_EQ(rename(from, to), 0);
	run_until(&c[0].calls, 1);
	run_until(&c[2].calls, 1);
	drain();
	for (unsigned int i = 0; i < 3; i++)
		TEST_ASSERT_UINT_EQ(c[i].calls, 1);
	TEST_ASSERT_UINT_EQ(cw.calls, 0);
	/* the other folder: only its watch */
	deliver(work_dir, "3.M3P1.host");
	run_until(&cw.calls, 1);
	drain();
	TEST_ASSERT_UINT_EQ(cw.calls, 1);
	for (unsigned int i = 0; i < 3; i++)
		TEST_ASSERT_UINT_EQ(c[i].calls, 1);
	/* a file in tmp/ or the folder's own lock file is not a change */
	char *lock = i_strdup_printf("%s/dovecot-uidlist.lock", inbox_dir);
	char *tmp = i_strdup_printf("%s/tmp/4.M4P1.host", inbox_dir);
	FILE *f = fopen(lock, "w");
	if (f != NULL)
		fclose(f);
	f = fopen(tmp, "w");
	if (f != NULL)
		fclose(f);
	TEST_ASSERT_INT_EQ(unlink(lock), 0);
	drain();
	TEST_ASSERT_UINT_EQ(c[0].calls, 1);
	for (unsigned int i = 0; i < 3; i++)
		store_watch_remove(&w[i]);
	store_watch_remove(&ww);
	for (unsigned int i = 0; i < 3; i++)
		store_mailbox_close(&in[i]);
	store_mailbox_close(&work);
	store_user_close(&user);
	store_destroy(&store);
	free(from); free(to); free(lock); free(tmp); free(inbox_dir); free(work_dir);
}

/* A view that polls from a deferred callback after its watch fires, as IDLE does. */
struct poller {
	struct store_mailbox *mbox;
	uint64_t modseq;
	unsigned int polls, appends, errors;
};

static void poller_poll(void *context)
{
	struct poller *p = context;
	struct store_changes *changes;
	struct store_error error;
	p->polls++;
	if (store_mailbox_changes(p->mbox, p->modseq, &changes, &error) <= 0) {
		p->errors++;
		return;
	}
	for (unsigned int i = 0; i < changes->count; i++)
		p->appends += changes->changes[i].kind == STORE_CHANGE_APPEND;
	p->modseq = changes->modseq;
	store_changes_free(&changes);
}

static void poller_cb(void *context)
{
	ioloop_defer(loop, poller_poll, context);
}

static uint64_t mbox_modseq(struct store_mailbox *mbox)
{
	struct store_snapshot *snap;
	struct store_error error;
	if (store_mailbox_snapshot(mbox, &snap, &error) < 0) {
		test_fail(__FILE__, __LINE__, "snapshot: %s", error.message);
		return 0;
	}
	uint64_t modseq = snap->modseq;
	store_snapshot_free(&snap);
	return modseq;
}

/* After one delivery the views' deferred polls compare the shared folder with the
 * disk once (one push round), every view still gets the new message; outside a
 * round every call checks, so a change whose event was not read yet is seen by the
 * next call. */
static void test_push_round_checks_once(void)
{
	struct store *store = new_store("round");
	struct store_user *user = test_store_user(store, "round");
	char *inbox_dir = i_strdup_printf("%s/round/round", test_tmpdir());
	struct poller p[4];
	struct store_watch *w[4];
	struct maildir_round_stats before, after;
	memset(p, 0, sizeof(p));
	for (unsigned int i = 0; i < 4; i++) {
		p[i].mbox = open_mbox(user, "INBOX");
		p[i].modseq = mbox_modseq(p[i].mbox);
		w[i] = store_mailbox_watch(p[i].mbox, poller_cb, &p[i]);
	}
	drain();
	maildir_round_get_stats(&before);
	deliver(inbox_dir, "1.M1P1.host");
	run_until(&p[3].polls, 1);
	run_until(&p[0].polls, 1);
	drain();
	maildir_round_get_stats(&after);
	unsigned int polls = 0;
	for (unsigned int i = 0; i < 4; i++) {
		/* a second round follows when the first poll's rescan rewrote the uidlist */
		TEST_ASSERT(p[i].polls >= 1 && p[i].polls <= 2);
		TEST_ASSERT_UINT_EQ(p[i].polls, p[0].polls);
		TEST_ASSERT_UINT_EQ(p[i].appends, 1);
		TEST_ASSERT_UINT_EQ(p[i].errors, 0);
		polls += p[i].polls;
	}
	TEST_ASSERT_UINT_EQ(after.rounds - before.rounds, p[0].polls);
	/* four polls per round: the first checks, the other three skip */
	TEST_ASSERT_UINT_EQ(after.skipped - before.skipped, polls - p[0].polls);
	/* outside a round: a delivery whose inotify event is still unread is seen by the
	 * next call, and nothing is skipped */
	deliver(inbox_dir, "2.M2P1.host");
	poller_poll(&p[0]);
	TEST_ASSERT_UINT_EQ(p[0].appends, 2);
	poller_poll(&p[1]);
	TEST_ASSERT_UINT_EQ(p[1].appends, 2);
	maildir_round_get_stats(&before);
	TEST_ASSERT_UINT_EQ(before.skipped, after.skipped);
	for (unsigned int i = 0; i < 4; i++) {
		store_watch_remove(&w[i]);
		store_mailbox_close(&p[i].mbox);
	}
	drain();
	store_user_close(&user);
	store_destroy(&store);
	free(inbox_dir);
}

/* Watches are called newest first. The newest removes the other two before they are
 * called and adds a new watch, which is not due in this batch; then one removes every
 * watch of the process (the instance goes away at the end of the fan-out). */
static void test_remove_in_callback(void)
{
	struct store *store = new_store("cbremove");
	struct store_user *user = test_store_user(store, "cbremove");
	char *dir = i_strdup_printf("%s/cbremove/cbremove", test_tmpdir());
	struct store_mailbox *mbox = open_mbox(user, "INBOX");
	struct counter a = { 0 }, b = { 0 }, c = { 0 }, d = { 0 };
	struct store_watch *wa = store_mailbox_watch(mbox, counter_cb, &a);
	struct store_watch *wb = store_mailbox_watch(mbox, counter_cb, &b);
	struct store_watch *wc = store_mailbox_watch(mbox, counter_cb, &c);
	/* each of them would remove the others: whoever runs first wins */
	a.victims[0] = &wb; a.victims[1] = &wc; a.victim_count = 2;
	b.victims[0] = &wa; b.victims[1] = &wc; b.victim_count = 2;
	c.victims[0] = &wa; c.victims[1] = &wb; c.victim_count = 2;
	c.add_on = mbox;
	c.added_counter = &d;
	drain();
	deliver(dir, "1.M1P1.host");
	run_until(&c.calls, 1);
	drain();
	TEST_ASSERT_UINT_EQ(a.calls + b.calls + c.calls, 1);
	TEST_ASSERT_UINT_EQ(c.calls, 1);
	TEST_ASSERT(wa == NULL && wb == NULL && wc != NULL && c.added != NULL);
	TEST_ASSERT_UINT_EQ(d.calls, 0);
	/* next batch: c and the added watch; c now removes itself and the added one */
	c.victims[0] = &wc; c.victims[1] = &c.added; c.victim_count = 2;
	c.add_on = NULL;
	deliver(dir, "2.M2P1.host");
	run_until(&c.calls, 2);
	drain();
	TEST_ASSERT_UINT_EQ(c.calls, 2);
	TEST_ASSERT_UINT_EQ(d.calls, 1);   /* the added one ran first (newest) */
	TEST_ASSERT(wc == NULL && c.added == NULL);
	TEST_ASSERT_INT_EQ(count_inotify(NULL), 0);
	deliver(dir, "3.M3P1.host");
	drain();
	TEST_ASSERT_UINT_EQ(c.calls + d.calls, 3);
	store_mailbox_close(&mbox);
	store_user_close(&user);
	store_destroy(&store);
	free(dir);
}

/* A deleted folder wakes its watch; a new folder of that name (perhaps on the same
 * inode number) gets its own watch descriptors. */
static void test_folder_recreated(void)
{
	struct store *store = new_store("recreate");
	struct store_user *user = test_store_user(store, "recreate");
	char *dir = i_strdup_printf("%s/recreate/recreate/.Old", test_tmpdir());
	struct store_error error;
	struct counter c1 = { 0 }, c2 = { 0 };
	unsigned int wds = 0;
	create_mbox(user, "Old");
	struct store_mailbox *old = open_mbox(user, "Old");
	struct store_watch *w1 = store_mailbox_watch(old, counter_cb, &c1);
	drain();
	TEST_ASSERT_INT_EQ(store_delete_mailbox(user, "Old", &error), 0);
	run_until(&c1.calls, 1);
	TEST_ASSERT(c1.calls >= 1);
	create_mbox(user, "Old");
	struct store_mailbox *again = open_mbox(user, "Old");
	struct store_watch *w2 = store_mailbox_watch(again, counter_cb, &c2);
	TEST_ASSERT_INT_EQ(count_inotify(&wds), 1);
	TEST_ASSERT_UINT_EQ(wds, 3);   /* the old folder's are gone with it */
	drain();
	unsigned int before = c1.calls;
	c2.calls = 0;
	deliver(dir, "1.M1P1.host");
	run_until(&c2.calls, 1);
	drain();
	TEST_ASSERT_UINT_EQ(c2.calls, 1);
	TEST_ASSERT_UINT_EQ(c1.calls, before);
	store_watch_remove(&w1);
	store_watch_remove(&w2);
	TEST_ASSERT_INT_EQ(count_inotify(NULL), 0);
	store_mailbox_close(&old);
	store_mailbox_close(&again);
	store_user_close(&user);
	store_destroy(&store);
	free(dir);
}

/* No cur/: inotify_add_watch fails for it, the folder's other wds are taken back and
 * the folder is polled; a delivery still arrives. */
static void test_fallback_add_watch(void)
{
	struct store *store = new_store("nocur");
	struct store_user *user = test_store_user(store, "nocur");
	char *dir = i_strdup_printf("%s/nocur/nocur", test_tmpdir());
	char *cur = i_strdup_printf("%s/cur", dir);
	struct store_mailbox *mbox = open_mbox(user, "INBOX");
	struct counter c1 = { 0 }, c2 = { 0 };
	unsigned int wds = 99;
	TEST_ASSERT_INT_EQ(rmdir(cur), 0);
	struct store_watch *w1 = store_mailbox_watch(mbox, counter_cb, &c1);
	struct store_watch *w2 = store_mailbox_watch(mbox, counter_cb, &c2);
	TEST_ASSERT_INT_EQ(count_inotify(&wds), 1);
	TEST_ASSERT_UINT_EQ(wds, 0);
	drain();
	deliver(dir, "1.M1P1.host");
	run_until(&c1.calls, 1);
	run_until(&c2.calls, 1);
	/* at least once each (a change in the same clock tick is reported twice) */
	TEST_ASSERT(c1.calls >= 1 && c1.calls <= 2);
	TEST_ASSERT(c2.calls >= 1 && c2.calls <= 2);
	store_watch_remove(&w1);
	store_watch_remove(&w2);
	TEST_ASSERT_INT_EQ(count_inotify(NULL), 0);
	store_mailbox_close(&mbox);
	store_user_close(&user);
	store_destroy(&store);
	free(cur);
	free(dir);
}

/* Lower an inotify limit for this process only: a new user namespace has its own
 * /proc/sys/user/max_inotify_{instances,watches} (the kernel's per-user counts behind
 * fs.inotify.max_user_*), so the real limit is reached without touching the machine's.
 * -1 when user namespaces are not available. */
static int limit_inotify(const char *name, const char *value)
{
	char path[96];
	if (unshare(CLONE_NEWUSER) < 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/sys/user/%s", name);
	int fd = open(path, O_WRONLY);
	if (fd < 0)
		return -1;
	ssize_t ret = write(fd, value, strlen(value));
	close(fd);
	return ret < 0 ? -1 : 0;
}

/* Without user namespaces: out of file descriptors, inotify_init1 fails with EMFILE
 * as well (after this, no descriptor can be made). */
static int exhaust_fds(void)
{
	int lowest = dup(0);
	if (lowest < 0)
		return -1;
	close(lowest);
	struct rlimit rl = { (rlim_t)lowest, (rlim_t)lowest };
	return setrlimit(RLIMIT_NOFILE, &rl) < 0 || dup(0) >= 0 ? -1 : 0;
}

enum child_mode { CHILD_NO_INSTANCE, CHILD_NO_WATCHES };

/* The child: one user, INBOX and Work watched twice each, with inotify limited as mode
 * says; a delivery to each folder. 0 when every watch saw its folder's delivery (once
 * exactly when inotify watches the folder), 1-5 otherwise, 77 when the limit could
 * not be set up. */
static int fallback_child(const char *name, enum child_mode mode, const char *log_path)
{
	loop = ioloop_create();   /* not the parent's epoll set */
	struct store *store = new_store(name);
	struct store_user *user = test_store_user(store, name);
	create_mbox(user, "Work");
	char *dir = i_strdup_printf("%s/%s/%s", test_tmpdir(), name, name);
	char *work_dir = i_strdup_printf("%s/.Work", dir);
	struct store_mailbox *in = open_mbox(user, "INBOX"), *work = open_mbox(user, "Work");
	struct counter c[4] = { { 0 } };
	struct store_watch *w[4];
	int log_fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (log_fd < 0 || dup2(log_fd, STDERR_FILENO) < 0)
		return 1;
	close(log_fd);
	if (mode == CHILD_NO_INSTANCE && limit_inotify("max_inotify_instances", "0") < 0 &&
	    exhaust_fds() < 0)
		return 77;
	/* room for INBOX's three wds, not for Work's */
	if (mode == CHILD_NO_WATCHES && limit_inotify("max_inotify_watches", "4") < 0)
		return 77;
	for (unsigned int i = 0; i < 4; i++)
		w[i] = store_mailbox_watch(i < 2 ? in : work, counter_cb, &c[i]);
	drain();
	if (c[0].calls + c[1].calls + c[2].calls + c[3].calls != 0)
		return 2;
	deliver(dir, "1.M1P1.host");
	deliver(work_dir, "2.M2P1.host");
	for (unsigned int i = 0; i < 4; i++)
		run_until(&c[i].calls, 1);
	drain();
	int ret = 0;
	for (unsigned int i = 0; i < 4; i++) {
		/* polled: a change in the same clock tick as the poll is reported twice */
		bool polled = mode == CHILD_NO_INSTANCE || i >= 2;
		if (c[i].calls < 1 || c[i].calls > (polled ? 2u : 1u))
			ret = 3 + (int)i;
	}
	for (unsigned int i = 0; i < 4; i++)
		store_watch_remove(&w[i]);
	store_mailbox_close(&in);
	store_mailbox_close(&work);
	return ret;
}

/* Run fallback_child in a child process; the lines of its log naming sysctl. */
static unsigned int run_fallback(const char *name, enum child_mode mode, const char *sysctl,
				 unsigned int *lines_r)
{
	char *log_path = i_strdup_printf("%s/%s.log", test_tmpdir(), name);
	char line[1024];
	unsigned int named = 0;
	fflush(NULL);
	pid_t pid = fork();
	TEST_ASSERT(pid >= 0);
	if (pid == 0)
		_exit(fallback_child(name, mode, log_path));   /* _exit: the parent owns tmpdir */
	int status = 0;
	TEST_ASSERT_INT_EQ(waitpid(pid, &status, 0), pid);
	TEST_ASSERT(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77)
		fprintf(stderr, "note: %s: could not limit inotify here, not tested\n", name);
	else
		TEST_ASSERT_INT_EQ(WEXITSTATUS(status), 0);
	*lines_r = 0;
	FILE *f = fopen(log_path, "r");
	while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
		(*lines_r)++;
		named += strstr(line, sysctl) != NULL;
	}
	if (f != NULL)
		fclose(f);
	free(log_path);
	return WEXITSTATUS(status) == 77 ? 1 : named;
}

/* No inotify instance (fs.inotify.max_user_instances reached): every folder polled,
 * one error naming the sysctl, not one per watch. */
static void test_fallback_no_instance(void)
{
	unsigned int lines = 0;
	TEST_ASSERT_UINT_EQ(run_fallback("noinst", CHILD_NO_INSTANCE,
					 "fs.inotify.max_user_instances", &lines), 1);
	TEST_ASSERT(lines <= 1);
}

/* Out of inotify watches (fs.inotify.max_user_watches) after the first folder: it keeps
 * inotify, the second is polled. */
static void test_fallback_no_watches(void)
{
	unsigned int lines = 0;
	TEST_ASSERT_UINT_EQ(run_fallback("nowatch", CHILD_NO_WATCHES,
					 "fs.inotify.max_user_watches", &lines), 1);
	TEST_ASSERT(lines <= 1);
}

TEST_MAIN(TEST(test_shared_instance), TEST(test_delivery_once),
	  TEST(test_push_round_checks_once),
	  TEST(test_remove_in_callback), TEST(test_folder_recreated),
	  TEST(test_fallback_add_watch), TEST(test_fallback_no_instance),
	  TEST(test_fallback_no_watches))
