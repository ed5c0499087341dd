"""The world set-up kept between models (`GeopoliticsModel._setup_world`): a model of an equal world and equal
alignment parameters copies the last one's countries, labs, lines, access and structural alignment; it must
get exactly what it would have built, in arrays of its own, and a model of another world or other alignment
parameters must build its own."""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path

import numpy as np
import pytest

from sim.model import alignment, labs
from sim.model import model as model_module
from sim.model.model import GeopoliticsModel
from sim.scenario import prepare

BASELINE = Path(__file__).resolve().parents[1] / "scenarios" / "baseline.yaml"
SMALL = ["population.firms=300", "time.end=2023Q3"]


def _built(scenario, world, seed=1):
    """A model built with nothing kept from earlier models."""
    model_module._LAST_WORLD = None
    return GeopoliticsModel(scenario, world, seed=seed)


def _same(a, b):
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    if isinstance(a, (tuple, list)):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same, a, b))
    if dataclasses.is_dataclass(a):  # the layouts: every field the same contents
        return type(a) is type(b) and all(_same(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a))
    return a == b


def test_a_model_of_the_same_world_copies_what_it_would_have_built_into_arrays_of_its_own():
    prepared = prepare(BASELINE, SMALL)
    first = _built(prepared.scenario, prepared.world)
    kept = model_module._LAST_WORLD[1]
    assert {"line_unserved", "alignment_structural", "price_point_usd", "country_index"} <= set(kept)
    # a sweep task's world and scenario are unpickled copies: equal, not the same objects
    again = GeopoliticsModel(pickle.loads(pickle.dumps(prepared.scenario)), pickle.loads(pickle.dumps(prepared.world)),
                             seed=1)
    assert model_module._LAST_WORLD[1] is kept  # copied, not built again
    for name in kept:
        assert _same(getattr(again, name), getattr(first, name)), name
    # the phases' index structures come bound to the model's own arrays (not rebuilt, not the first model's)
    assert labs._layout(again) is again.labs_layout is not first.labs_layout
    assert alignment._layout(again) is again.alignment_layout is not first.alignment_layout
    assert again.alignment_layout.with_neutral is not first.alignment_layout.with_neutral  # its scratch block
    again.line_unserved[:] = 1.0  # a model's writes stay in its own arrays
    again.country_index.clear()
    third = GeopoliticsModel(prepared.scenario, prepared.world, seed=1)
    assert _same(third.line_unserved, first.line_unserved) and third.country_index == first.country_index
    first.run()
    third.run()
    assert list(third.rows) == list(first.rows)


def test_another_world_is_built_anew():
    prepared = prepare(BASELINE, SMALL)
    first = _built(prepared.scenario, prepared.world)
    world = prepared.world
    countries = list(world.countries)
    row = next(i for i, c in enumerate(countries) if c.iso3 == "FRA")
    countries[row] = countries[row].model_copy(update={"gdp_usd_bn": countries[row].gdp_usd_bn * 2.0,
                                                       "us_security_tie": 0.0})
    other = world.model_copy(update={"countries": tuple(countries)})
    moved = GeopoliticsModel(prepared.scenario, other, seed=1)
    assert moved.gdp[row] == 2.0 * first.gdp[row]
    assert moved.alignment_structural[row, 0] != first.alignment_structural[row, 0]
    fresh = _built(prepared.scenario, other)
    for name in model_module._LAST_WORLD[1]:
        assert _same(getattr(moved, name), getattr(fresh, name)), name


@pytest.mark.parametrize("override", ["parameters.alignment.security_weight=0.9",
                                      "parameters.alignment.eu_neutral=0.1"])
def test_other_alignment_parameters_are_built_anew(override):
    prepared = prepare(BASELINE, SMALL)
    first = _built(prepared.scenario, prepared.world)
    changed = prepare(BASELINE, [*SMALL, override])
    moved = GeopoliticsModel(changed.scenario, changed.world, seed=1)
    assert not np.array_equal(moved.alignment_structural, first.alignment_structural)
    fresh = _built(changed.scenario, changed.world)
    assert _same(moved.alignment_structural, fresh.alignment_structural)
    assert _same(moved.line_alignment, fresh.line_alignment)
