#!/usr/bin/env bash
# An ACME DNS-01 challenge record reaches the secondaries (issue 14): capc
# cert against a capd primary with two capd secondaries, pebble resolving
# through the primary (as e2e/cert_pebble). The challenge TXT goes through
# the primary's update engine and journal, so the replication queues carry
# it: afterwards each secondary's IXFR from the serial before the order
# holds the _acme-challenge TXT (added, then deleted), and every AXFR equals
# the primary's (the record gone everywhere).
# Usage: replication_acme.sh CAPD CAPC
CAPD=$1 CAPC=$2
. "$(dirname "$0")/eon_lib.sh"
. "$(dirname "$0")/replication_lib.sh"
export LC_ALL=C
root=$(cd "$(dirname "$0")/../.." && pwd)
shared=$root/../shared/acceptance
[ -f "$shared/pebble.sh" ] || shared=/work/shared/acceptance
# shellcheck source=/dev/null
. "$shared/pebble.sh"
command -v pebble >/dev/null || die "pebble not installed (make test-deps installs it)"
trap 'rc=$?; stop_all_nodes; pebble_stop; (exit $rc); cleanup' EXIT

node_ports p
pebble_start "$work/pebble" "${node_port[p]}" || die "pebble starts"
start_replication 2 --acme-directory "$PEBBLE_URL" --acme-ca-file "$PEBBLE_TLS_CA"
mkdir -p "$work/client" && cd "$work/client" || exit 1
expect_ok "delegate test" delegate "$root_cap" test
before=$(nserial s1)
[ "$(nserial s2)" = "$before" ] || die "s2 at serial $(nserial s2), s1 at $before"
ok "primary with pebble at $PEBBLE_URL, two secondaries at serial $before"

"$CAPC" cert test.example.org.cap ryan@test.example.org -d test.example.org >cert.out 2>&1 &
cpid=$!
for _ in $(seq 1200); do
  grep -q 'certificate for\|^capc:' cert.out 2>/dev/null && break
  kill -0 "$cpid" 2>/dev/null || break
  sleep 0.1
done
kill "$cpid" 2>/dev/null
wait "$cpid" 2>/dev/null
output_clean "capc cert" "$(cat cert.out)"
[ "$(cat cert.out)" = "Updated certificate for test.example.org" ] || die "capc cert: $(cat cert.out)"
ok "certificate issued for test.example.org"

converged "after the certificate" p s1 s2
for s in s1 s2; do
  [ -z "$(nq "$s" _acme-challenge.test.$zone TXT)" ] || die "$s still serves the challenge record"
  hist=$(dig @127.0.0.1 -p "${node_port[$s]}" "$zone" "IXFR=$before" +noall +answer +time=3 +tries=1 2>/dev/null)
  n=$(printf '%s\n' "$hist" | grep -ic '^_acme-challenge\.test\.example\.org\..*TXT')
  [ "$n" -ge 2 ] ||
    die "$s's IXFR from serial $before: want the challenge TXT added and deleted (2 lines), got $n: $(printf '%s\n' "$hist" | head -20)"
done
ok "the challenge TXT reached both secondaries (in their IXFR history: added, then deleted); AXFRs equal"

stop_node s2 TERM
stop_node s1 TERM
stop_node p TERM
finish replication_acme
