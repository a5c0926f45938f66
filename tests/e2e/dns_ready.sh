# Waiting for a DNS server to answer (sourced, not run), for e2e tests and
# benchmarks alike: tests/e2e/knot_diff.sh and bench/bench_lib.sh. Lives
# under tests/e2e/ because the tests must not depend on bench/ (bench/
# already sources tests/e2e/ports.sh).

# wait_dns_soa PORT PID ZONE TRIES: waits until the server on 127.0.0.1
# PORT answers "ZONE SOA" with NOERROR, asking every 0.1 s at most TRIES
# times; fails at once when process PID is gone, or after the last try.
# Asks with $kdig if set, else kdig from PATH.
wait_dns_soa() {
    for _ in $(seq "$4"); do
        kill -0 "$2" 2>/dev/null || return 1
        "${kdig:-kdig}" @127.0.0.1 -p "$1" +timeout=1 +retry=0 "$3" SOA 2>/dev/null |
            grep -q 'status: NOERROR' && return 0
        sleep 0.1
    done
    return 1
}
