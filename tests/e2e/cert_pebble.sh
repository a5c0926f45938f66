#!/usr/bin/env bash
# capc cert against capd with a real ACME server (pebble, Debian's package)
# that resolves the DNS-01 challenges by asking this capd (issue 10):
#  - one name: "Updated certificate for test.example.org", the files,
#    openssl verify against pebble's root, SANs, key = certificate's key,
#    eon's state layout and modes, the challenge record gone afterwards
#    (from the zone and from STATE/acme-challenges/);
#  - several names and a wildcard in one certificate;
#  - a name outside the capability refused before pebble hears of it;
#  - the same names again: from disk, no ACME; another name set with the
#    same first name: a new order with the certificate and account keys reused;
#  - while an order waits on the CA (pebble stopped with SIGSTOP), DNS over
#    TCP and Domain.update are answered, a second call for the same names
#    joins the order, one sharing a name is refused; capd stopped during an
#    order exits cleanly and removes the record;
#  - a certificate living 30 s (a second pebble with that validity) is
#    renewed by itself and pushed: "Renewed certificate for ..." and the
#    renewed file (capc cert --exit-when-renewed); after a capd restart
#    its renewal is armed again from the state dir; a name the CA refuses
#    (pebble's blocklist) gets the CA's problem to capc; capd restarting
#    under a waiting capc: capc calls again and still gets the renewal.
#   cert_pebble.sh CAPD CAPC
CAPD=$1 CAPC=$2
. "$(dirname "$0")/eon_lib.sh"
root=$(cd "$(dirname "$0")/../.." && pwd)
shared=$root/../shared/acceptance
[ -f "$shared/pebble.sh" ] || shared=/work/shared/acceptance
# shellcheck source=/dev/null
. "$shared/pebble.sh"
command -v pebble >/dev/null || die "pebble not installed (make test-deps installs it)"
trap 'rc=$?; [ -n "${PEBBLE_PID:-}" ] && kill -CONT "$PEBBLE_PID" 2>/dev/null; pebble_stop; (exit $rc); cleanup' EXIT

# badNonce answers in every run: capd's client must retry them.
export PEBBLE_WFE_NONCEREJECT=15
pebble_start "$work/pebble" "$dns_port" || die "pebble starts"
mport=$(pick_port) || die "no free port for the metrics endpoint"
start_capd --acme-directory "$PEBBLE_URL" --acme-ca-file "$PEBBLE_TLS_CA" --metrics-listen "127.0.0.1:$mport" || die "capd starts"
curl -sf --cacert "$PEBBLE_TLS_CA" "$PEBBLE_MGMT/roots/0" >"$work/root.pem" || die "pebble's root"
mkdir -p "$work/client" && cd "$work/client" || exit 1
cp "$state/caps/domain/example.org.cap" example.org.cap
expect_ok "delegate test" delegate example.org.cap test
ok "setup: pebble at $PEBBLE_URL resolving through capd on port $dns_port"

orders() { grep -c 'POST /order-plz' "$work/pebble/pebble.log"; }

# cert OUT ARGS...: runs capc cert until it prints its first line (it stays
# connected for renewals), then stops it.
cert() {
  local out=$1 p
  shift
  "$CAPC" cert "$@" >"$out" 2>&1 &
  p=$!
  for _ in $(seq 1200); do
    grep -q 'certificate for\|^capc:' "$out" 2>/dev/null && break
    kill -0 "$p" 2>/dev/null || break
    sleep 0.1
  done
  kill "$p" 2>/dev/null
  wait "$p" 2>/dev/null
  output_clean "capc cert $*" "$(cat "$out")"
}
mode() { stat -c %a "$1"; }
# no_pending WHAT: STATE/acme-challenges/ (0750) holds no record: every
# value the orders added was removed and its record with it.
no_pending() {
  local d=$state/acme-challenges
  [ -d "$d" ] && [ "$(mode "$d")" = 750 ] || die "$1: $d is not a 0750 directory"
  [ -z "$(ls -A "$d")" ] || die "$1: records left in $d: $(ls -A "$d")"
}
# check_cert DIR NAME...: chain verifies against pebble's root, SANs exactly NAMEs, key matches.
check_cert() {
  local d=$1 want got
  shift
  for f in key.pem cert.pem chain.pem fullchain.pem; do [ -s "$d/$f" ] || die "capc cert writes $d/$f"; done
  openssl verify -CAfile "$work/root.pem" -untrusted "$d/chain.pem" "$d/cert.pem" >/dev/null 2>&1 ||
    die "$d/cert.pem does not chain to pebble's root"
  want=$(printf 'DNS:%s\n' "$@" | sort | paste -sd,)
  got=$(openssl x509 -in "$d/cert.pem" -noout -ext subjectAltName | tail -n +2 | tr -d ' ' | tr , '\n' | sort | paste -sd,)
  [ "$got" = "$want" ] || die "$d: SANs $got, want $want"
  [ "$(openssl x509 -in "$d/cert.pem" -noout -pubkey | openssl sha256)" = \
    "$(openssl pkey -in "$d/key.pem" -pubout | openssl sha256)" ] || die "$d/key.pem is not the certificate's key"
}

# ---- one name
cert one.out test.example.org.cap ryan@test.example.org -d test.example.org
[ "$(cat one.out)" = "Updated certificate for test.example.org" ] || die "capc cert prints the seed's line (got: $(cat one.out))"
check_cert certs/test.example.org test.example.org
[ "$(mode certs/test.example.org/key.pem)" = 640 ] && [ "$(mode certs/test.example.org/fullchain.pem)" = 640 ] ||
  die "capc's files: key.pem $(mode certs/test.example.org/key.pem), fullchain.pem $(mode certs/test.example.org/fullchain.pem)"
sd=$state/certs/test.example.org
for f in "$sd/privkey.pem" "$sd/fullcert.pem" "$state/accounts/ryan@test.example.org/account.pem"; do
  [ "$(mode "$f")" = 600 ] || die "$f: mode $(mode "$f"), want 600"
done
[ "$(mode "$sd")" = 750 ] && [ "$(mode "$state/accounts/ryan@test.example.org")" = 750 ] || die "state cert dirs not 0750"
cmp -s <(openssl x509 -in "$sd/fullcert.pem" -noout -serial) <(openssl x509 -in certs/test.example.org/cert.pem -noout -serial) ||
  die "capd's fullcert.pem is not the certificate capc got"
expect_nx _acme-challenge.test.example.org TXT "the challenge record after the order"
grep -q 'acme: added TXT at _acme-challenge.test.example.org: ok' "$work/capd.log" &&
  grep -q 'acme: removed TXT at _acme-challenge.test.example.org: ok' "$work/capd.log" ||
  die "capd's log shows the challenge record added and removed"
no_pending "after one name"
ok "one name: Updated certificate for test.example.org, chain verified, SANs, key, state files 0600 in 0750, TXT gone (NXDOMAIN), no record in acme-challenges/"

# The statistics show the certificate: its renewal time after now and
# before its notAfter, no failure, no order running.
curl -sf --max-time 5 "http://127.0.0.1:$mport/metrics" >metrics.txt || die "GET /metrics"
ra=$(awk '$1 == "capd_certificate_renewal_timestamp_seconds{name=\"test.example.org\"}" { print $2 }' metrics.txt)
na=$(date -d "$(openssl x509 -in certs/test.example.org/cert.pem -noout -enddate | cut -d= -f2)" +%s)
[ -n "$ra" ] && [ "$ra" -gt "$(date +%s)" ] && [ "$ra" -lt "$na" ] ||
  die "renewal time in the statistics: '$ra' (now $(date +%s), notAfter $na): $(grep capd_certificate metrics.txt)"
grep -qx "capd_certificate_expiry_timestamp_seconds{name=\"test.example.org\"} $na" metrics.txt ||
  die "expiry in the statistics is not the certificate's notAfter ($na): $(grep capd_certificate_expiry metrics.txt)"
grep -qx 'capd_certificate_renewal_failures{name="test.example.org"} 0' metrics.txt &&
  grep -qx 'capd_acme_orders 0' metrics.txt || die "certificate statistics: $(grep -E 'capd_(certificate|acme)' metrics.txt)"
grep -Eq '^capd_journal_bytes [1-9][0-9]*$' metrics.txt || die "journal size in the statistics: $(grep capd_journal metrics.txt)"
ok "statistics: the certificate's expiry (its notAfter) and renewal time (between now and notAfter), 0 failures, 0 orders running; journal size"

# ---- several names and a wildcard
cert many.out test.example.org.cap ryan@test.example.org -d a.test.example.org -d '*.a.test.example.org' -d b.test.example.org
[ "$(cat many.out)" = "Updated certificate for a.test.example.org" ] || die "three names (got: $(cat many.out))"
check_cert certs/a.test.example.org a.test.example.org '*.a.test.example.org' b.test.example.org
expect_nx _acme-challenge.a.test.example.org TXT "the two challenge values at one name"
expect_nx _acme-challenge.b.test.example.org TXT
[ "$(orders)" -ge 2 ] || die "pebble's log counts the orders (POST /order-plz)"
no_pending "after three names"
ok "a.test.example.org, *.a.test.example.org and b.test.example.org in one certificate; records gone (zone and acme-challenges/)"

# ---- outside the capability: refused before the CA is contacted
n=$(orders)
expect_fail "a name outside the capability" "name evil.example.org is outside test.example.org" \
  cert test.example.org.cap ryan@test.example.org -d test.example.org -d evil.example.org
expect_fail "a bad email" "invalid email" cert test.example.org.cap '../../x@y' -d test.example.org
[ "$(orders)" = "$n" ] || die "pebble got an order for a refused request"
[ ! -e "$state/accounts/../../x@y" ] && [ ! -d "$state/certs/evil.example.org" ] || die "a refused request wrote files"
ok "evil.example.org and a path-like email refused with pebble never asked"

# ---- again: from disk
n=$(orders)
before=$(openssl x509 -in "$sd/fullcert.pem" -noout -serial)
cert again.out test.example.org.cap ryan@test.example.org -d test.example.org --cert-dir again
[ "$(cat again.out)" = "Updated certificate for test.example.org" ] || die "second call (got: $(cat again.out))"
[ "$(orders)" = "$n" ] || die "the second call ordered again"
[ "$(openssl x509 -in again/cert.pem -noout -serial)" = "$before" ] || die "the second call got another certificate"
ok "the same names again: the certificate on disk, pebble not asked"

# ---- a new name set with the same first name: a new order, the keys reused
keysum() { openssl pkey -in "$1" -pubout | openssl sha256; }
k0=$(keysum "$sd/privkey.pem") a0=$(keysum "$state/accounts/ryan@test.example.org/account.pem")
n=$(orders)
cert reuse.out test.example.org.cap ryan@test.example.org -d test.example.org -d x.test.example.org --cert-dir reuse
[ "$(cat reuse.out)" = "Updated certificate for test.example.org" ] || die "names added (got: $(cat reuse.out))"
[ "$(orders)" -gt "$n" ] || die "a different name set is ordered anew"
check_cert reuse test.example.org x.test.example.org
[ "$(keysum "$sd/privkey.pem")" = "$k0" ] && [ "$(keysum reuse/key.pem)" = "$k0" ] || die "the certificate key is reused"
[ "$(keysum "$state/accounts/ryan@test.example.org/account.pem")" = "$a0" ] || die "the account key is reused"
ok "test.example.org + x.test.example.org: ordered anew (exact names only from disk), certificate and account keys reused"

# ---- an order waiting on the CA does not stop capd
"$CAPC" cert test.example.org.cap ryan@test.example.org -d c.test.example.org --cert-dir c1 >c1.out 2>&1 &
c1=$!
for _ in $(seq 600); do grep -q 'added TXT at _acme-challenge.c.test.example.org' "$work/capd.log" && break; sleep 0.1; done
kill -STOP "$PEBBLE_PID"
"$CAPC" cert test.example.org.cap ryan@test.example.org -d c.test.example.org --cert-dir c2 >c2.out 2>&1 &
c2=$!
for _ in $(seq 300); do grep -q 'cert(ryan@test.example.org, \[c.test.example.org\]): joins' "$work/capd.log" && break; sleep 0.1; done
grep -q 'joins the running order' "$work/capd.log" || die "a second call for the same name joins the order"
expect_fail "a call sharing a name with a running order" "is being ordered" \
  cert test.example.org.cap ryan@test.example.org -d c.test.example.org -d d.test.example.org
[ "$(dig @127.0.0.1 -p "$dns_port" +tcp +short example.org SOA +time=5 +tries=1 | wc -l)" = 1 ] || die "DNS over TCP while an order waits"
expect_ok "update while an order waits" update test.example.org.cap -u 'add|busy.test.example.org|A|192.0.2.7|60'
[ "$(q busy.test.example.org A)" = 192.0.2.7 ] || die "the update is served"
[ ! -s c1.out ] && [ ! -s c2.out ] || die "the order finished while pebble was stopped: $(cat c1.out c2.out)"
kill -CONT "$PEBBLE_PID"
for _ in $(seq 1200); do grep -q 'certificate for' c1.out && grep -q 'certificate for' c2.out && break; sleep 0.1; done
kill "$c1" "$c2" 2>/dev/null
wait "$c1" "$c2" 2>/dev/null
[ "$(cat c1.out)" = "Updated certificate for c.test.example.org" ] && [ "$(cat c2.out)" = "Updated certificate for c.test.example.org" ] ||
  die "both callers get the certificate (got: $(cat c1.out c2.out))"
cmp -s c1/cert.pem c2/cert.pem || die "the joined calls got different certificates"
ok "while the CA is stopped: DNS over TCP and Domain.update answered; the same name joins, an overlapping set is refused"

# ---- capd stopped while an order waits on the CA: a clean exit, the
# caller told, the challenge record removed (durably: after a restart too)
"$CAPC" cert test.example.org.cap ryan@test.example.org -d stop.test.example.org >stop.out 2>&1 &
cs=$!
for _ in $(seq 600); do grep -q 'added TXT at _acme-challenge.stop.test.example.org' "$work/capd.log" && break; sleep 0.1; done
grep -q 'added TXT at _acme-challenge.stop.test.example.org' "$work/capd.log" || die "the order for stop.test.example.org started"
kill -STOP "$PEBBLE_PID"
stop_capd TERM
kill -CONT "$PEBBLE_PID"
wait "$cs"
rc=$?
output_clean "capc cert while capd stops" "$(cat stop.out)"
[ "$rc" = 1 ] || die "capc cert while capd stops exited $rc ($(cat stop.out))"
grep -q 'removed TXT at _acme-challenge.stop.test.example.org: ok' "$work/capd.log" || die "the record removed while stopping"
start_capd --acme-directory "$PEBBLE_URL" --acme-ca-file "$PEBBLE_TLS_CA" || die "capd starts after the stop"
expect_nx _acme-challenge.stop.test.example.org TXT "the challenge record after a stop during the order"
ok "capd stopped during an order: exit 0, capc told ($(head -c 80 stop.out)), record removed and gone after the restart"

# ---- renewal pushed through the callback: a CA whose certificates live 30 s
stop_capd TERM
pebble_stop
sed -i 's/"externalAccountBindingRequired": false}/"externalAccountBindingRequired": false, "certificateValidityPeriod": 30, "domainBlocklist": ["blocked.test.example.org"]}/' "$work/pebble/pebble.json"
grep -q certificateValidityPeriod "$work/pebble/pebble.json" || die "pebble config for short certificates"
PEBBLE_VA_NOSLEEP=1 PEBBLE_AUTHZREUSE=0 pebble -config "$work/pebble/pebble.json" -dnsserver "127.0.0.1:$dns_port" >"$work/pebble/pebble2.log" 2>&1 &
PEBBLE_PID=$!
for _ in $(seq 100); do curl -s --cacert "$PEBBLE_TLS_CA" "$PEBBLE_URL" 2>/dev/null | grep -q newOrder && break; sleep 0.1; done
curl -sf --cacert "$PEBBLE_TLS_CA" "$PEBBLE_MGMT/roots/0" >"$work/root.pem" || die "the second pebble's root"
start_capd --acme-directory "$PEBBLE_URL" --acme-ca-file "$PEBBLE_TLS_CA" || die "capd starts again"
grep -q 'certs/test.example.org: renewal at' "$work/capd.log" || die "the stored certificate's renewal is armed at start"
# The CA's refusal reaches capc verbatim.
expect_fail "a name the CA refuses" "blocked.test.example.org" cert test.example.org.cap ryan@test.example.org -d blocked.test.example.org
case $last_out in *rejectedIdentifier*) ;; *) die "the CA's problem type reaches capc (got: $last_out)" ;; esac
expect_nx _acme-challenge.blocked.test.example.org TXT
ok "the CA's refusal (urn:ietf:params:acme:error:rejectedIdentifier) reaches capc, exit 1, no record"

timeout 180 "$CAPC" cert test.example.org.cap ryan@test.example.org -d short.test.example.org --exit-when-renewed >short.out 2>&1
rc=$?
output_clean "capc cert --exit-when-renewed" "$(cat short.out)"
[ "$rc" = 0 ] || die "capc cert --exit-when-renewed exited $rc ($(cat short.out))"
[ "$(cat short.out)" = "Updated certificate for short.test.example.org
Renewed certificate for short.test.example.org" ] || die "first Updated, then Renewed (got: $(cat short.out))"
[ -e certs/short.test.example.org/renewed ] || die "the renewed file"
check_cert certs/short.test.example.org short.test.example.org
ok "a 30 s certificate renewed by itself and pushed: Updated, then Renewed, renewed file; renewals re-armed at start"

# ---- capd restarts under a waiting capc: capc calls again, capd re-arms
# the renewal from disk and pushes it to the new callback.
"$CAPC" cert test.example.org.cap ryan@test.example.org -d restart.test.example.org --exit-when-renewed >restart.out 2>restart.err &
cr=$!
for _ in $(seq 1200); do grep -q 'certificate for' restart.out && break; kill -0 "$cr" 2>/dev/null || break; sleep 0.1; done
[ "$(cat restart.out)" = "Updated certificate for restart.test.example.org" ] || die "before the restart (got: $(cat restart.out restart.err))"
stop_capd TERM
for _ in $(seq 300); do grep -q 'calling capd again' restart.err && break; sleep 0.1; done
grep -q 'calling capd again' restart.err || die "capc notices that capd went away (stderr: $(cat restart.err))"
start_capd --acme-directory "$PEBBLE_URL" --acme-ca-file "$PEBBLE_TLS_CA" || die "capd starts a third time"
for _ in $(seq 1800); do kill -0 "$cr" 2>/dev/null || break; sleep 0.1; done
kill "$cr" 2>/dev/null && die "capc did not exit after the renewal (stdout: $(cat restart.out); stderr: $(cat restart.err))"
wait "$cr"
rc=$?
output_clean "capc cert across a restart" "$(cat restart.out restart.err)"
[ "$rc" = 0 ] || die "capc cert across a restart exited $rc ($(cat restart.out restart.err))"
[ "$(cat restart.out)" = "Updated certificate for restart.test.example.org
Renewed certificate for restart.test.example.org" ] || die "across a restart: Updated, then Renewed once (got: $(cat restart.out))"
grep -q 'certs/restart.test.example.org: renewal at' "$work/capd.log" || die "the renewal re-armed from disk"
check_cert certs/restart.test.example.org restart.test.example.org
ok "capd restarted under capc cert: capc called again, the renewal re-armed from disk reached it (Renewed once), exit 0"

finish cert_pebble
