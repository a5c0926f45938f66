#!/usr/bin/env bash
# The acme library against a real pebble: pebble_client (see its header)
# orders certificates with DNS-01 answered by its own TXT responder, then
# the chains are checked here with openssl against pebble's own root.
#   pebble_test.sh PATH/TO/pebble_client
set -euo pipefail
client=$1
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
shared=$root/../shared/acceptance
[ -f "$shared/pebble.sh" ] || shared=/work/shared/acceptance
# shellcheck source=/dev/null
source "$shared/pebble.sh"
# shellcheck source=../e2e/ports.sh
source "$root/tests/e2e/ports.sh"

work=$(mktemp -d /tmp/ceon-acme-pebble.XXXXXX)
cleanup() { pebble_stop || true; rm -rf "$work"; }
trap cleanup EXIT

# Some badNonce answers in every run (pebble's default is 5%): the client
# must retry them; 15% makes a run without one very unlikely.
export PEBBLE_WFE_NONCEREJECT=${PEBBLE_WFE_NONCEREJECT:-15}
dns_port=$(pick_port)
pebble_start "$work/pebble" "$dns_port"
echo "pebble at $PEBBLE_URL, DNS-01 answered on 127.0.0.1:$dns_port"

status=0
timeout 200 "$client" "$PEBBLE_URL" "$PEBBLE_TLS_CA" "$dns_port" "$work" || status=$?
if [ "$status" != 0 ]; then
    echo "FAIL: pebble_client exited $status; pebble's log:"
    tail -n 40 "$work/pebble/pebble.log"
    exit 1
fi

# The chains verify against pebble's root (from its management interface).
curl -sf --cacert "$PEBBLE_TLS_CA" "$PEBBLE_MGMT/roots/0" >"$work/root.pem"
for c in a b; do
    openssl verify -CAfile "$work/root.pem" -untrusted "$work/$c.pem" "$work/$c.pem" >/dev/null ||
        { echo "FAIL: $c.pem does not verify against pebble's root"; exit 1; }
done
openssl x509 -in "$work/a.pem" -noout -ext subjectAltName
echo "acme/pebble: ok"
