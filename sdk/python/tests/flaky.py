"""A real HTTP front for the gateway on 127.0.0.1 that misbehaves as scripted, then forwards."""

from __future__ import annotations

import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self

import httpx


class FlakyFront:
    """Answers its first requests by `script` ("503 retry-after N": that status with
    Retry-After;
    "lose the answer": forward, then hang up without answering), then forwards."""

    def __init__(self, upstream: str, script: list[str]) -> None:
        self.times: list[float] = []
        front = self
        actions = deque(script)

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                front.times.append(time.monotonic())
                action = actions.popleft() if actions else "forward"
                if " retry-after " in action:
                    self.send_response(int(action.split()[0]))
                    self.send_header("Retry-After", action.rsplit(" ", 1)[1])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                answer = httpx.post(
                    upstream + self.path,
                    content=body,
                    headers={k: v for k, v in self.headers.items() if k.lower() != "host"},
                    timeout=30,
                )
                if action == "lose the answer":
                    self.close_connection = True
                    return
                self.send_response(answer.status_code)
                for name in ("content-type", "retry-after"):
                    if name in answer.headers:
                        self.send_header(name, answer.headers[name])
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

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
