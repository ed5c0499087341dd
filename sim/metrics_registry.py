"""The metrics a run records, each defined once: name, groups, unit, meaning and headlines.

Everything that names a metric reads this registry: the model's reporters (`sim.model.metrics`,
one per entry), the figures' axis labels, the memory estimate (`sim.scenario.limits` counts the
rows a quarter writes from the group families below), the headline numbers of `sim run`, its
report and `sim compare`. The names and groups are the output contract of design.md ("Metrics
every run writes").

A group is `key=value` pairs joined by `,`, keys in alphabetical order (`origin=CN,region=south`);
the world total is the empty group. A metric's `groups` lists its group families: the keys of each
family and where each key's values come from (a fixed list, or `FAMILIES`/`PROGRAMMES`/`COUNTRIES`,
known only once the world and the scenario are).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from math import prod

import numpy as np

from sim.blocs import BLOCS, OPENNESS, REGIONS

FAMILIES = "model families"  # one group per model family of the world data
PROGRAMMES = "programmes"  # one group per `program` or `alliance` rule of the scenario
COUNTRIES = "countries"  # one group per country (or regional aggregate) of the world data
Domain = tuple[str, ...] | str  # fixed values, or FAMILIES / PROGRAMMES / COUNTRIES
ALIGNMENT_BLOCS = ("US", "CN", "EU")  # blocs with a technology stack a country can align with

PROGRAMME_KINDS = ("program", "alliance")  # rule kinds whose partners are counted
INFLUENCE_WEIGHTS = ("gdp", "countries")
# (pair, (trailer, leader)): months by which the best model of the trailer lags the leader's.
GAP_PAIRS: tuple[tuple[str, tuple[str, str]], ...] = (("open-closed", ("open", "closed")), ("CN-US", ("CN", "US")))
COAUTHORSHIP_PAIR = "US-CN"


# --------------------------------------------------------------------------- group labels
def group_label(**pairs: object) -> str:
    """The contract's group label: `key=value` pairs, keys in alphabetical order, joined by `,`.

    `group_label()` is `""` (a world total); `group_label(region="south", origin="CN")` is
    `"origin=CN,region=south"`. Keys and values must not contain `,` or `=`.
    """
    parts = []
    for key in sorted(pairs):
        value = str(pairs[key])
        for text in (key, value):
            if not text or "," in text or "=" in text:
                raise ValueError(f"group label part {text!r} must be non-empty without ',' or '='")
        parts.append(f"{key}={value}")
    return ",".join(parts)


def parse_group(label: str | None) -> dict[str, str]:
    """Inverse of `group_label`: `"origin=CN,region=south"` -> `{"origin": "CN", "region": "south"}`.

    `""` (or a missing value read back from CSV as NaN/None) is the world total, `{}`.
    """
    if label is None or (isinstance(label, float) and np.isnan(label)) or label == "":
        return {}
    result: dict[str, str] = {}
    for part in str(label).split(","):
        key, sep, value = part.partition("=")
        if not sep or not key or not value or "=" in value:
            raise ValueError(f"malformed group label {label!r}: expected key=value pairs joined by ','")
        if key in result:
            raise ValueError(f"malformed group label {label!r}: key {key!r} repeated")
        result[key] = value
    return result


# --------------------------------------------------------------------------- entries
@dataclass(frozen=True)
class Headline:
    """A number shown at the horizon (`sim run`'s summary, the report, `sim compare`'s page)."""

    group: str
    label: str


@dataclass(frozen=True)
class Metric:
    """One metric of the output: its name, group families, unit, one-line meaning and headlines.

    `unit` is also the figures' axis label; `percent` says whether values (shares and 0-1 indices)
    are shown as percentages and their differences in percentage points.
    """

    name: str
    unit: str
    meaning: str
    groups: tuple[Mapping[str, Domain], ...]
    percent: bool = True
    headlines: tuple[Headline, ...] = field(default=())

    def group_count(self, families: int, programmes: int, countries: int) -> int:
        """How many groups (rows per quarter) the metric can write at most, with these sizes."""
        sizes = {FAMILIES: families, PROGRAMMES: programmes, COUNTRIES: countries}
        return sum(
            prod(sizes[d] if isinstance(d, str) else len(d) for d in family.values()) for family in self.groups
        )


WORLD: Mapping[str, Domain] = {}  # the world total: no keys


def _with_regions(*families: Mapping[str, Domain]) -> tuple[Mapping[str, Domain], ...]:
    """Each family as it is, then crossed with every region (design.md: "each also crossed with region")."""
    return (*families, *({**f, "region": REGIONS} for f in families))


METRICS: tuple[Metric, ...] = (
    Metric(
        "adoption_rate", "share of firms (size-weighted)",
        "share of firms using any AI model, firms weighted by their size",
        _with_regions(WORLD),
        headlines=(Headline("", "AI adoption rate (world)"),),
    ),
    Metric(
        "adoption_share", "share of AI use (size-weighted)",
        "share of AI use (AI-using firms weighted by their size) on that option",
        _with_regions({"openness": OPENNESS}, {"origin": BLOCS}, {"openness": OPENNESS, "origin": BLOCS},
                      {"family": FAMILIES}),
        headlines=(
            Headline(group_label(openness="open"), "Open-weights share of AI users"),
            Headline(group_label(openness="closed"), "Closed-weights share of AI users"),
            *(Headline(group_label(origin=b), f"AI users on {b}-origin models") for b in BLOCS),
        ),
    ),
    Metric(
        "influence", "influence index",
        "a bloc's influence: the share of countries' AI use on its models, by GDP or one country one vote",
        ({"bloc": BLOCS, "weight": INFLUENCE_WEIGHTS},),
        headlines=tuple(Headline(group_label(bloc=b, weight="gdp"), f"Influence of {b} (GDP-weighted)")
                        for b in BLOCS),
    ),
    Metric(
        "release_open_share", "share of the bloc's labs",
        "share of that bloc's labs whose current release is open-weights",
        ({"bloc": BLOCS},),
    ),
    Metric("compute_share", "share of compute", "the bloc's share of world AI compute", ({"bloc": BLOCS},)),
    Metric("capability", "capability index", "capability index of a model family", ({"family": FAMILIES},),
           percent=False),
    Metric(
        "capability_gap_months", "months",
        "months by which the best model of the first trails the best of the second",
        ({"pair": tuple(pair for pair, _ in GAP_PAIRS)},),
        percent=False,
        headlines=(Headline(group_label(pair="CN-US"), "Months CN trails US"),),
    ),
    Metric(
        "coauthorship_share", "share of papers", "share of the period's papers with authors from both",
        ({"pair": (COAUTHORSHIP_PAIR,)},),
    ),
    Metric(
        "countries_banning", "countries", "countries with a ban in force on that origin's models",
        ({"origin": BLOCS},), percent=False,
    ),
    Metric("partners", "countries", "countries in a programme or alliance", ({"program": PROGRAMMES},),
           percent=False),
    Metric(
        "alignment", "alignment (0-1)",
        "the country's technological alignment with that bloc (0 to 1), as the model moves it",
        ({"bloc": ALIGNMENT_BLOCS, "country": COUNTRIES},),
    ),
)
BY_NAME: dict[str, Metric] = {metric.name: metric for metric in METRICS}


def headlines() -> list[tuple[Metric, Headline]]:
    """Every headline number, in registry order."""
    return [(metric, headline) for metric in METRICS for headline in metric.headlines]


def rows_per_quarter(families: int, programmes: int, countries: int) -> int:
    """An upper bound on the values one replicate records per quarter (some groups can be empty)."""
    return sum(metric.group_count(families, programmes, countries) for metric in METRICS)
