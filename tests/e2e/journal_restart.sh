#!/usr/bin/env bash
# Restarts after update sequences that used to break the journal (issue 9
# points 10-12), each on a fresh state dir:
#  10. an SOA update between other updates: capd refused to start ("more
#      than one SOA record");
#  11. SOA updates that move the serial more than 2^31 past the zone file's:
#      the unchanged file looked newer (RFC 1982) and the restart dropped
#      every acknowledged update; an edited file with a newer serial must
#      still win;
#  12. updates judged by their final state: the apex NS RRset replaced in one
#      update, a CNAME replacing an A RRset, the SOA removed and re-added;
#      the same steps without the re-add are refused and change nothing.
# And --journal-size-ratio's parsing: 0.5 accepted, -1, abc, 1e999 (out of
# range for a double) and the empty string refused with the option's error.
#   journal_restart.sh CAPD CAPC
CAPD=$1 CAPC=$2
. "$(dirname "$0")/eon_lib.sh"
cd "$work" || exit 1

# fresh: capd running on a new state dir with the zone file as written by
# write_zone (serial 1); root.cap is its Domain capability.
fresh() {
  stop_capd TERM
  rm -rf "$state"
  write_zone "$work/example.org" example.org
  start_capd || die "capd starts on a fresh state dir"
  cp "$state/caps/domain/example.org.cap" root.cap
}
# restart WHAT: stops and starts capd; new_log then prints what capd logged since.
restart() {
  stop_capd TERM
  log_mark=$(wc -l <capd.log)
  start_capd || die "capd restarts ($1)"
}
new_log() { tail -n +$((log_mark + 1)) capd.log; }
soa() { echo "ns1.example.org. dns.example.org. $1 $2 900 1814400 3600"; }

# ---- 10: an SOA update between other updates replays
fresh
expect_ok "update before the SOA" update root.cap -u 'add|a.example.org|TXT|"before"|60'
expect_ok "SOA update" update root.cap -u "add|example.org|SOA|$(soa 100 7200)|3600"
[ "$(serial)" = 100 ] || die "the SOA update sets serial 100: $(serial)"
expect_ok "update after the SOA" update root.cap -u 'add|b.example.org|TXT|"after"|60' \
  -u 'remove|www.example.org|A'
restart "after an SOA update between updates"
[ "$(q example.org SOA)" = "$(soa 101 7200)" ] || die "replayed SOA: $(q example.org SOA)"
[ "$(q a.example.org TXT)" = '"before"' ] || die "update before the SOA update replayed"
[ "$(q b.example.org TXT)" = '"after"' ] || die "update after the SOA update replayed"
expect_nx www.example.org A "removal after the SOA update replayed"
expect_ok "second SOA update" update root.cap -u "add|example.org|SOA|$(soa 200 1800)|3600"
expect_ok "update after the second SOA" update root.cap -u 'add|c.example.org|TXT|"later"|60'
restart "after a second SOA update"
[ "$(q example.org SOA)" = "$(soa 201 1800)" ] || die "SOA after two SOA updates: $(q example.org SOA)"
[ "$(q c.example.org TXT)" = '"later"' ] || die "update after the second SOA update replayed"
[ "$(q a.example.org TXT)" = '"before"' ] || die "first update still there"
ok "10: SOA updates between other updates replay exactly, restart after restart"

# ---- 11: the journal's serial more than 2^31 ahead of an unchanged file
fresh
# 1 -> 2^31 (newer: 2^31 - 1 ahead) -> 4000000000 (newer: 1852516352 ahead).
# Now 1 - 4000000000 = 294967297 (mod 2^32) < 2^31: the file's 1 is "newer".
expect_ok "SOA to 2^31" update root.cap -u "add|example.org|SOA|$(soa 2147483648 3600)|3600"
expect_ok "SOA to 4000000000" update root.cap -u "add|example.org|SOA|$(soa 4000000000 3600)|3600"
expect_ok "update at 4000000000" update root.cap -u 'add|kept.example.org|TXT|"acknowledged"|60'
[ "$(serial)" = 4000000001 ] || die "serial 4000000001 after the updates: $(serial)"
restart "unchanged zone file, journal 2^31+ ahead"
new_log | grep -q "the zone file wins" && die "an unchanged zone file dropped the journal"
[ "$(serial)" = 4000000001 ] || die "the journal's serial after the restart: $(serial)"
[ "$(q kept.example.org TXT)" = '"acknowledged"' ] || die "acknowledged update lost by the restart"
# The admin's way back still works: an edit with a serial newer than 4000000001.
sed -i 's/ dns 1 / dns 4000000005 /' "$work/example.org"
echo 'edit IN TXT "edited"' >>"$work/example.org"
restart "zone file edited with a newer serial"
new_log | grep -q "has serial 4000000005, newer than the journal's 4000000001: the zone file wins" ||
  die "the edited file wins with a warning"
[ "$(serial)" = 4000000005 ] || die "the edited file's serial: $(serial)"
[ "$(q edit.example.org TXT)" = '"edited"' ] || die "the edit is served"
expect_nx kept.example.org TXT "the dropped journal's update"
ok "11: an unchanged zone file keeps the journal across the 2^31 distance; an edited newer one wins"

# ---- 12: updates checked on their final state
fresh
expect_ok "replace the apex NS" update root.cap -u 'remove|example.org|NS' \
  -u 'add|example.org|NS|ns2.example.org.|3600' -u 'add|ns2.example.org|A|127.0.0.2|3600'
[ "$(q example.org NS)" = ns2.example.org. ] || die "apex NS replaced: $(q example.org NS)"
expect_ok "replace A by CNAME" update root.cap -u 'add|www.example.org|CNAME|example.org.|60' \
  -u 'remove|www.example.org|A'
[ "$(q www.example.org CNAME)" = example.org. ] || die "www is a CNAME: $(q www.example.org CNAME)"
expect_ok "replace the SOA" update root.cap -u 'remove|example.org|SOA' \
  -u "add|example.org|SOA|ns2.example.org. dns.example.org. 50 3600 900 1814400 3600|3600"
[ "$(serial)" = 50 ] || die "SOA replaced: $(serial)"
expect_fail "apex NS removed" "cannot remove the NS records at the apex of example.org" \
  update root.cap -u 'add|x.example.org|A|192.0.2.1|60' -u 'remove|example.org|NS'
expect_fail "data beside the CNAME" "cannot add A at www.example.org: the name has a CNAME" \
  update root.cap -u 'add|x.example.org|A|192.0.2.1|60' -u 'add|www.example.org|A|192.0.2.80|60'
expect_fail "CNAME re-added beside data" "cannot add CNAME at www.example.org: the name has other records" \
  update root.cap -u 'remove|www.example.org|CNAME' -u 'add|www.example.org|A|192.0.2.80|60' \
  -u 'add|www.example.org|CNAME|example.org.|60' -u 'add|x.example.org|A|192.0.2.1|60'
expect_fail "apex SOA removed" "cannot remove the apex SOA of example.org" \
  update root.cap -u 'add|x.example.org|A|192.0.2.1|60' -u 'remove|example.org|SOA'
expect_nx x.example.org A "refused updates applied nothing"
[ "$(serial)" = 50 ] || die "refused updates keep the serial: $(serial)"
restart "after final-state updates"
[ "$(q example.org NS)" = ns2.example.org. ] || die "apex NS after the restart: $(q example.org NS)"
[ "$(q www.example.org CNAME)" = example.org. ] || die "CNAME after the restart"
[ "$(q example.org SOA)" = "ns2.example.org. dns.example.org. 50 3600 900 1814400 3600" ] ||
  die "SOA after the restart: $(q example.org SOA)"
expect_nx x.example.org A "refused updates after the restart"
ok "12: apex NS, CNAME and SOA replaced within one update; final states without them refused"

# ---- --journal-size-ratio: a number from 0 to 100
stop_capd TERM
for bad in -1 abc 1e999 ''; do
  out=$(timeout 20 "$CAPD" -z "$work/example.org" --capnp-secret-key-file "$state/capnp-secret.pem" \
    --capnp-listen-address "tcp:127.0.0.1:$cap_port" --state-dir "$state" -b 127.0.0.1 \
    -p "$dns_port" --journal-size-ratio "$bad" 2>&1)
  rc=$?
  output_clean "capd --journal-size-ratio '$bad'" "$out"
  [ "$rc" = 1 ] || die "capd --journal-size-ratio '$bad' exited $rc, want 1: $out"
  [ "$out" = "capd: bad --journal-size-ratio '$bad': expected a number from 0 to 100" ] ||
    die "capd --journal-size-ratio '$bad' printed: $out"
done
start_capd --journal-size-ratio 0.5 || die "capd starts with --journal-size-ratio 0.5: $(tail -3 capd.log)"
expect_ok "an update under --journal-size-ratio 0.5" update root.cap -u 'add|r.example.org|A|192.0.2.5|60'
[ "$(q r.example.org A)" = 192.0.2.5 ] || die "the update under ratio 0.5 answers: $(q r.example.org A)"
ok "--journal-size-ratio: 0.5 accepted; -1, abc, 1e999 and '' refused (exit 1, the option's error)"
finish journal_restart
