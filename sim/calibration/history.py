"""History matching: implausibility of a parameter set against the targets, and where each wave samples.

Implausibility of target t for a parameter set x (Vernon et al. 2010, Bayesian Analysis 5(4):619;
Andrianakis et al. 2015, PLoS Comput Biol 11(1):e1003968):

    I_t(x) = |mean_t(x) - z_t| / sqrt(var_obs_t + var_md_t + var_ens_t(x))

- mean_t(x): the target measured as `sim check` measures it (`sim.validation.measure`), averaged
  over the replicates (seeds) run at x;
- z_t: the target's `observed` value, or the middle of its accept band when it has none;
- var_obs_t: the accept band read as `band_sd` standard deviations either side of z_t, so
  sd_obs = (distance from z_t to the band's end on the side the model lies) / band_sd (the spec's
  `band_sd`; 2 reads the band as a 95% interval; the built-in spec uses 3, the cut-off, with no
  further discrepancy, because targets.yaml's bands already add the model-data gap). A one-sided band
  (a sign: "Chinese open models lead": accept [0, 1], observed 0.013) then constrains the side it
  names hard and the other side hardly at all, which is what such a target means;
- var_md_t = (discrepancy x sd_obs)^2: model discrepancy, what the model cannot reproduce anyway;
- var_ens_t(x): the variance of the target over the replicates at x (the model's own stochastic
  variability, which reality, one realisation, also carries).

A set is non-implausible when the largest (or, with `rule: second_max`, the second largest)
I_t over targets is at most the cut-off (3: Pukelsheim's three-sigma rule, valid for any unimodal
distribution). No emulator is used: every candidate is simulated, which is affordable at a few
hundred runs and keeps the result free of emulator error.

Sampling: wave 1 is a Latin hypercube over the priors' ranges; wave k > 1 is a Latin hypercube
inside the bounding box of wave k-1's non-implausible sets (clipped to the priors), so each wave
refines the space the previous one could not rule out. With fewer than two non-implausible sets
there is no box to refine and the calibration stops after that wave.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sim.validation import Check


def target_centre(check: Check) -> float:
    """z_t: the observed value, or the middle of the accept band for a target stated as a sign or an order."""
    low, high = check.accept
    return float(check.observed) if check.observed is not None else (low + high) / 2


def observation_sd(check: Check, model_mean: float, band_sd: float = 2.0) -> float:
    """sd_obs: the distance from z_t to the accept band's end on the side of the model's mean, over
    `band_sd` (2: the band read as about two standard deviations)."""
    low, high = check.accept
    centre = target_centre(check)
    reach = (high - centre) if model_mean >= centre else (centre - low)
    if reach <= 0:  # observed sits on the band's end: use the whole band's half-width
        reach = (high - low) / 2
    return max(reach, 1e-12) / band_sd


def implausibility(
    check: Check, values: Sequence[float] | np.ndarray, discrepancy: float, band_sd: float = 2.0
) -> float:
    """I_t for one target from its values in each replicate at one parameter set (inf if undefined)."""
    array = np.asarray(values, dtype=float)
    if array.size == 0 or not np.all(np.isfinite(array)):
        return float("inf")  # a target the run cannot measure (a zero base of a ratio) rules the set out
    mean = float(array.mean())
    sd_obs = observation_sd(check, mean, band_sd)
    var_ens = float(array.var(ddof=1)) if array.size > 1 else 0.0
    variance = sd_obs**2 * (1 + discrepancy**2) + var_ens
    return abs(mean - target_centre(check)) / float(np.sqrt(variance))


def combined(implausibilities: Sequence[float], rule: str) -> float:
    """The implausibility cut against the cut-off: the largest, or the second largest over targets."""
    ordered = sorted(implausibilities, reverse=True)
    if rule == "second_max" and len(ordered) > 1:
        return float(ordered[1])
    return float(ordered[0])


def latin_hypercube(lows: np.ndarray, highs: np.ndarray, samples: int, seed: int) -> np.ndarray:
    """`samples` points of a Latin hypercube in the box [lows, highs] (one row per point; scipy's qmc)."""
    from scipy.stats import qmc  # type: ignore[import-untyped]  # no stubs installed; a plain call

    unit = qmc.LatinHypercube(d=len(lows), seed=np.random.default_rng(seed)).random(samples)
    return np.asarray(qmc.scale(unit, lows, highs))


def refined_box(
    accepted: np.ndarray, lows: np.ndarray, highs: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    """The bounding box of the non-implausible points, clipped to the priors; None with fewer than two."""
    if len(accepted) < 2:
        return None
    low, high = accepted.min(axis=0), accepted.max(axis=0)
    # A dimension the accepted points do not spread over keeps a sliver around them (5% of the prior),
    # so the next wave still samples it.
    pad = np.where(high - low <= 0, 0.05 * (highs - lows), 0.0)
    return np.maximum(low - pad, lows), np.minimum(high + pad, highs)
