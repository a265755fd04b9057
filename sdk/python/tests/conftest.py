"""Real parts on 127.0.0.1: the gateway as a subprocess on a private database, and
FastAPI services under uvicorn in a thread.

DATABASE_URL set: a fresh database is created on that server for the run and dropped
after it. Unset: an embedded Postgres in a temporary folder (the server package's).
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import uvicorn
from analytics_gateway_sdk import AnalyticsMiddleware, Tracker
from fastapi import FastAPI, HTTPException
from sqlalchemy.engine import make_url

from db.embedded import EmbeddedPostgres
from db.engine import normalize_url

ADMIN_SECRET = "sdk-test-admin-secret-0123456789abcdef"
CLI = str(Path(sys.executable).parent / "analytics-gateway")


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(condition: Callable[[], bool], seconds: float) -> bool:
    """Poll `condition` every 20 ms for at most `seconds`."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of an empty database that only this test run uses."""
    server_url = os.environ.get("DATABASE_URL")
    if not server_url:
        embedded = EmbeddedPostgres(tmp_path_factory.mktemp("pg"))
        yield embedded.start()
        embedded.stop()
        return
    name = f"sdk_test_{uuid.uuid4().hex[:10]}"
    url = make_url(normalize_url(server_url))
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield url.set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Gateway:
    """`analytics-gateway serve` as a user runs it; can be stopped and started again."""

    def __init__(self, database_url: str, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "GATEWAY_ADMIN_TOKEN": ADMIN_SECRET,
        }
        self._log = log
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start serving and wait until GraphQL answers (at most 90 s)."""
        with self._log.open("ab") as log:
            self._process = subprocess.Popen(
                [CLI, "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                env=self._env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        if not wait_until(self._answers, 90):
            self.stop()
            pytest.fail(f"the gateway did not start: {self._log.read_text()[-2000:]}")

    def _answers(self) -> bool:
        assert self._process is not None
        if self._process.poll() is not None:
            pytest.fail(f"the gateway exited: {self._log.read_text()[-2000:]}")
        try:
            return self.query("{ __typename }") == {"__typename": "Query"}
        except httpx.TransportError:
            return False

    def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL after 10 s)."""
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(10)
        self._process = None

    def query(self, document: str, variables: dict[str, Any] | None = None) -> Any:
        """The data of a GraphQL document that must succeed."""
        answer = httpx.post(
            f"{self.url}/graphql",
            json={"query": document, "variables": variables or {}},
            headers={"Authorization": f"Bearer {ADMIN_SECRET}"},
            timeout=30,
        ).json()
        assert not answer.get("errors"), answer
        return answer["data"]

    def endpoint_statuses(self, search: str) -> Counter[tuple[str, str]]:
        """Stored requests per (endpoint, status code) for endpoints matching `search`."""
        data = self.query(
            """query($search: String!) { endpoints(search: $search, first: 100) { nodes {
                 name breakdown(by: STATUS_CODE) { value metrics { requests } } } } }""",
            {"search": search},
        )
        return Counter(
            {
                (node["name"], part["value"]): part["metrics"]["requests"]
                for node in data["endpoints"]["nodes"]
                for part in node["breakdown"]
            }
        )


@pytest.fixture(scope="session")
def gateway(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """One gateway for the session; a test that stops it starts it again."""
    served = Gateway(database_url, tmp_path_factory.mktemp("gateway") / "gateway.log")
    served.start()
    yield served
    served.stop()


@pytest.fixture
def prefix() -> str:
    """A path prefix of this test's own, so its endpoints are its own."""
    return f"/t{uuid.uuid4().hex[:8]}"


def service(tracker: Tracker, prefix: str, **middleware: Any) -> FastAPI:
    """A small FastAPI service, every route under `prefix`, tracked by the middleware."""
    app = FastAPI()
    app.add_middleware(AnalyticsMiddleware, tracker=tracker, **middleware)

    @app.get(prefix + "/api/users/{user_id}")
    async def user(user_id: str) -> dict[str, str]:
        return {"id": user_id}

    @app.post(prefix + "/api/orders", status_code=201)
    async def order() -> dict[str, bool]:
        return {"created": True}

    @app.get(prefix + "/api/missing/{item}")
    async def missing(item: str) -> None:
        raise HTTPException(status_code=404, detail=f"no {item}")

    @app.get(prefix + "/api/boom")
    async def boom() -> None:
        raise RuntimeError("boom")

    @app.get(prefix + "/api/slow")
    async def slow() -> dict[str, bool]:
        await asyncio.sleep(0.35)
        return {"slow": True}

    mounted = FastAPI()

    @mounted.get("/items/{item_id}")
    async def item(item_id: str) -> dict[str, str]:
        return {"id": item_id}

    app.mount(prefix + "/v2", mounted)
    return app


@contextmanager
def serving(app: Any) -> Iterator[httpx.Client]:
    """Serve `app` with uvicorn in a thread on a free port; a client for it. Leaving the
    block shuts the server down (lifespan shutdown included)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="critical", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        assert wait_until(lambda: server.started, 30), "uvicorn did not start"
        port = sock.getsockname()[1]
        # A connection per request: uvicorn closes one after an unhandled exception, and
        # the next request on it would race that close.
        fresh = httpx.Limits(max_keepalive_connections=0)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30, limits=fresh) as http:
            yield http
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()
