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


_MASK = (1 << 64) - 1
_GAMMA = 0x9E3779B97F4A7C15  # splitmix64's increment (2^64 / golden ratio)
_MIX1, _MIX2 = 0xBF58476D1CE4E5B9, 0x94D049BB133111EB


def _mix(x: int) -> int:
    """splitmix64's finaliser on one Python int (64-bit wrap-around)."""
    x = ((x ^ (x >> 30)) * _MIX1) & _MASK
    x = ((x ^ (x >> 27)) * _MIX2) & _MASK
    return x ^ (x >> 31)


# numpy scalars made once: np.uint64(k) on every call cost as much as the shifts of a small array
_S12, _S27, _S30, _S31 = (np.uint64(k) for k in (12, 27, 30, 31))
_U_GAMMA, _U_MIX1, _U_MIX2 = np.uint64(_GAMMA), np.uint64(_MIX1), np.uint64(_MIX2)
_ONE_EXPONENT = np.uint64(0x3FF0000000000000)  # exponent of 1.0: the double 1 + k / 2^52
_STEPS: dict[int, np.ndarray] = {}  # width -> (1..width) x gamma, the splitmix64 steps of a row


def _mix_array(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, in place on a uint64 array (numpy arrays wrap around silently)."""
    shifted = np.right_shift(x, _S30)  # one scratch array for the three shifts
    x ^= shifted
    x *= _U_MIX1
    x ^= np.right_shift(x, _S27, out=shifted)
    x *= _U_MIX2
    x ^= np.right_shift(x, _S31, out=shifted)
    return x


def stream_key(seed: int, purpose: str) -> int:
    """A 64-bit key for `purpose`'s counter-based draws (`counter_uniforms`), fixed by `seed` and
    independent of every other purpose's, derived like `stream`'s generator."""
    key = int.from_bytes(hashlib.sha256(purpose.encode()).digest()[:8], "little")
    return int(np.random.SeedSequence(seed, spawn_key=(key,)).generate_state(1, dtype=np.uint64)[0])


def counter_uniforms(key: int, counters: tuple[int, ...], ids: np.ndarray, width: int) -> np.ndarray:
    """`len(ids)` x `width` uniforms in (0, 1); value [i, j] depends only on (key, counters, ids[i], j).

    Why not a generator: the firms' taste noise must be common random numbers, so a firm's noise
    for a line in a quarter may not depend on which other firms choose (policy changes the choosers)
    nor on anything a scenario changes. A stream can only promise that by drawing a whole firms x
    lines block every quarter, though only a few percent of the firms choose: at 500,000 firms and
    22 lines that was most of the firms phase. A counter-based draw (Salmon et al. 2011's idea)
    costs only the rows asked for. Here it is splitmix64 (Steele, Lea & Flood 2014): the
    (key, counters) pair and each id are mixed into a per-row seed, and the row's `width` values are
    the splitmix64 sequence from that seed. The top 52 bits become the mantissa of a double in
    [1, 2) (a bit operation: converting uint64 to float costs more than all the mixing), giving
    (k + 0.5) / 2^52, never 0 or 1.
    """
    seed = key & _MASK
    for counter in counters:
        seed = _mix((seed ^ _mix((counter + _GAMMA) & _MASK)) & _MASK)
    rows = np.multiply(np.asarray(ids, dtype=np.int64), _U_GAMMA, dtype=np.uint64, casting="unsafe")
    rows += np.uint64(seed)
    _mix_array(rows)
    steps = _STEPS.get(width)
    if steps is None:
        steps = _STEPS[width] = np.arange(1, width + 1, dtype=np.uint64) * _U_GAMMA
    x = np.add.outer(rows, steps)
    _mix_array(x)
    x >>= _S12
    x |= _ONE_EXPONENT
    uniforms = x.view(np.float64)
    uniforms -= 1.0 - 2.0**-53
    return uniforms
