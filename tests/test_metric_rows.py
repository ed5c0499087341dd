"""The fast paths of a replicate give the same tables as the plain ones, in this process or a worker:
metric rows kept as columns (`sim.model.metric_rows`), the table built from them once, rule target
masks computed once. `benchmarks/identical.py BASE` checks the same against an older commit."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.model.metric_rows import MetricRows
from sim.model.model import GeopoliticsModel
from sim.outputs.tables import csv_bytes, events_table, timeseries_table
from sim.rules.base import Targets
from sim.runner import iter_replicates, release_model, run_replicate
from sim.scenario import prepare

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
SMALL = ["population.firms=300", "time.end=2025Q4"]


@pytest.fixture(scope="module")
def tightening():
    return prepare(SCENARIOS / "export-controls-tighten.yaml", SMALL)


def _table_bytes(timeseries: pd.DataFrame, events: pd.DataFrame) -> dict[str, bytes]:
    parquet = io.BytesIO()
    timeseries.to_parquet(parquet, index=False)
    return {
        "timeseries.csv": csv_bytes(timeseries_table(timeseries)),
        "events.csv": csv_bytes(events_table(events)),
        "raw rows": csv_bytes(timeseries),
        "parquet": parquet.getvalue(),
    }


def test_replicates_in_this_process_and_in_workers_write_identical_bytes(tightening):
    here = [_table_bytes(r.timeseries, r.events)
            for r in iter_replicates(tightening.scenario, tightening.world, replicates=2, workers=1)]
    there = [_table_bytes(r.timeseries, r.events)
             for r in iter_replicates(tightening.scenario, tightening.world, replicates=2, workers=2)]
    assert here == there
    assert here[0]["timeseries.csv"] != here[1]["timeseries.csv"]  # two seeds, two different runs


def test_replicate_table_is_the_rows_the_model_recorded(tightening):
    model = GeopoliticsModel(tightening.scenario, tightening.world, seed=5)
    model.run()
    plain = pd.DataFrame(list(model.rows), columns=["step", "date", "metric", "group", "value"])
    release_model(model)
    fast = run_replicate(tightening.scenario, tightening.world, replicate=3, seed=5).timeseries
    assert list(fast.columns) == ["scenario", "replicate", "seed", "step", "date", "metric", "group", "value"]
    assert (fast["scenario"] == tightening.scenario.name).all() and (fast["replicate"] == 3).all()
    assert (fast["seed"] == 5).all()
    pd.testing.assert_frame_equal(fast[plain.columns], plain)  # same values, dtypes and order
    assert len(plain) > 1_000 and plain["date"].nunique() == model.end - model.start + 1


def test_a_constant_column_named_like_a_row_column_is_refused():
    rows = MetricRows()
    rows.write(rows.metric_code("adoption_rate"), rows.group_code("world"), 0.5)
    rows.stamp(0, 0, "2023Q1")
    assert list(rows.frame(scenario="s", seed=1).columns) == ["scenario", "seed", "step", "date", "metric", "group",
                                                             "value"]
    with pytest.raises(ValueError, match=r"\['value'\] would replace"):
        rows.frame(scenario="s", value=1)


def test_metric_rows_read_as_the_tuples_written_and_grow_past_their_capacity():
    rows = MetricRows()
    rows.reserve(2)
    metric = rows.metric_code("adoption_rate")
    groups = ["world", "region=south", "region=north"]
    rows.write(metric, rows.group_codes(groups), np.array([0.5, 0.25, 0.75]))
    rows.write(rows.metric_code("capability"), rows.group_code("family=x"), 12.0)
    rows.stamp(0, 0, "2023Q1")
    first = rows.size
    rows.write(metric, rows.group_codes(groups), np.array([0.6, 0.3, 0.8]))
    rows.stamp(first, 1, "2023Q2")
    assert list(rows) == [
        (0, "2023Q1", "adoption_rate", "world", 0.5),
        (0, "2023Q1", "adoption_rate", "region=south", 0.25),
        (0, "2023Q1", "adoption_rate", "region=north", 0.75),
        (0, "2023Q1", "capability", "family=x", 12.0),
        (1, "2023Q2", "adoption_rate", "world", 0.6),
        (1, "2023Q2", "adoption_rate", "region=south", 0.3),
        (1, "2023Q2", "adoption_rate", "region=north", 0.8),
    ]
    assert rows[-1] == (1, "2023Q2", "adoption_rate", "region=north", 0.8) and len(rows) == 7
    assert rows.frame()["group"].tolist() == [row[3] for row in rows]


def test_target_mask_follows_a_changed_target_list_and_cannot_be_written(world):
    targets = Targets(countries=["DEU"])
    first = targets.mask(world)
    assert first.sum() == 1 and targets.mask(world) is first  # computed once
    with pytest.raises(ValueError):
        first[0] = True  # shared by every quarter: read-only
    targets.countries.append("FRA")
    assert targets.mask(world).sum() == 2


def test_quarters_recorded_in_place_keep_their_groups_when_the_groups_change_or_overflow():
    from sim.model.metrics import Put, _Recorder

    rows = MetricRows()
    recorder = _Recorder(rows, bound=3)  # room for 3 values a quarter: the third quarter records 5
    rate, capability = Put(recorder, "adoption_rate"), Put(recorder, "capability")
    countries = ["country=DEU", "country=FRA"]
    quarters = [  # (rates of the two countries, capability rows): the same groups twice, then others
        ([0.1, 0.2], [("family=a", 3.0)]),
        ([0.3, 0.4], [("family=a", 4.0)]),
        ([0.5, 0.6], [("family=b", 5.0), ("family=a", 6.0), ("family=c", 7)]),
        ([0.7, 0.8], []),
    ]
    for step, (rates, families) in enumerate(quarters):
        recorder.begin()
        recorder.keys.append(rate.code)
        rate.each(countries, np.array(rates))
        recorder.keys.append(capability.code)
        for group, value in families:
            capability(group, value)
        recorder.end(step, f"2023Q{step + 1}")
    expected = [
        (step, f"2023Q{step + 1}", metric, group, float(value))
        for step, (rates, families) in enumerate(quarters)
        for metric, group, value in [*(("adoption_rate", c, r) for c, r in zip(countries, rates, strict=True)),
                                     *(("capability", g, v) for g, v in families)]
    ]
    assert list(rows) == expected
    with pytest.raises(ValueError, match="2 groups for 3 values"):
        rate.each(countries, np.array([1.0, 2.0, 3.0]))


def _rows_of(quarters: list[list[tuple[str, str, float]]]) -> MetricRows:
    rows = MetricRows()
    for step, quarter in enumerate(quarters):
        first = rows.size
        for metric, group, value in quarter:
            rows.write(rows.metric_code(metric), rows.group_code(group), value)
        rows.stamp(first, step, f"2030Q{step + 1}")
    return rows


def test_tables_of_replicates_with_the_same_groups_share_nothing_a_user_can_change():
    quarter = [("capability", "family=a", 1.0), ("adoption_rate", "world", 0.5)]
    one, two = _rows_of([quarter, quarter]), _rows_of([quarter, quarter[:1]])
    first = one.frame(scenario="s", replicate=0, seed=1)
    first.loc[0, "group"] = "edited"  # a user's edit of one table
    again = one.frame(scenario="s", replicate=1, seed=2)  # the same groups: decoded once, reused
    other = two.frame(scenario="t", replicate=0, seed=3)  # other groups and scenario: decoded anew
    assert again["group"].tolist() == ["family=a", "world", "family=a", "world"]
    assert again["date"].tolist() == ["2030Q1", "2030Q1", "2030Q2", "2030Q2"]
    assert other["group"].tolist() == ["family=a", "world", "family=a"]
    assert other["scenario"].tolist() == ["t"] * 3 and other["metric"].tolist()[-1] == "capability"
    assert str(again["group"].dtype) == str(first["metric"].dtype) == "str"
