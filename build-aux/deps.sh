#!/bin/sh
# Install the Debian packages that building and testing pymap need, only those missing.
# As a non-root user, print the exact command to run instead.
set -eu
PACKAGES="gcc make autoconf automake pkg-config libssl-dev libcrypt-dev libhiredis-dev
libsodium-dev libjansson-dev python3 python3-pytest openssl redis-server dovecot-imapd"
missing=""
for p in $PACKAGES; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  case "$status" in *"install ok installed"*) ;; *) missing="$missing $p" ;; esac
done
[ -z "$missing" ] && exit 0
cmd="apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" -ne 0 ]; then
  echo "deps: missing Debian packages:$missing" >&2
  echo "deps: run as root: apt-get update && $cmd" >&2
  exit 1
fi
echo "deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# Some services (redis, dovecot) start on install where an init system runs; the tests
# start their own instances, so keep the packaged ones from starting.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod 755 "$policy" && created_policy=1
fi
apt-get update -qq || true
rc=0
apt-get install -y --no-install-recommends $missing || rc=$?
[ "$created_policy" = 1 ] && rm -f "$policy"
exit $rc
