#ifndef PYMAP_LOG_H
#define PYMAP_LOG_H
/* Logging to stderr, one line per message, journald-friendly: a "<N>" syslog priority
 * prefix when stderr is the journal (JOURNAL_STREAM), otherwise a time stamp; then
 * "role[pid]: " and an optional context ("session=… user=…") set by the caller.
 * The *_errno variants append ": strerror(errno)". Never pass secrets to these.
 * log_fatal logs and exits with the given code; log_panic aborts (a bug). */
#include <stdarg.h>
#include <stdbool.h>

enum log_level { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARNING, LOG_LEVEL_ERROR };

void log_init(const char *role, bool debug);
void log_set_debug(bool debug);
bool log_debug_enabled(void);
/* Context prefix for following lines, e.g. "session=3f2a user=alice"; NULL clears.
 * The string is copied. */
void log_set_context(const char *context);
/* Reopen the log target (SIGUSR1): with PYMAP_LOG_FILE set, reopen it on stderr. */
void log_reopen(void);

void log_msg(enum log_level level, bool with_errno, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void log_vmsg(enum log_level level, bool with_errno, const char *fmt, va_list args)
	__attribute__((format(printf, 3, 0)));

#define log_debug(...) \
	do { if (log_debug_enabled()) log_msg(LOG_LEVEL_DEBUG, false, __VA_ARGS__); } while (0)
#define log_info(...) log_msg(LOG_LEVEL_INFO, false, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_LEVEL_WARNING, false, __VA_ARGS__)
#define log_warning_errno(...) log_msg(LOG_LEVEL_WARNING, true, __VA_ARGS__)
#define log_error(...) log_msg(LOG_LEVEL_ERROR, false, __VA_ARGS__)
#define log_error_errno(...) log_msg(LOG_LEVEL_ERROR, true, __VA_ARGS__)

void log_fatal(int exit_code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));
void log_fatal_errno(int exit_code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));
void log_panic(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#define i_assert(expr) \
	do { if (!(expr)) log_panic("assertion failed: %s (%s:%d)", #expr, __FILE__, __LINE__); } while (0)

#endif
