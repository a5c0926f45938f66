#!/usr/bin/env bash
# Every prerequisite and update kind of Domain.update through capc, checked
# with dig, including the failure cases and their exact error text.
#   updates.sh CAPD CAPC
CAPD=$1 CAPC=$2
. "$(dirname "$0")/eon_lib.sh"

start_capd || die "capd starts"
cd "$work" || exit 1
cp "$state/caps/domain/example.org.cap" root.cap
expect_ok "delegate" delegate root.cap test
[ "$last_out" = "Wrote capability to test.example.org.cap" ] || die "delegate output: $last_out"
t=test.example.org.cap
ok "setup: capd, root and delegated capabilities"

s0=$(serial)
# ---- add
expect_ok "add A" update $t -u 'add|test.example.org|A|192.0.2.1|3600'
[ "$(q test.example.org A)" = 192.0.2.1 ] || die "add A visible"
s1=$(serial)
[ "$s1" = $((s0 + 1)) ] || die "SOA serial incremented once ($s0 -> $s1)"
expect_ok "add two in one update" update $t -u 'add|test.example.org|A|192.0.2.2|3600' \
  -u 'add|test.example.org|AAAA|2001:db8::1|600'
[ "$(q test.example.org A | sort | tr '\n' ' ')" = "192.0.2.1 192.0.2.2 " ] || die "two A records"
[ "$(q test.example.org AAAA)" = 2001:db8::1 ] || die "AAAA added"
[ "$(serial)" = $((s1 + 1)) ] || die "one serial step for a two-record update"
ok "add A/AAAA, SOA serial +1 per update"

expect_ok "duplicate add" update $t -u 'add|test.example.org|A|192.0.2.1|3600'
[ "$(q test.example.org A | wc -l)" = 2 ] || die "duplicate add ignored"
expect_ok "add with new TTL" update $t -u 'add|test.example.org|A|192.0.2.3|120'
[ "$(qa test.example.org A | awk '{print $2}' | sort -u)" = 120 ] || die "RRset TTL updated to 120: $(qa test.example.org A)"
ok "duplicate add ignored; adding to an RRset updates its TTL"

expect_ok "add MX" update test.example.org.cap -u 'add|test.example.org|MX|10 mail.test.example.org.|3600'
[ "$(q test.example.org MX)" = "10 mail.test.example.org." ] || die "MX: $(q test.example.org MX)"
expect_ok "add TXT" update $t -u 'add|_dmarc.test.example.org|TXT|"v=DMARC1; p=none"|300'
[ "$(q _dmarc.test.example.org TXT)" = '"v=DMARC1; p=none"' ] || die "TXT: $(q _dmarc.test.example.org TXT)"
expect_ok "add TXT with |" update $t -u 'add|pipe.test.example.org|TXT|"a|b" "c"|300'
[ "$(q pipe.test.example.org TXT)" = '"a|b" "c"' ] || die "TXT with |: $(q pipe.test.example.org TXT)"
expect_ok "add SRV" update $t -u 'add|_sip._tcp.test.example.org|SRV|0 5 5060 sip.test.example.org.|60'
[ "$(q _sip._tcp.test.example.org SRV)" = "0 5 5060 sip.test.example.org." ] || die "SRV"
expect_ok "add CAA" update $t -u 'add|test.example.org|CAA|0 issue "letsencrypt.org"|60'
[ "$(q test.example.org CAA)" = '0 issue "letsencrypt.org"' ] || die "CAA: $(q test.example.org CAA)"
ok "add MX, TXT (with ; and |), SRV, CAA in presentation format"

# ---- prerequisites that hold
expect_ok "exists" update $t -p 'exists|test.example.org|A' -u 'add|p1.test.example.org|A|192.0.2.11|60'
[ "$(q p1.test.example.org A)" = 192.0.2.11 ] || die "exists prereq held"
expect_ok "exists data" update $t -p 'exists|_dmarc.test.example.org|TXT|"v=DMARC1; p=none"' \
  -u 'add|p2.test.example.org|A|192.0.2.12|60'
[ "$(q p2.test.example.org A)" = 192.0.2.12 ] || die "exists-data prereq held"
expect_ok "not-exists" update $t -p 'not-exists|test.example.org|CNAME' -u 'add|p3.test.example.org|A|192.0.2.13|60'
[ "$(q p3.test.example.org A)" = 192.0.2.13 ] || die "not-exists prereq held"
expect_ok "name-inuse" update $t -p 'name-inuse|p3.test.example.org' -u 'add|p4.test.example.org|A|192.0.2.14|60'
[ "$(q p4.test.example.org A)" = 192.0.2.14 ] || die "name-inuse prereq held"
expect_ok "not-name-inuse" update $t -p 'not-name-inuse|free.test.example.org' -u 'add|free.test.example.org|A|192.0.2.15|60'
[ "$(q free.test.example.org A)" = 192.0.2.15 ] || die "not-name-inuse prereq held"
ok "prerequisites exists, exists-with-value, not-exists, name-inuse, not-name-inuse that hold"

# ---- prerequisites that fail: nothing changes
s=$(serial)
expect_fail "exists fails" "prerequisite failed: nothing.test.example.org A does not exist" update $t -p 'exists|nothing.test.example.org|A' -u 'add|f1.test.example.org|A|192.0.2.21|60'
expect_fail "exists data fails" "prerequisite failed: test.example.org A differs from the given records" update $t -p 'exists|test.example.org|A|192.0.2.99' -u 'add|f2.test.example.org|A|192.0.2.22|60'
expect_fail "not-exists fails" "prerequisite failed: test.example.org A exists" update $t -p 'not-exists|test.example.org|A' -u 'add|f3.test.example.org|A|192.0.2.23|60'
expect_fail "name-inuse fails" "prerequisite failed: name nothing.test.example.org is not in use" update $t -p 'name-inuse|nothing.test.example.org' -u 'add|f4.test.example.org|A|192.0.2.24|60'
expect_fail "not-name-inuse fails" "prerequisite failed: name test.example.org is in use" update $t -p 'not-name-inuse|test.example.org' -u 'add|f5.test.example.org|A|192.0.2.25|60'
for i in 1 2 3 4 5; do expect_nx f$i.test.example.org A "failed prereq $i applied nothing"; done
[ "$(serial)" = "$s" ] || die "failed prerequisites leave the serial alone"
ok "failing prerequisites of each kind: exit 1, error text, nothing applied"

# ---- removals
expect_ok "remove single" update $t -u 'remove|test.example.org|A|192.0.2.2'
[ "$(q test.example.org A | sort | tr '\n' ' ')" = "192.0.2.1 192.0.2.3 " ] || die "remove one RR: $(q test.example.org A)"
expect_ok "remove rrset" update $t -u 'remove|test.example.org|A'
expect_nodata test.example.org A "remove RRset"
[ "$(q test.example.org AAAA)" = 2001:db8::1 ] || die "remove RRset keeps other types"
expect_ok "remove name" update $t -u 'remove|test.example.org'
for ty in AAAA MX CAA; do expect_nodata test.example.org $ty "remove all RRsets at a name (names below keep it an empty non-terminal)"; done
[ "$(q p1.test.example.org A)" = 192.0.2.11 ] || die "remove name leaves names below it"
ok "remove one RR, one RRset, all RRsets at a name"

# ---- confinement, atomicity, malformed data, apex protection
s=$(serial)
expect_fail "outside" "evil.example.org is outside test.example.org" update $t -u 'add|evil.example.org|A|192.0.2.66|60'
expect_fail "outside, second of two" "name example.org is outside test.example.org" update $t -u 'add|ok.test.example.org|A|192.0.2.31|60' -u 'add|example.org|A|192.0.2.32|60'
expect_fail "prereq outside" "outside" update $t -p 'exists|example.org|A' -u 'add|ok.test.example.org|A|192.0.2.31|60'
expect_nx evil.example.org A "out-of-subtree update changes nothing"
expect_nx ok.test.example.org A "refused update applies none of its records"
[ "$(q example.org A)" = 203.0.113.0 ] || die "apex A untouched"
expect_fail "sibling prefix" "outside" update $t -u 'add|xtest.example.org|A|192.0.2.33|60'
[ "$(serial)" = "$s" ] || die "refused updates leave the serial alone"
ok "names outside the capability's domain refused, nothing applied"

expect_fail "client-side malformed" "192.0.2" update $t -u 'add|m.test.example.org|A|192.0.2|60'
expect_fail "unknown type" "FOO" update $t -u 'add|m.test.example.org|FOO|1|60'
expect_fail "server-side malformed" "malformed RDATA for A at m.test.example.org" update $t -u 'add|m.test.example.org|A|\# 3 010203|60'
expect_nx m.test.example.org A "malformed records are not added"
expect_fail "bad ttl" "TTL" update $t -u 'add|m.test.example.org|A|192.0.2.1|soon'
expect_fail "bad syntax" "expected" update $t -u 'put|m.test.example.org|A|192.0.2.1|60'
ok "malformed values, unknown types and bad syntax refused with a clear error"

expect_fail "apex SOA" "cannot remove the apex SOA of example.org" update root.cap -u 'remove|example.org|SOA'
q example.org SOA | grep -q . || die "apex SOA still served"
expect_ok "remove apex name" update root.cap -u 'remove|example.org'
expect_nodata example.org A "remove|apex removes the apex A"
q example.org SOA | grep -q . && q example.org NS | grep -q . || die "remove|apex keeps SOA and NS"
expect_fail "apex NS" "cannot remove the NS records at the apex of example.org" update root.cap -u 'remove|example.org|NS'
expect_fail "last apex NS" "cannot remove the last NS record at the apex of example.org" update root.cap -u 'remove|example.org|NS|ns1.example.org.'
[ "$(q example.org NS)" = ns1.example.org. ] || die "apex NS kept: $(q example.org NS)"
ok "apex SOA and NS never removed, with exact errors"

expect_ok "cname add" update $t -u 'add|alias.test.example.org|CNAME|www.example.org.|60'
[ "$(q alias.test.example.org CNAME)" = www.example.org. ] || die "CNAME added"
expect_fail "cname next to data" "cannot add CNAME at p1.test.example.org: the name has other records" update $t -u 'add|p1.test.example.org|CNAME|www.example.org.|60'
expect_fail "data next to cname" "cannot add A at alias.test.example.org: the name has a CNAME" update $t -u 'add|alias.test.example.org|A|192.0.2.9|60'
[ "$(q p1.test.example.org A)" = 192.0.2.11 ] || die "CNAME conflict changed nothing"
expect_ok "root cap reaches below" update root.cap -u 'add|deep.test.example.org|A|192.0.2.40|60'
[ "$(q deep.test.example.org A)" = 192.0.2.40 ] || die "root capability updates the subtree"
ok "CNAME add and CNAME exclusivity; the zone capability covers delegated subtrees"

grep -q 'test.example.org' "$work/capd.log" || die "update calls are logged at level 1"
ok "calls logged"
finish updates
