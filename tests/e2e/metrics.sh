#!/usr/bin/env bash
# The statistics endpoint (capd --metrics-listen): after a known number of
# queries and updates the counters moved by exactly those numbers; the
# output parses as the Prometheus text format (a strict parser below:
# HELP/TYPE before samples, valid names and labels, no duplicate series,
# cumulative histogram buckets ending at the count); other paths, methods
# and garbage get 404/405/400; the connection limit and the request size
# limit hold, and the endpoint still answers afterwards.
#   metrics.sh CAPD CAPC
CAPD=$1 CAPC=$2
. "$(dirname "$0")/eon_lib.sh"
mport=$(pick_port) || die "no free port for the metrics endpoint"
start_capd --metrics-listen "127.0.0.1:$mport" || die "capd starts with --metrics-listen"
cd "$work" || exit 1
cp "$state/caps/domain/example.org.cap" root.cap
expect_ok "delegate" delegate root.cap m
url="http://127.0.0.1:$mport/metrics"

scrape() { curl -sf --max-time 5 "$url" >"$1" || die "GET /metrics failed"; }
# value FILE SERIES: the sample's value (0 if the series is absent).
value() { awk -v s="$2" '$1 == s { v = $2 } END { print v + 0 }' "$1"; }
# delta SERIES: its value in after minus before.
delta() { echo $(($(value after "$1") - $(value before "$1"))); }

# The Prometheus text format (0.0.4), checked strictly.
check_format() {
  python3 - "$1" <<'EOF'
import re, sys
name = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
sample = re.compile(r"^(%s)(\{(%s=\"(\\.|[^\"\\])*\")(,%s=\"(\\.|[^\"\\])*\")*\})? (-?[0-9.e+]+|\+Inf|NaN)$" % (name, name, name))
types, seen, hist = {}, set(), {}
for n, line in enumerate(open(sys.argv[1]), 1):
    line = line.rstrip("\n")
    if line.startswith("# HELP "):
        continue
    if line.startswith("# TYPE "):
        _, _, fam, typ = line.split(" ", 3)
        if fam in types or typ not in ("counter", "gauge", "histogram", "summary", "untyped"):
            sys.exit("line %d: bad or repeated TYPE: %s" % (n, line))
        types[fam] = typ
        continue
    m = sample.match(line)
    if not m:
        sys.exit("line %d: not a sample: %r" % (n, line))
    series = line.rsplit(" ", 1)[0]
    if series in seen:
        sys.exit("line %d: duplicate series %s" % (n, series))
    seen.add(series)
    fam = m.group(1)
    base = re.sub(r"_(bucket|sum|count)$", "", fam)
    if fam not in types and not (base in types and types[base] == "histogram"):
        sys.exit("line %d: sample of %s before its TYPE" % (n, fam))
    if fam.endswith("_bucket"):
        le = re.search(r'le="([^"]*)"', line).group(1)
        hist.setdefault(base, []).append((le, float(line.rsplit(" ", 1)[1])))
    if fam.endswith("_count") and base in hist:
        vals = [v for _, v in hist[base]]
        if vals != sorted(vals) or hist[base][-1][0] != "+Inf" or vals[-1] != float(line.rsplit(" ", 1)[1]):
            sys.exit("histogram %s: buckets not cumulative or +Inf != count" % base)
if not seen:
    sys.exit("no samples")
print("%d series, %d families" % (len(seen), len(types)))
EOF
}

scrape before
r=$(check_format before) || die "Prometheus text format: $r"
ok "GET /metrics parses as the Prometheus text format ($r)"

# Known traffic: 7 NOERROR A and 3 NXDOMAIN AAAA over UDP, 2 SOA over TCP,
# one batch of queries per dig process.
for _ in $(seq 7); do echo "www.example.org A"; done >q_udp
for i in $(seq 3); do echo "nx$i.example.org AAAA"; done >>q_udp
dig @127.0.0.1 -p "$dns_port" -f q_udp +time=2 +tries=1 >/dev/null 2>&1
dig @127.0.0.1 -p "$dns_port" +tcp example.org SOA example.org SOA +time=2 +tries=1 >/dev/null 2>&1
for i in 1 2 3; do expect_ok "update $i" update m.example.org.cap -u "add|h$i.m.example.org|A|192.0.2.$i|60"; done
expect_fail "refused update 1" "outside" update m.example.org.cap -u 'add|example.org|A|192.0.2.9|60'
expect_fail "refused update 2" "outside" update m.example.org.cap -u 'add|x.example.org|A|192.0.2.9|60'
scrape after
check_format after >/dev/null || die "Prometheus text format after traffic"

want() { # series expected-delta
  local d
  d=$(delta "$1")
  [ "$d" = "$2" ] || die "$1 moved by $d, want $2"
}
want 'capd_dns_queries_total{transport="udp",qtype="A"}' 7
want 'capd_dns_queries_total{transport="udp",qtype="AAAA"}' 3
want 'capd_dns_responses_total{transport="udp",rcode="NXDOMAIN"}' 3
want 'capd_dns_queries_total{transport="tcp",qtype="SOA"}' 2
want 'capd_dns_responses_total{transport="tcp",rcode="NOERROR"}' 2
# The UDP SOA queries are start_capd's readiness probes and serial checks:
# only what this test sent in between may have moved the UDP NOERROR count.
want 'capd_dns_responses_total{transport="udp",rcode="NOERROR"}' 7
want 'capd_updates_total{result="ok"}' 3
want 'capd_updates_total{result="failed"}' 2
want 'capd_update_duration_seconds_count' 5
want 'capd_journal_entries_total' 3
# One dig at a time never queues a full receive batch: the UDP leader
# answers alone and no helper is woken (src/net/udp.c).
grep -q '^capd_udp_helper_wakeups_total [0-9]' after || die "capd_udp_helper_wakeups_total missing"
want 'capd_udp_helper_wakeups_total' 0
grep -q '^capd_udp_workers [1-9]' after || die "capd_udp_workers missing or 0"
ok "after 10 UDP + 2 TCP queries and 3 + 2 updates the counters moved by exactly that"

code() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@"; }
[ "$(code "http://127.0.0.1:$mport/other")" = 404 ] || die "other path: want 404"
[ "$(code -X POST "$url")" = 405 ] || die "POST: want 405"
r=$(printf 'HELLO\r\n\r\n' | timeout 5 python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(sys.stdin.buffer.read())
print(s.recv(100).split(b"\r\n")[0].decode())' "$mport")
[ "$r" = "HTTP/1.1 400 Bad Request" ] || die "garbage: want 400, got '$r'"
ok "404 for another path, 405 for POST, 400 for garbage"

# 20 idle connections: at most 16 are kept; an oversized request head gets
# 400; then the endpoint answers again.
r=$(timeout 20 python3 - "$mport" <<'EOF'
import socket, sys, time
port = int(sys.argv[1])
socks = [socket.create_connection(("127.0.0.1", port), timeout=3) for _ in range(20)]
time.sleep(0.5)
closed = 0
for s in socks:
    s.setblocking(False)
    try:
        if s.recv(1) == b"":
            closed += 1
    except BlockingIOError:
        pass
    except ConnectionResetError:
        closed += 1
for s in socks:
    s.close()
# capd frees the 16 slots when it reads their EOFs: until then a new
# connection is over the limit and closed. Try again for a while (bounded).
first = "no answer"
for _ in range(25):
    big = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        big.sendall(b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 5000)
        first = big.recv(100).split(b"\r\n")[0].decode()
    except OSError as e:
        first = "error %s" % e
    big.close()
    if first.startswith("HTTP/"):
        break
    time.sleep(0.2)
print(closed, first)
EOF
)
[ "$r" = "4 HTTP/1.1 400 Bad Request" ] || die "20 connections: want 4 closed at once and 400 for a 5000-byte head, got '$r'"
scrape again
ok "connection limit (16 of 20 kept), 400 for an oversized head, then GET /metrics still answers"

# The RPC side: 40 plain TCP connections to the Cap'n Proto port from one
# address, held while we scrape: 32 are accepted (the per-source share),
# 8 refused, none authenticated.
scrape before
timeout 30 python3 - "$cap_port" "$url" >rpc_scrape <<'EOF'
import socket, sys, time, urllib.request
port, url = int(sys.argv[1]), sys.argv[2]
socks = [socket.create_connection(("127.0.0.1", port), timeout=3) for _ in range(40)]
time.sleep(1)
sys.stdout.write(urllib.request.urlopen(url, timeout=5).read().decode())
for s in socks:
    s.close()
EOF
[ -s rpc_scrape ] || die "scrape while holding 40 RPC connections failed"
mv rpc_scrape after
want 'capd_rpc_refused_total{reason="per_source"}' 8
[ "$(value after 'capd_rpc_connections{state="accepted"}')" = 32 ] ||
  die "accepted RPC connections: $(grep capd_rpc_connections after)"
[ "$(value after 'capd_rpc_connections{state="authenticated"}')" = 0 ] ||
  die "authenticated RPC connections: $(grep capd_rpc_connections after)"
ok "RPC: 40 connections from one address: 32 accepted, 8 refused (per source), none authenticated"

# No secret in the log (at -l 1, every call logged): no service ID of the
# zone's, the primary's or the delegated capability, no key material.
for f in root.cap m.example.org.cap "$state/caps/primary/example.org.cap"; do
  id=$(sed 's#.*/##' "$f")
  [ ${#id} -ge 20 ] || die "no service ID in $f"
  grep -qF -- "$id" "$work/capd.log" && die "service ID of $f in capd's log"
done
grep -q "PRIVATE KEY" "$work/capd.log" && die "key material in capd's log"
ok "no service ID or key in capd's log"

finish metrics
