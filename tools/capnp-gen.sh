#!/usr/bin/env bash
# Regenerates the committed Cap'n Proto C code with capnpc-c (make gen).
#   tools/capnp-gen.sh BUILD_DIR [OUT_ROOT]
# BUILD_DIR holds the built plugin (tools/capnpc-c/capnpc-c). OUT_ROOT
# defaults to the repository; tests pass a temporary directory and compare.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$1" && pwd)
out=${2:-$root}
plugin="$build/tools/capnpc-c/capnpc-c"
[ -x "$plugin" ] || { echo "capnp-gen: $plugin not built" >&2; exit 1; }
inc=/usr/include
[ -f "$inc/capnp/rpc.capnp" ] || { echo "capnp-gen: $inc/capnp/rpc.capnp missing (install libcapnp-dev)" >&2; exit 1; }

gen() {
  local dir=$1
  shift
  mkdir -p "$out/$dir"
  (cd "$root" && capnp compile -I"$inc" "$@" -o"$plugin:$out/$dir")
}
gen tools/capnpc-c/gen --src-prefix="$inc" "$inc/capnp/schema.capnp"
gen src/rpc/gen --src-prefix="$inc" "$inc/capnp/rpc.capnp" "$inc/capnp/persistent.capnp"
gen src/eon/gen schema/eon.capnp schema/store.capnp
gen tests/unit/capnp/gen tests/unit/capnp/test.capnp tests/unit/capnp/test_import.capnp
