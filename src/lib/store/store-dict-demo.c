#include "store-dict-demo.h"
#include "alloc.h"
#include "buffer.h"
#include "log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEMO_MAX_MESSAGE_BYTES (16 * 1024 * 1024)

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names of the entries of dir that are directories (want_dirs) or regular
 * files, skipping dot-files. */
static char **list_sorted(const char *dir, bool want_dirs, unsigned int *count_r)
{
	DIR *d = opendir(dir);
	char **names = NULL;
	unsigned int count = 0;
	struct dirent *ent;

	*count_r = 0;
	if (d == NULL)
		return NULL;
	while ((ent = readdir(d)) != NULL) {
		struct stat st;
		char *path = i_strdup_printf("%s/%s", dir, ent->d_name);
		bool ok = ent->d_name[0] != '.' && stat(path, &st) == 0 &&
			  (want_dirs ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode));
		free(path);
		if (!ok)
			continue;
		names = i_reallocarray(names, count + 1, sizeof(char *));
		names[count++] = i_strdup(ent->d_name);
	}
	closedir(d);
	if (count > 0)
		qsort(names, count, sizeof(char *), compare_names);
	*count_r = count;
	return names;
}

static void free_names(char **names, unsigned int count)
{
	for (unsigned int i = 0; i < count; i++)
		free(names[i]);
	free(names);
}

static int read_file(const char *path, struct buffer *buf)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	for (;;) {
		unsigned char *dest = buffer_reserve(buf, 65536);
		if (dest == NULL) {
			errno = EFBIG;
			close(fd);
			return -1;
		}
		ssize_t n = read(fd, dest, 65536);
		if (n < 0) {
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		buffer_commit(buf, (size_t)n);
	}
	close(fd);
	return 0;
}

static uint32_t parse_flag(const char *flag, size_t len, bool *recent)
{
	static const struct { const char *name; uint32_t bit; } flags[] = {
		{ "\\Seen", STORE_FLAG_SEEN }, { "\\Answered", STORE_FLAG_ANSWERED },
		{ "\\Flagged", STORE_FLAG_FLAGGED }, { "\\Deleted", STORE_FLAG_DELETED },
		{ "\\Draft", STORE_FLAG_DRAFT },
	};
	if (len == 7 && strncasecmp(flag, "\\Recent", 7) == 0) {
		*recent = true;
		return 0;
	}
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		if (strlen(flags[i].name) == len && strncasecmp(flag, flags[i].name, len) == 0)
			return flags[i].bit;
	}
	return 0;
}

/* Split the demo file into flags, date and message. */
static int parse_demo_file(const struct buffer *buf, struct store_append_msg *msg,
			   bool *recent_r)
{
	const char *data = buffer_str(buf);
	const char *nl1 = memchr(data, '\n', buffer_len(buf));
	const char *nl2 = nl1 == NULL ? NULL :
		memchr(nl1 + 1, '\n', buffer_len(buf) - (size_t)(nl1 + 1 - data));
	if (nl2 == NULL)
		return -1;
	*recent_r = false;
	memset(msg, 0, sizeof(*msg));
	for (const char *p = data; p < nl1; ) {
		while (p < nl1 && (*p == ' ' || *p == '\t' || *p == '\r'))
			p++;
		const char *end = p;
		while (end < nl1 && *end != ' ' && *end != '\t' && *end != '\r')
			end++;
		if (end > p)
			msg->flags.system |= parse_flag(p, (size_t)(end - p), recent_r);
		p = end;
	}
	char *endp;
	double stamp = strtod(nl1 + 1, &endp);
	if (endp == nl1 + 1)
		return -1;
	msg->internal_date = (int64_t)stamp;
	msg->data = (const unsigned char *)nl2 + 1;
	msg->size = buffer_len(buf) - (size_t)(nl2 + 1 - data);
	msg->fd = -1;
	return 0;
}

static int load_message(struct store_user *user, const char *mailbox, const char *path,
			struct store_error *error_r)
{
	struct buffer buf;
	struct store_append_msg msg;
	uint32_t uidvalidity, uid;
	bool recent;
	int ret = -1;

	buffer_init(&buf, DEMO_MAX_MESSAGE_BYTES);
	if (read_file(path, &buf) < 0) {
		log_error_errno("demo data: %s", path);
		store_error_set(error_r, STORE_ERR_SERVERBUG, "Demo data unreadable.");
	} else if (parse_demo_file(&buf, &msg, &recent) < 0) {
		log_error("demo data: %s: expected a flags line and a timestamp line", path);
		store_error_set(error_r, STORE_ERR_SERVERBUG, "Demo data malformed.");
	} else if (store_append(user, mailbox, &msg, 1, &uidvalidity, &uid, error_r) == 0) {
		dict_demo_keep_recent(user, mailbox, uid, recent);
		ret = 0;
	}
	buffer_deinit(&buf);
	return ret;
}

static int load_folder(struct store_user *user, const char *dir, const char *mailbox,
		       struct store_error *error_r)
{
	char mailboxid[STORE_ID_MAX_BYTES];
	unsigned int count;
	int ret = 0;

	if (strcmp(mailbox, "INBOX") != 0 &&
	    store_create_mailbox(user, mailbox, mailboxid, error_r) < 0)
		return -1;
	char *folder = i_strdup_printf("%s/%s", dir, mailbox);
	char **files = list_sorted(folder, false, &count);
	for (unsigned int i = 0; i < count && ret == 0; i++) {
		char *path = i_strdup_printf("%s/%s", folder, files[i]);
		ret = load_message(user, mailbox, path, error_r);
		free(path);
	}
	char *marker = i_strdup_printf("%s/.readonly", folder);
	if (access(marker, F_OK) == 0)
		dict_demo_set_readonly(user, mailbox);
	free(marker);
	free_names(files, count);
	free(folder);
	return ret;
}

int dict_demo_load(struct store_user *user, const char *dir, struct store_error *error_r)
{
	unsigned int count;
	char **folders = list_sorted(dir, true, &count);
	int ret = 0;

	if (folders == NULL && count == 0 && access(dir, R_OK) < 0) {
		log_error_errno("demo data: %s", dir);
		store_error_set(error_r, STORE_ERR_SERVERBUG, "Demo data unavailable.");
		return -1;
	}
	for (unsigned int i = 0; i < count && ret == 0; i++) {
		if (strcmp(folders[i], "INBOX") == 0)
			ret = load_folder(user, dir, "INBOX", error_r);
	}
	for (unsigned int i = 0; i < count && ret == 0; i++) {
		if (strcmp(folders[i], "INBOX") != 0)
			ret = load_folder(user, dir, folders[i], error_r);
	}
	free_names(folders, count);
	return ret;
}
