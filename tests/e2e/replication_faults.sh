#!/usr/bin/env bash
# Capability replication under faults (issue 14). One primary, two
# secondaries on loopback (`--primary-retry-wait 1`); after each fault every
# secondary's sorted AXFR must equal the primary's (SOA included), with no
# record repeated:
#  - kill -9 a secondary, update the primary meanwhile, restart it;
#  - kill -STOP a secondary: the primary still acknowledges updates and the
#    other secondary follows; kill -CONT: it catches up;
#  - kill -STOP the primary longer than the heartbeat: the secondaries keep
#    answering; kill -CONT: replication resumes by itself;
#  - a secondary restarted (kill -9) while its primary is down serves its
#    last state with AA; the primary back: it follows again;
#  - kill -9 the primary during a stream of updates, restart it: every
#    acknowledged update is on the primary and on both secondaries, nothing
#    is duplicated.
# Usage: replication_faults.sh CAPD CAPC
CAPD=$1 CAPC=$2
. "$(dirname "$0")/eon_lib.sh"
. "$(dirname "$0")/replication_lib.sh"
export LC_ALL=C

start_replication 2
ok "primary and two secondaries up, AXFRs equal"

# ---- kill -9 a secondary, update the primary meanwhile, restart it
stop_node s1 KILL
upd "while s1 is dead (1)" -u "add|dead1.$zone|A|192.0.2.11|60"
upd "while s1 is dead (2)" -u "remove|www.$zone|A" -u "add|www.$zone|AAAA|2001:db8::80|60"
upd "while s1 is dead (3)" -u "add|dead3.$zone|TXT|three|60"
wait_answer s2 dead3.$zone TXT '"three"'
start_secondary s1 "$pcap"
wait_answer s1 dead3.$zone TXT '"three"'
converged "s1 killed and restarted" p s1 s2
[ -z "$(nq s1 www.$zone A)" ] || die "s1 still has www.$zone A, removed while it was dead"
ok "kill -9 of a secondary, 3 updates meanwhile, restart: it converges"

# ---- a stopped secondary delays neither the primary nor the other secondary
kill -STOP "${node_pid[s1]}"
for i in 1 2 3; do
  out=$(timeout 20 "$CAPC" update "$root_cap" -u "add|stopped$i.$zone|A|192.0.2.2$i|60" 2>&1) ||
    die "update $i while s1 is stopped: capc exited $? ($out)"
  output_clean "update while s1 is stopped" "$out"
done
wait_answer s2 stopped3.$zone A 192.0.2.23
kill -CONT "${node_pid[s1]}"
converged "s1 continued" p s1 s2
ok "kill -STOP of a secondary: the primary answers updates, the other follows; -CONT: it catches up"

# ---- the primary stopped longer than the heartbeat
kill -STOP "${node_pid[p]}"
sleep 4
for s in s1 s2; do
  st=$(nstatus "$s" www.$zone AAAA)
  [ "$st" = "NOERROR aa 1" ] || { kill -CONT "${node_pid[p]}"; die "$s while the primary is stopped: $st"; }
done
kill -CONT "${node_pid[p]}"
upd "after the primary continued" -u "add|resumed.$zone|A|192.0.2.30|60"
wait_answer s1 resumed.$zone A 192.0.2.30
wait_answer s2 resumed.$zone A 192.0.2.30
converged "primary continued" p s1 s2
ok "kill -STOP of the primary for 4 s: secondaries keep answering; -CONT: replication resumes by itself"

# ---- a secondary restarted while its primary is down serves its last state
last=$(axfr p)
stop_node p TERM
stop_node s1 KILL
start_secondary s1 "$pcap"
for _ in $(seq 100); do [ "$(nstatus s1 resumed.$zone A)" = "NOERROR aa 1" ] && break; sleep 0.1; done
st=$(nstatus s1 resumed.$zone A)
[ "$st" = "NOERROR aa 1" ] || die "s1 restarted with its primary down: resumed.$zone A: want NOERROR aa 1, got $st"
[ "$(axfr s1)" = "$last" ] ||
  die "s1 restarted with its primary down serves another zone: $(diff <(printf '%s\n' "$last") <(axfr s1) | head)"
sleep 2 # a few failed reconnections (retry wait 1 s) change nothing
[ "$(axfr s1)" = "$last" ] || die "s1's zone changed while its primary is down"
ok "a secondary restarted while its primary is down serves its last state (AA, same AXFR)"
start_primary p
upd "primary back" -u "add|back.$zone|A|192.0.2.31|60"
wait_answer s1 back.$zone A 192.0.2.31
wait_answer s2 back.$zone A 192.0.2.31
converged "primary back" p s1 s2
ok "the primary back: both secondaries reconnect and follow"

# ---- kill -9 the primary during a stream of updates
: >"$work/acked"
: >"$work/failed"
writer() { # FIRST LAST: one capc update per name k<i>, acknowledged ones to acked
  local i out
  for i in $(seq "$1" "$2"); do
    if out=$(timeout 30 "$CAPC" update "$root_cap" -u "add|k$i.$zone|A|192.0.2.$((i % 250 + 1))|60" 2>&1); then
      echo "k$i.$zone." >>"$work/acked"
    else
      echo "k$i $out" >>"$work/failed"
    fi
  done
}
writer 1 400 &
wpid=$!
for _ in $(seq 600); do [ "$(wc -l <"$work/acked")" -ge 60 ] && break; sleep 0.05; done
[ "$(wc -l <"$work/acked")" -ge 60 ] || die "the writer got 60 acknowledgements: $(head -3 "$work/failed")"
stop_node p KILL
sleep 1
start_primary p
wait "$wpid"
writer 401 420
check_no_sanitizer capc "$work/failed"
nacked=$(wc -l <"$work/acked")
[ "$nacked" -ge 80 ] || die "only $nacked of 420 updates acknowledged around the kill: $(head -3 "$work/failed")"
missing=$(comm -23 <(sort -u "$work/acked") <(axfr p | awk '{print $1}' | sort -u) | head -5)
[ -z "$missing" ] || die "acknowledged updates missing on the restarted primary: $missing"
converged "primary killed during a stream of updates" p s1 s2
for s in s1 s2; do
  n=$(axfr_raw "$s" | grep -c "^k[0-9]*\.$zone\. ")
  [ "$n" = "$(axfr_raw p | grep -c "^k[0-9]*\.$zone\. ")" ] || die "$s has $n k-records, the primary $(axfr_raw p | grep -c "^k[0-9]*\.$zone\. ")"
done
ok "kill -9 of the primary during 420 updates ($nacked acknowledged): restarted, every acknowledged one on all three, none duplicated"

stop_node s2 TERM
stop_node s1 TERM
stop_node p TERM
finish replication_faults
