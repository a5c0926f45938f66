#!/usr/bin/env bash
# Domain.delegate across a zone cut: capd serves example.org and
# sub.example.org; example.org's capability cannot delegate into the other
# zone (capd answers those names from sub.example.org's data), and a refused
# delegate leaves no saved service behind in STATE/store.
#   delegate.sh CAPD CAPC
CAPD=$1 CAPC=$2
. "$(dirname "$0")/eon_lib.sh"

write_zone "$work/sub.example.org" sub.example.org
start_capd -z "$work/sub.example.org" || die "capd starts with two zones"
for _ in $(seq 100); do [ -s "$state/caps/domain/sub.example.org.cap" ] && break; sleep 0.05; done
cd "$work" || exit 1
cp "$state/caps/domain/example.org.cap" root.cap
cp "$state/caps/domain/sub.example.org.cap" subroot.cap || die "sub.example.org has its own cap"
stored() { find "$state/store" -type f | wc -l; }
n0=$(stored)
ok "setup: capd serving example.org and sub.example.org ($n0 saved services)"

expect_fail "delegate the child zone's apex" \
  "cannot delegate sub.example.org: sub.example.org is in the zone sub.example.org, which this capd serves apart from example.org" \
  delegate root.cap sub
[ "$(stored)" = "$n0" ] || die "refused delegate left a saved service: $(ls "$state/store")"
expect_fail "delegate below the child zone" "use sub.example.org's own capability" delegate root.cap a.sub
[ "$(stored)" = "$n0" ] || die "refused delegate left a saved service: $(ls "$state/store")"
[ ! -e sub.example.org.cap ] && [ ! -e a.sub.example.org.cap ] || die "refused delegate wrote a cap file"
ok "example.org's capability cannot delegate into sub.example.org; nothing saved, no cap file"

# Nor update names there: they would land below the cut in example.org's data
# and never be served.
expect_fail "update a name inside the child zone" \
  "x.sub.example.org is in the zone sub.example.org, which this capd serves apart from example.org" \
  update root.cap -u 'add|x.sub.example.org|A|192.0.2.9|300'
expect_nx x.sub.example.org A "refused update changed the child zone"
expect_ok "update beside the cut still works" update root.cap -u 'add|y.example.org|A|192.0.2.10|300'
[ "$(q y.example.org A)" = 192.0.2.10 ] || die "update beside the cut visible"
ok "example.org's capability cannot update names served by sub.example.org"

expect_ok "delegate beside the cut" delegate root.cap www
[ "$(stored)" = $((n0 + 1)) ] || die "one saved service per delegate: $(stored)"
expect_ok "child zone's own delegate" delegate subroot.cap a
[ "$last_out" = "Wrote capability to a.sub.example.org.cap" ] || die "delegate output: $last_out"
[ "$(stored)" = $((n0 + 2)) ] || die "one saved service per delegate: $(stored)"
expect_ok "update through it" update a.sub.example.org.cap -u 'add|a.sub.example.org|A|192.0.2.7|300'
[ "$(q a.sub.example.org A)" = 192.0.2.7 ] || die "update visible in sub.example.org"
ok "delegates elsewhere still saved once each; sub.example.org's own cap delegates and updates"

stop_capd TERM
start_capd -z "$work/sub.example.org" || die "capd restarts"
expect_ok "restored after restart" get-name a.sub.example.org.cap
[ "$last_out" = a.sub.example.org ] || die "get-name: $last_out"
grep -q "restore:" "$work/capd.log" && die "a saved service failed to restore"
ok "every saved service restores after a restart"
finish delegate
