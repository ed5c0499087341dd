"""Tests of `sim.outputs`: tables, atomic writes, figures, report and the run folder.

The frames here are synthetic, built only to exercise the writers.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import sim
from conftest import BASELINE
from sim.outputs import TIMESERIES_COLUMNS, group_label, headline_numbers, parse_group, summarise, write_run_outputs
from sim.outputs import figures as figures_module
from sim.outputs import writer as writer_module
from sim.outputs.atomic import atomic_path, atomic_write_bytes, atomic_write_text
from sim.outputs.figures import FIGURES, figure_png, save_figure, tick_labels
from sim.outputs.manifest import build_manifest, scenario_hash
from sim.outputs.report import merge_replicate_events, quarter_index, render_report
from sim.outputs.tables import csv_bytes, events_table, read_table, timeseries_table

BLOCS = ["US", "CN", "EU", "other"]


def dates(n: int, start: int = 2023) -> list[str]:
    return [f"{start + i // 4}Q{i % 4 + 1}" for i in range(n)]


def synthetic_timeseries(replicates: int = 3, steps: int = 8, scenario: str = "demo") -> pd.DataFrame:
    """Contract-shaped synthetic rows for every metric the figures draw."""
    rng = np.random.default_rng(1)
    labels = dates(steps)
    t = np.arange(steps)
    rows = []

    def add(rep: int, metric: str, group: str, values: np.ndarray) -> None:
        for s in range(steps):
            rows.append((scenario, rep, 100 + rep, s, labels[s], metric, group, float(values[s])))

    for rep in range(replicates):
        rate = 0.8 / (1 + np.exp(-0.6 * (t - steps / 2))) + rng.normal(0, 0.01, steps)
        add(rep, "adoption_rate", group_label(), rate)
        for region, factor in (("north", 1.1), ("south", 0.7)):
            add(rep, "adoption_rate", group_label(region=region), rate * factor)
        share_open = 0.3 + 0.02 * t + rng.normal(0, 0.01, steps)
        add(rep, "adoption_share", group_label(openness="open"), share_open)
        add(rep, "adoption_share", group_label(openness="closed"), 1 - share_open)
        add(rep, "adoption_share", group_label(origin="CN", region="south"), share_open / 2)
        for bloc, base in zip(BLOCS, (0.5, 0.25, 0.15, 0.1), strict=True):
            noise = rng.normal(0, 0.005, steps)
            add(rep, "adoption_share", group_label(origin=bloc), base + noise)
            add(rep, "influence", group_label(bloc=bloc, weight="gdp"), base + noise)
            add(rep, "influence", group_label(bloc=bloc, weight="countries"), base * 0.9 + noise)
            add(rep, "influence", group_label(bloc=bloc, weight="population"), base * 0.8 + noise)
            for weight in ("gdp", "population"):
                add(rep, "dependence", group_label(bloc=bloc, weight=weight), base * 0.5 + noise)
                add(rep, "open_adoption", group_label(bloc=bloc, weight=weight), base * 0.3 + noise)
            add(rep, "government_use", group_label(origin=bloc), base + noise)
            add(rep, "dependence", group_label(bloc=bloc, country="KEN"), base * 0.4 + noise)  # data, not drawn
            add(rep, "compute_share", group_label(bloc=bloc), np.full(steps, base))
            add(rep, "release_open_share", group_label(bloc=bloc), np.full(steps, 0.5) + noise)
        for family, base in (("gpt", 60.0), ("qwen", 50.0), ("llama", 52.0)):
            add(rep, "capability", group_label(family=family), base + 2 * t)
        add(rep, "capability_gap_months", group_label(pair="open-closed"), 10 - 0.3 * t)
        add(rep, "capability_gap_months", group_label(pair="CN-US"), 8 - 0.2 * t)
        add(rep, "coauthorship_share", group_label(pair="US-CN"), 0.1 - 0.002 * t)
    return pd.DataFrame(rows, columns=TIMESERIES_COLUMNS)


EVENTS = pd.DataFrame(
    [
        {
            "date": "2024Q2",
            "rule_id": "ban-it",
            "kind": "ban",
            "event": "ban starts",
            "target": "IT",
            "sources": ["D4.8"],
        },
        {
            "date": "2023Q1",
            "rule_id": "chips",
            "kind": "export_control",
            "event": "in force",
            "target": "CN",
            "sources": ["D4.3", "D4.6"],
        },
    ]
)
RULES = [
    {
        "id": "chips",
        "kind": "export_control",
        "start": "2022Q4",
        "end": "open-ended",
        "summary": "US restricts <advanced> chips & tools.",
        "sources": ["D4.3", "D4.6"],
    },
    {
        "id": "ban-it",
        "kind": "ban",
        "start": "2024Q2",
        "end": "2024Q4",
        "summary": "Italy blocks a model.",
        "sources": ["D4.8"],
    },
]
CLAIMS = {
    "D4.3": "Controls restrict chips.",
    "D4.6": "Controls widened.",
    "D4.8": 'Italy blocked "DeepSeek".',
}


def manifest_for(text: str = "name: demo\n") -> dict:
    return build_manifest(
        scenario_name="demo",
        scenario_hash=scenario_hash(text),
        seeds=[100, 101, 102],
        replicates=3,
        command_line=["sim", "run", "demo.yaml"],
        wall_time_s=0.5,
    )


def write_demo(out: Path, timeseries: pd.DataFrame, events: pd.DataFrame = EVENTS) -> dict[str, Path]:
    summary = summarise(timeseries)
    return write_run_outputs(
        out,
        scenario_name="demo",
        description="A <demo> run.",
        timeseries=timeseries,
        events=events,
        resolved_yaml="name: demo\n",
        manifest=manifest_for(),
        rules=RULES,
        claims=CLAIMS,
        headline=headline_numbers(summary),
    )


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path]]:
    out = tmp_path_factory.mktemp("run")
    return out, write_demo(out, synthetic_timeseries())


def cheap_figure(summary: pd.DataFrame, title: str):  # stands in for the real figures where they don't matter
    from matplotlib.figure import Figure

    fig = Figure(figsize=(1, 1), dpi=20)
    fig.subplots().plot([0, 1])
    return fig


# --------------------------------------------------------------------------- tables
def test_summary_statistics_on_known_frame() -> None:
    values = [0.1, 0.2, 0.6, 1.0]
    frame = pd.DataFrame(
        {
            "scenario": "s",
            "replicate": range(4),
            "seed": range(4),
            "step": 0,
            "date": "2023Q1",
            "metric": "m",
            "group": "",
            "value": values,
        }
    )
    later = frame.assign(step=1, date="2023Q2", value=[5.0, np.nan, 1.0, 3.0])
    summary = summarise(pd.concat([later, frame]))
    assert list(summary.columns) == [
        "scenario",
        "step",
        "date",
        "metric",
        "group",
        "mean",
        "median",
        "q10",
        "q90",
    ]
    assert summary["step"].tolist() == [0, 1]
    first = summary.iloc[0]
    assert first["mean"] == pytest.approx(np.mean(values))
    assert first["median"] == pytest.approx(0.4)
    assert first["q10"] == pytest.approx(np.quantile(values, 0.1))  # 0.13, linear interpolation
    assert first["q90"] == pytest.approx(np.quantile(values, 0.9))  # 0.88
    second = summary.iloc[1]  # the missing value is skipped
    assert second["mean"] == pytest.approx(3.0)
    assert second["q90"] == pytest.approx(np.quantile([5.0, 1.0, 3.0], 0.9))


def test_summary_sorted_and_one_replicate_band_collapses() -> None:
    ts = synthetic_timeseries(replicates=1, steps=4)
    summary = summarise(ts.sample(frac=1.0, random_state=3))
    keys = summary[["scenario", "metric", "group", "step"]]
    assert keys.equals(keys.sort_values(["scenario", "metric", "group", "step"]).reset_index(drop=True))
    assert (summary["q10"] == summary["median"]).all() and (summary["q90"] == summary["median"]).all()
    assert len(summary) == len(ts)


def test_csv_bytes_deterministic_and_order_free() -> None:
    ts = synthetic_timeseries(replicates=2, steps=5)
    shuffled = ts.sample(frac=1.0, random_state=7).reset_index(drop=True)
    first = csv_bytes(timeseries_table(ts))
    assert first == csv_bytes(timeseries_table(ts))
    assert first == csv_bytes(timeseries_table(shuffled))
    assert csv_bytes(summarise(ts)) == csv_bytes(summarise(shuffled))
    assert csv_bytes(events_table(EVENTS)) == csv_bytes(events_table(EVENTS.iloc[::-1]))
    assert b"\r" not in first
    assert first.startswith(b"scenario,replicate,seed,step,date,metric,group,value\n")


def _pandas_csv(frame: pd.DataFrame) -> bytes:
    """What csv_bytes promises, written by pandas itself: `%.10g` floats, LF, no index."""
    floats = {c: [f"{v:.10g}" if v == v else "" for v in frame[c].tolist()] for c in frame.columns
              if pd.api.types.is_float_dtype(frame[c].dtype)}
    return frame.assign(**floats).to_csv(index=False, lineterminator="\n").encode("utf-8")


@pytest.mark.parametrize("text_dtype", ["str", object])
def test_csv_bytes_write_awkward_cells_as_pandas_does(text_dtype: object) -> None:
    # Commas and quotes in labels, line breaks, missing text, -0, NaN, infinities, booleans, large
    # unsigned integers, a repeated value: the fast writer must quote and format each like pandas.
    frame = pd.DataFrame({
        "group": pd.Series(["openness=open,origin=CN", 'say "hi"', None, "", "two\nlines", "ü", "world", "world"],
                           dtype=text_dtype),
        "value": [1.0, float("nan"), -0.0, 0.0, 1e-300, float("inf"), -float("inf"), 1 / 3],
        "flag": [True, False, True, True, False, False, True, True],
        "seed": np.array([2**64 - 1, 0, 1, 2, 3, 4, 5, 5], dtype=np.uint64),
        "step": np.arange(8),
    })
    assert csv_bytes(frame) == _pandas_csv(frame)
    assert csv_bytes(frame.iloc[:0]) == _pandas_csv(frame.iloc[:0])
    with_numbers = frame.assign(group=pd.Series(["a", 1.5, 2, None, "b", "c", "d", "e"], dtype=object))
    assert csv_bytes(with_numbers) == _pandas_csv(with_numbers)  # left to pandas' own formatting
    ts = synthetic_timeseries(replicates=2, steps=5)
    assert csv_bytes(timeseries_table(ts)) == _pandas_csv(timeseries_table(ts))


def test_csv_round_trip_keeps_world_total_group(tmp_path: Path) -> None:
    ts = synthetic_timeseries(replicates=1, steps=2)
    path = tmp_path / "ts.csv"
    path.write_bytes(csv_bytes(timeseries_table(ts)))
    assert pd.read_csv(path)["group"].notna().all()  # `world`, not an empty field pandas and R read as missing
    back = read_table(path)
    assert "world" in set(back["group"])
    assert csv_bytes(timeseries_table(back)) == path.read_bytes()


def test_tables_written_before_the_world_total_had_a_name_still_read(tmp_path: Path) -> None:
    """v1 files have an empty group for the world total: reading, summaries and headlines map it to `world`."""
    ts = synthetic_timeseries(replicates=2, steps=2)
    old = ts.assign(group=ts["group"].replace("world", ""))
    path = tmp_path / "old.csv"
    path.write_bytes(csv_bytes(old))
    back = read_table(path)
    assert "" not in set(back["group"]) and "world" in set(back["group"])
    summary = summarise(back)
    assert dict(headline_numbers(summary))["AI adoption rate (world)"]
    assert dict(headline_numbers(summarise(old))) == dict(headline_numbers(summarise(ts)))


def test_group_label_ordering_and_parse() -> None:
    assert group_label() == "world"
    assert group_label(region="south", origin="CN") == "origin=CN,region=south"
    assert group_label(weight="gdp", bloc="US") == "bloc=US,weight=gdp"
    assert group_label(origin="CN", openness="open") == "openness=open,origin=CN"
    assert parse_group("origin=CN,region=south") == {"origin": "CN", "region": "south"}
    assert parse_group("world") == {}
    assert parse_group("") == {}  # the world total of files written before it was `world`
    with pytest.raises(ValueError):
        group_label(origin="C,N")
    with pytest.raises(ValueError):
        parse_group("origin")


def test_events_table_empty_keeps_header() -> None:
    assert csv_bytes(events_table(pd.DataFrame())) == b"date,rule_id,kind,event,target,sources\n"
    assert events_table(EVENTS)["sources"].tolist() == ["D4.3;D4.6", "D4.8"]


# --------------------------------------------------------------------------- atomic writes
def test_atomic_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    atomic_write_bytes(tmp_path / "a.bin", b"\x00\x01")
    atomic_write_text(tmp_path / "sub" / "b.txt", "line\n")
    assert (tmp_path / "a.bin").read_bytes() == b"\x00\x01"
    assert (tmp_path / "sub" / "b.txt").read_bytes() == b"line\n"
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["a.bin", "b.txt"]


def test_atomic_path_failure_leaves_old_file_and_no_temporary(tmp_path: Path) -> None:
    final = tmp_path / "adoption.png"
    final.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_path(final) as tmp:
        assert tmp.parent == tmp_path and re.fullmatch(r"\.adoption\.png\.tmp-\d+-[0-9a-f]+", tmp.name)
        tmp.write_bytes(b"half")
        raise RuntimeError("interrupted")
    assert final.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["adoption.png"]


def test_writer_failure_midway_leaves_no_partial_file_or_manifest(tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "manifest.json").write_text("{}")  # a stale manifest of an earlier run

    def broken(summary: pd.DataFrame, title: str):
        raise RuntimeError("figure failed")

    monkeypatch.setattr(writer_module, "FIGURES", {"adoption": cheap_figure, "influence": broken})
    with pytest.raises(RuntimeError, match="figure failed"):
        write_demo(out, synthetic_timeseries(replicates=1, steps=3))
    names = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert "manifest.json" not in names  # the folder is recognisably incomplete
    assert not [n for n in names if ".tmp-" in n]
    assert "figures/influence.png" not in names and "report.html" not in names


def test_interrupted_figure_save_keeps_final_name_absent(tmp_path: Path, monkeypatch) -> None:
    fig = cheap_figure(pd.DataFrame(), "x")
    monkeypatch.setattr(os, "replace", lambda *a: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError):
        save_figure(fig, tmp_path / "f.png")
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- run folder
def test_write_run_outputs_writes_every_file_manifest_last(run_dir) -> None:
    out, paths = run_dir
    expected = [
        "timeseries.csv",
        "summary.csv",
        "events.csv",
        "scenario.resolved.yaml",
        "figures/adoption.png",
        "figures/influence.png",
        "figures/dependence.png",
        "figures/capability.png",
        "figures/compute.png",
        "report.html",
        "manifest.json",
    ]
    assert list(paths) == expected
    for name in expected:
        assert (out / name).is_file() and (out / name).stat().st_size > 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert list(manifest["files"]) == expected[:-1]
    for name, entry in manifest["files"].items():
        data = (out / name).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest() and entry["bytes"] == len(data)
    latest = max((out / n).stat().st_mtime_ns for n in expected[:-1])
    assert (out / "manifest.json").stat().st_mtime_ns >= latest
    for key in (
        "package_version",
        "git_commit",
        "python",
        "packages",
        "platform",
        "seeds",
        "command_line",
        "scenario_hash",
        "wall_time_s",
        "created_utc",
    ):
        assert key in manifest
    assert manifest["packages"]["numpy"] == np.__version__
    assert not [p for p in out.rglob("*") if ".tmp-" in p.name]
    summary = read_table(out / "summary.csv")
    assert list(summary.columns) == [
        "scenario",
        "step",
        "date",
        "metric",
        "group",
        "mean",
        "median",
        "q10",
        "q90",
    ]
    assert list(read_table(out / "timeseries.csv").columns) == TIMESERIES_COLUMNS


def test_rewrite_gives_identical_csv_bytes_for_shuffled_input(run_dir, tmp_path: Path, monkeypatch) -> None:
    out, _ = run_dir
    monkeypatch.setattr(writer_module, "FIGURES", {"adoption": cheap_figure})
    ts = synthetic_timeseries().sample(frac=1.0, random_state=11)
    write_demo(tmp_path, ts, events=EVENTS.iloc[::-1])
    for name in ("timeseries.csv", "summary.csv", "events.csv", "scenario.resolved.yaml"):
        assert (tmp_path / name).read_bytes() == (out / name).read_bytes(), name


def test_report_is_self_contained(run_dir) -> None:
    out, _ = run_dir
    page = (out / "report.html").read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.IGNORECASE)
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page.lower()
    images = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 5
    assert base64.b64decode(images[0]) == (out / "figures" / "adoption.png").read_bytes()
    assert "&lt;advanced&gt; chips &amp; tools" in page and "<advanced>" not in page  # escaped
    assert 'title="Italy blocked &#34;DeepSeek&#34;."' in page  # claim text as tooltip, quotes escaped
    assert 'id="claim-D4.8"' in page and "<svg" in page


def test_script_in_a_scenario_description_is_shown_as_text_not_run(tmp_path: Path) -> None:
    scenario = tmp_path / "hostile.yaml"
    scenario.write_text(
        f"extends: {BASELINE}\nname: hostile\n"
        "description: 'Rules <script>alert(1)</script> & more'\n"
        "population: {firms: 300}\ntime: {start: 2025Q1, end: 2025Q4}\n",
        encoding="utf-8",
    )
    sim.run(scenario, replicates=1, out=tmp_path / "out")
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "Rules &lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in page
    assert "<script" not in page.lower()


def test_report_without_events_says_so() -> None:
    page = render_report(
        title="t",
        description="d",
        summary=summarise(synthetic_timeseries(1, 4)),
        events=pd.DataFrame(),
        rules=[],
        claims={},
        manifest={},
        figures={},
        headline=[],
    )
    assert "No events" in page and "no rules" in page


def test_headline_numbers_at_horizon() -> None:
    one = dict(headline_numbers(summarise(synthetic_timeseries(replicates=1, steps=8))))
    assert one["Horizon"] == "2024Q4"
    assert re.fullmatch(r"\d+\.\d%", one["Open-weights share of AI users"])  # one replicate: no range
    assert "AI adoption rate (world)" in one and "AI users on CN-origin models" in one
    assert [k for k in one if k.startswith("Influence of")] == [
        f"Influence of {b} (GDP-weighted)" for b in BLOCS
    ]
    several = dict(headline_numbers(summarise(synthetic_timeseries(replicates=4, steps=8))))
    assert re.fullmatch(r"\d+\.\d% \(10–90%: \d+\.\d–\d+\.\d%\)", several["AI adoption rate (world)"])


def test_quarter_index() -> None:
    assert quarter_index("2025Q1") - quarter_index("2024Q4") == 1
    assert quarter_index("open-ended") is None


def test_manifest_fields() -> None:
    manifest = manifest_for("abc")
    assert manifest["scenario_hash"] == hashlib.sha256(b"abc").hexdigest()
    assert manifest["command_line"] == "sim run demo.yaml"
    assert manifest["git_commit"] is None or re.fullmatch(r"[0-9a-f]{40}", manifest["git_commit"])
    json.dumps(manifest)
    with pytest.raises(ValueError):
        build_manifest(
            scenario_name="x",
            scenario_hash="h",
            seeds=[],
            replicates=0,
            command_line="x",
            wall_time_s=0,
            extra={"seeds": 1},
        )


# --------------------------------------------------------------------------- figures
def check_png(data: bytes) -> None:
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG" and image.size[0] > 800


def test_figures_render_for_several_replicates(run_dir) -> None:
    out, _ = run_dir  # written from three replicates
    for name in FIGURES:
        check_png((out / "figures" / f"{name}.png").read_bytes())


def test_figures_render_for_one_replicate_and_missing_metric() -> None:
    ts = synthetic_timeseries(replicates=1, steps=6)
    summary = summarise(ts[ts["metric"] != "capability_gap_months"])
    for name, make in FIGURES.items():
        fig = make(summary, "demo")
        assert "demo" in fig.get_suptitle()
        # The years are labelled once, under the bottom panel (even an empty one), as the panels share them.
        labels = [t.get_text() for t in tick_labels(fig.axes[-1], "x")]
        assert labels and all(re.fullmatch(r"\d{4}Q1", t) for t in labels), (name, labels)
        assert not any(tick_labels(ax, "x") for ax in fig.axes[:-1]), name
        notes = [t.get_text() for ax in fig.axes for t in ax.texts]
        assert any("capability_gap_months" in t for t in notes) == (name == "capability"), name
        check_png(figure_png(fig))


def test_figure_png_holds_the_drawn_pixels_and_resolution() -> None:
    """The PNG is written by hand (unfiltered rows): any reader must see exactly what the canvas drew."""
    fig = FIGURES["capability"](summarise(synthetic_timeseries(replicates=2, steps=6)), "demo")
    image = Image.open(io.BytesIO(figure_png(fig, dpi=80)))
    fig.set_dpi(80)
    fig.set_facecolor("white")
    fig.canvas.draw()
    drawn = np.asarray(fig.canvas.buffer_rgba())[:, :, :3]
    assert image.mode == "RGB" and round(image.info["dpi"][0]) == 80
    assert np.array_equal(np.asarray(image), drawn)


def test_panels_label_their_y_ticks_as_matplotlib_places_and_formats_them() -> None:
    """The y ticks are drawn without matplotlib's per-tick objects: the labels must still be the locator's
    values inside the panel's limits, formatted as the panel's unit, at their values."""
    summary = summarise(synthetic_timeseries(replicates=2, steps=6))
    adoption = FIGURES["adoption"](summary, "demo")
    capability = FIGURES["capability"](summary, "demo")
    for ax, unit in [(adoption.axes[0], "%"), (adoption.axes[2], "%"), (capability.axes[1], "")]:
        texts = tick_labels(ax, "y")
        labels = [t.get_text() for t in texts]
        values = [float(label.rstrip("%").replace("\u2212", "-")) for label in labels]
        low, high = ax.get_ylim()
        assert len(labels) >= 3 and all(label.endswith("%") == (unit == "%") for label in labels), labels
        assert values == sorted(values) and all(low - 1e-9 <= v <= high + 1e-9 for v in values), (labels, low, high)
        assert len(set(np.round(np.diff(values), 9))) == 1, labels  # evenly spaced, as the locator places them
        assert [t.get_position()[1] for t in texts] == values  # each at its value
        assert not any(t in texts for t in ax.texts)  # the line-end labels and notes stay apart from them
        assert not ax.get_yticklabels()  # matplotlib's ticks are not made as well
        if unit == "%":
            assert values[0] == 0  # shares start at zero
    # A tight save (notebooks: bbox_inches="tight") keeps the drawn labels: they count in the panels' extent.
    bottom = adoption.axes[-1]
    renderer = adoption.canvas.get_renderer()
    years = tick_labels(bottom, "x")
    tight = bottom.get_tightbbox(renderer)
    assert years and all(tight.y0 <= t.get_window_extent(renderer).y0 for t in years)
    assert all(tight.x0 <= t.get_window_extent(renderer).x0 for t in tick_labels(bottom, "y"))


def test_a_panel_whose_values_need_an_offset_keeps_matplotlibs_ticks() -> None:
    """Values like 1,000,000.001-1,000,000.007 are labelled by matplotlib with its `+1e6` offset (the drawn ticks
    have no place for it): labels, offset and grid are there and the figure renders."""
    fig, (ax,) = figures_module._figure("offset", "Demo", 1)
    timeline = pd.DataFrame({"step": range(8), "date": [f"{2024 + i // 4}Q{i % 4 + 1}" for i in range(8)]})
    data = pd.DataFrame({"step": range(8), "median": 1e6 + np.arange(8) * 0.001, "q10": 1e6, "q90": 1e6 + 0.01})
    figures_module.draw_panel(ax, [figures_module.Line("x", "#000000", data)], title="big", timeline=timeline,
                              missing="-")
    check_png(figure_png(fig))
    assert len(tick_labels(ax, "y")) >= 3 and ax.yaxis.get_offset_text().get_text() == "+1e6"
    assert all(tick.gridline.get_visible() for tick in ax.yaxis.get_major_ticks())


def test_influence_and_dependence_figures_draw_one_line_per_bloc_not_per_country() -> None:
    summary = summarise(synthetic_timeseries(replicates=2, steps=4))
    influence = FIGURES["influence"](summary, "demo")
    assert [len(ax.lines) for ax in influence.axes] == [4, 4, 4]  # GDP, population, one country one vote
    dependence = FIGURES["dependence"](summary, "demo")
    assert [len(ax.lines) for ax in dependence.axes] == [4, 4, 4, 4]
    labels = [t.get_text() for ax in dependence.axes for t in ax.texts]  # lines are labelled at their ends
    assert sorted(labels[:4]) == sorted(BLOCS) and not any("KEN" in t for t in labels)


def test_figures_tolerate_missing_metrics_and_empty_summary() -> None:
    ts = synthetic_timeseries(replicates=2, steps=4)
    fig = FIGURES["adoption"](summarise(ts[ts["metric"] != "adoption_rate"]), "demo")
    assert [len(ax.lines) for ax in fig.axes] == [2, 4, 0]
    assert any("adoption_rate" in t.get_text() for t in fig.axes[2].texts)
    empty = FIGURES["influence"](summarise(ts).iloc[0:0], "empty")
    assert all(ax.texts for ax in empty.axes)
    check_png(figure_png(empty))


def test_events_keep_model_order_within_a_quarter_and_merge_replicates() -> None:
    one = pd.DataFrame(
        {
            "scenario": "s",
            "replicate": 0,
            "seed": 5,
            "step": [0, 4, 4],
            "date": ["2023Q1", "2024Q1", "2024Q1"],
            "rule_id": ["a", "z-ends", "b-starts"],
            "kind": "ban",
            "event": ["x", "z ends", "b starts"],
            "target": "",
            "sources": [["D4.8"], [], ["D0.5", "D0.7"]],
        }
    )
    two = one.assign(replicate=1, seed=6).iloc[:2]
    table = events_table(pd.concat([two, one]))
    assert list(table.columns[:5]) == ["scenario", "replicate", "seed", "step", "date"]
    assert table["replicate"].tolist() == [0, 0, 0, 1, 1]
    assert table["rule_id"].tolist()[:3] == ["a", "z-ends", "b-starts"]  # within-quarter order kept
    merged = merge_replicate_events(table)
    assert merged["rule_id"].tolist() == ["a", "z-ends", "b-starts"]
    assert merged["replicates"].tolist() == ["2 of 2", "2 of 2", "1 of 2"]
    assert "seed" not in merged.columns and merged["sources"].tolist()[2] == "D0.5 D0.7"


def test_stale_temporaries_of_dead_writers_are_removed_and_live_ones_kept(tmp_path):
    import subprocess
    import sys

    from sim.outputs.atomic import remove_stale_temporaries

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    gone = tmp_path / f".0f4acc94.parquet.tmp-{int(dead.stdout)}-aa3819f7"
    mine = tmp_path / f".runs.csv.tmp-{os.getpid()}-0123abcd"
    other = tmp_path / "notes.tmp-1-zz"  # not one of ours: left alone
    for path in (gone, mine, other):
        path.write_bytes(b"partial")
    assert remove_stale_temporaries(tmp_path) == 1
    assert not gone.exists() and mine.exists() and other.exists()
