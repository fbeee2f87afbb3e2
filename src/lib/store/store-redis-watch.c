/* The redis backend's change notification. Every change script PUBLISHes the
 * mailbox id on the user's channel "<key base>events". Each process keeps one
 * subscriber connection, opened with the first watch, watched on the ioloop (no
 * polling); it subscribes to the channel of each user with watches and calls the
 * watches of the mailbox named in a message. When the connection drops it is
 * re-opened with back-off (200 ms doubling to 5 s); after reconnecting every watch is
 * called once, since changes may have been published while we were away. The
 * connection is a redis-net.c transport, so rediss:// works here too. In a Redis
 * Cluster the listener stays on the configured node: a PUBLISH on any node reaches
 * subscribers on every node. */
#include "store-redis.h"
#include "redis-net.h"
#include "alloc.h"
#include "ioloop.h"
#include "log.h"
#include "llist.h"

#include <string.h>

#define WATCH_BACKOFF_MIN_MS 200
#define WATCH_BACKOFF_MAX_MS 5000
/* A pub/sub message is ["message", channel, mailbox id]: small. */
#define WATCH_MAX_MESSAGE_BYTES (1024 * 1024)
#define WATCH_MAX_MESSAGE_ELEMENTS 16

struct redis_watch {
	struct store_watch base;
	struct redis_channel *channel;
	char mbox_id[STORE_ID_MAX_BYTES];
	store_watch_callback_t *callback;
	void *context;
	bool dead;
	struct redis_watch *prev, *next;
};

struct redis_channel {
	char *name;
	struct redis_watcher *watcher;
	struct redis_watch *watches;
	struct redis_channel *prev, *next;
};

struct redis_watcher {
	const struct redis_url *url;   /* the store's */
	struct ioloop *loop;
	struct redis_net *net;
	struct io *io;
	struct timeout *more;          /* read on: OpenSSL holds bytes poll() cannot see */
	struct timeout *retry;
	unsigned int backoff_ms;
	unsigned int dispatching;
	bool have_dead;
	struct redis_channel *channels;
};

static void watcher_connect(struct redis_watcher *watcher);

struct redis_watcher *redis_watcher_create(const struct redis_url *url, struct ioloop *loop)
{
	struct redis_watcher *watcher = i_new0(struct redis_watcher);
	watcher->url = url;
	watcher->loop = loop;
	watcher->backoff_ms = WATCH_BACKOFF_MIN_MS;
	return watcher;
}

static void watcher_disconnect(struct redis_watcher *watcher)
{
	io_remove(&watcher->io);
	timeout_remove(&watcher->more);
	redis_net_destroy(&watcher->net);
}

void redis_watcher_destroy(struct redis_watcher **_watcher)
{
	struct redis_watcher *watcher = *_watcher;
	if (watcher == NULL)
		return;
	*_watcher = NULL;
	watcher_disconnect(watcher);
	timeout_remove(&watcher->retry);
	while (watcher->channels != NULL) {
		struct redis_channel *channel = watcher->channels;
		watcher->channels = channel->next;
		while (channel->watches != NULL) {
			struct redis_watch *watch = channel->watches;
			channel->watches = watch->next;
			free(watch);
		}
		free(channel->name);
		free(channel);
	}
	free(watcher);
}

/* Send a (UN)SUBSCRIBE now; the confirmation is read by the io callback. */
static int send_command(struct redis_watcher *watcher, const char *cmd, const char *channel)
{
	const char *argv[2] = { cmd, channel }, *error;
	char *data;
	if (watcher->net == NULL)
		return 0;
	int len = redisFormatCommandArgv(&data, 2, argv, NULL);
	if (len < 0)
		return -1;
	int ret = redis_net_write(watcher->net, data, (size_t)len, &error);
	redisFreeCommand(data);
	return ret;
}

static void schedule_retry(struct redis_watcher *watcher);

static void connection_lost(struct redis_watcher *watcher, const char *why)
{
	log_error("redis subscriber: %s; reconnecting", why);
	watcher_disconnect(watcher);
	schedule_retry(watcher);
}

static void sweep_dead(struct redis_watcher *watcher);

static void call_watches(struct redis_watcher *watcher, struct redis_channel *only,
			 const char *mbox_id, size_t id_len)
{
	watcher->dispatching++;
	for (struct redis_channel *ch = watcher->channels; ch != NULL; ch = ch->next) {
		if (only != NULL && ch != only)
			continue;
		for (struct redis_watch *w = ch->watches; w != NULL; w = w->next) {
			if (w->dead || (mbox_id != NULL && (strlen(w->mbox_id) != id_len ||
							    memcmp(w->mbox_id, mbox_id, id_len) != 0)))
				continue;
			w->callback(w->context);
		}
	}
	if (--watcher->dispatching == 0 && watcher->have_dead)
		sweep_dead(watcher);
}

static void handle_reply(struct redis_watcher *watcher, const redisReply *reply)
{
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3 ||
	    reply->element[0]->type != REDIS_REPLY_STRING ||
	    strcmp(reply->element[0]->str, "message") != 0 ||
	    reply->element[1]->type != REDIS_REPLY_STRING ||
	    reply->element[2]->type != REDIS_REPLY_STRING)
		return;   /* (un)subscribe confirmations */
	for (struct redis_channel *ch = watcher->channels; ch != NULL; ch = ch->next) {
		if (strlen(ch->name) == reply->element[1]->len &&
		    memcmp(ch->name, reply->element[1]->str, reply->element[1]->len) == 0) {
			call_watches(watcher, ch, reply->element[2]->str, reply->element[2]->len);
			return;
		}
	}
}

static void watcher_input(void *context);

static void watcher_more(void *context)
{
	struct redis_watcher *watcher = context;
	timeout_remove(&watcher->more);
	watcher_input(watcher);
}

static void watcher_input(void *context)
{
	struct redis_watcher *watcher = context;
	redisReply *reply;
	const char *error;
	if (redis_net_read_available(watcher->net, &error) < 0) {
		connection_lost(watcher, error);
		return;
	}
	/* A watch callback may drop the connection (a failed SUBSCRIBE). */
	while (watcher->net != NULL) {
		int ret = redis_net_next_reply(watcher->net, &reply, &error);
		if (ret < 0) {
			connection_lost(watcher, error);
			return;
		}
		if (ret == 0)
			break;
		handle_reply(watcher, reply);
		freeReplyObject(reply);
	}
	/* Reads per callback are bounded; bytes already decrypted by OpenSSL do not wake
	 * epoll, so come back for them in the next round. */
	if (watcher->net != NULL && watcher->more == NULL &&
	    redis_net_has_buffered(watcher->net))
		watcher->more = timeout_add(watcher->loop, 0, watcher_more, watcher);
}

static void retry_timeout(void *context)
{
	struct redis_watcher *watcher = context;
	timeout_remove(&watcher->retry);
	watcher_connect(watcher);
	if (watcher->net != NULL) {
		log_info("redis subscriber: connected again");
		/* Anything published while we were away is lost: everyone re-checks. */
		call_watches(watcher, NULL, NULL, 0);
	}
}

static void schedule_retry(struct redis_watcher *watcher)
{
	if (watcher->retry != NULL)
		return;
	watcher->retry = timeout_add(watcher->loop, watcher->backoff_ms, retry_timeout, watcher);
	watcher->backoff_ms = watcher->backoff_ms * 2 > WATCH_BACKOFF_MAX_MS ?
			      WATCH_BACKOFF_MAX_MS : watcher->backoff_ms * 2;
}

static void watcher_connect(struct redis_watcher *watcher)
{
	const char *error;
	watcher->net = redis_net_connect(watcher->url, &error);
	if (watcher->net != NULL && redis_net_set_nonblocking(watcher->net, &error) < 0)
		redis_net_destroy(&watcher->net);
	if (watcher->net != NULL)
		redis_net_set_reply_limits(watcher->net, WATCH_MAX_MESSAGE_BYTES,
					   WATCH_MAX_MESSAGE_ELEMENTS);
	if (watcher->net == NULL) {
		if (watcher->backoff_ms == WATCH_BACKOFF_MIN_MS)
			log_error("redis subscriber: %s", error);
		schedule_retry(watcher);
		return;
	}
	for (struct redis_channel *ch = watcher->channels; ch != NULL; ch = ch->next) {
		if (send_command(watcher, "SUBSCRIBE", ch->name) < 0) {
			connection_lost(watcher, "SUBSCRIBE failed");
			return;
		}
	}
	watcher->backoff_ms = WATCH_BACKOFF_MIN_MS;
	watcher->io = io_add(watcher->loop, redis_net_fd(watcher->net), IO_READ, watcher_input,
			     watcher);
}

static struct redis_channel *channel_get(struct redis_watcher *watcher, const char *name)
{
	struct redis_channel *ch;
	for (ch = watcher->channels; ch != NULL; ch = ch->next) {
		if (strcmp(ch->name, name) == 0)
			return ch;
	}
	ch = i_new0(struct redis_channel);
	ch->name = i_strdup(name);
	ch->watcher = watcher;
	ch->next = watcher->channels;
	if (watcher->channels != NULL)
		watcher->channels->prev = ch;
	watcher->channels = ch;
	if (watcher->net == NULL && watcher->retry == NULL)
		watcher_connect(watcher);   /* subscribes every channel, this one too */
	else if (send_command(watcher, "SUBSCRIBE", name) < 0)
		connection_lost(watcher, "SUBSCRIBE failed");
	return ch;
}

void redis_notify_local(struct store_user *user)
{
	struct redis_watcher *watcher = REDIS_STORE(user->store)->watcher;
	if (watcher == NULL)
		return;
	char *name = i_strdup_printf("%sevents", REDIS_USER(user)->key_base);
	for (struct redis_channel *ch = watcher->channels; ch != NULL; ch = ch->next) {
		if (strcmp(ch->name, name) == 0) {
			call_watches(watcher, ch, NULL, 0);
			break;
		}
	}
	free(name);
}

struct store_watch *redis_watch(struct store_mailbox *mbox, store_watch_callback_t *callback,
				void *context)
{
	struct redis_store *store = REDIS_STORE(mbox->user->store);
	if (store->watcher == NULL)
		store->watcher = redis_watcher_create(&store->sub_url, store->base.loop);
	char *name = i_strdup_printf("%sevents", REDIS_USER(mbox->user)->key_base);
	struct redis_channel *ch = channel_get(store->watcher, name);
	free(name);
	struct redis_watch *watch = i_new0(struct redis_watch);
	watch->base.store = mbox->user->store;
	watch->channel = ch;
	memcpy(watch->mbox_id, ((struct redis_mailbox *)mbox)->id, sizeof(watch->mbox_id));
	watch->callback = callback;
	watch->context = context;
	watch->next = ch->watches;
	if (ch->watches != NULL)
		ch->watches->prev = watch;
	ch->watches = watch;
	return &watch->base;
}

static void channel_free_if_unused(struct redis_channel *ch)
{
	struct redis_watcher *watcher = ch->watcher;
	if (ch->watches != NULL)
		return;
	if (send_command(watcher, "UNSUBSCRIBE", ch->name) < 0)
		connection_lost(watcher, "UNSUBSCRIBE failed");
	DLLIST_REMOVE(&watcher->channels, ch);
	free(ch->name);
	free(ch);
}

static void watch_unlink(struct redis_watch *watch)
{
	struct redis_channel *ch = watch->channel;
	DLLIST_REMOVE(&ch->watches, watch);
	free(watch);
	channel_free_if_unused(ch);
}

static void sweep_dead(struct redis_watcher *watcher)
{
	watcher->have_dead = false;
	for (struct redis_channel *ch = watcher->channels, *next_ch; ch != NULL; ch = next_ch) {
		next_ch = ch->next;
		struct redis_watch *w = ch->watches, *next;
		for (; w != NULL; w = next) {
			next = w->next;
			/* Frees ch when w was its last watch (then next is NULL). */
			if (w->dead)
				watch_unlink(w);
		}
	}
}

void redis_watch_remove(struct store_watch *_watch)
{
	struct redis_watch *watch = (struct redis_watch *)_watch;
	struct redis_watcher *watcher = watch->channel->watcher;
	if (watcher->dispatching > 0) {
		/* Lists are being walked: unlink after the dispatch. */
		watch->dead = true;
		watcher->have_dead = true;
		return;
	}
	watch_unlink(watch);
}
