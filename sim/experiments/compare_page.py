"""What `sim compare` shows: what differs between the scenarios, its figures and compare.html.

The page opens with what differs: each scenario's question (from its file's `# Question:` comment)
and description; rules added, removed and changed by id, field by field, with the claims (`D4.8`)
they cite and the claims' text; changed parameters and settings. Then the paired differences at the
horizon, each kind of quantity in one unit (`sim.outputs.units`: pp for shares, index points for
indices, months to one decimal), and the figures: the difference curves, overlays of the scenarios
(same colour per series, one line style per scenario, labels at the line ends) and, when the differing
rules target countries, those countries side by side (the largest by GDP when they are many).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sim.calibration.ensemble import band_note
from sim.metrics_registry import headlines
from sim.outputs.units import quantity
from sim.scenario import Prepared

if TYPE_CHECKING:  # matplotlib is imported when a figure is drawn
    from matplotlib.figure import Figure

    from sim.experiments.compare import CompareResult
    from sim.outputs.figures import Stamp

MAX_COUNTRIES = 8  # small multiples: more targeted countries than this show the largest by GDP
_QUESTION = re.compile(r"^#\s*Question:\s*(.*)$")
_LABELLED = re.compile(r"^#\s*[A-Z][A-Za-z ]{0,30}:")  # the next `# Compare with:` ends the question
_SKIP = "\x00"


# --------------------------------------------------------------------------- what differs
def scenario_question(prepared: Prepared) -> str:
    """The `# Question: ...` comment at the top of the scenario's own file (built-in scenarios have one), or ""."""
    files = prepared.loaded.files
    if not files:
        return ""
    try:
        text = files[0].read_text(encoding="utf-8")
    except OSError:
        return ""
    parts: list[str] = []
    for line in text.splitlines():
        if not line.startswith("#"):
            if line.strip():
                break  # the header comment is over
            continue
        match = _QUESTION.match(line)
        if match:
            parts = [match.group(1).strip()]
        elif parts and (_LABELLED.match(line) or not line.strip("# ")):
            break
        elif parts:
            parts.append(line.lstrip("#").strip())
    return " ".join(p for p in parts if p)


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts as dotted paths (`targets.blocs`); lists and scalars are leaves."""
    if isinstance(value, Mapping) and value:
        out: dict[str, Any] = {}
        for key in value:
            out |= _flatten(value[key], f"{prefix}.{key}" if prefix else str(key))
        return out
    return {prefix: value}


def shown_value(value: Any) -> str:
    """A rule field's value in a few characters: lists joined, empty as `—`."""
    if value is None or value == [] or value == {}:
        return "—"
    if isinstance(value, list):
        return ", ".join(shown_value(v) if isinstance(v, (dict, list)) else str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True)
class RuleChange:
    """One rule that differs: added, removed or changed, with its fields (field, base, other) when changed."""

    rule_id: str
    status: str  # added, removed, changed
    kind: str
    summary: str
    sources: tuple[str, ...]
    fields: tuple[tuple[str, str, str], ...] = ()


def _rule_dump(rule: Any) -> dict[str, Any]:
    return _flatten(rule.model_dump(mode="json", by_alias=True))


def rule_changes(base: Prepared, other: Prepared) -> list[RuleChange]:
    """Rules of `other` not in `base` (added), of `base` not in `other` (removed), and in both but with a
    different field (changed, field by field), in the order of each scenario's rules."""
    before, after = base.scenario.rules, other.scenario.rules
    changes: list[RuleChange] = []
    for rule_id, rule in after.items():
        if rule_id not in before:
            changes.append(RuleChange(rule_id, "added", rule.kind, rule.describe(other.world), tuple(rule.sources)))
            continue
        old, new = _rule_dump(before[rule_id]), _rule_dump(rule)
        names = [*new, *(n for n in old if n not in new)]
        fields = tuple((n, shown_value(old.get(n)), shown_value(new.get(n)))
                       for n in names if old.get(n, _SKIP) != new.get(n, _SKIP))
        if fields:
            sources = tuple(dict.fromkeys([*before[rule_id].sources, *rule.sources]))
            changes.append(RuleChange(rule_id, "changed", rule.kind, rule.describe(other.world), sources, fields))
    for rule_id, rule in before.items():
        if rule_id not in after:
            changes.append(RuleChange(rule_id, "removed", rule.kind, rule.describe(base.world), tuple(rule.sources)))
    return changes


def setting_changes(base: Prepared, other: Prepared) -> list[tuple[str, str, str]]:
    """(path, base value, other value) of every setting other than the rules that differs: time,
    population, seed, parameters (dotted paths), uncertainties."""
    skip = {"rules", "name", "description", "extends", "world"}
    old = _flatten({k: v for k, v in base.scenario.model_dump(mode="json", by_alias=True).items() if k not in skip})
    new = _flatten({k: v for k, v in other.scenario.model_dump(mode="json", by_alias=True).items() if k not in skip})
    return [(path, shown_value(old.get(path)), shown_value(new.get(path)))
            for path in sorted(set(old) | set(new)) if old.get(path, _SKIP) != new.get(path, _SKIP)]


def targeted_countries(changes: Iterable[RuleChange], base: Prepared, other: Prepared) -> list[str]:
    """ISO3 codes the differing rules target (their `targets`), largest GDP first, at most MAX_COUNTRIES."""
    world = other.world
    chosen = np.zeros(len(world.countries), dtype=bool)
    for change in changes:
        scenario = base.scenario if change.status == "removed" else other.scenario
        targets = getattr(scenario.rules[change.rule_id], "targets", None)
        if targets is not None and hasattr(targets, "mask"):
            chosen |= targets.mask(world)
    rows = [c for c, hit in zip(world.countries, chosen, strict=True) if hit]
    rows.sort(key=lambda c: -c.gdp_usd_bn)
    return [c.iso3 for c in rows[:MAX_COUNTRIES]]


def targeted_origin(changes: Iterable[RuleChange], base: Prepared, other: Prepared) -> str | None:
    """The model origin the differing rules are about (a ban's `origin`, a regulation's `applies_to.origins`),
    when they name exactly one."""
    origins: set[str] = set()
    for change in changes:
        scenario = base.scenario if change.status == "removed" else other.scenario
        rule = scenario.rules[change.rule_id]
        origin = getattr(rule, "origin", None)
        if origin:
            origins.add(str(origin))
        applies = getattr(rule, "applies_to", None)
        origins |= {str(o) for o in getattr(applies, "origins", None) or []}
    return origins.pop() if len(origins) == 1 else None


# --------------------------------------------------------------------------- numbers
def headline_differences(result: CompareResult) -> list[dict[str, str]]:
    """Per other scenario, the paired difference at the horizon of each registry headline series:
    both scenarios' medians, the median difference and its 10-90% band in the series' unit (pp for
    shares, index points for indices, months), and the share of replicates higher / lower than the base."""
    summary = result.difference_summary
    rows = []
    for label in result.labels[1:]:
        mine = summary[summary["scenario"] == label]
        for metric, headline in headlines():
            hit = mine[(mine["metric"] == metric.name) & (mine["group"] == headline.group)]
            if hit.empty:
                continue
            r = hit.iloc[0]
            unit = quantity(metric.name)
            rows.append({
                "scenario": label, "series": headline.label, "date": r["date"],
                "base": unit.level(r["base_median"]), "other": unit.level(r["other_median"]),
                "median": unit.difference(r["difference_median"]),
                "band": f"{unit.difference(r['difference_q10'])} to {unit.difference(r['difference_q90'])}",
                "higher_lower": f"{r['share_higher'] * 100:.0f}% / {r['share_lower'] * 100:.0f}%",
            })
    return rows


# --------------------------------------------------------------------------- figures
def difference_figure(difference: pd.DataFrame, base_label: str) -> Figure:
    """Paired differences from the base: median line, 10-90% band, a zero line; shares in pp, influence in
    index points, gaps in months."""
    from sim.blocs import BLOC_COLOURS, BLOCS, OPENNESS, OPENNESS_COLOURS
    from sim.metrics_registry import GAP_PAIRS
    from sim.outputs.figures import PAIR_COLOURS, _figure, _footer, _timeline, draw_panel, scenario_key, select_lines

    fig, axes = _figure(f"difference from {base_label}", "Paired difference", 4)
    timeline = _timeline(difference)
    panels = [
        ("adoption_share", select_lines(difference, "adoption_share", "openness", palette=OPENNESS_COLOURS,
                                        preferred=OPENNESS, label=lambda o: f"{o} weights"),
         "Model choice: open vs closed weights"),
        ("adoption_share", select_lines(difference, "adoption_share", "origin", palette=BLOC_COLOURS,
                                        preferred=BLOCS, label=lambda b: f"{b} models"), "Model choice by origin bloc"),
        ("influence", select_lines(difference, "influence", "bloc", fixed={"weight": "gdp"}, palette=BLOC_COLOURS,
                                   preferred=BLOCS), "Influence of each bloc (GDP-weighted)"),
        ("capability_gap_months", select_lines(difference, "capability_gap_months", "pair", palette=PAIR_COLOURS,
                                               preferred=[pair for pair, _ in GAP_PAIRS],
                                               label=lambda p: p.replace("-", " behind ")),
         "Capability gap (months the first trails the second)"),
    ]
    for ax, (metric, lines, title) in zip(axes, panels, strict=True):
        draw_panel(ax, lines, title=title, timeline=timeline, missing="series not in these runs",
                   unit=quantity(metric), difference=True)
    _footer(fig, "line: median of the paired difference (scenario - base, same seeds) · band: 10–90% of replicates")
    scenario_key(fig, list(pd.unique(difference["scenario"])) if "scenario" in difference else [])
    return fig


def country_figure(summary: pd.DataFrame, countries: Sequence[str], origin: str | None, names: Mapping[str, str],
                   labels: Sequence[str]) -> Figure:
    """Small multiples, one panel per targeted country: the share of its AI use on `origin`'s models (else on
    open weights), each scenario a line (the base dark and solid), all panels on one y scale."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FuncFormatter

    from sim.outputs.figures import (
        BOTTOM,
        DPI,
        LEFT,
        SCENARIO_STYLES,
        WIDTH,
        _date_ticks,
        _footer,
        _metric_rows,
        _percent_tick,
        _timeline,
    )

    colours = ["#333333", "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00"]
    columns = min(4, max(1, len(countries)))
    rows_n = -(-len(countries) // columns)
    panel_h, gap, top = 2.0, 0.62, 1.05
    height = top + rows_n * panel_h + (rows_n - 1) * gap + BOTTOM
    fig = Figure(figsize=(WIDTH, height), dpi=DPI)
    FigureCanvasAgg(fig)
    fig.subplots_adjust(left=LEFT / WIDTH, right=1 - 0.3 / WIDTH, top=1 - top / height, bottom=BOTTOM / height,
                        hspace=gap / panel_h, wspace=0.18)
    axes = fig.subplots(rows_n, columns, squeeze=False, sharey=True)
    what = f"{origin}-origin models" if origin else "open weights"
    key = (lambda c: f"country={c},origin={origin}") if origin else (lambda c: f"country={c},openness=open")
    fig.suptitle(f"Targeted countries — share of AI use on {what}", fontsize=14, fontweight="bold", x=LEFT / WIDTH,
                 y=1 - 0.12 / height, ha="left", va="top")
    rows = _metric_rows(summary, "adoption_share")
    timeline = _timeline(summary)
    for index, ax in enumerate(axes.ravel()):
        if index >= len(countries):
            ax.set_visible(False)
            continue
        country = countries[index]
        mine = rows[rows["group"] == key(country)]
        for s, label in enumerate(labels):
            data = mine[mine["scenario"] == label].sort_values("step")
            if data.empty:
                continue
            x = data["step"].to_numpy(dtype=float)
            colour = colours[s % len(colours)]
            ax.fill_between(x, data["q10"].to_numpy(dtype=float) * 100, data["q90"].to_numpy(dtype=float) * 100,
                            color=colour, alpha=0.12, linewidth=0)
            ax.plot(x, data["median"].to_numpy(dtype=float) * 100, color=colour,
                    linestyle=SCENARIO_STYLES[s % len(SCENARIO_STYLES)], linewidth=1.8)
        ax.set_title(f"{names.get(country, country)} ({country})", loc="left", fontsize=10, fontweight="bold",
                     y=1.0, pad=6)
        ax.grid(True, color="#e5e5e5", linewidth=0.8)
        ax.set_axisbelow(True)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        _date_ticks(ax, timeline)
        ax.tick_params(axis="both", labelsize=8)
        if len(timeline) > 12:  # four panels a row: a label every second year
            ticks = ax.get_xticks()
            ax.set_xticks(ticks[::2], [t.get_text() for t in ax.get_xticklabels()][::2])
        if index % columns == 0:
            ax.set_ylabel("share of AI use, %", fontsize=9)
    axes[0, 0].set_ylim(bottom=0)
    axes[0, 0].yaxis.set_major_formatter(FuncFormatter(_percent_tick))
    handles = [Line2D([], [], color=colours[s % len(colours)], linewidth=1.8,
                      linestyle=SCENARIO_STYLES[s % len(SCENARIO_STYLES)]) for s in range(len(labels))]
    fig.legend(handles, list(labels), loc="upper left", bbox_to_anchor=(LEFT / WIDTH, 1 - 0.5 / height),
               ncol=len(labels), frameon=False, fontsize=9, handlelength=3.2, borderaxespad=0, borderpad=0)
    _footer(fig)
    return fig


def compare_figures(result: CompareResult, title: str) -> dict[str, Callable[[], Figure]]:
    """The comparison's figures by name, each a function drawing it (`sim.outputs.figures.render_figures`)."""
    from sim.outputs.figures import FIGURES
    from sim.outputs.tables import summarise

    order = {label: i for i, label in enumerate(result.labels)}
    together = pd.concat(
        [summarise(r.timeseries.assign(scenario=name)) for r, name in zip(result.results, result.labels, strict=True)],
        ignore_index=True,
    ).sort_values("scenario", key=lambda s: s.map(order), kind="stable")  # the base first: solid lines
    figures: dict[str, Callable[[], Figure]] = {
        "difference": lambda: difference_figure(result.difference, result.labels[0]),
        "adoption": lambda: FIGURES["adoption"](together, title),
        "influence": lambda: FIGURES["influence"](together, title),
    }
    base = result.results[0].prepared
    changes = [c for other in result.results[1:] for c in rule_changes(base, other.prepared)]
    countries = targeted_countries(changes, base, result.results[-1].prepared)
    if countries:
        origin = targeted_origin(changes, base, result.results[-1].prepared)
        names = {c.iso3: c.name for c in base.world.countries}
        figures["countries"] = lambda: country_figure(together, countries, origin, names, result.labels)
    return figures


# --------------------------------------------------------------------------- page
def compare_page(result: CompareResult, figures: Mapping[str, bytes], manifest: Mapping[str, Any],
                 claims: Mapping[str, str], stamp: Stamp | None = None) -> str:
    """A self-contained page: what differs, the paired differences at the horizon (the registry's headline
    series), the figures, links to each run's report, the claims cited."""
    from sim.outputs.pages import inline_pngs, render

    base = result.results[0].prepared
    scenarios = [{"label": label, "description": r.prepared.scenario.description.strip(),
                  "question": scenario_question(r.prepared)} for r, label in zip(result.results, result.labels,
                                                                                 strict=True)]
    differs = []
    cited: list[str] = []
    for r, label in zip(result.results[1:], result.labels[1:], strict=True):
        changes = rule_changes(base, r.prepared)
        cited += [claim for change in changes for claim in change.sources]
        differs.append({"label": label, "rules": changes, "settings": setting_changes(base, r.prepared),
                        "counts": {s: sum(c.status == s for c in changes) for s in ("added", "removed", "changed")}})
    return render(
        "compare.html.j2",
        title=f"{result.labels[0]} vs {', '.join(result.labels[1:])}",
        base=result.labels[0],
        replicates=len(result.seeds),
        bands=band_note(result.base.ensemble, result.base.members_used),
        created=manifest.get("created_utc"),
        version=manifest.get("package_version"),
        scenarios=scenarios,
        differs=differs,
        claims=claims,
        cited=sorted(set(cited), key=_claim_key),
        rows=headline_differences(result),
        figures=inline_pngs(figures),
        stamp=stamp.text() if stamp is not None else "",
        labels=result.labels,
        seeds=", ".join(str(s) for s in result.seeds),
    )


def _claim_key(claim: str) -> tuple:
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"[.\s]", claim.lstrip("D")))
