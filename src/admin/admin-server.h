#ifndef PYMAP_ADMIN_SERVER_H
#define PYMAP_ADMIN_SERVER_H
/* The admin service's request handling: builds the context the ops run in (users,
 * store, admin key) from the effective config, decides who the caller is
 * (SO_PEERCRED: root, the service's own uid and members of [users] admin_group may do
 * everything; anyone else acts only on itself with a login token in "token") and
 * runs the op from admin_ops. main.c accepts the connections. */
#include <jansson.h>

struct ioloop;
struct ipc_conn;
struct admin_server;

struct master_service;
/* service (may be NULL in tests) is used to ask the master for a reload. */
struct admin_server *admin_server_create(struct ioloop *loop, const json_t *config,
					 struct master_service *service);
void admin_server_destroy(struct admin_server **server);
/* A caller's connection is closing: answers still being worked out for it are
 * dropped when they are ready. */
void admin_server_conn_closed(struct admin_server *server, const struct ipc_conn *conn);
/* Answer request (and close fd when it is not -1); a login is answered when the auth
 * service has checked the password. */
void admin_server_handle(struct admin_server *server, struct ipc_conn *conn,
			 const json_t *request, int fd);

#endif
