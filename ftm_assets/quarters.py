"""Quarter keys (``2023Q1``): parsing, validation, date ranges and the list of known quarters."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

_QUARTER_RE = re.compile(r"^(?P<year>\d{4})Q(?P<q>[1-4])$")


class QuarterKeyError(ValueError):
    """A quarter key that is not of the form YYYYQn."""


@dataclass(frozen=True, order=True)
class Quarter:
    year: int
    q: int

    @classmethod
    def parse(cls, key: str) -> "Quarter":
        match = _QUARTER_RE.match(key.strip()) if isinstance(key, str) else None
        if not match:
            raise QuarterKeyError(
                f"Unknown quarter key {key!r}: quarter keys look like '2023Q1' (a four-digit year, 'Q', 1-4)."
            )
        year = int(match["year"])
        if year < 1990 or year > 2100:
            raise QuarterKeyError(f"Quarter key {key!r} is outside 1990-2100.")
        return cls(year, int(match["q"]))

    @classmethod
    def containing(cls, day: dt.date) -> "Quarter":
        return cls(day.year, (day.month - 1) // 3 + 1)

    @property
    def key(self) -> str:
        return f"{self.year}Q{self.q}"

    @property
    def start(self) -> dt.date:
        return dt.date(self.year, 3 * (self.q - 1) + 1, 1)

    @property
    def end(self) -> dt.date:
        """Last day of the quarter (inclusive)."""
        nxt = self.next()
        return nxt.start - dt.timedelta(days=1)

    @property
    def index(self) -> int:
        """Quarters since year 0: handy for drifts and distances."""
        return self.year * 4 + self.q - 1

    def next(self) -> "Quarter":
        return Quarter(self.year + (self.q == 4), self.q % 4 + 1)

    def __str__(self) -> str:
        return self.key


def quarter_keys(first: str, last: str) -> list[str]:
    """Every quarter key from ``first`` to ``last`` inclusive."""
    start, stop = Quarter.parse(first), Quarter.parse(last)
    if stop < start:
        raise QuarterKeyError(f"Quarter range {first}..{last} is empty: {last} comes before {first}.")
    keys, cur = [], start
    while cur <= stop:
        keys.append(cur.key)
        cur = cur.next()
    return keys


def current_quarter(today: dt.date | None = None) -> str:
    return Quarter.containing(today or dt.date.today()).key


def last_complete_quarter(today: dt.date | None = None) -> str:
    """The newest quarter that has ended by ``today``: its calls have all taken place (transcripts may lag)."""
    day = today or dt.date.today()
    return Quarter.containing(Quarter.containing(day).start - dt.timedelta(days=1)).key


def previous_quarter(key: str) -> str:
    q = Quarter.parse(key)
    return Quarter(q.year - (q.q == 1), (q.q - 2) % 4 + 1).key


def expand_quarters(spec: str | list[str] | tuple[str, ...]) -> list[str]:
    """Quarter keys from what a user types: ``"2023Q1"``, ``"2015Q1:2019Q4"`` (inclusive), ``"2023Q1,2023Q3"``,
    or a list of any of these. Sorted, without duplicates; raises QuarterKeyError naming the bad part.
    """
    parts = [spec] if isinstance(spec, str) else list(spec)
    keys: set[str] = set()
    for part in parts:
        for item in str(part).replace(" ", ",").split(","):
            item = item.strip()
            if not item:
                continue
            first, sep, last = item.partition(":")
            keys.update(quarter_keys(first, last) if sep else [Quarter.parse(first).key])
    if not keys:
        raise QuarterKeyError(f"No quarter in {spec!r}: use '2023Q1', '2015Q1:2019Q4' or a list of them.")
    return sorted(keys, key=Quarter.parse)
