#!/usr/bin/env python3
"""A CA that stalls, for tests/e2e/cert_stall.sh (issue 10: capd's stop
must not wait for a CA that does not answer).

  acme_stall.py accept PORT
      listens on 127.0.0.1:PORT, accepts connections and never sends a byte
      (a TLS handshake that never completes).
  acme_stall.py challenge PORT CERT KEY NAME
      an HTTPS ACME server on 127.0.0.1:PORT (CERT/KEY: its certificate)
      that answers the directory, nonces, the account, newOrder for NAME and
      its one pending dns-01 authorization, then holds the challenge answer
      (POST /chal) open forever, so the order's request is in flight while
      its TXT record is published.

Signatures are not checked: the server only has to get the client that
far. Every request is printed on stdout ("held" when one is held open)
and flushed, so the test can wait for a step. Runs until killed.
"""
import http.server
import json
import socket
import ssl
import sys
import threading
import time


def accept_forever(port):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(16)
    print("listening", flush=True)
    held = []
    while True:
        conn, _ = srv.accept()
        held.append(conn)  # kept open, never answered
        print("accepted (held)", flush=True)


def serve_challenge(port, cert, key, name):
    base = "https://127.0.0.1:%d" % port
    nonce = [0]
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            pass

        def nonce_header(self):
            with lock:
                nonce[0] += 1
                n = nonce[0]
            self.send_header("Replay-Nonce", "nonce-%d" % n)

        def reply(self, status, doc, location=None):
            body = json.dumps(doc).encode()
            self.send_response(status)
            self.nonce_header()
            if location:
                self.send_header("Location", location)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_HEAD(self):
            print("HEAD " + self.path, flush=True)
            self.send_response(200)
            self.nonce_header()
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self):
            print("GET " + self.path, flush=True)
            self.reply(200, {"newNonce": base + "/nonce", "newAccount": base + "/acct",
                             "newOrder": base + "/order"})

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            print("POST " + self.path, flush=True)
            if self.path == "/acct":
                self.reply(200, {"status": "valid"}, base + "/acct/1")
            elif self.path == "/order":
                self.reply(201, {"status": "pending",
                                 "identifiers": [{"type": "dns", "value": name}],
                                 "authorizations": [base + "/authz/1"],
                                 "finalize": base + "/finalize/1"}, base + "/order/1")
            elif self.path == "/authz/1":
                self.reply(200, {"status": "pending",
                                 "identifier": {"type": "dns", "value": name},
                                 "challenges": [{"type": "dns-01", "status": "pending",
                                                 "url": base + "/chal/1",
                                                 "token": "stalltoken0123456789"}]})
            else:  # /chal/1 and anything later: held open, never answered
                print("held " + self.path, flush=True)
                while True:
                    time.sleep(3600)

    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True
        allow_reuse_address = True

    srv = Server(("127.0.0.1", port), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print("listening", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "accept":
        accept_forever(int(sys.argv[2]))
    elif len(sys.argv) == 6 and sys.argv[1] == "challenge":
        serve_challenge(int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5])
    else:
        sys.exit(__doc__)
