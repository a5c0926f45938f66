#!/usr/bin/env bash
# ACME DNS-01 certificates: capc cert -> capd (challenge records written into
# its own zone store) versus lego's RFC 2136 provider -> knotd (TSIG-signed
# UPDATE), both against pebble (Debian's ACME test CA) on loopback, same run.
#
#   bench/acme.sh   (env: BUILD=build/release, REPS=5, CONC=20, TIMEOUT=900)
#
# Two pebbles, started alike (PEBBLE_VA_NOSLEEP=1, fresh authorizations for
# every order, nonce rejection off so neither client pays for badNonce
# retries): one resolves the challenges through capd's DNS port, the other
# through knotd's. Both servers serve the same example.org zone.
#   ceon: capd --acme-directory PEBBLE_A; `capc cert CAP EMAIL -d NAME`.
#         Measured: from capc's start to its "Updated certificate for NAME"
#         line, printed after key.pem/fullchain.pem/cert.pem/chain.pem are
#         written (capc then stays connected for renewals; it is stopped).
#   lego: `lego --dns rfc2136 --dns.disable-cp --dns.resolvers KNOT run`,
#         RFC2136_NAMESERVER = knotd, TSIG hmac-sha256 (knotd's ACL allows
#         UPDATE only with that key). Measured: the process's wall time (it
#         exits once the certificate and key files are written).
#         --dns.disable-cp: lego's complete-propagation check asks every NS
#         of the zone on port 53, where nothing of ours listens; without it
#         lego cannot finish here. lego still does its one pre-check query
#         (to --dns.resolvers = knotd) before asking the CA to validate.
# Each side gets one untimed warm-up order first (ACME account registered,
# kept by capd's state dir / lego's --path; both reuse it afterwards). Then
# REPS single-name orders per side, alternated, each for a new name; then
# CONC orders for CONC names started at once on each side (CONC capc
# processes; CONC lego processes sharing the account). Every certificate is
# checked (file present, SAN = the name asked for).
# Prints median and max of the single orders, the total for CONC at once,
# the ratios ceon/lego and the load average. Bounded (TIMEOUT seconds); all
# it starts is stopped on exit, timeout or interrupt; ports below 32768.
set -uo pipefail
export LC_ALL=C
if [ -z "${ACME_SH_BOUNDED:-}" ]; then
  ACME_SH_BOUNDED=1 exec timeout -k 10 "${TIMEOUT:-900}" bash "${BASH_SOURCE[0]}" "$@"
fi
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD:-$root/build/release}
reps=${REPS:-5}
conc=${CONC:-20}
capd=$build/src/cmd/capd
capc=$build/src/cmd/capc
knotd=$(command -v knotd || echo /usr/sbin/knotd)
lego=$(command -v lego || echo /usr/bin/lego)
for b in "$capd" "$capc" "$knotd" "$lego" "$(command -v pebble)" "$(command -v dig)"; do
  [ -x "$b" ] || { echo "acme.sh: missing ${b:-pebble or dig} (make release; tools/install-deps.sh --test)"; exit 1; }
done
shared=$root/../shared/acceptance
[ -f "$shared/pebble.sh" ] || shared=/work/shared/acceptance
# shellcheck source=/dev/null
. "$shared/pebble.sh"
# shellcheck source=../tests/e2e/ports.sh
. "$root/tests/e2e/ports.sh"

work=$(mktemp -d)
pids=()
peb_a="" peb_b=""
cleanup() {
  for p in "${pids[@]}" $peb_a $peb_b; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  [ -n "${KEEP:-}" ] && echo "acme.sh: kept $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT
trap 'echo "acme.sh: stopped (timeout or signal)" >&2; exit 124' TERM INT
fail() { echo "acme.sh: $*" >&2; exit 1; }
now() { date +%s%N; } # nanoseconds
ms() { echo $((($2 - $1) / 1000000)); }
email=bench@example.org

dns_port=$(pick_port 2) || fail "no free port"
cap_port=$((dns_port + 1))
kport=$(pick_port) || fail "no free port"
[ "$kport" != "$dns_port" ] && [ "$kport" != "$cap_port" ] || kport=$(pick_port) || fail "no free port"

cat >"$work/example.org.zone" <<'ZONE'
$ORIGIN example.org.
$TTL 3600
@ IN SOA ns1 dns 1 3600 900 1814400 3600
@ IN NS ns1
ns1 IN A 127.0.0.1
@ IN A 203.0.113.0
www IN A 203.0.113.80
ZONE

# ---- two pebbles: A resolves through capd, B through knotd.
export PEBBLE_VA_NOSLEEP=1 PEBBLE_AUTHZREUSE=0 PEBBLE_WFE_NONCEREJECT=0
pebble_start "$work/pebble-a" "$dns_port" || fail "pebble A"
peb_a=$PEBBLE_PID url_a=$PEBBLE_URL ca_a=$PEBBLE_TLS_CA mgmt_a=$PEBBLE_MGMT
pebble_start "$work/pebble-b" "$kport" || fail "pebble B"
peb_b=$PEBBLE_PID url_b=$PEBBLE_URL ca_b=$PEBBLE_TLS_CA mgmt_b=$PEBBLE_MGMT
PEBBLE_PID=""

# ---- capd
"$capd" -z "$work/example.org.zone" --state-dir "$work/state" --capnp-secret-key-file "$work/capnp-key.pem" \
  --capnp-listen-address "tcp:127.0.0.1:$cap_port" -b 127.0.0.1 -p "$dns_port" \
  --acme-directory "$url_a" --acme-ca-file "$ca_a" >"$work/capd.log" 2>&1 &
pids+=($!)
cap=$work/state/caps/domain/example.org.cap
for _ in $(seq 100); do
  [ -s "$cap" ] && dig @127.0.0.1 -p "$dns_port" example.org SOA +short +time=1 +tries=1 | grep -q . && break
  sleep 0.1
done
[ -s "$cap" ] || { tail "$work/capd.log"; fail "capd did not start"; }

# ---- knotd: the same zone, UPDATE allowed only with the TSIG key.
kdir=$work/knot
mkdir -p "$kdir/db"
cp "$work/example.org.zone" "$kdir/"
tsig_name=acme-key
tsig_secret=$(head -c 32 /dev/urandom | base64)
cat >"$kdir/knot.conf" <<CONF
server:
    listen: 127.0.0.1@$kport
    rundir: $kdir
database:
    storage: $kdir/db
key:
  - id: $tsig_name
    algorithm: hmac-sha256
    secret: $tsig_secret
acl:
  - id: upd
    address: 127.0.0.1
    key: $tsig_name
    action: update
zone:
  - domain: example.org
    storage: $kdir
    file: example.org.zone
    acl: upd
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: changes
log:
  - target: stderr
    any: info
CONF
"$knotd" -c "$kdir/knot.conf" >"$kdir/log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  dig @127.0.0.1 -p "$kport" example.org SOA +short +time=1 +tries=1 | grep -q . && break
  sleep 0.1
done
dig @127.0.0.1 -p "$kport" example.org SOA +short +time=1 +tries=1 | grep -q . || { tail "$kdir/log"; fail "knotd did not start"; }

mkdir -p "$work/capc" "$work/lego"
# check_san FILE NAME: the certificate in FILE is for exactly NAME.
check_san() {
  local got
  got=$(openssl x509 -in "$1" -noout -ext subjectAltName 2>/dev/null | tail -n +2 | tr -d ' ')
  [ "$got" = "DNS:$2" ] || fail "$1: SAN '$got', want DNS:$2"
}

# capc_start NAME: capc cert for NAME in the background (cert dir capc/NAME).
capc_start() {
  "$capc" cert "$cap" "$email" -d "$1" --cert-dir "$work/capc/$1" >"$work/capc/$1.out" 2>&1 &
  echo $! >"$work/capc/$1.pid"
}
# capc_wait NAME...: until each capc printed its first line (at most 180 s);
# prints the time of the last one (ns); stops them; checks the files.
capc_wait() {
  local n left t=0 deadline=$(($(date +%s) + 180))
  while :; do
    left=0
    for n in "$@"; do
      [ -s "$work/capc/$n.out" ] || { left=1; break; }
    done
    [ $left = 0 ] && break
    [ "$(date +%s)" -lt "$deadline" ] || fail "capc cert did not finish within 180 s"
    sleep 0.005
  done
  t=$(now)
  for n in "$@"; do
    kill "$(cat "$work/capc/$n.pid")" 2>/dev/null
    wait "$(cat "$work/capc/$n.pid")" 2>/dev/null
    grep -qx "Updated certificate for $n" "$work/capc/$n.out" || fail "capc cert $n: $(cat "$work/capc/$n.out")"
    for f in key.pem cert.pem chain.pem fullchain.pem; do
      [ -s "$work/capc/$n/$f" ] || fail "capc cert $n wrote no $f"
    done
    check_san "$work/capc/$n/cert.pem" "$n"
  done
  echo "$t"
}
# lego_run NAME: one lego run (bounded), certificate checked by lego_check.
# $lego_dir and $lego_poll say which lego: "lego" (its RFC 2136 defaults)
# or "lego-p0" (RFC2136_POLLING_INTERVAL=0, see the header).
lego_run() {
  env ${lego_poll:+RFC2136_POLLING_INTERVAL=$lego_poll} \
    LEGO_CA_CERTIFICATES="$ca_b" RFC2136_NAMESERVER="127.0.0.1:$kport" \
    RFC2136_TSIG_KEY="$tsig_name." RFC2136_TSIG_SECRET="$tsig_secret" RFC2136_TSIG_ALGORITHM=hmac-sha256. \
    timeout 180 "$lego" --server "$url_b" --accept-tos --email "$email" --path "$work/$lego_dir" \
    --dns rfc2136 --dns.disable-cp --dns.resolvers "127.0.0.1:$kport" -d "$1" run >"$work/$lego_dir/$1.log" 2>&1 ||
    { tail -5 "$work/$lego_dir/$1.log" >&2; return 1; }
}
lego_check() {
  [ -s "$work/$lego_dir/certificates/$1.key" ] || fail "$lego_dir $1 wrote no key"
  check_san "$work/$lego_dir/certificates/$1.crt" "$1"
}
use_lego() { # lego | lego-p0
  lego_dir=$1
  lego_poll=""
  [ "$1" = lego-p0 ] && lego_poll=0
  return 0
}

one_capd() { # NAME -> ms
  local t0 t1
  t0=$(now)
  capc_start "$1"
  t1=$(capc_wait "$1") || exit 1
  ms "$t0" "$t1"
}
one_lego() { # NAME -> ms
  local t0 t1
  t0=$(now)
  lego_run "$1" || fail "$lego_dir $1 failed"
  t1=$(now)
  lego_check "$1"
  ms "$t0" "$t1"
}
# one SIDE NAME -> ms, SIDE = ceon | lego | lego-p0
one() {
  case $1 in
    ceon) one_capd "$2" ;;
    *) use_lego "$1" && one_lego "$2" ;;
  esac
}
# many SIDE NAME... -> ms: all NAMEs ordered at once, until the last is written.
many() {
  local side=$1 t0 t1 n p lp=()
  shift
  t0=$(now)
  if [ "$side" = ceon ]; then
    for n in "$@"; do capc_start "$n"; done
    t1=$(capc_wait "$@") || exit 1
  else
    use_lego "$side"
    for n in "$@"; do
      lego_run "$n" &
      lp+=($!)
    done
    for p in "${lp[@]}"; do wait "$p" || fail "a concurrent $side run failed"; done
    t1=$(now)
    for n in "$@"; do lego_check "$n"; done
  fi
  ms "$t0" "$t1"
}

load0=$(cut -d' ' -f1-3 /proc/loadavg)
# Warm-up: accounts registered, code paths and caches warm; lego-p0 gets a
# copy of lego's account (same key, same pebble).
one ceon warm.example.org >/dev/null || exit 1
one lego warm.example.org >/dev/null || exit 1
mkdir -p "$work/lego-p0" && cp -r "$work/lego/accounts" "$work/lego-p0/"
sides=(ceon lego lego-p0)
declare -A res
echo "== single names ($reps rounds, sides alternated; ms)"
for r in $(seq "$reps"); do
  order=("${sides[@]}")
  [ $((r % 2)) = 0 ] && order=(lego-p0 lego ceon)
  line="  round $r:"
  for side in "${order[@]}"; do
    v=$(one "$side" "one$r.example.org") || exit 1
    res[$side]="${res[$side]:-} $v"
    line="$line $side $v"
  done
  echo "$line"
done

names=()
for i in $(seq "$conc"); do names+=("many$i.example.org"); done
declare -A tot
echo "== $conc names at once (ms)"
for side in "${sides[@]}"; do
  tot[$side]=$(many "$side" "${names[@]}") || exit 1
  echo "  $side ${tot[$side]}"
done
load1=$(cut -d' ' -f1-3 /proc/loadavg)

# The challenge records are gone on both servers.
for n in one1 "many$conc"; do
  for p in "$dns_port" "$kport"; do
    [ -z "$(dig @127.0.0.1 -p "$p" "_acme-challenge.$n.example.org" TXT +short +time=1 +tries=1)" ] ||
      fail "a challenge TXT record left at _acme-challenge.$n.example.org on port $p"
  done
done
# Each pebble got only its own side's orders (warm-up + REPS + CONC per side).
for p in "a $((1 + reps + conc))" "b $((1 + 2 * (reps + conc)))"; do
  set -- $p
  got=$(grep -c 'POST /order-plz' "$work/pebble-$1/pebble.log")
  [ "$got" = "$2" ] || fail "pebble $1 saw $got orders, want $2"
done

stats() { # values... -> "median max"
  printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END {
    m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%d %d", m, v[NR] }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
declare -A med max
for side in "${sides[@]}"; do
  # shellcheck disable=SC2086
  read -r med[$side] max[$side] <<<"$(stats ${res[$side]})"
done
echo "== ACME DNS-01 against pebble (PEBBLE_VA_NOSLEEP=1): wall time until the certificate files are written"
echo "   lego = lego $(dpkg-query -W -f='${Version}' lego 2>/dev/null || echo '?') --dns rfc2136 --dns.disable-cp; lego-p0 = the same with RFC2136_POLLING_INTERVAL=0"
printf '%-28s %9s %9s %9s %11s %14s\n' "" ceon lego lego-p0 ceon/lego ceon/lego-p0
row() { # label ceon lego lego-p0
  printf '%-28s %6s ms %6s ms %6s ms %11s %14s\n' "$1" "$2" "$3" "$4" "$(ratio "$2" "$3")" "$(ratio "$2" "$4")"
}
row "one name, median of $reps" "${med[ceon]}" "${med[lego]}" "${med[lego-p0]}"
row "one name, max of $reps" "${max[ceon]}" "${max[lego]}" "${max[lego-p0]}"
row "$conc names at once, total" "${tot[ceon]}" "${tot[lego]}" "${tot[lego-p0]}"
echo "load average: before $load0, after $load1 ($(nproc) CPUs)"
