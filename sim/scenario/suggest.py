""""Did you mean" that knows the domain: countries by code or name, model families and labs by name.

`GER` is the IOC code of Germany, not a typo of Peru's `PER`; `China` and `United States` are names,
not codes. Each hint first looks the word up in an alias table built from the world data (codes,
names, the members listed in an aggregate's name), ISO 3166-1 (alpha-2, alpha-3 and English names, from
the `iso3166` package) and the common codes and names of `sim.scenario.country_aliases`; only then
does it fall back to spelling (`ITX` -> `ITA`). The answer is always an id the world data has.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable
from functools import cache
from typing import TYPE_CHECKING

import iso3166

from sim.blocs import BLOCS
from sim.errors import did_you_mean
from sim.scenario.country_aliases import COMMON_NAMES, ENDONYMS, IOC_CODES, OTHER_CODES

if TYPE_CHECKING:
    from sim.world import World

_CODE_IN_NAME = re.compile(r"\b[A-Z]{3}\b")


def normal(text: str) -> str:
    """How names are compared: no accents, no case, words separated by one space ("Türkiye" -> "turkiye")."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    words = re.sub(r"[^0-9a-z]+", " ", plain.casefold()).split()
    if words[:1] == ["the"]:
        words = words[1:]
    return " ".join(words)


@cache
def _iso_aliases() -> dict[str, str]:
    """Normalised code or name -> ISO alpha-3, from ISO 3166-1 and the common codes and names.

    A short form shared by several countries ("Korea" before the comma of two ISO names) is left out.
    """
    table: dict[str, str] = {}
    shared: set[str] = set()
    for country in iso3166.countries:
        for key in (country.alpha3, country.alpha2, country.name, country.apolitical_name):
            table[normal(key)] = country.alpha3
        for name in {country.name, country.apolitical_name}:
            if ", " in name:
                short = normal(name.split(", ")[0])
                if table.get(short, country.alpha3) != country.alpha3:
                    shared.add(short)
                table.setdefault(short, country.alpha3)
    for short in shared:
        del table[short]
    iso3 = {c.alpha3 for c in iso3166.countries}
    for code, target in {**IOC_CODES, **OTHER_CODES}.items():
        if code not in iso3:  # an ISO code means its own country, whatever the IOC says
            table[normal(code)] = target
    table.update(COMMON_NAMES)
    table.update(ENDONYMS)
    return table


@cache
def _builtin_world() -> World:
    from sim.world import load_world

    return load_world()


def _world_countries(world: World) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """(code -> name, normalised name -> code, member ISO3 -> aggregate code) of the world data."""
    names = {c.iso3: c.name for c in world.countries}
    by_name = {normal(c.name): c.iso3 for c in world.countries if not c.is_aggregate}
    members: dict[str, str] = {}
    for country in world.countries:
        if country.is_aggregate:
            for code in _CODE_IN_NAME.findall(country.name):
                members.setdefault(code, country.iso3)
    return names, by_name, members


def country_hint(value: object, world: World | None = None) -> str:
    """` (did you mean 'DEU'?)` for a country written as a non-ISO code, a name or a typo; '' if none.

    `world` defaults to the built-in world data; the suggestion is always one of its codes.
    """
    if not isinstance(value, str) or not value.strip():
        return ""
    world = world or _builtin_world()
    names, by_name, members = _world_countries(world)
    key, code = normal(value), value.strip().upper()
    target = code if code in names else by_name.get(key) or _iso_aliases().get(key)
    if code in BLOCS and code not in names:
        bloc = f"{code} is a bloc: list it under blocs, like `blocs: [{code}]`"
        return f" (did you mean '{target}', {names[target]}? {bloc})" if target in names else f" ({bloc})"
    if target in names:
        return "" if target == value else f" (did you mean '{target}', {names[target]}?)"
    if target in members:
        aggregate = members[target]
        group = names[aggregate].split(" (")[0]
        return f" (did you mean '{aggregate}'? {target} is counted in {aggregate}, {group})"
    near = did_you_mean(value, names)
    if near:
        return near
    misspelt = difflib.get_close_matches(key, list(by_name), n=1, cutoff=0.75)  # a misspelt name: "Germny"
    if misspelt:
        found = by_name[misspelt[0]]
        return f" (did you mean '{found}', {names[found]}?)"
    return ""


def _hint_from(value: object, aliases: dict[str, str], ids: Iterable[str]) -> str:
    if not isinstance(value, str) or not value.strip():
        return ""
    ids = list(ids)
    key = normal(value)
    target = aliases.get(key) or aliases.get(key.replace(" ", ""))
    if target is None:
        # A version or product suffix: "llama-3.1", "gpt-4o", "deepseek-r1".
        head = re.match(r"[a-z]+", key.replace(" ", ""))
        target = next((i for i in ids if head and head.group() == i), None)
    if target is not None and target != value:
        return f" (did you mean '{target}'?)"
    return did_you_mean(value, ids)


def family_hint(value: object, world: World | None = None) -> str:
    """` (did you mean 'llama'?)` for a family written by name, version, or its lab's id or name."""
    world = world or _builtin_world()
    aliases: dict[str, str] = {}
    for lab in world.labs:
        own = [f.id for f in world.families if f.lab == lab.id]
        if len(own) == 1:  # a lab with one family stands for it
            aliases[normal(lab.id)] = aliases[normal(lab.name)] = own[0]
    for family in world.families:
        aliases[normal(family.name)] = family.id
        aliases[normal(family.name.split(" (")[0])] = family.id
        aliases[normal(family.id)] = family.id
    return _hint_from(value, aliases, world.family_ids)


def lab_hint(value: object, world: World | None = None) -> str:
    """` (did you mean 'openai'?)` for a lab written by name or by one of its families."""
    world = world or _builtin_world()
    aliases: dict[str, str] = {}
    for family in world.families:
        aliases[normal(family.id)] = aliases[normal(family.name.split(" (")[0])] = family.lab
    for lab in world.labs:
        aliases[normal(lab.name)] = lab.id
        aliases[normal(lab.name.split(" (")[0])] = lab.id
        aliases[normal(lab.id)] = lab.id
    return _hint_from(value, aliases, world.lab_ids)


def reference_hint(what: str, value: object, world: World | None = None) -> str:
    """The hint for an unknown `what` ("country", "family" or "lab")."""
    hints = {"country": country_hint, "family": family_hint, "lab": lab_hint}
    return hints[what](value, world)
