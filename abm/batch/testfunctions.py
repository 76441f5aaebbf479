"""Known-answer models for checking the batch machinery, as adapters (like
``SALib.test_functions``).

They go through exactly the machinery a model uses (spec, design, seeds, executor, per-run
files, summary, SALib; the ABC-SMC engine), so the machinery can be checked against known
answers.

Sensitivity (sweeps):

* ``abm.batch.testfunctions:Ishigami`` -- f = sin x1 + a sin^2 x2 + b x3^4 sin x1 on
  [-pi, pi]^3. For a = 7, b = 0.1: S1 = (0.3139, 0.4424, 0), ST = (0.5576, 0.4424, 0.2437).
* ``abm.batch.testfunctions:SobolG`` -- g = prod (|4 x_i - 2| + a_i) / (1 + a_i) on [0, 1]^k;
  smaller a_i means a more important input (Morris ranks them in that order).

``[model]`` keys: ``a``, ``b`` (Ishigami constants) or ``a`` (the G function's list);
``noise_sd`` adds N(0, noise_sd^2) noise drawn from the run's seed (so replications differ
and common random numbers matter); ``delay`` sleeps that many seconds per run (a stand-in
for a slow model in tests and benchmarks); ``fail_above`` makes a run raise when x1 exceeds
it (to test failure handling).

Calibration (ABC-SMC):

* ``abm.batch.testfunctions:Gaussian`` -- a stochastic simulator with known ABC posteriors.
  Factors (all optional; unset ones take the default in brackets):

  * ``mu`` in [-10, 10] (0): output ``y = mu + sigma * e1``;
  * ``rate`` in [1e-4, 1e4] (1): output ``log_rate = ln(rate) + sigma * e2`` (for
    log-uniform priors);
  * ``count``, a whole number in [0, 50] (0): output ``count_y = count + sigma * e3``;
  * ``nuisance`` in [0, 1] (0.5): changes **no** output, so it is unidentifiable and its
    posterior is its prior.

  ``e1, e2, e3`` are independent standard normal draws from the run's seed. With a flat
  prior on ``mu``, target ``y`` = v with band half-width h, R replicates summarised by their
  median and tolerance epsilon, the ABC posterior of ``mu`` is exactly the law of
  ``v - sigma * M_R + U``, M_R the median of R standard normals and U uniform on
  [-epsilon h, epsilon h]: mean v, variance sigma^2 var(M_R) + (epsilon h)^2 / 3.

  ``[model]`` keys: ``sigma`` (noise sd, default 1), ``delay`` (seconds of sleep per run;
  not part of the run identity), ``fail_above`` (raise when mu exceeds it), ``omit`` (a list
  of outputs to leave out of the rows, to test the engine's error for a missing target).
* ``abm.batch.testfunctions:GaussianND`` -- up to 20 parameters ``x1..x20`` in [0, 1], each
  with its own output ``y_i = x_i + sigma * e_i``: a target on y_i identifies x_i, the
  others are unidentified (how the engine behaves as the number of parameters grows).
"""

from __future__ import annotations

import math
import time
from pathlib import Path

from abm.batch.adapter import Adapter, FactorInfo, sha256_file, suggest
from abm.core.errors import ConfigError

ISHIGAMI_S1 = {"x1": 0.3139, "x2": 0.4424, "x3": 0.0}
ISHIGAMI_ST = {"x1": 0.5576, "x2": 0.4424, "x3": 0.2437}


def _finish(y: float, seed: int, context: dict, x1: float = 0.0):
    if context.get("fail_above") is not None and x1 > context["fail_above"]:
        raise ValueError(f"test function asked to fail: x1 = {x1} > {context['fail_above']}")
    if context.get("noise_sd"):
        import numpy as np
        y += context["noise_sd"] * float(np.random.default_rng(seed).standard_normal())
    if context.get("delay"):
        time.sleep(context["delay"])
    return [("y", "all", float(y))]


def ishigami(point: dict, seed: int, context: dict):
    x1, x2, x3 = point["x1"], point["x2"], point["x3"]
    a, b = context["a"], context["b"]
    y = math.sin(x1) + a * math.sin(x2) ** 2 + b * x3**4 * math.sin(x1)
    return _finish(y, seed, context, x1)


def sobol_g(point: dict, seed: int, context: dict):
    y = 1.0
    for i, a in enumerate(context["a"]):
        y *= (abs(4 * point[f"x{i + 1}"] - 2) + a) / (1 + a)
    return _finish(y, seed, context, point["x1"])


def sobol_g_indices(a) -> dict[str, float]:
    """Analytic first-order Sobol' indices of the G function."""
    v = [1 / (3 * (1 + ai) ** 2) for ai in a]
    total = math.prod(1 + vi for vi in v) - 1
    return {f"x{i + 1}": vi / total for i, vi in enumerate(v)}


class _TestFunction(Adapter):
    packages = ("numpy",)

    def __init__(self, table: dict, spec_dir: Path, where: str):
        super().__init__(table, spec_dir, where)
        for k in ("noise_sd", "delay"):
            v = table.get(k, 0.0)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
                raise ConfigError(f"{where}: model.{k} = {v!r} must be a number >= 0")
        v = table.get("fail_above", 0.0)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ConfigError(f"{where}: model.fail_above = {v!r} must be a number")
        self.names: list[str] = []
        self.lo, self.hi = 0.0, 1.0

    def factor_names(self):
        return self.names

    def factor(self, name: str, where: str) -> FactorInfo:
        if name not in self.names:
            raise ConfigError(f"{where}: unknown factor '{name}'{suggest(name, self.names)}; "
                              f"factors: {', '.join(self.names)}")
        return FactorInfo("float", lo=self.lo, hi=self.hi)

    def outputs(self, period: str, where: str) -> dict[str, str]:
        return {"y": "1"}

    def context(self, fixed, factors, indicators, period) -> dict:
        missing = [n for n in self.names if n not in fixed and n not in {f.name for f in factors}]
        if missing:
            raise ConfigError(f"{self.where}: factors {', '.join(missing)} are neither varied "
                              f"nor in [fixed]")
        fail = self.table.get("fail_above")
        return {"noise_sd": float(self.table.get("noise_sd", 0.0)),
                "delay": float(self.table.get("delay", 0.0)),
                "fail_above": None if fail is None else float(fail), **self._constants(),
                "fixed": dict(fixed)}

    def _constants(self) -> dict:
        return {}

    def config(self) -> dict:
        return {k: v for k, v in self.table.items() if k != "delay"}  # delay: timing only

    def fingerprint(self, context: dict) -> dict:
        return {"code_sha256": sha256_file(Path(__file__))}


def ishigami_evaluate(point: dict, seed: int, context: dict):
    return ishigami({**context["fixed"], **point}, seed, context)


def sobol_g_evaluate(point: dict, seed: int, context: dict):
    return sobol_g({**context["fixed"], **point}, seed, context)


class Ishigami(_TestFunction):
    model_keys = frozenset({"a", "b", "noise_sd", "delay", "fail_above"})
    evaluate = staticmethod(ishigami_evaluate)

    def __init__(self, table, spec_dir, where):
        super().__init__(table, spec_dir, where)
        self.names = ["x1", "x2", "x3"]
        self.lo, self.hi = -math.pi, math.pi
        for k in ("a", "b"):
            v = table.get(k, 7.0 if k == "a" else 0.1)
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ConfigError(f"{where}: model.{k} = {v!r} must be a number")

    def _constants(self):
        return {"a": float(self.table.get("a", 7.0)), "b": float(self.table.get("b", 0.1))}


class SobolG(_TestFunction):
    model_keys = frozenset({"a", "noise_sd", "delay", "fail_above"})
    evaluate = staticmethod(sobol_g_evaluate)
    DEFAULT_A = (0.0, 1.0, 4.5, 9.0, 99.0, 99.0)

    def __init__(self, table, spec_dir, where):
        super().__init__(table, spec_dir, where)
        a = table.get("a", list(self.DEFAULT_A))
        if (not isinstance(a, list) or not a
                or not all(isinstance(x, (int, float)) and not isinstance(x, bool) and x >= 0
                           for x in a)):
            raise ConfigError(f"{where}: model.a = {a!r} must be a non-empty list of numbers "
                              f">= 0")
        self.a = [float(x) for x in a]
        self.names = [f"x{i + 1}" for i in range(len(a))]

    def _constants(self):
        return {"a": self.a}


# ------------------------------------------------------------------ calibration
GAUSSIAN_FACTORS = {"mu": FactorInfo("float", lo=-10.0, hi=10.0),
                    "rate": FactorInfo("float", lo=1e-4, hi=1e4, unit="per unit time"),
                    "count": FactorInfo("int", lo=0, hi=50),
                    "nuisance": FactorInfo("float", lo=0.0, hi=1.0)}
GAUSSIAN_DEFAULTS = {"mu": 0.0, "rate": 1.0, "count": 0, "nuisance": 0.5}
GAUSSIAN_OUTPUTS = {"y": "1", "log_rate": "1", "count_y": "1"}


def gaussian_evaluate(point: dict, seed: int, context: dict):
    import numpy as np

    p = {**GAUSSIAN_DEFAULTS, **context["fixed"], **point}
    if context.get("fail_above") is not None and p["mu"] > context["fail_above"]:
        raise ValueError(f"toy model asked to fail: mu = {p['mu']} > {context['fail_above']}")
    e = np.random.default_rng(seed).standard_normal(3)
    s = context["sigma"]
    rows = [("y", "all", p["mu"] + s * e[0]),
            ("log_rate", "all", math.log(p["rate"]) + s * e[1]),
            ("count_y", "all", p["count"] + s * e[2])]
    if context.get("delay"):
        time.sleep(context["delay"])
    keep = set(context["indicators"]) - set(context["omit"])
    return [(i, per, float(v)) for i, per, v in rows if i in keep]


class Gaussian(Adapter):
    model_keys = frozenset({"sigma", "delay", "fail_above", "omit"})
    evaluate = staticmethod(gaussian_evaluate)

    def __init__(self, table: dict, spec_dir: Path, where: str):
        super().__init__(table, spec_dir, where)
        for k, default in (("sigma", 1.0), ("delay", 0.0)):
            v = table.get(k, default)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
                raise ConfigError(f"{where}: model.{k} = {v!r} is out of range: a number >= 0")
        v = table.get("fail_above", 0.0)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ConfigError(f"{where}: model.fail_above = {v!r} must be a number")
        omit = table.get("omit", [])
        if not isinstance(omit, list) or not all(o in GAUSSIAN_OUTPUTS for o in omit):
            raise ConfigError(f"{where}: model.omit = {omit!r} must be a list of outputs "
                              f"({', '.join(GAUSSIAN_OUTPUTS)})")

    def factor_names(self) -> list[str]:
        return list(GAUSSIAN_FACTORS)

    def factor(self, name: str, where: str) -> FactorInfo:
        if name not in GAUSSIAN_FACTORS:
            raise ConfigError(f"{where}: unknown factor '{name}'"
                              f"{suggest(name, GAUSSIAN_FACTORS)}; factors: "
                              f"{', '.join(GAUSSIAN_FACTORS)}")
        return GAUSSIAN_FACTORS[name]

    def outputs(self, period: str, where: str) -> dict[str, str]:
        return dict(GAUSSIAN_OUTPUTS)

    def context(self, fixed, factors, indicators, period) -> dict:
        fail = self.table.get("fail_above")
        return {"fixed": dict(fixed), "indicators": list(indicators),
                "sigma": float(self.table.get("sigma", 1.0)),
                "delay": float(self.table.get("delay", 0.0)),
                "fail_above": None if fail is None else float(fail),
                "omit": list(self.table.get("omit", []))}

    def config(self) -> dict:
        return {k: v for k, v in self.table.items() if k != "delay"}  # delay: timing only

    def fingerprint(self, context: dict) -> dict:
        return {"code_sha256": sha256_file(Path(__file__))}


ND_MAX = 20


def gaussian_nd_evaluate(point: dict, seed: int, context: dict):
    import numpy as np

    p = {f"x{i}": 0.5 for i in range(1, ND_MAX + 1)} | context["fixed"] | point
    e = np.random.default_rng(seed).standard_normal(ND_MAX)
    return [(f"y{i}", "all", float(p[f"x{i}"] + context["sigma"] * e[i - 1]))
            for i in range(1, ND_MAX + 1) if f"y{i}" in context["indicators"]]


class GaussianND(Adapter):
    """Many parameters, each with its own noisy output: ``x1..x20`` in [0, 1] (0.5 when not
    set), ``y_i = x_i + sigma * e_i`` (``[model] sigma``, default 0.05). A target on y_i
    identifies x_i; an x_i without a target is unidentified. For checking how the engine
    behaves as the number of parameters grows."""

    model_keys = frozenset({"sigma"})
    evaluate = staticmethod(gaussian_nd_evaluate)

    def __init__(self, table: dict, spec_dir: Path, where: str):
        super().__init__(table, spec_dir, where)
        v = table.get("sigma", 0.05)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
            raise ConfigError(f"{where}: model.sigma = {v!r} is out of range: a number >= 0")
        self.names = [f"x{i}" for i in range(1, ND_MAX + 1)]

    def factor_names(self) -> list[str]:
        return self.names

    def factor(self, name: str, where: str) -> FactorInfo:
        if name not in self.names:
            raise ConfigError(f"{where}: unknown factor '{name}'{suggest(name, self.names)}; "
                              f"factors: x1 .. x{ND_MAX}")
        return FactorInfo("float", lo=0.0, hi=1.0)

    def outputs(self, period: str, where: str) -> dict[str, str]:
        return {f"y{i}": "1" for i in range(1, ND_MAX + 1)}

    def context(self, fixed, factors, indicators, period) -> dict:
        return {"fixed": dict(fixed), "indicators": list(indicators),
                "sigma": float(self.table.get("sigma", 0.05))}

    def fingerprint(self, context: dict) -> dict:
        return {"code_sha256": sha256_file(Path(__file__))}


Adapter = Ishigami
