"""Validation with power: the structural switches mutants use, the firm-count adoption metric, and
`sim check --mutants` (its report and its exit code)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import BASELINE
from sim.cli import main
from sim.errors import InputError
from sim.model import firms, labs
from sim.model.model import GeopoliticsModel
from sim.mutation import load_mutants
from sim.scenario import prepare
from sim.validation import EXIT_FAILED, EXIT_HELD, Outcome, Validation

SMALL = ["population.firms=600", "time.end=2025Q4"]
TINY = ["--replicates", "2", "--set", "population.firms=150", "--set", "time.end=2026Q2"]


def model_at(date: str, *overrides: str, seed: int = 3) -> GeopoliticsModel:
    prepared = prepare(BASELINE, [*SMALL, *overrides])
    model = GeopoliticsModel(prepared.scenario, prepared.world, seed=seed)
    while model.date != date:
        model.step()
    return model


def test_firm_count_adoption_counts_each_firm_once():
    model = model_at("2025Q1")
    model.step()  # records 2025Q1
    recorded = {group: value for _, date, name, group, value in model.rows
                if name == "adoption_rate_firms" and date == "2025Q1"}
    for iso3 in ("USA", "DEU", "CHN"):
        mine = model.firm_country == model.country_index[iso3]
        assert recorded[f"country={iso3}"] == pytest.approx((model.firm_line[mine] >= 0).mean())
    assert recorded["world"] == pytest.approx((model.firm_line >= 0).mean())


def test_capability_independent_of_compute_gives_every_lab_the_same_compute():
    v2, mutant = model_at("2024Q1"), model_at("2024Q1", "parameters.structure.capability_from_compute=false")
    assert np.ptp(labs.effective_compute(v2)) > 0  # chips and controls separate labs
    assert np.ptp(labs.effective_compute(mutant)) == 0
    assert np.ptp(mutant.compute_months) == pytest.approx(0.0)
    assert np.ptp(v2.compute_months) > 1.0  # months of frontier progress between labs


def test_adoption_independent_of_access_ignores_a_ban_on_everything():
    def chance(model: GeopoliticsModel, ban_everything: bool) -> float:
        country = model.country_index["FRA"]
        if ban_everything:
            model.policy.banned_all[country, :] = True
        candidates = np.flatnonzero((model.firm_line < 0) & model.firm_potential & (model.firm_country == country))
        table = firms._cell_utility(model)
        return float(firms._adoption_probability(model, table, candidates).mean())

    v2 = model_at("2024Q1")
    before = chance(v2, False)
    assert before > 0 and chance(v2, True) == 0.0  # nothing on offer: no adoption
    mutant = model_at("2024Q1", "parameters.structure.adoption_responds_to_access=false")
    banned, open_ = chance(mutant, True), chance(mutant, False)
    assert banned > 0 and banned == pytest.approx(open_)


@pytest.mark.parametrize("relabel", [False, True])
def test_openness_relabelled_moves_users_at_once_only_in_the_mutant(relabel: bool):
    model = model_at("2024Q1", f"parameters.structure.releases_keep_openness={str(not relabel).lower()}")
    lab = model.lab_index["meta"] if hasattr(model, "lab_index") else list(model.lab_ids).index("meta")
    old = (model.line_lab == lab) & model.line_current  # Meta's open lines
    users_before = np.isin(model.firm_line, np.flatnonzero(old)).sum()
    assert users_before > 0
    labs._switch_lines(model, lab, opens=not bool(model.lab_open[lab]))
    still = np.isin(model.firm_line, np.flatnonzero(old)).sum()
    if relabel:
        assert still == 0  # every user moved to the family's other line at once
        assert np.isin(model.firm_line, np.flatnonzero((model.line_lab == lab) & ~old)).sum() >= users_before
    else:
        assert still == users_before  # published weights stay in use; users move only as they choose


def test_shipped_mutants_break_what_the_issue_names():
    ids = {m.id for m in load_mutants()}
    assert ids >= {"random-firm-choice", "no-alignment-effect", "capability-independent-of-compute",
                   "adoption-independent-of-access", "openness-relabelled"}


def test_bad_mutants_file_is_a_located_error(tmp_path: Path):
    path = tmp_path / "mutants.yaml"
    path.write_text("mutants:\n  - {id: a, breaks: b, set: []}\n  - {id: a, breaks: b, sett: [x=1]}\n")
    with pytest.raises(InputError) as error:
        load_mutants(path)
    lines = str(error.value).splitlines()
    assert any(line.startswith(f"{path}:2:") and "set" in line for line in lines), lines
    assert any(line.startswith(f"{path}:3:") and "sett" in line for line in lines), lines


def _files(tmp_path: Path, accept: list[float], mutants: list[dict], also: list[float] | None = None) -> list[str]:
    """A synthetic targets file (the US-China co-authored share of 2024 with the band `accept`, and with
    `also` a second band on the same share), a pattern that always holds and the mutants: the test
    controls which check holds where."""
    targets, patterns, listed = tmp_path / "t.yaml", tmp_path / "p.yaml", tmp_path / "m.yaml"
    bands = [accept] if also is None else [accept, also]
    targets.write_text(yaml.safe_dump({"targets": [{
        "id": f"coauthorship-{i}", "metric": "coauthorship_share", "group": "pair=US-CN",
        "quarters": ["2024Q1", "2024Q2", "2024Q3", "2024Q4"], "observed": sum(band) / 2, "accept": band,
        "source": "NeurIPS 2024", "date": "2026-01", "measures": "papers",
        "uncertainty": {"plus_minus": 0.0, "reason": "synthetic"}, "model_quantity": "papers",
    } for i, band in enumerate(bands)]}))
    patterns.write_text(yaml.safe_dump({"patterns": [{
        "id": "anything", "fact": "f", "claims": [], "source": "s", "metric": "adoption_share",
        "group": "openness=open", "quarters": ["2025Q1"], "observed": None, "accept": [-1.0, 2.0], "tuned": False,
    }]}))
    listed.write_text(yaml.safe_dump({"mutants": mutants}))
    return ["--targets", str(targets), "--patterns", str(patterns), "--mutants", str(listed)]


BREAKS_PAPERS = {"id": "many-papers", "breaks": "co-authorship ten times too common",
                 "set": ["parameters.collaboration.base_share=0.3"]}
HARMLESS = {"id": "no-alignment", "breaks": "alignment weight 0", "set": ["parameters.choice.alignment_weight=0"]}


def test_mutants_all_rejected_and_baseline_holding_exit_0(tmp_path: Path, capsys):
    code = main(["check", *TINY, *_files(tmp_path, [0.0, 0.05], [BREAKS_PAPERS])])
    printed = capsys.readouterr().out
    assert code == EXIT_HELD, printed
    assert "REJECTED  many-papers" in printed and "rejected by: coauthorship-0" in printed
    assert "rejected 1/1 mutants" in printed


def test_a_mutant_no_check_rejects_exits_1(tmp_path: Path, capsys):
    code = main(["check", *TINY, *_files(tmp_path, [0.0, 0.05], [BREAKS_PAPERS, HARMLESS])])
    printed = capsys.readouterr().out
    assert code == EXIT_FAILED
    assert "NOT REJECTED  no-alignment" in printed and "rejected 1/2 mutants" in printed
    assert "no check rejects no-alignment" in printed


def test_a_failing_baseline_exits_1_even_when_every_mutant_is_rejected(tmp_path: Path, capsys):
    # The first band rejects the mutant (about 30% of papers); the baseline (about 3%) fails the second.
    code = main(["check", *TINY, *_files(tmp_path, [0.0, 0.05], [BREAKS_PAPERS], also=[0.9, 1.0])])
    printed = capsys.readouterr().out
    assert code == EXIT_FAILED
    assert "REJECTED  many-papers" in printed and "rejected 1/1 mutants" in printed
    assert "Exit 1: the baseline fails calibration targets." in printed


def test_a_mutant_inside_a_wide_band_is_reported_with_how_far_it_moved_the_check(tmp_path: Path, capsys):
    # The band [0, 1] holds whatever the co-authored share: the mutant moves it tenfold and is not rejected;
    # the report says which check it moved and by how much against chance, so the reader sees why.
    code = main(["check", *TINY, *_files(tmp_path, [0.0, 1.0], [BREAKS_PAPERS, HARMLESS])])
    printed = capsys.readouterr().out
    assert code == EXIT_FAILED
    moved = [line for line in printed.splitlines() if "moved most:" in line]
    assert len(moved) == 2, printed  # one line per mutant not rejected
    papers, harmless = moved
    first = papers.split("moved most:")[1].split(";")[0].strip()
    assert first.startswith("coauthorship-0 0.03") and "-> 0.29" in first, papers  # base_share 0.3
    assert float(first.split("(x")[1].split(" ")[0]) > 10, papers  # far beyond chance, inside the band
    untouched = [part for part in harmless.split(";") if "coauthorship-0" in part]
    assert untouched and "(x0.0 the seed spread)" in untouched[0], harmless  # alignment leaves papers alone


def _validation(values: np.ndarray, accept: tuple[float, float]) -> Validation:
    from types import SimpleNamespace

    check = SimpleNamespace(id="edge", accept=accept)  # a pattern-like check: only its id and band are read
    outcome = Outcome(check, values, float(np.median(values)), float(np.quantile(values, 0.1)),  # type: ignore[arg-type]
                      float(np.quantile(values, 0.9)))
    return Validation("s.yaml", "s", values.size, 1, [outcome], [])


@pytest.mark.parametrize(("shift", "counted"), [(0.002, False), (0.05, True)])
def test_a_check_the_mutant_tips_over_its_band_edge_by_chance_does_not_reject_it(shift: float, counted: bool):
    # The baseline's median (0.100) sits just inside the band's upper edge (0.101). A mutant that moves it by
    # 0.002 fails the band, but a median of 10 replicates spread over 0.09-0.11 moves that much by chance: the
    # verdict would flip with the seeds, so it is reported and not counted. A move of 0.05 is counted.
    from sim.mutation import Mutant, judge

    base = 0.10 + 0.01 * np.linspace(-1.0, 1.0, 10)
    band = (0.0, 0.101)
    mutant = Mutant(id="nudge", breaks="moves the check", set=["parameters.choice.alignment_weight=0"])
    outcome = judge(_validation(base, band), mutant, _validation(base + shift, band))
    assert outcome.rejected is counted
    assert outcome.fails_within_chance == ([] if counted else ["edge (pattern)"])
    assert outcome.moves[0].chance == pytest.approx(2 * np.sqrt(2) * 1.2533 * (0.0164 / 2.563) / np.sqrt(10), rel=0.05)


def test_a_mutant_no_check_rejects_is_compared_on_every_output_series(tmp_path: Path, capsys):
    # Two mutants inside a band that holds whatever happens: one moves the co-authored share tenfold (an
    # output a measurement could tell apart), one sets a parameter to the value it already has (nothing
    # moves). The report compares every output series of the observed period, not only the checked ones,
    # and says which of the two no measurement of the period could reject.
    default = prepare(BASELINE).scenario.parameters.collaboration.base_share
    same = {"id": "same-as-baseline", "breaks": "nothing", "set": [f"parameters.collaboration.base_share={default!r}"]}
    code = main(["check", *TINY, *_files(tmp_path, [0.0, 1.0], [BREAKS_PAPERS, same])])
    printed = capsys.readouterr().out
    assert code == EXIT_FAILED
    marker = "every output through "
    verdicts = [line.split(marker)[1] for line in printed.splitlines() if marker in line]
    assert len(verdicts) == 2, printed
    papers, unchanged = verdicts
    assert "moved by more than the seed spread (most: coauthorship_share (pair=US-CN)" in papers, papers
    assert "could reject this mutant" in papers
    assert "none moved by more than the seed spread" in unchanged and "x0.0 the seed spread" in unchanged, unchanged
    assert "could tell this mutant from the baseline" in unchanged


# --- mutants the record cannot separate, and their twins ----------------------------------------------


def _check(observed: float | None, accept: tuple[float, float]):
    from sim.validation import Pattern

    return Pattern(id="c", fact="f", claims=[], source="s", metric="adoption_share", group="openness=open",
                   quarters=["2025Q1"], observed=observed, accept=accept, tuned=False)


def test_a_level_check_keeps_its_band_as_factors_of_the_twin_truth():
    # EU-style band: 8% observed, accepted x0.5-1.5; the twin's truth is 2%: the band becomes 1-3%.
    from sim.mutation import recentred

    moved = recentred(_check(0.08, (0.04, 0.12)), 0.02)
    assert moved is not None and moved.observed == 0.02
    assert moved.accept == pytest.approx((0.01, 0.03))


def test_a_signed_check_keeps_its_band_as_differences_and_a_sign_the_twin_lacks_is_dropped():
    from sim.mutation import recentred

    moved = recentred(_check(-0.05, (-0.15, 0.0)), 0.02)  # a difference of shares: shifted, same width
    assert moved is not None and moved.accept == pytest.approx((-0.08, 0.07))
    assert recentred(_check(None, (-1.0, 0.0)), -0.3) is not None  # the twin's truth shows the sign: kept
    assert recentred(_check(None, (-1.0, 0.0)), 0.3) is None  # it does not: the fact changed, dropped
    assert recentred(_check(0.08, (0.04, 0.12)), float("nan")) is None


def test_a_missing_twin_scenario_is_a_located_error(tmp_path: Path):
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump({"mutants": [{
        "id": "x", "breaks": "b", "set": ["parameters.choice.alignment_weight=0"],
        "twin": {"scenario": "nowhere.yaml", "event": "e"},
    }]}, sort_keys=False))
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if "nowhere.yaml" in text)
    with pytest.raises(InputError) as error:
        load_mutants(path)
    assert str(error.value).startswith(f"{path}:{line}:") and "twin.scenario" in str(error.value)
    assert "'nowhere.yaml' not found" in str(error.value)


def test_shipped_mutants_are_rejected_on_the_record_or_equivalent_there_and_rejected_in_their_twins(capsys):
    # The whole shipped mutation test (about 15 s): the three mutants the record separates are rejected by
    # its checks; access and relabelling move no output series of 2023-2026 beyond chance, and the checks,
    # recentred on each twin history's own run, reject them there. If the access mechanism or the
    # release lines stopped acting, the twins would not reject them and this would exit 1.
    code = main(["check", "--mutants"])
    printed = capsys.readouterr().out
    assert code == EXIT_HELD, printed
    assert "rejected 3/5 mutants on the record; 2 more equivalent on the record and rejected in their twins" in printed
    for mutant in ("adoption-independent-of-access", "openness-relabelled"):
        line = next(x for x in printed.splitlines() if mutant + ":" in x)
        assert line.strip().startswith("REJECTED IN ITS TWIN (equivalent on the record)"), line
    twins = [x for x in printed.splitlines() if "in its twin (" in x]
    assert len(twins) == 2 and all("REJECTED by" in x for x in twins), twins
    assert "eu-firm-adoption" in twins[0] and "us-open-ahead-early-2024" in twins[1], twins


def test_a_twin_where_the_mechanism_does_not_act_leaves_the_mutant_not_rejected(tmp_path: Path, capsys):
    # The relabelling mutant with the baseline itself as its "twin": no switch happens there either, so
    # the twin cannot reject it, and the test exits 1 naming it (a twin is evidence only if it acts).
    shipped = load_mutants()
    relabel = next(m for m in shipped if m.id == "openness-relabelled")
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump({"mutants": [{
        "id": relabel.id, "breaks": relabel.breaks, "set": relabel.set,
        "twin": {"scenario": str(BASELINE), "event": "nothing happens"},
    }]}, sort_keys=False))
    code = main(["check", "--mutants", str(path)])
    printed = capsys.readouterr().out
    assert code == EXIT_FAILED, printed
    assert "NOT REJECTED  openness-relabelled" in printed
    assert "in its twin (nothing happens" in printed and "not rejected" in printed
    assert "no check rejects openness-relabelled" in printed


@pytest.mark.parametrize("name", ["mutants.md", "mutants.txt"])
def test_mutants_report_is_also_written_to_out(tmp_path: Path, capsys, name: str):
    out = tmp_path / name
    code = main(["check", *TINY, *_files(tmp_path, [0.0, 0.05], [BREAKS_PAPERS]), "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == EXIT_HELD, printed
    written = out.read_text(encoding="utf-8")
    if name.endswith(".md"):  # the Markdown table docs/validation.md carries
        assert written.startswith("## Checks against broken models") and "| many-papers |" in written
        assert "Rejected 1 of 1 mutants on the record." in written
    else:  # the printed report, as printed
        assert written in printed and "rejected 1/1 mutants on the record" in written
    assert f"Wrote {out}" in printed
