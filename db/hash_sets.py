"""Exact distinct counts that merge: the set of a bucket's users, as 64-bit hashes.

A count of distinct users does not add up over time buckets, so overviews used
to count them over the range's raw rows (an index-only scan of every event in
the range: 69,000 index entries for a week of the busiest product at ten
million events, and 1,050,000 for 20 products). Instead, a rollup row of an
entity's totals keeps its users: each user id hashed to 64 bits
(``hashtextextended(user_id, 0)``), written as 8 bytes big-endian, sorted and
without repeats, in one ``bytea``. Sets merge by union, which is exact:

- compaction folds a key's sets in SQL (``hash_set_union``);
- a question reads the sets of its buckets and of the raw minutes at its
  edges, and counts their union in Python (``count_union``): numpy sorts the
  concatenated hashes, which are runs already sorted, and counts the distinct
  ones. 300,000 hashes in 30 runs take about 7 ms.

The count is exact unless two users of one answer share a 64-bit hash: for n
users the chance is about n^2 / 2^65 (1 in 10^9 at 200,000 users), and then the
count is one short. Null user ids are not counted, as ``count(DISTINCT)``
does not count them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy import func, literal_column
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.sql.elements import ColumnElement

from db.compiler import bytes_joined

HASH_BYTES = 8

# Inline constants: with DISTINCT, Postgres needs the ORDER BY expression to be the
# argument itself, which two bind parameters of the same value would not be.
_SEED: ColumnElement[int] = literal_column("0")
_JOINED: ColumnElement[bytes] = literal_column("''::bytea")  # string_agg's delimiter

CREATE = (
    """
CREATE OR REPLACE FUNCTION hash_set_union(sets bytea[]) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT string_agg(DISTINCT substring(s FROM i FOR 8), ''::bytea
                    ORDER BY substring(s FROM i FOR 8))
  FROM unnest(sets) AS s, generate_series(1, length(s), 8) AS i
$$""",
)


def hashed(column: ColumnElement[str]) -> ColumnElement[bytes]:
    """A text value's 64-bit hash as 8 bytes, big-endian (so bytes sort as numbers)."""
    return func.int8send(func.hashtextextended(column, _SEED))


def hash_set(column: ColumnElement[str]) -> ColumnElement[bytes]:
    """The aggregate: the distinct hashes of a text column's non-null values, sorted,
    as one bytea (null over no values)."""
    value = hashed(column)
    return func.string_agg(value.distinct(), aggregate_order_by(_JOINED, value))


def union(sets: ColumnElement[Any]) -> ColumnElement[bytes]:
    """The aggregate: the union of many rows' sets, in the same form."""
    return func.hash_set_union(func.array_agg(sets))


def joined(sets: ColumnElement[Any]) -> ColumnElement[bytes]:
    """The aggregate: many rows' sets one after another (repeats and all), for
    count_union. One bytea per group reaches Python several times faster than an
    array of them: at ten million events, 18 MB of sets took 69 ms to fetch as one
    bytea per product and 172 ms as arrays (psycopg parses a text array per element)."""
    return bytes_joined(sets)


def count_union(sets: bytes | None) -> int:
    """How many distinct hashes sets one after another (joined) hold together."""
    if not sets:
        return 0
    # Read in the machine's byte order: the values change, not which of them are equal,
    # and numpy's unstable sort of native integers is vectorized (a million hashes in
    # 20 sets: 7.4 ms, against 14.2 for a byte swap and a merge of the sorted runs).
    hashes = np.sort(np.frombuffer(sets, dtype=np.uint64))
    return int(1 + np.count_nonzero(hashes[1:] != hashes[:-1]))
