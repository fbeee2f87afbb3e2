/* Folder and message file names in a maildir (see maildir-names.h). */
#include "maildir-names.h"
#include "store.h"
#include "alloc.h"
#include "buffer.h"
#include "imap-utf7.h"

#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

static int check_level(enum maildir_layout layout, const char *level, size_t len,
		       const char **error_r)
{
	if (len == 0 || level[0] == '.') {
		*error_r = "Mailbox name levels may not be empty or start with '.'.";
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)level[i];
		if (c < 0x20 || c == 0x7f) {
			*error_r = "Mailbox names may not contain control characters.";
			return -1;
		}
		if (c == '.' && layout == MAILDIR_LAYOUT_PP) {
			*error_r = "Mailbox names may not contain '.'.";
			return -1;
		}
	}
	if (layout == MAILDIR_LAYOUT_FS && len == 3 &&
	    (memcmp(level, "cur", 3) == 0 || memcmp(level, "new", 3) == 0 ||
	     memcmp(level, "tmp", 3) == 0)) {
		*error_r = "Mailbox name levels may not be cur, new or tmp.";
		return -1;
	}
	return 0;
}

int maildir_name_to_dir(enum maildir_layout layout, const char *name, char **dir_r,
			const char **error_r)
{
	struct buffer out, level;
	if (strcmp(name, "INBOX") == 0) {
		*dir_r = i_strdup("");
		return 0;
	}
	buffer_init(&out, 0);
	buffer_init(&level, 0);
	if (layout == MAILDIR_LAYOUT_PP)
		(void)buffer_append_c(&out, '.');
	const char *p = name;
	for (;;) {
		size_t len = strcspn(p, "/");
		buffer_reset(&level);
		(void)buffer_append(&level, p, len);
		if (check_level(layout, p, len, error_r) < 0)
			goto fail;
		size_t before = buffer_len(&out);
		if (imap_utf7_from_utf8(buffer_str(&level), &out) < 0) {
			*error_r = "Mailbox name is not valid UTF-8.";
			goto fail;
		}
		if (buffer_len(&out) - before > MAILDIR_NAME_MAX ||
		    (layout == MAILDIR_LAYOUT_PP && buffer_len(&out) > MAILDIR_NAME_MAX)) {
			*error_r = "Mailbox name is too long.";
			goto fail;
		}
		if (p[len] == '\0')
			break;
		(void)buffer_append_c(&out, layout == MAILDIR_LAYOUT_PP ? '.' : '/');
		p += len + 1;
	}
	buffer_deinit(&level);
	*dir_r = buffer_steal_str(&out);
	return 0;
fail:
	buffer_deinit(&level);
	buffer_deinit(&out);
	return -1;
}

int maildir_name_from_dir(enum maildir_layout layout, const char *dir, char **name_r)
{
	struct buffer out, level;
	const char *p = dir;
	char sep = layout == MAILDIR_LAYOUT_PP ? '.' : '/';
	const char *error;
	if (layout == MAILDIR_LAYOUT_PP) {
		if (p[0] != '.' || p[1] == '\0' || p[1] == '.')
			return -1;
		p++;
	}
	buffer_init(&out, 0);
	buffer_init(&level, 0);
	for (;;) {
		size_t len = strcspn(p, sep == '.' ? "." : "/");
		buffer_reset(&level);
		(void)buffer_append(&level, p, len);
		size_t before = buffer_len(&out);
		if (check_level(layout, p, len, &error) < 0 ||
		    imap_utf7_to_utf8(buffer_str(&level), &out) < 0 ||
		    memchr(buffer_data(&out) + before, '/', buffer_len(&out) - before) != NULL)
			goto fail;
		if (p[len] == '\0')
			break;
		(void)buffer_append_c(&out, '/');
		p += len + 1;
	}
	buffer_deinit(&level);
	if (strcmp(buffer_str(&out), "INBOX") == 0 ||
	    store_name_validate(buffer_str(&out), &(struct store_error){ 0 }) < 0) {
		buffer_deinit(&out);
		return -1;
	}
	*name_r = buffer_steal_str(&out);
	return 0;
fail:
	buffer_deinit(&level);
	buffer_deinit(&out);
	return -1;
}

/* Start of the info part ("2,...") or NULL. */
static const char *info_start(const char *name, char colon)
{
	const char *p = strchr(name, colon);
	if (p == NULL && colon != ':')
		p = strchr(name, ':');
	return p;
}

size_t maildir_filename_base_len(const char *name, char colon)
{
	const char *p = info_start(name, colon);
	return p == NULL ? strlen(name) : (size_t)(p - name);
}

void maildir_filename_flags(const char *name, char colon, uint32_t *system_r,
			    uint32_t *letters_r)
{
	const char *p = info_start(name, colon);
	uint32_t system = 0, letters = 0;
	if (p != NULL && p[1] == '2' && p[2] == ',') {
		for (p += 3; *p != '\0' && *p != ','; p++) {
			switch (*p) {
			case 'D': system |= STORE_FLAG_DRAFT; break;
			case 'F': system |= STORE_FLAG_FLAGGED; break;
			case 'R': system |= STORE_FLAG_ANSWERED; break;
			case 'S': system |= STORE_FLAG_SEEN; break;
			case 'T': system |= STORE_FLAG_DELETED; break;
			default:
				if (*p >= 'a' && *p <= 'z')
					letters |= 1u << (*p - 'a');
				break;
			}
		}
	}
	*system_r = system;
	*letters_r = letters;
}

/* The value of ",<key>=<digits>" in the base name. */
static bool filename_size_field(const char *name, char colon, char key, uint64_t *size_r)
{
	size_t base_len = maildir_filename_base_len(name, colon);
	for (const char *p = name; p < name + base_len; p++) {
		if (p[0] != ',' || p[1] != key || p[2] != '=')
			continue;
		uint64_t value = 0;
		const char *q = p + 3;
		if (*q < '0' || *q > '9')
			return false;
		while (*q >= '0' && *q <= '9' && value < (UINT64_MAX - 9) / 10)
			value = value * 10 + (uint64_t)(*q++ - '0');
		if (q != name + base_len && *q != ',')
			return false;
		*size_r = value;
		return true;
	}
	return false;
}

bool maildir_filename_size(const char *name, char colon, uint64_t *size_r)
{
	return filename_size_field(name, colon, 'S', size_r);
}

bool maildir_filename_vsize(const char *name, char colon, uint64_t *size_r)
{
	return filename_size_field(name, colon, 'W', size_r);
}

char *maildir_filename_with_flags(const char *name, size_t base_len, char colon,
				  uint32_t system, uint32_t letters)
{
	bool upper[26] = { false };
	char flags[64];
	size_t n = 0;
	/* info flags pymap has no meaning for (mutt's P for "passed") stay, as with
	 * Dovecot */
	const char *info = name + base_len;
	if (info[0] == colon && info[1] == '2' && info[2] == ',') {
		for (const char *p = info + 3; *p != '\0'; p++) {
			if (*p >= 'A' && *p <= 'Z')
				upper[*p - 'A'] = true;
		}
	}
	upper['D' - 'A'] = (system & STORE_FLAG_DRAFT) != 0;
	upper['F' - 'A'] = (system & STORE_FLAG_FLAGGED) != 0;
	upper['R' - 'A'] = (system & STORE_FLAG_ANSWERED) != 0;
	upper['S' - 'A'] = (system & STORE_FLAG_SEEN) != 0;
	upper['T' - 'A'] = (system & STORE_FLAG_DELETED) != 0;
	for (unsigned int i = 0; i < 26; i++) {
		if (upper[i])
			flags[n++] = (char)('A' + i);
	}
	for (unsigned int i = 0; i < 26; i++) {
		if (letters & (1u << i))
			flags[n++] = (char)('a' + i);
	}
	flags[n] = '\0';
	return i_strdup_printf("%.*s%c2,%s", (int)base_len, name, colon, flags);
}

char *maildir_filename_new(uint64_t size, uint64_t vsize)
{
	static unsigned int counter;
	char host[256], safe[1024];
	struct timeval tv;
	size_t n = 0;
	if (gethostname(host, sizeof(host)) < 0)
		strcpy(host, "localhost");
	host[sizeof(host) - 1] = '\0';
	/* '/' and ':' would break the name: escaped as Dovecot does. */
	for (const char *p = host; *p != '\0' && n + 5 < sizeof(safe); p++) {
		if (*p == '/' || *p == ':') {
			n += (size_t)snprintf(safe + n, sizeof(safe) - n, "\\%03o",
					      (unsigned char)*p);
		} else {
			safe[n++] = *p;
		}
	}
	safe[n] = '\0';
	gettimeofday(&tv, NULL);
	char w[32] = "";
	if (vsize != size)
		snprintf(w, sizeof(w), ",W=%llu", (unsigned long long)vsize);
	return i_strdup_printf("%lld.M%ldP%ldQ%u.%s,S=%llu%s", (long long)tv.tv_sec,
			       (long)tv.tv_usec, (long)getpid(), ++counter, safe,
			       (unsigned long long)size, w);
}
