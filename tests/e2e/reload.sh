#!/usr/bin/env bash
# SIGHUP re-reads the zone files (issue 13), under a dnsperf load (UDP and
# TCP) and a stream of capc updates, with one RPC connection held open:
#  1. an edit without a raised serial: the edit and every acknowledged
#     update are served (the journal's changes on top of the edited file);
#  2. an edit with a raised serial: the file wins, the updates acknowledged
#     before the SIGHUP are dropped (docs/state-dir.md, rule 2), those
#     acknowledged after the reload are served;
#  3. a zone file added to a -z directory is served, gets its cap file and
#     takes updates; removed, it answers REFUSED and its capability
#     "no longer served";
#  4. a broken zone file keeps the served version and is named in the log;
# then: neither dnsperf lost a query, no update failed, the held connection still
# answers, sd_notify said RELOADING=1 and READY=1 for each reload, and a
# restart serves exactly what the reloads left.
#   reload.sh CAPD CAPC
CAPD=$1 CAPC=$2
. "$(dirname "$0")/eon_lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
cd "$work" || exit 1
for t in dnsperf python3 openssl; do
  command -v "$t" >/dev/null || die "$t not installed (make test-deps installs it)"
done

# systemd's side of sd_notify: every message capd sends, one per line.
python3 - "$work/notify" "$work/notes" >/dev/null 2>&1 <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(120)
with open(sys.argv[2], "w") as out:
    while True:
        try:
            msg = s.recv(4096).decode()
        except socket.timeout:
            break
        out.write(msg.replace("\n", ",") + "\n")
        out.flush()
        if "STOPPING=1" in msg:
            break
PY
# (Helpers in the background write to files only, so a failing test ends
# at once; each ends by itself: a timeout, a count, or $work removed.)
listener=$!
for _ in $(seq 100); do [ -S "$work/notify" ] && break; sleep 0.05; done

mkdir zones
write_zone zones/example.net example.net
capd_args=(-z "$work/zones" --allow-transfer 127.0.0.1)
NOTIFY_SOCKET=$work/notify start_capd "${capd_args[@]}" || die "capd starts with -z FILE and -z DIR"
[ -s "$state/caps/domain/example.net.cap" ] || die "no cap file for example.net from the directory"
[ "$(q www.example.net A)" = 203.0.113.80 ] || die "example.net from the directory is served"
cp "$state/caps/domain/example.org.cap" root.cap
ok "capd serves example.org (-z FILE) and example.net (-z DIR), both with cap files"

reloads_done() { grep -c 'reload: done' capd.log; }
# hup WHAT: SIGHUP, then wait until capd logged one more finished reload.
hups=0
hup() {
  local before
  before=$(reloads_done)
  kill -HUP "$capd_pid" || die "$1: capd is gone"
  hups=$((hups + 1))
  for _ in $(seq 600); do
    [ "$(reloads_done)" -gt "$before" ] && return 0
    sleep 0.05
  done
  die "$1: no 'reload: done' within 30 s"
}
# The TXT owners u-N of example.org served now, one N per line, sorted.
served_updates() {
  dig @127.0.0.1 -p "$dns_port" example.org AXFR +time=5 +tries=1 2>/dev/null |
    awk '$4 == "TXT" && $1 ~ /^u-[0-9]+\.example\.org\.$/ { split($1, p, /[-.]/); print p[2] }' | sort -u
}
# missing FILE: the numbers in FILE that are not served (none: prints nothing).
missing() { comm -23 <(sort -u "$1") <(served_updates) | head -5 | tr '\n' ' '; }

# An RPC connection held open across every reload below.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
  -subj /CN=reload -keyout "$work/cli.key" -out "$work/cli.crt" >/dev/null 2>&1 ||
  die "openssl makes a client certificate"
python3 "$here/rpc_hold.py" --port "$cap_port" --cert cli.crt --key cli.key --cap root.cap \
  --go go.flag --name example.org >hold.out 2>&1 &
hold_pid=$!
for _ in $(seq 300); do grep -q connected hold.out && break; sleep 0.1; done
grep -q connected hold.out || die "the held RPC connection: $(cat hold.out)"

# The load: dnsperf over UDP, rate-limited so the 2-core machine copes
# under ASan, for longer than the reloads below take.
printf '%s\n' 'www.example.org A' 'example.org SOA' 'ns1.example.org A' 'www.example.net A' \
  'example.net NS' 'nothere.example.org A' >queries.txt
dnsperf -s 127.0.0.1 -p "$dns_port" -d queries.txt -l 20 -Q 1500 -c 4 -t 5 >dnsperf.out 2>&1 &
perf_pid=$!
# And over TCP, which the loop thread serves: a reload must not stall it.
dnsperf -m tcp -s 127.0.0.1 -p "$dns_port" -d queries.txt -l 20 -Q 300 -c 2 -t 5 >dnsperf-tcp.out 2>&1 &
perf_tcp_pid=$!
# The updates: one capc after the other, each a new name u-N, until told
# to stop (bounded by the count too).
touch run.flag
: >acked.txt
: >failed.txt
(
  i=0
  while [ -e run.flag ] && [ "$i" -lt 3000 ]; do
    i=$((i + 1))
    if out=$("$CAPC" update root.cap -u "add|u-$i.example.org|TXT|\"v$i\"|60" 2>&1); then
      echo "$i" >>acked.txt
    else
      echo "$i: $out" >>failed.txt
    fi
    printf '%s\n' "$out" | grep -Eq "$sanitizer_re" && echo "$i: sanitizer: $out" >>failed.txt
  done
) >/dev/null 2>&1 &
upd_pid=$!
# wait_acked N: until at least N updates are acknowledged (bounded).
wait_acked() {
  for _ in $(seq 600); do
    [ "$(wc -l <acked.txt)" -ge "$1" ] && return 0
    sleep 0.05
  done
  die "fewer than $1 updates acknowledged in 30 s: $(cat failed.txt)"
}
wait_acked 5

# ---- 1: an edit, same serial
echo 'edit1 IN TXT "first edit"' >>example.org
hup "edit without a raised serial"
[ "$(q edit1.example.org TXT)" = '"first edit"' ] || die "the first edit is served"
cp acked.txt acked1.txt
m=$(missing acked1.txt)
[ -z "$m" ] || die "acknowledged updates lost by the reload: $m"
grep -q "reload: example.org: the zone file's edit is served with the journal's" capd.log ||
  die "the reload says the journal went on top of the edit"
ok "1: edit (same serial) served together with all $(wc -l <acked1.txt) acknowledged updates"

# ---- 2: an edit with a raised serial: the file wins
sed -i 's/ dns 1 / dns 1000000 /' example.org
echo 'edit2 IN TXT "second edit"' >>example.org
cp acked.txt before2.txt
hup "edit with a raised serial"
# Updates go one at a time: the one in flight during the reload may be
# answered after 'reload: done' yet have been committed (and dropped)
# before it. Every later one is after the reload.
n_after=$(wc -l <acked.txt)
wait_acked $((n_after + 3))
[ "$(q edit2.example.org TXT)" = '"second edit"' ] || die "the second edit is served"
s=$(serial)
[ "$s" -ge 1000000 ] || die "the file's serial wins: $s"
grep -q "has serial 1000000, newer than the journal's .*: the zone file wins" capd.log ||
  die "the warning names both serials"
kept=$(comm -12 <(sort -u before2.txt) <(served_updates) | head -5 | tr '\n' ' ')
[ -z "$kept" ] || die "updates acknowledged before the winning edit are still served: $kept"
tail -n +$((n_after + 2)) acked.txt >after2.txt
m=$(missing after2.txt)
[ -z "$m" ] || die "updates acknowledged after the reload are lost: $m"
ok "2: raised serial: the file wins ($s), $(wc -l <before2.txt) earlier updates dropped as documented, $(wc -l <after2.txt) later ones served"

# ---- 3: a zone file added to the directory, then removed
write_zone zones/example.com example.com
hup "a zone file added"
[ -s "$state/caps/domain/example.com.cap" ] || die "no cap file for the added zone"
[ "$(q www.example.com A)" = 203.0.113.80 ] || die "the added zone is served"
expect_ok "update in the added zone" update "$state/caps/domain/example.com.cap" \
  -u 'add|new.example.com|A|192.0.2.7|60'
[ "$(q new.example.com A)" = 192.0.2.7 ] || die "the update in the added zone is served"
cp "$state/caps/domain/example.com.cap" com.cap
ok "3: a zone file put in the directory is served after SIGHUP, with its cap file, and takes updates"
rm zones/example.com
hup "a zone file removed"
[ "$(dns_status www.example.com A)" = "REFUSED - 0" ] ||
  die "the removed zone: want REFUSED, got $(dns_status www.example.com A)"
expect_fail "update through the removed zone's capability" \
  "example.com is no longer served by this capd" update com.cap -u 'add|x.example.com|A|192.0.2.8|60'
[ -s "$state/caps/domain/example.com.cap" ] || die "the removed zone's cap file is kept (capd(8))"
ok "3: its file removed, the zone answers REFUSED and its capability 'no longer served'"

# ---- 4: a broken zone file keeps the served version
cp zones/example.net example.net.good
sed -i 's/203.0.113.80/203.0.113.99/' zones/example.net
echo 'broken line !!' >>zones/example.net
hup "a broken zone file"
grep -q "reload: $work/zones/example.net:[0-9]*: .*; the zone keeps its served version" capd.log ||
  die "the log names the broken file and why: $(grep 'reload:' capd.log | tail -3)"
[ "$(q www.example.net A)" = 203.0.113.80 ] || die "the broken file's zone keeps its old version"
[ "$(q www.example.org A)" = 203.0.113.80 ] || die "the other zones are still served"
cp example.net.good zones/example.net
ok "4: a broken zone file keeps the old version and the log says which file and why"

# ---- the load ends; what it saw
touch go.flag
wait "$hold_pid" || die "the held RPC connection: $(cat hold.out)"
ok "one RPC connection open across $hups reloads still answers"
wait "$perf_pid"
wait "$perf_tcp_pid"
rm -f run.flag
wait "$upd_pid"
for t in udp tcp; do
  out=dnsperf.out
  [ "$t" = tcp ] && out=dnsperf-tcp.out
  sent=$(awk '/Queries sent:/ { print $3 }' "$out")
  lost=$(awk '/Queries lost:/ { print $3 }' "$out")
  [ -n "$sent" ] && [ "$sent" -gt 0 ] || die "dnsperf ($t) sent nothing: $(cat "$out")"
  [ "$lost" = 0 ] || die "dnsperf ($t) lost $lost of $sent queries: $(grep -A3 'Queries' "$out")"
  ok "dnsperf over $t: $sent queries sent across the reloads, 0 lost"
done
[ ! -s failed.txt ] || die "updates failed during the reloads: $(head -3 failed.txt)"
tail -n +$((n_after + 2)) acked.txt >after2.txt
m=$(missing after2.txt)
[ -z "$m" ] || die "acknowledged updates lost: $m"
ok "all $(wc -l <acked.txt) updates succeeded; every one acknowledged after the winning edit is served"

# ---- what a restart serves is what the reloads left
axfr_sorted() { dig @127.0.0.1 -p "$dns_port" "$1" AXFR +time=5 +tries=1 2>/dev/null | grep -v '^;' | grep . | sort; }
axfr_sorted example.org >org.before
axfr_sorted example.net >net.before
stop_capd TERM
wait "$listener"
grep -c '^RELOADING=1' notes | grep -qx "$hups" || die "want $hups RELOADING=1: $(cat notes)"
awk '/^RELOADING=1/ { r = 1; next } /^READY=1/ && r { r = 0; n++ } END { exit !(n == '"$hups"' && !r) }' notes ||
  die "each RELOADING=1 is followed by READY=1: $(tr '\n' ' ' <notes)"
ok "sd_notify: RELOADING=1 and then READY=1 for each of the $hups reloads"
start_capd "${capd_args[@]}" || die "capd restarts"
[ "$(axfr_sorted example.org)" = "$(cat org.before)" ] || die "example.org after a restart differs from what the reloads served"
[ "$(axfr_sorted example.net)" = "$(cat net.before)" ] || die "example.net after a restart differs"
ok "a restart serves exactly what the reloads left"
finish reload
