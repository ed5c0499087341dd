"""The classroom's lessons: for every built-in preset, the question, what it is, how it works, what
to try on the page and what to notice, with the claims of the source documents it rests on.

The texts live in `sim/builtin/lessons/lessons.yaml` (the repository's `scenarios/lessons/`). A
number a lesson promises is never typed: the text holds a placeholder such as `{{open_share}}` or
`{{diff.cn_compute.verdict}}`, filled when the lessons are loaded from `numbers.yaml` beside it,
which `scripts/lesson_numbers.py` writes from runs of every preset the way the page's "many stories"
view runs them (12 stories, the scenario as written). Placeholders:

- `{{Q}}`: this preset's median at the horizon over the stories; `{{Q.range}}`: its 10-90% range;
- `{{baseline.Q}}`, `{{baseline.Q.range}}`: the same for the baseline preset;
- `{{diff.Q}}`, `{{diff.Q.range}}`, `{{diff.Q.verdict}}`: the paired difference from the baseline
  (story k of both uses the same dice), and in how many stories it goes which way;
- `{{try.ID.Q}}` (`.range`, `.verdict`): the paired difference a lever position of the lesson's
  `tries` makes to this preset;
- `{{stories}}`, `{{date}}`, `{{spotlight}}` (the country the `spot_*` quantities follow).

Q is one of `QUANTITIES`. A verdict says "within chance" when the stories disagree on the
direction, so a lesson cannot claim an effect the runs do not show.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from sim.app.levers import EU_STANCES, LEVERS, REACH_OPTIONS, LeverSettings
from sim.errors import InputError, Problem, did_you_mean, dotted
from sim.fields import claims, documents
from sim.resources import builtin_dir, builtin_scenarios
from sim.yamlio import Located, load_yaml_file

LESSONS_FILE = "lessons.yaml"
NUMBERS_FILE = "numbers.yaml"
# The page's views a lesson may send the class to, as the page labels them.
MANY_STORIES = "many stories"
DIFFERENCE = "difference from baseline"
TEXT_FIELDS = ("question", "what_it_is", "how_it_works")
LIST_FIELDS = ("things_to_try", "what_to_notice")
PLAN_FIELDS = ("spotlight", "tries")  # what scripts/lesson_numbers.py runs for the lesson
ALL_FIELDS = (*TEXT_FIELDS, *LIST_FIELDS, "claims", *PLAN_FIELDS)
CONSISTENT = 5 / 6  # a difference counts as an effect when at least this share of stories goes one way


def lessons_dir() -> Path:
    """The folder of the lesson texts and their generated numbers (`scenarios/lessons/`)."""
    return builtin_dir() / "lessons"


@dataclass(frozen=True)
class Quantity:
    """A number lessons can quote: a metric and group of the run at the horizon, or a count of countries."""

    metric: str  # a metric of the run, or "map" (countries mostly on a bloc's models)
    group: str  # the metric's group; `{spotlight}` stands for the lesson's country
    kind: str  # share (shown in %), months or count
    words: str  # what it is, in a class's words


QUANTITIES: dict[str, Quantity] = {
    "open_share": Quantity("adoption_share", "openness=open", "share", "world AI use on open-weights models"),
    "us_share": Quantity("adoption_share", "origin=US", "share", "world AI use on US models"),
    "cn_share": Quantity("adoption_share", "origin=CN", "share", "world AI use on Chinese models"),
    "eu_share": Quantity("adoption_share", "origin=EU", "share", "world AI use on EU models"),
    "cn_compute": Quantity("compute_share", "bloc=CN", "share", "China's share of the world's AI compute"),
    "us_influence_gdp": Quantity("influence", "bloc=US,weight=gdp", "share", "US influence, weighted by GDP"),
    "cn_influence_gdp": Quantity("influence", "bloc=CN,weight=gdp", "share", "Chinese influence, weighted by GDP"),
    "us_influence_votes": Quantity(
        "influence", "bloc=US,weight=countries", "share", "US influence, one country one vote"
    ),
    "cn_influence_votes": Quantity(
        "influence", "bloc=CN,weight=countries", "share", "Chinese influence, one country one vote"
    ),
    "eu_users_cn": Quantity(
        "adoption_share", "origin=CN,user_bloc=EU", "share", "EU firms' AI use on Chinese models"
    ),
    "cn_gov": Quantity("government_use", "origin=CN", "share", "governments whose AI runs on Chinese models"),
    "cn_gap_months": Quantity("capability_gap_months", "pair=CN-US", "months", "months China's best model trails"),
    "open_gap_months": Quantity(
        "capability_gap_months", "pair=open-closed", "months", "months the best open model trails the best closed"
    ),
    "bans_on_cn": Quantity("countries_banning", "origin=CN", "count", "countries banning Chinese models"),
    "bans_on_us": Quantity("countries_banning", "origin=US", "count", "countries banning US models"),
    "partners": Quantity("partners", "program=openai-for-countries", "count", "OpenAI for Countries partners"),
    "map_us": Quantity("map", "US", "count", "countries mostly on US models"),
    "map_cn": Quantity("map", "CN", "count", "countries mostly on Chinese models"),
    "map_eu": Quantity("map", "EU", "count", "countries mostly on EU models"),
    "spot_us": Quantity("adoption_share", "country={spotlight},origin=US", "share", "the country's use of US models"),
    "spot_cn": Quantity(
        "adoption_share", "country={spotlight},origin=CN", "share", "the country's use of Chinese models"
    ),
    "spot_eu": Quantity("adoption_share", "country={spotlight},origin=EU", "share", "the country's use of EU models"),
    "spot_open": Quantity(
        "adoption_share", "country={spotlight},openness=open", "share", "the country's use of open-weights models"
    ),
}
_PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")


@dataclass(frozen=True)
class LessonInfo:
    """One preset's lesson, its numbers filled in, in plain words for a class."""

    preset: str
    question: str
    what_it_is: str
    how_it_works: str
    things_to_try: tuple[str, ...]
    what_to_notice: tuple[str, ...]
    claims: tuple[str, ...]


@dataclass(frozen=True)
class LessonPlan:
    """What the numbers of a lesson come from: its country in the spotlight and its lever tries."""

    preset: str
    spotlight: str  # ISO3 code
    tries: dict[str, dict[str, Any]]  # try id -> lever positions (LeverSettings fields)

    def settings(self, try_id: str) -> LeverSettings:
        """The lever positions of one try."""
        return LeverSettings(**self.tries[try_id])


# --- reading and checking the lesson file ---------------------------------------------------------


def _lever_problems(located: Located, path: tuple, value: Any) -> list[Problem]:
    """Problems with one try's lever positions: names of LeverSettings, values the page's levers offer."""
    if not isinstance(value, dict) or not value:
        return [located.problem(path, "a try is a mapping of lever names to positions, like {export_strength: 0}")]
    names = LeverSettings.names()
    levers = {lever.name: lever for lever in LEVERS}
    problems = []
    for name, position in value.items():
        where = (*path, name)
        if name not in names:
            hint = did_you_mean(name, names)
            problems.append(located.problem(where, f"unknown lever {name!r}{hint}; levers: {', '.join(names)}"))
            continue
        lever = levers[name]
        if lever.kind == "Select":
            options = REACH_OPTIONS if name == "export_reach" else EU_STANCES
            if position not in options:
                message = f"{position!r} is not a position of {lever.label!r}; choose one of {', '.join(options)}"
                problems.append(located.problem(where, message, at_value=True))
        elif isinstance(position, bool) or not isinstance(position, int | float) or not (
            (lever.min or 0) <= position <= (lever.max or 0)
        ):
            message = f"{position!r} is outside {lever.label!r}: a number from {lever.min:g} to {lever.max:g}"
            problems.append(located.problem(where, message, at_value=True))
    return problems


def _placeholder_problem(name: str, preset: str, tries: dict[str, Any]) -> str | None:
    """Why a placeholder cannot be filled for this preset, or None."""
    if name in ("stories", "date", "spotlight"):
        return None
    parts = name.split(".")
    scope = parts[0] if parts[0] in ("diff", "baseline", "try") else ""
    rest = parts[1:] if scope else parts
    if scope == "try":
        if not rest or rest[0] not in tries:
            known = ", ".join(tries) or "none"
            return f"{{{{{name}}}}} names a try the lesson does not define (its tries: {known})"
        rest = rest[1:]
    if scope == "diff" and preset == "baseline":
        return f"{{{{{name}}}}}: the baseline has no difference from itself"
    if not rest or rest[0] not in QUANTITIES:
        word = rest[0] if rest else ""
        return f"{{{{{name}}}}}: unknown quantity {word!r}{did_you_mean(word, QUANTITIES)}; see QUANTITIES"
    if len(rest) > 2 or (len(rest) == 2 and rest[1] not in ("range", "verdict")):
        return f"{{{{{name}}}}}: after the quantity only .range or .verdict may follow"
    if len(rest) == 2 and rest[1] == "verdict" and scope not in ("diff", "try"):
        return f"{{{{{name}}}}}: only a difference (diff. or try.) has a verdict"
    return None


def _texts(entry: dict[str, Any]) -> list[tuple[tuple, str]]:
    """(field path, text) of every text of a lesson entry, for placeholder and jargon checks."""
    out: list[tuple[tuple[str | int, ...], str]] = [
        ((key,), entry[key]) for key in TEXT_FIELDS if isinstance(entry.get(key), str)
    ]
    for key in LIST_FIELDS:
        items = entry.get(key)
        if isinstance(items, list):
            out += [((key, i), text) for i, text in enumerate(items) if isinstance(text, str)]
    return out


def _check_entry(located: Located, lines: list[str], preset: str, entry: Any) -> list[Problem]:
    """Problems with one preset's lesson entry."""
    at = ("lessons", preset)
    if not isinstance(entry, dict):
        return [located.problem(at, "a lesson is a mapping with " + ", ".join(ALL_FIELDS))]
    problems = [
        located.problem((*at, key), f"unknown field {key!r}{did_you_mean(key, ALL_FIELDS)}")
        for key in entry
        if key not in ALL_FIELDS
    ]
    missing = [key for key in ALL_FIELDS if key not in entry and key != "tries"]
    if missing:
        problems.append(located.problem(at, f"missing {', '.join(missing)}"))
    for key in TEXT_FIELDS:
        if key in entry and (not isinstance(entry[key], str) or not entry[key].strip()):
            problems.append(located.problem((*at, key), "must be a non-empty text", at_value=True))
    for key in (*LIST_FIELDS, "claims"):
        items = entry.get(key)
        if key in entry and (not isinstance(items, list) or not items or not all(isinstance(i, str) for i in items)):
            problems.append(located.problem((*at, key), "must be a non-empty list of texts", at_value=True))
    for i, claim in enumerate(entry.get("claims") or []):
        if isinstance(claim, str) and claim not in claims():
            message = f"unknown claim id {claim!r}{did_you_mean(claim, claims())}; claims are listed in sim/claims.json"
            problems.append(located.problem((*at, "claims", i), message, at_value=True))
    spotlight = entry.get("spotlight")
    if "spotlight" in entry and not (isinstance(spotlight, str) and re.fullmatch(r"[A-Z]{3}", spotlight)):
        problems.append(located.problem((*at, "spotlight"), "an ISO3 country code like IDN", at_value=True))
    tries = entry.get("tries", {})
    if not isinstance(tries, dict):
        problems.append(located.problem((*at, "tries"), "a mapping of try ids to lever positions", at_value=True))
        tries = {}
    for try_id, value in tries.items():
        problems += _lever_problems(located, (*at, "tries", try_id), value)
    for path, text in _texts(entry):
        for match in _PLACEHOLDER.finditer(text):
            problem = _placeholder_problem(match.group(1), preset, tries)
            if problem:
                problems.append(_at_text(located, lines, (*at, *path), match.group(0), problem))
    return problems


def _at_text(located: Located, lines: list[str], path: tuple, needle: str, message: str) -> Problem:
    """A problem at `needle` inside a (folded, multi-line) text value: its own line, not the value's first."""
    line, column = located.value_mark(path)
    for number in range(line, len(lines) + 1):
        found = lines[number - 1].find(needle)
        if found >= 0:
            return Problem(located.file, number, found + 1, dotted(path), message)
    return Problem(located.file, line, column, dotted(path), message)


def _read(path: Path) -> tuple[Located, dict[str, Any], list[str]]:
    """The lesson file, read and checked: every problem at once, as FILE:LINE:COLUMN lines."""
    located = load_yaml_file(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    data = located.data
    if not isinstance(data, dict) or not isinstance(data.get("lessons"), dict):
        raise InputError.single(located.file, "the file is a mapping with one key, `lessons:`, of preset names")
    problems = [located.problem((key,), f"unknown key {key!r}; the file holds `lessons:`") for key in data
                if key != "lessons"]
    presets = list(builtin_scenarios())
    for preset, entry in data["lessons"].items():
        if preset not in presets:
            message = f"no built-in preset {preset!r}{did_you_mean(preset, presets)}; presets: {', '.join(presets)}"
            problems.append(located.problem(("lessons", preset), message))
            continue
        problems += _check_entry(located, lines, preset, entry)
    if problems:
        raise InputError(problems)
    return located, data["lessons"], lines


def lesson_plans(path: Path | None = None) -> dict[str, LessonPlan]:
    """The spotlight country and lever tries of every lesson (what the numbers are computed for)."""
    _, lessons, _ = _read(path or lessons_dir() / LESSONS_FILE)
    return {
        preset: LessonPlan(preset, entry["spotlight"], {k: dict(v) for k, v in (entry.get("tries") or {}).items()})
        for preset, entry in lessons.items()
    }


# --- numbers into words ---------------------------------------------------------------------------


def _number(value: float, kind: str, signed: bool = False) -> str:
    """A value as a class reads it: shares in % (differences in points), months and counts rounded."""
    if kind == "share":
        scaled = value * 100
        digits = 0 if abs(scaled) >= 2 or scaled == 0 else 1
        text = f"{scaled:+.{digits}f}" if signed else f"{scaled:.{digits}f}"
        text = "0" if float(text) == 0 else text
        return f"{text} points" if signed else f"{text}%"
    digits = 1 if kind == "months" and 0 < abs(value) < 2 else 0
    text = f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"
    text = "0" if float(text) == 0 else text
    return f"{text} months" if kind == "months" else text


def _range(stats: dict[str, float], kind: str, signed: bool) -> str:
    low, high = _number(stats["q10"], kind, signed), _number(stats["q90"], kind, signed)
    if low == high:
        return f"{low} in most stories"
    unit = next((u for u in (" points", " months") if low.endswith(u) and high.endswith(u)), "")
    return f"{low.removesuffix(unit)} to {high}" if unit else f"{low} to {high}"


def _verdict(stats: dict[str, float], base_spread: float) -> str:
    """In how many stories a difference goes which way; "within chance" when they disagree."""
    n, higher, lower = int(stats["stories"]), int(stats["higher"]), int(stats["lower"])
    if higher == lower == 0:
        return f"the same in all {n} stories"
    if max(higher, lower) < CONSISTENT * n:
        ways = [f"{word} in {count}" for word, count in (("higher", higher), ("lower", lower),
                                                          ("the same", n - higher - lower)) if count]
        return f"within chance: of {n} stories, " + ", ".join(ways)
    way = "higher" if higher > lower else "lower"
    text = f"{way} in {max(higher, lower)} of {n} stories"
    if abs(stats["median"]) < base_spread / 2:  # consistent, but one story to the next differs more
        text += ", but smaller than the differences between stories"
    return text


def _spread(values: dict[str, Any], quantity: str) -> float:
    stats = values.get(quantity) or {}
    return float(stats.get("q90", 0.0)) - float(stats.get("q10", 0.0))


def _fill_one(name: str, preset: str, numbers: dict[str, Any]) -> str:
    """The words for one placeholder (already checked by `_placeholder_problem`); KeyError when stale."""
    own = numbers["presets"][preset]
    if name == "stories":
        return str(numbers["stories"])
    if name == "date":
        return str(numbers["date"])
    if name == "spotlight":
        return str(own["spotlight_name"])
    parts = name.split(".")
    field = parts[-1] if parts[-1] in ("range", "verdict") else ""
    parts = parts[:-1] if field else parts
    quantity, kind = parts[-1], QUANTITIES[parts[-1]].kind
    baseline = numbers["presets"]["baseline"]
    # A country's numbers in the baseline are those of this lesson's country, not the baseline lesson's.
    base = baseline["spotlights"][own["spotlight"]] if quantity.startswith("spot_") else baseline["values"]
    if parts[0] == "baseline":
        stats, base_values, signed = base[quantity], {}, False
    elif parts[0] == "diff":
        stats, base_values, signed = own["diff"][quantity], base, True
    elif parts[0] == "try":
        stats, base_values, signed = own["tries"][parts[1]][quantity], own["values"], True
    else:
        stats, base_values, signed = own["values"][quantity], {}, False
    if field == "range":
        return _range(stats, kind, signed)
    if field == "verdict":
        return _verdict(stats, _spread(base_values, quantity))
    return _number(stats["median"], kind, signed)


def _stale(text: str, preset: str, numbers: dict[str, Any]) -> str:
    """The first placeholder of `text` the numbers cannot fill ('' when all can)."""
    for match in _PLACEHOLDER.finditer(text):
        try:
            _fill_one(match.group(1), preset, numbers)
        except KeyError:
            return match.group(0)
    return ""


def fill(text: str, preset: str, numbers: dict[str, Any]) -> str:
    """`text` with its placeholders replaced by this preset's generated numbers."""
    return _PLACEHOLDER.sub(lambda m: _fill_one(m.group(1), preset, numbers), text)


# --- loading --------------------------------------------------------------------------------------


def _read_numbers(path: Path) -> dict[str, Any]:
    located = load_yaml_file(path)
    data = located.data
    if not isinstance(data, dict) or not isinstance(data.get("presets"), dict):
        raise InputError.single(located.file, "not a lesson numbers file: run scripts/lesson_numbers.py")
    return data


def load_lessons(path: Path | None = None, numbers_path: Path | None = None) -> dict[str, LessonInfo]:
    """Every lesson of the file, its numbers filled in from the numbers file beside it.

    Raises InputError (FILE:LINE:COLUMN) for an unknown preset, claim, field, lever or placeholder,
    and for a number the numbers file lacks (then it is stale: rerun scripts/lesson_numbers.py).
    """
    path = path or lessons_dir() / LESSONS_FILE
    located, lessons, lines = _read(path)
    numbers = _read_numbers(numbers_path or path.parent / NUMBERS_FILE)
    out, problems = {}, []
    for preset, entry in lessons.items():
        filled: dict[str, Any] = {}
        for key in (*TEXT_FIELDS, *LIST_FIELDS):
            items = [entry[key]] if key in TEXT_FIELDS else entry[key]
            texts = []
            for i, text in enumerate(items):
                try:
                    texts.append(" ".join(fill(text, preset, numbers).split()))
                except KeyError as missing:
                    where = ("lessons", preset, key) if key in TEXT_FIELDS else ("lessons", preset, key, i)
                    message = f"no generated number {missing} for this lesson: run scripts/lesson_numbers.py"
                    problems.append(_at_text(located, lines, where, _stale(text, preset, numbers), message))
            filled[key] = texts[0] if key in TEXT_FIELDS and texts else tuple(texts)
        if not problems:
            out[preset] = LessonInfo(preset=preset, claims=tuple(entry["claims"]), **filled)
    if problems:
        raise InputError(problems)
    return out


@cache
def _shipped() -> dict[str, LessonInfo]:
    return load_lessons()


def lesson_for(preset: str) -> LessonInfo | None:
    """The lesson of a built-in preset, or None for a preset without one (a class's own scenario)."""
    return _shipped().get(preset)


def claim_text(claim_id: str) -> str | None:
    """A claim's text and the document it comes from, for the page; None for an unknown id."""
    text = claims().get(claim_id)
    if text is None:
        return None
    document = documents().get(claim_id.split(".")[0], {})
    subject = document.get("subject")
    return f"{claim_id}: {text} (source: {subject})" if subject else f"{claim_id}: {text}"
