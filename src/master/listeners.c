#include "listeners.h"
#include "systemd.h"
#include "config.h"
#include "alloc.h"
#include "log.h"
#include "restrict.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define LISTEN_BACKLOG 511

static void listener_add(struct listeners *ls, const char *name, const char *desc, int fd,
			 bool unlink_path)
{
	ls->items = i_reallocarray(ls->items, ls->count + 1, sizeof(*ls->items));
	ls->items[ls->count++] = (struct listener){
		.name = i_strdup(name), .desc = i_strdup(desc), .fd = fd, .unlink = unlink_path
	};
}

static bool listeners_have(const struct listeners *ls, const char *name)
{
	for (unsigned int i = 0; i < ls->count; i++) {
		if (strcmp(ls->items[i].name, name) == 0)
			return true;
	}
	return false;
}

static void format_addr(const struct sockaddr *sa, char *buf, size_t size)
{
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned int port = 0;
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		port = ntohs(sin6->sin6_port);
		snprintf(buf, size, "[%s]:%u", host, port);
		return;
	}
	const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
	inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
	snprintf(buf, size, "%s:%u", host, (unsigned int)ntohs(sin->sin_port));
}

static int bind_tcp(const struct sockaddr *addr, socklen_t addr_len, bool reuseport,
		    bool do_listen)
{
	int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (addr->sa_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if ((reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) ||
	    bind(fd, addr, addr_len) < 0 || (do_listen && listen(fd, LISTEN_BACKLOG) < 0)) {
		int err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

/* The first socket of a per-worker listener. SO_REUSEPORT would let a second pymap
 * of the same user join the group unnoticed, so a plain bind (which fails while
 * anybody listens on the address) is tried first and dropped again. */
static int bind_tcp_first(const struct addrinfo *ai, const char *desc)
{
	int probe = bind_tcp(ai->ai_addr, ai->ai_addrlen, false, false);
	if (probe < 0)
		return -1;
	close(probe);
	int fd = bind_tcp(ai->ai_addr, ai->ai_addrlen, true, true);
	if (fd >= 0)
		log_debug("listening on %s", desc);
	return fd;
}

static void listener_add_per_worker(struct listeners *ls, const char *name,
				    const char *desc, int fd)
{
	listener_add(ls, name, desc, -1, false);
	struct listener *l = &ls->items[ls->count - 1];
	l->worker_fds = i_new0(int);
	l->worker_fds[0] = fd;
	l->worker_fd_count = 1;
	l->addr_len = sizeof(l->addr);
	/* The bound address, with the port the kernel chose when the config said 0. */
	if (getsockname(fd, (struct sockaddr *)&l->addr, &l->addr_len) < 0)
		log_fatal_errno(1, "getsockname(%s)", desc);
}

/* Bind name on every address of host:port. */
static int open_tcp_host(struct listeners *ls, const char *name, const char *host,
			 unsigned int port, bool wildcard_default)
{
	struct addrinfo hints = {
		.ai_flags = AI_PASSIVE | AI_NUMERICSERV, .ai_socktype = SOCK_STREAM,
	};
	struct addrinfo *res;
	char port_str[16], desc[128];
	snprintf(port_str, sizeof(port_str), "%u", port);
	int ret = getaddrinfo(host, port_str, &hints, &res);
	if (ret != 0) {
		log_error("listen %s:%u: %s", host, port, gai_strerror(ret));
		return -1;
	}
	for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
		bool dup = false;
		for (struct addrinfo *prev = res; prev != ai; prev = prev->ai_next)
			dup = dup || (prev->ai_addrlen == ai->ai_addrlen &&
				      memcmp(prev->ai_addr, ai->ai_addr, ai->ai_addrlen) == 0);
		if (dup)
			continue;
		format_addr(ai->ai_addr, desc, sizeof(desc));
		int fd = bind_tcp_first(ai, desc);
		if (fd < 0 && wildcard_default && ai->ai_family == AF_INET6 &&
		    (errno == EAFNOSUPPORT || errno == EADDRNOTAVAIL)) {
			log_warning_errno("listen %s: skipped", desc);
			continue;
		}
		if (fd < 0) {
			log_error_errno("listen %s", desc);
			freeaddrinfo(res);
			return -1;
		}
		listener_add_per_worker(ls, name, desc, fd);
	}
	freeaddrinfo(res);
	return 0;
}

static int open_tcp(struct listeners *ls, const struct config *cfg, const char *name,
		    unsigned int port)
{
	const json_t *hosts = config_get(cfg, "server", "host");
	size_t i;
	json_t *host;
	bool wildcard = json_array_size(hosts) == 2 &&
		strcmp(json_string_value(json_array_get(hosts, 1)), "::") == 0;
	json_array_foreach(hosts, i, host) {
		if (open_tcp_host(ls, name, json_string_value(host), port, wildcard) < 0)
			return -1;
	}
	return 0;
}

/* A socket file left by an earlier run is removed; one that answers is in use. */
static int unix_clear_stale(const struct sockaddr_un *sun, const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return 0;
	if (!S_ISSOCK(st.st_mode)) {
		log_error("listen %s: exists and is not a socket", path);
		return -1;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0) {
		close(fd);
		log_error("listen %s: in use by another process", path);
		return -1;
	}
	if (fd >= 0)
		close(fd);
	unlink(path);
	return 0;
}

static int open_unix(struct listeners *ls, const char *name, const char *path,
		     const char *group, bool root)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sun.sun_path)) {
		log_error("listen %s: path too long", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	if (unix_clear_stale(&sun, path) < 0)
		return -1;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	mode_t old_umask = umask(0077);
	int ret = fd < 0 ? -1 : bind(fd, (const struct sockaddr *)&sun, sizeof(sun));
	umask(old_umask);
	if (ret < 0 || listen(fd, LISTEN_BACKLOG) < 0) {
		log_error_errno("listen %s", path);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	/* As root: the group (e.g. the imap workers for auth.sock) may connect. */
	gid_t gid;
	if (root && restrict_lookup_group(group, &gid) == 0 &&
	    (chown(path, 0, gid) < 0 || chmod(path, 0660) < 0))
		log_warning_errno("chown/chmod %s", path);
	else if (!root && chmod(path, 0600) < 0)
		log_warning_errno("chmod %s", path);
	listener_add(ls, name, path, fd, true);
	log_debug("listening on %s", path);
	return 0;
}

static void take_activated(struct listeners *ls)
{
	struct systemd_listen_fd *fds;
	unsigned int count = systemd_listen_fds(&fds);
	for (unsigned int i = 0; i < count; i++) {
		const char *name = fds[i].name;
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		if (getsockname(fds[i].fd, (struct sockaddr *)&ss, &len) < 0) {
			log_warning_errno("LISTEN_FDS: descriptor %d", fds[i].fd);
			continue;
		}
		if (strcmp(name, "imap") != 0 && strcmp(name, "imaps") != 0 &&
		    strcmp(name, "auth") != 0 && strcmp(name, "admin") != 0) {
			if (ss.ss_family == AF_UNIX) {
				log_warning("LISTEN_FDS: descriptor %d named '%s' ignored",
					    fds[i].fd, name);
				close(fds[i].fd);
				continue;
			}
			name = "imap";
		}
		char desc[128];
		if (ss.ss_family == AF_UNIX)
			snprintf(desc, sizeof(desc), "%s", ((struct sockaddr_un *)&ss)->sun_path);
		else
			format_addr((struct sockaddr *)&ss, desc, sizeof(desc));
		fcntl(fds[i].fd, F_SETFL, fcntl(fds[i].fd, F_GETFL) | O_NONBLOCK);
		listener_add(ls, name, desc, fds[i].fd, false);
		log_info("listening on %s (%s, from systemd)", desc, name);
	}
	i_free(fds);
}

int listeners_open(struct listeners *ls, const struct config *cfg)
{
	bool root = geteuid() == 0;
	memset(ls, 0, sizeof(*ls));
	take_activated(ls);
	bool activated_imap = listeners_have(ls, "imap");
	bool activated_imaps = listeners_have(ls, "imaps");
	if (!activated_imap &&
	    open_tcp(ls, cfg, "imap", (unsigned int)config_get_int(cfg, "server", "port")) < 0)
		return -1;
	unsigned int tls_port = (unsigned int)config_get_int(cfg, "server", "tls_port");
	if (!activated_imaps && *config_get_str(cfg, "tls", "cert") != '\0' &&
	    config_get_bool(cfg, "tls", "enabled") && tls_port != 0 &&
	    open_tcp(ls, cfg, "imaps", tls_port) < 0)
		return -1;
	if (!listeners_have(ls, "auth") &&
	    open_unix(ls, "auth", config_get_str(cfg, "server", "auth_socket"),
		      config_get_str(cfg, "users", "imap_group"), root) < 0)
		return -1;
	if (!listeners_have(ls, "admin") &&
	    open_unix(ls, "admin", config_get_str(cfg, "server", "admin_socket"),
		      config_get_str(cfg, "users", "admin_group"), root) < 0)
		return -1;
	return 0;
}

void listeners_close(struct listeners *ls)
{
	for (unsigned int i = 0; i < ls->count; i++) {
		struct listener *l = &ls->items[i];
		if (l->fd >= 0)
			close(l->fd);
		for (unsigned int j = 0; j < l->worker_fd_count; j++) {
			if (l->worker_fds[j] >= 0)
				close(l->worker_fds[j]);
		}
		i_free(l->worker_fds);
		if (l->unlink)
			unlink(l->desc);
		i_free(l->name);
		i_free(l->desc);
	}
	i_free(ls->items);
	ls->count = 0;
}

/* ---- per-worker sockets ---- */

static void worker_bind(struct listener *l, unsigned int slot)
{
	if (l->worker_fds[slot] >= 0)
		return;
	l->worker_fds[slot] = bind_tcp((const struct sockaddr *)&l->addr, l->addr_len,
				       true, true);
	if (l->worker_fds[slot] < 0)
		log_error_errno("listen %s (socket of imap worker %u)", l->desc, slot);
}

static void worker_close(struct listener *l, unsigned int slot)
{
	if (l->worker_fds[slot] >= 0)
		close(l->worker_fds[slot]);
	l->worker_fds[slot] = -1;
}

void listeners_set_workers(struct listeners *ls, unsigned int count)
{
	if (count == 0)
		count = 1;   /* keep the address bound while no worker runs */
	for (unsigned int i = 0; i < ls->count; i++) {
		struct listener *l = &ls->items[i];
		if (l->worker_fd_count == 0)
			continue;
		for (unsigned int slot = count; slot < l->worker_fd_count; slot++)
			worker_close(l, slot);
		if (count > l->worker_fd_count) {
			l->worker_fds = i_reallocarray(l->worker_fds, count, sizeof(int));
			for (unsigned int slot = l->worker_fd_count; slot < count; slot++)
				l->worker_fds[slot] = -1;
		}
		l->worker_fd_count = count;
		for (unsigned int slot = 0; slot < count; slot++)
			worker_bind(l, slot);
	}
}

void listeners_worker_close(struct listeners *ls, unsigned int slot)
{
	for (unsigned int i = 0; i < ls->count; i++) {
		struct listener *l = &ls->items[i];
		if (slot < l->worker_fd_count)
			worker_close(l, slot);
	}
}

void listeners_worker_open(struct listeners *ls, unsigned int slot)
{
	for (unsigned int i = 0; i < ls->count; i++) {
		struct listener *l = &ls->items[i];
		if (slot < l->worker_fd_count)
			worker_bind(l, slot);
	}
}

int listener_worker_fd(const struct listener *l, unsigned int slot)
{
	if (l->worker_fd_count == 0)
		return l->fd;
	if (slot < l->worker_fd_count && l->worker_fds[slot] >= 0)
		return l->worker_fds[slot];
	for (unsigned int i = 0; i < l->worker_fd_count; i++) {
		if (l->worker_fds[i] >= 0)
			return l->worker_fds[i];
	}
	return -1;
}
