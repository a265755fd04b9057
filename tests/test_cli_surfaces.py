"""The CLI as a person meets it: readable --help, load progress, where the surfaces are."""

from __future__ import annotations

import io
import os
import re
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rich.console import Console

from gateway.load_progress import progress
from tests.factories import ADMIN_SECRET, ndjson, product_event

CLI = str(Path(sys.executable).parent / "analytics-gateway")


@pytest.mark.parametrize("command", [[], ["demo"], ["load"]])
def test_help_shows_value_names_not_python_types(command):
    shown = subprocess.run(
        [CLI, *command, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "120"},
    )
    assert shown.returncode == 0
    assert not re.search(r"<(bool|str|int)>", shown.stdout), shown.stdout
    if command == ["load"]:
        assert "KIND" in shown.stdout
        assert "FORMAT" in shown.stdout


async def test_load_prints_plain_progress_lines_when_not_a_terminal(db, database_url, tmp_path):
    now = datetime.now(UTC)
    path = tmp_path / "events.ndjson"
    path.write_text(ndjson([product_event(now - timedelta(minutes=n)) for n in range(1, 8)]))
    done = subprocess.run(
        [CLI, "load", str(path), "--kind", "product-events"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "DATABASE_URL": database_url},
    )
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("loading events")]
    assert lines, done.stderr
    assert re.fullmatch(
        r"loading events\.ndjson: 100% \(7 rows, [\d,]+ rows/s, about 0 s left\)", lines[-1]
    )
    assert "\x1b[" not in done.stderr  # no terminal control codes in a log


def test_load_draws_a_bar_with_rows_per_second_on_a_terminal():
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=120)
    with progress(console, "events.ndjson", 1000) as report:
        time.sleep(0.05)
        report(500, 12_000)
        console.print(end="")  # one refresh while the bar is live
    assert "12,000 rows" in screen.getvalue()
    assert "rows/s" in screen.getvalue()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_serve_prints_where_graphiql_and_the_console_are(database_url):
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "GATEWAY_ADMIN_TOKEN": ADMIN_SECRET}
    server = subprocess.Popen(
        [CLI, "serve", "--port", str(port)],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    seen: list[str] = []
    try:
        assert server.stderr is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any("headers pane" in s for s in seen):
            line = server.stderr.readline()
            if not line:
                break
            seen.append(line)
    finally:
        server.terminate()
        server.wait(timeout=30)
        if server.stderr is not None:
            server.stderr.close()
    text = "".join(seen)
    assert f"http://127.0.0.1:{port}/graphql" in text
    assert f"http://127.0.0.1:{port}/console" in text
    assert '{"Authorization": "Bearer <token>"}' in text
    assert ADMIN_SECRET not in text  # a configured secret is never printed by serve
