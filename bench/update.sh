#!/usr/bin/env bash
# Durable dynamic updates: capd/capc against Knot (nsupdate), same run.
#
#   bench/update.sh   (env: BUILD=build/release, N=500)
#
# (a) N sequential updates, each waiting for its acknowledgement, each
#     durable (capd: LMDB journal fsync before success=true; knotd 3.2:
#     journal in robust mode, fsync before the reply):
#       capc     one capc process per update (connect, TLS, bootstrap, call)
#       nsupdate one nsupdate process per update, to knotd
#       nsupdate one nsupdate process sending N updates one after the other
#     and the same two nsupdate modes to BIND 9 (named 9.18, run as the
#     current user from the temp dir; its zone journal fsyncs each update
#     before the reply) when named is installed (tools/install-deps.sh --test).
# (b) in-process Domain.update throughput and latency (bench/update_load.c,
#     a C client on our rpc library): 1, 8 and 64 concurrent clients over one
#     connection, and 8 and 64 clients over as many connections, each run
#     on a freshly started capd with an empty journal.
# Prints updates/second for each, the ratios, and p50/p99 latency for (b).
# The whole run is bounded (TIMEOUT seconds, default 900); every server it
# starts is stopped on exit, timeout or interrupt.
set -uo pipefail
export LC_ALL=C
if [ -z "${UPDATE_SH_BOUNDED:-}" ]; then
  UPDATE_SH_BOUNDED=1 exec timeout -k 10 "${TIMEOUT:-900}" bash "${BASH_SOURCE[0]}" "$@"
fi
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD:-$root/build/release}
n=${N:-500}
capd=$build/src/cmd/capd
capc=$build/src/cmd/capc
knotd=$(command -v knotd || echo /usr/sbin/knotd)
named=$(command -v named || { [ -x /usr/sbin/named ] && echo /usr/sbin/named; } || true)
for b in "$capd" "$capc" "$knotd" "$(command -v nsupdate)"; do
  [ -x "$b" ] || { echo "update.sh: missing $b (make release; tools/install-deps.sh --test)"; exit 1; }
done

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
trap 'echo "update.sh: stopped (timeout or signal)" >&2; exit 124' TERM INT
port=$((20000 + RANDOM % 20000))
now() { date +%s.%N; }
rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.0f", n / (b - a) }'; }

cat >"$work/example.org.zone" <<'ZONE'
$ORIGIN example.org.
$TTL 3600
@ IN SOA ns1 dns 1 3600 900 1814400 3600
@ IN NS ns1
ns1 IN A 127.0.0.1
ZONE

# ---- capd: a fresh state dir (and so an empty journal and a small zone)
# for every measurement, so each starts from the same zone size.
capd_pid=""
fresh_capd() {
  [ -n "$capd_pid" ] && { kill "$capd_pid"; wait "$capd_pid" 2>/dev/null; }
  rm -rf "$work/state"
  "$capd" -z "$work/example.org.zone" --state-dir "$work/state" --capnp-secret-key-file "$work/key.pem" \
    --capnp-listen-address "tcp:127.0.0.1:$((port + 1))" -b 127.0.0.1 -p "$port" >"$work/capd.log" 2>&1 &
  capd_pid=$!
  pids+=($capd_pid)
  for _ in $(seq 100); do [ -s "$work/state/caps/domain/example.org.cap" ] && break; sleep 0.1; done
  [ -s "$cap" ] || { cat "$work/capd.log"; exit 1; }
}
cap=$work/state/caps/domain/example.org.cap
fresh_capd
"$capc" update "$cap" -u "add|warm.example.org|A|192.0.2.1|60" || exit 1
t0=$(now)
for i in $(seq "$n"); do
  "$capc" update "$cap" -u "add|c$i.example.org|A|192.0.2.1|60" || { echo "capc update $i failed"; exit 1; }
done
t1=$(now)
capc_rate=$(rate "$n" "$t0" "$t1")
[ "$(dig @127.0.0.1 -p "$port" "c$n.example.org" +short)" = 192.0.2.1 ] || { echo "capd: last update missing"; exit 1; }

# ---- knotd
kdir=$work/knot
mkdir -p "$kdir/db"
cp "$work/example.org.zone" "$kdir/"
kport=$((port + 2))
cat >"$kdir/knot.conf" <<CONF
server:
    listen: 127.0.0.1@$kport
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
pids+=($!)
for _ in $(seq 100); do dig @127.0.0.1 -p $kport example.org SOA +short +time=1 +tries=1 | grep -q . && break; sleep 0.1; done
# nsup PORT NAME: one nsupdate process, one update adding NAME.
nsup() { printf 'server 127.0.0.1 %s\nzone example.org\nupdate add %s 60 A 192.0.2.1\nsend\n' "$1" "$2" | nsupdate; }
nsup "$kport" warm.example.org || { cat "$kdir/log"; exit 1; }
t0=$(now)
for i in $(seq "$n"); do nsup "$kport" "k$i.example.org" || { echo "nsupdate $i failed"; exit 1; }; done
t1=$(now)
knot_proc_rate=$(rate "$n" "$t0" "$t1")
t0=$(now)
{ printf 'server 127.0.0.1 %s\nzone example.org\n' "$kport"
  for i in $(seq "$n"); do printf 'update add s%s.example.org 60 A 192.0.2.1\nsend\n' "$i"; done; } | nsupdate ||
  { echo "nsupdate batch failed"; exit 1; }
t1=$(now)
knot_seq_rate=$(rate "$n" "$t0" "$t1")
[ "$(dig @127.0.0.1 -p $kport "s$n.example.org" +short)" = 192.0.2.1 ] || { echo "knot: last update missing"; exit 1; }

# ---- named (BIND 9): a primary zone from the same file, updates allowed
# by address (as for knotd), journal in the temp dir. Its journal commit
# fsyncs the .jnl twice (data, then header) before the UPDATE reply; 9.18
# has no option to turn that off or batch it.
named_proc_rate="" named_seq_rate=""
if [ -n "$named" ]; then
  bdir=$work/bind
  mkdir -p "$bdir"
  cp "$work/example.org.zone" "$bdir/"
  bport=$((port + 3))
  cat >"$bdir/named.conf" <<CONF
options {
    directory "$bdir";
    pid-file "$bdir/named.pid";
    session-keyfile "$bdir/session.key";
    managed-keys-directory "$bdir";
    listen-on port $bport { 127.0.0.1; };
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
  pids+=($!)
  for _ in $(seq 100); do dig @127.0.0.1 -p $bport example.org SOA +short +time=1 +tries=1 | grep -q . && break; sleep 0.1; done
  nsup "$bport" warm.example.org || { cat "$bdir/log"; exit 1; }
  t0=$(now)
  for i in $(seq "$n"); do nsup "$bport" "b$i.example.org" || { echo "nsupdate $i to named failed"; exit 1; }; done
  t1=$(now)
  named_proc_rate=$(rate "$n" "$t0" "$t1")
  t0=$(now)
  { printf 'server 127.0.0.1 %s\nzone example.org\n' "$bport"
    for i in $(seq "$n"); do printf 'update add bs%s.example.org 60 A 192.0.2.1\nsend\n' "$i"; done; } | nsupdate ||
    { echo "nsupdate batch to named failed"; exit 1; }
  t1=$(now)
  named_seq_rate=$(rate "$n" "$t0" "$t1")
  [ "$(dig @127.0.0.1 -p $bport "bs$n.example.org" +short)" = 192.0.2.1 ] || { echo "named: last update missing"; exit 1; }
  [ "$(dig @127.0.0.1 -p $bport "b$n.example.org" +short)" = 192.0.2.1 ] || { echo "named: update b$n missing"; exit 1; }
fi

# ---- in-process load
cc=${CC:-cc}
libs=()
for l in eon/libceon_eon.a eon/libceon_eon_core.a rpc/libceon_rpc.a capnp/libceon_capnp.a dns/libceon_dns.a util/libceon_util.a; do
  libs+=("$build/src/$l")
done
if ! $cc -O2 -std=c17 -D_GNU_SOURCE -I"$root/src" -o "$work/update_load" "$root/bench/update_load.c" \
  "${libs[@]}" -luv -lssl -lcrypto -lurcu-qsbr -lzscanner -llmdb -lpthread 2>"$work/cc.log"; then
  cat "$work/cc.log"; exit 1
fi
load() { "$work/update_load" "$cap" "$1" "$2" "$3"; }
loads=("1 1" "8 1" "64 1" "8 8" "64 64")
declare -A lres
for l in "${loads[@]}"; do
  set -- $l
  fresh_capd
  lres[$l]=$(load "$1" "$2" $((n * 2))) || { echo "update_load $l failed: ${lres[$l]}"; exit 1; }
done

echo "== (a) $n sequential durable updates, each acknowledged before the next"
printf '%-44s %8s updates/s\n' "capc (one process per update) -> capd" "$capc_rate"
printf '%-44s %8s updates/s\n' "nsupdate (one process per update) -> knotd" "$knot_proc_rate"
printf '%-44s %8s updates/s\n' "nsupdate (one process, $n sends) -> knotd" "$knot_seq_rate"
if [ -n "$named_proc_rate" ]; then
  printf '%-44s %8s updates/s\n' "nsupdate (one process per update) -> named" "$named_proc_rate"
  printf '%-44s %8s updates/s\n' "nsupdate (one process, $n sends) -> named" "$named_seq_rate"
else
  echo "BIND 9: not installed (named not found), not measured"
fi
awk -v a="$capc_rate" -v b="$knot_proc_rate" -v c="$knot_seq_rate" \
  'BEGIN { printf "ratio capc/knotd: nsupdate-per-process %.2f, nsupdate-one-process %.2f\n", a / b, a / c }'
[ -n "$named_proc_rate" ] && awk -v a="$capc_rate" -v b="$named_proc_rate" -v c="$named_seq_rate" \
  'BEGIN { printf "ratio capc/named: nsupdate-per-process %.2f, nsupdate-one-process %.2f\n", a / b, a / c }'
echo "== (b) in-process Domain.update, $((n * 2)) updates per run"
for l in "${loads[@]}"; do
  set -- $l
  printf 'clients=%-3s connections=%-3s %s\n' "$1" "$2" "${lres[$l]}"
done
best=$(for l in "${loads[@]}"; do echo "${lres[$l]}"; done | sed -E 's/.*per_second=([0-9]+).*/\1/' | sort -n | tail -1)
awk -v a="$best" -v c="$knot_seq_rate" 'BEGIN { printf "ratio best in-process/knot sequential %.1f\n", a / c }'
