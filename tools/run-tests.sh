#!/usr/bin/env bash
# Runs every test and prints one closing line "N passed, N failed".
#   tools/run-tests.sh ASAN_BUILD_DIR FUZZ_BUILD_DIR FUZZ_SECONDS
# 1. meson test in the sanitizer build (unit + end-to-end + interop),
# 2. the seed transcript acceptance script when ../shared/acceptance exists,
# 3. each libFuzzer target for FUZZ_SECONDS on its seed corpus.
set -uo pipefail
asan=$1 fuzz=$2 secs=$3
root=$(cd "$(dirname "$0")/.." && pwd)
passed=0 failed=0 failures=()

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

meson test -C "$asan" --print-errorlogs --num-processes 2
log="$asan/meson-logs/testlog.json"
if [ -f "$log" ]; then
  p=$(grep -c '"result": "OK"' "$log" || true)
  f=$(grep -cE '"result": "(FAIL|TIMEOUT|ERROR|UNEXPECTEDPASS)"' "$log" || true)
  passed=$((passed + p)) failed=$((failed + f))
  [ "$f" -gt 0 ] && failures+=("meson: $f test(s), see $log")
else
  failed=$((failed + 1)) failures+=("meson test produced no log")
fi

seed="$root/../shared/acceptance/seed-transcript.sh"
if [ -f "$seed" ] && [ -x "$asan/src/cmd/capd" ] && [ -x "$asan/src/cmd/capc" ]; then
  echo "== seed transcript"
  # Absolute paths: the script runs capc from its own temporary directory.
  abs=$(cd "$asan" && pwd)
  if CAPD="$abs/src/cmd/capd" CAPC="$abs/src/cmd/capc" bash "$seed"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1)) failures+=("seed transcript")
  fi
fi

if [ -d "$fuzz" ]; then
  for t in "$fuzz"/tests/fuzz/fuzz_*; do
    [ -f "$t" ] && [ -x "$t" ] || continue
    name=$(basename "$t")
    corpus=$(mktemp -d)
    [ -d "$root/tests/fuzz/corpus/$name" ] && cp -r "$root/tests/fuzz/corpus/$name/." "$corpus/"
    echo "== fuzz $name for ${secs}s"
    if "$t" -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=0 "$corpus" >"$corpus.log" 2>&1; then
      passed=$((passed + 1))
    else
      tail -40 "$corpus.log"
      failed=$((failed + 1)) failures+=("fuzz $name")
    fi
    rm -rf "$corpus" "$corpus.log"
  done
fi

for f in "${failures[@]}"; do echo "FAILED: $f"; done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
