#!/usr/bin/env bash
# Crash test: several capc processes update concurrently while capd is
# killed with SIGKILL at a random moment; after a restart every update that
# got success=true in this or any earlier round must be present, and none may
# be half-applied (each update adds an A and a TXT record at a fresh name:
# both or neither). The SOA serial never goes backwards: a served serial was
# durable (capd publishes a version only once it is journaled). capc calls
# that fail for a reason other than the kill (before it, or with an error
# that is not a lost connection) fail the round beyond a small share, with
# their reasons printed. Repeated ROUNDS times (default 20) on the same state
# dir; capd's log of every life is scanned for sanitizer reports.
#
# With RECORDS (issue 12: the crash test on a 200,000-record zone too), the
# zone holds RECORDS records, capd compacts its journal every COMPACT change
# sets (--journal-max-entries; default 10, --journal-size-ratio 0 so that the
# zone's size does not defer it) and each round's kill comes at a
# random moment after COMPACT updates were acknowledged in that round, so
# every life of capd starts at least one compaction (a snapshot of the whole
# zone) and a kill can land in the middle of one: a snapshot of 200,000
# records took about 0.3 s under ASan here, and with a compaction every 10
# updates a good share of each life is spent in one. The statistics endpoint's
# last compaction time, read just before each kill, shows which lives
# finished one; at least one must have.
#   crash.sh CAPD CAPC [ROUNDS] [RECORDS [COMPACT]]
CAPD=$1 CAPC=$2 rounds=${3:-20} records=${4:-0} compact=${5:-10}
. "$(dirname "$0")/eon_lib.sh"
workers=4
capd_args=()
if [ "$records" -gt 0 ]; then
  # example.org as write_zone makes it (5 records), plus hosts up to RECORDS.
  awk -v n="$records" 'BEGIN {
    print "$ORIGIN example.org."; print "$TTL 3600"
    print "@ IN SOA ns1 dns 1 3600 900 1814400 3600"; print "@ IN NS ns1"
    print "ns1 IN A 127.0.0.1"; print "@ IN A 203.0.113.0"; print "www IN A 203.0.113.80"
    for (i = 0; i < n - 5; i++) printf "h%d IN A 198.51.%d.%d\n", i, int(i / 256) % 256, i % 256
  }' >"$work/example.org"
  mport=$(pick_port) || die "no free port for the statistics endpoint"
  capd_args=(--journal-max-entries "$compact" --journal-size-ratio 0 --metrics-listen "127.0.0.1:$mport")
fi
# last_compaction: Unix time of this life's last finished compaction, 0 if none.
last_compaction() {
  curl -s --max-time 5 "http://127.0.0.1:$mport/metrics" |
    awk '$1 == "capd_journal_last_compaction_timestamp_seconds" { print $2 }'
}
compacted_lives=0
# What capc says when capd disappears under it (lower case; connect refused after the
# kill, or the connection lost mid-call).
lost_re='connection refused|connection reset|closed the connection|connection closed|disconnected|end of file|eof|broken pipe|timed out'

start_capd "${capd_args[@]}" || die "capd starts"
[ "$records" -gt 0 ] && { [ "$(q h$((records - 6)).example.org A)" != "" ] || die "the last generated record is served"; }
cd "$work" || exit 1
cp "$state/caps/domain/example.org.cap" root.cap
expect_ok "delegate" delegate root.cap crash
t=crash.example.org.cap

worker() { # round id
  local r=$1 k=$2 i=0 n out
  while [ ! -e "stop.$r" ]; do
    n="r$r-w$k-$i"
    echo "$n" >>"tried.$r.$k"
    if out=$("$CAPC" update "$t" -u "add|$n.crash.example.org|A|192.0.2.$k|60" \
      -u "add|$n.crash.example.org|TXT|\"$n\"|60" 2>&1); then
      echo "$n" >>"acked.$r.$k"
    else
      # When it failed (to tell failures before the kill from those after)
      # and why, on one line.
      printf '%s %s %s\n' "$EPOCHREALTIME" "$n" "$(printf '%s' "$out" | tr '\n' ' ')" >>"failed.$r.$k"
      sleep 0.01
    fi
    printf '%s\n' "$out" >>"capc.$r.$k.log"
    i=$((i + 1))
  done
}

# present NAMES-FILE: checks every name's A and TXT with one dig process;
# writes has_a and has_txt (sorted names).
present() {
  awk '{ print $1 ".crash.example.org A"; print $1 ".crash.example.org TXT" }' "$1" >queries
  dig @127.0.0.1 -p "$dns_port" -f queries +noall +answer +time=2 +tries=2 >answers 2>/dev/null
  awk '$4 == "A" { sub(/\.crash\.example\.org\.$/, "", $1); print $1 }' answers | sort -u >has_a
  awk '$4 == "TXT" { sub(/\.crash\.example\.org\.$/, "", $1); print $1 }' answers | sort -u >has_txt
}

: >acked.all
: >tried.all
last_serial=$(serial)
[ -n "$last_serial" ] || die "no SOA serial before round 1"
total_acked=0
for r in $(seq "$rounds"); do
  [ -n "$capd_pid" ] || start_capd "${capd_args[@]}" || die "round $r: capd restarts after SIGKILL"
  pids=()
  for k in $(seq $workers); do
    : >"tried.$r.$k"
    : >"acked.$r.$k"
    : >"failed.$r.$k"
    worker "$r" "$k" &
    pids+=($!)
  done
  # The random moment is after the first acknowledgement, so every round
  # has something to lose (capc processes start slowly under ASan).
  for _ in $(seq 300); do cat acked.$r.* | grep -q . && break; sleep 0.05; done
  # With RECORDS: after enough acknowledgements to start a compaction.
  if [ "$records" -gt 0 ]; then
    for _ in $(seq 1200); do [ "$(cat acked.$r.* | wc -l)" -ge "$compact" ] && break; sleep 0.05; done
  fi
  sleep "0.$((RANDOM % 10))$((RANDOM % 10))"
  compaction=""
  if [ "$records" -gt 0 ]; then
    c=$(last_compaction)
    [ -n "$c" ] || die "round $r: no capd_journal_last_compaction_timestamp_seconds in the statistics"
    if [ "$c" -gt 0 ]; then compaction=", compacted before the kill" compacted_lives=$((compacted_lives + 1)); else compaction=", no compaction finished before the kill"; fi
  fi
  before_kill=$(serial)
  kill_time=$EPOCHREALTIME
  stop_capd KILL
  touch "stop.$r"
  wait "${pids[@]}" 2>/dev/null
  check_no_sanitizer "round $r: capc" capc.$r.*.log
  start_capd "${capd_args[@]}" || die "round $r: capd restarts after SIGKILL"

  cat tried.$r.* | sort -u >"tried.$r"
  cat acked.$r.* | sort -u >"acked.$r"
  [ -s "acked.$r" ] || die "round $r: no update was acknowledged before the kill"
  sort -u -o acked.all acked.all "acked.$r"
  sort -u -o tried.all tried.all "tried.$r"

  # Every acknowledged update of every round so far, none half-applied.
  present tried.all
  missing=$(comm -23 acked.all has_a | head -3)
  [ -z "$missing" ] || die "round $r: acknowledged updates lost after SIGKILL: $missing"
  missing=$(comm -23 acked.all has_txt | head -3)
  [ -z "$missing" ] || die "round $r: acknowledged updates lost after SIGKILL (TXT): $missing"
  half=$(comm -3 has_a has_txt | head -3)
  [ -z "$half" ] || die "round $r: half-applied updates: $half"

  # The serial: not below what was served before the kill, and up by at
  # least one per update acknowledged this round.
  s=$(serial)
  [ -n "$s" ] && [ -n "$before_kill" ] || die "round $r: no SOA serial (before the kill: '$before_kill', after: '$s')"
  [ "$s" -ge "$before_kill" ] || die "round $r: serial went backwards: $before_kill served before the kill, $s after"
  n_acked=$(wc -l <"acked.$r")
  [ "$s" -ge $((last_serial + n_acked)) ] ||
    die "round $r: serial $s after restart, want >= $last_serial + $n_acked acknowledged updates"
  last_serial=$s

  # Failures other than the kill's: before it, or not a lost connection.
  n_tried=$(wc -l <"tried.$r")
  cat failed.$r.* | awk -v t="$kill_time" -v re="$lost_re" \
    '{ after = ($1 + 0 >= t + 0); line = tolower($0) } !(after && line ~ re)' >"bad.$r"
  n_bad=$(wc -l <"bad.$r")
  if [ $((n_bad * 50)) -gt "$n_tried" ]; then
    echo "round $r: capc failures not caused by the kill (time name reason):"
    head -20 "bad.$r"
    die "round $r: $n_bad of $n_tried capc calls failed for another reason than the kill (at most 2% allowed)"
  fi
  total_acked=$((total_acked + n_acked))
  ok "round $r: $n_acked acknowledged, $n_tried tried, $(cat failed.$r.* | wc -l) failed ($n_bad not by the kill); all $(wc -l <acked.all) acknowledged so far present, none half-applied, serial $before_kill -> $s$compaction"
done
if [ "$records" -gt 0 ]; then
  [ "$compacted_lives" -gt 0 ] || die "no life of capd finished a journal compaction before its kill"
  [ "$(q h$((records - 6)).example.org A)" != "" ] || die "the zone's own records after the rounds"
  ok "$records records: $compacted_lives of $rounds lives finished a compaction before the kill; the zone's records served"
fi
echo "crash: $total_acked acknowledged updates all present after $rounds SIGKILLs"
finish crash
