#!/usr/bin/env bash
# Restarts after update sequences that used to break the journal (issue 9
# point 10), each on a fresh state dir:
#  10. an SOA update between other updates: capd refused to start ("more
#      than one SOA record");
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

finish journal_restart
