"""`serve` on the embedded Postgres: the admin token made on first start (printed
once, saved 0600, reused), and SIGTERM stopping it cleanly with no Postgres left."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil

from gateway.admin_secret import ensure_admin_secret
from gateway.settings import Settings

CLI = str(Path(sys.executable).parent / "analytics-gateway")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _postgres_of(data_dir: Path) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(attrs=["name", "cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if process.info["name"] == "postgres" and str(data_dir) in cmdline:
            found.append(process)
    return found


def _start(data_dir: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_", "DATABASE_URL"))}
    env["GATEWAY_DATA_DIR"] = str(data_dir)
    with log.open("wb") as out:
        process = subprocess.Popen(
            [CLI, "serve", "--port", str(port)], stdout=out, stderr=out, env=env
        )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        assert process.poll() is None, log.read_text()
        time.sleep(0.2)
    process.kill()
    raise AssertionError("serve did not become healthy: " + log.read_text())


def _terminate(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=30)


def test_serve_makes_an_admin_token_once_and_sigterm_leaves_no_postgres(tmp_path):
    data_dir = (tmp_path / "data").resolve()
    port = _free_port()
    first = _start(data_dir, port, tmp_path / "first.log")
    try:
        secret_file = data_dir / "admin-token"
        secret = secret_file.read_text().strip()
        assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
        printed = (tmp_path / "first.log").read_text()
        assert f'{{"Authorization": "Bearer {secret}"}}' in printed
        # The real header line replaces the <token> template: one header line, not two.
        assert printed.count("headers pane") == 1
        assert "Bearer <token>" not in printed
        url = f"http://127.0.0.1:{port}/graphql"
        query = {"query": "{ stats { products } }"}
        assert httpx.post(url, json=query).status_code == 401
        authorized = httpx.post(url, json=query, headers={"Authorization": f"Bearer {secret}"})
        assert authorized.json() == {"data": {"stats": {"products": 0}}}
        assert _postgres_of(data_dir)
    finally:
        _terminate(first)
    assert _postgres_of(data_dir) == []


def test_the_admin_secret_is_created_once_with_mode_0600_and_reused(tmp_path):
    settings = Settings(database_url="postgresql://unused/x", data_dir=tmp_path / "data")
    first, created = ensure_admin_secret(settings)
    again, created_again = ensure_admin_secret(settings)
    assert created is not None
    assert created_again is None
    assert first.admin_token is not None
    assert again.admin_token is not None
    assert first.admin_token.get_secret_value() == again.admin_token.get_secret_value() == created
    assert stat.S_IMODE((tmp_path / "data" / "admin-token").stat().st_mode) == 0o600
    configured = Settings(
        database_url="postgresql://unused/x", admin_token="chosen", data_dir=tmp_path
    )
    assert ensure_admin_secret(configured) == (configured, None)
