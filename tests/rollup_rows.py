"""A fact's rollup rows (product events unless told) as stored, and as a rebuild from
raw rows gives them, for tests that check the rollups a writer or compaction left
behind."""

from __future__ import annotations

import math
import struct
from typing import Any

from sqlalchemy import delete, func, select, true

from db.compiler import Fact
from db.facts.product_events import PRODUCT_EVENTS
from db.rolled import backfill
from db.rollups import KEY, VALUES
from db.sketch import entries


async def stored_rollup_rows(
    db, fact: Fact = PRODUCT_EVENTS
) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Every rollup key's rows, merged, by table and key; a sketch as its count per
    bin, since the order and repetition of its entries depend on how batches were
    merged."""
    rollup = fact.rollup
    assert rollup is not None
    sketches = [name for name, part in rollup.parts.items() if part.source is not None]
    # Values one after another in no order (db.rollups.values_part): compared sorted.
    values = [name for name, part in rollup.parts.items() if part.merge == VALUES]
    found: dict[tuple[Any, ...], dict[str, Any]] = {}
    async with db.read() as conn:
        for grain in rollup.grains:
            stored = grain.table
            key = [stored.c[name] for name in KEY]
            # A key's rows merged as readers merge them: compaction may leave a key's
            # base row and one folded row beside it (db.compaction).
            merged = [
                part.merged(stored.c[name]).label(name)
                for name, part in rollup.parts.items()
                if name not in sketches
            ]
            for row in (await conn.execute(select(*key, *merged).group_by(*key))).mappings():
                at = (stored.name, *(row[c.name] for c in key))
                found[at] = dict(row)
                for name in values:
                    packed = found[at][name]
                    found[at][name] = None if packed is None else sorted(_floats(packed))
            for name in sketches:
                entry, (bin_, n) = entries(stored.c[name], "bins")
                binned = (
                    select(*key, bin_, func.sum(n))
                    .select_from(stored.join(entry, true()))
                    .group_by(*key, bin_)
                )
                for *row_key, bin_value, count in await conn.execute(binned):
                    found[(stored.name, *row_key)].setdefault(name, {})[bin_value] = count
    return found


async def rebuilt_rollup_rows(
    db, fact: Fact = PRODUCT_EVENTS
) -> dict[tuple[Any, ...], dict[str, Any]]:
    """The rollup rows a rebuild from every stored raw row gives."""
    rollup = fact.rollup
    assert rollup is not None
    async with db.write() as conn:
        for grain in rollup.grains:
            await conn.execute(delete(grain.table))
        for statement in backfill(fact):
            await conn.execute(statement)
    return await stored_rollup_rows(db, fact)


def _floats(packed: bytes) -> list[float]:
    return [value for (value,) in struct.iter_unpack(">d", packed)]


def assert_same_rows(loaded: dict[Any, dict[str, Any]], rebuilt: dict[Any, dict[str, Any]]):
    assert loaded.keys() == rebuilt.keys()
    for key, row in rebuilt.items():
        for name, value in row.items():
            got = loaded[key][name]
            if isinstance(value, float) or isinstance(got, float):
                # Sums added in another order; a sum over no values is NULL when built
                # and 0 once merged (Part.combined), and both read as no values.
                assert math.isclose(got or 0.0, value or 0.0, rel_tol=1e-12), (key, name)
            else:
                assert got == value, (key, name)
