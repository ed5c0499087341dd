"""The policy state of one quarter: what the active rules say, as arrays over countries and release
lines (a family's open weights and its closed API are separate lines, see `labs`).

The rules phase resets it and lets every active rule write its effect, so an effect never
outlives its rule's window.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class PolicyState:
    n_countries: int
    n_lines: int
    n_labs: int
    # Share of chip imports a country can still make (export controls, D4.3, D4.6).
    chip_access: np.ndarray = field(init=False)
    # Share of a country's firms that cannot use a line (model-weight or API-access controls):
    # a firm is blocked when its fixed compliance draw falls below this share.
    blocked_share: np.ndarray = field(init=False)
    # Bans in force (D4.8): for every user in the country, or for government use only.
    banned_all: np.ndarray = field(init=False)
    banned_government: np.ndarray = field(init=False)
    # Multipliers on the price of closed lines (programme co-funding, D1.2) and extra utility
    # (localisation, alliance trust) per country and line.
    price_factor: np.ndarray = field(init=False)
    utility_bonus: np.ndarray = field(init=False)
    government_bonus: np.ndarray = field(init=False)
    extra_risk: np.ndarray = field(init=False)
    # Per-quarter additions to readiness and compute (capacity building, data centres, D1.3, D1.6).
    readiness_boost: np.ndarray = field(init=False)
    compute_boost: np.ndarray = field(init=False)
    # Support to open release per lab, in log-odds (state-backed open source, D4.3).
    open_support: np.ndarray = field(init=False)
    # Openness a lab's next releases are held to (release_policy rules): 1 open, 0 closed, -1 the lab's
    # own choice (D4.4, D4.6).
    release_openness: np.ndarray = field(init=False)
    # Multiplier on lab capability growth (shared compute in alliances, D0.4).
    growth_factor: np.ndarray = field(init=False)
    # Country x (US, CN, EU), see `alignment`: summed strength of the controls each bloc imposes on the
    # country (pushes its alignment with the issuer down), and the quarterly pull towards a bloc
    # (programmes, alliances: a share of the gap to 1).
    alignment_push: np.ndarray = field(init=False)
    alignment_pull: np.ndarray = field(init=False)
    # Change of each country's privacy strictness (regulation, D0.5), kept within 0..1 when used.
    privacy_shift: np.ndarray = field(init=False)
    tension: float = 0.0
    coauthorship_factor: float = 1.0
    spillover_factor: float = 1.0
    # Collaboration rules replace the parameters' co-authorship base share and tension sensitivity.
    coauthorship_base: float | None = None
    coauthorship_sensitivity: float | None = None

    def __post_init__(self) -> None:
        self.reset(0.0)

    def reset(self, tension: float) -> None:
        """Every array and scalar back to "no rule acts" (new arrays: last quarter's are left as they were)."""
        c, f, labs = self.n_countries, self.n_lines, self.n_labs
        self.chip_access = np.ones(c)
        self.blocked_share = np.zeros((c, f))
        self.banned_all = np.zeros((c, f), dtype=bool)
        self.banned_government = np.zeros((c, f), dtype=bool)
        self.price_factor = np.ones((c, f))
        self.utility_bonus = np.zeros((c, f))
        self.government_bonus = np.zeros((c, f))
        self.extra_risk = np.zeros((c, f))
        self.readiness_boost = np.zeros(c)
        self.compute_boost = np.zeros(c)
        self.open_support = np.zeros(labs)
        self.growth_factor = np.ones(labs)
        self.release_openness = np.full(labs, -1, dtype=np.int8)
        self.privacy_shift = np.zeros(c)
        self.alignment_push = np.zeros((c, 3))
        self.alignment_pull = np.zeros((c, 3))
        self.reset_scalars(tension)

    def reset_scalars(self, tension: float) -> None:
        """The scalars only (tension, spillover, co-authorship) back to "no rule acts"."""
        self.tension = tension
        self.coauthorship_factor = 1.0
        self.spillover_factor = 1.0
        self.coauthorship_base = None
        self.coauthorship_sensitivity = None

    def arrays(self) -> tuple[np.ndarray, ...]:
        """Copies of the arrays (in `ARRAYS` order), for `restore_arrays`."""
        return tuple(getattr(self, name).copy() for name in ARRAYS)

    def restore_arrays(self, saved: tuple[np.ndarray, ...]) -> None:
        """The arrays as `arrays` saved them, as new copies (whoever holds last quarter's keeps them;
        a write into this quarter's, such as an endogenous ban's, does not reach the saved ones)."""
        for name, values in zip(ARRAYS, saved, strict=True):
            setattr(self, name, values.copy())


# The policy state's arrays, in the order `PolicyState.arrays` saves them (every field but the scalars).
ARRAYS: tuple[str, ...] = (
    "chip_access",
    "blocked_share",
    "banned_all",
    "banned_government",
    "price_factor",
    "utility_bonus",
    "government_bonus",
    "extra_risk",
    "readiness_boost",
    "compute_boost",
    "open_support",
    "growth_factor",
    "release_openness",
    "privacy_shift",
    "alignment_push",
    "alignment_pull",
)
