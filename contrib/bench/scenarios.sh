#!/usr/bin/env bash
# contrib/bench/scenarios.sh -- run issue 6's benchmark scenarios and print their figures.
#
#   contrib/bench/scenarios.sh [-B BUILD] [-D DAEMON] [-n RUNS] [-t SECONDS] SCENARIO...
#
# SCENARIO: cached uncached slow slow-shared never memory once (or: all)
#   cached       300 clients, all answers cached, 256 connections; `rpd-bench --echo` measured
#                in the same run, alternating; requests/s, % of echo, latency, CPU per request
#   uncached     every request a new client (own HELO and sender), 0 ms responder: requests/s
#                and DNS queries per request
#   slow         the same with a 50 ms responder and 2,048 connections: % of the bound
#                2048 / (2 rounds x 50 ms) = 20,480 requests/s
#   slow-shared  50 ms, 2,048 connections, every request a new client, 300 HELO names and
#                senders (what an MX sees: clients vary more than senders)
#   never        a responder that never answers: new clients must get the tempfail action by
#                request_deadline; 300 cached clients measured meanwhile
#   memory       100,000 clients cached (-m N to change), then 4,096 idle connections: RSS
#   once         1,000 concurrent requests for one new client: each question asked once
#
# BUILD is the build directory (default: build-rel, else build); DAEMON the binary to measure
# (default BUILD/policyd/reverse-policyd), so two builds can be compared side by side. Each run
# starts a fresh responder and daemon (an empty cache) in a scratch directory, with
# contrib/bench/bench.toml rewritten to use it. Every run is bounded: rpd-bench's -n/-d and
# --max-duration, and every process started is stopped by pid. Output: one line per run
# (key=value), then the median of each scenario. Loopback only.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=""
daemon=""
runs=3
seconds=10
memory_clients=100000
while getopts "B:D:n:t:m:h" opt; do
    case $opt in
    B) build=$OPTARG ;;
    D) daemon=$OPTARG ;;
    n) runs=$OPTARG ;;
    t) seconds=$OPTARG ;;
    m) memory_clients=$OPTARG ;;
    *) sed -n '2,27p' "$0"; exit 1 ;;
    esac
done
shift $((OPTIND - 1))
[[ $# -gt 0 ]] || { sed -n '2,27p' "$0"; exit 1; }
if [[ -z $build ]]; then
    if [[ -x $root/build-rel/contrib/bench/rpd-bench ]]; then build=$root/build-rel; else build=$root/build; fi
fi
daemon=${daemon:-$build/policyd/reverse-policyd}
bench=$build/contrib/bench/rpd-bench
responder=$build/contrib/bench/rpd-bench-dns
for f in "$daemon" "$bench" "$responder"; do [[ -x $f ]] || { echo "missing $f (build first)" >&2; exit 2; }; done

work=$(mktemp -d /tmp/rpd-scenarios.XXXXXX)
port=$((20000 + RANDOM % 20000))
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)"

sock=$work/policyd.sock
echo_sock=$work/echo.sock
config() {   # config FILE [dns timeout]
    sed -e "s|unix:/tmp/rpd-bench/policyd.sock|unix:$sock|" -e "s|127.0.0.1:55353|127.0.0.1:$port|" \
        -e "s|^timeout = \"500ms\"|timeout = \"${2:-500ms}\"|" "$here/bench.toml" > "$1"
}
config "$work/bench.toml"

start_responder() {   # start_responder ARGS...
    "$responder" --listen "127.0.0.1:$port" --max-duration 30m "$@" 2>>"$work/dns.log" &
    responder_pid=$!
    pids+=("$responder_pid")
    sleep 0.3
}
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
start_daemon() {   # start_daemon [CONFIG]
    rm -f "$sock"
    "$daemon" -f -c "${1:-$work/bench.toml}" 2>>"$work/daemon.log" &
    daemon_pid=$!
    pids+=("$daemon_pid")
    for _ in $(seq 100); do [[ -S $sock ]] && return; sleep 0.05; done
    echo "daemon did not start; see $work/daemon.log" >&2; exit 2
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
# Fields of rpd-bench --csv: 6 ok, 7 errors, 17 requests/s, 18 p50, 20 p99, 22 max (ms), 24 actions.
field() { echo "$1" | cut -d, -f"$2"; }
summary() {   # summary CSV [PREFIX] -> "req_s=... p50_ms=... p99_ms=... max_ms=... errors=... actions=..."
    local p=${2:-}
    echo "${p}req_s=$(field "$1" 17) ${p}p50_ms=$(field "$1" 18) ${p}p99_ms=$(field "$1" 20) ${p}max_ms=$(field "$1" 22) ${p}errors=$(field "$1" 7) ${p}actions=$(field "$1" 24 | tr -d '"' | tr ' ' '+')"
}
queries() { sed -n 's/.*"queries":\([0-9]*\).*/\1/p' "$1"; }
results=$work/results
report() { echo "$*"; echo "$*" >> "$results"; }

scenario_cached() {
    local i
    for i in $(seq "$runs"); do
        "$bench" --echo "unix:$echo_sock" --max-duration 10m 2>>"$work/echo.log" &
        local echo_pid=$!; pids+=("$echo_pid"); sleep 0.3
        local t0 t1 e d
        t0=$(cpu_ticks "$echo_pid")
        e=$("$bench" -c 256 -d "${seconds}s" --clients 300 --csv "unix:$echo_sock")
        t1=$(cpu_ticks "$echo_pid")
        local echo_cpu=$(( (t1 - t0) * 10000000 / $(field "$e" 6) ))
        stop "$echo_pid"
        start_responder --delay 0ms --stats "$work/dns-cached.json"
        start_daemon
        "$bench" -c 256 -n 20000 --clients 300 "unix:$sock" > /dev/null
        t0=$(cpu_ticks "$daemon_pid")
        d=$("$bench" -c 256 -d "${seconds}s" --clients 300 --csv "unix:$sock")
        t1=$(cpu_ticks "$daemon_pid")
        local cpu=$(( (t1 - t0) * 10000000 / $(field "$d" 6) ))
        stop "$daemon_pid"; stop "$responder_pid"
        local pct; pct=$(awk -v a="$(field "$d" 17)" -v b="$(field "$e" 17)" 'BEGIN {printf "%.1f", 100 * a / b}')
        report "cached run=$i $(summary "$d") pct_of_echo=$pct cpu_ns_per_req=$cpu echo_req_s=$(field "$e" 17) echo_p99_ms=$(field "$e" 20) echo_cpu_ns_per_req=$echo_cpu dns_queries=$(queries "$work/dns-cached.json")"
    done
}

scenario_uncached() {
    local i out n
    for i in $(seq "$runs"); do
        start_responder --delay 0ms --stats "$work/dns-uncached.json"
        start_daemon
        local t0; t0=$(cpu_ticks "$daemon_pid")
        out=$("$bench" -c 256 -n 20000 --unique-clients --client-offset $((i * 1000000)) --max-duration 5m --csv "unix:$sock")
        local t1; t1=$(cpu_ticks "$daemon_pid")
        stop "$daemon_pid"; stop "$responder_pid"
        n=$(field "$out" 6)
        report "uncached run=$i $(summary "$out") cpu_us_per_req=$(( (t1 - t0) * 10000 / n )) dns_queries_per_req=$(awk -v q="$(queries "$work/dns-uncached.json")" -v n="$n" 'BEGIN {printf "%.2f", q / n}')"
    done
}

slow_run() {   # slow_run NAME BENCH-ARGS...
    local name=$1; shift
    local i out
    for i in $(seq "$runs"); do
        start_responder --delay 50ms --stats "$work/dns-slow.json"
        start_daemon
        out=$("$bench" -c 2048 -d 20s --max-duration 2m --csv "$@" --client-offset $((i * 10000000)) "unix:$sock")
        stop "$daemon_pid"; stop "$responder_pid"
        report "$name run=$i $(summary "$out") pct_of_bound=$(awk -v r="$(field "$out" 17)" 'BEGIN {printf "%.1f", 100 * r / 20480}') dns_queries_per_req=$(awk -v q="$(queries "$work/dns-slow.json")" -v n="$(field "$out" 6)" 'BEGIN {printf "%.2f", q / n}')"
    done
}
scenario_slow() { slow_run slow --unique-clients; }
scenario_slow_shared() { slow_run slow-shared --clients 100000000 --helos 300 --senders 300; }

scenario_never() {
    local i new cached
    for i in $(seq "$runs"); do
        start_responder --delay 0ms
        start_daemon
        "$bench" -c 64 -n 20000 --clients 300 "unix:$sock" > /dev/null
        stop "$responder_pid"
        start_responder --never
        "$bench" -c 256 -d 20s --unique-clients --client-offset $((50000000 + i * 1000000)) --timeout 10s \
            --max-duration 2m --csv "unix:$sock" > "$work/never.csv" &
        local never_pid=$!
        cached=$("$bench" -c 16 -d 20s --clients 300 --max-duration 2m --csv "unix:$sock")
        wait "$never_pid" || true
        new=$(cat "$work/never.csv")
        stop "$daemon_pid"; stop "$responder_pid"
        report "never run=$i $(summary "$new" new_) $(summary "$cached" cached_)"
    done
}

scenario_memory() {
    local i fill load
    for i in $(seq "$runs"); do
        start_responder --delay 0ms
        start_daemon
        local start; start=$(rss_kb "$daemon_pid")
        fill=$("$bench" -c 256 -n "$memory_clients" --clients "$memory_clients" --max-duration 20m --csv "unix:$sock")
        local filled; filled=$(rss_kb "$daemon_pid")
        "$bench" -c 4 -d 30s --clients "$memory_clients" --idle 4096 --csv "unix:$sock" > "$work/memory.csv" &
        local load_pid=$!
        sleep 20
        local rss; rss=$(rss_kb "$daemon_pid")
        local fds; fds=$(ls "/proc/$daemon_pid/fd" | wc -l)
        wait "$load_pid" || true
        load=$(cat "$work/memory.csv")
        stop "$daemon_pid"; stop "$responder_pid"
        report "memory run=$i clients=$memory_clients rss_mib=$(awk -v k="$rss" 'BEGIN {printf "%.1f", k / 1024}') rss_after_fill_mib=$(awk -v k="$filled" 'BEGIN {printf "%.1f", k / 1024}') rss_at_start_mib=$(awk -v k="$start" 'BEGIN {printf "%.1f", k / 1024}') fds=$fds fill_req_s=$(field "$fill" 17) $(summary "$load" load_)"
    done
}

scenario_once() {
    local i out
    config "$work/bench-2s.toml" 2s
    for i in $(seq "$runs"); do
        start_responder --delay 500ms --questions --stats "$work/dns-once.json"
        start_daemon "$work/bench-2s.toml"
        out=$("$bench" -c 1000 -n 1000 --clients 1 --client-offset $((90000000 + i)) --max-duration 1m --csv "unix:$sock")
        stop "$daemon_pid"; stop "$responder_pid"
        local j; j=$(cat "$work/dns-once.json")
        report "once run=$i $(summary "$out") queries=$(queries "$work/dns-once.json") distinct_questions=$(echo "$j" | sed -n 's/.*"distinct_questions":\([0-9]*\).*/\1/p') max_per_question=$(echo "$j" | sed -n 's/.*"max_per_question":\([0-9]*\).*/\1/p')"
    done
}

medians() {   # the median of each numeric key per scenario, over its runs
    awk '{
        name = $1
        for (i = 2; i <= NF; ++i) {
            if ($i ~ /^[a-z_0-9]+=[0-9.]+$/) {
                split($i, kv, "="); key = name " " kv[1]
                if (!(key in n)) order[++keys] = key
                v[key, ++n[key]] = kv[2] + 0
            }
        }
    } END {
        for (k = 1; k <= keys; ++k) {
            key = order[k]; m = n[key]
            for (i = 1; i <= m; ++i) a[i] = v[key, i]
            for (i = 1; i <= m; ++i) for (j = i + 1; j <= m; ++j) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
            split(key, parts, " ")
            if (parts[2] != "run") printf "median %s %s=%s (of %d)\n", parts[1], parts[2], a[int((m + 1) / 2)], m
        }
    }' "$results"
}

[[ " $* " == *" all "* ]] && set -- cached uncached slow slow-shared never memory once
echo "daemon $daemon; $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%FT%TZ)"
for s in "$@"; do
    case $s in
    cached | uncached | slow | slow-shared | never | memory | once) "scenario_${s//-/_}" ;;
    *) echo "unknown scenario $s" >&2; exit 1 ;;
    esac
done
medians
