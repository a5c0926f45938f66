#!/usr/bin/env bash
# Interop between our vat and the C++ reference implementation, plain TCP:
# (a) the C++ client against our server, (b) our client against the C++
# server. Each side checks: restore by object ID, a plain call, a
# pipelined call, call order across a promise's resolution, a callback
# capability the server calls, an asynchronous answer (and, against our
# server, Persistent.save and an unknown ID).
set -euo pipefail
ceon=$1 peer=$2
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT

wait_line() { # file: waits for the first line
  for _ in $(seq 100); do [ -s "$1" ] && return 0; sleep 0.05; done
  echo "no output in $1" >&2; return 1
}

echo "== (a) C++ client -> ceon server"
"$ceon" server >"$tmp/ceon.out" 2>"$tmp/ceon.err" & pids+=($!)
wait_line "$tmp/ceon.out"
port=$(head -1 "$tmp/ceon.out")
timeout 30 "$peer" client "$port" svc ours

echo "== (b) ceon client -> C++ server"
"$peer" server >"$tmp/peer.out" 2>"$tmp/peer.err" & pids+=($!)
wait_line "$tmp/peer.out"
port=$(head -1 "$tmp/peer.out")
# base64url("svc") = c3Zj
timeout 30 "$ceon" client "capnp://insecure@127.0.0.1:$port/c3Zj"

# Our server survived the C++ client going away and still serves.
port=$(head -1 "$tmp/ceon.out")
timeout 30 "$ceon" client "capnp://insecure@127.0.0.1:$port/c3Zj"

# Our server is still up (it would have aborted on an ASan/UBSan error) and
# nothing it or the clients wrote is a sanitizer report.
kill -0 "${pids[0]}" || { echo "ceon server died:"; cat "$tmp/ceon.err"; exit 1; }
if grep -E -m 3 'ERROR: AddressSanitizer|LeakSanitizer|runtime error:|SUMMARY: UndefinedBehaviorSanitizer' "$tmp"/*.err; then
  echo "interop: sanitizer report (above)"
  exit 1
fi
echo "interop: all passed"
