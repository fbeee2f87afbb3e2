#include "auth-client.h"
#include "alloc.h"
#include "ioloop.h"
#include "ipc.h"
#include "log.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define AUTH_REQUEST_TIMEOUT_MSECS 30000

struct auth_request {
	auth_reply_callback_t *callback;
	void *context;
	bool cancelled;
};

static struct ioloop *auth_loop;
static char *auth_path;
static struct ipc_conn *auth_conn;

static const struct ipc_settings auth_ipc_settings = {
	.protocol = "pymap-auth", .major = 1, .minor = 0,
};

static void auth_on_message(struct ipc_conn *conn, json_t *msg, int fd, void *context)
{
	(void)conn;
	(void)msg;
	(void)context;
	if (fd >= 0)
		close(fd);
	log_warning("auth: unexpected message from the auth process");
}

static void auth_on_close(struct ipc_conn *conn, const char *reason, void *context)
{
	(void)context;
	log_warning("auth: connection to the auth process closed: %s", reason);
	if (conn == auth_conn)
		ipc_conn_destroy(&auth_conn);
}

static int auth_connect(void)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	if (strlen(auth_path) >= sizeof(addr.sun_path)) {
		log_error("auth: socket path too long: %s", auth_path);
		return -1;
	}
	strcpy(addr.sun_path, auth_path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		log_error_errno("auth: connect(%s)", auth_path);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	auth_conn = ipc_conn_create(auth_loop, fd, &auth_ipc_settings, auth_on_message,
				    auth_on_close, NULL);
	return 0;
}

void auth_client_init(struct ioloop *loop, const char *socket_path)
{
	auth_loop = loop;
	auth_path = i_strdup(socket_path);
}

void auth_client_deinit(void)
{
	ipc_conn_destroy(&auth_conn);
	i_free(auth_path);
}

static void auth_reply(json_t *reply, int fd, void *context)
{
	struct auth_request *request = context;
	if (fd >= 0)
		close(fd);
	if (!request->cancelled)
		request->callback(reply, request->context);
	free(request);
}

struct auth_request *auth_client_request(json_t *json, auth_reply_callback_t *callback,
					 void *context)
{
	if (auth_conn == NULL && auth_connect() < 0) {
		callback(NULL, context);
		return NULL;
	}
	struct auth_request *request = i_new0(struct auth_request);
	request->callback = callback;
	request->context = context;
	ipc_conn_request(auth_conn, json, -1, AUTH_REQUEST_TIMEOUT_MSECS, auth_reply, request);
	return request;
}

void auth_client_cancel(struct auth_request **_request)
{
	struct auth_request *request = *_request;
	if (request == NULL)
		return;
	*_request = NULL;
	request->cancelled = true;
}
