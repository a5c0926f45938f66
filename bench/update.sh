#!/usr/bin/env bash
# Durable dynamic updates at two zone sizes: capd (in-process Cap'n Proto
# client) against BIND 9 and Knot (one nsupdate session each), same run.
#
#   bench/update.sh   (env: BUILD=build/release, N=500, SIZES="1000 200000",
#                      TIMEOUT=900)
#
# For each zone size (records, SOA and NS included; generated here: an apex
# with SOA, NS, ns1 A and then h0, h1, ... each with one A record):
#   capd   bench/update_load.c, a C client on our rpc library. Every
#          connection completes its TLS handshake, restores the capability
#          and answers a getName call before the clock starts. Then N updates
#          with one client on one connection (each waits for success=true
#          before the next), and 2N with 64 clients on one connection.
#   named  (BIND 9.18) one nsupdate session sending N updates one after the
#          other, each acknowledged before the next; durable journal (two
#          fsyncs per update before the reply).
#   knotd  (3.2) the same nsupdate session; journal-db-mode robust (fsync
#          before the reply).
# Every update is the same change on every server: replace the A RRset of an
# existing name (h<i mod names>: delete the RRset, add one A record), so the
# zone keeps its size through the run. capd acknowledges success=true only
# after its LMDB journal fsync (concurrent updates share one fsync).
# One server runs at a time, each on its own freshly loaded zone.
# Prints updates/s, p50/p99/p99.9 latency for capd, and the ratios
# ours/BIND, ours/Knot and 200k/1k. The whole run is bounded (TIMEOUT
# seconds); every server it starts is stopped on exit, timeout or interrupt.
set -uo pipefail
export LC_ALL=C
if [ -z "${UPDATE_SH_BOUNDED:-}" ]; then
  UPDATE_SH_BOUNDED=1 exec timeout -k 10 "${TIMEOUT:-900}" bash "${BASH_SOURCE[0]}" "$@"
fi
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD:-$root/build/release}
n=${N:-500}
sizes=(${SIZES:-1000 200000})
capd=$build/src/cmd/capd
knotd=$(command -v knotd || echo /usr/sbin/knotd)
named=$(command -v named || echo /usr/sbin/named)
for b in "$capd" "$knotd" "$named" "$(command -v nsupdate)"; do
  [ -x "$b" ] || { echo "update.sh: missing $b (make release; tools/install-deps.sh --test)"; exit 1; }
done

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
trap 'echo "update.sh: stopped (timeout or signal)" >&2; exit 124' TERM INT
port=$((20000 + RANDOM % 12000))
now() { date +%s.%N; }
rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.0f", n / (b - a) }'; }
# stop PID: stops one server started here and waits for it.
stop() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }
# wait_soa PORT: until the server answers the zone's SOA (200k records take
# a few seconds to load).
wait_soa() {
  for _ in $(seq 600); do
    dig @127.0.0.1 -p "$1" example.org SOA +short +time=1 +tries=1 | grep -q . && return 0
    sleep 0.1
  done
  return 1
}

# gen_zone SIZE FILE: SIZE records, names h0..h(SIZE-4).
gen_zone() {
  awk -v size="$1" 'BEGIN {
    print "$ORIGIN example.org."; print "$TTL 3600"
    print "@ IN SOA ns1 dns 1 3600 900 1814400 3600"; print "@ IN NS ns1"
    print "ns1 IN A 127.0.0.1"
    for (i = 0; i < size - 3; i++) printf "h%d IN A 10.%d.%d.%d\n", i, int(i / 65536) % 256, int(i / 256) % 256, i % 256
  }' >"$2"
}

# ---- the load client, against the release build's static libraries
cc=${CC:-cc}
libs=()
for l in eon/libceon_eon.a eon/libceon_eon_core.a rpc/libceon_rpc.a capnp/libceon_capnp.a dns/libceon_dns.a util/libceon_util.a; do
  libs+=("$build/src/$l")
done
if ! $cc -O2 -std=c17 -D_GNU_SOURCE -I"$root/src" -o "$work/update_load" "$root/bench/update_load.c" \
  "${libs[@]}" -luv -lssl -lcrypto -lurcu-qsbr -lzscanner -llmdb -lpthread 2>"$work/cc.log"; then
  cat "$work/cc.log"; exit 1
fi

# nsup_session PORT FIRST COUNT NAMES: one nsupdate process sending COUNT
# updates (i = FIRST .. FIRST+COUNT-1), each replacing h<i mod NAMES>'s A.
nsup_session() {
  { printf 'server 127.0.0.1 %s\nzone example.org\n' "$1"
    awk -v f="$2" -v c="$3" -v m="$4" 'BEGIN { for (i = f; i < f + c; i++) {
      printf "update delete h%d.example.org. A\nupdate add h%d.example.org. 60 A 192.0.2.%d\nsend\n", i % m, i % m, i % 250 + 1 } }'
  } | nsupdate
}
# check_last PORT FIRST COUNT NAMES: the session's last update is served.
check_last() {
  local i=$(($2 + $3 - 1))
  [ "$(dig @127.0.0.1 -p "$1" "h$((i % $4)).example.org" A +short)" = "192.0.2.$((i % 250 + 1))" ]
}

declare -A res
for size in "${sizes[@]}"; do
  names=$((size - 3))
  zdir=$work/z$size
  mkdir -p "$zdir"
  gen_zone "$size" "$zdir/example.org.zone"

  # ---- capd
  "$capd" -z "$zdir/example.org.zone" --state-dir "$zdir/state" --capnp-secret-key-file "$work/key.pem" \
    --capnp-listen-address "tcp:127.0.0.1:$((port + 1))" -b 127.0.0.1 -p "$port" >"$zdir/capd.log" 2>&1 &
  cpid=$!
  pids+=($cpid)
  cap=$zdir/state/caps/domain/example.org.cap
  for _ in $(seq 600); do [ -s "$cap" ] && break; sleep 0.1; done
  [ -s "$cap" ] || { cat "$zdir/capd.log"; exit 1; }
  # Warm-up: the journal's first transaction, page cache.
  "$work/update_load" "$cap" 1 1 20 "$names" >/dev/null || { cat "$zdir/capd.log"; exit 1; }
  res[$size,c1]=$("$work/update_load" "$cap" 1 1 "$n" "$names") ||
    { echo "update_load 1 client at $size failed: ${res[$size,c1]}"; exit 1; }
  res[$size,c64]=$("$work/update_load" "$cap" 64 1 $((n * 2)) "$names") ||
    { echo "update_load 64 clients at $size failed: ${res[$size,c64]}"; exit 1; }
  dig @127.0.0.1 -p "$port" "h$((names - 1)).example.org" A +short | grep -q . ||
    { echo "capd: h$((names - 1)) not served at $size"; exit 1; }
  stop "$cpid"

  # ---- named: a primary zone from the same file, updates allowed by
  # address, journal in the temp dir.
  bdir=$zdir/bind
  mkdir -p "$bdir"
  cp "$zdir/example.org.zone" "$bdir/"
  cat >"$bdir/named.conf" <<CONF
options {
    directory "$bdir";
    pid-file "$bdir/named.pid";
    session-keyfile "$bdir/session.key";
    managed-keys-directory "$bdir";
    listen-on port $((port + 3)) { 127.0.0.1; };
    listen-on-v6 { none; };
    automatic-interface-scan no;
    recursion no;
    notify no;
    dnssec-validation no;
};
controls { };
logging {
    channel err { stderr; severity error; };
    category default { err; };
    category unmatched { null; };
};
zone "example.org" {
    type primary;
    file "example.org.zone";
    journal "example.org.zone.jnl";
    allow-update { 127.0.0.1; };
};
CONF
  "$named" -f -c "$bdir/named.conf" >"$bdir/log" 2>&1 &
  bpid=$!
  pids+=($bpid)
  wait_soa $((port + 3)) || { echo "named did not load the $size zone"; cat "$bdir/log"; exit 1; }
  nsup_session $((port + 3)) 0 20 "$names" || { cat "$bdir/log"; exit 1; } # warm-up, creates the journal
  t0=$(now)
  nsup_session $((port + 3)) 20 "$n" "$names" || { echo "nsupdate session to named failed"; exit 1; }
  t1=$(now)
  res[$size,bind]=$(rate "$n" "$t0" "$t1")
  check_last $((port + 3)) 20 "$n" "$names" || { echo "named: last update missing at $size"; exit 1; }
  stop "$bpid"

  # ---- knotd
  kdir=$zdir/knot
  mkdir -p "$kdir/db"
  cp "$zdir/example.org.zone" "$kdir/"
  cat >"$kdir/knot.conf" <<CONF
server:
    listen: 127.0.0.1@$((port + 2))
    rundir: $kdir
database:
    storage: $kdir/db
    journal-db-mode: robust
acl:
  - id: upd
    address: 127.0.0.1
    action: update
zone:
  - domain: example.org
    storage: $kdir
    file: example.org.zone
    acl: upd
    zonefile-sync: -1
    journal-content: changes
log:
  - target: stderr
    any: error
CONF
  "$knotd" -c "$kdir/knot.conf" >"$kdir/log" 2>&1 &
  kpid=$!
  pids+=($kpid)
  wait_soa $((port + 2)) || { echo "knotd did not load the $size zone"; cat "$kdir/log"; exit 1; }
  nsup_session $((port + 2)) 0 20 "$names" || { cat "$kdir/log"; exit 1; }
  t0=$(now)
  nsup_session $((port + 2)) 20 "$n" "$names" || { echo "nsupdate session to knotd failed"; exit 1; }
  t1=$(now)
  res[$size,knot]=$(rate "$n" "$t0" "$t1")
  check_last $((port + 2)) 20 "$n" "$names" || { echo "knotd: last update missing at $size"; exit 1; }
  stop "$kpid"
done

field() { sed -E "s/.*$2=([0-9.]+).*/\1/" <<<"$1"; }
echo "== durable updates, each replacing one name's A RRset; $n per run (64 clients: $((n * 2)))"
printf '%-9s %-34s %9s %9s %9s %9s\n' records server updates/s p50_ms p99_ms p99.9_ms
for size in "${sizes[@]}"; do
  for k in c1 c64; do
    r=${res[$size,$k]}
    printf '%-9s %-34s %9s %9s %9s %9s\n' "$size" "capd, ${k#c} client(s), 1 connection" "$(field "$r" per_second)" \
      "$(field "$r" p50_ms)" "$(field "$r" p99_ms)" "$(field "$r" p999_ms)"
  done
  printf '%-9s %-34s %9s\n' "$size" "named, one nsupdate session" "${res[$size,bind]}"
  printf '%-9s %-34s %9s\n' "$size" "knotd, one nsupdate session" "${res[$size,knot]}"
done
echo "== ratios"
for size in "${sizes[@]}"; do
  c1=$(field "${res[$size,c1]}" per_second) c64=$(field "${res[$size,c64]}" per_second)
  awk -v s="$size" -v a="$c1" -v d="$c64" -v b="${res[$size,bind]}" -v k="${res[$size,knot]}" 'BEGIN {
    printf "%s records: ours/BIND 1 client %.2f, 64 clients %.2f; ours/Knot 1 client %.2f, 64 clients %.2f\n",
      s, a / b, d / b, a / k, d / k }'
done
if [ "${#sizes[@]}" -ge 2 ]; then
  lo=${sizes[0]} hi=${sizes[-1]}
  awk -v lo="$lo" -v hi="$hi" -v a1="$(field "${res[$lo,c1]}" per_second)" -v a2="$(field "${res[$hi,c1]}" per_second)" \
    -v d1="$(field "${res[$lo,c64]}" per_second)" -v d2="$(field "${res[$hi,c64]}" per_second)" \
    -v b1="${res[$lo,bind]}" -v b2="${res[$hi,bind]}" -v k1="${res[$lo,knot]}" -v k2="${res[$hi,knot]}" 'BEGIN {
    printf "%s/%s records: capd 1 client %.2f, capd 64 clients %.2f, named %.2f, knotd %.2f\n",
      hi, lo, a2 / a1, d2 / d1, b2 / b1, k2 / k1 }'
fi
