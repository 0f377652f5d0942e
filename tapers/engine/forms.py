"""What one drug can be given as: whole tablets and halves of scored ones, or an oral liquid.

Doses are exact whole units of 0.0001 mg. `_Forms` says whether a dose can be made, lists
the makeable doses under one (a cut rounds down to them) and writes how a dose is made up
("1 x 5 mg + 1 x 1/2 5 mg tablet", "2.5 ml of 1 mg/ml oral liquid").
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

from tapers.engine.types import Strengths, TaperError

# Doses are handled as whole units of 0.0001 mg so that sums of tablets and halves are exact.
_UNITS_PER_MG = 10_000
_WHOLE_COST, _HALF_COST = 10, 11  # when describing a dose, prefer whole tablets to halves


def _fmt(value: Decimal, places: str = "0.01") -> str:
    text = f"{value.quantize(Decimal(places), ROUND_HALF_UP):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _mg_of_units(units: int) -> Decimal:
    value = Decimal(units) / _UNITS_PER_MG
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()


def _units_of(mg: Decimal, what: str) -> int:
    scaled = mg * _UNITS_PER_MG
    if scaled != scaled.to_integral_value():
        raise TaperError(f"{what} ({mg} mg) has more than 4 decimal places.", code="bad_strengths")
    return int(scaled)


@lru_cache(maxsize=256)
def _tablet_table(pieces: tuple[tuple[int, int], ...], limit: int) -> tuple[int, tuple[int, ...], tuple[int, ...]]:
    """Cheapest sums of tablet pieces (units, cost) up to `limit` units.

    (step, cost per multiple of step or -1 where none adds up, the last piece of the cheapest sum).
    """
    step = math.gcd(*(units for units, _ in pieces))
    size = limit // step + 1
    cost = [0] + [-1] * (size - 1)
    last = [-1] * size
    for index in range(1, size):
        for piece, (units, piece_cost) in enumerate(pieces):
            before = index - units // step
            if before >= 0 and cost[before] >= 0 and (cost[index] < 0 or cost[before] + piece_cost < cost[index]):
                cost[index] = cost[before] + piece_cost
                last[index] = piece
    return step, tuple(cost), tuple(last)


class _Forms:
    """The doses one drug can be given in."""

    def __init__(self, strengths: Strengths, drug: str) -> None:
        pieces: list[tuple[int, int]] = []
        self.labels: list[str] = []
        for tablet in strengths.tablets:
            if tablet.mg <= 0:
                raise TaperError(f"A {drug} tablet strength must be above 0 mg.", code="bad_strengths")
            pieces.append((_units_of(tablet.mg, f"The {drug} tablet"), _WHOLE_COST))
            self.labels.append(f"{_fmt(tablet.mg, '0.0001')} mg")
            if tablet.scored:
                pieces.append((_units_of(tablet.mg / 2, f"Half a {drug} tablet"), _HALF_COST))
                self.labels.append(f"1/2 {_fmt(tablet.mg, '0.0001')} mg")
        self.pieces = tuple(pieces)
        self.liquid_unit: int | None = None
        self.liquid_mg_per_ml = strengths.liquid_mg_per_ml
        self.liquid_label = ""
        if strengths.liquid_mg_per_ml is not None:
            if strengths.liquid_mg_per_ml <= 0 or strengths.liquid_step_ml <= 0:
                raise TaperError(f"The {drug} liquid needs a concentration and a step above 0.", code="bad_strengths")
            self.liquid_unit = _units_of(strengths.liquid_mg_per_ml * strengths.liquid_step_ml, f"The {drug} liquid")
            self.liquid_label = f"{_fmt(strengths.liquid_mg_per_ml, '0.0001')} mg/ml oral liquid"
        self.limit = 0

    def _table(self, units: int) -> tuple[int, tuple[int, ...], tuple[int, ...]] | None:
        if not self.pieces:
            return None
        if units > self.limit:
            self.limit = max(units, 2 * self.limit, _UNITS_PER_MG)
        return _tablet_table(self.pieces, self.limit)

    def by_tablets(self, units: int) -> bool:
        table = self._table(units)
        if table is None:
            return units == 0
        step, cost, _ = table
        return units % step == 0 and cost[units // step] >= 0

    def by_liquid(self, units: int) -> bool:
        return self.liquid_unit is not None and units % self.liquid_unit == 0

    def makeable(self, units: int, *, liquid: bool) -> bool:
        return self.by_tablets(units) or (liquid and self.by_liquid(units))

    def below(self, units: int, *, liquid: bool) -> list[int]:
        """Makeable doses under `units` (0 included), largest first."""
        found: set[int] = {0}
        table = self._table(units)
        if table is not None:
            step, cost, _ = table
            found.update(i * step for i in range((units - 1) // step + 1) if cost[i] >= 0)
        if liquid and self.liquid_unit is not None:
            found.update(range(0, units, self.liquid_unit))
        return sorted((u for u in found if u < units), reverse=True)

    def floor(self, units: int, *, liquid: bool) -> int:
        """The largest makeable dose at or under `units`."""
        if self.makeable(units, liquid=liquid):
            return units
        return self.below(units, liquid=liquid)[0]

    def nearest(self, units: int) -> tuple[int, int | None]:
        """The makeable doses just under and just over `units`, for an error message."""
        under = self.floor(units, liquid=True)
        overs: list[int] = []
        if self.liquid_unit is not None:
            overs.append((units // self.liquid_unit + 1) * self.liquid_unit)
        table = self._table(units + max((p for p, _ in self.pieces), default=0))
        if table is not None:
            step, cost, _ = table
            found = next((i * step for i in range(units // step + 1, len(cost)) if cost[i] >= 0), None)
            if found is not None:
                overs.append(found)
        return under, min(overs, default=None)

    def describe(self, units: int, *, liquid_first: bool = False) -> tuple[str, bool]:
        table = self._table(units)
        if units and table is not None and self.by_tablets(units) and not liquid_first:
            step, _, last = table
            counts: dict[int, int] = {}
            index = units // step
            while index:
                piece = last[index]
                counts[piece] = counts.get(piece, 0) + 1
                index -= self.pieces[piece][0] // step
            parts = [f"{counts[p]} x {self.labels[p]}" for p in sorted(counts, key=lambda p: -self.pieces[p][0])]
            return " + ".join(parts) + " tablet", False
        ml = _mg_of_units(units) / (self.liquid_mg_per_ml or 1)
        return f"{_fmt(ml, '0.0001')} ml of {self.liquid_label}", True

    def describe_all(self) -> str:
        tablets = ", ".join(label for label in self.labels if not label.startswith("1/2"))
        scored = [label for label in self.labels if label.startswith("1/2")]
        text = f"{tablets or 'no'} tablets" + (" (scored: halves)" if scored else "")
        if self.liquid_unit is None:
            return text
        return f"{text}, {self.liquid_label} in steps of {_fmt(_mg_of_units(self.liquid_unit), '0.0001')} mg"
