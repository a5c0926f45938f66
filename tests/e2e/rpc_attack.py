#!/usr/bin/env python3
"""Hostile Cap'n Proto RPC peers against capd, for tests/e2e/hostile_rpc.sh (issue 9).

Frames are built by hand from the wire format (capnp encoding spec, rpc.capnp
field offsets as in src/rpc/gen/rpc.capnp.h), so no attack depends on the
code it attacks. Every attack is bounded in count and time and ends by itself.

  rpc_attack.py --port P --cert C --key K [--cap FILE] [--pid PID --rss-kib N]
                ATTACK [N]

ATTACK is one of: dag, dag-auth, unknown, pipeline, bootfinish, conns,
halfopen, trickle. Exit status: 0 = capd held (for the checks this program
makes itself), 1 = a check failed (one line on stdout says which), 2 = usage
or setup error. Progress lines go to stdout, prefixed "attack:".
"""
import argparse
import base64
import os
import select
import socket
import ssl
import struct
import sys
import time

# rpc.capnp Message union tags used here
MSG_ABORT, MSG_CALL, MSG_RETURN, MSG_FINISH, MSG_BOOTSTRAP = 1, 2, 3, 4, 8
UNKNOWN_TAG = 0x7FF0  # no Message member has this tag
DOMAIN_ID = 0xDEBB01F25D5FEE15  # schema/eon.capnp interface Domain
GETNAME = 0


def say(*a):
    print("attack:", *a, flush=True)


def fail(msg):
    print("attack: FAIL", msg, flush=True)
    sys.exit(1)


# ---------------------------------------------------------------- encoding


class Seg:
    """One segment being built: a list of 8-byte words, allocated in order."""

    def __init__(self):
        self.w = bytearray()

    def alloc(self, words):
        at = len(self.w) // 8
        self.w += bytes(8 * words)
        return at

    def struct_ptr(self, at, target, dwords, pwords):
        off = target - (at + 1)
        lo = ((off & 0x3FFFFFFF) << 2) | 0
        struct.pack_into("<II", self.w, at * 8, lo, dwords | (pwords << 16))

    def list_ptr(self, at, target, elem_size, count):
        off = target - (at + 1)
        lo = ((off & 0x3FFFFFFF) << 2) | 1
        struct.pack_into("<II", self.w, at * 8, lo, elem_size | (count << 3))

    def new_struct(self, at, dwords, pwords):
        s = self.alloc(dwords + pwords)
        self.struct_ptr(at, s, dwords, pwords)
        return s

    def set_u16(self, s, byte_off, v):
        struct.pack_into("<H", self.w, s * 8 + byte_off, v)

    def set_u32(self, s, byte_off, v):
        struct.pack_into("<I", self.w, s * 8 + byte_off, v)

    def set_u64(self, s, byte_off, v):
        struct.pack_into("<Q", self.w, s * 8 + byte_off, v)

    def set_bit(self, s, bit):
        self.w[s * 8 + bit // 8] |= 1 << (bit % 8)

    def text(self, at, data):
        """Text (bytes plus NUL) at pointer word `at`."""
        n = len(data) + 1
        t = self.alloc((n + 7) // 8)
        self.w[t * 8 : t * 8 + len(data)] = data
        self.list_ptr(at, t, 2, n)

    def frame(self):
        assert len(self.w) % 8 == 0
        return struct.pack("<II", 0, len(self.w) // 8) + bytes(self.w)


def message(tag, dwords=1, pwords=1):
    """A Message root: returns (segment, root struct word)."""
    seg = Seg()
    root_ptr = seg.alloc(1)
    root = seg.new_struct(root_ptr, 1, 1)
    seg.set_u16(root, 0, tag)
    return seg, root


def bootstrap_frame(qid, service_id):
    seg, root = message(MSG_BOOTSTRAP)
    b = seg.new_struct(root + 1, 1, 1)
    seg.set_u32(b, 0, qid)
    if service_id:
        seg.text(b + 1, service_id)  # deprecatedObjectId: Text of the raw ID
    return seg.frame()


def finish_frame(qid, release_result_caps=True):
    seg, root = message(MSG_FINISH)
    f = seg.new_struct(root + 1, 1, 0)
    seg.set_u32(f, 0, qid)
    if not release_result_caps:
        seg.set_bit(f, 32)  # stored XOR default (true)
    return seg.frame()


def call_frame(qid, promised_qid, iface, method):
    """Call on promisedAnswer(promised_qid) with an empty transform and an
    empty params struct; results go to the caller."""
    seg, root = message(MSG_CALL)
    c = seg.new_struct(root + 1, 3, 3)
    seg.set_u32(c, 0, qid)
    seg.set_u16(c, 4, method)
    seg.set_u64(c, 8, iface)
    tgt = seg.new_struct(c + 3, 1, 1)
    seg.set_u16(tgt, 4, 1)  # MessageTarget.promisedAnswer
    pa = seg.new_struct(tgt + 1, 1, 1)
    seg.set_u32(pa, 0, promised_qid)
    payload = seg.new_struct(c + 4, 0, 2)
    seg.new_struct(payload, 0, 0)  # content: an empty struct
    return seg.frame()


def unknown_frame():
    """A Message with an unknown union tag and a null pointer (16 bytes)."""
    seg, root = message(UNKNOWN_TAG)
    return seg.frame()


def dag_frame(levels=22):
    """A Message with an unknown tag whose root has two pointers to the same
    level-1 struct, each level's two pointers to the same next level: 392
    bytes on the wire, 2**levels structs if copied as a tree."""
    seg = Seg()
    root_ptr = seg.alloc(1)
    root = seg.new_struct(root_ptr, 1, 2)
    seg.set_u16(root, 0, UNKNOWN_TAG)
    ptrs = (root + 1, root + 2)
    for _ in range(levels):
        s = seg.alloc(2)
        for p in ptrs:
            seg.struct_ptr(p, s, 0, 2)
        ptrs = (s, s + 1)
    return seg.frame()


def read_frames(data):
    """Splits received bytes into (tag, frame_len) for whole frames."""
    out, off = [], 0
    while len(data) - off >= 8:
        nseg = struct.unpack_from("<I", data, off)[0] + 1
        hdr = 4 + 4 * nseg
        hdr += hdr % 8
        if len(data) - off < hdr:
            break
        sizes = struct.unpack_from("<%dI" % nseg, data, off + 4)
        total = hdr + 8 * sum(sizes)
        if len(data) - off < total:
            break
        root = struct.unpack_from("<Q", data, off + hdr)[0]
        rofs = ((root & 0xFFFFFFFF) >> 2) + 1
        tag = struct.unpack_from("<H", data, off + hdr + 8 * rofs)[0] if root else 0
        out.append((tag, total))
        off += total
    return out


# ---------------------------------------------------------------- plumbing


def rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return -1
    return -1


class Peer:
    def __init__(self, args, tls=True, src=None, timeout=10.0):
        self.args = args
        raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if src:
            raw.bind((src, 0))
        raw.settimeout(timeout)
        raw.connect(("127.0.0.1", args.port))
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE  # an attacker need not check the server
            ctx.load_cert_chain(args.cert, args.key)
            self.s = ctx.wrap_socket(raw)
        else:
            self.s = raw

    def send(self, b):
        self.s.sendall(b)

    def read_until_eof(self, limit_bytes, seconds):
        """Reads until EOF, limit_bytes, or `seconds` without data.
        Returns (bytes, eof)."""
        buf = bytearray()
        self.s.settimeout(seconds)
        try:
            while len(buf) < limit_bytes:
                d = self.s.recv(65536)
                if not d:
                    return bytes(buf), True
                buf += d
        except (socket.timeout, TimeoutError):
            return bytes(buf), False
        except (ConnectionError, ssl.SSLError, OSError):
            return bytes(buf), True
        return bytes(buf), False

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def service_id(cap_file):
    uri = open(cap_file).read().strip()
    b64 = uri.rsplit("/", 1)[1]
    return base64.urlsafe_b64decode(b64 + "=" * (-len(b64) % 4))


def check_rss(args, what):
    if not args.pid:
        return
    r = rss_kib(args.pid)
    if r < 0:
        fail("%s: capd is gone" % what)
    if r > args.rss_kib:
        fail("%s: capd's RSS %d MiB is over the bound %d MiB" % (what, r // 1024, args.rss_kib // 1024))


def hold(args, seconds, what, peers=()):
    """Keeps the connections open for `seconds`, checking capd's RSS."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        check_rss(args, what)
        time.sleep(0.2)
    check_rss(args, what)


# ---------------------------------------------------------------- attacks


def a_dag(args, authed):
    """Issue 9 point 1: ~392-byte DAG frames, never read (or, authed, read
    back with a cap: the answers must not outgrow the frames)."""
    f = dag_frame()
    say("dag frame is %d bytes" % len(f))
    p = Peer(args)
    sent = 0
    if authed:
        p.send(bootstrap_frame(0, service_id(args.cap)))
    n = args.n
    # All frames in one write, as an attacker would: capd then handles them
    # in one go, before any flush of its output.
    check_rss(args, "before dag frames")
    try:
        p.send(f * n)
        sent = len(f) * n
    except (OSError, ssl.SSLError) as e:
        say("capd closed the connection while the frames went out (%s)" % e.__class__.__name__)
    if not authed:
        hold(args, 5, "after %d dag frames" % n)
        p.close()
        say("ok: %d dag frames, RSS stayed under the bound" % n)
        return
    # Echo bound: capd may answer each frame with at most as many bytes as
    # it got (Unimplemented) or an Abort; the Return to Bootstrap is small.
    limit = sent + 4096
    got, eof = p.read_until_eof(limit + 1, 10)
    check_rss(args, "after authenticated dag frames")
    p.close()
    if len(got) > limit:
        fail("%d dag frames (%d bytes) drew more than %d bytes of answers" % (n, sent, limit))
    say("ok: %d dag frames after restore: %d bytes back for %d sent (eof %s)" % (n, len(got), sent, eof))


def a_unknown(args):
    """1,000 unknown-tag frames before any restore: capd must end the
    connection (Abort + close), not answer them all."""
    p = Peer(args)
    f = unknown_frame()
    sent = 0
    for i in range(args.n):
        try:
            p.send(f)
            sent += 1
        except (OSError, ssl.SSLError):
            break
    check_rss(args, "unknown-tag frames")
    got, eof = p.read_until_eof(1 << 22, 5)
    p.close()
    frames = read_frames(got)
    tags = [t for t, _ in frames]
    say("sent %d unknown-tag frames; got %d frames back (%d Unimplemented, %d Abort), eof %s"
        % (sent, len(frames), tags.count(0), tags.count(MSG_ABORT), eof))
    if not eof:
        fail("capd kept the connection open after %d unknown-tag frames before any restore" % sent)
    if tags.count(0) >= args.n:
        fail("capd answered all %d unknown-tag frames before any restore" % args.n)


def a_pipeline(args):
    """Bootstrap the real service, then N pipelined getName calls on it (each
    finished at once, so the question limit is not what stops it); never
    read. capd must stop reading or close rather than queue without end."""
    p = Peer(args)
    p.s.settimeout(5)  # a send that makes no progress for 5 s: capd stopped reading
    p.send(bootstrap_frame(0, service_id(args.cap)))
    batch, i, why = 500, 1, "all sent"
    while i <= args.n:
        chunk = bytearray()
        for q in range(i, min(i + batch, args.n + 1)):
            chunk += call_frame(q, 0, DOMAIN_ID, GETNAME)
            chunk += finish_frame(q)
        try:
            p.send(bytes(chunk))
        except (socket.timeout, TimeoutError):
            why = "capd stopped reading (flow control)"
            break
        except (OSError, ssl.SSLError) as e:
            why = "capd closed the connection (%s)" % e.__class__.__name__
            break
        i += batch
        check_rss(args, "pipelined call %d" % i)
    say("pipelined %d calls: %s" % (min(i, args.n + 1) - 1, why))
    hold(args, 3, "after pipelined calls")
    p.close()
    say("ok: RSS stayed under the bound")


def a_bootfinish(args):
    """Bootstrap + Finish(releaseResultCaps=false) N times on one connection,
    never read."""
    p = Peer(args)
    p.s.settimeout(5)
    sid = service_id(args.cap)
    batch, i, why = 500, 0, "all sent"
    while i < args.n:
        chunk = bytearray()
        for q in range(i, min(i + batch, args.n)):
            chunk += bootstrap_frame(q, sid) + finish_frame(q, release_result_caps=False)
        try:
            p.send(bytes(chunk))
        except (socket.timeout, TimeoutError):
            why = "capd stopped reading"
            break
        except (OSError, ssl.SSLError) as e:
            why = "capd closed the connection (%s)" % e.__class__.__name__
            break
        i += batch
        check_rss(args, "bootstrap+finish %d" % i)
    say("bootstrap+finish x%d: %s" % (min(i, args.n), why))
    hold(args, 3, "after bootstrap+finish loops")
    p.close()
    say("ok: RSS stayed under the bound")


def ready(args):
    if args.ready:
        open(args.ready, "w").close()


def a_conns(args):
    """N TCP connections from one address (args.src), held open for
    args.hold seconds without a byte."""
    peers = []
    for _ in range(args.n):
        try:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((args.src, 0))
            s.settimeout(5)
            s.connect(("127.0.0.1", args.port))
            peers.append(s)
        except OSError as e:
            say("connect %d: %s" % (len(peers), e))
            break
    say("%d connections open from %s" % (len(peers), args.src))
    ready(args)
    hold(args, args.hold, "%d idle connections" % len(peers))
    closed = 0
    for s in peers:
        r, _, _ = select.select([s], [], [], 0)
        if r:
            closed += 1
        s.close()
    say("ok: %d of %d were closed by capd" % (closed, len(peers)))


def client_hello_prefix():
    """The first 60 bytes of a TLS record that announces a 512-byte
    ClientHello: capd must wait for the rest, so the handshake stalls."""
    body = bytes([1]) + (508).to_bytes(3, "big") + b"\x03\x03" + os.urandom(32) + b"\x00"
    rec = b"\x16\x03\x01" + (512).to_bytes(2, "big") + body
    return rec[:60]


def a_halfopen(args):
    peers = []
    for _ in range(args.n):
        try:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((args.src, 0))
            s.settimeout(5)
            s.connect(("127.0.0.1", args.port))
            s.sendall(client_hello_prefix())
            peers.append(s)
        except OSError as e:
            say("half-open %d: %s" % (len(peers), e))
            break
    say("%d half-open TLS handshakes from %s" % (len(peers), args.src))
    ready(args)
    hold(args, args.hold, "%d half-open handshakes" % len(peers))
    for s in peers:
        s.close()
    say("ok")


def a_trickle(args):
    """args.n peers after a TLS handshake and args.n before it, each sending
    one byte a second (a Bootstrap frame, a ClientHello) for args.hold s."""
    tls_peers, raw_peers = [], []
    boot = bootstrap_frame(0, service_id(args.cap))
    hello = client_hello_prefix()
    for _ in range(args.n):
        tls_peers.append([Peer(args, src=args.src), 0])
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((args.src, 0))
        s.settimeout(5)
        s.connect(("127.0.0.1", args.port))
        raw_peers.append([s, 0])
    ready(args)
    end = time.monotonic() + args.hold
    cut = 0
    while time.monotonic() < end:
        for pr in tls_peers:
            if pr[1] is None:
                continue
            try:
                pr[0].send(boot[pr[1] % len(boot) : pr[1] % len(boot) + 1])
                pr[1] += 1
            except (OSError, ssl.SSLError):
                pr[1] = None
                cut += 1
        for pr in raw_peers:
            if pr[1] is None:
                continue
            try:
                pr[0].sendall(hello[pr[1] % len(hello) : pr[1] % len(hello) + 1])
                pr[1] += 1
            except OSError:
                pr[1] = None
                cut += 1
        check_rss(args, "1 byte/s peers")
        time.sleep(1)
    for pr in tls_peers:
        pr[0].close()
    for pr in raw_peers:
        pr[0].close()
    say("ok: %d slow peers, %d cut off by capd" % (2 * args.n, cut))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--cap")
    ap.add_argument("--pid", type=int, default=0)
    ap.add_argument("--rss-kib", type=int, default=256 * 1024)
    ap.add_argument("--src", default="127.0.0.1")
    ap.add_argument("--hold", type=float, default=10)
    ap.add_argument("--ready")
    ap.add_argument("attack")
    ap.add_argument("n", type=int, nargs="?", default=1)
    args = ap.parse_args()
    attacks = {
        "dag": lambda: a_dag(args, False),
        "dag-auth": lambda: a_dag(args, True),
        "unknown": lambda: a_unknown(args),
        "pipeline": lambda: a_pipeline(args),
        "bootfinish": lambda: a_bootfinish(args),
        "conns": lambda: a_conns(args),
        "halfopen": lambda: a_halfopen(args),
        "trickle": lambda: a_trickle(args),
    }
    if args.attack not in attacks:
        print("unknown attack", args.attack, file=sys.stderr)
        sys.exit(2)
    try:
        attacks[args.attack]()
    except (ConnectionError, ssl.SSLError, socket.timeout, TimeoutError) as e:
        # Being cut off is capd's right; the shell checks what matters.
        say("connection ended: %s: %s" % (e.__class__.__name__, e))


if __name__ == "__main__":
    main()
