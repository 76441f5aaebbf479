"""ABC-SMC calibration of a stochastic simulator, through the batch machinery's adapters.

Population Monte Carlo ABC (Beaumont et al. 2009; Toni et al. 2009), model-agnostic: a
model enters through an :class:`abm.batch.adapter.Adapter`, exactly as in a sweep. The
method, its choices and its limits are documented in ``docs/calibration_method.md``.

* generation 0 draws ``particles`` candidates from the prior and accepts all of them;
* generation t >= 1 has tolerance epsilon_t = the ``quantile`` (alpha) of generation t-1's
  distances; a candidate is an ancestor drawn by weight and moved by a Gaussian kernel with
  covariance 2x the weighted particle covariance (``kernel = "multivariate"``) or its
  diagonal (``"componentwise"``), in the *transformed* space (log for ``loguniform``
  priors); a proposal outside the prior (or refused by the adapter's ``check_point``) is
  redrawn without simulating; candidates are simulated until ``particles`` have distance
  <= epsilon_t; weights are prior / sum_j w_j K(theta | theta_j); the effective sample size
  1 / sum w^2 is reported for every generation;
* each candidate runs ``replicates`` simulations with their own seeds; the summary is the
  replicate **median** of each target statistic; the distance is
  d = sqrt(sum_i w_i z_i^2 / sum_i w_i), z_i = (s_i - value_i) / ((hi_i - lo_i) / 2);
* it stops after ``generations``, or, once ``min_generations`` have run, when a
  generation's acceptance rate falls below ``min_acceptance``, when epsilon stops shrinking
  (relative decrease below ``min_epsilon_decrease``), when epsilon reaches ``min_epsilon``,
  or when a generation cannot finish within ``max_simulations_per_generation`` (the
  previous one is the result);
* every run records its cost (simulations, their wall and CPU seconds) in ``history.csv``
  and ``cost.json``.

The modules, by concern (every public name is importable from here):

    spec.py     the calibration spec: keys, validation, run identity  -> CalibrationSpec
    targets.py  targets, their statistics in a simulation's rows, the distance
    priors.py   priors in the transformed space, the perturbation kernel, importance weights
    smc.py      the algorithm: proposals, simulations, acceptance, generations; calibrate()
    store.py    the resumable results folder: manifest, simulations on disk, refusals
    report.py   particle tables, posterior summary, calibrated.toml, posterior.md, plot
    posterior.py  a finished folder read back: calibrated values, widths, correlations, mode, particles
    topup.py    a finished run's final generation continued to an ESS (after replay checks)
    emulate.py  an emulator of a run's stored simulations, and a search of it (the module
                ``abm.batch.abc.emulate``)
"""

from __future__ import annotations

from abm.batch.abc import emulate
from abm.batch.abc.posterior import (
    SUMMARY,
    Posterior,
    closest,
    constrained_directions,
    correlations,
    load_posterior,
    mode,
    movement,
    particle,
    priors_from_identity,
    summarise,
)
from abm.batch.abc.priors import (
    DISTS,
    KERNELS,
    Prior,
    importance_weights,
    kernel_cov,
    truncated_log_mass,
    truncated_moves,
    weighted_quantile,
)
from abm.batch.abc.report import (
    IDENTIFIED,
    WEAK,
    cost_summary,
    identifiability,
    population_frame,
    posterior_table,
    write_generation,
    write_outputs,
)
from abm.batch.abc.smc import (
    FLUSH_SECONDS,
    CalibrationResult,
    CalibrationRunError,
    Population,
    calibrate,
    run_one,
    seed_for,
    sim_key,
)
from abm.batch.abc.spec import (
    BUDGET_KEYS,
    CALIBRATION_KEYS,
    COLUMNS,
    DEFAULT_ADAPTER,
    DEFAULTS,
    ENGINE_MODULES,
    FORMAT,
    MAX_SEED,
    PRIOR_KEYS,
    SECTIONS,
    CalibrationSpec,
    engine_sha256,
    load_calibration_spec,
)
from abm.batch.abc.status import (
    Candidates,
    Status,
    candidates,
    folder_tool_main,
    format_status,
    read_status,
    replicate_median,
)
from abm.batch.abc.store import (
    GENS,
    LOCK,
    LOG,
    MANIFEST,
    OURS,
    OUTPUTS,
    SIMS,
    AbcStore,
    build_manifest,
    prepare,
    session_walls,
)
from abm.batch.abc.targets import (
    TARGET_KEYS,
    Target,
    check_targets,
    default_targets,
    distance,
    target_stats,
)

__all__ = [
    "emulate",
    "Candidates", "candidates", "folder_tool_main", "session_walls",
    "priors_from_identity", "replicate_median",
    "truncated_log_mass", "truncated_moves",
    "BUDGET_KEYS", "CALIBRATION_KEYS", "COLUMNS", "DEFAULTS", "DEFAULT_ADAPTER", "DISTS",
    "ENGINE_MODULES", "FLUSH_SECONDS", "KERNELS", "cost_summary", "SUMMARY", "Posterior",
    "closest", "constrained_directions", "correlations", "mode", "movement", "particle", "load_posterior", "summarise", "FORMAT", "GENS", "IDENTIFIED", "LOCK", "LOG",
    "MANIFEST", "MAX_SEED", "OURS", "OUTPUTS", "PRIOR_KEYS", "SECTIONS", "SIMS", "TARGET_KEYS",
    "WEAK", "AbcStore", "CalibrationResult", "CalibrationRunError", "CalibrationSpec",
    "Population", "Prior", "Target", "build_manifest", "calibrate", "check_targets",
    "default_targets", "distance", "engine_sha256", "identifiability", "importance_weights",
    "kernel_cov", "load_calibration_spec", "population_frame", "posterior_table", "prepare",
    "run_one", "seed_for", "sim_key", "target_stats", "weighted_quantile", "write_generation",
    "write_outputs", "Status", "read_status", "format_status",
]
