"""How `load` shows it is alive: a rich bar on a terminal, plain lines otherwise.

Both show rows, rows per second and the time left, estimated from the bytes
read against the file's size (rows per byte stays steady within one file).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

# A plain line at most this often, so a log file gets a heartbeat, not a flood.
PLAIN_EVERY_SECONDS = 2.0


# Called after each written chunk with the bytes read and the rows handled so far
# (stored once their segment commits).
Report = Callable[[int, int], None]


class _RowsPerSecond(TextColumn):
    """`12,345 rows · 8,000 rows/s` from the task's rows field and elapsed time."""

    def __init__(self) -> None:
        super().__init__("")

    def render(self, task: Task) -> Text:
        """The rows so far and their rate."""
        rows = int(task.fields.get("rows", 0))
        elapsed = task.elapsed or 0.0
        rate = rows / elapsed if elapsed > 0 else 0.0
        return Text(f"{rows:,} rows · {rate:,.0f} rows/s")


def plain_line(name: str, done_bytes: int, size: int, rows: int, seconds: float) -> str:
    """One progress line for a log: share done, rows, rate and time left."""
    share = done_bytes / size if size else 1.0
    rate = rows / seconds if seconds > 0 else 0.0
    left = seconds * (1 - share) / share if share > 0 else float("nan")
    return (
        f"loading {name}: {share:.0%} ({rows:,} rows, {rate:,.0f} rows/s, about {left:,.0f} s left)"
    )


@contextmanager
def progress(console: Console, name: str, size: int) -> Iterator[Report]:
    """A Report that draws a bar on a terminal and prints plain lines elsewhere."""
    if console.is_terminal:
        columns = (
            TextColumn(f"loading {name}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            _RowsPerSecond(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=console, transient=True) as bar:
            task = bar.add_task("load", total=size, rows=0)
            yield lambda done, rows: bar.update(task, completed=done, rows=rows)
        return
    started = time.perf_counter()
    last = float("-inf")

    def plain(done: int, rows: int) -> None:
        nonlocal last
        now = time.perf_counter()
        if now - last >= PLAIN_EVERY_SECONDS or done >= size:
            last = now
            console.print(plain_line(name, done, size, rows, now - started), highlight=False)

    yield plain
