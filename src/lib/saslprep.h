#ifndef PYMAP_SASLPREP_H
#define PYMAP_SASLPREP_H
/* SASLprep (RFC 4013, the stringprep profile of RFC 3454) as the Python pymap applied
 * it to user names, passwords and stored hashes (passlib.utils.saslprep):
 *   1. map: the "commonly mapped to nothing" characters (B.1) are removed, non-ASCII
 *      spaces (C.1.2) become U+0020;
 *   2. normalize: Unicode NFKC (full tables, generated from the Unicode data of the
 *      Python that pymap runs on: see saslprep-gen.py);
 *   3. prohibit: unassigned code points (A.1, stored-string rules), C.2.1-C.9;
 *   4. bidi (RFC 3454 section 6): a string with RandALCat characters (D.1) must start
 *      and end with one and contain no LCat (D.2) character.
 * An empty result is allowed (as in passlib). Input that is not UTF-8 is an error.
 *
 * Used by the auth process (password verification, user name comparison). */
#include <stddef.h>

#define SASLPREP_MAX_INPUT_BYTES 4096

/* Returns 0 with *out_r (malloc'ed, NUL-terminated UTF-8; wipe it with
 * i_free_secret() when it held a secret), or -1 with *error_r (a static reason). */
int saslprep(const char *in, size_t len, char **out_r, const char **error_r);

#endif
