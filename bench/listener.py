"""A webhook listener for the billable-burst benchmark: answers 200 at once, records each webhook-id.

    python bench/listener.py --port 9000 --out received.txt

Every request's ``webhook-id`` header is appended to ``--out`` (one a line). It prints
``listening on <port>`` once ready, and stops on SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    out = open(args.out, "a", buffering=1)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: the worker's client reuses its connections
        # the status line and headers, then the body, are two writes: with Nagle's algorithm on, the
        # second waits for the client's delayed ACK (~40 ms on Linux) before it leaves
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            if length:
                self.rfile.read(length)
            webhook_id = self.headers.get("webhook-id") or ""
            self.send_response(200)
            self.send_header("content-length", "2")
            self.send_header("content-type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok")
            with lock:
                out.write(webhook_id + "\n")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print(f"listening on {args.port}", flush=True)
    try:
        server.serve_forever(poll_interval=0.1)
    finally:
        server.server_close()
        out.close()
    sys.exit(0)


if __name__ == "__main__":
    main()
