"""`python -m bench --rows N`: generate, load, query and ingest; print a Markdown report.

The gateway runs as a subprocess (`analytics-gateway serve`) on a database
made for the run: on the server named by --database-url (default
DATABASE_URL), else on an embedded Postgres in the work folder.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import measure
from bench.generate import KINDS, generate
from bench.report import Results, machine, markdown
from bench.server import BenchDatabase, Gateway


def _arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000, help="events of each kind")
    parser.add_argument("--calls", type=int, default=40, help="calls per question")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL") or None)
    parser.add_argument("--work", type=Path, default=Path(".bench-work"), help="scratch folder")
    parser.add_argument("--out", type=Path, help="also write the report to this file")
    parser.add_argument("--keep", action="store_true", help="keep the database and the files")
    parser.add_argument("--note", action="append", default=[], help="a line for the report")
    return parser.parse_args(argv)


def _step(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def run(options: argparse.Namespace) -> Results:
    """The whole benchmark; the database is dropped afterwards unless --keep."""
    results = Results(rows=options.rows, notes=list(options.note))
    end = datetime.now(UTC).replace(microsecond=0)
    options.work.mkdir(parents=True, exist_ok=True)
    database = BenchDatabase(options.database_url, options.work)
    database.create()
    gateway: Gateway | None = None
    try:
        gateway = Gateway(database, options.work / "gateway.log")
        # The first kind loads alone (the clean figure); the others load side by side,
        # which keeps a ten-million-row run within about twenty minutes.
        for kinds in ([KINDS[0]], list(KINDS[1:])):
            files = []
            for kind in kinds:
                _step(f"generating {options.rows:,} {kind}")
                folder, workers = options.work / "data", os.cpu_count() or 1
                files.append((kind, generate(kind, options.rows, end, folder, workers)))
            _step(f"loading {', '.join(kinds)}")
            how = "one process" if len(kinds) == 1 else f"{len(kinds)} loads at once"
            for (kind, path), (rows, seconds) in zip(
                files, measure.load_files(database.url, files), strict=True
            ):
                results.throughput[f"`load` ({kind}, {rows:,} rows, {how})"] = rows / seconds
                if not options.keep:
                    path.unlink()
        sample = min(max(options.rows // 10, 20_000), 200_000)
        _step(f"events: {sample:,} rows in 5,000-row requests")
        rate, results.stall_ms = measure.events_throughput(
            gateway, database.url, sample, 5_000, senders=2
        )
        results.throughput[
            "`POST /v0/events` (product_events, 5,000-row bodies, 2 senders, until compacted)"
        ] = rate
        _step(f"mutations: {sample // 4:,} rows in 1,000-row batches")
        rate = measure.mutation_throughput(gateway, database.url, sample // 4, 1_000)
        results.throughput[
            "`ingestProductEvents` (1,000-row batches, 1 client, until compacted)"
        ] = rate
        _step("queries")
        measure.settle(database.url)
        results.latencies = measure.question_latencies(gateway, database.url, end, options.calls)
        results.trivial_ms, results.trivial_per_second = measure.trivial_queries(gateway, 2_000)
        _step("freshness")
        results.freshness_ms = measure.freshness(gateway, 20)
        results.peak_rss_mb = gateway.peak_rss_mb()
        results.machine = machine(database.url)
    finally:
        if gateway is not None:
            gateway.stop()
        if not options.keep:
            database.drop()
            shutil.rmtree(options.work / "data", ignore_errors=True)
    return results


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print (and optionally save) its report."""
    options = _arguments(sys.argv[1:] if argv is None else argv)
    started = time.perf_counter()
    results = run(options)
    results.notes.append(f"The whole run took {(time.perf_counter() - started) / 60:.1f} min.")
    report = markdown(results)
    print(report)
    if options.out is not None:
        options.out.write_text(report)


if __name__ == "__main__":
    main()
