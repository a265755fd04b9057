"""A real HTTP front for the gateway on 127.0.0.1 that misbehaves as scripted, then forwards."""

from __future__ import annotations

import time
from collections import deque

import httpx
from local_server import LocalServer, QuietHandler


class FlakyFront(LocalServer):
    """Answers its first requests by `script` ("503 retry-after N": that status with
    Retry-After;
    "lose the answer": forward, then hang up without answering), then forwards."""

    def __init__(self, upstream: str, script: list[str]) -> None:
        self.times: list[float] = []
        front = self
        actions = deque(script)

        class Handler(QuietHandler):
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

        super().__init__(Handler)
