"""An OTLP/HTTP endpoint that accepts and discards what it is sent: telemetry-on runs of
benchmarks/fanout.py export to it, so the stream API pays the whole cost of tracing and metrics
(spans, batching, protobuf, HTTP) without a collector's CPU counting against it. Started by fanout.py
as `python benchmarks/otlp_sink.py PORT`."""

from __future__ import annotations

import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Discard(BaseHTTPRequestHandler):
    """200 with an empty protobuf answer to every export request."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", "0")))
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: one line per export would only cost CPU."""


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Discard).serve_forever()
