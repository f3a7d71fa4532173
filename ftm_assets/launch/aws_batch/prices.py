"""The price table that turns an attempt's instance type, Spot flag and running time into an estimated cost.

A CSV (``instance_type,on_demand_usd_per_hour,spot_usd_per_hour``; ``#`` lines are comments) ships with the
package (``prices.csv``: us-east-1 On-Demand list prices and estimated Spot prices); ``FTM_PRICE_TABLE``
points the launcher at your own copy. An instance type the table does not list is priced ``None``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

SHIPPED = "prices.csv"
COLUMNS = ("instance_type", "on_demand_usd_per_hour", "spot_usd_per_hour")


class PriceTableError(ValueError):
    """The price table cannot be read; the message names the file and the line."""


@dataclass(frozen=True)
class PriceTable:
    source: str
    prices: dict[str, tuple[float | None, float | None]]  # instance type -> (on demand, spot)

    @classmethod
    def load(cls, path: str | None = None) -> PriceTable:
        """The table at ``path``, or the shipped one when ``path`` is None or empty."""
        if path:
            try:
                text = Path(path).expanduser().read_text()
            except OSError as exc:
                raise PriceTableError(f"FTM_PRICE_TABLE={path}: cannot read it ({exc.strerror or exc}).") from exc
            return cls.parse(text, source=str(path))
        text = resources.files(__package__).joinpath(SHIPPED).read_text()
        return cls.parse(text, source=f"{__package__}/{SHIPPED}")

    @classmethod
    def parse(cls, text: str, *, source: str) -> PriceTable:
        rows = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
        reader = csv.DictReader(rows)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise PriceTableError(f"Price table {source} lacks the column(s) {', '.join(missing)}: use {','.join(COLUMNS)}.")
        prices: dict[str, tuple[float | None, float | None]] = {}
        for number, row in enumerate(reader, start=2):
            try:
                prices[row["instance_type"].strip()] = (_price(row["on_demand_usd_per_hour"]), _price(row["spot_usd_per_hour"]))
            except ValueError as exc:
                raise PriceTableError(f"Price table {source}, data row {number - 1}: {exc}") from exc
        return cls(source=source, prices=prices)

    def per_hour(self, instance_type: str | None, spot: bool | None) -> float | None:
        """USD per hour, or None when the type is unknown or the table has no price for it."""
        if instance_type is None or instance_type not in self.prices:
            return None
        on_demand, spot_price = self.prices[instance_type]
        return spot_price if spot else on_demand


def _price(text: str | None) -> float | None:
    if text is None or not text.strip():
        return None
    value = float(text)
    if value < 0:
        raise ValueError(f"negative price {value}")
    return value
