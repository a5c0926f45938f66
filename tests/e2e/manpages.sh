#!/usr/bin/env bash
# The man pages render without a warning and name every option that the
# programs' --help prints: capd(8) for capd --help, capc(1) for capc --help
# and each `capc COMMAND --help`.
#   manpages.sh BUILD_DIR CAPD CAPC
set -uo pipefail
build=$1 capd=$2 capc=$3
n=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
fail() { echo "FAIL: $*"; exit 1; }
command -v man >/dev/null && command -v groff >/dev/null || fail "man and groff needed (packages man-db, groff-base)"

for page in capd.8 capc.1; do
  f=$build/docs/man/$page
  [ -s "$f" ] || fail "$f not built"
  w=$(groff -man -Tutf8 -ww -z "$f" 2>&1)
  [ -z "$w" ] || fail "$page: groff warnings: $w"
  MANWIDTH=100 man -l "$f" >/dev/null 2>&1 || fail "man -l $f"
done
ok "capd.8 and capc.1 render with man -l, no groff warning"

# options PROGRAM-OUTPUT: the long options it names, one per line.
options() { grep -oE -- '--[a-z][a-z0-9-]+' | sort -u; }
# Rendered without hyphenation or line breaks inside words.
text() { MANWIDTH=1000 man -l "$1" 2>/dev/null; }
check() { # page help-text what
  local missing=""
  for o in $(options <<<"$2"); do
    grep -q -- "$o" <<<"$(text "$1")" || missing="$missing $o"
  done
  [ -z "$missing" ] || fail "$3: options in --help but not in $(basename "$1"):$missing"
}
capd_help=$("$capd" --help) || fail "capd --help"
[ "$(options <<<"$capd_help" | wc -l)" -ge 10 ] || fail "capd --help names too few options to be the real list"
check "$build/docs/man/capd.8" "$capd_help" "capd"
all=$("$capc" --help)
for c in get-name delegate update cert; do all+=$'\n'$("$capc" "$c" --help); done
check "$build/docs/man/capc.1" "$all" "capc"
ok "every option of capd --help in capd(8), of capc (every command) in capc(1)"

# The check can fail: an option the page lacks is reported.
sed 's/zonefile/zonefilx/g' "$build/docs/man/capd.8" >"${TMPDIR:-/tmp}/capd-broken.$$.8"
( check "${TMPDIR:-/tmp}/capd-broken.$$.8" "$capd_help" "broken copy" ) >/dev/null && {
  rm -f "${TMPDIR:-/tmp}/capd-broken.$$.8"
  fail "a page without --zonefile passed the check"
}
rm -f "${TMPDIR:-/tmp}/capd-broken.$$.8"
ok "a page missing an option fails the check"
echo "manpages: $n passed, 0 failed"
