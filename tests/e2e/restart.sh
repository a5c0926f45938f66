#!/usr/bin/env bash
# Restarts: root and delegated capabilities keep working, cap files keep
# their URIs, updates survive; capc's one-line errors for a stopped capd, an
# unknown service ID and a server with another key; capd refuses an
# unusable or busy state dir; a zone file edited with a lower serial than the
# journal began at serves the edit and the updates at every start.
#   restart.sh CAPD CAPC
CAPD=$1 CAPC=$2
. "$(dirname "$0")/eon_lib.sh"

start_capd || die "capd starts"
cd "$work" || exit 1
cp "$state/caps/domain/example.org.cap" root.cap
cp "$state/caps/primary/example.org.cap" primary.cap
[ "$(stat -c %a "$state/caps/domain/example.org.cap")" = 600 ] || die "cap file mode 0600"
[ "$(stat -c %a "$state/caps/domain")" = 750 ] || die "cap dir mode 0750 (as eon)"
[ "$(stat -c %a "$state")" = 750 ] || die "state dir mode 0750 (as eon)"
grep -q "caps/domain/example.org.cap" capd.log || die "capd logs where the cap files are"
ok "cap files 0600 in 0750 dirs, location logged"

expect_ok "get-name primary" get-name primary.cap
[ "$last_out" = example.org ] || die "Primary.getName: $last_out"
mkdir -p caps
expect_ok "delegate --cap-dir" delegate root.cap a.b --cap-dir caps
[ "$last_out" = "Wrote capability to caps/a.b.example.org.cap" ] || die "delegate --cap-dir output: $last_out"
[ "$(stat -c %a caps/a.b.example.org.cap)" = 600 ] || die "delegated cap file mode 0600"
expect_ok "delegate twice" delegate root.cap a.b --cap-dir .
cmp -s caps/a.b.example.org.cap a.b.example.org.cap && die "each delegate call gets its own ID"
expect_ok "update" update caps/a.b.example.org.cap -u 'add|a.b.example.org|A|192.0.2.7|60'
ok "Primary.getName, delegate --cap-dir, one fresh capability per delegate call"

stop_capd TERM
expect_fail "stopped" "connection refused" get-name root.cap
ok "capc with capd stopped: one-line 'connection refused'"

start_capd || die "capd restarts"
cmp -s root.cap "$state/caps/domain/example.org.cap" || die "domain cap URI unchanged by a restart"
cmp -s primary.cap "$state/caps/primary/example.org.cap" || die "primary cap URI unchanged by a restart"
expect_ok "root after restart" get-name root.cap
[ "$last_out" = example.org ] || die "root cap after restart: $last_out"
expect_ok "delegated after restart" get-name caps/a.b.example.org.cap
[ "$last_out" = a.b.example.org ] || die "delegated cap after restart: $last_out"
expect_ok "other delegated after restart" get-name a.b.example.org.cap
[ "$(q a.b.example.org A)" = 192.0.2.7 ] || die "update survives restart"
expect_ok "update after restart" update caps/a.b.example.org.cap -u 'remove|a.b.example.org|A'
expect_nx a.b.example.org A "update after restart applied"
ok "root and delegated capabilities and updates survive a restart; same URIs"

# Unknown service ID: right server, right key, made-up ID.
sed -E 's#/[A-Za-z0-9_-]+$#/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA#' root.cap >unknown.cap
expect_fail "unknown id" "Unknown persistent service ID" get-name unknown.cap
ok "unknown service ID: one-line error"

# A cap file from another capd (other key) pointed at this one.
other="$work/other"
mkdir -p "$other"
write_zone "$other/example.net" example.net
p2=$((dns_port + 11))
"$CAPD" -z "$other/example.net" --capnp-secret-key-file "$other/key.pem" \
  --capnp-listen-address "tcp:127.0.0.1:$p2" --state-dir "$other/state" \
  -b 127.0.0.1 -p $((dns_port + 10)) ${EON_TEST_CAPD_ARGS:-} >"$other/log" 2>&1 &
opid=$!
for _ in $(seq 200); do [ -s "$other/state/caps/domain/example.net.cap" ] && break; sleep 0.05; done
[ -s "$other/state/caps/domain/example.net.cap" ] || { kill -9 $opid; cat "$other/log"; die "second capd starts"; }
expect_ok "other capd works" get-name "$other/state/caps/domain/example.net.cap"
kill -TERM $opid
wait $opid
orc=$?
[ "$orc" = 0 ] || die "second capd exited with status $orc after SIGTERM: $(tail -5 "$other/log")"
check_no_sanitizer "second capd" "$other/log"
sed "s#@127.0.0.1:$p2/#@127.0.0.1:$cap_port/#" "$other/state/caps/domain/example.net.cap" >foreign.cap
case "${EON_TEST_CAPD_ARGS:-}" in
  *disable-tls*) # no key to check: the unknown ID is what gives it away
    expect_fail "other capd" "Unknown persistent service ID" get-name foreign.cap
    ok "capability file from another capd rejected (TLS off: unknown ID)" ;;
  *)
    expect_fail "other key" "fingerprint" get-name foreign.cap
    ok "capability file from another capd (other key) rejected with a fingerprint error" ;;
esac

# A second capd on the same state dir is refused; so is an unusable state dir.
out=$("$CAPD" -z "$work/example.org" --capnp-secret-key-file "$state/capnp-secret.pem" \
  --capnp-listen-address "tcp:127.0.0.1:$((dns_port + 13))" --state-dir "$state" \
  -b 127.0.0.1 -p $((dns_port + 12)) 2>&1) && die "second capd on a busy state dir must fail"
case "$out" in *"in use by another capd"*) ;; *) die "busy state dir message: $out" ;; esac
output_clean "capd on a busy state dir" "$out"
touch "$work/notadir"
out=$("$CAPD" -z "$work/example.org" --capnp-secret-key-file "" \
  --capnp-listen-address "tcp:127.0.0.1:$((dns_port + 13))" --state-dir "$work/notadir" \
  -b 127.0.0.1 -p $((dns_port + 12)) 2>&1) && die "capd on a file as state dir must fail"
case "$out" in *"notadir"*"not a directory"*) ;; *) die "unusable state dir message: $out" ;; esac
output_clean "capd on a file as state dir" "$out"
ok "busy or unusable state dir refused with a clear message"

# kill -9 and restart: everything still there.
expect_ok "update before kill" update root.cap -u 'add|k.example.org|TXT|"kept"|60'
stop_capd KILL
start_capd || die "capd restarts after kill -9"
[ "$(q k.example.org TXT)" = '"kept"' ] || die "acknowledged update survives kill -9"
expect_ok "delegated after kill" get-name caps/a.b.example.org.cap
ok "after kill -9: updates and capabilities intact"
# HOST of the listen address may be a name from capd's own zones (the seed's
# tcp:example.org:7000): ns1.example.org is 127.0.0.1 in our zone, unknown
# to the system resolver. The URIs keep the name; the IDs stay the same.
stop_capd TERM
"$CAPD" -z "$work/example.org" --capnp-secret-key-file "$state/capnp-secret.pem" \
  --capnp-listen-address "tcp:ns1.example.org:$cap_port" --state-dir "$state" \
  -b 127.0.0.1 -p "$dns_port" -l 1 ${EON_TEST_CAPD_ARGS:-} >>"$work/capd.log" 2>&1 &
capd_pid=$!
for _ in $(seq 200); do grep -q "@ns1.example.org:$cap_port/" "$state/caps/domain/example.org.cap" && break; sleep 0.05; done
grep -q "@ns1.example.org:$cap_port/" "$state/caps/domain/example.org.cap" || die "URI keeps the listen host name: $(cat "$state/caps/domain/example.org.cap")"
grep -q "ns1.example.org is 127.0.0.1 (from our own zone)" "$work/capd.log" || die "listen host resolved from our zone"
[ "${root_id:=$(sed 's#.*/##' root.cap)}" = "$(sed 's#.*/##' "$state/caps/domain/example.org.cap")" ] || die "same service ID whatever the address"
expect_ok "root via address" get-name root.cap
[ "$last_out" = example.org ] || die "capd listening on ns1.example.org's address: $last_out"
ok "listen host resolved from capd's own zone; URI keeps the name, ID unchanged"

# --capnp-public-address is what goes into the URIs.
stop_capd TERM
"$CAPD" -z "$work/example.org" --capnp-secret-key-file "$state/capnp-secret.pem" \
  --capnp-listen-address "tcp:127.0.0.1:$cap_port" --capnp-public-address "tcp:localhost:$cap_port" \
  --state-dir "$state" -b 127.0.0.1 -p "$dns_port" -l 1 ${EON_TEST_CAPD_ARGS:-} >>"$work/capd.log" 2>&1 &
capd_pid=$!
for _ in $(seq 200); do grep -q "@localhost:$cap_port/" "$state/caps/domain/example.org.cap" && break; sleep 0.05; done
grep -q "@localhost:$cap_port/" "$state/caps/domain/example.org.cap" || die "public address in the URI: $(cat "$state/caps/domain/example.org.cap")"
expect_ok "via public address" get-name "$state/caps/domain/example.org.cap"
[ "$last_out" = example.org ] || die "get-name via the public address: $last_out"
ok "--capnp-public-address goes into the URIs"

# The zone file edited with a lower serial than the journal began at: the
# first start warns and serves the edit plus the journal's updates; every
# later start does the same (it used to refuse: "entry N goes from serial
# 100 but the zone was at 99").
stop_capd TERM
sed -i 's/ dns 1 / dns 100 /' "$work/example.org"
start_capd || die "capd starts with a newer zone file"
[ "$(serial)" = 100 ] || die "newer zone file wins: serial $(serial)"
expect_ok "update before the edit" update root.cap -u 'add|u1.example.org|TXT|"one"|60'
[ "$(serial)" = 101 ] || die "update raises the serial to 101: $(serial)"
stop_capd TERM
sed -i 's/ dns 100 / dns 99 /' "$work/example.org"
echo 'edit IN TXT "edited"' >>"$work/example.org"
start_capd || die "capd starts after the zone file was edited with a lower serial"
grep -q "changed but its serial 99 is not newer than the journal's 101" "$work/capd.log" || die "edit warned"
[ "$(q edit.example.org TXT)" = '"edited"' ] || die "edit served after the first start"
[ "$(q u1.example.org TXT)" = '"one"' ] || die "update served on top of the edit"
[ "$(serial)" = 101 ] || die "journal's serial served: $(serial)"
expect_ok "update after the edit" update root.cap -u 'add|u2.example.org|TXT|"two"|60'
for round in 2 3; do
  stop_capd TERM
  start_capd || die "capd start $round after the lowered-serial edit"
  [ "$(q edit.example.org TXT)" = '"edited"' ] || die "edit served at start $round"
  [ "$(q u1.example.org TXT)" = '"one"' ] || die "first update served at start $round"
  [ "$(q u2.example.org TXT)" = '"two"' ] || die "second update served at start $round"
  [ "$(serial)" = 102 ] || die "serial 102 at start $round: $(serial)"
done
[ "$(grep -c "changed but its serial 99" "$work/capd.log")" = 1 ] || die "edit warned once"
ok "zone file edited with a lower serial: capd starts every time, serves the edit and the updates"
finish restart
