#!/usr/bin/env bash
# The committed generated code must be exactly what capnpc-c produces now.
#   gen.sh BUILD_DIR SOURCE_ROOT
set -uo pipefail
build=$1 root=$2
command -v capnp >/dev/null || { echo "capnp not installed"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$root/tools/capnp-gen.sh" "$build" "$tmp" || exit 1
fail=0 n=0
for f in $(cd "$tmp" && find . -type f | sort); do
  n=$((n + 1))
  if ! cmp -s "$tmp/$f" "$root/$f"; then
    echo "FAIL: $f differs from a fresh generation (run make gen and commit)"
    diff -u "$root/$f" "$tmp/$f" | head -20
    fail=1
  fi
done
[ "$n" -ge 10 ] || { echo "FAIL: only $n files generated"; fail=1; }
echo "$n generated files checked"
exit $fail
