"""The DateTime scalar reads every value as dateutil's isoparse did, only faster."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from dateutil.parser import isoparse
from hypothesis import given
from hypothesis import strategies as st
from strawberry.exceptions import StrawberryInputCoercionError

from schema.scalars import parse_datetime

offsets = st.sampled_from(
    [None, UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8))]
)


def _renderings(moment: datetime) -> list[str]:
    """The ways a client may write one moment."""
    extended = moment.isoformat()
    forms = [extended, extended.replace("T", " "), moment.isoformat(timespec="milliseconds")]
    if moment.tzinfo is UTC:
        forms.append(extended.replace("+00:00", "Z"))
    if moment.tzinfo is None:
        forms += [moment.strftime("%Y%m%dT%H%M%S"), moment.date().isoformat()]
    return forms


@given(st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1)), offsets)
def test_every_rendering_reads_as_isoparse_reads_it(
    naive: datetime, offset: timezone | None
) -> None:
    moment = naive.replace(tzinfo=offset)
    for text in _renderings(moment):
        expected = isoparse(text)
        got = parse_datetime(text)
        assert got == expected
        assert got.utcoffset() == expected.utcoffset()


@pytest.mark.parametrize("text", ["2026-11", "2026-11-27T24:00:00", "2026-W48-5"])
def test_forms_only_isoparse_takes_are_still_taken(text: str) -> None:
    assert parse_datetime(text) == isoparse(text)


@pytest.mark.parametrize("value", ["yesterday", "2026-13-01", "", 1732665600, None])
def test_what_is_no_datetime_is_refused_naming_the_value(value: object) -> None:
    with pytest.raises(StrawberryInputCoercionError, match="cannot represent a DateTime") as caught:
        parse_datetime(value)
    assert str(value) in str(caught.value)
