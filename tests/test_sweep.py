"""`sim sweep`: experiment files checked at their lines, designs of the right size, identical results on
any executor, and a sweep that survives Ctrl-C, a killed parent and a killed worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim
from conftest import default_signals
from sim.errors import InputError
from sim.experiments.design import FactorSpec, design_size, policies, sample
from sim.experiments.outcomes import reduce_series
from sim.experiments.plan import make_plan
from sim.experiments.schema import Design, Outcome
from sim.experiments.store import read_runs

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.yaml"
TINY = ROOT / "scenarios" / "experiments" / "tiny.yaml"


def experiment(tmp_path: Path, body: str, name: str = "exp.yaml") -> Path:
    """An experiment file over the baseline; `body` is the YAML after the common header."""
    path = tmp_path / name
    path.write_text(f"schema_version: 1\nname: test\nscenario: {BASELINE}\n{body}", encoding="utf-8")
    return path


SMALL_RUNS = """set:
  population.firms: {firms}
  time.end: {end}
uncertainties:
  network_weight: {{path: parameters.choice.network_weight, range: [1.0, 2.0]}}
levers:
  outreach: {{path: rules.china-open-source-strategy.outreach_bonus, choices: [0.0, 0.3]}}
design: {{kind: full_factorial, levels: {levels}}}
replicates: {replicates}
seed: 11
outcomes:
  cn_influence: {{metric: influence, group: "bloc=CN,weight=gdp", reduce: final}}
  open_share: {{metric: adoption_share, group: openness=open, reduce: mean}}
"""


def small(firms: int = 300, end: str = "2024Q4", levels: int = 2, replicates: int = 1) -> str:
    return SMALL_RUNS.format(firms=firms, end=end, levels=levels, replicates=replicates)


# --------------------------------------------------------------------------- designs
def ranged(name: str, low: float = 0.0, high: float = 1.0, integer: bool = False) -> FactorSpec:
    return FactorSpec(name, ("parameters", name), low=low, high=high, integer=integer)


def test_design_sizes_follow_each_method():
    factors = [ranged("a"), ranged("b", 1, 5), FactorSpec("c", ("x",), choices=("p", "q", "r"))]
    cases = [
        (Design(kind="full_factorial", levels=2), 2 * 2 * 3),
        (Design(kind="latin_hypercube", samples=7), 7),
        (Design(kind="sobol", samples=8), 8 * (3 + 2)),
        (Design(kind="sobol", samples=8, second_order=True), 8 * (2 * 3 + 2)),
        (Design(kind="morris", samples=4), 4 * (3 + 1)),
    ]
    for design, size in cases:
        drawn = sample(design, factors, seed=5)
        assert len(drawn.points) == size == design_size(design, factors), design.kind
        for point in drawn.points:
            assert 0 <= point["a"] <= 1 and 1 <= point["b"] <= 5 and point["c"] in ("p", "q", "r")
    assert sample(Design(kind="sobol", samples=8), factors, 5).points == sample(Design(kind="sobol", samples=8),
                                                                                factors, 5).points
    assert sample(Design(kind="latin_hypercube", samples=7), factors, 5).points != sample(
        Design(kind="latin_hypercube", samples=7), factors, 6).points


def test_latin_hypercube_covers_every_stratum_and_rounds_whole_numbers():
    factors = [ranged("a"), ranged("firms", 100, 1000, integer=True)]
    drawn = sample(Design(kind="latin_hypercube", samples=10), factors, seed=3)
    strata = sorted(int(p["a"] * 10) for p in drawn.points)
    assert strata == list(range(10))
    assert all(isinstance(p["firms"], int) for p in drawn.points)


def test_levers_are_crossed_and_choices_kept_in_order():
    levers = [FactorSpec("x", ("x",), choices=(0.1, 0.9)), ranged("y", 0, 1)]
    combos = policies(levers)
    assert len(combos) == 2 * 3 and combos[0] == {"x": 0.1, "y": 0.0} and combos[-1] == {"x": 0.9, "y": 1.0}
    assert policies([]) == [{}]


# --------------------------------------------------------------------------- outcomes
def test_reducers():
    dates = ["2025Q1", "2025Q2", "2025Q3", "2025Q4"]
    values = np.array([0.1, 0.4, 0.3, 0.6])

    def out(**fields) -> float:
        return reduce_series(dates, values, Outcome(metric="m", **fields))

    assert out(at="2025Q2") == 0.4
    assert out() == 0.6  # final over the whole run by default
    assert out(reduce="mean") == pytest.approx(0.35)
    assert out(reduce="min", window=("2025Q2", "2025Q4")) == 0.3
    assert out(reduce="change") == pytest.approx(0.5)
    assert out(reduce="first_crossing", threshold=0.35) == 2025.25  # 2025Q2 as a decimal year
    assert out(reduce="first_crossing", threshold=0.35, direction="below") == 2025.0
    assert np.isnan(out(reduce="first_crossing", threshold=0.9))
    assert np.isnan(out(at="2026Q1"))


def test_outcomes_pick_their_series_in_step_order_from_a_table_in_any_order():
    from sim.experiments.outcomes import compute_outcomes

    # Rows out of step order, two groups of one metric, a world total written the old ways ("" and missing);
    # text as pandas 3 reads it from Parquet (Arrow strings).
    frame = pd.DataFrame({
        "step": [2, 0, 1, 0, 1, 2, 0, 1, 2],
        "date": ["2024Q3", "2024Q1", "2024Q2", "2024Q1", "2024Q2", "2024Q3", "2024Q1", "2024Q2", "2024Q3"],
        "metric": ["share"] * 6 + ["rate"] * 3,
        "group": ["origin=CN,region=south"] * 3 + ["world", "", None, "world", "world", "world"],
        "value": [0.3, 0.1, 0.2, 1.0, 2.0, 4.0, 7.0, 8.0, 9.0],
    }).astype({"date": "str", "metric": "str", "group": "str"})
    outcomes = {
        "south_first": Outcome(metric="share", group="origin=CN,region=south", reduce="initial"),
        "south_change": Outcome(metric="share", group="origin=CN,region=south", reduce="change"),
        "world_mean": Outcome(metric="share", group="world", reduce="mean"),
        "rate_at": Outcome(metric="rate", group="world", at="2024Q2"),
        "missing": Outcome(metric="share", group="origin=US", reduce="final"),
    }
    # Arrow strings take Arrow's kernels (outcomes._picked_in_arrow); text of other kinds, pandas' operators.
    for text in ("str", object, "category"):
        got = compute_outcomes(frame.astype({"date": text, "metric": text, "group": text}), outcomes)
        assert got["south_first"] == 0.1 and got["south_change"] == pytest.approx(0.2), text
        assert got["world_mean"] == pytest.approx(7 / 3) and got["rate_at"] == 8.0, text
        assert np.isnan(got["missing"]), text


def test_a_replicates_outcomes_are_the_same_whichever_way_its_rows_are_found():
    from sim.experiments.outcomes import _picked_in_arrow, compute_outcomes
    from sim.runner import run_replicate
    from sim.scenario import prepare

    prepared = prepare(BASELINE, ["population.firms=300", "time.end=2025Q4"])
    table = run_replicate(prepared.scenario, prepared.world, 0, 11).timeseries
    outcomes = {
        "influence_at": Outcome(metric="influence", group="bloc=CN,weight=gdp", at="2025Q2"),
        "open_mean": Outcome(metric="adoption_share", group="openness=open", window=("2024Q2", "2025Q3"),
                             reduce="mean"),
        "world_final": Outcome(metric="adoption_share", group="world", reduce="final"),
        "crossing": Outcome(metric="adoption_share", group="openness=open", reduce="first_crossing",
                            threshold=0.01),
        "missing_group": Outcome(metric="influence", group="bloc=XX", reduce="max"),
        "missing_metric": Outcome(metric="no_such_metric", group="world", reduce="min"),
    }
    assert _picked_in_arrow(table, outcomes) is not None  # a replicate's table takes Arrow's way
    fast = compute_outcomes(table, outcomes)
    slow = compute_outcomes(table.astype({"date": object, "metric": object, "group": object}), outcomes)
    assert fast.keys() == slow.keys()
    for name in fast:
        assert fast[name] == slow[name] or (np.isnan(fast[name]) and np.isnan(slow[name])), name
    assert not np.isnan(fast["influence_at"]) and not np.isnan(fast["open_mean"])
    assert np.isnan(fast["missing_group"]) and np.isnan(fast["missing_metric"])


def test_runs_one_after_another_reuse_the_last_runs_rows_only_where_their_columns_are_the_same(monkeypatch):
    # A worker's runs mostly share the metric, group, date and step columns: their picked rows are reused
    # (outcomes._LAST_PICKED). Each run's outcomes must still be what pandas' way finds in that run's own table.
    from sim.experiments import outcomes as module
    from sim.runner import run_replicate
    from sim.scenario import prepare

    monkeypatch.setattr(module, "_LAST_PICKED", [])
    prepared = prepare(BASELINE, ["population.firms=300", "time.end=2025Q4"])
    first = run_replicate(prepared.scenario, prepared.world, 0, 11).timeseries
    second = run_replicate(prepared.scenario, prepared.world, 1, 12).timeseries
    reordered = first.iloc[::-1].reset_index(drop=True)  # the same rows in another order: other row numbers
    renamed = first.copy()  # one label changed: the open share's rows are now another metric's
    open_rows = (renamed["metric"] == "adoption_share") & (renamed["group"] == "openness=open")
    renamed["metric"] = pd.array(np.where(open_rows, "adoption_share_old", renamed["metric"]),
                                 dtype=first["metric"].dtype)
    outcomes = {
        "influence_at": Outcome(metric="influence", group="bloc=CN,weight=gdp", at="2025Q2"),
        "open_final": Outcome(metric="adoption_share", group="openness=open", reduce="final"),
    }
    other = {**outcomes, "open_final": Outcome(metric="adoption_share", group="openness=closed", reduce="final")}
    sequence = [(first, outcomes), (second, outcomes), (first, outcomes), (reordered, outcomes),
                (renamed, outcomes), (renamed, other), (second, other)]
    for i, (table, asked) in enumerate(sequence):
        before = module._LAST_PICKED[0][3] if module._LAST_PICKED else None
        fast = module.compute_outcomes(table, asked)
        slow = module.compute_outcomes(table.astype({"date": object, "metric": object, "group": object}), asked)
        assert fast.keys() == slow.keys(), i
        for name in fast:
            assert fast[name] == slow[name] or (np.isnan(fast[name]) and np.isnan(slow[name])), (i, name)
        # Reused only after a run with the same columns and asks (another seed; the first table again).
        assert (module._LAST_PICKED[0][3] is before) == (i in (1, 2)), i
    assert np.isnan(module.compute_outcomes(renamed, outcomes)["open_final"])  # that series is gone from it
    first_final, second_final = (module.compute_outcomes(t, outcomes)["open_final"] for t in (first, second))
    assert first_final != second_final


# --------------------------------------------------------------------------- checks at the line
def problems_of(path: Path) -> list[str]:
    with pytest.raises(InputError) as caught:
        make_plan(str(path))
    return [p.format() for p in caught.value.problems]


def test_unknown_paths_point_at_their_line_with_did_you_mean(tmp_path):
    path = experiment(tmp_path, """uncertainties:
  weight:
    path: parameters.choice.netwrk_weight
    range: [1, 2]
levers:
  chips:
    path: rules.us-chips-2023-updat.strength
    choices: [0.2, 0.9]
design: {kind: full_factorial}
outcomes:
  x: {metric: influence, group: "bloc=CN,weight=gdp"}
""")
    found = problems_of(path)
    assert any(f.startswith(f"{path}:6:11: uncertainties.weight.path:") and "did you mean 'network_weight'" in f
               for f in found), found
    assert any(f.startswith(f"{path}:10:11: levers.chips.path:") and "did you mean 'us-chips-2023-update'" in f
               for f in found), found


def test_values_the_scenario_refuses_are_reported_at_the_value(tmp_path):
    path = experiment(tmp_path, """levers:
  chips:
    path: rules.us-chips-2023-update.strength
    range: [0.5, 1.5]
design: {kind: full_factorial}
outcomes:
  x: {metric: influence, group: "bloc=CN,weight=gdp"}
""")
    found = problems_of(path)
    assert len(found) == 1 and found[0].startswith(f"{path}:7:18: levers.chips.range[1]: 1.5 cannot be used"), found


def test_schema_mistakes_are_located(tmp_path):
    path = experiment(tmp_path, """uncertainties:
  weight: {path: parameters.choice.network_weight, range: [1, 2]}
design: {kind: sobel, samples: 8}
outcomes:
  x: {metric: influence, grop: "bloc=CN,weight=gdp"}
replicate: 3
""")
    found = "\n".join(problems_of(path))
    assert f"{path}:6:16: design.kind: 'sobel' is not allowed" in found and "did you mean 'sobol'" in found
    assert f"{path}:8:26: outcomes.x.grop: unknown field 'grop' (did you mean 'group'?)" in found
    assert f"{path}:9:1: replicate: unknown field 'replicate' (did you mean 'replicates'?)" in found


def test_design_and_outcome_rules_are_checked(tmp_path):
    path = experiment(tmp_path, """uncertainties:
  weight: {path: parameters.choice.network_weight, range: [1, 2]}
design: {kind: sobol, samples: 10}
outcomes:
  x: {metric: influnce, group: "bloc=CN,weight=gdp"}
""")
    found = "\n".join(problems_of(path))
    assert f"{path}:6:32: design.samples: sobol samples must be a power of 2" in found
    path = experiment(tmp_path, """uncertainties:
  weight: {path: parameters.choice.network_weight, range: [1, 2]}
design: {kind: morris, samples: 2}
outcomes:
  x: {metric: influnce, group: "bloc=CN,weight=gdp"}
  y: {metric: influence, group: "bloc=CN,weight=gpd"}
  z: {metric: influence, group: "bloc=CN,weight=gdp", at: 2040Q1}
""", "b.yaml")
    found = "\n".join(problems_of(path))
    assert f"{path}:8:15: outcomes.x.metric: unknown metric 'influnce' (did you mean 'influence'?)" in found
    assert "outcomes.y.group: influence has no group 'bloc=CN,weight=gpd' (did you mean 'bloc=CN,weight=gdp'?)" in found
    assert "outcomes.z.at: 2040Q1 is outside the run (2023Q1-2030Q4)" in found


def test_cli_reports_bad_experiment_without_traceback(tmp_path):
    path = experiment(tmp_path, "design: {kind: explicit, points: [{nope: 1}]}\noutcomes:\n  x: {metric: influence}\n")
    done = subprocess.run([sys.executable, "-m", "sim", "sweep", str(path), "--dry-run"], capture_output=True,
                          text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert f"{path}:4:36: design.points[0].nope: unknown uncertainty 'nope'" in done.stderr


# --------------------------------------------------------------------------- running
def test_runs_use_distinct_seeds_per_point_common_across_policies_and_stable_ids():
    plan = make_plan(str(TINY))
    seeds = {(spec.design_point, spec.policy, spec.replicate): spec.seed for spec in plan.runs}
    # Every design point has its own seeds, even replicate 0 (replicates: 1 must not share one seed) ...
    assert len({seeds[(p, 0, r)] for p in range(2) for r in range(2)}) == 4
    # ... and the policies at a point share them (common random numbers: the lever's effect is paired).
    assert all(seeds[(p, 0, r)] == seeds[(p, 1, r)] for p in range(2) for r in range(2))
    assert len({spec.run_id for spec in plan.runs}) == len(plan.runs) == 2 * 2 * 2
    assert [s.run_id for s in make_plan(str(TINY)).runs] == [s.run_id for s in plan.runs]


@pytest.mark.slow
@pytest.mark.xdist_group("dask")
def test_one_two_workers_and_dask_give_identical_runs(tmp_path):
    from distributed import LocalCluster

    path = experiment(tmp_path, small(levels=2, replicates=2))
    one = sim.sweep(path, out=tmp_path / "one", workers=1)
    two = sim.sweep(path, out=tmp_path / "two", workers=2)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        dask = sim.sweep(path, out=tmp_path / "dask", scheduler=cluster.scheduler_address)
    assert one.complete and two.complete and dask.complete and len(one.runs) == 8
    reference = (tmp_path / "one" / "runs.csv").read_bytes()
    assert (tmp_path / "two" / "runs.csv").read_bytes() == reference
    assert (tmp_path / "dask" / "runs.csv").read_bytes() == reference
    for other in ("two", "dask"):
        for part in (tmp_path / "one" / "timeseries").glob("*.parquet"):
            assert (tmp_path / other / "timeseries" / part.name).read_bytes() == part.read_bytes()
    series = one.timeseries(metric="influence", group="bloc=CN,weight=gdp")
    assert set(series["run_id"]) == set(one.runs["run_id"])


def test_workers_store_their_own_parts_and_a_folder_they_cannot_see_gets_the_table_back(tmp_path):
    from dataclasses import replace

    from sim.experiments.executors import STATUS_OK, LocalExecutor, PartFolder, RunTask, execute
    from sim.experiments.store import write_part

    plan = make_plan(str(experiment(tmp_path, small(levels=2))))
    folder = tmp_path / "parts"
    folder.mkdir()
    parts = PartFolder.of(folder)
    tasks = [RunTask(spec.run_id, spec.scenario, spec.replicate, spec.seed, plan.experiment.outcomes,
                     plan.prepared.world, parts) for spec in plan.runs[:3]]
    outputs = list(LocalExecutor(workers=2).run(tasks))
    assert [o.status for o in outputs] == [STATUS_OK] * 3
    # The worker processes wrote the parts; only their digests and row counts came back.
    assert all(o.timeseries is None and o.part is not None for o in outputs)
    assert {o.worker for o in outputs} != {f"pid {os.getpid()}"}
    # A folder the worker does not see as the sweep's (another machine's Dask worker): the table comes back,
    # and the sweep's process stores the very same bytes.
    elsewhere = execute(replace(tasks[0], parts=replace(parts, inode=parts.inode + 1)))
    assert elsewhere.part is None and elsewhere.timeseries is not None
    assert not any(tmp_path.glob("x*.parquet"))
    entry = write_part(tmp_path / "x.parquet", elsewhere.timeseries)
    assert entry == outputs[0].part
    assert (tmp_path / "x.parquet").read_bytes() == (folder / f"{tasks[0].run_id}.parquet").read_bytes()
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{t.run_id}.parquet" for t in tasks)


def test_tasks_over_two_worlds_and_scenarios_each_run_with_their_own_in_one_worker(tmp_path):
    # A task's world and scenario are pickled once per object and unpickled once per object in a worker
    # (executors._Pickled): tasks alternating between two worlds, and two scenarios, on the same worker must each
    # still get their own.
    import pickle

    from sim.experiments.executors import STATUS_OK, LocalExecutor, RunTask, execute
    from sim.world import World

    plan = make_plan(str(experiment(tmp_path, small(levels=2))))
    world = plan.prepared.world
    data = world.model_dump()
    data["countries"] = tuple({**c, "gdp_usd_bn": c["gdp_usd_bn"] * (3.0 if c["bloc"] == "CN" else 1.0)}
                              for c in data["countries"])
    richer = World.model_validate(data)  # China's bloc three times as large: its influence moves
    spec = plan.runs[0]
    other = next(s for s in plan.runs if s.values != spec.values).scenario  # another network weight
    assert other != spec.scenario
    pairs = [(spec.scenario, world), (spec.scenario, richer), (other, world), (other, richer)] * 2
    tasks = [RunTask(f"{i:016x}", scenario, spec.replicate, spec.seed, plan.experiment.outcomes, world_)
             for i, (scenario, world_) in enumerate(pairs)]
    outputs = list(LocalExecutor(workers=1).run(tasks))
    assert [o.status for o in outputs] == [STATUS_OK] * 8
    assert len({o.worker for o in outputs}) == 1  # one worker process ran them all, in turn
    inline = [execute(task) for task in tasks]
    for task, output, here in zip(tasks, outputs, inline, strict=True):
        assert output.outcomes == here.outcomes, task.run_id
        pd.testing.assert_frame_equal(output.timeseries, here.timeseries)
    assert [o.outcomes for o in outputs[:4]] == [o.outcomes for o in outputs[4:]]
    assert len({tuple(o.outcomes.values()) for o in outputs[:4]}) == 4  # each pair gives its own results
    # The bytes of a task carry its world and scenario whole: any process can run it, whatever ran before.
    again = pickle.loads(pickle.dumps(tasks[3]))
    assert again.world == richer and again.world != world
    assert again.scenario.model_dump() == other.model_dump() != spec.scenario.model_dump()


def test_a_stored_part_is_the_bytes_pandas_writes_for_the_table_with_its_group_keys(tmp_path):
    # write_part builds the Arrow table itself (sim.experiments.store.part_table); the file must stay what
    # `with_group_keys(..., categorical=True).to_parquet` wrote, which older sweeps' index lines record.
    from sim.experiments.store import part_table, write_part
    from sim.outputs.tables import with_group_keys
    from sim.runner import run_replicate
    from sim.scenario import prepare

    prepared = prepare(ROOT / "scenarios" / "export-controls-tighten.yaml", ["population.firms=400"])
    table = run_replicate(prepared.scenario, prepared.world, 0, 3).timeseries
    table.insert(0, "run_id", "0123456789abcdef")
    assert part_table(table) is not None  # a replicate's table takes the direct way
    # An unknown key (sorted after the registry's), a key with more values than int8 codes hold, and a world
    # total written the old way (empty label: pandas' way, through with_group_keys' clean-up).
    extra = table.iloc[:300].copy()
    extra["group"] = [f"zone={i % 150},country=X{i % 3}" for i in range(300)]
    extra.loc[extra.index[::7], "value"] = np.nan  # a missing value (null in the file, as pandas writes it)
    older = table.iloc[:50].copy()
    older["group"] = ""
    noted = table.iloc[:40].copy()
    noted.attrs["note"] = "kept in the file's metadata"
    for i, frame in enumerate((table, extra, older, table.iloc[:0], noted)):
        expected = tmp_path / f"pandas-{i}.parquet"
        with_group_keys(frame, categorical=True).to_parquet(expected, index=False)
        entry = write_part(tmp_path / f"part-{i}.parquet", frame)
        assert (tmp_path / f"part-{i}.parquet").read_bytes() == expected.read_bytes(), i
        assert entry["rows"] == len(frame)
    assert part_table(extra) is not None and part_table(older) is None and part_table(noted) is None
    with pytest.raises(ValueError, match="named like group keys"):
        write_part(tmp_path / "clash.parquet", table.assign(country="x"))


def test_a_part_written_from_its_dictionaries_is_still_the_bytes_pandas_writes(tmp_path, monkeypatch):
    # write_part hands pyarrow the text columns' dictionaries and one batch of all rows where that cannot change
    # a byte (sim.experiments.store._parquet_bytes); at each edge it must still be pandas' file.
    from sim.experiments import store
    from sim.outputs.tables import with_group_keys
    from sim.runner import run_replicate
    from sim.scenario import prepare

    prepared = prepare(ROOT / "scenarios" / "baseline.yaml", ["population.firms=300", "time.end=2024Q4"])
    table = run_replicate(prepared.scenario, prepared.world, 0, 5).timeseries
    table.insert(0, "run_id", "0123456789abcdef")
    rows = 25_000  # two data pages (pyarrow cuts a page at 20,000 rows)
    base = pd.concat([table] * (rows // len(table) + 1), ignore_index=True).iloc[:rows].copy()

    def metric_arriving_at(row: int) -> pd.DataFrame:
        """Two metrics until `row`, a third from there: its dictionary's indices widen from 1 to 2 bits."""
        frame = base.copy()
        names = np.where(np.arange(rows) % 2 == 0, "adoption_share", "influence").astype(object)
        names[row:] = "third_metric"
        frame["metric"] = pd.array(names, dtype=table["metric"].dtype)
        return frame

    long_names = base.iloc[:16_000].copy()  # a dictionary over pyarrow's 1 MB limit: it falls back to plain
    long_names["metric"] = pd.array([f"metric-{i:06d}-" + "x" * 60 for i in range(16_000)], dtype=table["metric"].dtype)
    missing = base.copy()
    missing.loc[missing.index[::5], "scenario"] = np.nan
    frames = {
        "a replicate": (table, set()),
        "third metric on the first page": (metric_arriving_at(19_999), set()),
        "third metric on the second page": (metric_arriving_at(20_000), {"metric"}),
        "a dictionary over the limit": (long_names, None),
        "a missing scenario": (missing, set()),
        "more rows than a direct write takes": (pd.concat([table] * 3, ignore_index=True), None),
    }
    for name, (frame, hashed) in frames.items():
        monkeypatch.setattr(store, "_HASHED", set())
        expected = tmp_path / "pandas.parquet"
        with_group_keys(frame, categorical=True).to_parquet(expected, index=False)
        entry = store.write_part(tmp_path / "part.parquet", frame)
        assert (tmp_path / "part.parquet").read_bytes() == expected.read_bytes(), name
        assert entry["rows"] == len(frame)
        if hashed is not None:  # which text columns went to pyarrow as text (the dates do: a quarter a page)
            assert store._HASHED - {"date"} == hashed, name
    # A worker gives the run id apart (write_part's run_id): the same file as with the column in the frame.
    plain = table.drop(columns="run_id")
    noted = plain.iloc[:40].copy()
    noted.attrs["note"] = "kept in the file's metadata"  # pandas' way, with the column inserted into a copy
    for name, frame in (("a replicate", plain), ("a frame with attrs", noted)):
        expected = tmp_path / "pandas.parquet"
        with_group_keys(frame.assign(run_id="0123456789abcdef")[["run_id", *frame.columns]],
                        categorical=True).to_parquet(expected, index=False)
        entry = store.write_part(tmp_path / "given.parquet", frame, "0123456789abcdef")
        assert (tmp_path / "given.parquet").read_bytes() == expected.read_bytes(), name
        assert entry["rows"] == len(frame) and "run_id" not in frame.columns
    with pytest.raises(ValueError, match="run_id column already"):
        store.write_part(tmp_path / "twice.parquet", table, "0123456789abcdef")
    with pytest.raises(ValueError, match="named like group keys"):  # a group key that would clash with it
        store.write_part(tmp_path / "clash.parquet", plain.assign(group="run_id=7"), "0123456789abcdef")


def test_parts_written_one_after_another_reuse_equal_columns_and_stay_the_bytes_pandas_writes(tmp_path, monkeypatch):
    # A worker writes its runs' parts in turn: columns equal to the last part's are that part's chunks, only the
    # others are encoded (sim.experiments.part_splice). Each file must still be pandas' file for its own table.
    from sim.experiments import part_splice, store
    from sim.outputs.tables import with_group_keys
    from sim.runner import run_replicate
    from sim.scenario import prepare

    monkeypatch.setattr(part_splice, "_LAST", [])
    monkeypatch.setattr(part_splice, "_CONSTANT", {})
    encoded: list[list[str]] = []
    whole = store._encoded_bytes
    monkeypatch.setattr(store, "_encoded_bytes", lambda table, given: encoded.append(table.column_names)
                        or whole(table, given))
    base = prepare(ROOT / "scenarios" / "baseline.yaml", ["population.firms=300"])
    other = prepare(ROOT / "scenarios" / "export-controls-tighten.yaml", ["population.firms=300"])
    first = run_replicate(base.scenario, base.world, 0, 1).timeseries
    regrouped = first.copy()  # the same rows and columns, one group label changed: its keys change too
    regrouped["group"] = pd.array(np.where(np.arange(len(first)) == 5, "country=USA", regrouped["group"]),
                                  dtype=first["group"].dtype)
    tables = [
        ("a first run", first, "r0"),
        ("the same run again", first, "r0"),
        ("another seed", run_replicate(base.scenario, base.world, 1, 2).timeseries, "r1"),
        ("another scenario", run_replicate(other.scenario, other.world, 0, 3).timeseries, "r2"),
        ("a replicate and seed seen before", run_replicate(base.scenario, base.world, 1, 2).timeseries, "r6"),
        ("a group label changed", regrouped, "r3"),
        ("fewer rows", first.iloc[:-40], "r4"),
        ("after fewer rows", run_replicate(base.scenario, base.world, 0, 4).timeseries.iloc[:-40], "r5"),
    ]
    for name, frame, run_id in tables:
        encoded.clear()
        expected = tmp_path / "pandas.parquet"
        with_group_keys(frame.assign(run_id=run_id)[["run_id", *frame.columns]], categorical=True).to_parquet(
            expected, index=False)
        entry = store.write_part(tmp_path / "part.parquet", frame, run_id)
        assert (tmp_path / "part.parquet").read_bytes() == expected.read_bytes(), name
        assert entry["rows"] == len(frame)
        if name == "the same run again":  # every column is the last part's: nothing encoded
            assert encoded == [], name
            continue
        assert len(encoded) == 1, name  # one encoding a part: of its changed columns, or of all of them
        if name in ("another seed", "after fewer rows"):  # the run's own cells; the labels were the last part's
            assert set(encoded[0]) <= {"run_id", "replicate", "seed", "value"} and "value" in encoded[0], name
        elif name == "another scenario":
            assert "scenario" in encoded[0] and "metric" not in encoded[0], name
        elif name == "a replicate and seed seen before":  # their chunks remembered by value, not encoded again
            assert {"run_id", "scenario", "value"} <= set(encoded[0]), name
            assert not {"replicate", "seed", "metric"} & set(encoded[0]), name
        elif name == "a group label changed":
            assert {"group", "country"} <= set(encoded[0]) and "metric" not in encoded[0], name
        elif name in ("a first run", "fewer rows"):  # nothing to reuse: another number of rows
            assert "metric" in encoded[0] and len(encoded[0]) > 15, name


def test_a_parquet_footer_reads_and_writes_back_to_the_same_bytes():
    # part_splice rewrites a part's footer from its fields: reading and writing it must give the bytes back.
    import io

    from sim.experiments.part_splice import _footer, write_struct

    frame = pd.DataFrame({"a": [1.5, np.nan, 3.0] * 7, "b": ["x", "y", "z"] * 7, "c": range(21)})
    for options in ({}, {"compression": "snappy"}, {"write_statistics": False}):
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False, **options)
        data = buffer.getvalue()
        size = int.from_bytes(data[-8:-4], "little")
        out = bytearray()
        write_struct(_footer(data), out)
        assert bytes(out) == data[-8 - size:-8], options


def test_morris_sweep_writes_sensitivity_and_resumes_without_rerunning(tmp_path):
    # Enough firms and quarters that both factors move the open share (size-weighted, few users at first).
    path = experiment(tmp_path, """set: {population.firms: 1500, time.end: 2025Q2}
uncertainties:
  network_weight: {path: parameters.choice.network_weight, range: [0.8, 2.2]}
  risk: {path: parameters.risk.data_transfer, range: [0.5, 1.5]}
design: {kind: morris, samples: 2}
outcomes:
  open_share: {metric: adoption_share, group: openness=open, reduce: final}
""")
    first = sim.sweep(path, out=tmp_path / "out", workers=2)
    design_rows = first.plan.rows  # 2 trajectories x (2 + 1) points; a point two trajectories share runs once
    assert first.complete and len(design_rows) == 2 * 3
    assert len(first.runs) == first.ran == len({row[3] for row in design_rows})
    table = pd.read_csv(tmp_path / "out" / "sensitivity.csv")
    assert list(table["factor"]) == ["network_weight", "risk"]
    assert {"mu_star", "mu_star_conf", "mu", "sigma"} <= set(table.columns)
    assert (table["mu_star"] > 0).all()
    assert (tmp_path / "out" / "figures" / "sensitivity.png").stat().st_size > 0
    assert (tmp_path / "out" / "manifest.json").is_file()
    again = sim.sweep(path, out=tmp_path / "out", workers=2)
    assert again.ran == 0 and again.reused == len(first.runs)
    assert again.runs.equals(first.runs)


# --------------------------------------------------------------------------- faults, with real processes
def start_sweep(path: Path, out: Path, *extra: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "sim", "sweep", str(path), "--out", str(out), "--uncertainty", "seeds", *extra]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=default_signals)


def wait_for_rows(out: Path, count: int, process: subprocess.Popen[str], timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = out / "runs.csv"
        if runs.is_file() and runs.read_text().count("\n") - 1 >= count:
            return
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)
    raise AssertionError(f"no {count} finished runs within {timeout} s")


def assert_complete_exactly_once(path: Path, out: Path) -> pd.DataFrame:
    plan = make_plan(str(path))
    runs = read_runs(out / "runs.csv")
    assert sorted(runs["run_id"]) == sorted(s.run_id for s in plan.runs)  # every run, each once
    assert (runs["status"] == "ok").all()
    assert sorted(p.stem for p in (out / "timeseries").glob("*.parquet")) == sorted(runs["run_id"])
    assert not [p for p in out.rglob(".*") if ".tmp-" in p.name]
    assert (out / "manifest.json").is_file()
    return runs


@pytest.mark.slow
def test_killed_sweep_resumes_with_every_run_exactly_once(tmp_path):
    path = experiment(tmp_path, small(firms=800, end="2026Q4", levels=4, replicates=2))
    out = tmp_path / "out"
    process = start_sweep(path, out, "--workers", "2")
    wait_for_rows(out, 3, process)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    assert not (out / "manifest.json").exists()
    done = subprocess.run([sys.executable, "-m", "sim", "sweep", str(path), "--out", str(out), "--uncertainty", "seeds",
                           "--workers", "2"],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "already done" in done.stderr
    resumed = assert_complete_exactly_once(path, out)
    reference = sim.sweep(path, out=tmp_path / "reference", workers=2)
    assert (out / "runs.csv").read_bytes() == (tmp_path / "reference" / "runs.csv").read_bytes()
    assert len(resumed) == len(reference.runs) == 16


@pytest.mark.slow
def test_ctrl_c_exits_130_with_one_line_and_resume_finishes(tmp_path):
    # enough runs that Ctrl-C lands while most are still to do, however fast a run (about 0.1 s each since
    # the figures and metrics passes, ~0.05 s since issue 18's sixth round: 12,000 firms keep 48 runs several
    # seconds long; with 6 runs a sweep could finish before the signal, a flaky exit 0)
    path = experiment(tmp_path, small(firms=12_000, end="2030Q4", levels=3, replicates=8))
    out = tmp_path / "out"
    process = start_sweep(path, out, "--workers", "2")
    wait_for_rows(out, 2, process)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    message = [line for line in stderr.replace("\r", "\n").splitlines() if "interrupted" in line]
    assert len(message) == 1 and "run the same command again" in message[0]
    assert not (out / "manifest.json").exists()
    assert not [p for p in out.rglob(".*") if ".tmp-" in p.name]
    done = subprocess.run([sys.executable, "-m", "sim", "sweep", str(path), "--out", str(out), "--uncertainty", "seeds",
                           "--workers", "2"],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert_complete_exactly_once(path, out)


def worker_pids(parent: int) -> list[int]:
    import psutil

    children = psutil.Process(parent).children()
    servers = [c for c in children if "forkserver" in " ".join(c.cmdline())]
    return [w.pid for server in servers for w in server.children()]


@pytest.mark.slow
def test_dead_worker_is_reported_with_its_run_and_the_rest_complete(tmp_path):
    # Enough runs, long enough, that the victim still holds a run when the first row appears: with 6 runs of
    # 20,000 firms the sweep could finish its last runs before the kill once a run took ~0.3 s (a worker that
    # holds no run when it dies loses nothing, and the sweep rightly exits 0).
    path = experiment(tmp_path, small(firms=20_000, end="2030Q4", levels=3, replicates=4))
    out = tmp_path / "out"
    process = start_sweep(path, out, "--workers", "2")
    wait_for_rows(out, 1, process)
    victims = worker_pids(process.pid)
    assert victims, "no worker processes found"
    os.kill(victims[0], signal.SIGKILL)
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 1, stderr
    assert "Traceback" not in stderr
    runs = read_runs(out / "runs.csv")
    died = runs[runs["status"] == "worker-died"]
    assert len(died) == 1 and (runs["status"] == "ok").sum() == len(runs) - 1 == 23
    assert f"process {victims[0]} was killed by SIGKILL" in died["error"].iloc[0]
    assert f"run {died['run_id'].iloc[0]}" in stderr
    done = subprocess.run([sys.executable, "-m", "sim", "sweep", str(path), "--out", str(out), "--uncertainty", "seeds",
                           "--workers", "2"],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "23 run(s) already done, 1 to run" in done.stderr
    assert_complete_exactly_once(path, out)
