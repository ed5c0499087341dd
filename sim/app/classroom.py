"""A preset scenario with the classroom's levers applied, as a Mesa model to step in Python.

The page itself does not keep a model per session: it computes each story whole and shares it
(sim/app/stories.py, which uses `build_prepared` from here). `ClassroomModel` is the same choices as
keywords, for notebooks and tests. The seed is fixed by the preset and the story number; story k is
replicate k of `sim run --replicates --uncertainty seeds` (same seeds).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from sim.app.levers import LeverSettings, lever_overrides
from sim.app.presets import Preset, list_presets, scenarios_dir
from sim.errors import InputError
from sim.model.model import GeopoliticsModel
from sim.model.streams import replicate_seeds
from sim.runner import release_model
from sim.scenario import Prepared, prepare

log = logging.getLogger(__name__)


def build_prepared(preset: Path, settings: LeverSettings) -> tuple[Prepared, list[str], str]:
    """The preset with the levers applied, the overrides used, and a notice if they could not be.

    A lever combination the scenario rejects falls back to the preset as written, with the reason,
    so the page always has a model to show.
    """
    plain = prepare(preset)
    try:
        overrides = lever_overrides(plain.scenario, settings)
        return (prepare(preset, overrides) if overrides else plain), overrides, ""
    except (InputError, ValueError) as error:
        reason = error.problems[0].message if isinstance(error, InputError) and error.problems else str(error)
        return plain, [], f"The levers could not be applied ({reason}); showing the preset as written."


class ClassroomModel(GeopoliticsModel):
    """`GeopoliticsModel` built from a preset name and lever positions, safe to step from the page.

    A failure inside a step stops the run with a message for the page instead of a traceback;
    `retire()` releases the model (Mesa 3.3.1 keeps every model alive otherwise) once no step
    is running on it.
    """

    def __init__(
        self,
        preset: str = "baseline",
        story: int = 0,
        export_strength: float = 1.0,
        export_reach: str = "as in the scenario",
        eu_privacy: str = "as in the scenario",
        partners: int = 0,
        open_source_push: float = 1.0,
        tension: float = 0.0,
    ) -> None:
        self.settings = LeverSettings(
            export_strength=float(export_strength),
            export_reach=str(export_reach),
            eu_privacy=str(eu_privacy),
            partners=int(partners),
            open_source_push=float(open_source_push),
            tension=float(tension),
        )
        self.preset = self._find_preset(preset)
        self.notice = ""
        self.error = ""
        if self.preset.name != preset:
            self.notice = f"The preset {preset!r} is not available; showing {self.preset.name!r}."
        prepared, self.overrides, lever_notice = build_prepared(self.preset.path, self.settings)
        self.notice = " ".join(t for t in (self.notice, lever_notice) if t)
        self.story = int(story)
        seed = replicate_seeds(prepared.scenario.seed, self.story + 1)[self.story]
        self._lock = threading.Lock()  # a step and `retire()` never overlap (play runs in a thread)
        self._retired = False
        super().__init__(prepared.scenario, prepared.world, seed=seed)

    @staticmethod
    def _find_preset(name: str) -> Preset:
        presets, _ = list_presets()
        if not presets:
            raise RuntimeError(f"no valid scenario in {scenarios_dir()}")
        return next((p for p in presets if p.name == name), presets[0])

    @property
    def total_steps(self) -> int:
        return self.end - self.start + 1

    @property
    def command(self) -> str:
        """The `sim run` command that reproduces this story."""
        from sim.app.stories import rerun_command

        return rerun_command(self.preset.name, self.preset.path, self.overrides, self.story)

    def step(self) -> None:
        with self._lock:
            if self._retired or self.error:
                self.running = False
                return
            try:
                super().step()
            except Exception as error:  # the page shows a message; the server log keeps the traceback
                log.exception("step failed in %s", self.preset.name)
                self.error = f"The simulation stopped at {self.date}: {type(error).__name__}: {error}"
                self.running = False

    def retire(self) -> None:
        """Stop and release the model once any step in progress has finished."""
        with self._lock:
            self._retired = True
            self.running = False
            release_model(self)
