#!/usr/bin/env bash
# Loading a big zone: capd against knotd and nsd (issue 12).
#
#   bench/load.sh   (env: CAPD=path, SIZE=1000000, ROUNDS=3, DELEG=20,
#                    SERVERS="capd knotd nsd", plus capd_nostate, and
#                    capd_base with CAPD_BASE=path: another build, before/after)
#
# Generates one zone of SIZE records (bench/zonegen.awk: hosts with
# A/AAAA/TXT/MX, CNAMEs, a delegation with glue every DELEG-th host), whose
# last line is "last A 192.0.2.99". Then ROUNDS times, each server in turn
# (the same file, loopback, a port from pick_port):
#   - time: from just before the server process is started until it answers
#     "last.bench.test A" with 192.0.2.99 (a UDP query every 20 ms, bounded);
#     the whole file is loaded and served then;
#   - peak memory: VmHWM (peak resident set) of the server process (the
#     largest of its processes'), read from /proc/PID/status once it answers, and the proportional set size
#     of the process and its children (PSS, from smaps_rollup: shared pages
#     counted once; nsd forks its servers after loading).
# Prints each round, the medians, and the ratios capd/knotd and capd/nsd.
#
# capd starts each round with a fresh, empty state dir (it must exist: a
# DNS-only capd never creates one), so it opens its journal as a first start
# does: it hashes the zone's content and writes the journal's metadata (no
# snapshot; the size of journal/data.mdb afterwards is printed). That is in
# the time, since it happens before capd answers. capd_nostate (not in the
# default SERVERS) is capd without a state dir: DNS only, no journal.
# knotd and nsd run as bench/qps.sh runs them (knotd: no journal, no zone
# file sync; nsd: no database file), with as many threads as cores.
set -uo pipefail
export LC_ALL=C

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
size=${SIZE:-1000000}
rounds=${ROUNDS:-3}
deleg=${DELEG:-20}
threads=$(nproc)
servers=${SERVERS:-capd knotd nsd}
capd=${CAPD:-$root/build/release/src/cmd/capd}
knotd=$(command -v knotd || echo /usr/sbin/knotd)
nsd=$(command -v nsd || echo /usr/sbin/nsd)
# bound on one start: 60 s plus 1 s per 10,000 records
limit_ms=$((60000 + size / 10))

case " $servers " in *" capd"*) ;; *) capd=/bin/true ;; esac
. "$root/bench/bench_lib.sh"
bench_build_capd load
for s in $servers; do
    case $s in
    capd | capd_nostate) b=$capd ;;
    capd_base) b=${CAPD_BASE:-} ;;
    knotd) b=$knotd ;;
    nsd) b=$nsd ;;
    *) echo "load.sh: unknown server $s"; exit 1 ;;
    esac
    [ -x "$b" ] || { echo "load.sh: missing program $b (tools/install-deps.sh --test)"; exit 1; }
done
command -v python3 >/dev/null || { echo "load.sh: missing python3"; exit 1; }

bench_tmp load 300

zone=bench.test
zf=$tmp/$zone.zone
awk -v n="$size" -v z="$zone" -v deleg="$deleg" -v last=last -f "$root/bench/zonegen.awk" \
    >"$zf" 2>"$tmp/hosts" || exit 1
echo "zone: $(grep -vc '^\$' "$zf") records ($(cat "$tmp/hosts") hosts, a delegation every" \
    "$deleg), $(($(stat -c %s "$zf") / 1048576)) MiB of text; $(nproc) cores, $threads threads each"

. "$root/tests/e2e/ports.sh"

start_capd() { start_capd_bin "$capd" capd fresh; }
start_capd_nostate() { start_capd_bin "$capd" capd_nostate none; }
start_capd_base() { start_capd_bin "$CAPD_BASE" capd_base fresh; }

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# Polls until the server answers "last.$zone A" with 192.0.2.99 (a new UDP
# query every 20 ms: kdig's shortest timeout is 1 s, too coarse); prints the
# milliseconds since $1 (ms since the epoch), or fails when the server is
# gone or past the bound.
wait_answer() {
    python3 - "$1" "$port" "$spid" "$limit_ms" "last.$zone" <<'PY'
import os, select, socket, struct, sys, time
t0, port, pid, limit, name = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
q = b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0" + struct.pack(">HH", 1, 1)
want = b"\0\1\0\1" + struct.pack(">I", 3600) + b"\0\4" + bytes([192, 0, 2, 99])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect(("127.0.0.1", port))
qid = 0
while True:
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit(1)
    if time.time() * 1000 - t0 > limit:
        sys.exit(1)
    qid = (qid + 1) & 0xFFFF
    try:
        s.send(struct.pack(">HHHHHH", qid, 0, 1, 0, 0, 0) + q)
    except ConnectionRefusedError:
        pass
    end = time.time() + 0.02
    while (left := end - time.time()) > 0:
        if not select.select([s], [], [], left)[0]:
            break
        try:
            a = s.recv(4096)
        except ConnectionRefusedError:
            continue  # nothing bound to the port yet
        # our id, a response, NOERROR, an answer, an A RR 192.0.2.99 in it
        if len(a) > 12 and struct.unpack(">H", a[:2])[0] == qid and a[2] & 0x80 and \
                a[3] & 0xF == 0 and struct.unpack(">H", a[6:8])[0] > 0 and want in a:
            print(int(time.time() * 1000) - t0)
            sys.exit(0)
PY
}

# PIDs of $1 and its descendants.
tree_pids() {
    local p
    echo "$1"
    for p in $(cat /proc/"$1"/task/*/children 2>/dev/null); do tree_pids "$p"; done
}
# The largest VmHWM of $1 and its descendants, in MiB (nsd loads in its
# main process, then forks).
hwm_mib() {
    local p
    for p in $(tree_pids "$1"); do awk '/^VmHWM:/ { print $2 }' /proc/"$p"/status 2>/dev/null; done |
        sort -n | tail -1 | awk '{ printf "%.0f", $1 / 1024 }'
}
# PSS of $1 and its descendants in MiB.
pss_mib() {
    local p s=0 k
    for p in $(tree_pids "$1"); do
        k=$(awk '/^Pss:/ { print $2 }' /proc/"$p"/smaps_rollup 2>/dev/null)
        s=$((s + ${k:-0}))
    done
    echo $((s / 1024))
}

declare -A T H P
run() {
    local name=$1 t0 ms try
    for try in 1 2 3; do
        port=$(pick_port) || break
        t0=$(now_ms)
        "start_$name"
        if ms=$(wait_answer "$t0"); then break; fi
        ms=""
        stop_server
    done
    if [ -z "$ms" ]; then
        echo "load.sh: $name did not answer the last record:"
        cat "$tmp/$name.log" "$tmp"/nsd/nsd.log 2>/dev/null | tail -5
        return 1
    fi
    local hwm pss extra=""
    hwm=$(hwm_mib "$spid")
    pss=$(pss_mib "$spid")
    [ "$name" = capd ] || [ "$name" = capd_base ] && extra="  journal: $(du -sk "$tmp/state/journal" 2>/dev/null | cut -f1) KiB"
    stop_server
    T[$name]+="$ms "
    H[$name]+="$hwm "
    P[$name]+="$pss "
    printf '%-13s %7d ms  peak RSS %5d MiB  PSS %5d MiB%s\n' "$name" "$ms" "$hwm" "$pss" "$extra"
}

median() { tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{ v[NR] = $1 } END { print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="${1:-0}" -v b="${2:-0}" 'BEGIN { if (a > 0 && b > 0) printf "%.2f", a / b; else printf "n/a" }'; }

ok=0
for round in $(seq "$rounds"); do
    echo "-- round $round of $rounds"
    for s in $servers; do run "$s" || ok=1; done
done
declare -A MT MH MP
echo "-- medians of $rounds round(s)"
for s in $servers; do
    [ -n "${T[$s]:-}" ] || continue
    MT[$s]=$(median "${T[$s]}")
    MH[$s]=$(median "${H[$s]}")
    MP[$s]=$(median "${P[$s]}")
    printf '%-13s %7s ms  peak RSS %5s MiB  PSS %5s MiB   (times: %s)\n' "$s" "${MT[$s]}" \
        "${MH[$s]}" "${MP[$s]}" "${T[$s]% }"
done
for peer in knotd nsd; do
    for s in capd capd_nostate capd_base; do
        [ -n "${MT[$s]:-}" ] && [ -n "${MT[$peer]:-}" ] || continue
        printf '%s/%s: time %s, peak RSS %s, PSS %s\n' "$s" "$peer" "$(ratio "${MT[$s]}" "${MT[$peer]}")" \
            "$(ratio "${MH[$s]}" "${MH[$peer]}")" "$(ratio "${MP[$s]}" "${MP[$peer]}")"
    done
done
[ -n "${MT[capd_base]:-}" ] && [ -n "${MT[capd]:-}" ] &&
    printf 'capd/capd_base: time %s, peak RSS %s, PSS %s\n' "$(ratio "${MT[capd]}" "${MT[capd_base]}")" \
        "$(ratio "${MH[capd]}" "${MH[capd_base]}")" "$(ratio "${MP[capd]}" "${MP[capd_base]}")"
exit $ok
