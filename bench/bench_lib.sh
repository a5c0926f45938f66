# What bench/qps.sh and bench/load.sh share: building capd, the temp dir and
# its cleanup, stopping the server under test, waiting for it to answer, and
# starting each server (capd builds, knotd with no journal and no zone-file
# sync, nsd with no database file, each with $threads serving threads, on
# 127.0.0.1@$port, serving $zone from $tmp/$zone.zone).
#
# Sourced after the caller sets root and capd (and, before starting a server,
# tmp by bench_tmp, port, threads, zone, knotd and nsd). A started server's
# PID is in spid, its log in $tmp/NAME.log (nsd's own log in $tmp/nsd/nsd.log).

# Builds capd (release) in build/release unless CAPD names one or it is
# there; $1 names the build log ("qps": build/release/qps-build.log).
bench_build_capd() {
    [ -z "${CAPD:-}" ] && [ ! -x "$capd" ] || return 0
    echo "building capd (release) in build/release"
    [ -f "$root/build/release/build.ninja" ] ||
        meson setup "$root/build/release" -Dbuildtype=release -Doptimization=2 >/dev/null || exit 1
    ninja -C "$root/build/release" src/cmd/capd >"$root/build/release/$1-build.log" 2>&1 ||
        { tail -20 "$root/build/release/$1-build.log"; exit 1; }
}

# Makes the temp dir /tmp/ceon-$1.XXXXXX (in tmp) and removes it, after
# stopping the server, when the script exits. $2: how many tenths of a
# second stop_server waits for a clean exit before kill -9 (a big zone
# takes a while to free).
bench_tmp() {
    tmp=$(mktemp -d "/tmp/ceon-$1.XXXXXX")
    spid=""
    stop_tenths=$2
    trap bench_cleanup EXIT
    trap 'exit 1' INT TERM
}
stop_server() {
    [ -n "$spid" ] || return 0
    kill "$spid" 2>/dev/null
    for _ in $(seq "$stop_tenths"); do kill -0 "$spid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$spid" 2>/dev/null
    wait "$spid" 2>/dev/null
    spid=""
}
bench_cleanup() {
    stop_server
    rm -rf "$tmp"
}

# Waits until the server answers "$zone SOA" (15 s, plus 1 s per 20,000
# records: a 1,000,000-record zone takes several seconds to load in every
# server); fails when it is gone or past that.
wait_ready() {
    # the loop is tests/e2e's (knot_diff.sh uses it too); sourced here so
    # that the callers' order of sourcing stays as it was
    . "$root/tests/e2e/dns_ready.sh"
    wait_dns_soa "$port" "$spid" "$zone" $((150 + ${records:-0} / 2000))
}

# Starts capd binary $1 (UDP only, no log), logging to $tmp/$2.log; $3:
# "fresh" gives it a new empty state dir $tmp/state (it opens its journal as
# a first start does), "none" names a state dir that does not exist (DNS
# only, no journal), nothing passes no --state-dir.
start_capd_bin() {
    local state=()
    case ${3:-} in
    fresh) rm -rf "$tmp/state"; mkdir "$tmp/state"; state=(--state-dir "$tmp/state") ;;
    none) rm -rf "$tmp/state"; state=(--state-dir "$tmp/state") ;;
    esac
    "$1" -z "$tmp/$zone.zone" -b 127.0.0.1 -p "$port" --proto udp "${state[@]}" -l 0 >"$tmp/$2.log" 2>&1 &
    spid=$!
}

start_knotd() {
    rm -rf "$tmp/knot"
    mkdir -p "$tmp/knot/db"
    cat >"$tmp/knot/knot.conf" <<EOC
server:
    rundir: "$tmp/knot"
    listen: 127.0.0.1@$port
    udp-workers: $threads
    tcp-workers: 1
    background-workers: 1
log:
  - target: stderr
    any: error
database:
    storage: "$tmp/knot/db"
template:
  - id: default
    storage: "$tmp"
    zonefile-sync: -1
    journal-content: none
zone:
  - domain: $zone
    file: $zone.zone
EOC
    "$knotd" -c "$tmp/knot/knot.conf" >"$tmp/knotd.log" 2>&1 &
    spid=$!
}

start_nsd() {
    rm -rf "$tmp/nsd"
    mkdir -p "$tmp/nsd"
    cat >"$tmp/nsd/nsd.conf" <<EOC
server:
    ip-address: 127.0.0.1@$port
    server-count: $threads
    reuseport: yes
    do-ip6: no
    username: ""
    chroot: ""
    database: ""
    zonesdir: "$tmp"
    zonelistfile: "$tmp/nsd/zone.list"
    xfrdfile: "$tmp/nsd/xfrd.state"
    xfrdir: "$tmp/nsd"
    pidfile: "$tmp/nsd/nsd.pid"
    logfile: "$tmp/nsd/nsd.log"
    verbosity: 0
    rrl-ratelimit: 0
    rrl-whitelist-ratelimit: 0
remote-control:
    control-enable: no
zone:
    name: $zone
    zonefile: $zone.zone
EOC
    "$nsd" -d -c "$tmp/nsd/nsd.conf" >"$tmp/nsd.log" 2>&1 &
    spid=$!
}
