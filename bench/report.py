"""The benchmark's results as Markdown, ready for bench/RESULTS.md."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from bench.measure import Latency, percentile, summary
from bench.server import libpq


def machine(database_url: str) -> str:
    """One line about where the numbers were taken: cores, memory, CPU, Postgres."""
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    memory_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal:")
    )
    with psycopg.connect(libpq(database_url)) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    version = row[0] if row else "?"
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    return (
        f"{os.cpu_count()} cores ({model}), {memory_kb / 1024 / 1024:.1f} GiB memory, "
        f"PostgreSQL {version}, Python {platform.python_version()}; load average at the end: {load}"
    )


@dataclass
class Results:
    """Everything one run measured."""

    rows: int
    machine: str = ""
    latencies: list[Latency] = field(default_factory=list)
    trivial_ms: list[float] = field(default_factory=list)
    trivial_per_second: float = 0.0
    throughput: dict[str, float] = field(default_factory=dict)
    freshness_ms: list[float] = field(default_factory=list)
    stall_ms: list[float] = field(default_factory=list)
    peak_rss_mb: float = 0.0
    notes: list[str] = field(default_factory=list)


def _ms(value: float) -> str:
    return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"


def markdown(results: Results) -> str:
    """The whole report: machine, query table, ingest table, the rest."""
    lines = [
        f"## {results.rows:,} events of each kind",
        "",
        f"Machine: {results.machine}.",
        *(f"{note}" for note in results.notes),
        "",
        "| question (cold: another range each call) | HTTP p50 ms | HTTP p95 ms "
        "| SQL p50 ms | SQL p95 ms | HTTP/SQL p95 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for latency in results.latencies:
        http50, http95, _ = summary(latency.http)
        sql50, sql95, _ = summary(latency.sql)
        lines.append(
            f"| {latency.name} | {_ms(http50)} | {_ms(http95)} | {_ms(sql50)} | {_ms(sql95)} "
            f"| {http95 / sql95:.2f} |"
        )
    trivial50, trivial95, _ = summary(results.trivial_ms)
    stall50, _, stall99 = summary(results.stall_ms)
    lines += [
        f"| `{{ __typename }}` ({results.trivial_per_second:,.0f} requests/s, one client) "
        f"| {_ms(trivial50)} | {_ms(trivial95)} | | | |",
        "",
        "| ingest path | rows/s |",
        "|---|---:|",
        *(f"| {path} | {rate:,.0f} |" for path, rate in results.throughput.items()),
        "",
        f"`{{ __typename }}` while the events were sent: p50 {_ms(stall50)} ms, "
        f"p99 {_ms(stall99)} ms, max {_ms(max(results.stall_ms))} ms "
        f"({len(results.stall_ms)} calls). "
        f"Freshness (acknowledged with wait=false, then visible in an overview): "
        f"p50 {_ms(percentile(results.freshness_ms, 0.5))} ms, "
        f"max {_ms(max(results.freshness_ms))} ms. "
        f"Server peak RSS: {results.peak_rss_mb:,.0f} MB.",
        "",
    ]
    return "\n".join(lines)
