#!/usr/bin/env bash
# capd stopped while a CA stalls (issue 10; the e2e/cert_pebble flake where
# capd exited 137): a request the CA never answers must not hold the stop
# for curl's 30 s timeout (which is also stop_capd's watchdog). The CA is
# tests/e2e/acme_stall.py on loopback, a real socket:
#  - "challenge": the order gets as far as publishing its TXT record and
#    answering the challenge, whose POST the CA holds open; SIGTERM: capd
#    exits 0 within 10 s, removed the record on the way out (journaled: a
#    restart without ACME still answers NXDOMAIN), capc is told (exit 1);
#  - "accept": the CA accepts and never speaks (TLS never completes), so
#    the order is still waiting for the directory; SIGTERM: exit 0 within
#    10 s.
#   cert_stall.sh CAPD CAPC
CAPD=$1 CAPC=$2
. "$(dirname "$0")/eon_lib.sh"
. "$(dirname "$0")/fake_ca.sh"
# stop_within SECONDS: SIGTERM must end capd with status 0 within SECONDS
# (else it is killed and the test fails), with no sanitizer report.
stop_within() {
  local pid=$capd_pid rc
  capd_pid=""
  kill -TERM "$pid"
  for _ in $(seq $(($1 * 10))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    kill -9 "$pid"
    wait "$pid" 2>/dev/null
    die "capd still running $1 s after SIGTERM while the CA stalls"
  fi
  wait "$pid"
  rc=$?
  check_no_sanitizer "capd" "$work/capd.log"
  [ "$rc" = 0 ] || die "capd exited with status $rc after SIGTERM, want 0"
}

fake_ca_cert
mkdir -p "$work/client" && cd "$work/client" || exit 1

# ---- the CA holds the challenge answer open; the record is published
start_ca challenge "$work/ca.pem" "$work/ca.key" stall.example.org
start_capd --acme-directory "https://127.0.0.1:$ca_port/dir" --acme-ca-file "$work/ca.pem" || die "capd starts"
cp "$state/caps/domain/example.org.cap" example.org.cap
"$CAPC" cert example.org.cap ryan@example.org -d stall.example.org >stall.out 2>&1 &
cs=$!
wait_for "$work/ca.log" '^held /chal/1' "the order answers the challenge"
grep -q 'acme: added TXT at _acme-challenge.stall.example.org: ok' "$work/capd.log" || die "the record was added"
[ -n "$(q _acme-challenge.stall.example.org TXT)" ] || die "the challenge record is served while the CA stalls"
ok "the order's challenge answer is held open by the CA, its TXT record served"
stop_within 10
wait "$cs"
rc=$?
output_clean "capc cert while capd stops" "$(cat stall.out)"
[ "$rc" = 1 ] || die "capc cert while capd stops exited $rc, want 1 ($(cat stall.out))"
grep -q 'acme: removed TXT at _acme-challenge.stall.example.org: ok' "$work/capd.log" ||
  die "the record removed while stopping"
start_capd || die "capd starts again without ACME"
expect_nx _acme-challenge.stall.example.org TXT "the challenge record after the restart"
stop_within 10 # not stop_capd: its watchdog's sleep would hold meson's pipe for 30 s
ok "SIGTERM with the challenge POST in flight: exit 0 within 10 s, capc told ($(head -c 60 stall.out)), record removed durably"

# ---- the CA never completes TLS: the order still waits for the directory
start_ca accept
start_capd --acme-directory "https://127.0.0.1:$ca_port/dir" --acme-ca-file "$work/ca.pem" || die "capd starts"
"$CAPC" cert example.org.cap ryan@example.org -d hang.example.org >hang.out 2>&1 &
ch=$!
wait_for "$work/ca.log" '^accepted' "capd connects to the CA"
wait_for "$work/capd.log" 'cert\(ryan@example.org, \[hang.example.org\]\): started' "the order started"
stop_within 10
wait "$ch"
output_clean "capc cert while capd stops" "$(cat hang.out)"
ok "SIGTERM while the directory request stalls in TLS: exit 0 within 10 s"

finish cert_stall
