"""Batch experiments: sweep specs, designs, replications with common random numbers,
resumable per-run parquet results, local or Dask execution, summaries and sensitivity, and
ABC-SMC calibration.

The machinery is generic. It knows factors, designs, seeds, executors and tables of
``(indicator, period, value)``; it knows nothing about child protection and imports nothing
of the model. A model enters through an *adapter* (see :mod:`abm.batch.adapter`): a small
object that validates factor names and outputs, and names a picklable top-level
``evaluate(point, seed, context)``. The adapter of this model is :mod:`abm.studies.adapter`;
:mod:`abm.batch.testfunctions` holds known-answer models (Ishigami, Sobol' G, a Gaussian
toy for calibration) that check the machinery.

    spec.py          read (TOML) or build (in memory) and validate a sweep spec  -> Spec
    factors.py       factors and their distributions
    design.py        full factorial, Latin hypercube, Sobol', Morris, variants  -> Design
    seeds.py         replication seeds from one root (CRN)
    executors.py     serial / local processes / Dask, all as concurrent.futures.Executor
    store.py         results folder: manifest, lock, atomic per-run parquet files
    runner.py        the resumable sweep loop with a progress bar
    summary.py       tidy table, replicate bands, paired differences (CRN)
    sensitivity.py   Morris and Sobol' indices with SALib, table and plot
    abc/             ABC-SMC calibration (its modules: abc/__init__.py)
    testfunctions.py known-answer models as adapters

The command lines are :mod:`abm.cli.sweep` and :mod:`abm.cli.calibrate`. Nothing heavy is
imported here.
"""

from __future__ import annotations

__all__ = ["load_spec", "run_sweep", "summarise"]


def __getattr__(name):
    if name == "load_spec":
        from abm.batch.spec import load_spec
        return load_spec
    if name == "run_sweep":
        from abm.batch.runner import run_sweep
        return run_sweep
    if name == "summarise":
        from abm.batch.summary import summarise
        return summarise
    raise AttributeError(name)
