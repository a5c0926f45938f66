#!/usr/bin/env bash
# Crash test: several capc processes update concurrently while capd is
# killed with SIGKILL at a random moment; after a restart every update that
# got success=true must be present, and none may be half-applied (each
# update adds an A and a TXT record at a fresh name: both or neither).
# Repeated ROUNDS times (default 20) on the same state dir.
#   crash.sh CAPD CAPC [ROUNDS]
CAPD=$1 CAPC=$2 rounds=${3:-20}
. "$(dirname "$0")/eon_lib.sh"
command -v dig >/dev/null || { echo "SKIP: dig not installed"; exit 77; }
workers=4

start_capd || die "capd starts"
cd "$work" || exit 1
cp "$state/caps/domain/example.org.cap" root.cap
expect_ok "delegate" delegate root.cap crash
t=crash.example.org.cap

worker() { # round id
  local r=$1 k=$2 i=0 n
  while [ ! -e "stop.$r" ]; do
    n="r$r-w$k-$i"
    echo "$n" >>"tried.$r.$k"
    if "$CAPC" update "$t" -u "add|$n.crash.example.org|A|192.0.2.$k|60" \
      -u "add|$n.crash.example.org|TXT|\"$n\"|60" >/dev/null 2>&1; then
      echo "$n" >>"acked.$r.$k"
    else
      sleep 0.01
    fi
    i=$((i + 1))
  done
}

total_acked=0
for r in $(seq "$rounds"); do
  [ -n "$capd_pid" ] || start_capd || die "round $r: capd restarts after SIGKILL"
  pids=()
  for k in $(seq $workers); do
    : >"tried.$r.$k"
    : >"acked.$r.$k"
    worker "$r" "$k" &
    pids+=($!)
  done
  # The random moment is after the first acknowledgement, so every round
  # has something to lose (capc processes start slowly under ASan).
  for _ in $(seq 300); do cat acked.$r.* | grep -q . && break; sleep 0.05; done
  sleep "0.$((RANDOM % 10))$((RANDOM % 10))"
  stop_capd KILL
  touch "stop.$r"
  wait "${pids[@]}" 2>/dev/null
  start_capd || die "round $r: capd restarts after SIGKILL"

  cat tried.$r.* | sort -u >"tried.$r"
  cat acked.$r.* | sort -u >"acked.$r"
  [ -s "acked.$r" ] || die "round $r: no update was acknowledged before the kill"
  # One dig process for every query of the round.
  awk '{ print $1 ".crash.example.org A"; print $1 ".crash.example.org TXT" }' "tried.$r" >"queries.$r"
  dig @127.0.0.1 -p "$dns_port" -f "queries.$r" +noall +answer +time=2 +tries=2 >"answers.$r" 2>/dev/null
  awk '$4 == "A" { sub(/\.crash\.example\.org\.$/, "", $1); print $1 }' "answers.$r" | sort -u >"has_a.$r"
  awk '$4 == "TXT" { sub(/\.crash\.example\.org\.$/, "", $1); print $1 }' "answers.$r" | sort -u >"has_txt.$r"
  missing=$(comm -23 "acked.$r" "has_a.$r" | head -3)
  [ -z "$missing" ] || die "round $r: acknowledged updates lost after SIGKILL: $missing"
  half=$(comm -3 "has_a.$r" "has_txt.$r" | head -3)
  [ -z "$half" ] || die "round $r: half-applied updates: $half"
  total_acked=$((total_acked + $(wc -l <"acked.$r")))
  ok "round $r: $(wc -l <"acked.$r") acknowledged, $(wc -l <"has_a.$r") present of $(wc -l <"tried.$r") tried, none half-applied"
done
echo "crash: $passed rounds passed, $total_acked acknowledged updates all present"
