#!/usr/bin/env bash
# Installs the real backend servers Cebus is tested against, and the browser the browser client is tested in, from
# Debian's packages, when missing:
#   tools/servers/install.sh redis-server nats-server postgresql chromium
# Needs root (CI runs as root); prints what it does on stderr.
set -euo pipefail
# Test files start servers in parallel: one install at a time (apt holds a lock of its own and would fail).
exec 9>"${TMPDIR:-/tmp}/cebus-servers-install.lock"
flock 9
missing=()
for package in "$@"; do
  case "$package" in
    redis-server) command -v redis-server >/dev/null || missing+=(redis-server) ;;
    nats-server) command -v nats-server >/dev/null || missing+=(nats-server) ;;
    postgresql) ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing+=(postgresql) ;;
    chromium) command -v chromium >/dev/null || missing+=(chromium) ;;
    *) echo "unknown package '$package' (redis-server, nats-server, postgresql, chromium)" >&2; exit 2 ;;
  esac
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing ${missing[*]} from Debian packages" >&2
if [ "$(id -u)" != 0 ]; then
  echo "installing ${missing[*]} needs root: run 'sudo apt-get install -y ${missing[*]}'" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
# The packages start system services we do not use; tests start their own servers on free loopback ports.
for service in redis-server nats-server postgresql; do
  service "$service" stop >/dev/null 2>&1 || true
done
