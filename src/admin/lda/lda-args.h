#ifndef PYMAP_LDA_ARGS_H
#define PYMAP_LDA_ARGS_H
/* pymap-lda's command line and the mapping of admin replies to its exit status and
 * SMTP-enhanced-status line (sysexits: 0, 67 EX_NOUSER, 75 EX_TEMPFAIL, 65 EX_DATAERR,
 * 77 EX_NOPERM). Pure functions, so tests/unit/test-admin-lda-args.c checks them;
 * main.c does the I/O. */
#include <stdbool.h>
#include <jansson.h>

#define LDA_MAX_FLAGS 64

struct lda_args {
	const char *user, *from, *to, *mailbox, *path;
	const char *flags[LDA_MAX_FLAGS];
	unsigned int flag_count;
	unsigned int timeout_secs;       /* 0 = default */
	bool help, version;
};

/* 0 ok, -1 with a one-line *error_r (static storage). */
int lda_args_parse(int argc, char *const argv[], struct lda_args *args,
		   const char **error_r);
const char *lda_args_usage(void);

/* For a reply of mail.append (NULL: no reply, connection lost): the exit status and
 * the status line prefix + text ("2.0.0 Message delivered", ...), static. */
int lda_reply_status(const json_t *reply, const char **status_r);

#endif
