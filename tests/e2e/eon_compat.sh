#!/usr/bin/env bash
# eon_compat (issue 11): a state dir in the OCaml original's (eon's) layout,
# made here from eon's definitions with openssl and `capnp encode --flat`,
# works with capd and capc unchanged; what capd writes is what eon reads.
#   - eon's PKCS#8 RSA key, cap files with and without a trailing newline,
#     store entries as eon's file store writes them (one flat segment, 0644,
#     20-byte IDs; one without `primary`, as older eon saved them) and one in
#     the old ceon container: the domain, primary and delegated capabilities
#     all work with capc;
#   - the derived IDs of a mixed-case zone (from a zone file and from -a)
#     are the HMAC-SHA256 vectors computed here, and getName keeps the case;
#   - every store file capd writes decodes with
#     `capnp decode --flat schema/store.capnp SavedService` to what it should;
#   - capc's TXT values as eon means them, checked with dig;
#   - a relative unix: listen address is made absolute as eon does.
# Usage: eon_compat.sh CAPD CAPC
CAPD=$(realpath "$1") CAPC=$(realpath "$2")
. "$(dirname "$0")/eon_lib.sh"
schema_dir="$(cd "$(dirname "$0")/../../schema" && pwd)"

for tool in capnp openssl basenc sha256sum xxd; do
  command -v "$tool" >/dev/null || die "$tool not installed (make test-deps installs it)"
done

b64url() { basenc --base64url | tr -d '=\n'; }
# b64url_decode: base64url without padding -> bytes
b64url_decode() {
  local s=$1
  while [ $((${#s} % 4)) != 0 ]; do s="$s="; done
  printf '%s' "$s" | basenc --base64url -d
}
hex_of() { od -An -v -tx1 | tr -d ' \n'; }
# eon's derived service ID: HMAC-SHA256, key = SHA-256 of the key file's
# bytes, message = the name as written (capnp-rpc-unix Vat_config.derived_id).
derived_id() { printf '%s' "$1" | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$secret_hex" -binary | b64url; }
# store/<base64url(SHA-256(id))> (capnp-rpc-unix File_store + Restorer.Id.digest)
store_file() { printf '%s' "$1" | xxd -r -p | sha256sum | cut -d' ' -f1 | xxd -r -p | b64url; }
encode_flat() { printf '%s' "$1" | capnp encode --flat "$schema_dir/store.capnp" SavedService; }
decode_flat() { capnp decode --flat --short "$schema_dir/store.capnp" SavedService <"$1" 2>&1; }

# ---------------------------------------------------------------- fixture
mkdir -m 750 "$state" "$state/caps" "$state/caps/domain" "$state/caps/primary" \
  "$state/caps/secondary" "$state/store" || die "cannot make the fixture dirs"
key="$state/capnp-secret.pem"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$key" 2>/dev/null ||
  die "openssl genpkey failed"
chmod 600 "$key"
grep -q -- "-----BEGIN PRIVATE KEY-----" "$key" || die "the key is not PKCS#8 PEM"
secret_hex=$(sha256sum "$key" | cut -d' ' -f1)
fp=$(openssl pkey -in "$key" -pubout -outform DER | openssl dgst -sha256 -binary | b64url)
uri() { echo "capnp://sha-256:$fp@127.0.0.1:$cap_port/$1"; }

cat >"$work/mixed.zone" <<'ZONE'
$ORIGIN Mixed.Example.
$TTL 3600
@   IN SOA ns1 hostmaster 1 3600 900 1814400 3600
@   IN NS  ns1
ns1 IN A   127.0.0.1
www IN A   192.0.2.80
ZONE
zone=Mixed.Example
dom_id=$(derived_id "$zone")
pri_id=$(derived_id "primary_$zone")
other_id=$(derived_id "Other.TEST")
[ "$dom_id" != "$(derived_id mixed.example)" ] || die "vectors: case must change the ID"

# Cap files as eon's capd writes them (URI + newline) and without the newline.
mkdir "$work/eon"
uri "$dom_id" >"$work/eon/domain.cap"
printf '%s' "$(uri "$pri_id")" >"$work/eon/primary.cap"

# Saved services as eon's file store writes them: 20-byte random IDs.
new_id() { head -c 20 /dev/urandom | hex_of; }
save_eon() { # id_hex text
  local f="$state/store/$(store_file "$1")"
  encode_flat "$2" >"$f" || die "capnp encode --flat '$2'"
  chmod 644 "$f"
}
cap_of() { printf '%s' "$1" | xxd -r -p | b64url; }
id_www=$(new_id)
save_eon "$id_www" "(domain = (name = \"www.$zone\", primary = \"$zone\"))"
uri "$(cap_of "$id_www")" >"$work/eon/www.cap"
id_old=$(new_id)
save_eon "$id_old" "(domain = (name = \"old.$zone\"))" # older eon: no primary
printf '%s' "$(uri "$(cap_of "$id_old")")" >"$work/eon/old.cap"
# One in the container the previous ceon wrote: magic, SHA-256(id), a framed message.
id_legacy=$(new_id)
legacy="$state/store/$(store_file "$id_legacy")"
{
  printf 'ceonsvc1'
  printf '%s' "$id_legacy" | xxd -r -p | sha256sum | cut -d' ' -f1 | xxd -r -p
  printf '(domain = (name = "legacy.mixed.example", primary = "mixed.example"))' |
    capnp encode "$schema_dir/store.capnp" SavedService
} >"$legacy" || die "cannot write the old ceon store file"
uri "$(cap_of "$id_legacy")" >"$work/eon/legacy.cap"
ok "fixture: eon's layout, PKCS#8 key, 3 store entries, 4 cap files"

# ---------------------------------------------------------------- capd on it
start_capd -z "$work/mixed.zone" -a Other.TEST || die "capd did not start on eon's state dir"
for kind in domain primary; do
  [ -s "$state/caps/$kind/$zone.cap" ] || die "no caps/$kind/$zone.cap (the name as written)"
done
[ "$(cat "$state/caps/domain/$zone.cap")" = "$(uri "$dom_id")" ] ||
  die "domain URI $(cat "$state/caps/domain/$zone.cap"), want $(uri "$dom_id")"
[ "$(cat "$state/caps/primary/$zone.cap")" = "$(uri "$pri_id")" ] ||
  die "primary URI $(cat "$state/caps/primary/$zone.cap"), want $(uri "$pri_id")"
[ "$(cat "$state/caps/domain/Other.TEST.cap")" = "$(uri "$other_id")" ] ||
  die "-a Other.TEST: URI $(cat "$state/caps/domain/Other.TEST.cap"), want $(uri "$other_id")"
ok "mixed-case zones: derived IDs = HMAC-SHA256 vectors (zone file and -a), files named as written"

expect_ok "get-name, eon's domain cap file (newline)" get-name "$work/eon/domain.cap"
[ "$last_out" = "$zone" ] || die "get-name: '$last_out', want $zone"
expect_ok "get-name, eon's primary cap file (no newline)" get-name "$work/eon/primary.cap"
[ "$last_out" = "$zone" ] || die "get-name on the primary: '$last_out', want $zone"
ok "domain and primary capabilities from eon's cap files: getName keeps the case"

expect_ok "update through eon's domain cap" update "$work/eon/domain.cap" \
  -u "add|www2.$zone|A|192.0.2.2|300"
[ "$(q "www2.$zone" A)" = 192.0.2.2 ] || die "www2.$zone A after the update"
ok "update through the zone's domain capability"

expect_ok "get-name, delegated (eon store)" get-name "$work/eon/www.cap"
[ "$last_out" = "www.$zone" ] || die "delegated get-name: '$last_out'"
expect_ok "update, delegated (eon store)" update "$work/eon/www.cap" -u "add|www.$zone|TXT|delegated|60"
[ "$(q "www.$zone" TXT)" = '"delegated"' ] || die "www.$zone TXT: $(q "www.$zone" TXT)"
expect_fail "delegated cap stays in its subtree" "is outside" update "$work/eon/www.cap" \
  -u "add|ns1.$zone|TXT|outside|60"
expect_ok "get-name, older eon's record (no primary)" get-name "$work/eon/old.cap"
[ "$last_out" = "old.$zone" ] || die "older record get-name: '$last_out'"
expect_ok "update, older eon's record" update "$work/eon/old.cap" -u "add|old.$zone|A|192.0.2.3|60"
[ "$(q "old.$zone" A)" = 192.0.2.3 ] || die "old.$zone A after the update"
ok "delegated capabilities from eon's store (with and without primary) work"

expect_ok "get-name, old ceon store file" get-name "$work/eon/legacy.cap"
[ "$last_out" = "legacy.mixed.example" ] || die "old ceon record get-name: '$last_out'"
[ "$(decode_flat "$legacy")" = '(domain = (name = "legacy.mixed.example", primary = "mixed.example"))' ] ||
  die "the old ceon store file was not rewritten in eon's format: $(decode_flat "$legacy")"
ok "old ceon store file converted to eon's format, its capability works"

# ---------------------------------------------------------------- the reverse
mkdir "$work/deleg"
expect_ok "delegate" delegate "$state/caps/domain/$zone.cap" Sub --cap-dir "$work/deleg"
dcap="$work/deleg/Sub.$zone.cap"
[ -s "$dcap" ] || die "no $dcap"
did=$(sed 's|.*/||' "$dcap")
dfile="$state/store/$(store_file "$(b64url_decode "$did" | hex_of)")"
[ -f "$dfile" ] || die "delegate: no store file $dfile (base64url(SHA-256(id)))"
want="(domain = (name = \"Sub.$zone\", primary = \"$zone\"))"
[ "$(decode_flat "$dfile")" = "$want" ] || die "delegate's store file decodes to $(decode_flat "$dfile")"
cmp -s "$dfile" <(encode_flat "$want") || die "delegate's store file is not exactly capnp encode --flat"
[ "$(stat -c %a "$dfile")" = 600 ] || die "store file mode $(stat -c %a "$dfile")"
n=0
for f in "$state"/store/*; do
  out=$(decode_flat "$f") || die "capnp decode --flat $f: $out"
  case $out in
    "(domain = (name = \"www.$zone\", primary = \"$zone\"))" | "(domain = (name = \"old.$zone\"))" | \
      "(domain = (name = \"legacy.mixed.example\", primary = \"mixed.example\"))" | "$want") ;;
    *) die "store file $f decodes to unexpected $out" ;;
  esac
  n=$((n + 1))
done
[ "$n" = 4 ] || die "store holds $n files, want 4"
for d in "$state" "$state/caps" "$state/caps/domain" "$state/store"; do
  [ "$(stat -c %a "$d")" = 750 ] || die "$d: mode $(stat -c %a "$d"), want eon's 750"
done
expect_ok "the delegated capability" update "$dcap" -u "add|Sub.$zone|A|192.0.2.4|60"
[ "$(q "sub.$zone" A)" = 192.0.2.4 ] || die "Sub.$zone A"
ok "every store file decodes with capnp decode --flat; capd's own = capnp encode --flat"

# ---------------------------------------------------------------- TXT values
txt_case() { # what name value want
  expect_ok "TXT $1" update "$state/caps/domain/$zone.cap" -u "add|$2.$zone|TXT|$3|60"
  local got
  got=$(q "$2.$zone" TXT)
  [ "$got" = "$4" ] || die "TXT $1: dig shows $got, want $4"
}
txt_case "unquoted with spaces" t1 'v=spf1 -all' '"v=spf1 -all"'
txt_case "unquoted with ;" t2 'a; b' '"a; b"'
txt_case "quoted single" t3 '"v=DMARC1; p=none"' '"v=DMARC1; p=none"'
txt_case "quoted multiple" t4 '"one" "two"' '"one" "two"'
txt_case "escapes" t5 '"a\"b" "c\\d" "\065"' '"a\"b" "c\\d" "A"'
txt_case "unquoted with quotes inside" t6 'say "hi"' '"say \"hi\""'
expect_ok "remove one unquoted TXT" update "$state/caps/domain/$zone.cap" -u "remove|t1.$zone|TXT|v=spf1 -all"
expect_nx "t1.$zone" TXT "the unquoted TXT removed by its value"
ok "TXT: unquoted = one verbatim string, quoted = presentation format (dig)"

# ---------------------------------------------------------------- unix: relative
stop_capd TERM
(cd "$work" && exec "$CAPD" -z "$work/example.org" -z "$work/mixed.zone" --capnp-secret-key-file "$key" \
  --capnp-listen-address unix:cap.sock --state-dir "$state" -b 127.0.0.1 -p "$dns_port" -l 1 \
  ${EON_TEST_CAPD_ARGS:-}) >>"$work/capd.log" 2>&1 &
capd_pid=$!
want_unix="capnp://sha-256:$fp@$work/cap.sock/$dom_id"
for _ in $(seq 200); do
  [ "$(cat "$state/caps/domain/$zone.cap" 2>/dev/null)" = "$want_unix" ] && break
  kill -0 "$capd_pid" 2>/dev/null || { capd_pid=""; die "capd refused unix:cap.sock"; }
  sleep 0.05
done
[ "$(cat "$state/caps/domain/$zone.cap")" = "$want_unix" ] ||
  die "unix:cap.sock: URI $(cat "$state/caps/domain/$zone.cap"), want $want_unix"
expect_ok "get-name over the unix socket" get-name "$state/caps/domain/$zone.cap"
[ "$last_out" = "$zone" ] || die "get-name over unix: '$last_out'"
ok "unix:cap.sock (relative) made absolute as eon does: $work/cap.sock"

finish eon_compat
