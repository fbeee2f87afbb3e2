/* The maildir backend (DESIGN.md section 5, doc/maildir-index.md): the store, users'
 * maildirs, the folder list, CREATE/DELETE/RENAME and subscriptions. Open folders are
 * in store-maildir-mbox.c, saving in store-maildir-save.c, folder state and UIDs in
 * store-maildir-sync.c, the change feed in maildir-watch.c. */
#include "store-maildir.h"
#include "maildir-lock.h"
#include "alloc.h"
#include "log.h"
#include "buffer.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SUBSCRIPTIONS_NAME "subscriptions"
#define MAX_FOLDERS 100000
#define MAX_FS_DEPTH 32

static int maildir_create(const json_t *config, struct ioloop *loop, struct store **store_r,
			  const char **error_r)
{
	const json_t *section = json_object_get(config, "maildir");
	const char *base_dir = json_string_value(json_object_get(section, "base_dir"));
	const char *layout = json_string_value(json_object_get(section, "layout"));
	const char *colon = json_string_value(json_object_get(section, "colon"));
	(void)loop;
	if (base_dir == NULL || base_dir[0] == '\0') {
		*error_r = "maildir: base_dir is not set";
		return -1;
	}
	if (colon != NULL && (strlen(colon) != 1 || colon[0] == '/' || colon[0] == '.')) {
		*error_r = "maildir: colon must be one character other than '/' and '.'";
		return -1;
	}
	struct maildir_store *store = i_new0(struct maildir_store);
	store->base_dir = i_strdup(base_dir);
	store->layout = layout != NULL && strcmp(layout, "fs") == 0 ?
			MAILDIR_LAYOUT_FS : MAILDIR_LAYOUT_PP;
	store->colon = colon != NULL ? colon[0] : ':';
	*store_r = &store->base;
	return 0;
}

static void maildir_destroy(struct store *_store)
{
	struct maildir_store *store = (struct maildir_store *)_store;
	free(store->base_dir);
	free(store);
}

/* Create the cur/new/tmp of a maildir (and maildirfolder for folders). */
static int make_maildir(const char *path, bool folder)
{
	static const char *const subdirs[] = { "cur", "new", "tmp" };
	if (maildir_mkdir(path, 0700) < 0)
		return -1;
	for (unsigned int i = 0; i < 3; i++) {
		char *sub = i_strdup_printf("%s/%s", path, subdirs[i]);
		int ret = maildir_mkdir(sub, 0700);
		free(sub);
		if (ret < 0)
			return -1;
	}
	if (folder) {
		char *marker = i_strdup_printf("%s/maildirfolder", path);
		FILE *f = fopen(marker, "a");
		free(marker);
		if (f == NULL)
			return -1;
		fclose(f);
	}
	return 0;
}

static bool rel_path_is_safe(const char *path)
{
	for (const char *p = path; *p != '\0'; ) {
		size_t len = strcspn(p, "/");
		if ((len == 2 && strncmp(p, "..", 2) == 0))
			return false;
		p += len;
		while (*p == '/')
			p++;
	}
	return path[0] != '\0';
}

static int mkdir_parents(const char *path)
{
	char *copy = i_strdup(path);
	int ret = 0;
	for (char *p = copy + 1; *p != '\0' && ret == 0; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		ret = maildir_mkdir(copy, 0700);
		*p = '/';
	}
	free(copy);
	return ret;
}

static int maildir_user_open(struct store *_store, const char *username, const json_t *params,
			     struct store_user **user_r, struct store_error *error_r)
{
	struct maildir_store *store = (struct maildir_store *)_store;
	const char *mailbox_path = json_string_value(json_object_get(params, "mailbox_path"));
	if (mailbox_path == NULL || mailbox_path[0] == '\0')
		mailbox_path = username;
	if (mailbox_path[0] != '/' &&
	    (!rel_path_is_safe(mailbox_path) || (mailbox_path == username &&
	     (strchr(username, '/') != NULL || username[0] == '.')))) {
		store_error_set(error_r, STORE_ERR_CANNOT, "Invalid mailbox path for this user.");
		return -1;
	}
	char *root = mailbox_path[0] == '/' ? i_strdup(mailbox_path) :
		     i_strdup_printf("%s/%s", store->base_dir, mailbox_path);
	if (mkdir_parents(root) < 0 || make_maildir(root, false) < 0) {
		maildir_set_errno_error(error_r, "create the user's maildir");
		free(root);
		return -1;
	}
	struct maildir_user *user = i_new0(struct maildir_user);
	user->base.store = _store;
	user->base.name = i_strdup(username);
	user->root = root;
	user->layout = store->layout;
	user->colon = store->colon;
	*user_r = &user->base;
	return 0;
}

static void maildir_user_close(struct store_user *_user)
{
	struct maildir_user *user = (struct maildir_user *)_user;
	free(user->root);
	free(user->base.name);
	free(user);
}

/* ---- listing ---- */

struct name_list {
	struct store_list_entry *entries;
	unsigned int count, alloc;
};

static int name_list_find(const struct name_list *list, const char *name)
{
	for (unsigned int i = 0; i < list->count; i++) {
		if (strcmp(list->entries[i].name, name) == 0)
			return (int)i;
	}
	return -1;
}

static void name_list_add(struct name_list *list, const char *name, bool noselect)
{
	int idx = name_list_find(list, name);
	if (idx >= 0) {
		list->entries[idx].noselect = list->entries[idx].noselect && noselect;
		return;
	}
	if (list->count == list->alloc) {
		list->alloc = list->alloc == 0 ? 16 : list->alloc * 2;
		list->entries = i_reallocarray(list->entries, list->alloc, sizeof(*list->entries));
	}
	list->entries[list->count].name = i_strdup(name);
	list->entries[list->count++].noselect = noselect;
}

static bool has_cur(const char *dir)
{
	struct stat st;
	char *cur = i_strdup_printf("%s/cur", dir);
	bool ret = lstat(cur, &st) == 0 && S_ISDIR(st.st_mode);
	free(cur);
	return ret;
}

static bool is_dir_nofollow(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static void list_pp(struct maildir_user *user, struct name_list *list)
{
	DIR *dir = opendir(user->root);
	struct dirent *d;
	if (dir == NULL)
		return;
	while ((d = readdir(dir)) != NULL && list->count < MAX_FOLDERS) {
		char *name;
		if (d->d_name[0] != '.' || maildir_name_from_dir(MAILDIR_LAYOUT_PP, d->d_name, &name) < 0)
			continue;
		char *path = i_strdup_printf("%s/%s", user->root, d->d_name);
		if (is_dir_nofollow(path))
			name_list_add(list, name, !has_cur(path));
		free(path);
		free(name);
	}
	closedir(dir);
}

static void list_fs(struct maildir_user *user, const char *rel, unsigned int depth,
		    struct name_list *list)
{
	char *path = rel[0] == '\0' ? i_strdup(user->root) : i_strdup_printf("%s/%s", user->root, rel);
	DIR *dir = opendir(path);
	struct dirent *d;
	if (dir == NULL || depth > MAX_FS_DEPTH) {
		if (dir != NULL)
			closedir(dir);
		free(path);
		return;
	}
	while ((d = readdir(dir)) != NULL && list->count < MAX_FOLDERS) {
		if (d->d_name[0] == '.' || (depth == 0 && (strcmp(d->d_name, "cur") == 0 ||
		    strcmp(d->d_name, "new") == 0 || strcmp(d->d_name, "tmp") == 0)))
			continue;
		char *child_rel = rel[0] == '\0' ? i_strdup(d->d_name) :
				  i_strdup_printf("%s/%s", rel, d->d_name);
		char *child = i_strdup_printf("%s/%s", user->root, child_rel);
		char *name;
		if (is_dir_nofollow(child) &&
		    maildir_name_from_dir(MAILDIR_LAYOUT_FS, child_rel, &name) == 0) {
			name_list_add(list, name, !has_cur(child));
			free(name);
			list_fs(user, child_rel, depth + 1, list);
		}
		free(child);
		free(child_rel);
	}
	closedir(dir);
	free(path);
}

static int entry_cmp(const void *p1, const void *p2)
{
	const struct store_list_entry *a = p1, *b = p2;
	return strcmp(a->name, b->name);
}

static int maildir_list(struct store_user *_user, struct store_list_entry **entries_r,
			unsigned int *count_r, struct store_error *error_r)
{
	struct maildir_user *user = (struct maildir_user *)_user;
	struct name_list list;
	(void)error_r;
	memset(&list, 0, sizeof(list));
	name_list_add(&list, "INBOX", false);
	if (user->layout == MAILDIR_LAYOUT_PP)
		list_pp(user, &list);
	else
		list_fs(user, "", 0, &list);
	/* missing parents become \Noselect entries */
	for (unsigned int i = 1, n = list.count; i < n; i++) {
		char *name = i_strdup(list.entries[i].name);
		for (char *p = strchr(name, '/'); p != NULL; p = strchr(p + 1, '/')) {
			*p = '\0';
			if (name_list_find(&list, name) < 0)
				name_list_add(&list, name, true);
			*p = '/';
		}
		free(name);
	}
	qsort(list.entries + 1, list.count - 1, sizeof(*list.entries), entry_cmp);
	*entries_r = list.entries;
	*count_r = list.count;
	return 0;
}

/* ---- create, delete, rename ---- */

static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	return i_strndup(path, (size_t)(slash - path));
}

static char *temp_sibling(const char *path, const char *what)
{
	static unsigned int counter;
	char *parent = dir_of(path);
	char *tmp = i_strdup_printf("%s/..pymap-%s-%ld-%u", parent, what, (long)getpid(), ++counter);
	free(parent);
	return tmp;
}

static int write_new_uidlist(const char *dir, char mailboxid_r[STORE_ID_MAX_BYTES])
{
	struct maildir_uidlist *list = maildir_uidlist_new(store_new_uidvalidity());
	char *path = i_strdup_printf("%s/%s", dir, MAILDIR_UIDLIST_NAME);
	int ret = maildir_uidlist_write(path, list);
	snprintf(mailboxid_r, STORE_ID_MAX_BYTES, "%s", list->guid);
	free(path);
	maildir_uidlist_free(&list);
	return ret;
}

static int maildir_create_mailbox(struct store_user *_user, const char *name,
				  char mailboxid_r[STORE_ID_MAX_BYTES], struct store_error *error_r)
{
	struct maildir_user *user = (struct maildir_user *)_user;
	char *path, *tmp;
	if (strcmp(name, "INBOX") == 0) {
		store_error_set(error_r, STORE_ERR_ALREADYEXISTS, "Mailbox already exists.");
		return -1;
	}
	if (maildir_folder_path(user, name, &path, error_r) < 0)
		return -1;
	if (has_cur(path)) {
		free(path);
		store_error_set(error_r, STORE_ERR_ALREADYEXISTS, "Mailbox already exists.");
		return -1;
	}
	/* Build it under a temporary name, then rename: never half-created. */
	int ret = mkdir_parents(path);
	tmp = temp_sibling(path, "create");
	if (ret == 0 && (make_maildir(tmp, true) < 0 || write_new_uidlist(tmp, mailboxid_r) < 0))
		ret = -1;
	if (ret == 0 && rename(tmp, path) < 0) {
		if (errno == EEXIST || errno == ENOTEMPTY) {
			/* fs layout: an existing \Noselect parent gets the maildir inside */
			if (user->layout == MAILDIR_LAYOUT_FS && !has_cur(path) &&
			    is_dir_nofollow(path)) {
				ret = make_maildir(path, true) < 0 ||
				      write_new_uidlist(path, mailboxid_r) < 0 ? -1 : 0;
				if (ret < 0)
					maildir_set_errno_error(error_r, "create mailbox");
			} else {
				store_error_set(error_r, STORE_ERR_ALREADYEXISTS,
						"Mailbox already exists.");
				ret = -1;
			}
			(void)maildir_remove_tree(tmp);
			free(tmp);
			free(path);
			return ret;
		}
		ret = -1;
	}
	if (ret < 0) {
		maildir_set_errno_error(error_r, "create mailbox");
		(void)maildir_remove_tree(tmp);
	}
	free(tmp);
	free(path);
	return ret;
}

static bool fs_has_children(const char *path)
{
	DIR *dir = opendir(path);
	struct dirent *d;
	bool found = false;
	if (dir == NULL)
		return false;
	while (!found && (d = readdir(dir)) != NULL) {
		if (d->d_name[0] == '.' || strcmp(d->d_name, "cur") == 0 ||
		    strcmp(d->d_name, "new") == 0 || strcmp(d->d_name, "tmp") == 0)
			continue;
		char *child = i_strdup_printf("%s/%s", path, d->d_name);
		found = is_dir_nofollow(child);
		free(child);
	}
	closedir(dir);
	return found;
}

/* fs layout with inferiors: drop the mail, keep the directory as a \Noselect parent. */
static int fs_make_noselect(const char *path)
{
	DIR *dir = opendir(path);
	struct dirent *d;
	int ret = 0;
	if (dir == NULL)
		return -1;
	/* cur first: from then on it is no longer a mailbox */
	char *cur = i_strdup_printf("%s/cur", path);
	char *trash = temp_sibling(cur, "trash");
	if (rename(cur, trash) < 0 || maildir_remove_tree(trash) < 0)
		ret = -1;
	free(cur);
	free(trash);
	while (ret == 0 && (d = readdir(dir)) != NULL) {
		if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
			continue;
		char *child = i_strdup_printf("%s/%s", path, d->d_name);
		bool sub = is_dir_nofollow(child) && strcmp(d->d_name, "new") != 0 &&
			   strcmp(d->d_name, "tmp") != 0;
		if (!sub)
			(void)maildir_remove_tree(child);
		free(child);
	}
	closedir(dir);
	return ret;
}

static int maildir_delete_mailbox(struct store_user *_user, const char *name,
				  struct store_error *error_r)
{
	struct maildir_user *user = (struct maildir_user *)_user;
	char *path;
	if (strcmp(name, "INBOX") == 0) {
		store_error_set(error_r, STORE_ERR_CANNOT, "Cannot delete INBOX.");
		return -1;
	}
	if (maildir_folder_path(user, name, &path, error_r) < 0)
		return -1;
	int ret = 0;
	if (!is_dir_nofollow(path) || !has_cur(path)) {
		store_error_set(error_r, STORE_ERR_NONEXISTENT, "Mailbox does not exist.");
		ret = -1;
	} else if (user->layout == MAILDIR_LAYOUT_FS && fs_has_children(path)) {
		if (fs_make_noselect(path) < 0) {
			maildir_set_errno_error(error_r, "delete mailbox");
			ret = -1;
		}
	} else {
		/* one atomic rename out of sight, then the slow removal */
		char *trash = temp_sibling(path, "trash");
		if (rename(path, trash) < 0) {
			maildir_set_errno_error(error_r, "delete mailbox");
			ret = -1;
		} else if (maildir_remove_tree(trash) < 0) {
			log_error_errno("maildir: removing %s", trash);
		}
		free(trash);
	}
	free(path);
	return ret;
}

/* RENAME INBOX: a new folder gets all of INBOX's message files; INBOX stays, empty. */
static int rename_inbox(struct maildir_user *user, const char *new_name,
			struct store_error *error_r)
{
	char mailboxid[STORE_ID_MAX_BYTES], *dest;
	if (maildir_create_mailbox(&user->base, new_name, mailboxid, error_r) < 0 ||
	    maildir_folder_path(user, new_name, &dest, error_r) < 0)
		return -1;
	static const char *const subdirs[] = { "new", "cur" };
	for (unsigned int i = 0; i < 2; i++) {
		char *src_dir = i_strdup_printf("%s/%s", user->root, subdirs[i]);
		DIR *dir = opendir(src_dir);
		struct dirent *d;
		while (dir != NULL && (d = readdir(dir)) != NULL) {
			if (d->d_name[0] == '.')
				continue;
			char *from = i_strdup_printf("%s/%s", src_dir, d->d_name);
			char *to = i_strdup_printf("%s/%s/%s", dest, subdirs[i], d->d_name);
			if (rename(from, to) < 0)
				log_error_errno("maildir: rename %s", from);
			free(from);
			free(to);
		}
		if (dir != NULL)
			closedir(dir);
		free(src_dir);
	}
	free(dest);
	return 0;
}

static bool is_inferior(const char *name, const char *parent)
{
	size_t len = strlen(parent);
	return strncmp(name, parent, len) == 0 && name[len] == STORE_HIERARCHY_DELIMITER;
}

/* ++ layout: ".Old" and every ".Old.*" move to ".New" / ".New.*". */
static int rename_pp(struct maildir_user *user, const char *old_dir, const char *new_dir,
		     struct store_error *error_r)
{
	DIR *dir = opendir(user->root);
	struct dirent *d;
	size_t old_len = strlen(old_dir);
	int ret = 0;
	if (dir == NULL) {
		maildir_set_errno_error(error_r, "rename mailbox");
		return -1;
	}
	while ((d = readdir(dir)) != NULL && ret == 0) {
		if (strncmp(d->d_name, old_dir, old_len) != 0 ||
		    (d->d_name[old_len] != '\0' && d->d_name[old_len] != '.'))
			continue;
		char *from = i_strdup_printf("%s/%s", user->root, d->d_name);
		char *to = i_strdup_printf("%s/%s%s", user->root, new_dir, d->d_name + old_len);
		if (strlen(new_dir) + strlen(d->d_name + old_len) > MAILDIR_NAME_MAX) {
			store_error_set(error_r, STORE_ERR_CANNOT, "Mailbox name is too long.");
			ret = -1;
		} else if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) < 0) {
			maildir_set_errno_error(error_r, "rename mailbox");
			ret = -1;
		}
		free(from);
		free(to);
	}
	closedir(dir);
	return ret;
}

static int maildir_rename_mailbox(struct store_user *_user, const char *old_name,
				  const char *new_name, struct store_error *error_r)
{
	struct maildir_user *user = (struct maildir_user *)_user;
	char *old_path = NULL, *new_path = NULL;
	int ret = -1;
	if (maildir_folder_path(user, old_name, &old_path, error_r) < 0 ||
	    maildir_folder_path(user, new_name, &new_path, error_r) < 0)
		goto out;
	if (!has_cur(old_path) && strcmp(old_name, "INBOX") != 0) {
		store_error_set(error_r, STORE_ERR_NONEXISTENT, "Mailbox does not exist.");
	} else if (strcmp(new_name, "INBOX") == 0 || is_dir_nofollow(new_path)) {
		store_error_set(error_r, STORE_ERR_ALREADYEXISTS, "Mailbox already exists.");
	} else if (is_inferior(new_name, old_name)) {
		store_error_set(error_r, STORE_ERR_CANNOT, "Cannot rename a mailbox into itself.");
	} else if (strcmp(old_name, "INBOX") == 0) {
		ret = rename_inbox(user, new_name, error_r);
	} else if (user->layout == MAILDIR_LAYOUT_PP) {
		ret = rename_pp(user, strrchr(old_path, '/') + 1, strrchr(new_path, '/') + 1,
				error_r);
	} else if (mkdir_parents(new_path) < 0 ||
		   renameat2(AT_FDCWD, old_path, AT_FDCWD, new_path, RENAME_NOREPLACE) < 0) {
		maildir_set_errno_error(error_r, "rename mailbox");
	} else {
		ret = 0;
	}
out:
	free(old_path);
	free(new_path);
	return ret;
}

/* ---- subscriptions ---- */

/* pymap's format: one UTF-8 name per line. Dovecot's version 2 file ("V\t2" header,
 * an empty line, then names with TAB as the hierarchy separator) is read too. */
static void subs_parse(const char *data, struct name_list *list)
{
	const char *p = data;
	bool dovecot_v2 = strncmp(data, "V\t2\n", 4) == 0 || strncmp(data, "V\t2\r\n", 5) == 0;
	bool header = dovecot_v2;
	while (*p != '\0') {
		size_t len = strcspn(p, "\n");
		char *line = i_strndup(p, len > 0 && p[len - 1] == '\r' ? len - 1 : len);
		p += len + (p[len] == '\n');
		if (header) {
			header = line[0] != '\0';
		} else if (line[0] != '\0') {
			if (dovecot_v2) {
				for (char *c = line; *c != '\0'; c++) {
					if (*c == '\t')
						*c = '/';
				}
			}
			struct store_error error;
			if (store_name_validate(line, &error) == 0 && list->count < MAX_FOLDERS)
				name_list_add(list, line, false);
		}
		free(line);
	}
}

static int subs_read(struct maildir_user *user, struct name_list *list)
{
	char *path = i_strdup_printf("%s/%s", user->root, SUBSCRIPTIONS_NAME);
	char *data;
	size_t size;
	int ret = maildir_file_read(path, 16 * 1024 * 1024, &data, &size);
	free(path);
	if (ret > 0) {
		subs_parse(data, list);
		free(data);
	}
	return ret < 0 ? -1 : 0;
}

static int maildir_subscribe(struct store_user *_user, const char *name, bool subscribe,
			     struct store_error *error_r)
{
	struct maildir_user *user = (struct maildir_user *)_user;
	struct name_list list;
	struct maildir_lock *lock;
	char *path = i_strdup_printf("%s/%s", user->root, SUBSCRIPTIONS_NAME);
	int ret = -1;
	memset(&list, 0, sizeof(list));
	if (maildir_lock_acquire(path, MAILDIR_LOCK_WAIT_MSECS, MAILDIR_LOCK_STALE_SECS,
				 &lock) < 0) {
		maildir_set_errno_error(error_r, "lock subscriptions");
		free(path);
		return -1;
	}
	if (subs_read(user, &list) < 0) {
		maildir_set_errno_error(error_r, "read subscriptions");
		goto out;
	}
	int idx = name_list_find(&list, name);
	if (subscribe && idx < 0) {
		name_list_add(&list, name, false);
	} else if (!subscribe && idx >= 0) {
		free(list.entries[idx].name);
		list.entries[idx] = list.entries[--list.count];
	}
	struct buffer buf;
	buffer_init(&buf, 0);
	for (unsigned int i = 0; i < list.count; i++)
		(void)buffer_printf(&buf, "%s\n", list.entries[i].name);
	ret = list.count == 0 ? (unlink(path) < 0 && errno != ENOENT ? -1 : 0) :
	      maildir_file_replace(path, buffer_data(&buf), buffer_len(&buf), 0600, true);
	if (ret < 0)
		maildir_set_errno_error(error_r, "write subscriptions");
	buffer_deinit(&buf);
out:
	maildir_lock_release(&lock);
	store_list_free(&list.entries, list.count);
	free(path);
	return ret;
}

static int maildir_subscriptions(struct store_user *_user, struct store_list_entry **entries_r,
				 unsigned int *count_r, struct store_error *error_r)
{
	struct name_list list;
	memset(&list, 0, sizeof(list));
	if (subs_read((struct maildir_user *)_user, &list) < 0) {
		maildir_set_errno_error(error_r, "read subscriptions");
		store_list_free(&list.entries, list.count);
		return -1;
	}
	if (list.entries == NULL)
		list.entries = i_new0(struct store_list_entry);
	*entries_r = list.entries;
	*count_r = list.count;
	return 0;
}

static int maildir_status(struct store_user *user, const char *name,
			  struct store_mailbox_status *status_r, struct store_error *error_r)
{
	struct maildir_folder *mb;
	if (maildir_status_from_index((struct maildir_user *)user, name, status_r) > 0)
		return 0;
	if (maildir_folder_get((struct maildir_user *)user, name, &mb, error_r) < 0)
		return -1;
	int ret = maildir_mbox_refresh(mb, error_r);
	if (ret == 0)
		maildir_status_from_state(mb, status_r);
	maildir_folder_unref(&mb);
	return ret;
}

const struct store_vfuncs store_maildir_vfuncs = {
	.name = "maildir",
	.create = maildir_create,
	.destroy = maildir_destroy,
	.user_open = maildir_user_open,
	.user_close = maildir_user_close,
	.list = maildir_list,
	.create_mailbox = maildir_create_mailbox,
	.delete_mailbox = maildir_delete_mailbox,
	.rename_mailbox = maildir_rename_mailbox,
	.subscribe = maildir_subscribe,
	.subscriptions = maildir_subscriptions,
	.status = maildir_status,
	.append = maildir_append,
	.mailbox_open = maildir_mailbox_open,
	.mailbox_close = maildir_mailbox_close,
	.snapshot = maildir_snapshot,
	.changes = maildir_changes,
	.claim_recent = maildir_claim_recent,
	.update_flags = maildir_update_flags,
	.expunge = maildir_expunge,
	.copy = maildir_copy,
	.get_content = maildir_get_content,
	.set_parsed = maildir_set_parsed,
	.watch = maildir_watch,
	.watch_remove = maildir_watch_remove,
};
