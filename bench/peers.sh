# The peer servers of bench/qps.sh and bench/load.sh, started the same way
# in both: knotd with no journal and no zone-file sync, nsd with no
# database file, each with $threads serving threads, on 127.0.0.1@$port,
# serving $zone from $tmp/$zone.zone. Sourced; the caller sets tmp, port,
# threads, zone, knotd and nsd, and gets the server's PID in spid (its log
# in $tmp/knotd.log or $tmp/nsd.log).

start_knotd() {
    rm -rf "$tmp/knot"
    mkdir -p "$tmp/knot/db"
    cat >"$tmp/knot/knot.conf" <<EOF
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
EOF
    "$knotd" -c "$tmp/knot/knot.conf" >"$tmp/knotd.log" 2>&1 &
    spid=$!
}

start_nsd() {
    rm -rf "$tmp/nsd"
    mkdir -p "$tmp/nsd"
    cat >"$tmp/nsd/nsd.conf" <<EOF
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
EOF
    "$nsd" -d -c "$tmp/nsd/nsd.conf" >"$tmp/nsd.log" 2>&1 &
    spid=$!
}
