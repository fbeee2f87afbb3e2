/* genmail: writes generated messages (msggen.h) into a maildir, or through APPEND by
 * running imapbench's load scenario. The same seed/count/max-size gives the same
 * messages, flags and sizes on both paths, so two servers can hold the same data.
 *
 *   genmail --maildir DIR [--mailbox NAME] [--layout ++|fs] -n COUNT [--seed S]
 *           [--max-size BYTES]
 *   genmail --imap PORT [--user U --password P] [--mailbox NAME] -n COUNT ...
 *   genmail --print ID [--seed S] [--size BYTES]
 */
#include "msggen.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

static int mkdir_p(const char *path)
{
	char tmp[PATH_MAX + 64];
	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(tmp, 0700) < 0 && errno != EEXIST ? -1 : 0;
}

/* Maildir flag letters in ASCII order. */
static void flag_letters(uint32_t id, char *out)
{
	const char *f = msggen_flags(id);
	size_t n = 0;
	if (strstr(f, "\\Flagged") != NULL)
		out[n++] = 'F';
	if (strstr(f, "\\Answered") != NULL)
		out[n++] = 'R';
	if (strstr(f, "\\Seen") != NULL)
		out[n++] = 'S';
	out[n] = '\0';
}

static int write_one(const char *dir, uint64_t seed, uint32_t id, size_t max,
		     struct msgbuf *crlf, struct msgbuf *lf)
{
	msggen_generate(seed, id, msggen_size_for(seed, id, max), crlf);
	msgbuf_reset(lf);
	for (size_t i = 0; i < crlf->len; i++)
		if (!(crlf->data[i] == '\r' && i + 1 < crlf->len && crlf->data[i + 1] == '\n'))
			msgbuf_add(lf, &crlf->data[i], 1);
	char letters[8], path[PATH_MAX + 256];
	flag_letters(id, letters);
	long t = 1700000000L + (long)id * 37;
	snprintf(path, sizeof(path), "%s/cur/%ld.M%uP%d.genmail,S=%zu,W=%zu:2,%s", dir, t,
		 (unsigned)id, (int)getpid(), lf->len, crlf->len, letters);
	FILE *f = fopen(path, "w");
	if (f == NULL || fwrite(lf->data, 1, lf->len, f) != lf->len || fclose(f) != 0) {
		fprintf(stderr, "genmail: %s: %s\n", path, strerror(errno));
		return -1;
	}
	struct timeval tv[2] = { { t, 0 }, { t, 0 } };
	(void)utimes(path, tv);
	return 0;
}

static int write_maildir(const char *root, const char *mailbox, const char *layout,
			 long count, uint64_t seed, size_t max)
{
	char dir[PATH_MAX], sub[PATH_MAX + 32];
	if (mailbox == NULL || strcmp(mailbox, "INBOX") == 0)
		snprintf(dir, sizeof(dir), "%s", root);
	else if (strcmp(layout, "fs") == 0)
		snprintf(dir, sizeof(dir), "%s/%s", root, mailbox);
	else
		snprintf(dir, sizeof(dir), "%s/.%s", root, mailbox);
	static const char *const subs[] = { "cur", "new", "tmp" };
	for (int i = 0; i < 3; i++) {
		snprintf(sub, sizeof(sub), "%s/%s", dir, subs[i]);
		if (mkdir_p(sub) < 0) {
			fprintf(stderr, "genmail: mkdir %s: %s\n", sub, strerror(errno));
			return -1;
		}
	}
	if (mailbox != NULL && strcmp(mailbox, "INBOX") != 0 && strcmp(layout, "fs") != 0) {
		snprintf(sub, sizeof(sub), "%s/maildirfolder", dir);
		FILE *f = fopen(sub, "w");
		if (f != NULL)
			fclose(f);
	}
	struct msgbuf crlf = { 0 }, lf = { 0 };
	for (long i = 0; i < count; i++)
		if (write_one(dir, seed, (uint32_t)i, max, &crlf, &lf) < 0)
			return -1;
	msgbuf_free(&crlf);
	msgbuf_free(&lf);
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: genmail --maildir DIR [--mailbox NAME] [--layout ++|fs] "
		"-n COUNT [--seed S] [--max-size B]\n"
		"       genmail --imap PORT [--user U] [--password P] [--mailbox NAME] "
		"-n COUNT [--seed S] [--max-size B] [--conns N]\n"
		"       genmail --print ID [--seed S] [--size B]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "maildir", 1, NULL, 'D' }, { "mailbox", 1, NULL, 'm' },
		{ "layout", 1, NULL, 'l' }, { "seed", 1, NULL, 's' },
		{ "max-size", 1, NULL, 'M' }, { "imap", 1, NULL, 'I' },
		{ "user", 1, NULL, 'u' }, { "password", 1, NULL, 'w' },
		{ "print", 1, NULL, 'P' }, { "size", 1, NULL, 'S' }, { "conns", 1, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	const char *maildir = NULL, *mailbox = NULL, *layout = "++", *imap = NULL;
	const char *user = "demouser", *pass = "demopass", *conns = "2";
	const char *seed_s = "1", *max_s = "262144", *count_s = "100";
	long print_id = -1;
	size_t size = 4096;
	int ch;
	while ((ch = getopt_long(argc, argv, "n:", lo, NULL)) != -1) {
		switch (ch) {
		case 'D': maildir = optarg; break;
		case 'm': mailbox = optarg; break;
		case 'l': layout = optarg; break;
		case 's': seed_s = optarg; break;
		case 'M': max_s = optarg; break;
		case 'I': imap = optarg; break;
		case 'u': user = optarg; break;
		case 'w': pass = optarg; break;
		case 'P': print_id = atol(optarg); break;
		case 'S': size = strtoull(optarg, NULL, 10); break;
		case 'c': conns = optarg; break;
		case 'n': count_s = optarg; break;
		default: usage();
		}
	}
	uint64_t seed = strtoull(seed_s, NULL, 10);
	if (print_id >= 0) {
		struct msgbuf b = { 0 };
		msggen_generate(seed, (uint32_t)print_id, size, &b);
		fwrite(b.data, 1, b.len, stdout);
		return 0;
	}
	if (maildir != NULL)
		return write_maildir(maildir, mailbox, layout, atol(count_s), seed,
				     strtoull(max_s, NULL, 10)) < 0 ? 1 : 0;
	if (imap == NULL)
		usage();
	/* APPEND through imapbench's load scenario, installed next to genmail */
	char self[PATH_MAX], bench[PATH_MAX + 16];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0)
		return 1;
	self[n] = '\0';
	char *slash = strrchr(self, '/');
	*slash = '\0';
	snprintf(bench, sizeof(bench), "%s/imapbench", self);
	execl(bench, bench, "-q", "-s", "load", "-p", imap, "-u", user, "-w", pass, "-c", conns,
	      "--msgs", count_s, "--seed", seed_s, "--max-size", max_s,
	      "-m", mailbox != NULL ? mailbox : "bigbox", (char *)NULL);
	fprintf(stderr, "genmail: %s: %s\n", bench, strerror(errno));
	return 1;
}
