# Helpers for the capability replication tests (issue 14), sourced after
# eon_lib.sh: several capds on loopback, each a "node" with its own state
# dir ($work/NODE), DNS port and Cap'n Proto port (the next one), both kept
# across restarts (a secondary's stored URI and a primary's sturdy ref name
# them). The primary serves $work/example.org (eon_lib's zone) from a zone
# file; a secondary is `capd --primary FILE --primary-retry-wait 1`. Every
# node is started with --allow-transfer 127.0.0.1 so the tests compare
# zones by AXFR. stop_node holds every capd life to eon_lib's rules (clean
# exit after TERM, 137 after KILL, no sanitizer report in its log).
declare -A node_pid node_port
zone=example.org

# node_ports NODE: picks NODE's two ports once.
node_ports() {
  [ -n "${node_port[$1]:-}" ] && return 0
  node_port[$1]=$(pick_port 2) || die "no free port for $1"
}

# start_node NODE ARGS...: starts capd for NODE (no wait).
start_node() {
  local n=$1 p
  shift
  node_ports "$n"
  p=${node_port[$n]}
  mkdir -p "$work/$n"
  echo "=== start $(date +%T.%N) $*" >>"$work/$n.log"
  "$CAPD" --capnp-secret-key-file "$work/$n/capnp-secret.pem" \
    --capnp-listen-address "tcp:127.0.0.1:$((p + 1))" --state-dir "$work/$n/state" \
    -b 127.0.0.1 -p "$p" -l 1 --allow-transfer 127.0.0.1 "$@" >>"$work/$n.log" 2>&1 &
  node_pid[$n]=$!
}

# start_primary NODE [ZONEFILE [ARGS...]]: capd serving ZONEFILE ($zone,
# default $work/example.org); waits for its caps.
start_primary() {
  local n=$1 zf=${2:-$work/example.org}
  shift
  [ $# -gt 0 ] && shift
  start_node "$n" -z "$zf" "$@"
  for _ in $(seq 300); do
    [ -s "$work/$n/state/caps/primary/$zone.cap" ] && [ -s "$work/$n/state/caps/domain/$zone.cap" ] &&
      [ -n "$(nq "$n" "$zone" SOA)" ] && return 0
    kill -0 "${node_pid[$n]}" 2>/dev/null || die "$n (primary) exited: $(tail -5 "$work/$n.log")"
    sleep 0.05
  done
  die "$n (primary) did not start: $(tail -5 "$work/$n.log")"
}

# start_secondary NODE PRIMARY_CAP_FILE: capd --primary FILE (no wait).
start_secondary() {
  start_node "$1" --primary "$2" --primary-retry-wait 1
  sleep 0.1
  kill -0 "${node_pid[$1]}" 2>/dev/null || die "$1 (secondary) exited at start: $(tail -5 "$work/$1.log")"
}

# start_replication N [PRIMARY_ARGS...]: the start every replication test
# shares: primary p (start_primary p "$work/example.org" PRIMARY_ARGS),
# $root_cap (its Domain capability) and $pcap (its Primary capability)
# copied out, secondaries s1..sN started on $pcap, each waited for until it
# answers from the zone, and every AXFR equal to the primary's.
start_replication() {
  local n=$1 i
  shift
  start_primary p "$work/example.org" "$@"
  root_cap=$work/root.cap
  cp "$work/p/state/caps/domain/$zone.cap" "$root_cap"
  pcap=$work/primary.cap
  cp "$work/p/state/caps/primary/$zone.cap" "$pcap"
  for i in $(seq "$n"); do start_secondary "s$i" "$pcap"; done
  for i in $(seq "$n"); do wait_answer "s$i" "www.$zone" A 203.0.113.80; done
  converged "first transfer" p $(seq -f 's%g' "$n")
}

# stop_node NODE [SIGNAL]: as eon_lib's stop_capd, for NODE.
stop_node() {
  local n=$1 sig=${2:-TERM} pid rc want watchdog
  pid=${node_pid[$n]:-}
  [ -n "$pid" ] || return 0
  node_pid[$n]=""
  kill -CONT "$pid" 2>/dev/null
  kill "-$sig" "$pid" 2>/dev/null
  (sleep 30 && kill -9 "$pid") 2>/dev/null &
  watchdog=$!
  wait "$pid" 2>/dev/null
  rc=$?
  kill "$watchdog" 2>/dev/null
  wait "$watchdog" 2>/dev/null
  echo "=== exit $(date +%T.%N) status $rc after SIG$sig" >>"$work/$n.log"
  check_no_sanitizer "$n" "$work/$n.log"
  case $sig in
    KILL | 9) want=137 ;;
    *) want=0 ;;
  esac
  [ "$rc" = "$want" ] || die "$n exited with status $rc after SIG$sig, want $want: $(tail -5 "$work/$n.log")"
  return 0
}

# Every node still running at the end (or at a failure) is stopped; at a
# failure the tails of all logs are printed.
stop_all_nodes() {
  local n
  for n in "${!node_pid[@]}"; do
    [ -n "${node_pid[$n]}" ] || continue
    if [ "$dying" = 0 ]; then
      stop_node "$n" TERM
    else
      kill -9 "${node_pid[$n]}" 2>/dev/null
      wait "${node_pid[$n]}" 2>/dev/null
      node_pid[$n]=""
    fi
  done
}
die() {
  dying=1
  echo "FAIL $*"
  local f
  for f in "$work"/*.log; do
    [ -f "$f" ] && { echo "--- $(basename "$f") (tail)"; tail -15 "$f"; }
  done
  exit 1
}
trap 'rc=$?; stop_all_nodes; (exit $rc); cleanup' EXIT

# nq NODE ARGS...: dig +short at NODE, without dig's own lines (a refused
# or timed-out query prints ";" comments and an empty line on stdout).
nq() {
  local n=$1
  shift
  dig @127.0.0.1 -p "${node_port[$n]}" "$@" +short +time=1 +tries=1 2>/dev/null | awk 'NF && !/^;/'
}
nserial() { nq "$1" "$zone" SOA | awk '{print $3}'; }
# nstatus NODE NAME TYPE: "RCODE AA ANSWERS" (eon_lib's dns_status at NODE).
nstatus() {
  dig @127.0.0.1 -p "${node_port[$1]}" "$2" "$3" +noall +comments +time=2 +tries=1 2>/dev/null | awk '
    /->>HEADER<<-/ { for (i = 1; i <= NF; i++) if ($i == "status:") { st = $(i + 1); sub(/,$/, "", st) } }
    /;; flags:/ { aa = ($0 ~ /flags:[^;]* aa[ ;]/) ? "aa" : "-"
                  for (i = 1; i <= NF; i++) if ($i == "ANSWER:") { n = $(i + 1); sub(/,$/, "", n) } }
    END { if (st == "") print "TIMEOUT - 0"; else print st, aa, n + 0 }'
}
# axfr NODE: NODE's zone by AXFR, "name ttl class type rdata", names in
# lower case, sorted; empty when refused or not served.
axfr() {
  dig @127.0.0.1 -p "${node_port[$1]}" "$zone" AXFR +noall +answer +time=3 +tries=1 2>/dev/null |
    awk 'NF && $1 !~ /^;/ { $1 = tolower($1); print }' | sort -u
}
# axfr_raw NODE: the same, duplicates kept (to find duplicated records),
# without the SOA that closes the transfer.
axfr_raw() {
  dig @127.0.0.1 -p "${node_port[$1]}" "$zone" AXFR +noall +answer +time=3 +tries=1 2>/dev/null |
    awk 'NF && $1 !~ /^;/ { $1 = tolower($1); l[n++] = $0 } END { for (i = 0; i < n - 1; i++) print l[i] }' | sort
}

# converged WHAT PRIMARY SECONDARY...: waits (30 s) until every secondary's
# AXFR equals the primary's (SOA included); on failure prints the diff.
converged() {
  local what=$1 p=$2 s want got
  shift 2
  for s in "$@"; do
    for _ in $(seq 300); do
      want=$(axfr "$p")
      got=$(axfr "$s")
      [ -n "$want" ] && [ "$want" = "$got" ] && break
      sleep 0.1
    done
    [ -n "$want" ] || die "$what: $p serves no zone by AXFR"
    [ "$want" = "$got" ] ||
      die "$what: $s differs from $p (< $p, > $s): $(diff <(printf '%s\n' "$want") <(printf '%s\n' "$got") | head -20)"
    local dup
    dup=$(axfr_raw "$s" | uniq -d | head -5)
    [ -z "$dup" ] || die "$what: $s's AXFR repeats records: $dup"
  done
  return 0
}

# wait_answer NODE NAME TYPE VALUE: until NODE answers NAME TYPE with VALUE
# among its records, authoritatively (30 s).
wait_answer() {
  local n=$1 name=$2 type=$3 value=$4
  for _ in $(seq 300); do
    nq "$n" "$name" "$type" | grep -qxF -- "$value" && [ "$(nstatus "$n" "$name" "$type" | cut -d' ' -f2)" = aa ] &&
      return 0
    sleep 0.1
  done
  die "$n does not answer $name $type $value with AA (got: $(nq "$n" "$name" "$type"), status $(nstatus "$n" "$name" "$type"))"
}

# upd WHAT CAPC-UPDATE-ARGS...: capc update on the primary's Domain capability.
upd() {
  local what=$1
  shift
  expect_ok "$what" update "$root_cap" "$@"
}

# secondary_files NODE: the registration files in NODE's caps/secondary/ZONE/.
secondary_files() { find "$work/$1/state/caps/secondary/$zone" -maxdepth 1 -name '*.cap' 2>/dev/null | sort; }
