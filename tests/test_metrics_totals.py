"""The metrics' shared selection sums (`sim.model.metrics._Totals`) are the same bits as each reporter's own
sum over the selection's countries was: the adoption and compute tables must not move by a last bit. A model
whose layout inputs match the last model's reuses its layout; one whose inputs differ gets its own."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from sim.model.metrics import _Totals, selection_index


@pytest.mark.parametrize("families", [1, 2, 11])
def test_selection_sums_are_the_bits_of_each_selections_own_sum(families):
    rng = np.random.default_rng(families)
    for _ in range(40):
        countries = int(rng.integers(1, 90))
        scale = 10.0 ** rng.uniform(-6, 6, size=(countries, 1))
        firms = rng.random((countries, 4, 2)) * scale[:, :, None] * (rng.random((countries, 4, 2)) < 0.7)
        firms[rng.random(firms.shape) < 0.1] = -0.0  # the sign of a zero sum must come out as before too
        use = SimpleNamespace(firms=firms, users=firms.sum(axis=(1, 2)), size=rng.random(countries) * scale[:, 0])
        model = SimpleNamespace(
            n_countries=countries, adopters_by_country=rng.integers(0, 50, countries).astype(float),
            firms_by_country=rng.integers(1, 80, countries).astype(float), compute=rng.random(countries) * 1e-3,
            family_weight=rng.random((countries, families)) * scale,
        )
        selections = [None] + [np.flatnonzero(rng.random(countries) < p) for p in (0.0, 0.05, 0.5, 0.9)]
        layout = SimpleNamespace(selections=selections, selection_index=selection_index(selections, countries),
                                 per_country=np.empty((len(_Totals.QUANTITIES), countries)),
                                 by_class=_Totals.class_buffer(countries, 8 + families))
        totals = _Totals(model, layout, use)
        for i, rows in enumerate(selections):
            rows = np.arange(countries) if rows is None else rows
            quantities = (use.users, use.size, model.adopters_by_country, model.firms_by_country, model.compute)
            assert [totals.sums[i, q].tobytes() for q in range(5)] == [x[rows].sum().tobytes() for x in quantities]
            own = np.concatenate([firms[rows].sum(axis=0).ravel(), model.family_weight[rows].sum(axis=0)])
            assert totals.by_class[i].tobytes() == own.tobytes()


def test_a_model_whose_layout_inputs_differ_gets_its_own_layout_and_rows():
    from pathlib import Path

    from sim.model import metrics
    from sim.model.model import GeopoliticsModel
    from sim.scenario import prepare

    prepared = prepare(Path(__file__).resolve().parents[1] / "scenarios" / "baseline.yaml",
                       ["population.firms=200", "time.end=2023Q2"])
    first = GeopoliticsModel(prepared.scenario, prepared.world, seed=1)
    first.run()
    same = GeopoliticsModel(prepared.scenario, prepared.world, seed=1)
    same.run()  # the last layout and first quarter's coding reused: the same rows
    assert list(same.rows) == list(first.rows) and same.metrics_layout is not first.metrics_layout
    assert same.metrics_layout.per_country is not first.metrics_layout.per_country  # its own quarter state
    moved = GeopoliticsModel(prepared.scenario, prepared.world, seed=1)
    moved.country_region = moved.country_region.copy()
    north, south = (np.flatnonzero(moved.country_region == r) for r in ("north", "south"))
    moved.country_region[north[0]] = "south"  # a country in the other region: the layout must see it
    moved.run()
    assert list(moved.metrics_layout.region_rows[1]) == list(north[1:])
    assert list(moved.metrics_layout.region_rows[2]) == sorted([*south, north[0]])
    assert moved.metrics_layout.region_rows[1] is not first.metrics_layout.region_rows[1]
    assert metrics._layout(first) is first.metrics_layout
