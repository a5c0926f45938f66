#!/usr/bin/env bash
# capd killed (SIGKILL) while an ACME order's challenge TXT is published:
# the next start removes exactly that value, through the journal, and
# leaves a user's own TXT value at the same name (state dir
# acme-challenges/, docs/state-dir.md). The CA is tests/e2e/acme_stall.py
# on loopback: it holds the challenge answer open, so the record stays
# published until capd is killed.
#   cert_kill.sh CAPD CAPC
CAPD=$1 CAPC=$2
. "$(dirname "$0")/eon_lib.sh"
. "$(dirname "$0")/fake_ca.sh"

owner=_acme-challenge.kill.example.org
# txt_values: the TXT values at $owner, one a line, sorted (quotes dropped).
txt_values() { q "$owner" TXT | tr -d '"' | sort; }
fake_ca_cert
mkdir -p "$work/client" && cd "$work/client" || exit 1
start_ca challenge "$work/ca.pem" "$work/ca.key" kill.example.org

start_capd --acme-directory "https://127.0.0.1:$ca_port/dir" --acme-ca-file "$work/ca.pem" || die "capd starts"
cp "$state/caps/domain/example.org.cap" example.org.cap
expect_ok "the user's own TXT at the challenge name" update example.org.cap \
  -u "add|$owner|TXT|\"user-made\"|300"
[ "$(txt_values)" = user-made ] || die "the user's TXT is served, got: $(txt_values)"

"$CAPC" cert example.org.cap ryan@example.org -d kill.example.org >cert.out 2>&1 &
cs=$!
wait_for "$work/ca.log" '^held /chal/1' "the order answers the challenge"
values=$(txt_values)
[ "$(wc -l <<<"$values")" = 2 ] && grep -qx user-made <<<"$values" ||
  die "the challenge value and the user's are served while the CA stalls, got: $values"
challenge=$(grep -vx user-made <<<"$values")
files=$(ls "$state/acme-challenges")
[ "$(wc -w <<<"$files")" = 1 ] || die "one record in acme-challenges/, got: $files"
grep -qx "value $challenge" "$state/acme-challenges/$files" ||
  die "the record names the published value $challenge: $(cat "$state/acme-challenges/$files")"
ok "challenge value $challenge published next to the user's, recorded in acme-challenges/"

stop_capd KILL
wait "$cs"
output_clean "capc cert when capd is killed" "$(cat cert.out)"
# The order never cleaned up: the value is still in the journal.
kill "$ca_pid" && wait "$ca_pid" 2>/dev/null
ca_pid=""
start_capd || die "capd starts again after kill -9"
for _ in $(seq 100); do [ "$(txt_values)" = user-made ] && break; sleep 0.1; done
[ "$(txt_values)" = user-made ] || die "after the restart only the user's TXT is left, got: $(txt_values)"
grep -q "acme: removed the challenge value $challenge at $owner that an interrupted order left" \
  "$work/capd.log" || die "the start-up removal is logged"
[ -z "$(ls "$state/acme-challenges")" ] ||
  die "acme-challenges/ is empty once the value is removed: $(ls "$state/acme-challenges")"
ok "restart after kill -9: the left-over value removed at start, the user's kept, the record dropped"

# The removal went through the journal: a further restart serves the same.
stop_capd
start_capd || die "capd starts a third time"
[ "$(txt_values)" = user-made ] || die "after another restart, got: $(txt_values)"
ok "the removal is journaled: the next start serves only the user's TXT"

# A damaged record is named in the log and left, never acted on.
printf 'ceon-acme-challenge 1\nowner example.org\nvalue user-made\n' >"$state/acme-challenges/bad"
stop_capd
start_capd || die "capd starts with a damaged record"
grep -q "acme-challenges/bad: line 2: the owner is not a lowercase _acme-challenge. name" "$work/capd.log" ||
  die "the damaged record is named in the log"
[ "$(txt_values)" = user-made ] || die "a damaged record removes nothing, got: $(txt_values)"
[ -f "$state/acme-challenges/bad" ] || die "a damaged record is left for the admin"
ok "a damaged record: logged with the reason and left, nothing removed"

# An order's own clean-up (SIGTERM cancels it) drops its record too, so
# the next start has nothing to act on.
rm "$state/acme-challenges/bad"
stop_capd
start_ca challenge "$work/ca.pem" "$work/ca.key" kill.example.org # (the first one is stopped)
start_capd --acme-directory "https://127.0.0.1:$ca_port/dir" --acme-ca-file "$work/ca.pem" || die "capd starts with ACME"
"$CAPC" cert example.org.cap ryan@example.org -d kill.example.org >cert2.out 2>&1 &
cs=$!
wait_for "$work/ca.log" '^held /chal/1' "the second order answers the challenge"
[ "$(ls "$state/acme-challenges" | wc -l)" = 1 ] || die "the second order's value is recorded"
stop_capd
wait "$cs"
output_clean "capc cert when capd stops" "$(cat cert2.out)"
[ -z "$(ls "$state/acme-challenges")" ] ||
  die "a cancelled order's clean-up drops its record: $(ls "$state/acme-challenges")"
start_capd || die "capd starts after the SIGTERM"
[ "$(txt_values)" = user-made ] || die "after the SIGTERM and a restart, got: $(txt_values)"
grep -c "that an interrupted order left" "$work/capd.log" | grep -qx 1 ||
  die "the start after a clean stop removes nothing"
ok "SIGTERM during an order: its own clean-up removed the value and dropped the record"

finish cert_kill
