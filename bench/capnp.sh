#!/usr/bin/env bash
# Cap'n Proto encoding: ceon's runtime + generated code vs the C++ library
# (libcapnp-dev), same machine, same run. Workload: a Domain.update request
# with N Update records (name, add = (type, 4-byte value, ttl)).
#   bench/capnp.sh [N] [ROUNDS]
# Times are the process's CPU time; each side runs 5 batches of ROUNDS and
# keeps its best batch (the machine may be shared). Prints microseconds per
# message for build+serialize and read+traverse, and the ratio ceon/C++
# (below 1 = ceon faster). Both sides must compute the same checksum.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-10000} rounds=${2:-40}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cflags="-O2 -DNDEBUG -std=c17 -D_GNU_SOURCE -I$root/src"
gcc $cflags -o "$tmp/bench_c" "$root/bench/capnp/bench_c.c" "$root"/src/capnp/{capnp,builder}.c \
  "$root/src/util/err.c"
capnp compile -I/usr/include --src-prefix="$root/schema" -oc++:"$tmp" "$root/schema/eon.capnp"
g++ -O2 -DNDEBUG -std=c++17 -I"$tmp" -o "$tmp/bench_cpp" "$root/bench/capnp/bench_cpp.cc" \
  "$tmp/eon.capnp.c++" $(pkg-config --cflags --libs capnp-rpc)
read -r cb cr clen csum < <("$tmp/bench_c" "$n" "$rounds")
read -r pb pr plen psum < <("$tmp/bench_cpp" "$n" "$rounds")
if [ "$csum" != "$psum" ]; then
  echo "checksums differ (ceon $csum, C++ $psum): not the same work" >&2
  exit 1
fi
echo "capnp: Update list of $n, $rounds rounds; message $clen bytes (ceon), $plen bytes (C++)"
printf '%-18s %12s %12s %10s\n' "" "ceon us/msg" "C++ us/msg" "ceon/C++"
printf '%-18s %12s %12s %10.2f\n' "build+serialize" "$cb" "$pb" "$(echo "$cb / $pb" | bc -l)"
printf '%-18s %12s %12s %10.2f\n' "read+traverse" "$cr" "$pr" "$(echo "$cr / $pr" | bc -l)"
