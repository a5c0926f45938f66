#!/usr/bin/env bash
# A ceon secondary fed by the ORIGINAL's primary semantics (issue 14):
# tests/interop/eon_primary_peer (the C++ reference library, plain TCP)
# behaves as eon's primary.ml: Persistent.save on the secondary while its
# registerSeconday call is pending, update([], [remove apex SOA]), then ONE
# update with every record as a single-value add (names descending, SOA
# last), then forwards updates as eon's updateSecondaries does. The same
# zone is served from a zone file by a reference capd ("ref"); the
# secondary's sorted AXFR must equal ref's:
#  - after the transfer (SOA included: eon's serial is newer, kept);
#  - after forwarded updates (applied to ref with capc; SOA left out: the
#    peer's serial is its own), an add, a remove of an RRset, a removeAll;
#  - a name outside the zone forwarded by the peer is refused by the
#    secondary (the peer logs the error) and not served;
#  - the secondary restarted registers again (the peer, as eon, overwrites
#    <host>.cap and keeps the stale entry), transferred again, equal again;
#  - the same with the SOA first among the apex's operations (--soa-first).
# Usage: replication_eon.sh CAPD CAPC EON_PRIMARY_PEER
CAPD=$1 CAPC=$2 PEER=$3
. "$(dirname "$0")/eon_lib.sh"
. "$(dirname "$0")/replication_lib.sh"
export LC_ALL=C
zone=orig.test
[ -x "$PEER" ] || die "missing $PEER"

cat >"$work/orig.test.zone" <<'ZONE'
$ORIGIN orig.test.
@                300 IN SOA  ns1 hostmaster 2026120501 3600 900 1814400 300
@               3600 IN NS   ns1
@               3600 IN NS   ns2
@               3600 IN A    203.0.113.1
@               3600 IN MX   10 mail
@                600 IN TXT  "v=spf1 -all"
ns1             3600 IN A    192.0.2.1
ns2             3600 IN A    192.0.2.2
mail            3600 IN A    192.0.2.25
mail            3600 IN AAAA 2001:db8::25
www              300 IN A    192.0.2.80
www              300 IN A    192.0.2.81
www              300 IN AAAA 2001:db8::80
ftp              300 IN CNAME www
a.b.deep          60 IN A    192.0.2.9
_acme-challenge   60 IN TXT  "original-primary"
zz                60 IN TXT  "zz"
ZONE
start_primary ref "$work/orig.test.zone"
root_cap=$work/ref.cap
cp "$work/ref/state/caps/domain/$zone.cap" "$root_cap"

peer_pids=()
stop_peers() { for p in "${peer_pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; }
trap 'rc=$?; stop_all_nodes; stop_peers; (exit $rc); cleanup' EXIT

# start_peer NAME [--soa-first]: the peer, commands from the FIFO $work/NAME.cmd (fd 7 or 8).
start_peer() {
  local n=$1
  shift
  mkdir -p "$work/$n-secondaries"
  mkfifo "$work/$n.cmd"
  "$PEER" "$zone" "$work/$n.uri" "$work/$n-secondaries" "$@" <"$work/$n.cmd" >"$work/$n.out" 2>"$work/$n.err" &
  peer_pids+=($!)
}
# peer_wait NAME PATTERN COUNT: until the peer printed COUNT lines matching PATTERN (30 s).
peer_wait() {
  for _ in $(seq 300); do
    [ "$(grep -c -- "$2" "$work/$1.out")" -ge "$3" ] && return 0
    sleep 0.1
  done
  die "peer $1: no ${3}th '$2' line; it printed: $(cat "$work/$1.out" "$work/$1.err")"
}
# equal_to_ref WHAT NODE [nosoa]: NODE's AXFR equals ref's (without the SOA if asked).
equal_to_ref() {
  local want got filt=cat
  [ "${3:-}" = nosoa ] && filt="grep -v IN.SOA"
  for _ in $(seq 100); do
    want=$(axfr ref | $filt)
    got=$(axfr "$2" | $filt)
    [ "$want" = "$got" ] && return 0
    sleep 0.1
  done
  die "$1: $2 differs from the zone file (< ref, > $2): $(diff <(printf '%s\n' "$want") <(printf '%s\n' "$got") | head -20)"
}

start_peer peer
exec 7>"$work/peer.cmd"
peer_wait peer listening 1
[ -s "$work/peer.uri" ] || die "the peer wrote no sturdy ref"
start_secondary s1 "$work/peer.uri"
peer_wait peer "^transferred 17 records" 1
wait_answer s1 www.$zone A 192.0.2.81
equal_to_ref "eon's transfer" s1
st=$(nstatus s1 "$zone" SOA)
[ "$st" = "NOERROR aa 1" ] || die "s1's SOA: want NOERROR aa 1, got $st"
[ "$(nserial s1)" = 2026120501 ] || die "s1's serial $(nserial s1), want the peer's 2026120501"
grep -q "^registered capnp://.*@127.0.0.1:$((node_port[s1] + 1))/" "$work/peer.out" ||
  die "Persistent.save on the secondary answered during registration: $(cat "$work/peer.out")"
[ -s "$work/peer-secondaries/127.0.0.1.cap" ] || die "the peer stored the secondary as eon does (<host>.cap)"
ok "eon's transfer (remove SOA; one update, names descending, SOA last) accepted: AA, AXFR equals the zone file"

# Forwarded updates, eon's updateSecondaries, mirrored on ref with capc.
serial1=$(nserial s1)
printf 'add|fwd.%s|A|192.0.2.50|60\nsend\n' "$zone" >&7
peer_wait peer "^forwarded 1/1" 1
expect_ok "ref: fwd" update "$root_cap" -u "add|fwd.$zone|A|192.0.2.50|60"
wait_answer s1 fwd.$zone A 192.0.2.50
printf 'remove|www.%s|A\nadd|note.%s|TXT|forwarded by eon|120\nremoveAll|a.b.deep.%s\nsend\n' "$zone" "$zone" "$zone" >&7
peer_wait peer "^forwarded 1/1" 2
expect_ok "ref: batch" update "$root_cap" -u "remove|www.$zone|A" -u "add|note.$zone|TXT|forwarded by eon|120" \
  -u "remove|a.b.deep.$zone"
equal_to_ref "forwarded updates" s1 nosoa
[ "$(nserial s1)" != "$serial1" ] || die "s1's serial did not move with forwarded updates ($serial1)"
ok "updates forwarded as eon's updateSecondaries (add, remove RRset, removeAll) applied; serial $serial1 -> $(nserial s1)"

printf 'add|evil.example.com|A|192.0.2.66|60\nsend\n' >&7
peer_wait peer "^forwarded 0/1" 1
grep -q "^secondary 0: " "$work/peer.out" || die "the peer saw the secondary's refusal: $(cat "$work/peer.out")"
[ -z "$(nq s1 evil.example.com A)" ] || die "s1 serves a name outside its zone"
equal_to_ref "after a refused forward" s1 nosoa
ok "a forwarded name outside the zone is refused by the secondary ($(grep '^secondary 0: ' "$work/peer.out" | head -1 | cut -c1-80))"

# The secondary restarts: it registers again, eon's primary transfers again.
stop_node s1 TERM
start_secondary s1 "$work/peer.uri"
peer_wait peer "^transferred " 2
printf 'count\n' >&7
peer_wait peer "^secondaries 2" 1
[ "$(ls "$work/peer-secondaries" | grep -c '\.cap$')" = 1 ] || die "the peer keeps one <host>.cap: $(ls "$work/peer-secondaries")"
# The peer's own zone took the forwarded updates: the new transfer holds them.
equal_to_ref "second transfer after a restart" s1 nosoa
printf 'add|again.%s|A|192.0.2.51|60\nsend\n' "$zone" >&7
peer_wait peer "^forwarded 1/2" 1
expect_ok "ref: again" update "$root_cap" -u "add|again.$zone|A|192.0.2.51|60"
wait_answer s1 again.$zone A 192.0.2.51
equal_to_ref "forwarded after the restart" s1 nosoa
ok "s1 restarted: registered again, transferred again (equal), follows forwarded updates (the stale entry fails, as in eon)"

# The SOA first among the apex operations: accepted as well.
start_peer peer2 --soa-first
exec 8>"$work/peer2.cmd"
peer_wait peer2 listening 1
start_secondary s2 "$work/peer2.uri"
peer_wait peer2 "^transferred 17 records" 1
wait_answer s2 www.$zone A 192.0.2.81
[ "$(nserial s2)" = 2026120501 ] || die "s2's serial $(nserial s2), want 2026120501"
[ "$(nstatus s2 a.b.deep.$zone A)" = "NOERROR aa 1" ] || die "s2: a.b.deep.$zone A: $(nstatus s2 a.b.deep.$zone A)"
ok "a transfer with the SOA first among the apex operations is accepted too"

exec 7>&- 8>&-
stop_node s2 TERM
stop_node s1 TERM
stop_node ref TERM
stop_peers
check_no_sanitizer "peer" "$work/peer.err" "$work/peer2.err"
finish replication_eon
