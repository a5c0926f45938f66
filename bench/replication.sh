#!/usr/bin/env bash
# Replication to secondaries: capd -> Knot (NOTIFY + IXFR), Knot -> Knot,
# and capd -> capd (capability replication, issue 14) when capd has
# --primary. One run, same machine, figures and ratios of that run.
#
#   bench/replication.sh   (env: BUILD=build/release, N=1000, NK=30,
#                           RECORDS=100000, R=3, TIMEOUT=1200,
#                           FRESH_ONLY=1: only (c) and (d)'s fresh secondary)
#
# (a) propagation latency, capd -> knotd: N updates one after the other,
#     each sent by an in-process Cap'n Proto client (bench/replication_lat.c)
#     and timed from capd's acknowledgement (success=true, durable) to the
#     first UDP answer from the secondary that holds the new record (the
#     secondary is queried in a tight loop). capd NOTIFYs knotd (--notify),
#     knotd takes the change by IXFR.
# (b) the same for knotd -> knotd over NK updates sent as RFC 2136 UPDATEs
#     (acknowledgement = the primary's NOERROR); knotd sends its NOTIFY about
#     a second after a change, so NK is small.
# (c) a fresh secondary of a RECORDS-record zone: time from starting the
#     secondary process until it answers the zone's last record; capd ->
#     fresh knotd (AXFR) and knotd -> fresh knotd (AXFR); R rounds each,
#     the median printed (and every round). Also each primary's own share
#     of such a transfer: a full AXFR to bench/axfr_time.py, which only
#     counts the records (a fresh knotd's time is mostly knotd's own).
# (d) capd -> capd (`capd --primary FILE`): (a) and (c) with a capd secondary.
# The whole run is bounded (TIMEOUT seconds); every server it starts is
# stopped on exit, timeout or interrupt.
set -uo pipefail
export LC_ALL=C
if [ -z "${REPLICATION_SH_BOUNDED:-}" ]; then
  REPLICATION_SH_BOUNDED=1 exec timeout -k 10 "${TIMEOUT:-1200}" bash "${BASH_SOURCE[0]}" "$@"
fi
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD:-$root/build/release}
n=${N:-1000}
nk=${NK:-30}
records=${RECORDS:-100000}
rounds=${R:-3}
capd=$build/src/cmd/capd
knotd=$(command -v knotd || echo /usr/sbin/knotd)
if [ ! -x "$capd" ] && [ -z "${BUILD:-}" ]; then
  echo "building capd (release) in build/release"
  [ -f "$root/build/release/build.ninja" ] ||
    meson setup "$root/build/release" -Dbuildtype=release -Doptimization=2 >/dev/null || exit 1
  ninja -C "$root/build/release" >/dev/null || exit 1
fi
for b in "$capd" "$knotd"; do
  [ -x "$b" ] || { echo "replication.sh: missing $b (make release; tools/install-deps.sh --test)"; exit 1; }
done
has_secondary=0
"$capd" --help 2>&1 | grep -q -- '--primary ' && has_secondary=1

work=$(mktemp -d /tmp/ceon-repl.XXXXXX)
pids=()
stop() { # pid: TERM, then KILL after 10 s
  kill "$1" 2>/dev/null || return 0
  for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$1" 2>/dev/null
  wait "$1" 2>/dev/null
}
cleanup() { for p in "${pids[@]}"; do stop "$p"; done; rm -rf "$work"; }
trap cleanup EXIT
trap 'echo "replication.sh: stopped (timeout or signal)" >&2; exit 124' TERM INT
. "$root/tests/e2e/ports.sh"
port() { pick_port 2 || { echo "replication.sh: no free port"; exit 1; }; }

# ---- the prober (in-process client + tight UDP query loop)
cc=${CC:-cc}
libs=()
for l in eon/libceon_eon.a eon/libceon_eon_core.a rpc/libceon_rpc.a capnp/libceon_capnp.a dns/libceon_dns.a util/libceon_util.a; do
  libs+=("$build/src/$l")
done
lat=$work/replication_lat
if ! $cc -O2 -std=c17 -D_GNU_SOURCE -I"$root/src" -o "$lat" "$root/bench/replication_lat.c" \
  "${libs[@]}" -luv -lssl -lcrypto -lurcu-qsbr -lzscanner -llmdb -lpthread -lm 2>"$work/cc.log"; then
  cat "$work/cc.log"; exit 1
fi

# ---- zones: a small one for latency, RECORDS records for (c)
small=$work/example.org.zone
cat >"$small" <<'ZONE'
$ORIGIN example.org.
$TTL 3600
@ IN SOA ns1 dns 1 3600 900 1814400 3600
@ IN NS ns1
ns1 IN A 127.0.0.1
www IN A 203.0.113.80
ZONE
big=$work/big.test.zone
awk -v n="$records" 'BEGIN {
  print "$ORIGIN big.test."
  print "$TTL 3600"
  print "@ SOA ns1 hostmaster 1 7200 3600 1209600 300"
  print "@ NS ns1"
  print "ns1 A 192.0.2.1"
  for (i = 0; i < n - 3; i++) printf "h%06d A 10.%d.%d.%d\n", i, int(i / 65536) % 256, int(i / 256) % 256, i % 256
}' >"$big"
last=$(printf 'h%06d.big.test' $((records - 4)))

# start_capd NAME DNS_PORT ARGS...: capd with state dir $work/NAME (Cap'n
# Proto on DNS_PORT+1); sets cpid.
start_capd() {
  local name=$1 p=$2
  shift 2
  mkdir -p "$work/$name"
  "$capd" --state-dir "$work/$name/state" --capnp-secret-key-file "$work/$name/key.pem" \
    --capnp-listen-address "tcp:127.0.0.1:$((p + 1))" -b 127.0.0.1 -p "$p" "$@" >>"$work/$name/log" 2>&1 &
  cpid=$!
  pids+=($cpid)
}
# wait_soa PORT ZONE: until PORT answers ZONE's SOA (30 s).
wait_soa() {
  for _ in $(seq 300); do
    # dig prints ";" comments and an empty line on stdout when refused.
    dig @127.0.0.1 -p "$1" "$2" SOA +short +time=1 +tries=1 2>/dev/null | awk 'NF && !/^;/' | grep -q . && return 0
    sleep 0.1
  done
  echo "replication.sh: 127.0.0.1#$1 does not serve $2" >&2
  return 1
}
# knot_conf DIR PORT: the server part of a knotd config in DIR.
knot_conf() {
  mkdir -p "$1/db"
  cat >"$1/knot.conf" <<CONF
server:
    rundir: "$1"
    listen: 127.0.0.1@$2
database:
    storage: "$1/db"
log:
  - target: stderr
    any: info
CONF
}
# start_knot_primary DIR PORT ZONEFILE ZONE [NOTIFY_PORT]: serves ZONEFILE,
# takes RFC 2136 updates from 127.0.0.1, NOTIFYs 127.0.0.1@NOTIFY_PORT.
start_knot_primary() {
  local d=$1 p=$2 zf=$3 z=$4 np=${5:-}
  knot_conf "$d" "$p"
  cp "$zf" "$d/$z.zone"
  local notify="" rem=""
  if [ -n "$np" ]; then
    rem="remote:
  - id: sec
    address: 127.0.0.1@$np"
    notify="notify: sec"
  fi
  cat >>"$d/knot.conf" <<CONF
$rem
acl:
  - id: local
    address: 127.0.0.1
    action: [update, transfer]
zone:
  - domain: $z
    storage: "$d"
    file: $z.zone
    acl: local
    zonefile-sync: -1
    journal-content: changes
    $notify
CONF
  "$knotd" -c "$d/knot.conf" >"$d/log" 2>&1 &
  pids+=($!)
}
# start_knot_secondary DIR PORT MASTER_PORT ZONE: a fresh secondary.
start_knot_secondary() {
  local d=$1 p=$2 mp=$3 z=$4
  rm -rf "$d"
  knot_conf "$d" "$p"
  cat >>"$d/knot.conf" <<CONF
remote:
  - id: master
    address: 127.0.0.1@$mp
acl:
  - id: notify_from_master
    address: 127.0.0.1
    action: notify
template:
  - id: default
    storage: "$d"
    zonefile-sync: -1
    zonefile-load: none
zone:
  - domain: $z
    master: master
    acl: notify_from_master
CONF
  "$knotd" -c "$d/knot.conf" >"$d/log" 2>&1 &
  kpid=$!
  pids+=($kpid)
}
now() { date +%s.%N; }
# fresh_time T0 PORT: seconds from T0 until PORT answers the big zone's last record.
fresh_time() {
  local t1
  t1=$("$lat" wait "$2" "$last" 120) || return 1
  awk -v a="$1" -v b="$t1" 'BEGIN { printf "%.3f", b - a }'
}
field() { sed -E "s/.* $1=([0-9.]+).*/\\1/" <<<" $2"; }

fresh_only=${FRESH_ONLY:-0}
res_a="" res_b=""
if [ "$fresh_only" != 1 ]; then
# ---- (a) capd -> knotd, latency
pa=$(port)
pk=$(port)
start_capd capd_a "$pa" -z "$small" --allow-transfer 127.0.0.1 --notify "127.0.0.1:$pk"
wait_soa "$pa" example.org || exit 1
start_knot_secondary "$work/knot_a" "$pk" "$pa" example.org
wait_soa "$pk" example.org || { tail "$work/knot_a/log"; exit 1; }
res_a=$("$lat" cap "$work/capd_a/state/caps/domain/example.org.cap" "$pk" "$n" a) ||
  { echo "capd -> knotd: $res_a"; tail -5 "$work/knot_a/log"; exit 1; }
grep -q "IXFR, incoming" "$work/knot_a/log" || { echo "knotd did not take IXFRs from capd"; exit 1; }
stop "$kpid"
stop "$cpid"

# ---- (b) knotd -> knotd, latency
pp=$(port)
ps=$(port)
start_knot_primary "$work/knot_bp" "$pp" "$small" example.org "$ps"
kp=${pids[-1]}
wait_soa "$pp" example.org || { tail "$work/knot_bp/log"; exit 1; }
start_knot_secondary "$work/knot_bs" "$ps" "$pp" example.org
wait_soa "$ps" example.org || { tail "$work/knot_bs/log"; exit 1; }
res_b=$("$lat" dns "$pp" example.org "$ps" "$nk" b) || { echo "knotd -> knotd: $res_b"; exit 1; }
stop "$kpid"
stop "$kp"
fi

# ---- (c) a fresh secondary of the big zone, R rounds each (median)
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# knotd's own account of the transfer: seconds, messages, bytes.
xfr_line() { grep -o 'AXFR, incoming.*finished.*' "$1" | sed -E 's/.*finished, //' | head -1; }
pa=$(port)
pk=$(port)
start_capd capd_c "$pa" -z "$big" --allow-transfer 127.0.0.1
big_capd=$cpid
wait_soa "$pa" big.test || exit 1
for _ in $(seq 100); do [ -s "$work/capd_c/state/caps/primary/big.test.cap" ] && break; sleep 0.1; done
ck=() kk=() cc=() phases_cc=()
for r in $(seq "$rounds"); do
  t0=$(now)
  start_knot_secondary "$work/knot_c" "$pk" "$pa" big.test
  v=$(fresh_time "$t0" "$pk") || { echo "capd -> fresh knotd failed"; tail "$work/knot_c/log"; exit 1; }
  ck+=("$v")
  stop "$kpid"
  xfr_ck=$(xfr_line "$work/knot_c/log")
done
# the primary's own share of those transfers: a full AXFR to a reader that only counts
axfr_c=$(python3 "$root/bench/axfr_time.py" "$pa" big.test "$records") || axfr_c="n/a"
pp=$(port)
start_knot_primary "$work/knot_cp" "$pp" "$big" big.test
kp=${pids[-1]}
wait_soa "$pp" big.test || { tail "$work/knot_cp/log"; exit 1; }
axfr_k=$(python3 "$root/bench/axfr_time.py" "$pp" big.test "$records") || axfr_k="n/a"
for r in $(seq "$rounds"); do
  t0=$(now)
  start_knot_secondary "$work/knot_cs" "$pk" "$pp" big.test
  v=$(fresh_time "$t0" "$pk") || { echo "knotd -> fresh knotd failed"; tail "$work/knot_cs/log"; exit 1; }
  kk+=("$v")
  stop "$kpid"
  xfr_kk=$(xfr_line "$work/knot_cs/log")
done
stop "$kp"
fresh_ck=$(printf '%s\n' "${ck[@]}" | median)
fresh_kk=$(printf '%s\n' "${kk[@]}" | median)

# ---- (d) capd -> capd
res_d="" fresh_cc=""
if [ "$has_secondary" = 1 ]; then
  # A fresh capd secondary (empty state dir) of the big zone; its TLS key
  # made beforehand (capd would generate an RSA-2048 key at its first start,
  # which a fresh knotd does not need).
  for r in $(seq "$rounds"); do
    ps=$(port)
    mkdir -p "$work/capd_f$r"
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$work/capd_f$r/key.pem" 2>/dev/null
    t0=$(now)
    start_capd "capd_f$r" "$ps" --primary "$work/capd_c/state/caps/primary/big.test.cap" --primary-retry-wait 1
    v=$(fresh_time "$t0" "$ps") || { echo "capd -> fresh capd failed"; tail "$work/capd_f$r/log"; exit 1; }
    cc+=("$v")
    stop "$cpid"
    # the secondary's own account: registration, then where the transfer's time went
    phases_cc+=("$(grep -o '([0-9]* ms after connecting)' "$work/capd_f$r/log" | head -1 | tr -d '()'); transfer $(grep -o 'serial [0-9]* in .*' "$work/capd_f$r/log" | head -1 | sed 's/^serial [0-9]* //')")
  done
  fresh_cc=$(printf '%s\n' "${cc[@]}" | median)
  stop "$big_capd"
fi
if [ "$has_secondary" = 1 ] && [ "$fresh_only" != 1 ]; then
  pa=$(port)
  ps=$(port)
  start_capd capd_d "$pa" -z "$small"
  wait_soa "$pa" example.org || exit 1
  for _ in $(seq 100); do [ -s "$work/capd_d/state/caps/primary/example.org.cap" ] && break; sleep 0.1; done
  start_capd capd_ds "$ps" --primary "$work/capd_d/state/caps/primary/example.org.cap" --primary-retry-wait 1
  wait_soa "$ps" example.org || { tail "$work/capd_ds/log"; exit 1; }
  res_d=$("$lat" cap "$work/capd_d/state/caps/domain/example.org.cap" "$ps" "$n" d) ||
    { echo "capd -> capd: $res_d"; tail -5 "$work/capd_ds/log"; exit 1; }
fi

echo "== propagation: acknowledged on the primary -> answered by the secondary"
[ -n "$res_a" ] && printf '%-34s %s\n' "capd -> knotd (NOTIFY+IXFR), N=$n" "$res_a"
[ -n "$res_b" ] && printf '%-34s %s\n' "knotd -> knotd (NOTIFY+IXFR), N=$nk" "$res_b"
[ -n "$res_d" ] && printf '%-34s %s\n' "capd -> capd (Cap'n Proto), N=$n" "$res_d"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else printf "n/a" }'; }
[ -n "$res_a" ] && echo "ratio p50 capd->knotd / knotd->knotd: $(ratio "$(field p50_ms "$res_a")" "$(field p50_ms "$res_b")")," \
  "p99: $(ratio "$(field p99_ms "$res_a")" "$(field p99_ms "$res_b")")"
[ -n "$res_d" ] &&
  echo "ratio p50 capd->capd / knotd->knotd: $(ratio "$(field p50_ms "$res_d")" "$(field p50_ms "$res_b")")," \
    "p99: $(ratio "$(field p99_ms "$res_d")" "$(field p99_ms "$res_b")")"
echo "== a fresh secondary of a $records-record zone: start -> answers its last record"
echo "(median of $rounds; every round in brackets; knotd's log for its last transfer)"
printf '%-34s %s s [%s]  (knotd: AXFR %s)\n' "capd -> fresh knotd (AXFR)" "$fresh_ck" "${ck[*]}" "$xfr_ck"
printf '%-34s %s s [%s]  (knotd: AXFR %s)\n' "knotd -> fresh knotd (AXFR)" "$fresh_kk" "${kk[*]}" "$xfr_kk"
[ -n "$fresh_cc" ] && printf '%-34s %s s [%s]\n' "capd -> fresh capd (Cap'n Proto)" "$fresh_cc" "${cc[*]}"
echo "the primaries' own share (bench/axfr_time.py: a full AXFR to a reader that only counts, median of 5):" \
  "capd $axfr_c ms, knotd $axfr_k ms; the rest of a fresh knotd's time is knotd's own, the same for both primaries"
for i in "${!phases_cc[@]}"; do echo "  round $((i + 1)), the secondary's log: registered ${phases_cc[$i]}"; done
echo "ratio capd->knotd / knotd->knotd: $(ratio "$fresh_ck" "$fresh_kk")"
[ -n "$fresh_cc" ] && echo "ratio capd->capd / knotd->knotd: $(ratio "$fresh_cc" "$fresh_kk")"
[ "$has_secondary" = 1 ] || echo "capd -> capd: not measured (this capd has no --primary)"
exit 0
