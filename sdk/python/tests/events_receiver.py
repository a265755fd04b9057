"""A receiver of the NDJSON events path as /work/shared/contract/pipes.md specifies it:
`POST /v0/events?name=<datasource>`, one JSON object a line, answered with
successful_rows, quarantined_rows, duplicates and rejected. It stores nothing; it
lets the SDK's NDJSON transport be checked against the spec on its own."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

from local_server import LocalServer, QuietHandler


class EventsReceiver(LocalServer):
    """Records every events post: (datasource, authorization header, rows)."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, str, list[dict[str, Any]]]] = []
        receiver = self

        class Handler(QuietHandler):
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

        super().__init__(Handler)
