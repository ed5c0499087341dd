"""The metrics a run records, each defined once: name, groups, unit, meaning and headlines.

Everything that names a metric reads this registry: the model's reporters (`sim.model.metrics`,
one per entry), the figures' axis labels, the memory estimate (`sim.scenario.limits` counts the
rows a quarter writes from the group families below), the headline numbers of `sim run`, its
report and `sim compare`. The names and groups are the output contract of design.md ("Metrics
every run writes").

A group is `key=value` pairs joined by `,`, keys in alphabetical order (`origin=CN,region=south`);
the world total is the group `world` (it was the empty group in v1, which pandas and R read as
missing; `parse_group` and `normalise_group` still accept `""` from old files). A metric's `groups`
lists its group families: the keys of each family and where each key's values come from (a fixed
list, or `FAMILIES`/`PROGRAMMES`/`COUNTRIES`, known only once the world and the scenario are).

Per-country groups (`country=<ISO3>`) are data for analysts: every run writes them, but the figures
draw only world, region and bloc lines (seventy country lines would be unreadable).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from math import prod
from types import MappingProxyType

import numpy as np

from sim.blocs import BLOCS, OPENNESS, REGIONS

FAMILIES = "model families"  # one group per model family of the world data
PROGRAMMES = "programmes"  # one group per `program` or `alliance` rule of the scenario
COUNTRIES = "countries"  # one group per country (or regional aggregate) of the world data
Domain = tuple[str, ...] | str  # fixed values, or FAMILIES / PROGRAMMES / COUNTRIES
ALIGNMENT_BLOCS = ("US", "CN", "EU")  # blocs with a technology stack a country can align with

PROGRAMME_KINDS = ("program", "alliance")  # rule kinds whose partners are counted
INFLUENCE_WEIGHTS = ("gdp", "population", "countries")
SPLIT_WEIGHTS = ("gdp", "population")  # the weights of influence's parts (dependence, open-weights adoption)
WORLD_GROUP = "world"  # the group label of a world total
# (pair, (trailer, leader)): months by which the best model of the trailer lags the leader's.
GAP_PAIRS: tuple[tuple[str, tuple[str, str]], ...] = (("open-closed", ("open", "closed")), ("CN-US", ("CN", "US")))
COAUTHORSHIP_PAIR = "US-CN"


# --------------------------------------------------------------------------- group labels
def group_label(**pairs: object) -> str:
    """The contract's group label: `key=value` pairs, keys in alphabetical order, joined by `,`.

    `group_label()` is `"world"` (a world total); `group_label(region="south", origin="CN")` is
    `"origin=CN,region=south"`. Keys and values must not contain `,` or `=`.
    """
    if not pairs:
        return WORLD_GROUP
    parts = []
    for key in sorted(pairs):
        value = str(pairs[key])
        for text in (key, value):
            if not text or "," in text or "=" in text:
                raise ValueError(f"group label part {text!r} must be non-empty without ',' or '='")
        parts.append(f"{key}={value}")
    return ",".join(parts)


@functools.lru_cache(maxsize=1 << 16)
def parsed_group(label: str) -> Mapping[str, str]:
    """`parse_group(label)`, remembered per process and read-only: tables and figures parse the same
    ~1,600 labels of a run over and over (a sweep's worker, for every run)."""
    return MappingProxyType(parse_group(label))


def parse_group(label: str | None) -> dict[str, str]:
    """Inverse of `group_label`: `"origin=CN,region=south"` -> `{"origin": "CN", "region": "south"}`.

    `"world"` is the world total, `{}`; so are `""` and a missing value (NaN/None), how files
    written before the world total had a name read back.
    """
    if normalise_group(label) == WORLD_GROUP:
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


def normalise_group(label: object) -> str:
    """A group label as this version writes it: the world total of old files (`""`, or the NaN/None
    pandas reads it as) becomes `"world"`; every other label is returned as it is."""
    if label is None or (isinstance(label, float) and np.isnan(label)) or label == "":
        return WORLD_GROUP
    return str(label)


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


USE = "share of AI use"  # unit of influence's parts (firms size-weighted, and the government)

METRICS: tuple[Metric, ...] = (
    Metric(
        "adoption_rate", "share of firms (size-weighted)",
        "share of the world's (region's, country's, user bloc's) firms using any AI model, firms weighted "
        "by their size",
        (*_with_regions(WORLD), {"country": COUNTRIES}, {"user_bloc": BLOCS}),
        headlines=(Headline(WORLD_GROUP, "AI adoption rate (world)"),),
    ),
    Metric(
        "adoption_rate_firms", "share of firms (counted)",
        "share of the world's (region's, country's, user bloc's) firms using any AI model, each firm "
        "counted once whatever its size, as Eurostat (isoc_eb_ai) and the US Census BTOS count firms",
        (*_with_regions(WORLD), {"country": COUNTRIES}, {"user_bloc": BLOCS}),
    ),
    Metric(
        "adoption_share", "share of AI use (size-weighted)",
        "share of AI use (AI-using firms weighted by their size) in the world, region, country or user "
        "bloc (the bloc of the firms' country) on that option; 0 for every option where no firm uses AI",
        (
            *_with_regions({"openness": OPENNESS}, {"origin": BLOCS}, {"openness": OPENNESS, "origin": BLOCS},
                           {"family": FAMILIES}),
            {"country": COUNTRIES, "origin": BLOCS}, {"country": COUNTRIES, "openness": OPENNESS},
            {"origin": BLOCS, "user_bloc": BLOCS}, {"openness": OPENNESS, "user_bloc": BLOCS},
        ),
        headlines=(
            Headline(group_label(openness="open"), "Open-weights share of AI users"),
            Headline(group_label(openness="closed"), "Closed-weights share of AI users"),
            *(Headline(group_label(origin=b), f"AI users on {b}-origin models") for b in BLOCS),
        ),
    ),
    Metric(
        "influence", "influence index",
        "a bloc's influence: in each country the share of its AI use (firms size-weighted, and the "
        "government with weight parameters.countries.government_weight) on the bloc's models, summed "
        "over countries weighted by GDP, by population, or one country one vote (a regional aggregate "
        "counting as its population in median-sized countries, at least one); influence = dependence "
        "+ open_adoption + the bloc's use in its own countries",
        ({"bloc": BLOCS, "weight": INFLUENCE_WEIGHTS},),
        headlines=tuple(Headline(group_label(bloc=b, weight="gdp"), f"Influence of {b} (GDP-weighted)")
                        for b in BLOCS),
    ),
    Metric(
        "dependence", USE,
        "the part of influence that is dependence: the share of AI use running on the bloc's closed "
        "models (its labs' APIs) in countries of other blocs, summed over countries by GDP or population "
        "(the bloc's own countries count with 0: using your own bloc's closed models is not dependence), "
        "or for one country",
        ({"bloc": BLOCS, "weight": SPLIT_WEIGHTS}, {"bloc": BLOCS, "country": COUNTRIES}),
        headlines=tuple(Headline(group_label(bloc=b, weight="gdp"), f"Dependence on {b} closed models (GDP-weighted)")
                        for b in ("US", "CN")),
    ),
    Metric(
        "open_adoption", USE,
        "the part of influence that is adoption of open weights: the share of AI use running on the "
        "bloc's open-weights models (self-hosted) in countries of other blocs, summed over countries by "
        "GDP or population (the bloc's own countries count with 0)",
        ({"bloc": BLOCS, "weight": SPLIT_WEIGHTS},),
    ),
    Metric(
        "government_use", "share of governments",
        "share of governments (0 or 1 for one country) whose AI use runs on that origin's models; the "
        "denominator is all governments of the world or user bloc, AI users or not, so shares need not "
        "sum to 1; governments are counted as countries are for influence (weight=countries)",
        ({"origin": BLOCS}, {"origin": BLOCS, "user_bloc": BLOCS}, {"country": COUNTRIES, "origin": BLOCS}),
    ),
    Metric(
        "release_open_share", "share of the bloc's labs",
        "share of that bloc's labs whose current release is open-weights",
        ({"bloc": BLOCS},),
    ),
    Metric("compute_share", "share of compute", "the bloc's (country's) share of world AI compute",
           ({"bloc": BLOCS}, {"country": COUNTRIES})),
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
