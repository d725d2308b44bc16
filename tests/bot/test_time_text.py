"""Stored moments are written the same way however they are computed, and read back exactly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from bot.storage.automation import _TIME_FORMAT, from_text, to_text

zones = st.sampled_from(
    [UTC, timezone(timedelta(0)), timezone(timedelta(hours=5, minutes=30))]
) | st.builds(lambda hours: timezone(timedelta(hours=hours)), st.integers(-12, 14))
moments = st.datetimes(
    min_value=datetime(1001, 1, 2), max_value=datetime(9998, 12, 30), timezones=zones
)


@given(moments)
def test_to_text_writes_what_the_format_says_and_reads_back(moment: datetime) -> None:
    text = to_text(moment)
    assert text == moment.astimezone(UTC).strftime(_TIME_FORMAT)
    assert from_text(text) == moment
