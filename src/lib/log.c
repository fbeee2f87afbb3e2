#include "log.h"
#include "alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX_BYTES 4096

static char log_role[32] = "pymap";
static bool log_debug_on;
static bool log_to_journal;
static char *log_context;

void log_init(const char *role, bool debug)
{
	snprintf(log_role, sizeof(log_role), "%s", role);
	log_debug_on = debug;
	log_to_journal = getenv("JOURNAL_STREAM") != NULL;
}

void log_set_debug(bool debug) { log_debug_on = debug; }
bool log_debug_enabled(void) { return log_debug_on; }

void log_set_context(const char *context)
{
	i_free(log_context);
	log_context = i_strdup(context);
}

void log_reopen(void)
{
	const char *path = getenv("PYMAP_LOG_FILE");
	if (path == NULL)
		return;
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0) {
		log_error_errno("open(%s)", path);
		return;
	}
	dup2(fd, STDERR_FILENO);
	close(fd);
}

static const char *const level_names[] = { "debug", "info", "warning", "error" };
static const int level_priorities[] = { 7, 6, 4, 3 };

/* Replace control characters so one message is always one line. */
static void sanitize_line(char *text)
{
	for (char *p = text; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	}
}

static size_t format_prefix(char *line, size_t size, enum log_level level)
{
	int len;
	if (log_to_journal) {
		len = snprintf(line, size, "<%d>%s[%ld]: ", level_priorities[level], log_role,
			       (long)getpid());
	} else {
		struct timespec ts;
		struct tm tm;
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		len = snprintf(line, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%ld]: %s: ",
			       tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
			       tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, log_role,
			       (long)getpid(), level_names[level]);
	}
	if (len > 0 && log_context != NULL)
		len += snprintf(line + len, size - (size_t)len, "%s: ", log_context);
	return len < 0 ? 0 : ((size_t)len >= size ? size - 1 : (size_t)len);
}

void log_vmsg(enum log_level level, bool with_errno, const char *fmt, va_list args)
{
	int saved_errno = errno;
	char line[LOG_LINE_MAX_BYTES];
	size_t prefix = format_prefix(line, sizeof(line) - 2, level);
	size_t room = sizeof(line) - 2 - prefix;
	int len = vsnprintf(line + prefix, room, fmt, args);
	size_t pos = prefix + (len < 0 ? 0 : ((size_t)len >= room ? room - 1 : (size_t)len));

	if (with_errno && pos < sizeof(line) - 2) {
		int elen = snprintf(line + pos, sizeof(line) - 2 - pos, ": %s",
				    strerror(saved_errno));
		if (elen > 0)
			pos += (size_t)elen >= sizeof(line) - 2 - pos ?
				sizeof(line) - 3 - pos : (size_t)elen;
	}
	line[pos] = '\0';
	sanitize_line(line + prefix);
	line[pos++] = '\n';
	line[pos] = '\0';
	if (write(STDERR_FILENO, line, pos) < 0) {
		/* stderr gone: nowhere else to report it */
	}
	errno = saved_errno;
}

void log_msg(enum log_level level, bool with_errno, const char *fmt, ...)
{
	va_list args;
	va_start(args, fmt);
	log_vmsg(level, with_errno, fmt, args);
	va_end(args);
}

void log_fatal(int exit_code, const char *fmt, ...)
{
	va_list args;
	va_start(args, fmt);
	log_vmsg(LOG_LEVEL_ERROR, false, fmt, args);
	va_end(args);
	exit(exit_code);
}

void log_fatal_errno(int exit_code, const char *fmt, ...)
{
	va_list args;
	va_start(args, fmt);
	log_vmsg(LOG_LEVEL_ERROR, true, fmt, args);
	va_end(args);
	exit(exit_code);
}

void log_panic(const char *fmt, ...)
{
	va_list args;
	va_start(args, fmt);
	log_vmsg(LOG_LEVEL_ERROR, false, fmt, args);
	va_end(args);
	abort();
}
