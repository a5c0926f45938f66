# Shared helpers for the capd/capc end-to-end tests (sourced, not run).
# The caller sets CAPD and CAPC (paths to the binaries) before sourcing.
# Provides: a temp dir ($work), free loopback ports, capd start/stop on a
# state dir, dig wrappers, and checks that print one line per step.
set -uo pipefail

work=$(mktemp -d)
capd_pid=""
passed=0
cleanup() {
  exec 2>/dev/null
  { [ -n "$capd_pid" ] && kill -9 "$capd_pid"; wait; } 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

ok() { echo "ok   $*"; passed=$((passed + 1)); }
die() {
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
  for _ in $(seq 200); do
    [ -s "$state/caps/domain/example.org.cap" ] &&
      dig @127.0.0.1 -p "$dns_port" example.org SOA +short +time=1 +tries=1 2>/dev/null | grep -q . &&
      return 0
    kill -0 "$capd_pid" 2>/dev/null || { capd_pid=""; return 1; }
    sleep 0.05
  done
  return 1
}
stop_capd() { # signal
  [ -n "$capd_pid" ] || return 0
  { kill "-${1:-TERM}" "$capd_pid"; wait "$capd_pid"; } 2>/dev/null
  capd_pid=""
}

q() { dig @127.0.0.1 -p "$dns_port" "$@" +short +time=2 +tries=1 2>/dev/null; }
# Answer section as "name ttl type rdata" lines, sorted.
qa() { dig @127.0.0.1 -p "$dns_port" "$@" +noall +answer +time=2 +tries=1 2>/dev/null |
  awk '{ $3 = ""; print }' | sort; }
serial() { q example.org SOA | awk '{print $3}'; }

# expect_ok DESCRIPTION capc-args...: capc must exit 0.
expect_ok() {
  local what=$1 out
  shift
  out=$("$CAPC" "$@" 2>&1) || die "$what: capc $* exited $? ($out)"
  last_out=$out
}
# expect_fail DESCRIPTION 'expected text' capc-args...: capc must exit 1 and
# print exactly one line, "capc: " + something containing the text.
expect_fail() {
  local what=$1 want=$2 out rc
  shift 2
  out=$("$CAPC" "$@" 2>&1)
  rc=$?
  [ "$rc" = 1 ] || die "$what: capc $* exited $rc, want 1 ($out)"
  [ "$(printf '%s\n' "$out" | wc -l)" = 1 ] || die "$what: want one line, got: $out"
  case "$out" in
    "capc: "*"$want"*) ;;
    *) die "$what: want 'capc: ...$want...', got: $out" ;;
  esac
  last_out=$out
}
