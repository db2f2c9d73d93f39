#!/usr/bin/env bash
# contrib/setup.sh -- install dependencies, build, run the daemon or the test suite.
#
#   contrib/setup.sh run            install, build, run in the foreground on ./run/reverse-policyd.sock
#   contrib/setup.sh test [--asan]  install, build (build/ or build-asan/), run the whole suite via CTest
#   contrib/setup.sh deps | build [--asan]
#
# Debian 12 packages only. Needs root (or sudo) for apt-get; the build itself does not.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$PWD

build_pkgs=(g++ cmake make pkg-config libevent-dev libldns-dev libfmt-dev libtomlplusplus-dev libjemalloc-dev catch2)
# Tests: a real DNS server (unbound), ldns tools, a real Postfix driven by swaks in a network namespace.
test_pkgs=(unbound ldnsutils postfix swaks libio-socket-inet6-perl iproute2 python3 procps)

as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

install_pkgs() {
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    ((${#missing[@]})) || return 0
    echo "setup: installing ${missing[*]}"
    # Postfix must not ask questions nor configure the system instance: the tests run their own.
    echo "postfix postfix/main_mailer_type select No configuration" | as_root debconf-set-selections
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

build() {
    local dir=build flags=()
    if [[ ${1:-} == --asan ]]; then dir=build-asan; flags=(-DRPD_SANITIZE=ON); fi
    cmake -S "$root" -B "$root/$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "${flags[@]}" >/dev/null
    cmake --build "$root/$dir" -j "$(nproc)" >&2
    echo "$root/$dir"
}

cmd=${1:-}
shift || true
case $cmd in
deps)
    install_pkgs "${build_pkgs[@]}" "${test_pkgs[@]}"
    ;;
build)
    install_pkgs "${build_pkgs[@]}"
    build "$@" >/dev/null
    ;;
run)
    install_pkgs "${build_pkgs[@]}"
    dir=$(build)
    mkdir -p "$root/run"
    # The sample config as shipped, listening on a socket under the working tree instead of Postfix's spool.
    sed -e "/^\[server\]/,/^\[/ s|^listen = .*|listen = [\"unix:$root/run/reverse-policyd.sock\"]|" \
        "$root/etc/reverse-policyd.toml" >"$root/run/reverse-policyd.toml"
    echo "setup: config $root/run/reverse-policyd.toml (etc/reverse-policyd.toml with listen = unix:$root/run/reverse-policyd.sock)"
    exec "$dir/policyd/reverse-policyd" -f -c "$root/run/reverse-policyd.toml"
    ;;
test)
    install_pkgs "${build_pkgs[@]}" "${test_pkgs[@]}"
    dir=$(build "$@")
    cd "$dir"
    ctest --output-on-failure --timeout 600
    ;;
*)
    sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
    exit 1
    ;;
esac
