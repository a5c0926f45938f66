#!/usr/bin/env bash
# Capability replication between capds on loopback (issue 14), the seed's
# scenario and beyond:
#  - a secondary (`capd --primary FILE`) registers with the primary: the
#    primary writes caps/secondary/ZONE/<name>.cap (0600, the secondary's
#    URI), the secondary answers with AA and its AXFR equals the primary's;
#  - `capc update` on the primary reaches the secondary (dig);
#  - a third capd on the same host is a second secondary of the same zone:
#    two files under caps/secondary/ZONE/, both secondaries follow;
#  - a secondary restarted (TERM) registers the same capability again: its
#    file is replaced, not added; a removal and a replaced RRset reach both;
#  - names outside the zone never reach the secondary through the primary;
#  - convergence: 1,000 updates from 4 concurrent capc writers end with
#    identical sorted AXFRs on the primary and both secondaries;
#  - a registration file in eon's form (<host>.cap) is read at primary
#    start: the secondary it names gets the next update.
# Faults are in replication_faults.sh, the original's primary semantics in
# replication_eon.sh.
# Usage: replication.sh CAPD CAPC
CAPD=$1 CAPC=$2
. "$(dirname "$0")/eon_lib.sh"
. "$(dirname "$0")/replication_lib.sh"
export LC_ALL=C

# ---- the seed's scenario: one primary, one secondary
start_replication 1
files=$(secondary_files p)
[ "$(printf '%s\n' "$files" | grep -c .)" = 1 ] || die "one file under caps/secondary/$zone/ after one registration, got: $files"
f1=$files
[ "$(stat -c %a "$f1")" = 600 ] || die "$f1 has mode $(stat -c %a "$f1"), want 600"
grep -q "^capnp://.*@127.0.0.1:$((node_port[s1] + 1))/" "$f1" ||
  die "$f1 holds the secondary's URI (port $((node_port[s1] + 1))): $(cat "$f1")"
st=$(nstatus s1 "$zone" SOA)
[ "$st" = "NOERROR aa 1" ] || die "secondary's SOA answer: want NOERROR aa 1, got $st"
[ "$(nserial s1)" = "$(nserial p)" ] || die "secondary serial $(nserial s1), primary $(nserial p)"
ok "secondary registered ($(basename "$f1"), 0600, its URI), took the zone, answers with AA, AXFRs equal"

# ---- an update on the primary, visible on the secondary
upd "first update" -u "add|new.$zone|A|192.0.2.7|300"
wait_answer s1 new.$zone A 192.0.2.7
converged "after one update" p s1
ok "capc update on the primary reaches the secondary (dig), AXFRs equal at serial $(nserial p)"

# ---- a second secondary of the same zone on the same host
start_secondary s2 "$pcap"
wait_answer s2 new.$zone A 192.0.2.7
files=$(secondary_files p)
[ "$(printf '%s\n' "$files" | grep -c .)" = 2 ] ||
  die "two files under caps/secondary/$zone/ with two secondaries on one host, got: $files"
upd "update with two secondaries" -u "add|both.$zone|TXT|two secondaries|60"
wait_answer s1 both.$zone TXT '"two secondaries"'
wait_answer s2 both.$zone TXT '"two secondaries"'
converged "two secondaries" p s1 s2
ok "a second secondary on the same host: two registration files, both follow updates"

# ---- a secondary registering again replaces its own entry
before=$(secondary_files p)
stop_node s1 TERM
upd "update while s1 is down" -u "remove|www.$zone|A" -u "add|www.$zone|A|203.0.113.81|600" \
  -u "remove|both.$zone|TXT"
start_secondary s1 "$pcap"
wait_answer s1 www.$zone A 203.0.113.81
converged "s1 restarted" p s1 s2
[ "$(secondary_files p)" = "$before" ] ||
  die "a re-registration replaces its file: before: $before; after: $(secondary_files p)"
[ -z "$(nq s1 both.$zone TXT)" ] || die "s1 still has both.$zone TXT after its removal"
ok "s1 restarted: same capability, same registration file; removal and replaced RRset reached both"

# ---- names outside the zone are refused by the primary: nothing reaches a secondary
expect_fail "outside the zone" "outside" update "$root_cap" -u "add|evil.example.com|A|192.0.2.66|60"
[ -z "$(nq s1 evil.example.com A)" ] || die "a name outside the zone reached s1"
converged "after a refused update" p s1 s2
ok "an update outside the zone is refused and changes no secondary"

# ---- convergence: 1,000 updates from 4 concurrent writers
serial0=$(nserial p)
seq 1000 | xargs -P 4 -I{} sh -c '
  out=$("$1" update "$2" -u "add|c{}.'"$zone"'|A|198.51.100.$(({} % 250 + 1))|60" 2>&1) ||
    echo "update c{} failed: $out"' _ "$CAPC" "$root_cap" >"$work/writers.out" 2>&1
! grep -q . "$work/writers.out" || die "writers: $(head -5 "$work/writers.out")"
check_no_sanitizer capc "$work/writers.out"
[ "$(axfr p | grep -c "^c[0-9]*\.$zone\. ")" = 1000 ] || die "the primary has $(axfr p | grep -c "^c[0-9]*\.$zone\. ") of 1000 records"
[ "$(nserial p)" = $((serial0 + 1000)) ] || die "primary serial $(nserial p), want $((serial0 + 1000))"
converged "1,000 concurrent updates" p s1 s2
ok "1,000 updates from 4 concurrent writers: primary, s1 and s2 have identical AXFRs (serial $(nserial p))"

# ---- a registration file in eon's form (<host>.cap) is read at primary start
# s3 retries its primary only after 60 s: until then only the primary's
# stored file can bring it the next update.
before=$(secondary_files p)
start_node s3 --primary "$pcap" --primary-retry-wait 60
wait_answer s3 www.$zone A 203.0.113.81
f3=$(comm -13 <(printf '%s\n' "$before") <(secondary_files p))
[ "$(printf '%s\n' "$f3" | grep -c .)" = 1 ] || die "s3 registered one new file: $f3"
stop_node p TERM
mv "$f3" "$(dirname "$f3")/127.0.0.1.cap"
rm -f "${f3%.cap}.serial"
start_primary p
upd "update for a secondary known by an eon-form file" -u "add|eonfile.$zone|A|192.0.2.77|60"
wait_answer s3 eonfile.$zone A 192.0.2.77
# Without a .serial the primary sends s3 a full transfer of the serial s3
# already has: s3 must keep it (no bump), or it would run one serial ahead
# and take every later change as a full transfer.
converged "eon-form registration file" p s1 s2 s3
ok "a registration file in eon's form (127.0.0.1.cap) is read at primary start: that secondary follows, AXFRs equal (serial $(nserial p))"

stop_node s3 TERM
stop_node s2 TERM
stop_node s1 TERM
stop_node p TERM
finish replication
