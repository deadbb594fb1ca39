"""Loopback listeners for the tests: a free port, and an HTTP collector of the JSON
bodies POSTed to it (what a telemetry extension's listener, or its dispatch target,
receives)."""

from __future__ import annotations

import http.server
import json
import socket
import threading
from typing import Any, Dict, List, Optional


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class JsonCollector:
    """Collects the JSON body of every POST (one batch per POST); can start late, on a
    port chosen before it listens."""

    def __init__(self, port: int = 0) -> None:
        self.batches: List[Any] = []
        self.port = port or free_port()
        self._server: Optional[http.server.ThreadingHTTPServer] = None

    def start(self) -> "JsonCollector":
        batches = self.batches

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                batches.append(json.loads(body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def events(self) -> List[Dict[str, Any]]:
        """Every item of every batch, in arrival order (batches that are JSON arrays)."""
        return [e for batch in self.batches for e in batch]

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
