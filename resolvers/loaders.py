"""Per-request DataLoaders: every aggregate under a list costs one statement."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection
from strawberry.dataloader import DataLoader

from db.aggregates import ErrorRow, Group, fetch_groups, fetch_top_errors
from db.compiler import AggregateQuery, Fact
from db.engine import Database

AggregateKey = tuple[Fact, AggregateQuery, str]
T = TypeVar("T")
Fetch = Callable[[AsyncConnection, Fact, AggregateQuery, Sequence[str]], Awaitable[dict[str, T]]]


class Loaders:
    """The loaders of one request.

    Keys are (fact, question, entity id); one batch runs one statement per
    distinct (fact, question), covering every entity asked for at once.
    """

    def __init__(self, db: Database) -> None:
        self._db = db
        self.aggregates: DataLoader[AggregateKey, list[Group]] = DataLoader(
            load_fn=self._batched(fetch_groups)
        )
        self.top_errors: DataLoader[AggregateKey, list[ErrorRow]] = DataLoader(
            load_fn=self._batched(fetch_top_errors)
        )

    def _batched(self, fetch: Fetch[T]) -> Callable[[list[AggregateKey]], Awaitable[list[T]]]:
        async def load(keys: list[AggregateKey]) -> list[T]:
            wanted: dict[tuple[Fact, AggregateQuery], list[str]] = defaultdict(list)
            for fact, query, entity_id in keys:
                if entity_id not in wanted[fact, query]:
                    wanted[fact, query].append(entity_id)

            async def answer(question: tuple[Fact, AggregateQuery], ids: list[str]) -> Any:
                # Each statement gets its own connection: batches of sibling
                # fields run concurrently.
                async with self._db.read() as conn:
                    return question, await fetch(conn, question[0], question[1], ids)

            answers = dict(await asyncio.gather(*(answer(q, ids) for q, ids in wanted.items())))
            return [answers[fact, query][entity_id] for fact, query, entity_id in keys]

        return load
