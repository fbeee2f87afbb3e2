#ifndef PYMAP_MAILDIR_FILE_H
#define PYMAP_MAILDIR_FILE_H
/* Small file helpers for the maildir backend (store-maildir*.c, maildir-*.c): read a
 * whole small file with a size bound, replace a file atomically (temporary file in the
 * same directory, fsync, rename, fsync of the directory), and file identity stamps
 * used to decide whether a directory or file changed since it was last looked at. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

struct maildir_stamp {
	bool exists;
	uint64_t ino;
	uint64_t size;
	int64_t mtime_sec;
	int64_t mtime_nsec;
};

/* Stamp of path (lstat). A missing file gives exists=false and returns 0; other
 * errors -1 with errno. */
int maildir_stamp_get(const char *path, struct maildir_stamp *stamp_r);
bool maildir_stamp_equal(const struct maildir_stamp *a, const struct maildir_stamp *b);
/* True when the mtime is so close to now that a later change in the same clock tick
 * could go unnoticed (the stamp cannot be trusted yet). */
bool maildir_stamp_is_recent(const struct maildir_stamp *stamp);

/* Does the file system at path stamp mtimes from the local clock in nanoseconds
 * (ext4, tmpfs, xfs, btrfs)? Network and unknown ones: false. */
bool maildir_fs_has_fine_clock(const char *path);
/* The clock to read (before the stamps) for maildir_stamp_is_unsettled. */
void maildir_stamp_clock(struct timespec *now_r);
/* Could a change made after the stamp was read leave it the same (same mtime tick)?
 * taken: maildir_stamp_clock() read before the stamp. On a fine_clock file system
 * only when the mtime is within 20 ms of taken; otherwise within 2 seconds (as
 * maildir_stamp_is_recent). */
bool maildir_stamp_is_unsettled(const struct maildir_stamp *stamp,
				const struct timespec *taken, bool fine_clock);

/* Read a whole file of at most max_size bytes (NUL-terminated copy in *data_r).
 * 1 read, 0 missing, -1 error (errno; EFBIG when too large). */
int maildir_file_read(const char *path, size_t max_size, char **data_r, size_t *size_r);
/* Replace path with data: temp file "<path>.tmp.<pid>.<n>" in the same directory,
 * (when durable: fsync), rename over path, (fsync the directory). -1 with errno,
 * nothing left behind. */
int maildir_file_replace(const char *path, const void *data, size_t size, mode_t mode,
			 bool durable);
/* Append data to path when it is still the file it was (inode ino, size bytes) and,
 * when last_byte >= 0, ends with that byte: 1 appended (durable: fdatasync'ed;
 * *stamp_r the file after), 0 it is not (nothing written), -1 error (errno; a partial
 * write is cut off again). */
int maildir_file_append(const char *path, uint64_t ino, uint64_t size, int last_byte,
			const void *data, size_t data_size, bool durable,
			struct maildir_stamp *stamp_r);
/* fsync a directory. */
int maildir_fsync_dir(const char *path);
/* write all of data to fd; -1 with errno. */
int maildir_write_full(int fd, const void *data, size_t size);
/* mkdir that treats EEXIST as success. */
int maildir_mkdir(const char *path, mode_t mode);
/* Remove a directory tree without following symlinks. -1 with errno. */
int maildir_remove_tree(const char *path);

#endif
