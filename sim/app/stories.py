"""The classroom's stories: a preset run WHOLE when chosen, kept as small per-quarter arrays and shared.

A story is a preset, lever positions and a story number; story k uses replicate k's seed of
`sim run --replicates --uncertainty seeds`, so the command line reproduces it. A default-size run takes
~50 ms, so the page computes the whole story at once and playing only *reveals* quarter after quarter:
nothing is simulated, drawn or kept per session per quarter.

What a story keeps (`Story`): the series the page shows (adoption, influence, China's compute share,
the capability gap, and each country's use by origin, adoption rate and open share), one float32 per
quarter each, and the narrated events in plain words. `StoryCache` shares them across sessions: it is
bounded by count and by approximate bytes, thread-safe, and computes each key once even when 30
sessions ask for it at the same moment.

"Many stories" (`Ensemble`): bands (median, 10-90%) over N stories, and the paired difference (story k
minus story k of the reference, on the same seeds) from the same preset with neutral levers, so a lever's
effect is seen against chance, or from the baseline preset, so a preset's effect is.
"""

from __future__ import annotations

import logging
import re
import shlex
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import numpy as np

from sim.app.levers import LeverSettings
from sim.blocs import BLOCS
from sim.model.streams import replicate_seeds
from sim.quarters import parse_quarter, quarter_label

log = logging.getLogger(__name__)

MANY_STORIES = 12  # stories in "many stories" mode, as `sim run --replicates 12`
BAND = (10.0, 90.0)  # percentiles of the band drawn around the median
CACHE_STORIES = 400  # stories kept server-wide (~70 kB each at the default world)
CACHE_BYTES = 64 * 2**20

# The page's series: name -> (metric, group) in the model's metric rows.
SERIES: dict[str, tuple[str, str]] = {
    "adoption.world": ("adoption_rate", "world"),
    "adoption.open": ("adoption_share", "openness=open"),
    "adoption.closed": ("adoption_share", "openness=closed"),
    **{f"adoption.{b}": ("adoption_share", f"origin={b}") for b in BLOCS},
    **{f"influence.gdp.{b}": ("influence", f"bloc={b},weight=gdp") for b in BLOCS},
    **{f"influence.countries.{b}": ("influence", f"bloc={b},weight=countries") for b in BLOCS},
    "compute.CN": ("compute_share", "bloc=CN"),
    "gap.CN-US": ("capability_gap_months", "pair=CN-US"),
    "gap.open-closed": ("capability_gap_months", "pair=open-closed"),
}


def country_key(iso3: str, what: str) -> str:
    """The series name of one country's curve: `what` is `use.US` (share of its AI use on US models,
    firms and government), `rate` (share of its firms using AI) or `open` (share on open models)."""
    return f"country.{iso3}.{what}"


class StoryError(Exception):
    """A story could not be computed; the message is for the page (the server log has the traceback)."""


@dataclass(frozen=True)
class StoryEvent:
    """A narrated event: when, what (plain words), the claims it rests on, and its real-world note."""

    step: int
    date: str
    text: str
    claims: tuple[str, ...]
    note: str = ""


@dataclass(frozen=True)
class Story:
    """One story, computed whole: per-quarter series (float32, quarter i at index i) and its events."""

    preset: str
    settings: LeverSettings
    number: int
    seed: int
    start: int  # the first quarter, as `sim.quarters.parse_quarter` counts
    total: int  # quarters in the story
    series: dict[str, np.ndarray]
    countries: tuple[str, ...]  # ISO3 codes, in the world data's order
    country_names: tuple[str, ...]
    events: tuple[StoryEvent, ...]
    overrides: tuple[str, ...] = ()
    notice: str = ""  # why the levers could not be applied, if they could not
    command: str = ""  # the `sim run` command that reproduces the story
    nbytes: int = field(default=0, compare=False)

    def quarter(self, i: int) -> str:
        """The label of the story's i-th quarter (0-based)."""
        return quarter_label(self.start + i)

    def events_until(self, shown: int) -> list[StoryEvent]:
        """The events of the quarters revealed so far (the first `shown` quarters)."""
        return [e for e in self.events if e.step < shown]

    def dominant(self, i: int) -> dict[str, tuple[str, float]]:
        """At quarter i: each country's most used origin and its share of the country's AI use
        (countries without AI use yet are left out)."""
        out: dict[str, tuple[str, float]] = {}
        for iso3 in self.countries:
            shares = [float(self.series[country_key(iso3, f"use.{b}")][i]) for b in BLOCS]
            top = int(np.argmax(shares))
            if shares[top] > 0:
                out[iso3] = (BLOCS[top], shares[top])
        return out


def rerun_command(preset_name: str, preset_path: Path, overrides: tuple[str, ...] | list[str], story: int) -> str:
    """The `sim run` command that reproduces story `story` of the preset with these overrides."""
    from sim.resources import find_builtin

    # A built-in preset by its name (works wherever sim is installed), any other by its file.
    builtin = find_builtin(preset_name)
    same = builtin is not None and builtin.resolve() == preset_path.resolve()
    parts = ["sim run", preset_name if same else shlex.quote(str(preset_path))]
    parts += [f"--set '{text}'" for text in overrides]
    parts.append("--uncertainty seeds")  # the page runs the scenario as written, without the parameter ensemble
    if story:
        parts.append(f"--replicates {story + 1}  # story {story} = replicate {story}")
    return " ".join(parts)


# -- plain words ------------------------------------------------------------------------------------

_PLAIN: tuple[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]], ...] = (
    (re.compile(r" \[\d+ countr(?:y|ies)\]"), ""),
    (re.compile(r" \(\+[\d.]+ log-odds for its labs\)"), " (its labs are pushed to release openly)"),
    (re.compile(r" \(\+[\d.]+ utility\)"), " (they become more attractive to use)"),
    (re.compile(r" \(-[\d.]+ utility\)"), " (they become costlier to use)"),
    (re.compile(r"\blog-odds\b"), "odds"),
    (re.compile(r"\butility\b"), "value"),
    (re.compile(r"\bthe CN state\b"), "the Chinese state"),
    (re.compile(r"\bthe US state\b"), "the US state"),
    (re.compile(r" at strength (\d(?:\.\d+)?)"), lambda m: f" ({float(m.group(1)):.0%} of a full denial)"),
)


def plain_words(text: str) -> str:
    """A model event's text without the model's jargon (log-odds, utility, bloc codes, country counts)."""
    for pattern, repl in _PLAIN:
        text = pattern.sub(repl, text)
    return text


def narrate(event: dict[str, Any], rules: dict[str, Any]) -> StoryEvent:
    """A model event (`model.events` entry) as the feed tells it."""
    text = str(event["event"])
    rule_id = str(event["rule_id"])
    rule = rules.get(rule_id)
    starts = bool(rule_id) and text.startswith(f"{rule_id} starts: ")
    if starts:
        text = text[len(rule_id) + len(" starts: ") :]
    elif rule_id and text.startswith(f"{rule_id} ends"):
        text = f"The rule “{rule_id}” ends" + text[len(rule_id) + len(" ends") :]
    text = plain_words(text)
    if text.startswith("the "):  # not `.capitalize()`: names like iFlytek keep their case
        text = "The" + text[3:]
    note = str(getattr(rule, "note", None) or "") if starts else ""
    return StoryEvent(int(event["step"]), str(event["date"]), text, tuple(str(event["sources"]).split()), note)


# -- computing a story ------------------------------------------------------------------------------


def _prepared(preset_path: Path, settings: LeverSettings) -> tuple[Any, list[str], str]:
    from sim.app.classroom import build_prepared

    return build_prepared(preset_path, settings)


def compute_story(preset_name: str, preset_path: Path, settings: LeverSettings, number: int) -> Story:
    """Run the story from start to end (no Mesa agents: the page needs the arrays only) and keep
    what the page shows. Raises StoryError with a plain message when the run fails."""
    from sim.model.metrics import use_by_origin
    from sim.model.model import GeopoliticsModel
    from sim.runner import release_model

    try:
        prepared, overrides, notice = _prepared(preset_path, settings)
    except Exception as error:
        log.exception("could not prepare %s", preset_path)
        raise StoryError(f"The preset {preset_name!r} could not be loaded: {type(error).__name__}: {error}") from None
    scenario, world = prepared.scenario, prepared.world
    seed = replicate_seeds(scenario.seed, number + 1)[number]
    start, end = parse_quarter(scenario.time.start), parse_quarter(scenario.time.end)
    total = end - start + 1
    model = None
    try:
        model = GeopoliticsModel(scenario, world, seed=seed, create_agents=False)
        n = model.n_countries
        use = np.zeros((total, n, len(BLOCS)), np.float32)
        for i in range(total):
            model.step()
            raw = use_by_origin(model)
            sums = raw.sum(axis=1, keepdims=True)
            use[i] = np.divide(raw, sums, out=np.zeros_like(raw), where=sums > 0)
        series = _series_from_rows(model.rows, total)
        countries = tuple(str(c) for c in model.country_ids)
        rates = _group_matrix(model.rows, total, "adoption_rate", [f"country={c}" for c in countries])
        opens = _group_matrix(model.rows, total, "adoption_share", [f"country={c},openness=open" for c in countries])
        for j, iso3 in enumerate(countries):
            for k, bloc in enumerate(BLOCS):
                series[country_key(iso3, f"use.{bloc}")] = use[:, j, k].copy()
            series[country_key(iso3, "rate")] = rates[j]
            series[country_key(iso3, "open")] = opens[j]
        events = tuple(narrate(e, scenario.rules) for e in model.events)
        names = tuple(model.country_names)
    except Exception as error:
        log.exception("story %s of %s failed", number, preset_name)
        when = quarter_label(model.quarter) if model is not None else "the start"
        raise StoryError(f"The simulation stopped at {when}: {type(error).__name__}: {error}") from None
    finally:
        if model is not None:
            release_model(model)  # Mesa 3.3.1 keeps every model alive otherwise
    nbytes = sum(a.nbytes + 100 for a in series.values()) + sum(len(e.text) + len(e.note) + 150 for e in events)
    return Story(
        preset=preset_name,
        settings=settings,
        number=number,
        seed=int(seed),
        start=start,
        total=total,
        series=series,
        countries=countries,
        country_names=names,
        events=events,
        overrides=tuple(overrides),
        notice=notice,
        command=rerun_command(preset_name, preset_path, overrides, number),
        nbytes=nbytes + 2000,
    )


def _columns(rows: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    # MetricRows keeps its rows as columns; read them directly (building a table costs more than the run).
    n = rows.size
    return rows._step[:n], rows._metric[:n], rows._group[:n], rows._value[:n]


def _group_matrix(rows: Any, total: int, metric: str, groups: list[str]) -> np.ndarray:
    """groups x quarters of one metric (NaN where a group has no row)."""
    steps, metrics, group_codes, values = _columns(rows)
    out = np.full((len(groups), total), np.nan, np.float32)
    if metric not in rows.metrics:
        return out
    sel = metrics == rows.metrics.index(metric)
    table = np.full((len(rows.groups), total), np.nan, np.float32)
    ok = sel & (steps < total)
    table[group_codes[ok], steps[ok]] = values[ok]
    index = {g: i for i, g in enumerate(rows.groups)}
    for j, group in enumerate(groups):
        if group in index:
            out[j] = table[index[group]]
    return out


def _series_from_rows(rows: Any, total: int) -> dict[str, np.ndarray]:
    by_metric: dict[str, list[tuple[str, str]]] = {}
    for name, (metric, group) in SERIES.items():
        by_metric.setdefault(metric, []).append((name, group))
    out: dict[str, np.ndarray] = {}
    for metric, wanted in by_metric.items():
        matrix = _group_matrix(rows, total, metric, [g for _, g in wanted])
        for (name, _), row in zip(wanted, matrix, strict=True):
            out[name] = row
    return out


# -- the shared cache -------------------------------------------------------------------------------

V = TypeVar("V")


class _Pending:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None


class StoryCache(Generic[V]):
    """A server-wide LRU cache bounded by count and approximate bytes; thread-safe, and one computation
    per key: a session asking for a key being computed waits for that computation instead of repeating it."""

    def __init__(self, max_items: int = CACHE_STORIES, max_bytes: int = CACHE_BYTES) -> None:
        self.max_items = max_items
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._items: OrderedDict[Hashable, tuple[V, int]] = OrderedDict()
        self._pending: dict[Hashable, _Pending] = {}
        self.bytes = 0
        self.computed = 0  # computations run (for tests and the benchmark)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._items

    def get(self, key: Hashable, compute: Callable[[], V], size: Callable[[V], int]) -> V:
        """The value for `key`, computed by `compute` once; failures are not kept (the next ask retries)."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key][0]
            pending = self._pending.get(key)
            owner = pending is None
            if pending is None:
                pending = self._pending[key] = _Pending()
        if not owner:
            pending.done.wait()
            if pending.error is not None:
                raise pending.error
            return pending.value
        try:
            value = compute()
            pending.value = value
        except BaseException as error:
            pending.error = error
            raise
        finally:
            with self._lock:
                del self._pending[key]
                if pending.error is None:
                    self.computed += 1
                    self._put(key, pending.value, size(pending.value))
            pending.done.set()
        return value

    def _put(self, key: Hashable, value: V, nbytes: int) -> None:
        self._items[key] = (value, nbytes)
        self.bytes += nbytes
        while self._items and (len(self._items) > self.max_items or self.bytes > self.max_bytes):
            if len(self._items) == 1:
                break  # a single value over the bytes limit is still served
            _, (_, dropped) = self._items.popitem(last=False)
            self.bytes -= dropped

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.bytes = 0


CACHE: StoryCache[Any] = StoryCache()


def _preset_key(path: Path) -> tuple[str, float]:
    # The file's mtime keys the story too: a preset edited during class gives new stories.
    try:
        return str(path.resolve()), path.stat().st_mtime
    except OSError:
        return str(path), 0.0


def get_story(
    preset_name: str, preset_path: Path, settings: LeverSettings, number: int, cache: StoryCache[Any] | None = None
) -> Story:
    """Story `number` of the preset with these levers, from the shared cache (computed on first ask)."""
    cache = CACHE if cache is None else cache
    key = ("story", preset_name, _preset_key(preset_path), settings, number)
    return cache.get(key, lambda: compute_story(preset_name, preset_path, settings, number), lambda s: s.nbytes)


# -- many stories -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bands:
    """Median and 10-90% band per series over stories (or over paired differences)."""

    median: dict[str, np.ndarray]
    low: dict[str, np.ndarray]
    high: dict[str, np.ndarray]


@dataclass(frozen=True)
class Ensemble:
    """Many stories of one preset and lever setting: bands of the series and, against the preset with
    neutral levers on the same seeds, bands of the paired difference."""

    count: int
    levels: Bands
    difference: Bands
    reference: str = ""  # the preset the difference is taken from (with neutral levers)
    nbytes: int = field(default=0, compare=False)


def _bands(stack: dict[str, np.ndarray]) -> Bands:
    median, low, high = {}, {}, {}
    for name, values in stack.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a quarter without the metric stays NaN
            qs = np.nanpercentile(values, [50.0, *BAND], axis=0).astype(np.float32)
        median[name], low[name], high[name] = qs[0], qs[1], qs[2]
    return Bands(median, low, high)


def get_ensemble(
    preset_name: str,
    preset_path: Path,
    settings: LeverSettings,
    stories: int = MANY_STORIES,
    cache: StoryCache[Any] | None = None,
    reference: tuple[str, Path] | None = None,
) -> Ensemble:
    """Bands over stories 0..stories-1 and over their paired differences (story k minus the reference's
    story k: the same dice) from the reference with neutral levers: by default the same preset (the
    levers' effect), or another preset such as the baseline (the preset's effect). Shared cache."""
    cache = CACHE if cache is None else cache
    ref_name, ref_path = reference if reference is not None else (preset_name, preset_path)
    key = ("ensemble", preset_name, _preset_key(preset_path), settings, stories, ref_name, _preset_key(ref_path))

    def compute() -> Ensemble:
        runs = tuple(get_story(preset_name, preset_path, settings, k, cache) for k in range(stories))
        neutral = LeverSettings()
        same = ref_name == preset_name and _preset_key(ref_path) == _preset_key(preset_path) and settings == neutral
        base = runs if same else tuple(get_story(ref_name, ref_path, neutral, k, cache) for k in range(stories))
        names = [n for n in runs[0].series if n in base[0].series]
        levels = _bands({n: np.stack([s.series[n] for s in runs]) for n in runs[0].series})
        difference = _bands({n: np.stack([s.series[n] - b.series[n] for s, b in zip(runs, base, strict=True)])
                             for n in names})  # fmt: skip
        size = 3 * 2 * sum(a.nbytes for a in levels.median.values()) + 1000
        return Ensemble(stories, levels, difference, ref_name, nbytes=size)

    return cache.get(key, compute, lambda e: e.nbytes)
