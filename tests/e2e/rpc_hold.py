#!/usr/bin/env python3
"""One Cap'n Proto RPC connection held open across capd reloads, for
tests/e2e/reload.sh (issue 13).

  rpc_hold.py --port P --cert C --key K --cap FILE --go GOFILE --name NAME

Bootstraps the Domain service of FILE and calls getName on it, then waits
(at most 120 s) until GOFILE exists, then calls getName again on the same
connection. Both answers must be Returns naming NAME. Exit 0 if so, 1 with
one line saying what went wrong. The frames come from rpc_attack.py, built
by hand from the wire format.
"""
import argparse
import os
import socket
import ssl
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rpc_attack import (DOMAIN_ID, GETNAME, MSG_RETURN, Peer, bootstrap_frame,  # noqa: E402
                        call_frame, finish_frame, read_frames, service_id)


def fail(msg):
    print("rpc_hold: FAIL", msg, flush=True)
    sys.exit(1)


def call(p, qid, name, what):
    """getName on the bootstrapped capability (question 0); waits for its Return."""
    p.send(call_frame(qid, 0, DOMAIN_ID, GETNAME))
    buf = bytearray()
    end = time.monotonic() + 30
    p.s.settimeout(1)
    while time.monotonic() < end:
        try:
            d = p.s.recv(65536)
        except (socket.timeout, TimeoutError):
            continue
        except (OSError, ssl.SSLError) as e:
            fail("%s: the connection broke: %s" % (what, e))
        if not d:
            fail("%s: capd closed the connection" % what)
        buf += d
        off = 0
        for tag, n in read_frames(bytes(buf)):
            frame = bytes(buf[off:off + n])
            off += n
            if tag == MSG_RETURN and name.encode() in frame:
                p.send(finish_frame(qid))
                return
        del buf[:off]
    fail("%s: no answer naming %s within 30 s" % (what, name))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--cap", required=True)
    ap.add_argument("--go", required=True)
    ap.add_argument("--name", required=True)
    args = ap.parse_args()
    p = Peer(args)
    p.send(bootstrap_frame(0, service_id(args.cap)))
    call(p, 1, args.name, "getName before the reloads")
    print("rpc_hold: connected, first call answered", flush=True)
    end = time.monotonic() + 120
    while not os.path.exists(args.go):
        if time.monotonic() > end:
            fail("nobody said go within 120 s")
        time.sleep(0.1)
    call(p, 2, args.name, "getName after the reloads, same connection")
    print("rpc_hold: ok, the same connection answered after the reloads", flush=True)
    p.close()


if __name__ == "__main__":
    main()
