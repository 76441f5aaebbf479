"""Batch experiments: sweep specs, designs, replications with common random numbers,
resumable per-run parquet results, local or Dask execution, summaries and sensitivity.

The machinery is generic. It knows factors, designs, seeds, executors and tables of
``(indicator, period, value)``; it knows nothing about child protection. A model enters
through an *adapter* (see :mod:`abm.batch.adapter`): a small object that validates factor
names and outputs, and names a picklable top-level ``evaluate(point, seed, context)``.
The one adapter that knows this model is :mod:`abm.studies.adapter`;
:mod:`abm.batch.testfunctions` routes analytic test functions (Ishigami, Sobol' G)
through the same machinery.

    spec.py         read and validate a sweep spec (TOML)            -> Spec
    design.py       full factorial, Latin hypercube, Sobol', Morris  -> Design
    seeds.py        replication seeds from one root (CRN)
    executors.py    serial / local processes / Dask, all as concurrent.futures.Executor
    store.py        results folder: manifest, lock, atomic per-run parquet files
    runner.py       the resumable sweep loop with a progress bar
    summary.py      tidy table, replicate bands, paired differences (CRN)
    sensitivity.py  Morris and Sobol' indices with SALib, table and plot
    cli.py          ``cpabm sweep``
    bench.py        ``python -m benchmarks.batch``: speed-up and overhead benchmarks

Nothing heavy is imported here.
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
