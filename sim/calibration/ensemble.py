"""The calibrated parameter ensemble: its file, and how each replicate of a run draws a member.

An ensemble file (written by `sim calibrate`; the shipped one is `scenarios/data/ensemble.yaml`)
lists members, each a set of values of behavioural parameters (dotted scenario paths), with the
provenance of the calibration that accepted them.

With `--uncertainty ensemble` replicate r runs with member `r mod N` (N members, in file order):
deterministic, so replicate r uses the same member in every scenario of a `compare` and at every
point of a sweep (paired, like its seed), a replicate's member does not depend on how many
replicates are run, and the members are used evenly. A member's value is applied on top of the
scenario **unless** the scenario chose that parameter itself: when `--set` (or a sweep's factor
or `set:`) names the path, or when the scenario's value differs both from the value the calibration's
base scenario had there (`base_values`) and from the best member's (`best_member`, which the
baseline's defaults are set to), the scenario's own value wins. So a scenario that
changes a calibrated parameter on purpose keeps its change, and the baseline gets the ensemble.
"""

from __future__ import annotations

import copy
import hashlib
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field, JsonValue, ValidationError

from sim.errors import InputError
from sim.fields import Slug, StrictModel
from sim.resources import data_dir
from sim.scenario import Prepared, Scenario
from sim.scenario.errors import problems_from, validate_located
from sim.userfiles import read_user_bytes
from sim.yamlio import load_yaml_file

ENSEMBLE_NAME = "ensemble.yaml"
UNCERTAINTY_KINDS = ("seeds", "ensemble")
Uncertainty = Literal["seeds", "ensemble"]


class Member(StrictModel):
    """One accepted parameter set."""

    id: str = Field(min_length=1, description="member id, like w2-s013 (wave 2, sample 13)")
    values: dict[str, float | int] = Field(min_length=1, description="dotted scenario path -> value")
    implausibility: float | None = Field(None, description="its implausibility (the one cut) when accepted")


class EnsembleFile(StrictModel):
    """A calibrated ensemble of parameter sets and where it comes from."""

    schema_version: Literal[1] = Field(description="version of this format; 1")
    name: Slug = Field(description="the calibration's name")
    description: str = ""
    scenario: str = Field(description="the base scenario it was calibrated on")
    base_values: dict[str, float | int] = Field(
        description="the base scenario's value at each calibrated path: a scenario whose value differs keeps its own"
    )
    best_member: str | None = Field(
        None, description="id of the member with the lowest implausibility (the values the baseline is set to)"
    )
    members: list[Member] = Field(min_length=1)
    provenance: dict[str, JsonValue] = Field(description="targets, priors, seeds, waves, acceptance, date, command")


@dataclass
class Ensemble:
    """A loaded ensemble file."""

    file: EnsembleFile
    path: Path
    sha256: str

    @property
    def members(self) -> list[Member]:
        return self.file.members

    @property
    def size(self) -> int:
        return len(self.file.members)

    def member_for(self, replicate: int) -> Member:
        """The member replicate r uses: r mod N (paired across scenarios and design points)."""
        return self.file.members[replicate % self.size]

    def describe(self) -> str:
        return f"{self.file.name} ({self.size} members, {self.path})"


def shipped_ensemble() -> Path | None:
    """The ensemble shipped with the package (`scenarios/data/ensemble.yaml`), if there is one."""
    path = data_dir() / ENSEMBLE_NAME
    return path if path.is_file() else None


def default_uncertainty() -> Uncertainty:
    """`ensemble` when a calibrated ensemble ships with the package, else `seeds`."""
    return "ensemble" if shipped_ensemble() is not None else "seeds"


def load_ensemble(path: str | os.PathLike[str] | None = None) -> Ensemble:
    """Read and validate an ensemble file (default the shipped one); InputError at its line if bad."""
    if path is None:
        path = shipped_ensemble()
        if path is None:
            raise InputError.single(
                "--uncertainty", "no calibrated ensemble ships with this version (scenarios/data/ensemble.yaml): "
                "use --uncertainty seeds, or give an ensemble file written by `sim calibrate` with --ensemble"
            )
    located = load_yaml_file(path)
    parsed = validate_located(located, EnsembleFile)
    raw = read_user_bytes(path)
    return Ensemble(parsed, Path(path), hashlib.sha256(raw).hexdigest())


def resolve(uncertainty: str | None, ensemble: str | os.PathLike[str] | Ensemble | None = None) -> Ensemble | None:
    """The ensemble a run draws from: None for `seeds`; `uncertainty=None` means the default."""
    kind = uncertainty or default_uncertainty()
    if kind not in UNCERTAINTY_KINDS:
        raise InputError.single("--uncertainty", f"{kind!r} is not one of {', '.join(UNCERTAINTY_KINDS)}")
    if kind == "seeds":
        return None
    return ensemble if isinstance(ensemble, Ensemble) else load_ensemble(ensemble)


def override_paths(overrides: Iterable[str]) -> set[str]:
    """The dotted paths `--set PATH=VALUE` texts name (they win over a member's values)."""
    return {text.partition("=")[0].strip() for text in overrides if "=" in text}


def _value_at(data: dict, path: str) -> object:
    current: object = data
    for part in path.split("."):
        if not isinstance(current, dict) or part not in current:
            return None  # left to the schema's default
        current = current[part]
    return current


def applied_values(ensemble: Ensemble, member: Member, scenario: Scenario, explicit: set[str]) -> dict[str, float]:
    """The member's values that apply to this scenario (the scenario's own choices win; module docstring)."""
    from sim.scenario.load import field_at

    applied = {}
    for path, value in member.values.items():
        if path in explicit:
            continue
        current, problem = field_at(scenario, tuple(path.split(".")))
        if problem is not None and path.startswith("rules."):
            continue  # a rule's parameter, in a scenario without that rule: nothing to apply it to
        if problem is None and not _calibration_value(ensemble, path, current):
            continue  # the scenario set this parameter itself
        applied[path] = value
    return applied


def _calibration_value(ensemble: Ensemble, path: str, current: object) -> bool:
    """Whether `current` is a value the calibration itself put at `path`: the base scenario's when it
    ran (`base_values`), or the best member's, which the baseline's defaults are set to afterwards
    (to the 4 significant digits they are written with). Anything else is the scenario's own choice."""
    if not isinstance(current, int | float) or isinstance(current, bool):
        return False
    known = [ensemble.file.base_values.get(path)]
    best = next((m for m in ensemble.members if m.id == ensemble.file.best_member), None)
    if best is not None:
        known.append(best.values.get(path))
    return any(v is not None and math.isclose(float(current), float(v), rel_tol=1e-3, abs_tol=1e-12) for v in known)


def member_scenario(data: dict, values: dict[str, float]) -> Scenario:
    """A scenario (as resolved data) with a member's values set at their paths, validated."""
    from sim.scenario.load import _set_path  # the machinery behind --set

    changed = copy.deepcopy(data)
    for path, value in values.items():
        _set_path(changed, tuple(path.split(".")), value, 0)
    try:
        return Scenario.model_validate(changed)
    except ValidationError as error:
        found = problems_from(error, Scenario, changed, lambda _p, _k: ("", 0, 0))
        reason = "; ".join(f"{p.path}: {p.message}" for p in found)
        raise InputError.single("--uncertainty", f"an ensemble member does not fit this scenario: {reason}") from None


def replicate_scenarios(
    prepared: Prepared, ensemble: Ensemble, replicates: int, overrides: Sequence[str] = ()
) -> tuple[list[Scenario], list[dict[str, object]]]:
    """Per replicate: the scenario with its member applied, and what the manifest lists about it."""
    explicit = override_paths(overrides)
    scenarios, used = [], []
    for r in range(replicates):
        member = ensemble.member_for(r)
        values = applied_values(ensemble, member, prepared.scenario, explicit)
        scenarios.append(member_scenario(prepared.loaded.data, values) if values else prepared.scenario)
        used.append({"replicate": r, "member": member.id, "applied": values})
    return scenarios, used


def band_note(ensemble: Ensemble | None, used: Sequence[dict[str, object]] = ()) -> str:
    """What the 10-90% bands of a run show, for the summary and the report; `used` (replicate ->
    member, as in the manifest) says how many members the run drew when fewer than all."""
    if ensemble is None:
        return "bands: seeds only"
    drawn = len({entry["member"] for entry in used})
    members = f"{drawn} of {ensemble.size}" if 0 < drawn < ensemble.size else f"{ensemble.size}"
    return f"bands: seeds and parameter ensemble ({members} members)"


def manifest_entry(ensemble: Ensemble | None, used: Sequence[dict[str, object]]) -> dict[str, object]:
    """The manifest's `uncertainty` entry: the kind, the ensemble file and hash, the members used."""
    if ensemble is None:
        return {"kind": "seeds"}
    return {"kind": "ensemble", "ensemble": ensemble.file.name, "ensemble_file": str(ensemble.path),
            "ensemble_sha256": ensemble.sha256, "members": ensemble.size, "replicates": list(used)}
