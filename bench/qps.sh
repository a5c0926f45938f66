#!/usr/bin/env bash
# Queries per second and CPU per query: capd against knotd and nsd.
#
#   bench/qps.sh   (env: CAPD=path, BENCH_SECONDS=15, BENCH_THREADS=cores,
#                   BENCH_SERVERS="capd knotd nsd",
#                   BENCH_ROUNDS=1, BENCH_RECORDS=20000)
#
# Generates one zone of 20,000 records (BENCH_RECORDS), serves it on loopback from capd
# (release build), knotd and nsd in turn, each with the same number of
# serving threads, and drives each with the same dnsperf run (a query file
# of existing names, NXDOMAIN and NODATA, several types). For each server it
# prints queries/s and the server's CPU time (user+system of all its
# processes and threads, from /proc/PID/stat before and after the run) per
# answered query, then the capd/knot and capd/nsd ratios.
#
# dnsperf shares the machine's cores with the server, as it would in any
# single-machine run: the CPU-per-query figure is the one to compare across
# servers; qps also depends on how much CPU dnsperf leaves.
#
# Rounds (BENCH_ROUNDS > 1): the servers take turns, in reverse order every
# other round (capd knotd, knotd capd, ...) so that a drift of the machine
# does not favour whoever runs first. On a shared VM one round can differ
# from the next by 2x for every server alike (the whole machine's CPU per
# query moves, not one server's), so the summary gives, besides the means,
# the median of each server's rounds and the median of the per-round
# ratios (each round's capd against the peer run next to it): the figure
# that one odd round cannot move.
set -uo pipefail
export LC_ALL=C

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
secs=${BENCH_SECONDS:-15}
rounds=${BENCH_ROUNDS:-1} # >1: servers take turns, means and medians printed at the end
# capd runs one UDP worker per core; the peers get as many serving threads
threads=${BENCH_THREADS:-$(nproc)}
records=${BENCH_RECORDS:-20000}
capd=${CAPD:-$root/build/release/src/cmd/capd}
knotd=$(command -v knotd || echo /usr/sbin/knotd)
nsd=$(command -v nsd || echo /usr/sbin/nsd)
dnsperf=$(command -v dnsperf || true)

servers=${BENCH_SERVERS:-capd knotd nsd}
case " $servers " in *" capd "*) ;; *) capd=/bin/true ;; esac
. "$root/bench/bench_lib.sh"
bench_build_capd qps
for b in "$capd" "$knotd" "$nsd" "$dnsperf"; do
    [ -n "$b" ] && [ -x "$b" ] || { echo "qps.sh: missing program ${b:-dnsperf} (tools/install-deps.sh --test)"; exit 1; }
done

bench_tmp qps 100

# ---- the zone: $records records under bench.test (bench/zonegen.awk) ----
zone=bench.test
zf=$tmp/$zone.zone
awk -v n="$records" -v z="$zone" -f "$root/bench/zonegen.awk" >"$zf" 2>"$tmp/hosts" || exit 1
hosts=$(cat "$tmp/hosts")

# ---- the query file: 70% existing A/AAAA/TXT/MX/CNAME, 15% NODATA, 15% NXDOMAIN ----
qf=$tmp/queries.txt
awk -v h="$hosts" -v z="$zone" 'BEGIN {
    srand(42)
    for (q = 0; q < 100000; q++) {
        r = rand(); i = int(rand() * h)
        if (r < 0.45)      printf "h%05d.%s A\n", i, z
        else if (r < 0.55) printf "h%05d.%s AAAA\n", i - i % 2, z
        else if (r < 0.62) printf "h%05d.%s TXT\n", i - i % 4, z
        else if (r < 0.66) printf "h%05d.%s MX\n", i - i % 8, z
        else if (r < 0.70) printf "w%05d.%s A\n", i - i % 50, z
        else if (r < 0.85) printf "h%05d.%s SRV\n", i, z
        else               printf "nx%06d.%s A\n", q, z
    }
}' >"$qf"

. "$root/tests/e2e/ports.sh"
# CPU ticks (utime+stime, all threads) of process $1 and all its
# descendants (nsd forks its servers). In /proc/PID/stat the fields after the
# ")" that ends the command name are: state ppid ... utime(12) stime(13).
tree_ticks() {
    cat /proc/[0-9]*/stat 2>/dev/null | awk -v root="$1" '
    { p = $1; r = $0; sub(/^.*\) /, "", r); split(r, f, " "); ppid[p] = f[2]; t[p] = f[12] + f[13] }
    END {
        in_tree[root] = 1
        for (changed = 1; changed;) {
            changed = 0
            for (p in ppid) if (!(p in in_tree) && (ppid[p] in in_tree)) { in_tree[p] = 1; changed = 1 }
        }
        for (p in in_tree) s += t[p]
        print s + 0
    }'
}

start_capd() { start_capd_bin "$capd" capd; }
# capd_new: a second capd binary (CAPD_NEW=path) in the same run, to
# compare two builds of the query path against the same peers (issue 12).
start_capd_new() { start_capd_bin "${CAPD_NEW:?CAPD_NEW=path of the second capd}" capd_new; }

hz=$(getconf CLK_TCK)
declare -A QPS CPU N QSUM CSUM ROUND_CPU ALL_CPU ROUND_RATIOS
run() {
    local name=$1 try out t0 t1 done
    for try in 1 2 3; do
        port=$(pick_port) || break
        "start_$name"
        wait_ready && break
        stop_server
    done
    if [ -z "$spid" ]; then
        echo "qps.sh: $name did not start:"
        cat "$tmp/$name.log" "$tmp"/nsd/nsd.log 2>/dev/null | tail -5
        return 1
    fi
    # one short warm-up so every server starts with hot caches
    "$dnsperf" -s 127.0.0.1 -p "$port" -d "$qf" -l 1 -c 4 -q 100 >/dev/null 2>&1
    t0=$(tree_ticks "$spid")
    out=$("$dnsperf" -s 127.0.0.1 -p "$port" -d "$qf" -l "$secs" -c 4 -T 1 -q 200 2>&1)
    t1=$(tree_ticks "$spid")
    stop_server
    done=$(awk '/Queries completed:/ {print $3}' <<<"$out")
    QPS[$name]=$(awk '/Queries per second:/ {printf "%.0f", $4}' <<<"$out")
    lost=$(awk '/Queries lost:/ {print $3}' <<<"$out")
    if [ -z "$done" ] || [ "$done" -eq 0 ]; then
        echo "qps.sh: dnsperf got no answers from $name:"
        echo "$out"
        return 1
    fi
    codes=$(awk '/Response codes:/ {sub(/^ *Response codes: */, ""); print}' <<<"$out")
    # a server that answers REFUSED/SERVFAIL (zone not loaded) is not measured
    case $codes in *NOERROR*NXDOMAIN*) ;; *)
        echo "qps.sh: $name answered with unexpected response codes: $codes"
        return 1 ;;
    esac
    cpu=$(awk -v t=$((t1 - t0)) -v hz="$hz" -v n="$done" 'BEGIN { printf "%.2f", t * 1e6 / hz / n }')
    qps=${QPS[$name]}
    # means over the rounds
    ROUND_CPU[$name]=$cpu
    ALL_CPU[$name]="${ALL_CPU[$name]:-} $cpu"
    N[$name]=$((${N[$name]:-0} + 1))
    QSUM[$name]=$(awk -v a="${QSUM[$name]:-0}" -v b="$qps" 'BEGIN { print a + b }')
    CSUM[$name]=$(awk -v a="${CSUM[$name]:-0}" -v b="$cpu" 'BEGIN { print a + b }')
    printf '%-8s %10s qps  %8s us CPU/query  (%s answered, %s lost, %.1f s CPU)\n' \
        "$name" "$qps" "$cpu" "$done" "${lost:-?}" "$(awk -v t=$((t1 - t0)) -v hz="$hz" 'BEGIN{print t/hz}')"
    echo "       rcodes: $codes"
}

echo "zone: $records records ($hosts hosts), queries: 100,000 mixed (A/AAAA/TXT/MX/CNAME, 15% NODATA, 15% NXDOMAIN)"
echo "dnsperf: $secs s, 4 clients, 200 outstanding; servers: $threads threads each; $(nproc) cores"
ok=0
ratio() { awk -v a="${1:-0}" -v b="${2:-0}" 'BEGIN { if (a > 0 && b > 0) printf "%.2f", a / b; else printf "n/a" }'; }
median() { tr ' ' '\n' | awk 'NF' | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "n/a"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
reversed=$(tr ' ' '\n' <<<"$servers" | awk 'NF' | tac | tr '\n' ' ')
for round in $(seq "$rounds"); do
    [ "$rounds" -gt 1 ] && echo "-- round $round of $rounds"
    order=$servers
    [ $((round % 2)) -eq 0 ] && order=$reversed
    ROUND_CPU=()
    for s in $order; do
        run "$s" || ok=1
    done
    for peer in knotd nsd; do
        [ -n "${ROUND_CPU[capd]:-}" ] && [ -n "${ROUND_CPU[$peer]:-}" ] || continue
        r=$(ratio "${ROUND_CPU[capd]}" "${ROUND_CPU[$peer]}")
        ROUND_RATIOS[$peer]="${ROUND_RATIOS[$peer]:-} $r"
        [ "$rounds" -gt 1 ] && echo "       round $round capd/$peer CPU/query $r"
    done
done
for s in $servers; do
    [ -n "${N[$s]:-}" ] || continue
    QPS[$s]=$(awk -v a="${QSUM[$s]}" -v n="${N[$s]}" 'BEGIN { printf "%.0f", a / n }')
    CPU[$s]=$(awk -v a="${CSUM[$s]}" -v n="${N[$s]}" 'BEGIN { printf "%.2f", a / n }')
    [ "$rounds" -gt 1 ] && printf 'mean   %-8s %10s qps  %8s us CPU/query  (median %s; rounds:%s)\n' \
        "$s" "${QPS[$s]}" "${CPU[$s]}" "$(median <<<"${ALL_CPU[$s]}")" "${ALL_CPU[$s]}"
done
echo "capd/knotd: qps $(ratio "${QPS[capd]:-}" "${QPS[knotd]:-}"), CPU/query $(ratio "${CPU[capd]:-}" "${CPU[knotd]:-}")"
[ -n "${QPS[capd_new]:-}" ] && echo "capd_new/knotd: qps $(ratio "${QPS[capd_new]:-}" "${QPS[knotd]:-}"), CPU/query $(ratio "${CPU[capd_new]:-}" "${CPU[knotd]:-}"); capd_new/capd CPU/query $(ratio "${CPU[capd_new]:-}" "${CPU[capd]:-}")"
echo "capd/nsd:   qps $(ratio "${QPS[capd]:-}" "${QPS[nsd]:-}"), CPU/query $(ratio "${CPU[capd]:-}" "${CPU[nsd]:-}")"
if [ "$rounds" -gt 1 ]; then
    for peer in knotd nsd; do
        [ -n "${ROUND_RATIOS[$peer]:-}" ] || continue
        echo "capd/$peer CPU/query, median of $(wc -w <<<"${ROUND_RATIOS[$peer]}") per-round ratios: $(median <<<"${ROUND_RATIOS[$peer]}") (rounds:${ROUND_RATIOS[$peer]})"
    done
fi
exit $ok
