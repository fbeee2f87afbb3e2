#!/bin/sh
# Install the Debian packages that building and testing pymap need, only those missing.
# As a non-root user, print the exact command to run instead.
set -eu
PACKAGES="gcc make autoconf automake pkg-config libssl-dev libcrypt-dev libhiredis-dev
libsodium-dev libjansson-dev python3 python3-pytest openssl redis-server dovecot-imapd"
# The master runs its children as these unprivileged system users when started as
# root (imap/admin as pymap, auth as pymap-auth).
ensure_users() {
  [ "$(id -u)" -eq 0 ] || return 0
  for u in pymap pymap-auth; do
    id -u "$u" >/dev/null 2>&1 && continue
    echo "deps: creating system user $u" >&2
    useradd --system --user-group --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin "$u"
  done
}
missing=""
for p in $PACKAGES; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  case "$status" in *"install ok installed"*) ;; *) missing="$missing $p" ;; esac
done
if [ -z "$missing" ]; then
  ensure_users
  exit 0
fi
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
[ $rc -eq 0 ] && ensure_users
exit $rc
