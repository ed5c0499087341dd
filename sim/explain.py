"""`sim explain`: the resolved scenario in plain words, like a briefing."""

from __future__ import annotations

import textwrap
from typing import Any

from sim.fields import claims
from sim.scenario import Prepared
from sim.scenario.parameters import Parameters


def _changed(current: Any, default: Any, prefix: str) -> list[str]:
    """Dotted paths of parameters that differ from their defaults."""
    if isinstance(current, dict) and isinstance(default, dict):
        out = []
        for key in sorted(set(current) | set(default)):
            out += _changed(current.get(key), default.get(key), f"{prefix}.{key}")
        return out
    return [] if current == default else [f"{prefix} = {current!r} (default {default!r})"]


def _wrap(text: str, indent: int) -> str:
    return textwrap.fill(text, width=96, initial_indent=" " * indent, subsequent_indent=" " * indent)


def briefing(prepared: Prepared) -> str:
    scenario, world = prepared.scenario, prepared.world
    t = scenario.time
    lines = [f"Scenario {scenario.name!r}"]
    if scenario.description:
        lines.append(_wrap(scenario.description.strip(), 2))
    lines.append("")
    lines.append(
        f"Period {t.start} to {t.end} ({t.quarters} quarters, one step per quarter); seed {scenario.seed}; "
        f"{scenario.population.firms:,} firms in {len(world.countries)} countries and aggregates; "
        f"{len(world.labs)} labs releasing {len(world.families)} model families."
    )
    if len(prepared.loaded.files) > 1:
        chain = " <- ".join(p.name for p in reversed(prepared.loaded.files))
        lines.append(f"Built on: {chain} (rules merged by id).")
    lines.append("")
    lines.append(f"Rules in force ({len(scenario.rules)}), in the order they act each quarter:")
    texts = claims()
    for number, (rule_id, rule) in enumerate(scenario.rules.items(), start=1):
        window = f"{rule.from_ or t.start} to {rule.until}" if rule.until else f"from {rule.from_ or t.start}"
        lines.append(f"  {number}. {rule_id} [{rule.kind}], {window}")
        lines.append(_wrap(rule.describe(world) + ".", 6))
        if rule.note:
            lines.append(_wrap(f"Stands for: {rule.note}", 6))
        for claim in rule.sources:
            lines.append(_wrap(f"{claim}: {texts[claim]}", 6))
    if not scenario.rules:
        lines.append("  (none: the world runs without policy rules)")
    if scenario.uncertainties:
        lines.append("")
        lines.append("Uncertainties (a plain run uses the default; sweeps explore the range):")
        for name, u in scenario.uncertainties.items():
            meaning = f" - {u.meaning}" if u.meaning else ""
            lines.append(f"  {name}: {u.path} = {u.default:g} in [{u.range[0]:g}, {u.range[1]:g}]{meaning}")
    changed = _changed(
        scenario.parameters.model_dump(mode="json"), Parameters().model_dump(mode="json"), "parameters"
    )
    lines.append("")
    if changed:
        lines.append("Parameters changed from their defaults:")
        lines += [f"  {c}" for c in changed]
    else:
        lines.append("All behavioural parameters at their defaults (see docs/scenarios.md).")
    return "\n".join(lines)
