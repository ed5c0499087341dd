"""A scenario and an experiment file as an EMA Workbench model, for EMA's samplers, evaluators and analysis.

    from ema_workbench import SequentialEvaluator
    from sim.ema import experiment_model

    model = experiment_model("scenarios/experiments/tier2-backfire.yaml")
    with SequentialEvaluator(model) as evaluator:
        experiments, outcomes = evaluator.perform_experiments(scenarios=20, policies=2)

The experiment file's uncertainties become EMA uncertainties and its levers EMA levers (a range as a
`RealParameter`, or an `IntegerParameter` when the scenario field holds whole numbers; choices as a
`CategoricalParameter`); its outcomes become `ScalarOutcome`s. The experiment's `design` is not
used: EMA's samplers choose the points. With `replicates` above 1 the model is a `ReplicatorModel`
whose replications carry the experiment's replicate seeds and whose outcomes are the mean over
replications; with one it is a `Model` with the seed as a constant. Every evaluation builds the base
scenario (after the experiment's `set:` and `overrides`) with the sampled values, runs it and reduces
its outcomes as `sim sweep` does, with the seed a sweep's run at those values would have (so the same
values give the same numbers as a sweep's run, when the sweep carries seeds only, not an ensemble).
The callable is picklable, so `MultiprocessingEvaluator` works too.

EMA Workbench is an optional extra: `pip install -e ".[ema]"` (`MissingExtraError` says so when absent).
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

from sim.errors import InputError, Problem
from sim.experiments.design import FactorSpec
from sim.experiments.schema import Outcome
from sim.world import World

INSTALL_HINT = 'EMA Workbench is not installed; install the extra with: pip install -e ".[ema]" (in a checkout)'


class MissingExtraError(RuntimeError):
    """EMA Workbench (the `ema` extra) is not installed."""


def require_ema() -> None:
    """Import EMA Workbench, or raise MissingExtraError saying how to install it."""
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "ipyparallel not installed": an evaluator we do not use
            import ema_workbench  # noqa: F401
    except ImportError:
        raise MissingExtraError(INSTALL_HINT) from None


class ScenarioFunction:
    """The model's callable: keyword arguments (factor values and `seed`) -> the experiment's outcomes."""

    def __init__(self, data: dict[str, Any], factors: Mapping[str, tuple[str, ...]], uncertainties: list[str],
                 world: World, outcomes: Mapping[str, Outcome]):
        self.data, self.factors, self.world, self.outcomes = data, dict(factors), world, dict(outcomes)
        self.uncertainties = uncertainties

    def __call__(self, seed: int, replicate: int = 0, **values: Any) -> dict[str, float]:
        """Run the base scenario with these factor values; return every outcome. `seed` is the
        replicate's seed: the run's own seed derives from it and the uncertainty values as in a sweep
        (`sim.experiments.plan.point_seed`), so points differ in their random draws and policies share them."""
        from pydantic import ValidationError

        from sim.experiments.outcomes import compute_outcomes
        from sim.experiments.plan import canonical, point_seed
        from sim.runner import run_replicate
        from sim.scenario import Scenario
        from sim.scenario.load import _set_path  # the machinery behind --set

        values = {name: _plain(value) for name, value in values.items() if name in self.factors}
        data = copy.deepcopy(self.data)
        for name, value in values.items():
            _set_path(data, self.factors[name], value, 0)
        try:
            scenario = Scenario.model_validate(data)
        except ValidationError as error:
            raise ValueError(f"values {values} do not give a valid scenario: {error}") from None
        run_seed = point_seed(int(seed), canonical([values.get(n) for n in self.uncertainties]))
        result = run_replicate(scenario, self.world, int(replicate), run_seed)
        return compute_outcomes(result.timeseries, self.outcomes)


def _plain(value: Any) -> Any:
    """numpy scalars from EMA's samplers as plain Python values (the scenario schema is strict)."""
    return value.item() if hasattr(value, "item") else value


def _model_name(name: str) -> str:
    # EMA model names must be alphanumeric.
    return re.sub(r"[^0-9A-Za-z]", "", name.title()) or "Experiment"


def _parameter(spec: FactorSpec, file: str) -> Any:
    from ema_workbench import CategoricalParameter, IntegerParameter, RealParameter

    if spec.choices is not None:
        return CategoricalParameter(spec.name, list(spec.choices))
    if spec.low is None or spec.high is None:
        raise InputError([Problem(file, 0, 0, ".".join(str(w) for w in spec.where),
                                  "EMA Workbench samples every factor: give it a range or choices")])
    if spec.integer:
        return IntegerParameter(spec.name, int(spec.low), int(spec.high))
    return RealParameter(spec.name, float(spec.low), float(spec.high))


def experiment_model(
    experiment: str | os.PathLike[str],
    overrides: Iterable[str] = (),
    *,
    replications: int | None = None,
    name: str | None = None,
) -> Any:
    """An `ema_workbench.Model` (or `ReplicatorModel`) for an experiment file's scenario, factors and outcomes.

    `overrides`: `--set PATH=VALUE` texts applied to the base scenario. `replications`: how many seeds
    each evaluation runs (default the experiment's `replicates`); outcomes are their mean. Bad input
    raises InputError located in the experiment file, as `sim sweep` does."""
    require_ema()
    import numpy as np
    from ema_workbench import Constant, Model, ReplicatorModel, ScalarOutcome

    from sim.experiments.plan import check_experiment

    checked = check_experiment(os.fspath(experiment), list(overrides))
    file = str(checked.loaded.path)
    count = replications if replications is not None else checked.loaded.experiment.replicates
    if count < 1:
        raise ValueError("replications must be at least 1")
    factors = {spec.name: spec.path for spec in (*checked.uncertainties, *checked.levers)}
    function = ScenarioFunction(checked.prepared.loaded.data, factors, [spec.name for spec in checked.uncertainties],
                                checked.prepared.world, checked.loaded.experiment.outcomes)
    label = _model_name(name or checked.loaded.experiment.name)
    seeds = checked.seeds(count)
    model: Any
    if count == 1:
        model = Model(label, function=function)
        model.constants = [Constant("seed", seeds[0]), Constant("replicate", 0)]
        model.outcomes = [ScalarOutcome(outcome) for outcome in checked.loaded.experiment.outcomes]
    else:
        model = ReplicatorModel(label, function=function)
        model.replications = [{"seed": seed, "replicate": r} for r, seed in enumerate(seeds)]
        model.outcomes = [ScalarOutcome(outcome, function=np.mean) for outcome in checked.loaded.experiment.outcomes]
    model.uncertainties = [_parameter(spec, file) for spec in checked.uncertainties]
    model.levers = [_parameter(spec, file) for spec in checked.levers]
    return model
