# Shared helpers for the capd/capc end-to-end tests (sourced, not run).
# The caller sets CAPD and CAPC (paths to the binaries) before sourcing.
# Provides: a temp dir ($work), free loopback ports, capd start/stop on a
# state dir, dig wrappers, and checks that print one line per step.
#
# What a passing test guarantees (issue 8): every capd life ends in
# stop_capd, which requires exit 0 after SIGTERM (137 after SIGKILL) and no
# sanitizer report in capd's log; every capc run's output is scanned for
# sanitizer reports too; negative DNS checks assert the exact rcode and AA
# (expect_nx, expect_nodata), never an empty `dig +short`. A peer the test
# needs (dig) missing is a failure, not a skip: `make test` installs them.
set -uo pipefail

work=$(mktemp -d)
capd_pid=""
passed=0
dying=0
cleanup() {
  local rc=$?
  exec 2>/dev/null
  # A test that ends with capd still running either failed already or
  # forgot to stop it: then stop it here and hold it to the same rules.
  if [ -n "$capd_pid" ]; then
    if [ "$rc" = 0 ] && [ "$dying" = 0 ]; then
      stop_capd TERM || rc=1
    else
      kill -9 "$capd_pid"
      wait "$capd_pid"
    fi
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT

command -v dig >/dev/null || {
  echo "FAIL dig not installed (bind9-dnsutils; make test-deps installs it)"
  exit 1
}

ok() { echo "ok   $*"; passed=$((passed + 1)); }
die() {
  dying=1
  echo "FAIL $*"
  [ -f "$work/capd.log" ] && { echo "--- capd log (tail)"; tail -25 "$work/capd.log"; }
  exit 1
}

# A port for DNS and the next one for Cap'n Proto (tests/e2e/ports.sh).
. "$(dirname "${BASH_SOURCE[0]}")/ports.sh"
pick_ports() {
  dns_port=$(pick_port 2) || return 1
  cap_port=$((dns_port + 1))
}
pick_ports || die "no free port"

state="$work/state"
write_zone() { # file apex
  cat >"$1" <<ZONE
\$ORIGIN $2.
\$TTL 3600
@ IN SOA ns1 dns 1 3600 900 1814400 3600
@            IN NS   ns1
ns1          IN A    127.0.0.1
@            IN A    203.0.113.0
www          IN A    203.0.113.80
ZONE
}
write_zone "$work/example.org" example.org

# start_capd [extra capd args...]: waits until the cap file exists and DNS answers.
start_capd() {
  "$CAPD" -z "$work/example.org" --capnp-secret-key-file "$state/capnp-secret.pem" \
    --capnp-listen-address "tcp:127.0.0.1:$cap_port" --state-dir "$state" \
    -b 127.0.0.1 -p "$dns_port" -l 1 ${EON_TEST_CAPD_ARGS:-} "$@" >>"$work/capd.log" 2>&1 &
  capd_pid=$!
  # Ready = cap file written, Cap'n Proto port accepting, and an SOA answer
  # (dig prints ';;' lines on stdout for a refused or failed query). After
  # a restart the cap file is already there and DNS may answer before the
  # Cap'n Proto listener is bound.
  for _ in $(seq 200); do
    [ -s "$state/caps/domain/example.org.cap" ] &&
      (exec 3<>"/dev/tcp/127.0.0.1/$cap_port") 2>/dev/null &&
      dig @127.0.0.1 -p "$dns_port" example.org SOA +short +time=1 +tries=1 2>/dev/null |
      grep -v '^;' | grep -q . &&
      return 0
    kill -0 "$capd_pid" 2>/dev/null || { capd_pid=""; return 1; }
    sleep 0.05
  done
  return 1
}
# Sanitizer reports (ASan, LSan, UBSan) in FILE...: any is a failure.
sanitizer_re='ERROR: AddressSanitizer|ERROR: LeakSanitizer|LeakSanitizer|runtime error:|SUMMARY: UndefinedBehaviorSanitizer'
check_no_sanitizer() { # what file...
  local what=$1 hit
  shift
  hit=$(grep -E -h -m 3 "$sanitizer_re" "$@" 2>/dev/null) && die "$what: sanitizer report: $hit"
  return 0
}

# stop_capd [SIGNAL]: TERM (default) or INT must end capd with status 0
# within 30 s; KILL with 137. Either way capd's log (every life of it so
# far) must hold no sanitizer report.
stop_capd() {
  [ -n "$capd_pid" ] || return 0
  local sig=${1:-TERM} pid=$capd_pid rc want watchdog
  capd_pid=""
  kill "-$sig" "$pid" 2>/dev/null
  # The watchdog kills its own sleep when it is told to stop (a bare
  # `(sleep 30 && kill ...)` leaves the sleep running, holding meson's
  # output pipe for 30 s after the test), and holds no output fd anyway.
  (
    trap 'kill "$sleeper" 2>/dev/null; exit 0' TERM
    sleep 30 &
    sleeper=$!
    wait "$sleeper" && kill -9 "$pid"
  ) >/dev/null 2>&1 &
  watchdog=$!
  wait "$pid" 2>/dev/null
  rc=$?
  kill "$watchdog" 2>/dev/null
  wait "$watchdog" 2>/dev/null
  check_no_sanitizer "capd" "$work/capd.log"
  case $sig in
    KILL | 9) want=137 ;;
    *) want=0 ;;
  esac
  [ "$rc" = "$want" ] || die "capd exited with status $rc after SIG$sig, want $want"
  return 0
}

q() { dig @127.0.0.1 -p "$dns_port" "$@" +short +time=2 +tries=1 2>/dev/null; }
# Answer section as "name ttl type rdata" lines, sorted.
qa() { dig @127.0.0.1 -p "$dns_port" "$@" +noall +answer +time=2 +tries=1 2>/dev/null |
  awk '{ $3 = ""; print }' | sort; }
serial() { q example.org SOA | awk '{print $3}'; }

# dns_status NAME TYPE: "RCODE AA ANSWERS", e.g. "NXDOMAIN aa 0" or
# "NOERROR - 2"; "TIMEOUT - 0" when no answer came.
dns_status() {
  dig @127.0.0.1 -p "$dns_port" "$1" "$2" +noall +comments +time=2 +tries=1 2>/dev/null | awk '
    /->>HEADER<<-/ { for (i = 1; i <= NF; i++) if ($i == "status:") { st = $(i + 1); sub(/,$/, "", st) } }
    /;; flags:/ { aa = ($0 ~ /flags:[^;]* aa[ ;]/) ? "aa" : "-"
                  for (i = 1; i <= NF; i++) if ($i == "ANSWER:") { n = $(i + 1); sub(/,$/, "", n) } }
    END { if (st == "") print "TIMEOUT - 0"; else print st, aa, n + 0 }'
}
# expect_nx NAME TYPE [WHAT]: an authoritative NXDOMAIN.
expect_nx() {
  local got
  got=$(dns_status "$1" "$2")
  [ "$got" = "NXDOMAIN aa 0" ] || die "${3:-$1 $2}: want NXDOMAIN aa 0, got $got"
}
# expect_nodata NAME TYPE [WHAT]: an authoritative NOERROR with no answer.
expect_nodata() {
  local got
  got=$(dns_status "$1" "$2")
  [ "$got" = "NOERROR aa 0" ] || die "${3:-$1 $2}: want NOERROR aa 0 (no data), got $got"
}

# output_clean WHAT OUTPUT: a program's output (capc, a refused capd) must hold no sanitizer report.
output_clean() {
  if printf '%s\n' "$2" | grep -Eq "$sanitizer_re"; then
    die "$1: sanitizer report from capc: $(printf '%s\n' "$2" | grep -E -m 3 "$sanitizer_re")"
  fi
}

# finish NAME: the last line of every test: stops capd (clean exit
# required) and prints the summary.
finish() {
  stop_capd TERM
  echo "$1: $passed passed, 0 failed"
}

# expect_ok DESCRIPTION capc-args...: capc must exit 0.
expect_ok() {
  local what=$1 out
  shift
  out=$("$CAPC" "$@" 2>&1) || die "$what: capc $* exited $? ($out)"
  output_clean "$what" "$out"
  last_out=$out
}
# expect_fail DESCRIPTION 'expected text' capc-args...: capc must exit 1 and
# print exactly one line, "capc: " + something containing the text.
expect_fail() {
  local what=$1 want=$2 out rc
  shift 2
  out=$("$CAPC" "$@" 2>&1)
  rc=$?
  output_clean "$what" "$out"
  [ "$rc" = 1 ] || die "$what: capc $* exited $rc, want 1 ($out)"
  [ "$(printf '%s\n' "$out" | wc -l)" = 1 ] || die "$what: want one line, got: $out"
  case "$out" in
    "capc: "*"$want"*) ;;
    *) die "$what: want 'capc: ...$want...', got: $out" ;;
  esac
  last_out=$out
}
