#!/usr/bin/env bash
# `make run`: serves the example zone from ./examples on unprivileged ports.
#   tools/run-example.sh BUILD_DIR DNS_PORT CAPNP_PORT
set -euo pipefail
build=$1 port=$2 cport=$3
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$root/state"
args=(-z "$root/examples/example.org.zone" -b 127.0.0.1 -b ::1 -p "$port" --state-dir "$root/state")
if "$build/src/cmd/capd" --help 2>&1 | grep -q -- --capnp-listen-address; then
  args+=(--capnp-listen-address "tcp:127.0.0.1:$cport" --capnp-secret-key-file "$root/state/capnp-secret.pem")
fi
cat <<MSG
Starting capd on the zone in examples/ (Ctrl-C stops it). Try:
  dig @127.0.0.1 -p $port example.org SOA
  dig @127.0.0.1 -p $port www.example.org A
The capabilities for example.org are written to state/caps/domain/ and
state/caps/primary/ (Cap'n Proto on 127.0.0.1:$cport, TLS). Try:
  $build/src/cmd/capc get-name state/caps/domain/example.org.cap
  $build/src/cmd/capc update state/caps/domain/example.org.cap -u 'add|hello.example.org|TXT|"hi"|300'
  dig @127.0.0.1 -p $port hello.example.org TXT
MSG
exec "$build/src/cmd/capd" "${args[@]}" -l 1
