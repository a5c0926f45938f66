#!/usr/bin/env bash
# `make install` into a DESTDIR from the build under test, and what it
# installs: the two programs where an admin looks for them, the systemd unit
# (which `systemd-analyze verify` accepts without a single warning), the
# example zone, and programs that run from there (--help, --version).
#   install.sh SOURCE_ROOT BUILD_DIR
set -uo pipefail
root=$1 build=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
fail() { echo "FAIL: $*"; exit 1; }
command -v systemd-analyze >/dev/null || fail "systemd-analyze not installed (package systemd; make test-deps installs it)"

prefix=$(meson introspect --buildoptions "$build" |
  python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"] == "prefix"][0])')
out=$(make -s -C "$root" install INSTALL_BUILD="$build" PREFIX="$prefix" DESTDIR="$tmp/dest" 2>&1) ||
  fail "make install: $out"
d=$tmp/dest$prefix
for f in sbin/capd bin/capc lib/systemd/system/capd.service \
  share/doc/ceon/examples/example.org.zone share/doc/ceon/examples/capd.default; do
  [ -f "$d/$f" ] || fail "make install did not install $prefix/$f: $(cd "$tmp/dest" && find . -type f)"
done
[ -x "$d/sbin/capd" ] && [ -x "$d/bin/capc" ] || fail "programs not executable"
ok "make install DESTDIR: capd in sbin, capc in bin, unit, example zone"

"$d/sbin/capd" --help | grep -q -- '--zonefile' || fail "installed capd --help"
"$d/bin/capc" --help | grep -q 'get-name' || fail "installed capc --help"
ok "installed programs run"

unit=$d/lib/systemd/system/capd.service
grep -q "^ExecStart=$prefix/sbin/capd " "$unit" || fail "unit's ExecStart is not $prefix/sbin/capd: $(grep ExecStart "$unit")"
for want in Type=notify DynamicUser=yes StateDirectory=eon AmbientCapabilities=CAP_NET_BIND_SERVICE \
  ProtectSystem=strict NoNewPrivileges=yes SystemCallFilter=@system-service Restart=on-failure; do
  grep -qx "$want" "$unit" || fail "unit lacks $want"
done
# verify checks that ExecStart is executable: point it at the DESTDIR copy.
sed "s#^ExecStart=$prefix/sbin/capd#ExecStart=$d/sbin/capd#" "$unit" >"$tmp/capd.service"
v=$(systemd-analyze verify --man=no "$tmp/capd.service" 2>&1)
rc=$?
[ "$rc" = 0 ] && [ -z "$v" ] || fail "systemd-analyze verify (status $rc): $v"
# And the check itself can fail: a broken copy must be reported.
sed 's/^Type=notify/Type=notifyy/' "$tmp/capd.service" >"$tmp/broken.service"
[ -n "$(systemd-analyze verify --man=no "$tmp/broken.service" 2>&1)" ] || fail "verify did not report a broken unit"
ok "systemd-analyze verify: no warning on capd.service (and one on a broken copy)"
echo "install: $n passed, 0 failed"
