/* Charset conversion: see mime-charset.h. */
#include "mime-charset.h"

#include <errno.h>
#include <iconv.h>
#include <strings.h>

#define REPLACEMENT_CHAR "\xEF\xBF\xBD"

static bool charset_is_utf8(const char *charset)
{
	return strcasecmp(charset, "utf-8") == 0 || strcasecmp(charset, "utf8") == 0 ||
		strcasecmp(charset, "us-ascii") == 0 || strcasecmp(charset, "ascii") == 0;
}

bool mime_charset_is_known(const char *charset)
{
	if (charset_is_utf8(charset))
		return true;
	iconv_t cd = iconv_open("UTF-8", charset);
	if (cd == (iconv_t)-1)
		return false;
	iconv_close(cd);
	return true;
}

/* Copy UTF-8 (or ASCII) input, replacing bytes that are not valid UTF-8. */
static int append_utf8_checked(const unsigned char *p, size_t len, struct buffer *out)
{
	size_t i = 0;
	while (i < len) {
		unsigned char c = p[i];
		size_t n = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 && c >= 0xC2 ? 2 :
			(c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 && c <= 0xF4 ? 4 : 0;
		bool ok = n > 0 && i + n <= len;
		for (size_t k = 1; ok && k < n; k++)
			ok = (p[i + k] & 0xC0) == 0x80;
		if (ok && n == 3)
			ok = !(c == 0xE0 && p[i + 1] < 0xA0) && !(c == 0xED && p[i + 1] >= 0xA0);
		if (ok && n == 4)
			ok = !(c == 0xF0 && p[i + 1] < 0x90) && !(c == 0xF4 && p[i + 1] >= 0x90);
		if (!ok) {
			if (buffer_append_str(out, REPLACEMENT_CHAR) < 0)
				return -1;
			i++;
			continue;
		}
		if (buffer_append(out, p + i, n) < 0)
			return -1;
		i += n;
	}
	return 0;
}

static int convert(iconv_t cd, const void *in, size_t len, struct buffer *out)
{
	char *inp = (char *)in;
	size_t inleft = len;
	char tmp[1024];
	while (inleft > 0) {
		char *outp = tmp;
		size_t outleft = sizeof(tmp);
		size_t rc = iconv(cd, &inp, &inleft, &outp, &outleft);
		int err = rc == (size_t)-1 ? errno : 0;
		if (buffer_append(out, tmp, sizeof(tmp) - outleft) < 0)
			return -1;
		if (err == EILSEQ || err == EINVAL) {
			/* skip one bad byte (EINVAL: truncated sequence at the end) */
			if (buffer_append_str(out, REPLACEMENT_CHAR) < 0)
				return -1;
			inp++;
			inleft--;
			iconv(cd, NULL, NULL, NULL, NULL);
		} else if (err != 0 && err != E2BIG) {
			return -1;
		}
	}
	return 0;
}

int mime_charset_to_utf8(const char *charset, const void *in, size_t len, struct buffer *out)
{
	if (charset_is_utf8(charset))
		return append_utf8_checked(in, len, out);
	iconv_t cd = iconv_open("UTF-8", charset);
	if (cd == (iconv_t)-1)
		return -1;
	int ret = convert(cd, in, len, out);
	iconv_close(cd);
	return ret;
}
