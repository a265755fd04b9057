"""The gateway under test: `analytics-gateway serve` as a subprocess on its own database."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
from sqlalchemy.engine import make_url

from db.embedded import EmbeddedPostgres

TOKEN = "bench-admin-token-0123456789abcdef"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def libpq(url: str) -> str:
    """A SQLAlchemy URL as psycopg takes it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@dataclass
class BenchDatabase:
    """A database made for one benchmark run, on the server at server_url, or on an
    embedded Postgres in folder when server_url is None."""

    server_url: str | None
    folder: Path
    url: str = ""
    name: str = field(default_factory=lambda: f"gateway_bench_{uuid.uuid4().hex[:8]}")
    _embedded: EmbeddedPostgres | None = None

    def create(self) -> None:
        """Create the database (starting the embedded server first when needed)."""
        if self.server_url is None:
            self._embedded = EmbeddedPostgres(self.folder / "pg")
            self.server_url = self._embedded.start()
        with psycopg.connect(libpq(self.server_url), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')
        self.url = make_url(self.server_url).set(database=self.name).render_as_string(False)

    def drop(self) -> None:
        """Drop what create made."""
        if self.server_url is not None:
            with psycopg.connect(libpq(self.server_url), autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        if self._embedded is not None:
            self._embedded.stop()
            shutil.rmtree(self.folder / "pg", ignore_errors=True)


class Gateway:
    """A running `analytics-gateway serve`; stop() ends it and reports its peak RSS."""

    def __init__(self, database: BenchDatabase, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.environment = {
            **os.environ,
            "DATABASE_URL": database.url,
            "GATEWAY_ADMIN_TOKEN": TOKEN,
            # The benchmark measures throughput: the per-token rate limit must not cap it.
            "GATEWAY_RATE_LIMIT_PER_SECOND": "1000000",
            "GATEWAY_RATE_LIMIT_BURST": "1000000",
        }
        self._log = log.open("ab")
        self.process = subprocess.Popen(
            [_cli(), "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            env=self.environment,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self._wait_ready(timeout=120)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the gateway exited with {self.process.returncode}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError("the gateway did not answer /healthz in time")

    def peak_rss_mb(self) -> float:
        """The server process's peak resident memory so far (VmHWM), in MB."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        """Ask the server to stop, and wait for it."""
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()


def _cli() -> str:
    """The analytics-gateway script beside this interpreter."""
    return str(Path(sys.executable).with_name("analytics-gateway"))
