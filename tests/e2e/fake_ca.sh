# The fake ACME CA of the cert_* tests (tests/e2e/acme_stall.py, a real
# HTTPS socket on loopback), sourced after eon_lib.sh. Gives:
#   fake_ca_cert              a self-signed certificate for 127.0.0.1 in
#                             $work/ca.pem (key $work/ca.key)
#   start_ca MODE ARGS...     the fake CA on a fresh port ($ca_port), log
#                             $work/ca.log; stops the one started before
#   wait_for FILE ERE WHAT    up to 60 s for an extended regex in FILE
# and stops the CA on exit (the EXIT trap also runs eon_lib.sh's cleanup).
fake=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/acme_stall.py
command -v python3 >/dev/null || die "python3 not installed"
ca_pid=""
trap 'rc=$?; [ -n "$ca_pid" ] && kill "$ca_pid" 2>/dev/null && wait "$ca_pid" 2>/dev/null; (exit $rc); cleanup' EXIT

fake_ca_cert() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=acme-stall \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$work/ca.key" -out "$work/ca.pem" >/dev/null 2>&1 ||
    die "a certificate for the fake CA"
}

start_ca() {
  local mode=$1
  shift
  [ -n "$ca_pid" ] && { kill "$ca_pid" 2>/dev/null; wait "$ca_pid" 2>/dev/null; }
  ca_port=$(pick_port) || die "no free port for the fake CA"
  : >"$work/ca.log"
  python3 "$fake" "$mode" "$ca_port" "$@" >>"$work/ca.log" 2>&1 &
  ca_pid=$!
  for _ in $(seq 100); do grep -q '^listening' "$work/ca.log" && return 0; sleep 0.1; done
  die "the fake CA ($mode) does not listen: $(cat "$work/ca.log")"
}

wait_for() {
  for _ in $(seq 600); do grep -Eq "$2" "$1" && return 0; sleep 0.1; done
  die "$3 (no '$2' in $1 after 60 s)"
}
