#!/usr/bin/env bash
# Zone transfers to NSD as a stock secondary of capd (issue 14): NSD takes
# the zone by AXFR, then follows `capc update` on capd by NOTIFY + IXFR
# (capd's log names the transfer type); its zone equals capd's (kdig AXFR,
# sorted); then the same with TSIG required on both sides.
# Usage: xfr_nsd.sh CAPD CAPC
CAPD=$1 CAPC=$2
. "$(dirname "$0")/eon_lib.sh"
export LC_ALL=C

nsd=${NSD:-$(command -v nsd || echo /usr/sbin/nsd)}
kdig=${KDIG:-$(command -v kdig || true)}
for b in "$nsd" "$kdig"; do
  [ -n "$b" ] && [ -x "$b" ] || die "missing program ${b:-kdig} (nsd, knot-dnsutils)"
done

key_name=xfr-key
secret=c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ= # "secret-secret-secret-secret-1234"
nport=$(pick_port) || die "no free port for nsd"
nsd_pid=""

stop_nsd() {
  [ -n "$nsd_pid" ] || return 0
  kill "$nsd_pid" 2>/dev/null
  for _ in $(seq 100); do kill -0 "$nsd_pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$nsd_pid" 2>/dev/null
  wait "$nsd_pid" 2>/dev/null
  nsd_pid=""
}
trap 'rc=$?; stop_nsd; (exit $rc); cleanup' EXIT

# start_nsd SECRET|"": nsd as a secondary of capd (with a key when SECRET is set).
start_nsd() {
  local secret=$1 key=NOKEY keydef=""
  rm -rf "$work/nsd"
  mkdir -p "$work/nsd"
  if [ -n "$secret" ]; then
    key=$key_name
    keydef="key:
    name: $key_name
    algorithm: hmac-sha256
    secret: \"$secret\""
  fi
  cat >"$work/nsd/nsd.conf" <<EOF
server:
    ip-address: 127.0.0.1@$nport
    server-count: 1
    zonesdir: "$work/nsd"
    database: ""
    zonelistfile: "$work/nsd/zone.list"
    xfrdfile: "$work/nsd/xfrd.state"
    xfrdir: "$work/nsd"
    pidfile: "$work/nsd/nsd.pid"
    logfile: "$work/nsd/nsd.log"
    username: ""
    chroot: ""
    verbosity: 2
remote-control:
    control-enable: no
$keydef
zone:
    name: example.org
    zonefile: "example.org.zone"
    request-xfr: 127.0.0.1@$dns_port $key
    allow-notify: 127.0.0.1 $key
    provide-xfr: 127.0.0.1 NOKEY
EOF
  "$nsd" -d -c "$work/nsd/nsd.conf" >"$work/nsd/stdout" 2>&1 &
  nsd_pid=$!
}

nsd_serial() { "$kdig" @127.0.0.1 -p "$nport" +time=1 +retry=0 example.org SOA +short 2>/dev/null | awk '{print $3}'; }
wait_nsd_serial() {
  for _ in $(seq 150); do
    [ "$(nsd_serial)" = "$1" ] && return 0
    kill -0 "$nsd_pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
axfr_sorted() {
  local port=$1
  shift
  "$kdig" @127.0.0.1 -p "$port" +time=2 +retry=0 example.org AXFR +nocomments +nostats "$@" 2>/dev/null |
    grep -v '^;' | awk 'NF && $4 != "TSIG" { $1 = tolower($1); print }' | sort
}
capd_log_has() { grep -q -- "$1" "$work/capd.log"; }
nsd_log() { tail -5 "$work/nsd/nsd.log" 2>/dev/null; }

for secret_now in "" "$secret"; do
  what=${secret_now:+with TSIG}
  what=${what:-without TSIG}
  args=(--allow-transfer 127.0.0.1 --notify "127.0.0.1:$nport")
  [ -n "$secret_now" ] && args+=(--tsig-key "$key_name:$secret_now")
  start_capd "${args[@]}" || die "capd starts ($what)"
  cp "$state/caps/domain/example.org.cap" "$work/root.cap"
  s0=$(serial)
  start_nsd "$secret_now"
  wait_nsd_serial "$s0" || die "nsd took the zone ($what, serial $s0): $(nsd_log)"
  capd_log_has "example.org. AXFR serial $s0" || die "capd logged nsd's AXFR ($what)"
  expect_ok "update ($what)" update "$work/root.cap" -u "add|nsd-${secret_now:+t}$s0.example.org|A|192.0.2.5|300"
  s1=$(serial)
  wait_nsd_serial "$s1" || die "nsd follows the update ($what, serial $s1): $(nsd_log)"
  capd_log_has "example.org. IXFR serial $s1" || die "nsd used IXFR ($what): $(grep xfr "$work/capd.log" | tail -3)"
  capd_log_has "notify 127.0.0.1#$nport: example.org. serial $s1 acknowledged" || die "nsd acknowledged the NOTIFY ($what)"
  tsig=()
  [ -n "$secret_now" ] && tsig=(-y "hmac-sha256:$key_name:$secret_now")
  [ "$(axfr_sorted "$dns_port" "${tsig[@]}")" = "$(axfr_sorted "$nport")" ] ||
    die "zones differ ($what): $(diff <(axfr_sorted "$dns_port" "${tsig[@]}") <(axfr_sorted "$nport"))"
  ok "nsd as a secondary $what: AXFR, then capc update -> NOTIFY -> IXFR (serial $s1), zones equal"
  stop_nsd
  stop_capd TERM
done
echo "xfr_nsd: $passed passed, 0 failed"
