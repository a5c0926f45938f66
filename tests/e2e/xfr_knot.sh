#!/usr/bin/env bash
# Zone transfers to a stock secondary (issue 14): knotd is a secondary of
# capd. It takes the zone by AXFR, then follows `capc update` on capd by
# NOTIFY + IXFR; its zone (kdig AXFR, sorted) equals capd's. Then the same
# with TSIG required, a Knot with the wrong key (refused, both sides log
# it), and direct kdig checks: AXFR, IXFR (difference sequences, up to
# date, whole zone for an unknown serial), a non-allowed source address
# (REFUSED), unsigned and wrongly signed requests when TSIG is on (NOTAUTH).
# Usage: xfr_knot.sh CAPD CAPC
CAPD=$1 CAPC=$2
. "$(dirname "$0")/eon_lib.sh"
export LC_ALL=C

knotd=${KNOTD:-$(command -v knotd || echo /usr/sbin/knotd)}
kdig=${KDIG:-$(command -v kdig || true)}
for b in "$knotd" "$kdig"; do
  [ -n "$b" ] && [ -x "$b" ] || die "missing program ${b:-kdig} (knot, knot-dnsutils)"
done

key_name=xfr-key
secret=c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ= # "secret-secret-secret-secret-1234"
wrong=d3Jvbmctd3Jvbmctd3Jvbmctd3Jvbmctd3JvbmctMTI= # another 32 bytes
kport=$(pick_port) || die "no free port for knotd"
knot_pid=""

stop_knot() {
  [ -n "$knot_pid" ] || return 0
  kill "$knot_pid" 2>/dev/null
  for _ in $(seq 100); do kill -0 "$knot_pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$knot_pid" 2>/dev/null
  wait "$knot_pid" 2>/dev/null
  knot_pid=""
}
trap 'rc=$?; stop_knot; (exit $rc); cleanup' EXIT

# start_knot SECRET|"": knotd as a secondary of capd (a key when SECRET is set).
start_knot() {
  local secret=$1 keyref="" keydef=""
  rm -rf "$work/knot"
  mkdir -p "$work/knot/db"
  if [ -n "$secret" ]; then
    keydef="key:
  - id: $key_name
    algorithm: hmac-sha256
    secret: $secret"
    keyref="key: $key_name"
  fi
  cat >"$work/knot/knot.conf" <<EOF
server:
    rundir: "$work/knot"
    listen: 127.0.0.1@$kport
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
log:
  - target: stderr
    any: info
database:
    storage: "$work/knot/db"
$keydef
remote:
  - id: capd
    address: 127.0.0.1@$dns_port
    $keyref
acl:
  - id: from_capd
    address: 127.0.0.1
    action: notify
    $keyref
  - id: to_tests
    address: 127.0.0.1
    action: transfer
template:
  - id: default
    storage: "$work/knot"
    zonefile-sync: -1
    zonefile-load: none
zone:
  - domain: example.org
    master: capd
    acl: [from_capd, to_tests]
EOF
  : >"$work/knot.log"
  "$knotd" -c "$work/knot/knot.conf" >>"$work/knot.log" 2>&1 &
  knot_pid=$!
}

kq() { "$kdig" @127.0.0.1 -p "$kport" +time=1 +retry=0 "$@" 2>/dev/null; }
knot_serial() { kq example.org SOA +short | awk '{print $3}'; }
# wait_knot_serial S: until knotd serves serial S (at most ~15 s).
wait_knot_serial() {
  for _ in $(seq 150); do
    [ "$(knot_serial)" = "$1" ] && return 0
    kill -0 "$knot_pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
# axfr_sorted PORT [kdig args]: the zone as sorted "name ttl class type rdata".
axfr_sorted() {
  local port=$1
  shift
  "$kdig" @127.0.0.1 -p "$port" +time=2 +retry=0 example.org AXFR +nocomments +nostats "$@" 2>/dev/null |
    grep -v '^;' | awk 'NF && $4 != "TSIG" { $1 = tolower($1); print }' | sort
}
capd_log_has() { grep -q -- "$1" "$work/capd.log"; }
knot_log_has() { grep -q -- "$1" "$work/knot.log"; }

# ---- without TSIG ----
mport=$(pick_port) || die "no free port for the metrics endpoint"
start_capd --allow-transfer 127.0.0.1 --notify "127.0.0.1:$kport" --metrics-listen "127.0.0.1:$mport" ||
  die "capd starts"
cp "$state/caps/domain/example.org.cap" "$work/root.cap"
s0=$(serial)
start_knot ""
wait_knot_serial "$s0" || die "knotd took the zone (serial $s0); knot log: $(tail -5 "$work/knot.log")"
knot_log_has "AXFR, incoming" || die "knotd's first transfer was an AXFR: $(grep -i xfr "$work/knot.log")"
capd_log_has "example.org. AXFR serial $s0" || die "capd logged the AXFR"
ok "knotd took the zone from capd by AXFR (serial $s0)"

start_ms=$(date +%s%3N)
expect_ok "update" update "$work/root.cap" -u 'add|new.example.org|A|192.0.2.7|300'
s1=$(serial)
[ "$s1" = $((s0 + 1)) ] || die "serial after the update: $s1"
wait_knot_serial "$s1" || die "knotd follows the update (serial $s1): $(tail -5 "$work/knot.log")"
took=$(($(date +%s%3N) - start_ms))
[ "$(kq new.example.org A +short)" = 192.0.2.7 ] || die "knotd serves the new record"
capd_log_has "notify 127.0.0.1#$kport: example.org. serial $s1 acknowledged" ||
  die "capd logged the NOTIFY acknowledged"
knot_log_has "IXFR, incoming" || die "knotd used IXFR: $(grep -i xfr "$work/knot.log")"
capd_log_has "example.org. IXFR serial $s1" || die "capd logged the IXFR"
ok "capc update -> NOTIFY -> knotd IXFR, serving serial $s1 (${took} ms from capc start)"
m=$(curl -sf --max-time 5 "http://127.0.0.1:$mport/metrics") || die "GET /metrics"
answered=$(awk '$1 == "capd_notify_total{outcome=\"answered\"}" { print $2 }' <<<"$m")
[ -n "$answered" ] && [ "$answered" -ge 1 ] || die "NOTIFY answered in the statistics: $(grep capd_notify <<<"$m")"
ok "statistics: capd_notify_total counts the NOTIFY knotd answered ($answered)"

expect_ok "update 2" update "$work/root.cap" -u 'remove|www.example.org|A|203.0.113.80' \
  -u 'add|www.example.org|A|203.0.113.81|3600' -u 'add|mail.example.org|MX|10 www.example.org.|600'
s2=$(serial)
wait_knot_serial "$s2" || die "knotd follows the second update (serial $s2)"
[ "$(axfr_sorted "$dns_port")" = "$(axfr_sorted "$kport")" ] ||
  die "zones differ: $(diff <(axfr_sorted "$dns_port") <(axfr_sorted "$kport"))"
[ "$(axfr_sorted "$dns_port" | wc -l)" -ge 8 ] || die "AXFR from capd too short"
ok "kdig AXFR of capd and of knotd, sorted, are equal (serial $s2)"

# Direct checks with kdig.
ixfr=$("$kdig" @127.0.0.1 -p "$dns_port" +time=2 +retry=0 example.org "IXFR=$s0" +nocomments +nostats 2>/dev/null | grep -v '^;' | awk 'NF')
# RFC 1995: SOA s2, SOA s0, (nothing deleted), SOA s1, new A, SOA s1, www .80 deleted, SOA s2, adds, SOA s2.
got=$(printf '%s\n' "$ixfr" | awk '$4 == "SOA" { printf "%s ", $7 } $4 != "SOA" { printf "%s:%s ", $4, $5 }')
want="$s2 $s0 $s1 A:192.0.2.7 $s1 A:203.0.113.80 $s2 "
case "$got" in
  "$want"*"$s2 ") ;;
  *) die "IXFR from $s0: got '$got', want '$want... $s2'" ;;
esac
printf '%s\n' "$ixfr" | grep -q 'MX' || die "IXFR from $s0 has the added MX"
up=$("$kdig" @127.0.0.1 -p "$dns_port" +time=2 +retry=0 example.org "IXFR=$s2" +nocomments +nostats 2>/dev/null | grep -v '^;' | awk 'NF' | wc -l)
[ "$up" = 1 ] || die "IXFR from the current serial: want one SOA, got $up records"
full=$("$kdig" @127.0.0.1 -p "$dns_port" +time=2 +retry=0 example.org "IXFR=$((s2 + 100))" +nocomments +nostats 2>/dev/null | grep -v '^;' | awk 'NF' | wc -l)
[ "$full" = 1 ] || die "IXFR from a newer serial: want one SOA, got $full"
full=$("$kdig" @127.0.0.1 -p "$dns_port" +time=2 +retry=0 example.org "IXFR=$((s0 - 1))" +nocomments +nostats 2>/dev/null | grep -v '^;' | awk 'NF { $1 = tolower($1); print }' | sort)
[ "$full" = "$(axfr_sorted "$dns_port")" ] || die "IXFR from a serial the journal lacks: the whole zone"
ok "kdig IXFR: difference sequences from $s0, one SOA when current, the whole zone for an unknown serial"

refused=$("$kdig" -b 127.0.0.2 @127.0.0.1 -p "$dns_port" +time=2 +retry=0 example.org AXFR 2>&1)
printf '%s\n' "$refused" | grep -q REFUSED || die "AXFR from 127.0.0.2: want REFUSED, got: $refused"
capd_log_has "127.0.0.2#[0-9]*: example.org. AXFR refused: address not allowed" || die "capd logged the refusal"
udp=$("$kdig" @127.0.0.1 -p "$dns_port" +notcp +time=2 +retry=0 example.org AXFR 2>&1)
printf '%s\n' "$udp" | grep -q 'NOTIMP' || die "AXFR over UDP: want NOTIMP, got: $udp"
ok "AXFR from a non-allowed address REFUSED (and logged); over UDP NOTIMP"

stop_knot
stop_capd TERM

# ---- with TSIG ----
start_capd --allow-transfer 127.0.0.1 --notify "127.0.0.1:$kport" --tsig-key "$key_name:$secret" ||
  die "capd starts with --tsig-key"
s3=$(serial)
start_knot "$secret"
wait_knot_serial "$s3" || die "knotd took the zone with TSIG: $(tail -5 "$work/knot.log")"
capd_log_has "AXFR serial $s3: .*TSIG signed" || die "capd logged a signed AXFR"
expect_ok "update with TSIG" update "$work/root.cap" -u 'add|signed.example.org|TXT|"tsig"|60'
s4=$(serial)
wait_knot_serial "$s4" || die "knotd follows an update with TSIG (serial $s4)"
capd_log_has "IXFR serial $s4: .*TSIG signed" || die "capd logged a signed IXFR"
[ "$(axfr_sorted "$dns_port" -y "hmac-sha256:$key_name:$secret")" = "$(axfr_sorted "$kport")" ] ||
  die "zones differ with TSIG"
ok "with TSIG: knotd takes the zone (AXFR) and follows updates (NOTIFY signed, IXFR), zones equal"

out=$("$kdig" @127.0.0.1 -p "$dns_port" +time=2 +retry=0 example.org AXFR 2>&1)
printf '%s\n' "$out" | grep -q NOTAUTH || die "unsigned AXFR: want NOTAUTH, got: $out"
out=$("$kdig" @127.0.0.1 -p "$dns_port" +time=2 +retry=0 example.org AXFR -y "hmac-sha256:$key_name:$wrong" 2>&1)
printf '%s\n' "$out" | grep -q 'NOTAUTH\|BADSIG' || die "AXFR signed with a wrong secret: want NOTAUTH/BADSIG, got: $out"
capd_log_has "TSIG key $key_name.*BADSIG" || die "capd logged the bad signature"
out=$("$kdig" @127.0.0.1 -p "$dns_port" +time=2 +retry=0 example.org AXFR -y "hmac-sha256:other-key:$secret" 2>&1)
printf '%s\n' "$out" | grep -q 'NOTAUTH\|BADKEY' || die "AXFR with an unknown key: want NOTAUTH/BADKEY, got: $out"
capd_log_has "TSIG key other-key.*BADKEY" || die "capd logged the unknown key"
ok "with TSIG: unsigned AXFR NOTAUTH, wrong secret BADSIG, unknown key BADKEY (all logged)"

stop_knot
start_knot "$wrong"
for _ in $(seq 100); do
  grep -qi 'failed\|TSIG\|BADSIG\|bad signature\|NOTAUTH' "$work/knot.log" && break
  sleep 0.1
done
grep -Eqi 'BADSIG|bad signature|NOTAUTH|TSIG' "$work/knot.log" || die "knotd logged the refused transfer: $(tail -5 "$work/knot.log")"
[ -z "$(knot_serial)" ] || die "knotd with the wrong key serves the zone"
capd_log_has "xfr 127.0.0.1#[0-9]*: example.org. .*refused: TSIG key $key_name" ||
  die "capd logged knotd's badly signed request"
ok "knotd with a wrong key: refused, both logs say so"

stop_knot
stop_capd TERM

# ---- a transfer that the secondary stops reading blocks nothing ----
# 40,000 TXT records (about 4 MB of answer) with a client whose receive
# buffer is 4 KiB and which reads 100 bytes, then nothing: capd must hold
# one message, keep answering queries (UDP and TCP) and applying updates,
# serve other transfers, and end cleanly with the stalled one still open.
awk 'BEGIN { for (i = 0; i < 40000; i++) printf "bulk%d 300 IN TXT \"%090d\"\n", i, i }' >>"$work/example.org"
start_capd --allow-transfer 127.0.0.1 || die "capd starts with a large zone"
python3 - "$dns_port" >"$work/stalled.out" 2>&1 <<'PY' &
import socket, struct, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(("127.0.0.1", int(sys.argv[1])))
q = struct.pack(">HHHHHH", 7, 0, 1, 0, 0, 0) + b"\x07example\x03org\x00" + struct.pack(">HH", 252, 1)
s.sendall(struct.pack(">H", len(q)) + q)
print("read", len(s.recv(100)), flush=True)
time.sleep(60)
PY
stalled=$!
for _ in $(seq 100); do grep -q read "$work/stalled.out" && break; sleep 0.05; done
grep -q "read 100" "$work/stalled.out" || die "the stalled client got the start of the AXFR: $(cat "$work/stalled.out")"
[ "$(q ns1.example.org A +notcp)" = 127.0.0.1 ] || die "UDP query during a stalled transfer"
[ "$(q ns1.example.org A +tcp)" = 127.0.0.1 ] || die "TCP query during a stalled transfer"
expect_ok "update during a stalled transfer" update "$work/root.cap" -u 'add|during.example.org|A|192.0.2.99|60'
[ "$(q during.example.org A)" = 192.0.2.99 ] || die "update visible during a stalled transfer"
n=$(axfr_sorted "$dns_port" | grep -c bulk)
[ "$n" = 40000 ] || die "a second AXFR during the stalled one: $n bulk records"
kill -0 "$stalled" 2>/dev/null || die "the stalled client is still connected"
ok "a stalled AXFR of a 40,000-record zone blocks no query, update or other transfer"
stop_capd TERM
kill "$stalled" 2>/dev/null
wait "$stalled" 2>/dev/null
echo "xfr_knot: $passed passed, 0 failed"
