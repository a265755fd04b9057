"""`analytics-gateway load FILE`: bulk-load NDJSON or API-log CSV through COPY.

Every row goes through the same validation as the mutations and is staged
in chunks of CHUNK_ROWS; up to SEGMENT_ROWS rows of chunks make one
transaction that stores them and adds them to the rollups once, at its end
(db.ingest.segment), while the next segment stages on a second connection;
the rollups are compacted when the file is loaded (db.compaction), beside
the fact table's VACUUM. A chunk of clean NDJSON lines is decoded into
columns in one msgspec call (gateway.load_formats.ndjson_blocks), other
chunks line by line. A bad line never stops the load: it is counted,
quarantined and, for the first few, shown. A rejected row's index is its
1-based line number in the file (the mutations' index is the 0-based
position in the submitted list instead).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Callable, Iterable, Iterator
from contextlib import aclosing
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

from rich.console import Console
from sqlalchemy import Table

from db.compaction import compact
from db.engine import Database
from db.ingest.api_requests import API_REQUEST
from db.ingest.batch import (
    CheckedBatch,
    IngestFailed,
    IngestKind,
    IngestOutcome,
    Rejection,
    check_batch,
    check_columns,
)
from db.ingest.bulk import vacuum_analyze
from db.ingest.metric_samples import METRIC_SAMPLE
from db.ingest.predictions import PREDICTION
from db.ingest.product_events import PRODUCT_EVENT
from db.ingest.segment import open_segment
from db.ingest.shape import RowContext
from gateway.load_formats import (
    BadLine,
    Block,
    ColumnBlock,
    Line,
    LoadError,
    api_log_lines,
    ndjson_blocks,
)
from gateway.load_progress import progress

# Rows are read, checked and COPYed in chunks, so memory stays bounded. A segment
# stages its chunks and stores them in one INSERT at its end (db.ingest.segment):
# the more rows, the denser each partition's index pages are written and the fewer
# rollup rows are appended and compacted (10M product events: 582 s in 500,000-row
# segments of per-chunk INSERTs, 488 s in 2,000,000-row ones, 328 s in 2,000,000-row
# segments of one INSERT each). But nothing overlaps the first segment's staging,
# and a million rows loaded in one segment would wait for it: a segment is about a
# quarter of the file, within [MIN_SEGMENT_ROWS, SEGMENT_ROWS].
CHUNK_ROWS = 50_000
MIN_SEGMENT_ROWS = 500_000
SEGMENT_ROWS = 2_000_000
SHOWN_REJECTIONS = 5
KINDS = {
    "product-events": PRODUCT_EVENT,
    "api-requests": API_REQUEST,
    "predictions": PREDICTION,
    "metrics": METRIC_SAMPLE,
}
FORMATS = ("ndjson", "api-logs-csv")


@dataclass
class LoadSummary:
    """What a load did: counts, the first rejections, and how long it took."""

    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    staged: int = 0  # rows in segments not ended yet: accepted or duplicates at their end
    first_rejections: list[Rejection] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, outcome: IngestOutcome) -> None:
        """Fold one chunk's outcome in, keeping only the first rejections to show."""
        self.accepted += outcome.accepted
        self.duplicates += outcome.duplicates
        self.rejected += len(outcome.rejected)
        room = max(SHOWN_REJECTIONS - len(self.first_rejections), 0)
        self.first_rejections += outcome.rejected[:room]

    def ended(self, staged: int, outcome: IngestOutcome) -> None:
        """Fold in what a segment's end stored of the rows it had staged."""
        self.staged -= staged
        self.count(outcome)

    @property
    def rows(self) -> int:
        """Every row read: accepted + duplicates + rejected, and those staged."""
        return self.accepted + self.duplicates + self.rejected + self.staged


def ingest_kind(name: str) -> IngestKind:
    """The ingest kind behind a --kind name, or LoadError."""
    if name not in KINDS:
        raise LoadError(f"unknown kind {name!r}; choose one of {', '.join(KINDS)}")
    return KINDS[name]


def check_lines(kind: IngestKind, lines: list[Line], context: RowContext) -> CheckedBatch:
    """Validate a chunk of lines; rejections carry their line numbers, in file order."""
    numbers = [n for n, row in lines if not isinstance(row, BadLine)]
    rows = [row for _, row in lines if not isinstance(row, BadLine)]
    checked = check_batch(kind, rows, context)
    found = [
        (replace(r, index=numbers[r.index]), raw)
        for r, raw in zip(checked.rejected, checked.rejected_raw, strict=True)
    ]
    found += [
        (Rejection(n, row.field, row.message), row.raw)
        for n, row in lines
        if isinstance(row, BadLine)
    ]
    found.sort(key=lambda pair: pair[0].index)
    checked.rejected = [r for r, _ in found]
    checked.rejected_raw = [raw for _, raw in found]
    return checked


def check_block(kind: IngestKind, block: Block, context: RowContext) -> CheckedBatch:
    """Validate a block of lines, given as columns or as numbered lines."""
    if not isinstance(block, ColumnBlock):
        return check_lines(kind, block, context)
    checked = check_columns(kind, block.columns, block.raw, context)
    checked.rejected = [replace(r, index=block.first + r.index) for r in checked.rejected]
    return checked


def _first_line(block: Block) -> int:
    return block.first if isinstance(block, ColumnBlock) else block[0][0]


def ndjson_chunks(handle: IO[bytes], kind: IngestKind) -> Iterator[Block]:
    """An NDJSON file in chunks of CHUNK_ROWS lines."""
    return ndjson_blocks(handle, [field.name for field in kind.shape.fields], CHUNK_ROWS)


def api_log_chunks(handle: IO[bytes], kind: IngestKind) -> Iterator[Block]:
    """An API-log CSV file in chunks of CHUNK_ROWS records."""
    return _chunks(api_log_lines(handle))


def _chunks(lines: Iterable[Line]) -> Iterator[list[Line]]:
    chunk: list[Line] = []
    for line in lines:
        chunk.append(line)
        if len(chunk) == CHUNK_ROWS:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@dataclass(frozen=True)
class LoadPlan:
    """What to load: the kind, how to read its chunks, and the file (size in bytes)."""

    kind: IngestKind
    read_chunks: Callable[[IO[bytes], IngestKind], Iterator[Block]]
    path: Path
    size: int


def plan(path: Path, kind_name: str | None, file_format: str) -> LoadPlan:
    """Check the options and the file before any database work, or raise LoadError."""
    if file_format == "ndjson":
        if kind_name is None:
            raise LoadError(f"--kind is required for ndjson; choose one of {', '.join(KINDS)}")
        kind, read_chunks = ingest_kind(kind_name), ndjson_chunks
    elif file_format == "api-logs-csv":
        if kind_name not in (None, "api-requests"):
            raise LoadError(f"api-logs-csv holds api-requests, not {kind_name}")
        kind, read_chunks = ingest_kind("api-requests"), api_log_chunks
    else:
        raise LoadError(f"unknown format {file_format!r}; choose one of {', '.join(FORMATS)}")
    if not path.is_file():
        raise LoadError(f"cannot read {path}: not a file")
    return LoadPlan(kind, read_chunks, path, path.stat().st_size)


async def load_file(
    db: Database,
    load: LoadPlan,
    future_tolerance: timedelta,
    on_progress: Callable[[int, int], None] = lambda done, rows: None,
) -> LoadSummary:
    """Load a file segment by segment; on_progress gets the bytes and rows written so
    far after each chunk (they are stored once their segment commits)."""
    summary = LoadSummary()
    started = time.perf_counter()
    try:
        handle = load.path.open("rb")
    except OSError as error:
        raise LoadError(f"cannot read {load.path}: {error.strerror or error}") from None
    with handle:
        async with aclosing(_checked_chunks(load, handle, future_tolerance)) as chunks:
            ending: _Ending | None = None  # the segment before, adding its rollups
            try:
                chunk = await anext(chunks, None)
                size = _segment_rows(load.size, chunk)
                while chunk is not None:
                    at = _Ending(None, load.kind, summary.rows, chunk.first_line)
                    try:
                        part = await open_segment(db, load.kind)
                    except IngestFailed as error:
                        await _ended(ending, summary)
                        raise at.refused() from error
                    try:
                        while chunk is not None and summary.rows - at.stored < size:
                            before = part.staged
                            summary.count(await part.write(chunk.checked))
                            summary.staged += part.staged - before
                            on_progress(chunk.read_to, summary.rows)
                            chunk = await anext(chunks, None)
                        await _ended(ending, summary)  # at most one segment ends beside these
                        ending = None
                    except BaseException as error:
                        await part.abandon()
                        if isinstance(error, IngestFailed):
                            await _ended(ending, summary)  # a fault before this one is told
                            raise at.refused() from error
                        raise
                    ending = replace(at, task=asyncio.create_task(part.close()), staged=part.staged)
                await _ended(ending, summary)
            finally:  # the load stopped: the segment before still ends (stored or not)
                if ending is not None and ending.task is not None:
                    await asyncio.gather(ending.task, return_exceptions=True)
    if summary.accepted:
        # Each segment appended its own rollup rows: folded now, as a server would soon,
        # while the fact table is vacuumed on a second connection (the two touch
        # different tables; 1M product events: 5.5 s and 3.4 s one after the other).
        fact, *rollups = load.kind.tables
        await asyncio.gather(compact(db), _vacuum(db, [fact]))
        await _vacuum(db, rollups)
    summary.seconds = time.perf_counter() - started
    return summary


def _segment_rows(file_bytes: int, first: _Chunk | None) -> int:
    """The rows of a segment: a quarter of the file's, as its first chunk's bytes per
    row tell, within [MIN_SEGMENT_ROWS, SEGMENT_ROWS]."""
    quarter = 0
    if first is not None and first.read_to > 0:
        checked = first.checked
        rows = checked.size + checked.in_batch_duplicates + len(checked.rejected)
        quarter = file_bytes * rows // first.read_to // 4
    return min(SEGMENT_ROWS, max(MIN_SEGMENT_ROWS, quarter))


async def _vacuum(db: Database, tables: list[Table]) -> None:
    if tables:
        async with db.read() as conn:
            autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await vacuum_analyze(autocommit, tables)


@dataclass(frozen=True)
class _Ending:
    """A segment's end (its rollups and commit) running while the next one writes,
    with the rows read before it and its first line, to say what a fault left."""

    task: asyncio.Task[IngestOutcome] | None
    kind: IngestKind
    stored: int
    first_line: int
    staged: int = 0

    def refused(self) -> LoadError:
        """What a fault in this segment leaves, as the load's error."""
        return LoadError(_refused(self.kind, self.stored, self.first_line))


async def _ended(ending: _Ending | None, summary: LoadSummary) -> None:
    """Wait for a segment's end and count what it stored; LoadError when it was refused."""
    if ending is None or ending.task is None:
        return
    try:
        outcome = await ending.task
    except IngestFailed as error:
        raise ending.refused() from error
    summary.ended(ending.staged, outcome)


def _refused(kind: IngestKind, stored: int, first_line: int) -> str:
    """What a failed segment leaves: the segments before it, and whether a reload is safe."""
    if stored == 0:
        return "the database refused rows of the file, none of it is stored; loading again is safe"
    again = (
        "and loading the file again is safe: stored rows are skipped as duplicates"
        if kind.identity is not None
        else f"so load only the lines from {first_line} on: {kind.kind} rows have no id, "
        "and loaded again they would be stored twice"
    )
    return (
        f"the database refused rows from line {first_line} on, so none from there is stored; "
        f"the {stored} rows before line {first_line} are (stored, duplicates or quarantined), "
        f"{again}"
    )


@dataclass(frozen=True)
class _Chunk:
    """A checked chunk, the line number of its first row and the file's bytes read."""

    checked: CheckedBatch
    first_line: int
    read_to: int


async def _checked_chunks(
    load: LoadPlan, handle: IO[bytes], future_tolerance: timedelta
) -> AsyncGenerator[_Chunk, None]:
    """The file's chunks, checked. The next one is read and checked in a worker thread
    while the caller writes the one before, so Python's work overlaps the database's."""
    chunks = load.read_chunks(handle, load.kind)

    def read_next() -> asyncio.Future[_Chunk | None]:
        return asyncio.ensure_future(
            asyncio.to_thread(_next_checked, chunks, handle, load.kind, future_tolerance)
        )

    reading = read_next()
    try:
        while (chunk := await reading) is not None:
            reading = read_next()
            yield chunk
    finally:  # the load stopped: the thread reads the file, so let it end before it closes
        await asyncio.gather(reading, return_exceptions=True)


def _next_checked(
    chunks: Iterator[Block], handle: IO[bytes], kind: IngestKind, future_tolerance: timedelta
) -> _Chunk | None:
    """The next chunk, checked against the clock of now; None at the end of the file."""
    block = next(chunks, None)
    if block is None:
        return None
    checked = check_block(kind, block, RowContext(datetime.now(UTC), future_tolerance))
    return _Chunk(checked, _first_line(block), handle.tell())


async def run_load(
    url: str, load: LoadPlan, future_tolerance: timedelta, console: Console
) -> LoadSummary:
    """load_file against the database at url, showing progress on console (a bar on a
    terminal, plain lines otherwise)."""
    db = Database(url, pool_size=1)  # and one overflow: compaction beside a VACUUM
    try:
        with progress(console, load.path.name, load.size) as report:
            return await load_file(db, load, future_tolerance, report)
    finally:
        await db.dispose()


def describe(summary: LoadSummary) -> list[str]:
    """The summary as console lines: counts, speed, and the first rejections."""
    rate = summary.rows / summary.seconds if summary.seconds > 0 else 0.0
    lines = [
        f"{summary.rows} rows in {summary.seconds:.1f} s ({rate:,.0f} rows/s): "
        f"{summary.accepted} accepted, {summary.duplicates} duplicates, "
        f"{summary.rejected} rejected"
    ]
    if summary.rejected:
        lines.append("rejected rows are kept in the quarantine; the first ones:")
    for r in summary.first_rejections:
        at = f" ({r.field})" if r.field else ""
        lines.append(f"  line {r.index}{at}: {r.message}")
    return lines
