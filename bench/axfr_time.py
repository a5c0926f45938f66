#!/usr/bin/env python3
"""axfr_time.py PORT ZONE RECORDS [ROUNDS]: how long a primary takes to send
a full AXFR of ZONE (RECORDS records, the closing SOA included) to a reader
that does nothing with it: the primary's own share of a transfer, which a
secondary's time (bench/replication.sh (c)) adds to its own parsing and
loading. Reads length-prefixed messages over TCP from 127.0.0.1:PORT, counts
answer records, stops at RECORDS + 1 (the opening and closing SOA); prints
the median milliseconds of ROUNDS transfers (default 5). Bounded: 10 s per
transfer."""
import socket
import statistics
import struct
import sys
import time


def query(zone):
    qname = b"".join(bytes([len(l)]) + l.encode() for l in zone.split(".") if l) + b"\0"
    return struct.pack(">HHHHHH", 0x4158, 0, 1, 0, 0, 0) + qname + struct.pack(">HH", 252, 1)


def read_exact(f, n):
    b = f.read(n)
    if len(b) != n:
        raise SystemExit("axfr_time.py: the primary closed the connection mid-transfer")
    return b


def one(port, zone, want):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    q = query(zone)
    t0 = time.perf_counter()
    s.sendall(struct.pack(">H", len(q)) + q)
    f = s.makefile("rb", buffering=1 << 20)
    got = 0
    while got < want:
        msg = read_exact(f, struct.unpack(">H", read_exact(f, 2))[0])
        if msg[3] & 0x0F:
            raise SystemExit("axfr_time.py: the primary answered rcode %d" % (msg[3] & 0x0F))
        got += struct.unpack(">H", msg[6:8])[0]
    ms = (time.perf_counter() - t0) * 1000
    s.close()
    return ms


def main():
    if len(sys.argv) < 4:
        raise SystemExit(__doc__)
    port, zone, records = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 5
    times = [one(port, zone, records + 1) for _ in range(rounds)]
    print("%.1f" % statistics.median(times))


main()
