"""Releases keep their openness: a lab's release policy applies to its next release, published
weights stay available, and the open share moves only as firms choose (design.md "Model v2")."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import sim
from sim.model.model import GeopoliticsModel
from sim.runner import release_model
from sim.scenario import prepare

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.yaml"
MAX_QUARTERLY_MOVE = 0.05  # 5 points of world open share in one quarter
SEEDS = (1, 2, 3, 4, 5)


def open_share(frame: pd.DataFrame) -> pd.DataFrame:
    rows = frame[(frame["metric"] == "adoption_share") & (frame["group"] == "openness=open")]
    return rows.pivot(index="step", columns="replicate", values="value").sort_index()


def test_median_world_open_share_never_jumps_in_the_baseline():
    """No relabelling: 20 replicates at the baseline's own size (4,000 firms, 2023-2030). When a lab
    changed release policy the whole family used to flip at once (57 of 59 jumps above 5 points)."""
    result = sim.run(BASELINE, replicates=20)
    shares = open_share(result.timeseries)
    median = shares.median(axis=1)
    moves = median.diff().abs().dropna()
    assert len(median) == 32
    assert moves.max() <= MAX_QUARTERLY_MOVE, moves.idxmax()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_firms_openness_changes_only_when_it_changes_line(seed):
    """The mechanism behind the smooth median: a line's openness never changes, so a firm's openness
    changes only through its own choice of another line. With relabelling, every user of a family
    changed openness in the quarter its lab switched, without choosing anything."""
    prepared = prepare(BASELINE, ["population.firms=1500"])
    model = GeopoliticsModel(prepared.scenario, prepared.world, seed=seed)
    line_open = model.line_open.copy()
    switches = 0
    while model.running:
        before_line = model.firm_line.copy()
        before_open = np.where(before_line >= 0, model.line_open[np.maximum(before_line, 0)], False)
        lab_open = model.lab_open.copy()
        model.step()
        switches += int((model.lab_open != lab_open).sum())
        now_open = np.where(model.firm_line >= 0, model.line_open[np.maximum(model.firm_line, 0)], False)
        assert np.array_equal(model.line_open, line_open)
        assert not (now_open != before_open)[model.firm_line == before_line].any()
    release_model(model)
    assert switches > 0  # labs did change release policy during the run: the test saw what it guards


def meta_closes_file(tmp_path: Path, closes: bool) -> Path:
    """The baseline, with (or without) the US state pushing its labs to closed releases from
    2026Q1 (-10 log-odds: Meta, the only open US lab, closes at its next release decision)."""
    rules = {}
    if closes:
        rules["us-labs-close"] = {
            "kind": "open_source_push", "sources": ["D4.3"], "bloc": "US", "open_support": -10.0,
            "outreach_bonus": 0.0, "from": "2026Q1",
        }
    doc = {"schema_version": 1, "name": f"meta-closes-{str(closes).lower()}", "extends": str(BASELINE), "rules": rules}
    path = tmp_path / f"meta-closes-{closes}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def run_quarters(path: Path, seed: int) -> list[tuple[GeopoliticsModel, dict[str, float]]]:
    """The model after each quarter, with what its llama lines and world open share look like."""
    prepared = prepare(path)
    model = GeopoliticsModel(prepared.scenario, prepared.world, seed=seed)
    llama = model.family_index["llama"]
    open_line = llama + model.n_families  # line l is family l % n_families, open when l >= n_families
    track = []
    while model.running:
        model.step()
        track.append(
            {
                "meta_open": bool(model.lab_open[model.lab_index["meta"]]),
                "llama_open_users": int((model.firm_line == open_line).sum()),
                "llama_open_share": float(model.firm_size[model.firm_line == open_line].sum()
                                          / model.firm_size[model.firm_line >= 0].sum()),
                "llama_open_available": bool(model.line_available[open_line]),
                "open_share": model.world_open_share,
            }
        )
    release_model(model)
    return track


@pytest.mark.parametrize("seed", SEEDS)
def test_a_lab_that_closes_keeps_its_published_weights_in_use(tmp_path, seed):
    closing = run_quarters(meta_closes_file(tmp_path, True), seed)
    staying = run_quarters(meta_closes_file(tmp_path, False), seed)
    switch = next(i for i, q in enumerate(closing) if not q["meta_open"])
    assert switch > 0 and closing[switch - 1]["meta_open"]  # Meta did close, during the run
    before = closing[switch - 1]["llama_open_users"]
    assert before > 0
    # The quarter Meta closes, Llama's open weights keep their users (only the ordinary re-choosers
    # and the upgrade cycle move, never the whole family) and stay choosable to the end.
    assert closing[switch]["llama_open_users"] >= 0.5 * before
    assert all(q["llama_open_available"] for q in closing[switch:])
    assert closing[switch + 3]["llama_open_users"] > 0  # a year on, some still run the frozen weights
    # The world open share falls at most gradually, and against the same run without the push
    # (common random numbers) by at most a few points a quarter.
    shares = np.array([q["open_share"] for q in closing])
    assert np.abs(np.diff(shares[switch - 1 :])).max() <= MAX_QUARTERLY_MOVE
    # Against the same run without the push (common random numbers), no quarter moves half of what
    # Llama's open weights carried before the switch: a relabelling moves all of it at once. Measured
    # on the calibrated baseline of 2026-12-01 (seeds 1-5): largest quarterly move 0-42% of Llama's
    # open share here, 87-107% with `releases_keep_openness: false` (the openness-relabelled mutant).
    gap = shares - np.array([q["open_share"] for q in staying])
    moves = np.abs(np.diff(gap[switch - 1 : switch + 8]))
    assert moves.max() < 0.5 * closing[switch - 1]["llama_open_share"]


def test_a_closing_lab_starts_a_closed_line_that_follows_its_newest_model(tmp_path):
    prepared = prepare(meta_closes_file(tmp_path, True))
    model = GeopoliticsModel(prepared.scenario, prepared.world, seed=1)
    llama = model.family_index["llama"]
    closed_line, open_line = llama, llama + model.n_families
    while model.running and model.lab_open[model.lab_index["meta"]]:
        model.step()
    frozen = model.line_capability[open_line]
    assert model.line_capability[closed_line] == pytest.approx(model.capability[llama])
    for _ in range(4):
        model.step()
    assert model.line_capability[open_line] == frozen  # published weights do not improve
    assert model.line_capability[closed_line] == pytest.approx(model.capability[llama])
    assert model.line_capability[closed_line] > frozen
    assert (model.firm_line == closed_line).any()  # firms did move to the new closed releases
    release_model(model)


def test_a_lab_that_opens_keeps_its_api_for_a_while_then_retires_it(tmp_path):
    """iFlytek opens in the baseline: its closed API serves on, frozen, and is retired after
    `closed_api_retirement_quarters`; its users leave over the upgrade cycle, not all at once."""
    prepared = prepare(BASELINE)
    model = GeopoliticsModel(prepared.scenario, prepared.world, seed=1)
    spark = model.family_index["spark"]
    closed_line = spark
    while model.running and not model.lab_open[model.lab_index["iflytek"]]:
        model.step()
    assert model.running, "iFlytek no longer opens in this baseline run: pick another lab"
    users_at_switch = int((model.firm_line == closed_line).sum())
    retire = model.params.labs.closed_api_retirement_quarters
    switched = model.quarter - 1  # step() has moved on to the next quarter
    while model.quarter < switched + retire:
        assert model.line_available[closed_line]
        model.step()
    assert int((model.firm_line == closed_line).sum()) < users_at_switch or users_at_switch == 0
    assert not model.line_available[closed_line]
    model.step()  # the quarter of retirement: its last users must re-choose
    assert not (model.firm_line == closed_line).any()
    release_model(model)


def test_open_share_metric_counts_lines_not_the_labs_current_policy():
    prepared = prepare(BASELINE, ["population.firms=1500"])
    model = GeopoliticsModel(prepared.scenario, prepared.world, seed=6)
    model.run()
    switched = {str(e["target"]) for e in model.events if "switches to" in str(e["event"])}
    assert switched  # some lab changed policy during the run
    last = [row for row in model.rows if row[0] == model.quarter - model.start - 1]
    share = next(v for _, _, metric, grp, v in last if metric == "adoption_share" and grp == "openness=open")
    using = model.firm_line >= 0  # the metric weighs users by their size
    users, size = model.firm_line[using], model.firm_size[using]
    assert share == pytest.approx((model.line_open[users] * size).sum() / size.sum(), abs=1e-12)
    release_share = next(v for _, _, metric, grp, v in last if metric == "release_open_share" and grp == "bloc=US")
    assert release_share == pytest.approx(model.lab_open[model.lab_bloc == "US"].mean())
    release_model(model)
