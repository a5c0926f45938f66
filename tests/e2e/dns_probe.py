#!/usr/bin/env python3
"""Transport probes for capd that dig/kdig cannot do (used by dns_basic.sh).

  dns_probe.py pipeline HOST PORT N NAME TYPE [DELAY]
                                                N queries on one TCP connection,
                                                sent in one burst cut into random
                                                pieces; answers must come in order,
                                                each NOERROR, AA, with an answer.
                                                With DELAY, answers are read only
                                                after DELAY seconds (a slow reader)
  dns_probe.py conns HOST PORT N LIMIT          open N connections: at most LIMIT
                                                stay open and each of those answers
  dns_probe.py idle HOST PORT MIN MAX           an idle connection is closed by the
                                                server after MIN..MAX seconds
  dns_probe.py garbage HOST PORT N SEED         N random/mutated UDP packets and
                                                some TCP garbage; every UDP answer
                                                within 1232 bytes

Prints one line and exits 0 on success, 1 with the reason otherwise.
"""
import random
import socket
import struct
import sys
import threading
import time

TYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "MX": 15, "TXT": 16, "AAAA": 28, "ANY": 255}


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def wire_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def query(qid, name, qtype, edns=False):
    msg = struct.pack(">HHHHHH", qid, 0, 1, 0, 0, 1 if edns else 0)
    msg += wire_name(name) + struct.pack(">HH", TYPES.get(qtype, 1), 1)
    if edns:
        msg += b"\0" + struct.pack(">HHIH", 41, 1232, 0, 0)
    return msg


def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def recv_msg(s):
    head = recv_exact(s, 2)
    if head is None:
        return None
    (length,) = struct.unpack(">H", head)
    return recv_exact(s, length)


def tcp_connect(host, port, timeout=5.0, rcvbuf=0):
    s = socket.socket(family(host), socket.SOCK_STREAM)
    if rcvbuf:  # a small window makes the server's answers back up sooner
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(timeout)
    s.connect((host, port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def check_answer(ans, qid, q):
    if ans is None:
        fail("connection closed before answer %d" % qid)
    if len(ans) < 12:
        fail("answer %d too short (%d bytes)" % (qid, len(ans)))
    aid, flags = struct.unpack(">HH", ans[:4])
    if aid != qid:
        fail("answer out of order: expected id %d, got %d" % (qid, aid))
    if not flags & 0x8000:
        fail("answer %d has QR clear" % qid)
    # The question is echoed: the bytes after the header up to QTYPE/QCLASS.
    if ans[12:len(q)] != q[12:]:
        fail("answer %d does not echo its question" % qid)
    return flags & 0xF


def pipeline(host, port, n, name, qtype, delay=0.0):
    rng = random.Random(n)
    qs = [query(i % 65535 + 1, name, qtype) for i in range(n)]
    stream = b"".join(struct.pack(">H", len(q)) + q for q in qs)
    s = tcp_connect(host, port, timeout=10.0 + delay, rcvbuf=4096 if delay else 0)
    errors = []

    def send():
        # Random cuts, some inside a length prefix, with pauses so the
        # server really sees partial frames.
        pos = 0
        try:
            while pos < len(stream):
                step = rng.choice([1, 2, 3, 7, 30, 200, 4000])
                s.sendall(stream[pos:pos + step])
                pos += step
                if rng.random() < 0.02:
                    time.sleep(0.005)
        except OSError as e:
            errors.append(e)

    # A sender thread: with a slow reader the server stops reading, and a
    # single thread would deadlock on its own send.
    t = threading.Thread(target=send)
    t.start()
    time.sleep(delay)
    for i, q in enumerate(qs):
        ans = recv_msg(s)
        qid = i % 65535 + 1
        rcode = check_answer(ans, qid, q)
        # Every name asked is in the zone: anything but an authoritative
        # NOERROR with records (SERVFAIL under load, say) is a failure.
        (flags, ancount) = struct.unpack(">H2xH", ans[2:8])
        if rcode != 0 or not flags & 0x0400 or ancount == 0:
            fail("answer %d: rcode %d, AA %d, %d answers; want NOERROR, AA, >= 1"
                 % (qid, rcode, bool(flags & 0x0400), ancount))
    t.join()
    if errors:
        fail("sending: %s" % errors[0])
    s.close()
    print("ok: %d pipelined answers in order, all NOERROR+AA with records" % n)


def conns(host, port, n, limit):
    socks = []
    for _ in range(n):
        socks.append(tcp_connect(host, port))
    time.sleep(0.5)
    open_socks, closed = [], 0
    for s in socks:
        s.setblocking(False)
        try:
            data = s.recv(1)
            if data == b"":
                closed += 1
                s.close()
                continue
            fail("unexpected data on an idle connection")
        except BlockingIOError:
            open_socks.append(s)
        except ConnectionResetError:
            closed += 1
            s.close()
    if len(open_socks) > limit:
        fail("%d connections open, limit is %d" % (len(open_socks), limit))
    if len(open_socks) < limit:
        fail("only %d connections open, expected %d" % (len(open_socks), limit))
    for i, s in enumerate(open_socks):
        s.setblocking(True)
        s.settimeout(5.0)
        q = query(i + 1, "example.org", "SOA")
        s.sendall(struct.pack(">H", len(q)) + q)
        check_answer(recv_msg(s), i + 1, q)
        s.close()
    # Closed connections free their slots: a new one is served.
    time.sleep(0.3)
    s = tcp_connect(host, port)
    q = query(7, "example.org", "SOA")
    s.sendall(struct.pack(">H", len(q)) + q)
    check_answer(recv_msg(s), 7, q)
    print("ok: %d of %d connections kept, %d closed at once, all kept ones answer"
          % (len(open_socks), n, closed))


def idle(host, port, lo, hi):
    s = tcp_connect(host, port, timeout=hi + 5)
    t0 = time.monotonic()
    try:
        data = s.recv(1)
    except ConnectionResetError:
        data = b""
    dt = time.monotonic() - t0
    if data != b"":
        fail("unexpected data on an idle connection")
    if not lo <= dt <= hi:
        fail("idle connection closed after %.1f s, expected %g..%g" % (dt, lo, hi))
    print("ok: idle connection closed after %.1f s" % dt)


def garbage(host, port, n, seed):
    rng = random.Random(seed)
    base = [query(1, "example.org", "SOA"), query(2, "www.example.org", "A", edns=True),
            query(3, "x.apps.example.org", "ANY", edns=True)]
    u = socket.socket(family(host), socket.SOCK_DGRAM)
    u.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    u.setblocking(False)
    answers, biggest = 0, 0

    def drain():
        nonlocal answers, biggest
        while True:
            try:
                data = u.recv(65535)
            except BlockingIOError:
                return
            answers += 1
            biggest = max(biggest, len(data))

    for i in range(n):
        kind = i % 4
        if kind == 0:
            pkt = bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 600)))
        elif kind == 1:
            pkt = bytearray(rng.choice(base))
            for _ in range(rng.randrange(1, 6)):
                pkt[rng.randrange(len(pkt))] = rng.getrandbits(8)
        elif kind == 2:
            pkt = rng.choice(base)[:rng.randrange(0, 40)]
        else:
            # Plausible header, random counts and random body with
            # compression pointers sprinkled in.
            pkt = struct.pack(">HHHHHH", rng.getrandbits(16), rng.getrandbits(16) & 0x7FFF,
                              rng.randrange(0, 3), rng.randrange(0, 3), rng.randrange(0, 3),
                              rng.randrange(0, 3))
            body = bytearray(rng.getrandbits(8) for _ in range(rng.randrange(0, 300)))
            for _ in range(rng.randrange(0, 4)):
                if body:
                    p = rng.randrange(len(body))
                    body[p] = 0xC0
            pkt += bytes(body)
        try:
            u.sendto(bytes(pkt), (host, port))
        except OSError:
            pass
        if i % 64 == 0:
            time.sleep(0.002)
            drain()
    time.sleep(0.5)
    drain()
    if biggest > 1232:
        fail("a UDP answer of %d bytes to garbage" % biggest)

    # TCP garbage: random frames, a zero-length frame, a frame that
    # announces more than is sent, then the connection is dropped.
    for _ in range(20):
        try:
            s = tcp_connect(host, port)
            blob = bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 2000)))
            s.sendall(b"\0\0" + blob + b"\xff\xff" + blob[:100])
            s.close()
        except OSError:
            pass

    # Still alive and answering on both transports.
    q = query(4242, "example.org", "SOA")
    u.setblocking(True)
    u.settimeout(3.0)
    u.sendto(q, (host, port))
    try:
        while True:
            data = u.recv(65535)
            if data[:2] == q[:2]:
                break
    except socket.timeout:
        fail("no UDP answer after the garbage")
    check_answer(data, 4242, q)
    s = tcp_connect(host, port)
    s.sendall(struct.pack(">H", len(q)) + q)
    check_answer(recv_msg(s), 4242, q)
    s.close()
    print("ok: %d garbage packets, %d answers (largest %d bytes), still serving"
          % (n, answers, biggest))


def main():
    a = sys.argv[1:]
    if len(a) < 3:
        print(__doc__)
        sys.exit(2)
    cmd, host, port = a[0], a[1], int(a[2])
    try:
        if cmd == "pipeline":
            pipeline(host, port, int(a[3]), a[4], a[5], float(a[6]) if len(a) > 6 else 0.0)
        elif cmd == "conns":
            conns(host, port, int(a[3]), int(a[4]))
        elif cmd == "idle":
            idle(host, port, float(a[3]), float(a[4]))
        elif cmd == "garbage":
            garbage(host, port, int(a[3]), int(a[4]))
        else:
            print(__doc__)
            sys.exit(2)
    except (OSError, socket.timeout) as e:
        fail("%s: %s" % (cmd, e))


if __name__ == "__main__":
    main()
