"""`sim check`: calibration targets and untuned patterns measured on a run, the report, the exit code."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from sim.cli import main
from sim.errors import InputError
from sim.fields import claims
from sim.validation import (
    EXIT_FAILED,
    EXIT_HELD,
    Pattern,
    Target,
    evaluate,
    load_patterns,
    load_targets,
    measure,
    outcome,
    text_report,
)

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--replicates", "2", "--set", "population.firms=150", "--set", "time.end=2026Q2"]


@functools.cache
def tiny_run() -> pd.DataFrame:
    """A small baseline run covering every quarter the shipped checks use (enough firms that each
    replicate has Chinese open-model users in 2024Q4, the base of a ratio pattern)."""
    import sim

    return sim.run(ROOT / "scenarios/baseline.yaml", replicates=2, overrides=["population.firms=300"]).timeseries


def synthetic(values: dict[tuple[str, str, str], list[float]]) -> pd.DataFrame:
    """A tidy time series: (metric, group, date) -> one value per replicate."""
    rows = [
        ("s", r, 0, 0, date, metric, group, v)
        for (metric, group, date), per_replicate in values.items()
        for r, v in enumerate(per_replicate)
    ]
    return pd.DataFrame(rows, columns=["scenario", "replicate", "seed", "step", "date", "metric", "group", "value"])


def pattern(**fields) -> Pattern:
    base = dict(id="p", fact="f", claims=[], source="s", metric="adoption_share", group="openness=open",
                quarters=["2025Q1"], observed=None, accept=[0.0, 1.0], tuned=False)
    return Pattern.model_validate(base | fields)


def target_check(**fields) -> Target:
    base = dict(id="t", metric="adoption_rate_firms", group="user_bloc=EU", quarters=["2025Q1"], observed=0.2,
                accept=[0.1, 0.3], source="s", date="2025-12-11", measures="firms (Eurostat)",
                uncertainty={"plus_minus": 0.005, "reason": "sampling"}, model_quantity="firms counted")
    return Target.model_validate(base | fields)


def test_shipped_targets_say_what_they_measure_and_cover_their_measurement():
    targets = load_targets().checks
    ids = {t.id for t in targets}
    # the near-tautologies are gone; the levels per bloc are there
    assert not ids & {"coauthorship-2024", "coauthorship-2025", "compute-us-2025", "compute-cn-2025"}
    assert {"eu-firm-adoption-2023", "eu-firm-adoption-2024", "eu-firm-adoption-2025",
            "us-firm-adoption-2024", "cn-share-in-china-2025"} <= ids
    considered = {c.id for c in load_patterns().considered}
    assert {"coauthorship-shares-2024-2025", "compute-shares-2025"} <= considered
    for t in targets:
        assert isinstance(t, Target) and t.measures and t.model_quantity and t.uncertainty.reason
        measured = t.uncertainty.interval(t.observed)
        assert measured is not None and t.accept[0] <= measured[0] + 1e-9 and measured[1] <= t.accept[1] + 1e-9


@pytest.mark.parametrize(
    ("change", "where", "says"),
    [
        ({"date": "Dec 2025"}, "date", "should match pattern"),
        ({"uncertainty": {"reason": "none given"}}, "uncertainty", "exactly one"),
        ({"uncertainty": {"range": [0.3, 0.1], "reason": "r"}}, "uncertainty.range", "low end above"),
        ({"accept": [0.198, 0.3]}, "accept", "narrower than the measurement"),
        ({"measures": ""}, "measures", "at least 1 character"),
    ],
)
def test_bad_target_fields_are_located_errors(tmp_path: Path, change: dict, where: str, says: str):
    record = target_check().model_dump(mode="json", exclude_none=True) | change
    path = tmp_path / "targets.yaml"
    path.write_text(yaml.safe_dump({"targets": [record]}, sort_keys=False))
    with pytest.raises(InputError) as error:
        load_targets(path)
    lines = str(error.value).splitlines()
    assert any(line.startswith(f"{path}:") and where in line and says in line for line in lines), lines
    assert all(line.split(":")[1].isdigit() and line.split(":")[2].isdigit() for line in lines)


def test_shipped_patterns_name_existing_claims_metrics_and_groups():
    patterns, targets = load_patterns(), load_targets()
    assert len(patterns.checks) >= 5
    known = claims()
    for p in patterns.checks:
        assert isinstance(p, Pattern) and p.tuned is False
        assert all(c in known for c in p.claims)
    for c in patterns.considered:
        assert all(claim in known for claim in c.claims)
    # Every metric, group and quarter exists in a real run's outputs (evaluate raises otherwise).
    outcomes = evaluate(tiny_run(), [targets, patterns])
    assert len(outcomes) == len(targets.checks) + len(patterns.checks)
    # A ratio's base can be zero in a run this small (no Chinese open use yet in 2024Q4): NaN, not an error.
    assert all(np.isfinite(o.values).all() or o.check.ratio_to_quarters for o in outcomes)
    assert not {p.id for p in patterns.checks} & {t.id for t in targets.checks}


def test_difference_pattern_passes_or_fails_by_its_median():
    series = synthetic({
        ("adoption_share", "openness=open,region=south", "2025Q1"): [0.5, 0.4, 0.3],
        ("adoption_share", "openness=open,region=north", "2025Q1"): [0.2, 0.3, 0.4],
    })
    check = pattern(group="openness=open,region=south", minus_group="openness=open,region=north")
    result = outcome(series, check)
    np.testing.assert_allclose(result.values, [0.3, 0.1, -0.1])
    assert result.median == pytest.approx(0.1) and result.held
    assert not outcome(series, pattern(group=check.group, minus_group=check.minus_group, accept=[0.2, 1.0])).held


def test_ratio_pattern_averages_quarters_then_divides():
    series = synthetic({
        ("adoption_rate", "region=north", "2023Q1"): [0.10, 0.10],
        ("adoption_rate", "region=north", "2023Q2"): [0.10, 0.20],
        ("adoption_rate", "region=north", "2024Q1"): [0.15, 0.30],
        ("adoption_rate", "region=north", "2024Q2"): [0.15, 0.30],
    })
    check = pattern(metric="adoption_rate", group="region=north", quarters=["2024Q1", "2024Q2"],
                    ratio_to_quarters=["2023Q1", "2023Q2"], accept=[1.3, 2.2])
    np.testing.assert_allclose(measure(series, check), [1.5, 2.0])
    assert outcome(series, check).held
    zero_base = synthetic({("adoption_rate", "region=north", q): [0.0] for q in ("2023Q1", "2023Q2")}
                          | {("adoption_rate", "region=north", q): [0.1] for q in ("2024Q1", "2024Q2")})
    assert not outcome(zero_base, check).held  # undefined ratio: the check cannot hold


def test_missing_group_is_reported_at_its_line(tmp_path: Path):
    path = tmp_path / "patterns.yaml"
    data = yaml.safe_load((ROOT / "scenarios/data/patterns.yaml").read_text())
    data["patterns"][1]["group"] = "openness=opne"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    series = synthetic({("adoption_share", "openness=open", "2025Q1"): [0.3]})
    with pytest.raises(InputError) as error:
        evaluate(series, [load_patterns(path)])
    text = str(error.value)
    assert f"{path}:" in text and "patterns[1].group" in text and "did you mean 'openness=open'" in text


def test_tuned_pattern_and_unknown_claim_are_bad_input(tmp_path: Path):
    path = tmp_path / "patterns.yaml"
    path.write_text(
        "patterns:\n"
        "  - {id: x, fact: f, claims: [D4.88], source: s, metric: adoption_share, group: openness=open,\n"
        "     quarters: [2025Q1], observed: null, accept: [0, 1], tuned: true}\n"
    )
    with pytest.raises(InputError) as error:
        load_patterns(path)
    lines = str(error.value).splitlines()
    assert any("claims[0]" in line and "did you mean 'D4.8'" in line for line in lines)
    assert any("tuned" in line and "targets.yaml" in line for line in lines)
    assert all(line.startswith(f"{path}:") for line in lines)


def _write_targets(path: Path, accept: list[float]) -> None:
    path.write_text(yaml.safe_dump({"targets": [{
        "id": "us-compute", "metric": "compute_share", "group": "bloc=US", "quarters": ["2025Q2"],
        "observed": sum(accept) / 2, "accept": accept, "source": "Epoch AI", "date": "2025-05",
        "measures": "GPU-cluster performance", "uncertainty": {"plus_minus": 0.0, "reason": "synthetic"},
        "model_quantity": "the bloc's share of compute",
    }]}))


def test_check_command_reports_and_exits_0_when_targets_hold(tmp_path: Path, capsys):
    targets = tmp_path / "targets.yaml"
    _write_targets(targets, [0.0, 1.0])
    out = tmp_path / "report.md"
    code = main(["check", *TINY, "--targets", str(targets), "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == EXIT_HELD
    assert "Calibration targets (the baseline must reproduce these; they set the exit code)" in printed
    assert "Untuned patterns (the model was not tuned to these)" in printed
    assert "PASS  us-compute: observed 0.500; model " in printed
    for p in load_patterns().checks:  # every untuned pattern is reported, held or not
        assert f"  {p.id}: observed " in printed
    assert "calibration target: compute_share (bloc=US), 2025Q2" in printed
    assert "1 of 1 calibration targets hold" in printed
    page = out.read_text()
    assert page.startswith("# Validation of the baseline") and "## Untuned patterns" in page


def test_check_command_exits_1_when_a_target_fails(tmp_path: Path, capsys):
    targets = tmp_path / "targets.yaml"
    _write_targets(targets, [0.9, 1.0])  # the US share of compute is nowhere near 90%
    code = main(["check", *TINY, "--targets", str(targets)])
    printed = capsys.readouterr().out
    assert code == EXIT_FAILED
    assert "FAIL  us-compute" in printed and "Calibration targets failed: us-compute (exit 1)." in printed


def test_check_command_bad_checks_file_exits_2(tmp_path: Path, capsys):
    targets = tmp_path / "targets.yaml"
    targets.write_text("targets:\n  - {id: a, metric: compute_share}\n")
    assert main(["check", *TINY, "--targets", str(targets)]) == 2
    assert f"{targets}:2:" in capsys.readouterr().err


def test_text_report_marks_targets_and_patterns():
    series = synthetic({("compute_share", "bloc=US", "2025Q2"): [0.7, 0.8]})
    target = target_check(metric="compute_share", group="bloc=US", quarters=["2025Q2"], observed=0.75,
                          accept=[0.67, 0.83])
    untuned = pattern(metric="compute_share", group="bloc=US", quarters=["2025Q2"], accept=[0.9, 1.0])
    from sim.validation import Validation

    report = text_report(Validation("x.yaml", "x", 2, 1, [outcome(series, target), outcome(series, untuned)], []))
    assert "PASS  t: observed 0.750; model 0.750 [0.710, 0.790]; accepted 0.670 to 0.830" in report
    assert "FAIL  p: observed qualitative" in report
    assert "1 of 1 calibration targets hold; 0 of 1 untuned patterns hold." in report


def test_odd_document_has_every_section_rule_kind_and_parameter_group():
    from sim.rules import RULE_KINDS
    from sim.scenario.parameters import Parameters
    from tools.docs.odd import render_odd

    page = render_odd()
    for section in ("1. Purpose and patterns", "2. Entities, state variables and scales",
                    "3. Process overview and scheduling", "4. Design concepts", "5. Initialization",
                    "6. Input data", "7. Submodels"):
        assert f"## {section}" in page
    for concept in ("Basic principles", "Emergence", "Adaptation", "Objectives", "Learning", "Prediction",
                    "Sensing", "Interaction", "Stochasticity", "Collectives", "Observation"):
        assert f"**{concept}.**" in page
    for kind in RULE_KINDS:
        assert f"#### Rule kind `{kind}`" in page
    for group, field in Parameters.model_fields.items():
        for name in field.annotation.model_fields:
            assert f"`parameters.{group}.{name}`" in page
    for p in load_patterns().checks:
        assert f"| {p.id} |" in page
    assert "{{" not in page


def test_unknown_placeholder_in_the_odd_template_is_an_error():
    from tools.docs.odd import render_odd

    with pytest.raises(KeyError, match="unknown placeholder"):
        render_odd("# T\n\n{{paramters:labs}}\n")
