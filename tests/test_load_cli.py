"""`analytics-gateway load` as a user runs it: exit codes, summary, no tracebacks."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from db.tables import product_events
from tests.factories import ndjson, product_event

CLI = str(Path(sys.executable).parent / "analytics-gateway")


def _load(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run(
        [CLI, "load", *args], capture_output=True, text=True, timeout=120, env=env
    )


async def test_load_with_bad_lines_exits_zero_and_shows_them_by_line(db, database_url, tmp_path):
    now = datetime.now(UTC)
    rows = [product_event(now - timedelta(minutes=n)) for n in range(1, 4)]
    path = tmp_path / "events.ndjson"
    path.write_text(ndjson([rows[0], "oops", rows[1], product_event(now, eventType=""), rows[2]]))
    done = _load(database_url, str(path), "--kind", "product-events")
    assert done.returncode == 0, done.stderr
    assert "3 accepted, 0 duplicates, 2 rejected" in done.stderr
    assert "line 2: not valid JSON" in done.stderr
    assert "line 4 (eventType): eventType is required" in done.stderr
    async with db.read() as conn:
        stored = (await conn.execute(select(func.count()).select_from(product_events))).scalar()
    assert stored == 3


def test_unknown_kind_exits_non_zero_with_a_message_and_no_traceback(database_url, tmp_path):
    path = tmp_path / "events.ndjson"
    path.write_text("{}\n")
    done = _load(database_url, str(path), "--kind", "users")
    assert done.returncode == 1
    assert "unknown kind 'users'" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_unreadable_file_exits_non_zero_with_a_message_and_no_traceback(database_url, tmp_path):
    done = _load(database_url, str(tmp_path / "absent.ndjson"), "--kind", "product-events")
    assert done.returncode == 1
    assert "cannot read" in done.stderr
    assert "absent.ndjson" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
