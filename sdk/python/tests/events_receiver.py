"""A receiver of the NDJSON events path as /work/shared/contract/pipes.md specifies it:
`POST /v0/events?name=<datasource>`, one JSON object a line, answered with
successful_rows, quarantined_rows, duplicates and rejected. It stores nothing; it
lets the SDK's NDJSON transport be checked against the spec on its own."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit


class EventsReceiver:
    """Records every events post: (datasource, authorization header, rows)."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, str, list[dict[str, Any]]]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                url = urlsplit(self.path)
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                if url.path != "/v0/events":
                    self.send_error(404)
                    return
                name = parse_qs(url.query)["name"][0]
                rows = [json.loads(line) for line in body.decode().splitlines() if line]
                receiver.posts.append((name, self.headers.get("authorization", ""), rows))
                rejected = [
                    {"line": number, "field": "status_code", "reason": "outside 100..599"}
                    for number, row in enumerate(rows)
                    if not 100 <= row.get("status_code", 200) <= 599
                ]
                answer = json.dumps(
                    {
                        "successful_rows": len(rows) - len(rejected),
                        "quarantined_rows": len(rejected),
                        "duplicates": 0,
                        "rejected": rejected,
                    }
                ).encode()
                self.send_response(202)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)
