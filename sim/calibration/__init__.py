"""Calibration by history matching, and the calibrated parameter ensemble that runs carry.

`sim calibrate SPEC.yaml` (see docs/calibration_method.md, section "sim calibrate"):

- spec: the calibration spec file (priors with sources, targets file, waves, samples, cut-off);
- history: implausibility against the targets and the sampling of each wave (pure numpy);
- calibrate: the waves, each run as an explicit sweep (sim/experiments/: plan, executors, store),
  so runs are stored as they finish, resumed by run id, and run on local workers or Dask;
- ensemble: the ensemble file (members and provenance) and how a replicate draws its member
  (`--uncertainty ensemble` of `sim run`, `compare` and `sweep`).
"""
