#!/bin/sh
# contrib/dnsq/test-server.sh -- run the test zones (t/data/zones) in unbound on loopback,
# in the foreground, to try rpd-dnsq (or the daemon) by hand:
#
#   contrib/dnsq/test-server.sh 5353 &
#   build/contrib/dnsq/rpd-dnsq -s 127.0.0.1:5353 alias1.example.test A
#
# The configuration is the one t/support/dns_unbound.cpp writes for the integration
# tests (keep the two in step): no chroot, no privilege drop, nothing sent to the
# network. Stop it with Ctrl-C or kill.
set -eu
port=${1:-5353}
here=$(cd "$(dirname "$0")" && pwd)
zones=$(cd "$here/../../t/data/zones" && pwd)
dir=$(mktemp -d /tmp/rpd-test-server.XXXXXX)
pid=
cleanup() {
    [ -z "$pid" ] || kill "$pid" 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 143' INT TERM
conf=$dir/unbound.conf
cat > "$conf" <<CONF
server:
  interface: 127.0.0.1@$port
  port: $port
  do-ip6: no
  do-daemonize: no
  use-syslog: no
  logfile: ""
  username: ""
  chroot: ""
  directory: "$dir"
  pidfile: ""
  num-threads: 1
  so-reuseport: no
  access-control: 127.0.0.0/8 allow
  module-config: "iterator"
  qname-minimisation: no
  verbosity: 1
  do-not-query-address: 0.0.0.0/0
  do-not-query-address: ::/0
  local-zone: "test." nodefault
CONF
grep -v '^#' "$zones/zones.list" | while read -r origin file; do
    [ -n "$origin" ] || continue
    printf '  local-zone: "%s" nodefault\n' "$origin" >> "$conf"
done
printf 'remote-control:\n  control-enable: no\n' >> "$conf"
grep -v '^#' "$zones/zones.list" | while read -r origin file; do
    [ -n "$origin" ] || continue
    printf 'auth-zone:\n  name: "%s"\n  zonefile: "%s"\n  for-downstream: no\n  for-upstream: yes\n  fallback-enabled: no\n' \
        "$origin" "$zones/$file" >> "$conf"
done
echo "test zones on 127.0.0.1:$port (unbound, foreground)" >&2
unbound -d -c "$conf" &
pid=$!
wait "$pid"
