"""The closed-API prices are read from a table of the run's quarters (`sim.model.prices.closed_price`): each
quarter's row must be the bits the price computed for that quarter alone has, also for quarters outside the
run, or the cost term of every utility would move by a last bit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sim.model import prices
from sim.model.model import GeopoliticsModel
from sim.scenario import prepare

BASELINE = Path(__file__).resolve().parents[1] / "scenarios" / "baseline.yaml"


def _alone(model: GeopoliticsModel, quarter: int) -> np.ndarray:
    """The price of each family in `quarter`, computed for that quarter only (the per-quarter formula)."""
    listed = (model.price_point_quarter <= quarter).astype(np.int64)
    so_far = np.add.reduceat(listed, model.family_price_start)
    point = model.family_price_start + np.maximum(so_far - 1, 0)
    years = np.maximum(quarter - model.family_price_trend_from, 0) / 4.0
    return model.price_point_usd[point] * (1.0 - model.params.choice.closed_price_decline) ** years


@pytest.mark.parametrize("decline", ["0.35", "0.123456789", "0.0"])
def test_each_quarters_price_is_the_bits_of_that_quarter_computed_alone(decline):
    prepared = prepare(BASELINE, ["population.firms=200", f"parameters.choice.closed_price_decline={decline}"])
    model = GeopoliticsModel(prepared.scenario, prepared.world, seed=1)
    start, end = model.start, model.end
    seen = set()
    for quarter in range(start - 6, end + 10):  # before the run, the run, after it (computed alone)
        model.quarter = quarter
        price = prices.closed_price(model)
        assert price.tobytes() == _alone(model, quarter).tobytes(), quarter
        seen.add(price.tobytes())
    assert model.closed_prices.shape == (end - start + 1, model.n_families)
    assert len(seen) > 5  # the prices do move over the run (a constant table would pass the check above)
    with pytest.raises(ValueError):
        model.closed_prices[0, 0] = 0.0  # shared by every quarter's reader: read-only
