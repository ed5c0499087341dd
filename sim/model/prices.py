"""Listed prices of the families' closed APIs (families.yaml `prices`; D1.2, D4.6).

A family's closed line costs its lab's list price: the price at first release (`price_usd_per_mtok`),
then each dated list price in `prices`. Between listed quarters the price is piecewise constant (a list
price changes on announcement); after a family's last listed quarter it falls at `closed_price_decline`
a year, the trend carried beyond the data. The schedule is held as flat price points (one row per
listed price, grouped by family in time order), so the price in force is a lookup, not a loop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.quarters import parse_quarter

if TYPE_CHECKING:
    from sim.model.model import GeopoliticsModel
    from sim.world import World


def schedule_points(world: World) -> list[tuple[int, int, float]]:
    """(family row, quarter ordinal, blended US$ per Mtok) of every listed price, by family in time order."""
    return [(f, parse_quarter(quarter), price) for f, family in enumerate(world.families)
            for quarter, price in world.price_schedule(family.id)]


def setup(model: GeopoliticsModel) -> None:
    """Fill the price points, each family's first point and the quarter its trend starts (`n_price_points`
    is set already)."""
    points = schedule_points(model.world)
    model.price_point_family = np.array([p[0] for p in points], dtype=np.int64)
    model.price_point_quarter = np.array([p[1] for p in points], dtype=np.int64)
    model.price_point_usd = np.array([p[2] for p in points], dtype=np.float64)
    counts = np.bincount(model.price_point_family, minlength=model.n_families)
    model.family_price_start = (np.cumsum(counts) - counts).astype(np.int64)
    model.family_price_trend_from = np.array(
        [parse_quarter(model.world.price_trend_from(f.id)) for f in model.world.families], dtype=np.int64
    )


def closed_price(model: GeopoliticsModel) -> np.ndarray:
    """Each family's closed-API list price this quarter (US$ per Mtok, blended 3:1), read-only.

    Read from a table of the run's quarters made on first use (`closed_prices`, ~15 µs, the same
    elementwise arithmetic for every quarter at once) instead of computed each quarter (~8 µs a quarter);
    a quarter outside the run is computed alone."""
    table = model.closed_prices
    if table is None:
        quarters = np.arange(model.start, model.end + 1, dtype=np.int64)
        table = model.closed_prices = _prices_at(model, quarters)
        table.setflags(write=False)
    row = model.quarter - model.start
    if 0 <= row < table.shape[0]:
        return table[row]
    return _prices_at(model, np.array([model.quarter], dtype=np.int64))[0]


def _prices_at(model: GeopoliticsModel, quarters: np.ndarray) -> np.ndarray:
    """quarters x families: each family's closed-API list price in each of `quarters`."""
    listed = (model.price_point_quarter[None, :] <= quarters[:, None]).astype(np.int64)
    # Quarters increase within a family, so the points listed by now are a prefix of its group.
    so_far = np.add.reduceat(listed, model.family_price_start, axis=1)
    point = model.family_price_start + np.maximum(so_far - 1, 0)  # before release: its first price
    years = np.maximum(quarters[:, None] - model.family_price_trend_from, 0) / 4.0  # beyond the data only
    return model.price_point_usd[point] * (1.0 - model.params.choice.closed_price_decline) ** years
