"""A real local HTTP endpoint for apprise's JSON target (`json://127.0.0.1:<port>/path`): it records every POST
and answers with the queued status codes (then 200). The notification tests send to it; no mocks."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Endpoint:
    """A local webhook: records every POST, answers with the queued status codes (then 200)."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.statuses: dict[str, list[int]] = {}
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                payload = json.loads(self.rfile.read(length) or b"{}")
                endpoint.requests.append({"path": self.path, "received_at": time.time(), **payload})
                queue = endpoint.statuses.get(self.path, [])
                status = queue.pop(0) if queue else 200
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str = "/hook") -> str:
        return f"json://127.0.0.1:{self.server.server_port}{path}"

    def posts(self, path: str = "/hook") -> list[dict]:
        return [r for r in self.requests if r["path"].startswith(path)]
