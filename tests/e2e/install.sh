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
for f in sbin/capd bin/capc lib/systemd/system/capd.service share/man/man8/capd.8 share/man/man1/capc.1 \
  share/doc/ceon/examples/example.org.zone share/doc/ceon/examples/capd.default; do
  [ -f "$d/$f" ] || fail "make install did not install $prefix/$f: $(cd "$tmp/dest" && find . -type f)"
done
[ -x "$d/sbin/capd" ] && [ -x "$d/bin/capc" ] || fail "programs not executable"
ok "make install DESTDIR: capd in sbin, capc in bin, man pages, unit, example zone"

# (the output captured first: grep -q stops reading at its match, and a
# help text longer than stdio's buffer would then die of SIGPIPE, which
# pipefail reports as a failure)
help=$("$d/sbin/capd" --help) && grep -q -- '--zonefile' <<<"$help" || fail "installed capd --help"
help=$("$d/bin/capc" --help) && grep -q 'get-name' <<<"$help" || fail "installed capc --help"
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

# Readiness (Type=notify): this test plays systemd's side of the protocol:
# a unix datagram socket in $NOTIFY_SOCKET. capd must send READY=1 only once
# its zone answers and its capability file is written, STOPPING=1 on
# SIGTERM, and then exit 0.
. "$root/tests/e2e/ports.sh"
port=$(pick_port 2) || fail "no free port"
cat >"$tmp/zone" <<ZONE
\$ORIGIN example.org.
\$TTL 3600
@ IN SOA ns1 dns 1 3600 900 1814400 3600
@ IN NS ns1
ns1 IN A 127.0.0.1
ZONE
python3 - "$tmp/notify" "$tmp/notes" "$tmp/state/caps/domain/example.org.cap" "$port" <<'PY' &
import os, socket, subprocess, sys, time
path, notes, cap, port = sys.argv[1:5]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
s.settimeout(60)
with open(notes, "w") as out:
    while True:
        try:
            msg = s.recv(4096).decode()
        except socket.timeout:
            out.write("TIMEOUT\n")
            break
        # What was true when the message came: cap file there, DNS answering.
        has_cap = os.path.exists(cap) and os.path.getsize(cap) > 0
        dig = subprocess.run(["dig", "@127.0.0.1", "-p", port, "example.org", "SOA", "+short",
                              "+time=1", "+tries=1"], capture_output=True, text=True).stdout
        out.write("%s cap=%d dns=%d\n" % (msg.replace("\n", ","), has_cap, bool(dig.strip())))
        out.flush()
        if "STOPPING=1" in msg:
            break
PY
listener=$!
for _ in $(seq 100); do [ -S "$tmp/notify" ] && break; sleep 0.05; done
NOTIFY_SOCKET=$tmp/notify "$d/sbin/capd" -z "$tmp/zone" -b 127.0.0.1 -p "$port" --state-dir "$tmp/state" \
  --capnp-listen-address "tcp:127.0.0.1:$((port + 1))" --capnp-secret-key-file "$tmp/state/key.pem" \
  >"$tmp/capd.log" 2>&1 &
capd=$!
for _ in $(seq 300); do grep -q READY=1 "$tmp/notes" 2>/dev/null && break; sleep 0.1; done
kill -TERM "$capd"
wait "$capd"
rc=$?
wait "$listener"
[ "$rc" = 0 ] || fail "capd under NOTIFY_SOCKET exited $rc: $(tail -5 "$tmp/capd.log")"
grep -Eq 'ERROR: AddressSanitizer|LeakSanitizer|runtime error:' "$tmp/capd.log" && fail "sanitizer report: $(cat "$tmp/capd.log")"
grep -q '^READY=1 cap=1 dns=1$' "$tmp/notes" || fail "READY=1 before the zone answered and the cap file existed (or never): $(cat "$tmp/notes")"
grep -q '^STOPPING=1' "$tmp/notes" || fail "no STOPPING=1 on SIGTERM: $(cat "$tmp/notes")"
ok "sd_notify: READY=1 once the zone answers and the cap file is written; STOPPING=1 on SIGTERM"
echo "install: $n passed, 0 failed"
