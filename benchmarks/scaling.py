"""How the cost of one run grows with firms, countries, model families and quarters.

Firms and quarters are scenario settings (`population.firms`, `time.end`). Countries and families
come from the world data, so larger worlds are made by copying the real rows under new codes
(a copy of France is another France; a copy of a family is another family of the same lab):
the per-country and per-family work grows as in a larger world, while the rules and the data
stay valid.
"""

from __future__ import annotations

import itertools
import string
import time
from dataclasses import dataclass
from pathlib import Path

from sim.model.model import GeopoliticsModel
from sim.runner import release_model
from sim.scenario import prepare
from sim.world import World

BASELINE = Path(__file__).resolve().parents[1] / "scenarios" / "baseline.yaml"


@dataclass
class Point:
    varies: str
    value: str
    firms: int
    countries: int
    families: int
    quarters: int
    seconds: float


def _codes(taken: set[str], aggregate: bool) -> itertools.chain[str] | filter[str]:
    letters = string.ascii_uppercase
    every = ("".join(code) for code in itertools.product(letters, repeat=3))
    return filter(lambda c: c not in taken and c.startswith("X") == aggregate, every)


def larger_world(world: World, country_copies: int, family_copies: int) -> World:
    """The world with every country present `country_copies` times and every family `family_copies` times."""
    taken = set(world.iso3s)
    codes = {aggregate: _codes(taken, aggregate) for aggregate in (False, True)}
    countries = list(world.countries)
    for k in range(1, country_copies):
        countries += [c.model_copy(update={"iso3": next(codes[c.is_aggregate]), "name": f"{c.name} (copy {k})"})
                      for c in world.countries]
    families = list(world.families)
    for k in range(1, family_copies):
        families += [f.model_copy(update={"id": f"{f.id}-copy{k}", "name": f"{f.name} (copy {k})"})
                     for f in world.families]
    return World(country_columns=world.country_columns, family_columns=world.family_columns,
                 countries=tuple(countries), labs=world.labs, families=tuple(families))


def _time(firms: int, end: str, world_copies: tuple[int, int], seed: int = 1) -> tuple[float, GeopoliticsModel]:
    prepared = prepare(BASELINE, [f"population.firms={firms}", f"time.end={end}"])
    world = larger_world(prepared.world, *world_copies)
    started = time.perf_counter()
    model = GeopoliticsModel(prepared.scenario, world, seed=seed)
    model.run()
    seconds = time.perf_counter() - started
    release_model(model)
    return seconds, model


def measure(quick: bool, repeats: int = 1) -> list[Point]:
    """Vary one of firms, countries, families, quarters at a time around a base point; the best
    of `repeats` timings of each point."""
    base_firms = 5_000 if quick else 50_000
    variations = [
        ("firms", [(f"{n:,}", n, "2030Q4", (1, 1)) for n in (base_firms // 4, base_firms, base_firms * 4)]),
        ("countries", [(f"x{k}", base_firms, "2030Q4", (k, 1)) for k in (1, 2, 4)]),
        ("families", [(f"x{k}", base_firms, "2030Q4", (1, k)) for k in (1, 2, 4)]),
        ("quarters", [(end, base_firms, end, (1, 1)) for end in ("2026Q4", "2030Q4", "2038Q4")]),
    ]
    points = []
    for varies, settings in variations:
        for label, firms, end, copies in settings:
            seconds, model = min((_time(firms, end, copies) for _ in range(repeats)), key=lambda t: t[0])
            points.append(Point(varies, label, firms, model.n_countries, model.n_families, model.steps, seconds))
    return points
