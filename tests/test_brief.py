"""Outputs a modeler can put in a brief: compare.html says what differs, numbers in one unit per kind,
figures stamped with what they show, SVG/PDF that do not change between runs, tables pandas reads whole."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from conftest import ROOT, run_cli
from sim.experiments.compare_page import rule_changes
from sim.fields import claims
from sim.outputs.manifest import package_version
from sim.outputs.tables import group_keys, with_group_keys
from sim.scenario import prepare

SMALL = ["population.firms=800", "time.end=2026Q4"]
OTHER = "eu-bans-chinese-models"


def _settings(overrides: list[str]) -> list[str]:
    return [a for s in overrides for a in ("--set", s)]


@pytest.fixture(scope="module")
def compared(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("brief") / "cmp"
    code, _out, err = run_cli("compare", "baseline", OTHER, "--replicates", "2", "--out", str(out),
                              "--figure-format", "png,svg", "--wide", *_settings(SMALL))
    assert code == 0, err
    return out


def test_compare_page_names_every_differing_rule_with_its_claims(compared: Path) -> None:
    base, other = prepare("baseline", SMALL), prepare(OTHER, SMALL)
    ids = set(base.scenario.rules) ^ set(other.scenario.rules)
    ids |= {i for i in set(base.scenario.rules) & set(other.scenario.rules)
            if base.scenario.rules[i].model_dump() != other.scenario.rules[i].model_dump()}
    assert ids  # the scenario does change something
    assert {c.rule_id for c in rule_changes(base, other)} == ids
    page = (compared / "compare.html").read_text(encoding="utf-8")
    differs = page[page.index('id="differs"'):page.index('id="horizon"')]
    for rule_id in ids:
        assert f"<code>{rule_id}</code>" in differs, rule_id
    unchanged = set(base.scenario.rules) - ids
    assert not any(f"<code>{rule_id}</code>" in differs for rule_id in unchanged)
    cited = {claim for i in ids for claim in other.scenario.rules[i].sources}
    for claim in cited:  # each claim with its text in the sources list
        assert f'id="claim-{claim}"' in page and claims()[claim].split()[0] in page
    assert "Question:" in differs and "How much Chinese use in Europe is lost" in differs


def test_changed_rule_is_shown_field_by_field(tmp_path: Path) -> None:
    changed = tmp_path / "stronger.yaml"
    changed.write_text("schema_version: 1\nname: stronger\nextends: baseline\n"
                       "rules:\n  us-h200-case-by-case:\n    strength: 0.9\n", encoding="utf-8")
    base, other = prepare("baseline", SMALL), prepare(changed, SMALL)
    [change] = rule_changes(base, other)
    assert change.rule_id == "us-h200-case-by-case" and change.status == "changed"
    assert change.fields == (("strength", "0.5", "0.9"),)


def test_compare_numbers_are_in_one_unit_per_kind(compared: Path) -> None:
    page = (compared / "compare.html").read_text(encoding="utf-8")
    rows = re.findall(r"<tr><td>" + OTHER + r"</td><td>([^<]+)</td>.*?<b>([^<]+)</b>", page)
    found = dict(rows)
    assert re.fullmatch(r"[+-]?\d+\.\d pp", found["Open-weights share of AI users"])
    assert re.fullmatch(r"[+-]?\d+\.\d index points", found["Influence of US (GDP-weighted)"])
    assert re.fullmatch(r"[+-]?\d+\.\d months", found["Months CN trails US"])
    assert not re.search(r"<b>[+-]?0\.00\d", page)  # no raw fractions such as +0.00866


def test_every_figure_carries_its_footer(compared: Path) -> None:
    version = re.escape(str(package_version()))
    # sim compare draws from the shipped parameter ensemble by default: the footer says so
    stamp = re.compile(f"baseline vs {OTHER} · 2 replicates · bands: seeds and parameter ensemble "
                       rf"\(2 of \d+ members\) · sim {version} · \d{{4}}-\d\d-\d\d<")
    names = sorted(p.name for p in (compared / "figures").glob("*.svg"))
    assert names == ["adoption.svg", "countries.svg", "difference.svg", "influence.svg"]
    for svg in (compared / "figures").glob("*.svg"):
        assert stamp.search(svg.read_text(encoding="utf-8")), svg.name
    for svg in (compared / OTHER / "figures").glob("*.svg"):
        assert re.search(f"{OTHER} · 2 replicates · bands: .* · sim {version}", svg.read_text(encoding="utf-8"))
    page = (compared / "compare.html").read_text(encoding="utf-8")
    assert len(stamp.findall(page)) == 4  # each figure's caption
    assert len(list((compared / "figures").glob("*.png"))) == 4


def test_every_csv_keeps_the_world_total_in_pandas(compared: Path) -> None:
    seen = 0
    for path in sorted(compared.rglob("*.csv")):
        frame = pd.read_csv(path, low_memory=False)
        if "group" not in frame.columns:
            continue
        seen += 1
        assert frame["group"].notna().all(), path
        if path.name != "difference_summary.csv" or len(frame):
            assert (frame["group"] == "world").any(), path
    assert seen >= 9  # each run's timeseries, summary and wide files, and the difference tables


def test_wide_tables_carry_the_group_keys_as_columns(compared: Path) -> None:
    wide = pd.read_csv(compared / "baseline" / "summary_wide.csv", low_memory=False)
    for key in ("origin", "openness", "country", "user_bloc", "region", "bloc", "weight", "family"):
        assert key in wide.columns
    cn_south = wide[(wide["group"] == "origin=CN,region=south")].iloc[0]
    assert cn_south["origin"] == "CN" and cn_south["region"] == "south" and pd.isna(cn_south["country"])
    world = wide[wide["group"] == "world"]
    assert world[group_keys()].isna().all().all()
    narrow = pd.read_csv(compared / "baseline" / "summary.csv")
    assert len(wide) == len(narrow)
    by_filter = wide[(wide["metric"] == "adoption_share") & (wide["origin"] == "CN") & (wide["country"] == "DEU")]
    assert set(by_filter["group"]) == {"country=DEU,origin=CN"}
    difference = pd.read_csv(compared / "difference_wide.csv", low_memory=False)
    assert {"origin", "country"} <= set(difference.columns)


def test_parquet_with_group_keys_filters_by_key(tmp_path: Path) -> None:
    frame = pd.DataFrame({"metric": ["adoption_share"] * 3, "group": ["origin=CN", "world", "country=DEU,origin=CN"],
                          "value": [0.2, 0.5, 0.1]})
    with_group_keys(frame, categorical=True).to_parquet(tmp_path / "part.parquet", index=False)
    back = pd.read_parquet(tmp_path / "part.parquet", filters=[("origin", "==", "CN")])
    assert sorted(back["group"]) == ["country=DEU,origin=CN", "origin=CN"]
    assert pd.read_parquet(tmp_path / "part.parquet")["group"].tolist()[1] == "world"


def test_svg_and_pdf_figures_are_the_same_bytes_run_after_run(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1764547200")  # the run's date in the footer: fixed
    tiny = ["population.firms=300", "time.end=2024Q2"]
    outs = []
    for name in ("one", "two"):
        out = tmp_path / name
        code, _out, err = run_cli("run", "baseline", "--out", str(out), "--quiet", "--figure-format", "svg",
                                  "--figure-format", "pdf", *_settings(tiny))
        assert code == 0, err
        outs.append(out)
    names = sorted(p.name for p in (outs[0] / "figures").iterdir())
    assert names == sorted(f"{f}.{ext}" for f in ("adoption", "influence", "dependence", "capability", "compute")
                           for ext in ("svg", "pdf"))
    for name in names:
        assert (outs[0] / "figures" / name).read_bytes() == (outs[1] / "figures" / name).read_bytes(), name
    assert "2025-12-01" in (outs[0] / "figures" / "adoption.svg").read_text(encoding="utf-8")
    page = (outs[0] / "report.html").read_text(encoding="utf-8")
    assert "data:image/svg+xml;base64," in page  # no PNG asked for: the page embeds the SVG


def test_unknown_figure_format_is_refused_before_running() -> None:
    done = subprocess.run([sys.executable, "-m", "sim", "run", "baseline", "--figure-format", "png,gif"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 2 and "unknown figure format 'gif'; choose from png, svg, pdf" in done.stderr
    assert "Traceback" not in done.stderr


def test_figures_use_a_fixed_layout_on_the_agg_canvas() -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from sim.outputs.figures import FIGURES
    from sim.outputs.tables import read_table

    frame = pd.DataFrame({"scenario": "s", "step": [0, 1], "date": ["2024Q1", "2024Q2"], "metric": "adoption_rate",
                          "group": "world", "mean": 0.1, "median": 0.1, "q10": 0.1, "q90": 0.1})
    summary = read_table(io.StringIO(frame.to_csv(index=False)))
    for make in FIGURES.values():
        fig = make(summary, "s")
        assert fig.get_layout_engine() is None and isinstance(fig.canvas, FigureCanvasAgg)
