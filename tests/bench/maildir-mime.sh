#!/bin/sh
# tests/bench/maildir-mime.sh: time FETCH 1:* (ENVELOPE BODYSTRUCTURE) on a generated
# 10,000-message maildir, cold then warm (the maildir MIME cache). Figures only.
#   sh tests/bench/maildir-mime.sh [--count N] [--runs N] [--build DIR] [--strace]
cd "$(dirname "$0")/../.." || exit 1
exec /usr/bin/python3 tests/bench/maildir-mime.py "$@"
