#!/usr/bin/env bash
# RPC benchmark, same run, loopback: trivial-call round trips per second,
# pipelined (many calls in flight) calls per second, and connection setup
# (connect [+ TLS handshake] + bootstrap + first call), ours vs the C++
# reference library (libcapnp-rpc), each client against its own server.
#   bench/rpc.sh [BUILD_DIR] [N]
# BUILD_DIR defaults to build/release (make bench builds it).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build/release}
n=${2:-20000}
ceon=$build/tests/interop/interop_ceon
peer=$build/tests/interop/interop_peer
if [ ! -x "$ceon" ]; then echo "rpc bench: $ceon not built"; exit 0; fi
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT

wait_line() { for _ in $(seq 100); do [ -s "$1" ] && return 0; sleep 0.05; done; return 1; }
val() { awk -v k="$1" '$1 == k { print $2 }' "$2"; }

"$ceon" server >"$tmp/s_plain" 2>/dev/null & pids+=($!)
"$ceon" server tls "$tmp/key.pem" >"$tmp/s_tls" 2>/dev/null & pids+=($!)
wait_line "$tmp/s_plain"; sleep 0.2
until [ "$(wc -l <"$tmp/s_tls")" -ge 2 ]; do sleep 0.05; done
plain_port=$(head -1 "$tmp/s_plain")
tls_uri=$(sed -n 2p "$tmp/s_tls")

"$ceon" bench "capnp://insecure@127.0.0.1:$plain_port/c3Zj" "$n" >"$tmp/ours_plain"
"$ceon" bench "$tls_uri" "$n" >"$tmp/ours_tls"

have_cxx=0
if [ -x "$peer" ]; then
  "$peer" server >"$tmp/s_cxx" 2>/dev/null & pids+=($!)
  wait_line "$tmp/s_cxx"
  "$peer" bench "$(head -1 "$tmp/s_cxx")" svc "$n" >"$tmp/cxx_plain"
  have_cxx=1
fi

printf '%-46s %14s %14s %8s\n' "rpc (N=$n, loopback)" "ceon" "C++ capnp" "ratio"
for k in roundtrip_per_s pipelined_per_s; do
  o=$(val $k "$tmp/ours_plain")
  if [ $have_cxx = 1 ]; then
    c=$(val $k "$tmp/cxx_plain")
    printf '%-46s %14s %14s %8s\n' "plain TCP $k" "$o" "$c" "$(awk -v a="$o" -v b="$c" 'BEGIN{printf "%.2f", a/b}')"
  else
    printf '%-46s %14s %14s\n' "plain TCP $k" "$o" "-"
  fi
done
# Client CPU time per call (user + system, from getrusage): on a busy machine
# the rates above mostly measure scheduling delays; this does not.
for k in roundtrip_client_cpu_us pipelined_client_cpu_us; do
  o=$(val $k "$tmp/ours_plain")
  if [ $have_cxx = 1 ]; then
    c=$(val $k "$tmp/cxx_plain")
    printf '%-46s %14s %14s %8s\n' "plain TCP $k (lower=better)" "$o" "$c" "$(awk -v a="$o" -v b="$c" 'BEGIN{printf "%.2f", b/a}')"
  fi
done
# Setup: best of 7 fresh client processes (the machine may be busy).
best_setup() { # command...
  local best=""
  for _ in 1 2 3 4 5 6 7; do
    v=$("$@" | awk '$1 == "setup_ms" { print $2 }')
    best=$(awk -v a="$best" -v b="$v" 'BEGIN { if (a == "" || b + 0 < a + 0) print b; else print a }')
  done
  echo "$best"
}
o=$(best_setup "$ceon" bench "capnp://insecure@127.0.0.1:$plain_port/c3Zj" 1)
tls_setup=$(best_setup "$ceon" bench "$tls_uri" 1)
if [ $have_cxx = 1 ]; then
  c=$(best_setup "$peer" bench "$(head -1 "$tmp/s_cxx")" svc 1)
  printf '%-46s %14s %14s %8s\n' "plain TCP setup_ms (lower=better)" "$o" "$c" "$(awk -v a="$o" -v b="$c" 'BEGIN{printf "%.2f", b/a}')"
fi
for k in roundtrip_per_s pipelined_per_s; do
  printf '%-46s %14s %14s\n' "TLS $k" "$(val $k "$tmp/ours_tls")" "(no kj-tls)"
done
printf '%-46s %14s %14s\n' "TLS setup_ms" "$tls_setup" "(no kj-tls)"
