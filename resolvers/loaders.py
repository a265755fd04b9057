"""Per-request DataLoaders: every per-entity field under a list costs one statement
(a count of distinct users over many entities, two side by side).

One mechanism serves every such field: a key is (fetch, question, entity id),
where ``fetch(conn, question, entity_ids)`` answers one hashable question for
many entities in one statement and returns each entity's answer by its id.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection
from strawberry.dataloader import DataLoader

from db.aggregates import ErrorRow, Group, fetch_groups, fetch_top_errors, shares
from db.compiler import AggregateQuery, Fact
from db.engine import Database

T = TypeVar("T")
Q = TypeVar("Q", bound=Hashable)
Fetch = Callable[[AsyncConnection, Q, Sequence[str]], Awaitable[Mapping[str, T]]]
Key = tuple[Fetch[Any, Any], Hashable, str]
AggregateKey = tuple[Fact, AggregateQuery, str]


async def _groups(
    conn: AsyncConnection, question: tuple[Fact, AggregateQuery], ids: Sequence[str]
) -> Mapping[str, list[Group]]:
    return await fetch_groups(conn, *question, ids)


def _group_shares(question: tuple[Fact, AggregateQuery], ids: Sequence[str]) -> list[Sequence[str]]:
    return shares(*question, ids)


async def _top_errors(
    conn: AsyncConnection, question: tuple[Fact, AggregateQuery], ids: Sequence[str]
) -> Mapping[str, list[ErrorRow]]:
    return await fetch_top_errors(conn, *question, ids)


# How a fetch splits a batch's entities into shares answered side by side (a fetch
# not named here answers its whole batch in one statement).
_SHARED: dict[Fetch[Any, Any], Callable[[Any, Sequence[str]], list[Sequence[str]]]] = {
    _groups: _group_shares
}


class Loaders:
    """The loaders of one request.

    One batch runs one statement per distinct (fetch, question), covering
    every entity asked for at once (or, for a question that counts distinct
    users over many entities, one per share of them, side by side:
    db.aggregates.shares); ``aggregates`` and ``top_errors`` are the same
    mechanism keyed by (fact, question, entity id).
    """

    def __init__(self, db: Database) -> None:
        self._db = db
        self._answers: DataLoader[Key, Any] = DataLoader(load_fn=self._answer)
        self.aggregates: DataLoader[AggregateKey, list[Group]] = DataLoader(
            load_fn=self._through(_groups)
        )
        self.top_errors: DataLoader[AggregateKey, list[ErrorRow]] = DataLoader(
            load_fn=self._through(_top_errors)
        )

    async def load(self, fetch: Fetch[Q, T], question: Q, entity_id: str) -> T:
        """The entity's answer to question, fetched together with its siblings'."""
        answer: T = await self._answers.load((fetch, question, entity_id))
        return answer

    def _through(self, fetch: Fetch[Any, T]) -> Callable[[list[AggregateKey]], Awaitable[list[T]]]:
        async def load(keys: list[AggregateKey]) -> list[T]:
            return await self._answer(
                [(fetch, (fact, query), entity) for fact, query, entity in keys]
            )

        return load

    async def _answer(self, keys: Sequence[Key]) -> list[Any]:
        wanted: dict[tuple[Fetch[Any, Any], Hashable], list[str]] = defaultdict(list)
        for fetch, question, entity_id in keys:
            if entity_id not in wanted[fetch, question]:
                wanted[fetch, question].append(entity_id)

        async def share(group: tuple[Fetch[Any, Any], Hashable], ids: Sequence[str]) -> Any:
            # Each statement gets its own connection: batches of sibling
            # fields, and the shares of one, run concurrently.
            async with self._db.read() as conn:
                return await group[0](conn, group[1], ids)

        async def answer(group: tuple[Fetch[Any, Any], Hashable], ids: list[str]) -> Any:
            split = _SHARED.get(group[0])
            parts = split(group[1], ids) if split is not None else [ids]
            found: dict[str, Any] = {}
            for part in await asyncio.gather(*(share(group, p) for p in parts)):
                found.update(part)
            return group, found

        answers = dict(await asyncio.gather(*(answer(g, ids) for g, ids in wanted.items())))
        return [answers[fetch, question][entity_id] for fetch, question, entity_id in keys]
