#!/usr/bin/env bash
# Differential test: serve the same zones from capd and from knotd, ask both
# the same queries with kdig, and compare the answers section by section.
#
#   tests/e2e/knot_diff.sh CAPD [QUERIES]
#   KNOT_DIFF_RANDOM=2000 KNOT_DIFF_SEED=7 tests/e2e/knot_diff.sh CAPD
#                                   (also N random queries, see below)
#
# Compared: rcode (incl. EDNS extended rcode), every header flag (QR AA TC
# RD RA Z AD CD), presence of an OPT record, the question, answer and
# authority sections (RRsets in order, records within an RRset in any order)
# and the additional section (in any order). TTLs are compared. Not
# compared: the message ID, and the OPT record's version, flags, payload
# size and options (Knot adds EDE codes to REFUSED answers).
#
# Every difference prints the query and both answers and fails the test,
# except queries in the ALLOW list below, each of which says why Knot's
# answer is not the one the RFCs ask for.
set -uo pipefail
export LC_ALL=C

capd=${1:?usage: knot_diff.sh CAPD [QUERIES]}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
queries=${2:-$here/zones/queries.txt}
knotd=${KNOTD:-$(command -v knotd || echo /usr/sbin/knotd)}
kdig=${KDIG:-$(command -v kdig || true)}

for b in "$capd" "$knotd" "$kdig"; do
    [ -n "$b" ] && [ -x "$b" ] || { echo "knot_diff: missing program: ${b:-kdig} (tools/install-deps.sh --test installs knot and knot-dnsutils)"; exit 1; }
done

# Queries where Knot departs from the RFCs and capd keeps to them. The key is
# the query line exactly as in queries.txt, the value an extended regular
# expression: normalized lines (see normalize) matching it are left out of
# the comparison for that query, everything else must still be identical.
declare -A ALLOW=(
    # RFC 4035 §3.1.6: "The name server side MUST copy the setting of the CD
    # bit from a query to the corresponding response." capd does; Knot 3.2
    # clears CD when it serves an unsigned zone.
    ["www.example.com A +cdflag"]='^flags '
    ["www.example.com A +cdflag +tcp"]='^flags '
)

tmp=$(mktemp -d /tmp/knot_diff.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do
        kill "$p" 2>/dev/null
    done
    for p in "${pids[@]}"; do
        # bounded wait: never hang the test on a stuck server
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

cp "$here"/zones/example.com.zone "$here"/zones/example.net.zone "$here"/zones/big.inc "$tmp"/

. "$here/ports.sh"
. "$here/dns_ready.sh"

# Waits until the server on port $1 answers SOA example.com (process $2 alive).
wait_ready() { wait_dns_soa "$1" "$2" example.com 100; }

start_capd() {
    local try
    for try in 1 2 3 4 5; do
        cport=$(pick_port) || break
        "$capd" -z "$tmp/example.com.zone" -z "$tmp/example.net.zone" -b 127.0.0.1 -p "$cport" --proto both -l 0 \
            >"$tmp/capd.log" 2>&1 &
        cpid=$!
        if wait_ready "$cport" "$cpid"; then
            pids+=("$cpid")
            return 0
        fi
        kill "$cpid" 2>/dev/null
        wait "$cpid" 2>/dev/null
    done
    echo "knot_diff: capd did not start:"
    cat "$tmp/capd.log"
    return 1
}

start_knotd() {
    local try
    for try in 1 2 3 4 5; do
        kport=$(pick_port) || break
        rm -rf "$tmp/knot"
        mkdir -p "$tmp/knot/db"
        # udp-max-payload 4096: capd answers up to the client's EDNS size,
        # at most its 4096-byte UDP buffer (dns/query.h, net/udp.c); Knot
        # answers up to min(client size, udp-max-payload), 1232 by default.
        # With 4096 both apply the same limit to every +bufsize query.
        cat >"$tmp/knot/knot.conf" <<EOF
server:
    rundir: "$tmp/knot"
    listen: 127.0.0.1@$kport
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
    udp-max-payload: 4096
log:
  - target: stderr
    any: warning
database:
    storage: "$tmp/knot/db"
template:
  - id: default
    storage: "$tmp"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
zone:
  - domain: example.com
    file: example.com.zone
  - domain: example.net
    file: example.net.zone
EOF
        "$knotd" -c "$tmp/knot/knot.conf" >"$tmp/knot.log" 2>&1 &
        kpid=$!
        if wait_ready "$kport" "$kpid"; then
            pids+=("$kpid")
            return 0
        fi
        kill "$kpid" 2>/dev/null
        wait "$kpid" 2>/dev/null
    done
    echo "knot_diff: knotd did not start:"
    cat "$tmp/knot.log"
    return 1
}

# Turns kdig's text output into one canonical line per compared item.
normalize() {
    awk '
    # insertion sort of a[1..n] (POSIX awk has no asort); sections are small
    function isort(a, n,   i, j, v) {
        for (i = 2; i <= n; i++) {
            v = a[i]
            for (j = i - 1; j >= 1 && a[j] > v; j--) a[j + 1] = a[j]
            a[j + 1] = v
        }
    }
    function flush(   i, n, k, keys, out) {
        if (sec == "") return
        if (sec == "additional") {
            for (i = 1; i <= nrr; i++) out[i] = rr[i]
            isort(out, nrr)
            for (i = 1; i <= nrr; i++) print "additional " out[i]
        } else {
            for (k = 1; k <= nsets; k++) {
                n = 0
                delete out
                for (i = 1; i <= nrr; i++) if (rrkey[i] == setkey[k]) out[++n] = rr[i]
                isort(out, n)
                for (i = 1; i <= n; i++) print sec " " out[i]
                print sec " --"
            }
        }
        delete rr; delete rrkey; delete setkey; delete seen
        nrr = 0; nsets = 0; sec = ""
    }
    { gsub(/[ \t]+/, " "); sub(/ $/, "") }
    /^;; ->>HEADER<<-/ {
        match($0, /status: [A-Z0-9]+/); print "rcode " substr($0, RSTART + 8, RLENGTH - 8); next
    }
    /^;; Flags:/ {
        f = $0; sub(/^;; Flags: /, "", f); sub(/;.*/, "", f)
        print "flags " f; next
    }
    /^;; EDNS PSEUDOSECTION:/ { print "opt present"; next }
    /^;; Version: / { match($0, /ext-rcode: [A-Z0-9]+/); print "opt ext-rcode " substr($0, RSTART + 11, RLENGTH - 11); next }
    /^;; QUESTION SECTION:/ { flush(); sec = "question"; next }
    /^;; ANSWER SECTION:/ { flush(); sec = "answer"; next }
    /^;; AUTHORITY SECTION:/ { flush(); sec = "authority"; next }
    /^;; ADDITIONAL SECTION:/ { flush(); sec = "additional"; next }
    /^;; (WARNING|ERROR)/ { flush(); print "kdig " $0; next }
    /^$/ { flush(); next }
    /^;; (Received|Time|From|EDE)/ { next }
    sec == "question" { sub(/^;; /, ""); print "question " $0; next }
    sec != "" && !/^;/ {
        # owner ttl class type rdata: an RRset is (owner, class, type)
        split($0, t, " ")
        key = t[1] " " t[3] " " t[4]
        rr[++nrr] = $0; rrkey[nrr] = key
        if (!(key in seen)) { seen[key] = 1; setkey[++nsets] = key }
        next
    }
    END { flush() }
    '
}

# ask PORT QUERY-LINE: prints kdig's answer.
ask() {
    local port=$1 name type
    shift
    name=$1 type=$2
    shift 2
    "$kdig" @127.0.0.1 -p "$port" +ignore +timeout=2 +retry=1 +nostats "$@" -q "$name" -t "$type" 2>&1
}

start_knotd || exit 1
start_capd || exit 1
echo "capd on 127.0.0.1:$cport (pid $cpid), knotd on 127.0.0.1:$kport (pid $kpid)"

# compare QUERY-LINE: asks both servers, counts and reports.
compare() {
    local line=$1 ka ca kn cn kq
    # shellcheck disable=SC2086
    set -- $line
    total=$((total + 1))
    # both servers at once: halves the run time
    ask "$kport" "$@" >"$tmp/knot.answer" &
    kq=$!
    ca=$(ask "$cport" "$@")
    wait "$kq"
    ka=$(<"$tmp/knot.answer")
    # a broken normalizer must not make two answers look alike
    kn=$(normalize <<<"$ka") && cn=$(normalize <<<"$ca") || { echo "knot_diff: normalizer failed"; exit 1; }
    case $kn$cn in *rcode*) ;; *) echo "knot_diff: no DNS header in either answer to: $line"; echo "$ka"; exit 1 ;; esac
    if [ "$kn" = "$cn" ]; then
        same=$((same + 1))
        return
    fi
    if [ -n "${ALLOW[$line]:-}" ] &&
        [ "$(grep -Ev "${ALLOW[$line]}" <<<"$kn")" = "$(grep -Ev "${ALLOW[$line]}" <<<"$cn")" ]; then
        allowed=$((allowed + 1))
        echo "allowed difference (see ALLOW in knot_diff.sh): $line"
        return
    fi
    diff=$((diff + 1))
    echo "================ DIFFERENT: $line"
    echo "---- knotd:"
    echo "$ka"
    echo "---- capd:"
    echo "$ca"
    echo "---- normalized (< knotd, > capd):"
    diff <(echo "$kn") <(echo "$cn") | grep '^[<>]'
}

# KNOT_DIFF_RANDOM=N adds N random queries (seed KNOT_DIFF_SEED): owner
# names of the test zones, sometimes with labels prepended or a wildcard
# label, in random case, with random types and transport options.
random_queries() {
    for z in example.com example.net; do
        awk -v o="$z" '/^[^;$ \t]/ { print ($1 == "@") ? o : $1 "." o }' "$tmp/$z.zone"
    done | sort -u | awk -v n="$1" -v seed="$2" '
    { names[++k] = $0 }
    END {
        srand(seed)
        nt = split("A AAAA MX TXT NS SOA CNAME DNAME DS SRV ANY PTR CAA HINFO TYPE65400 SSHFP NSEC RRSIG", types, " ")
        no = split(",,,+bufsize=512,+bufsize=1232,+bufsize=4096,+tcp,+dnssec", opts, ",")
        np = split("x a.b * zz _t", pre, " ")
        for (i = 0; i < n; i++) {
            q = names[1 + int(rand() * k)]
            r = rand()
            if (r < 0.3) q = pre[1 + int(rand() * np)] "." q
            else if (r < 0.4) q = "*." q
            if (rand() < 0.2) {
                m = ""
                for (j = 1; j <= length(q); j++) {
                    c = substr(q, j, 1)
                    m = m (rand() < 0.5 ? toupper(c) : c)
                }
                q = m
            }
            print q " " types[1 + int(rand() * nt)] " " opts[1 + int(rand() * no)]
        }
    }'
}

# Every query as written (UDP unless it says +tcp), then once more over TCP
# (the other code path in both servers: no size limit, no truncation).
total=0 same=0 diff=0 allowed=0
lines=()
while IFS= read -r line || [ -n "$line" ]; do
    line=${line%%#*}
    line=$(echo "$line" | sed 's/[[:space:]]*$//; s/^[[:space:]]*//')
    [ -n "$line" ] && lines+=("$line")
done < <(cat "$queries"; [ "${KNOT_DIFF_RANDOM:-0}" -gt 0 ] && random_queries "$KNOT_DIFF_RANDOM" "${KNOT_DIFF_SEED:-1}")
for line in "${lines[@]}"; do
    compare "$line"
done
for line in "${lines[@]}"; do
    case " $line " in *" +tcp "*) ;; *) compare "$line +tcp" ;; esac
done

# capd must have survived every query and must stop cleanly: status 0 after
# SIGTERM (under ASan/UBSan that also means no leak or error report).
healthy=1
if ! kill -0 "$cpid" 2>/dev/null; then
    echo "knot_diff: capd died during the run:"
    cat "$tmp/capd.log"
    healthy=0
else
    kill "$cpid"
    for _ in $(seq 100); do kill -0 "$cpid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$cpid" 2>/dev/null; then
        echo "knot_diff: capd still running 10 s after SIGTERM"
        healthy=0
    else
        wait "$cpid"
        st=$?
        if [ "$st" -ne 0 ]; then
            echo "knot_diff: capd exited with status $st after SIGTERM:"
            cat "$tmp/capd.log"
            healthy=0
        fi
    fi
fi

if grep -E -m 3 'ERROR: AddressSanitizer|LeakSanitizer|runtime error:|SUMMARY: UndefinedBehaviorSanitizer' "$tmp/capd.log"; then
    echo "knot_diff: sanitizer report in capd's log (above)"
    healthy=0
fi

echo "$total queries, $same identical, $diff different, $allowed allowed differences"
[ "$healthy" -eq 1 ] && echo "capd stopped cleanly (status 0 after SIGTERM)"
[ "$total" -gt 0 ] && [ "$diff" -eq 0 ] && [ "$healthy" -eq 1 ]
