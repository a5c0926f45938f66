#!/usr/bin/env bash
# Type IDs of ceon's schemas: the values the original eon uses (issue 3)
# must be what the reference compiler derives (`capnp compile -ocapnp`)
# and what the generated constants say.
#   ids.sh SOURCE_ROOT
set -uo pipefail
root=$1
cd "$root" || exit 1
command -v capnp >/dev/null || { echo "capnp not installed"; exit 77; }
fail=0
check() { # file name expected-id header
  local file=$1 name=$2 want=$3 hdr=$4 got gen
  got=$(capnp compile -ocapnp "$file" | sed -n "s/^\(struct\|interface\|enum\) $name @\(0x[0-9a-f]*\) .*/\2/p")
  [ "$name" = FILE ] && got=$(capnp compile -ocapnp "$file" | sed -n 's/^@\(0x[0-9a-f]*\);$/\1/p' | head -1)
  local macro=${hdr%%.*}_${name}_ID
  [ "$name" = FILE ] && macro=${hdr%%.*}_FILE_ID
  gen=$(sed -n "s/^#define $macro \(0x[0-9a-f]*\)ULL$/\1/p" "src/eon/gen/$hdr")
  if [ "$got" != "$want" ] || [ "$gen" != "$want" ]; then
    echo "FAIL $file $name: want $want, compiler says '$got', generated '$gen'"; fail=1
  else
    echo "ok $name $want"
  fi
}
check schema/eon.capnp FILE 0xf8f86fb5561e3599 eon.capnp.h
check schema/eon.capnp Prereq 0xac257b5ed3160a2d eon.capnp.h
check schema/eon.capnp Update 0xeb5206d1b565ca1f eon.capnp.h
check schema/eon.capnp CertReq 0xa1b1ad5d55bfad09 eon.capnp.h
check schema/eon.capnp Domain 0xdebb01f25d5fee15 eon.capnp.h
check schema/eon.capnp Primary 0xd37fcabed0f61fca eon.capnp.h
check schema/eon.capnp Secondary 0x88493aa33efcf56f eon.capnp.h
check schema/eon.capnp CertCallback 0xd5f124a841c034cf eon.capnp.h
check schema/store.capnp FILE 0x8c940eaf41b95341 store.capnp.h
exit $fail
