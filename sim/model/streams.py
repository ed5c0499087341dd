"""Random streams: one independent generator per purpose, for common random numbers.

Two scenarios run with the same seed draw the same numbers for the same purpose, whatever
else differs between them (Starsim's common random numbers): a ban changes which firms choose
what, not the draws that decide which firms adopt or re-evaluate. Every stream draws the same
amount every quarter, whether or not the draws are used.
"""

from __future__ import annotations

import hashlib

import numpy as np


def stream(seed: int, purpose: str) -> np.random.Generator:
    """A generator for `purpose`, independent of every other purpose's, fixed by `seed`."""
    key = int.from_bytes(hashlib.sha256(purpose.encode()).digest()[:8], "little")
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(key,)))


def replicate_seeds(seed: int, replicates: int) -> list[int]:
    """Seeds of replicates 0..n-1, spawned from the scenario seed; replicate r's seed does not
    depend on how many replicates are run."""
    children = np.random.SeedSequence(seed).spawn(replicates)
    return [int(child.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1)) for child in children]
