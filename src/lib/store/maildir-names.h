#ifndef PYMAP_MAILDIR_NAMES_H
#define PYMAP_MAILDIR_NAMES_H
/* Names in a maildir: IMAP mailbox names <-> folder directories, and message file
 * names (unique base, ",S=<size>", info suffix "<colon>2,<flags>"). Used by the
 * maildir backend (store-maildir*.c).
 *
 * Folders: "INBOX" is the maildir root. Other names are split at '/' and each level is
 * encoded in modified UTF-7 as Dovecot does. Layout "++" (Maildir++): one directory
 * "." + levels joined by '.', so "Foo/Bar" is ".Foo.Bar". Layout "fs": nested
 * directories "Foo/Bar". Refused (so nothing outside the maildir can be named): empty
 * levels, "." and "..", a level starting with '.', control characters, a '.' inside a
 * level (++: it is the level separator), a level "cur", "new" or "tmp" (fs), and a
 * directory name longer than 255 bytes.
 *
 * Message files: "<base>[<colon>2,<flags>]". Flags: D=\Draft F=\Flagged R=\Answered
 * S=\Seen T=\Deleted, a-z = keywords 0-25 (dovecot-keywords); other letters ignored. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum maildir_layout { MAILDIR_LAYOUT_PP, MAILDIR_LAYOUT_FS };

#define MAILDIR_NAME_MAX 255

/* IMAP name -> directory relative to the root ("" for INBOX). -1 with *error_r. */
int maildir_name_to_dir(enum maildir_layout layout, const char *name, char **dir_r,
			const char **error_r);
/* "++" directory entry (".A.B") or "fs" relative path ("A/B") -> IMAP name; -1 when it
 * is not a folder name we would create. */
int maildir_name_from_dir(enum maildir_layout layout, const char *dir, char **name_r);

/* Length of the base part of a file name (up to the info separator). */
size_t maildir_filename_base_len(const char *name, char colon);
/* System flags (enum store_flag) and keyword letter mask from the info part. */
void maildir_filename_flags(const char *name, char colon, uint32_t *system_r,
			    uint32_t *letters_r);
/* ",S=<n>" in the base part; false when absent. */
bool maildir_filename_size(const char *name, char colon, uint64_t *size_r);
/* ",W=<size>": the size with CRLF line ends (Dovecot's virtual size). */
bool maildir_filename_vsize(const char *name, char colon, uint64_t *size_r);
/* "<base><colon>2,<flags>" with the flags in ASCII order (malloc'ed): name's first
 * base_len bytes, the given flags, and any other upper-case info flag name already
 * had (one pymap has no meaning for, like mutt's P: kept, as Dovecot does). */
char *maildir_filename_with_flags(const char *name, size_t base_len, char colon,
				  uint32_t system, uint32_t letters);
/* A new unique base name "<sec>.M<usec>P<pid>Q<n>.<host>,S=<size>" (malloc'ed). */
char *maildir_filename_new(uint64_t size, uint64_t vsize);

#endif
