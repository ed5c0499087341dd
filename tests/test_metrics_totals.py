"""The metrics' shared selection sums (`sim.model.metrics._Totals`) are the same bits as each reporter's own
sum over the selection's countries was: the adoption and compute tables must not move by a last bit. A model
whose layout inputs match the last model's reuses its layout; one whose inputs differ gets its own."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from sim.model.metrics import _ratio, _Totals, selection_index


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
        use.size[rng.random(countries) < 0.1] = 0.0  # no firms: a rate of 0
        model.firms_by_country[rng.random(countries) < 0.1] = 0.0
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
            # the rates by size and by count, divided together: the bits of each division alone
            assert totals.rates[i].tobytes() == np.array([
                _ratio(use.users[rows].sum(), use.size[rows].sum()),
                _ratio(model.adopters_by_country[rows].sum(), model.firms_by_country[rows].sum())]).tobytes()
        assert totals.country_rates[0].tobytes() == _ratio(use.users, use.size).tobytes()
        assert totals.country_rates[1].tobytes() == \
            _ratio(model.adopters_by_country, model.firms_by_country).tobytes()


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


@pytest.mark.parametrize("name", ["eu-bans-chinese-models", "china-open-source-push"])
def test_values_reused_while_their_inputs_stay_are_the_values_computed_afresh(name, monkeypatch):
    """government_use, release_open_share and countries_banning reuse last quarter's values while the governments'
    lines, the labs' openness and the bans stay the same: the rows must be those of computing every quarter, in a
    run where those inputs do change."""
    from pathlib import Path

    from sim.model import metrics
    from sim.model.model import GeopoliticsModel
    from sim.scenario import prepare

    prepared = prepare(Path(__file__).resolve().parents[1] / "scenarios" / f"{name}.yaml", ["population.firms=300"])
    reused = GeopoliticsModel(prepared.scenario, prepared.world, seed=3)
    seen: dict[str, set[bytes]] = {"government_values": set(), "release_values": set(), "banning_values": set()}
    calls = {"n": 0}
    for metric, attribute in (("government_use", "government_values"), ("release_open_share", "release_values"),
                              ("countries_banning", "banning_values")):
        def watched(model, layout, put, reporter=metrics.REPORTERS[metric], attribute=attribute):
            reporter(model, layout, put)
            seen[attribute].add(getattr(layout, attribute)[0])
            calls["n"] += 1
        monkeypatch.setitem(metrics.REPORTERS, metric, watched)
    reused.run()
    quarters = reused.steps
    assert calls["n"] == 3 * quarters
    # the inputs changed during the run (else reuse is not tested) and stayed for most quarters (else nothing reused)
    assert all(1 < len(keys) < quarters for keys in seen.values() if keys), {k: len(v) for k, v in seen.items()}
    assert sum(len(keys) > 1 for keys in seen.values()) >= 2

    for metric, attribute in (("government_use", "government_values"), ("release_open_share", "release_values"),
                              ("countries_banning", "banning_values")):
        def afresh(model, layout, put, reporter=metrics.REPORTERS[metric], attribute=attribute):
            setattr(layout, attribute, None)
            reporter(model, layout, put)
        monkeypatch.setitem(metrics.REPORTERS, metric, afresh)
    fresh = GeopoliticsModel(prepared.scenario, prepared.world, seed=3)
    fresh.run()
    assert [(*row[:4], np.float64(row[4]).tobytes()) for row in fresh.rows] == \
        [(*row[:4], np.float64(row[4]).tobytes()) for row in reused.rows]


def test_sums_over_openness_are_the_bits_of_numpys_reduction():
    from sim.model.metrics import _sum_openness

    rng = np.random.default_rng(7)
    for trial in range(300):
        countries = int(rng.integers(1, 300))
        values = rng.random((countries, 4, 2)) * 10.0 ** rng.uniform(-8, 8, size=(countries, 4, 2))
        values[rng.random(values.shape) < 0.3] = 0.0
        values[rng.random(values.shape) < 0.3] = -0.0  # a sum of -0.0s is 0.0 in numpy's reduction
        values[rng.random(values.shape) < 0.05] *= -1
        if trial % 5 == 0:
            values[rng.random(values.shape) < 0.05] = np.inf
        assert _sum_openness(values).tobytes() == np.add.reduce(values, 2).tobytes()
    assert _sum_openness(np.full((3, 4, 2), -0.0)).tobytes() == np.zeros((3, 4)).tobytes()
