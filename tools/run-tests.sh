#!/usr/bin/env bash
# Runs every test and prints one closing line "N passed, N failed, N skipped".
#   tools/run-tests.sh ASAN_BUILD_DIR FUZZ_BUILD_DIR FUZZ_SECONDS
# 1. meson test in the sanitizer build (unit + end-to-end + interop),
# 2. the seed transcript acceptance script (../shared/acceptance), with its
#    certificate step (SEED_CERT=1: pebble plays Let's Encrypt),
# 3. each libFuzzer target for FUZZ_SECONDS on its seed corpus.
#
# `make test` installs every peer first (tools/install-deps.sh --test), so
# here a skipped test means a missing peer or file: it is reported as a skip
# AND counted as a failure. The exit status is 0 only when nothing failed and
# nothing was skipped. Results come from this run only: meson's exit status
# and a test log written by this run (an old testlog.json is removed first).
set -uo pipefail
asan=$1 fuzz=$2 secs=$3
root=$(cd "$(dirname "$0")/.." && pwd)
passed=0 failed=0 skipped=0 failures=()
fail() { failed=$((failed + 1)) failures+=("$1"); }
skip() { skipped=$((skipped + 1)) failed=$((failed + 1)) failures+=("skipped (make test installs every peer, so a skip is a failure): $1"); }

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

log="$asan/meson-logs/testlog.json"
rm -f "$log"
meson test -C "$asan" --print-errorlogs --num-processes 2
mrc=$?
if [ -f "$log" ]; then
  # One JSON object per line; count by result, name the bad ones.
  counts=$(python3 - "$log" <<'EOF'
import json, sys
ok = bad = skip = 0
for line in open(sys.argv[1]):
    line = line.strip()
    if not line:
        continue
    t = json.loads(line)
    r = t.get("result")
    if r == "OK":
        ok += 1
    elif r == "SKIP":
        skip += 1
        print("SKIP", t.get("name"))
    else:
        bad += 1
        print("BAD", r, t.get("name"))
print("COUNTS", ok, bad, skip)
EOF
  ) || { counts="COUNTS 0 0 0"; fail "meson test log unreadable: $log"; }
  read -r _ p f s <<<"$(grep '^COUNTS' <<<"$counts")"
  passed=$((passed + p))
  while read -r kind rest; do
    case $kind in
      SKIP) skip "meson test $rest" ;;
      BAD) fail "meson test ${rest#* } (${rest%% *})" ;;
    esac
  done < <(grep -E '^(SKIP|BAD) ' <<<"$counts")
  [ "$p" -gt 0 ] || fail "meson test ran no test"
  # meson's own verdict too: a failure it saw must not pass here.
  if [ "$mrc" -ne 0 ] && [ "$f" -eq 0 ]; then fail "meson test exited $mrc"; fi
else
  fail "meson test exited $mrc and wrote no test log (build failed?)"
fi

seed="$root/../shared/acceptance/seed-transcript.sh"
if [ ! -f "$seed" ]; then
  skip "seed transcript: $seed not found"
elif [ ! -x "$asan/src/cmd/capd" ] || [ ! -x "$asan/src/cmd/capc" ]; then
  fail "seed transcript: capd or capc not built in $asan"
else
  echo "== seed transcript"
  # Absolute paths: the script runs capc from its own temporary directory.
  abs=$(cd "$asan" && pwd)
  seedlog=$(mktemp)
  if SEED_CERT=1 CAPD="$abs/src/cmd/capd" CAPC="$abs/src/cmd/capc" bash "$seed" 2>&1 | tee "$seedlog"; then
    if grep -E -m 3 'ERROR: AddressSanitizer|LeakSanitizer|runtime error:|SUMMARY: UndefinedBehaviorSanitizer' "$seedlog"; then
      fail "seed transcript: sanitizer report (above)"
    else
      passed=$((passed + 1))
    fi
  else
    fail "seed transcript"
  fi
  rm -f "$seedlog"
fi

nfuzz=0
for t in "$fuzz"/tests/fuzz/fuzz_*; do
  [ -f "$t" ] && [ -x "$t" ] || continue
  nfuzz=$((nfuzz + 1))
  name=$(basename "$t")
  corpus=$(mktemp -d)
  [ -d "$root/tests/fuzz/corpus/$name" ] && cp -r "$root/tests/fuzz/corpus/$name/." "$corpus/"
  echo "== fuzz $name for ${secs}s"
  if "$t" -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=0 "$corpus" >"$corpus.log" 2>&1; then
    passed=$((passed + 1))
  else
    tail -40 "$corpus.log"
    fail "fuzz $name"
  fi
  rm -rf "$corpus" "$corpus.log"
done
# Every parser has a target (tests/fuzz/meson.build): none built is a failure.
want=$(grep -c "executable('fuzz_" "$root/tests/fuzz/meson.build" 2>/dev/null || echo 0)
[ "$nfuzz" -gt 0 ] || fail "no fuzz target built in $fuzz"
[ "$want" -eq 0 ] || [ "$nfuzz" -ge "$want" ] || fail "fuzz: $nfuzz targets built, tests/fuzz/meson.build lists $want"

for f in "${failures[@]}"; do echo "FAILED: $f"; done
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] && [ "$skipped" -eq 0 ]
