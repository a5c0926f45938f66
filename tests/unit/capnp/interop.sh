#!/usr/bin/env bash
# Round trips against the reference implementation (Debian `capnproto`):
# for each data/CASE.txt,
#   1. `capnp encode` it and let our reader check every value (interop check),
#   2. encode it with our builder (interop build) and require the same bytes
#      as the reference and the same `capnp decode` output.
#   interop.sh INTEROP_BINARY SOURCE_ROOT
set -uo pipefail
bin=$1 root=$2
command -v capnp >/dev/null || { echo "capnp (package capnproto) not installed"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0 n=0
for txt in "$root"/tests/unit/capnp/data/*.txt; do
  name=$(basename "$txt" .txt)
  case $name in
    all_*) schema=tests/unit/capnp/test.capnp type=All ;;
    defaults_*) schema=tests/unit/capnp/test.capnp type=Defaults ;;
    prereq_*) schema=schema/eon.capnp type=Prereq ;;
    update_*) schema=schema/eon.capnp type=Update ;;
    certreq_*) schema=schema/eon.capnp type=CertReq ;;
    saveddomain) schema=schema/store.capnp type=SavedDomain ;;
    savedsecondary) schema=schema/store.capnp type=SavedSecondary ;;
    savedservice_*) schema=schema/store.capnp type=SavedService ;;
    rpc_*) schema=/usr/include/capnp/rpc.capnp type=Message ;;
    *) echo "no schema for $name"; fail=1; continue ;;
  esac
  n=$((n + 1))
  cd "$root"
  if ! capnp encode -I/usr/include "$schema" "$type" <"$txt" >"$tmp/ref.bin"; then
    echo "FAIL $name: capnp encode rejected the test data"; fail=1; continue
  fi
  if ! "$bin" check "$name" <"$tmp/ref.bin"; then
    echo "FAIL $name: our reader disagrees with the reference encoding"; fail=1
  fi
  if ! "$bin" build "$name" >"$tmp/ours.bin"; then
    echo "FAIL $name: our builder failed"; fail=1; continue
  fi
  # Same field order, same allocation order: the bytes match exactly.
  if ! cmp -s "$tmp/ref.bin" "$tmp/ours.bin"; then
    echo "FAIL $name: our bytes differ from capnp encode's"; fail=1
  fi
  # Packed encoding: same bytes as the reference, and back.
  capnp encode --packed -I/usr/include "$schema" "$type" <"$txt" >"$tmp/ref.packed"
  if ! "$bin" pack <"$tmp/ref.bin" | cmp -s - "$tmp/ref.packed"; then
    echo "FAIL $name: our packing differs from capnp encode --packed"; fail=1
  fi
  if ! "$bin" unpack <"$tmp/ref.packed" | cmp -s - "$tmp/ref.bin"; then
    echo "FAIL $name: unpacking capnp's packed bytes does not give the message"; fail=1
  fi
  capnp decode -I/usr/include "$schema" "$type" <"$tmp/ref.bin" >"$tmp/ref.txt"
  if ! capnp decode -I/usr/include "$schema" "$type" <"$tmp/ours.bin" >"$tmp/ours.txt"; then
    echo "FAIL $name: capnp decode rejected our encoding"; fail=1; continue
  fi
  if ! diff -u "$tmp/ref.txt" "$tmp/ours.txt"; then
    echo "FAIL $name: our encoding decodes differently"; fail=1
  fi
done
# Fixtures written by the C++ library itself (for what the text format
# cannot express, such as AnyPointer content): our reader must accept them
# and our builder must produce the same bytes.
for fx in "$root"/tests/unit/capnp/data/*.bin; do
  name=$(basename "$fx" .bin)
  n=$((n + 1))
  if ! "$bin" check "$name" <"$fx"; then
    echo "FAIL $name: our reader disagrees with the libcapnp fixture"; fail=1
  fi
  if ! "$bin" build "$name" | cmp -s - "$fx"; then
    echo "FAIL $name: our encoding differs from libcapnp's bytes"; fail=1
  fi
done
echo "$n cases"
exit $fail
