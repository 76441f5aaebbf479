"""A toy stochastic simulator with known ABC posteriors, to test the calibration engine.

``[model] adapter = "abm.batch.abc_toy:Gaussian"``. Factors (all optional; unset ones take
the default in brackets):

* ``mu`` in [-10, 10] (0): output ``y = mu + sigma * e1``;
* ``rate`` in [1e-4, 1e4] (1): output ``log_rate = ln(rate) + sigma * e2`` (for log-uniform
  priors);
* ``count``, a whole number in [0, 50] (0): output ``count_y = count + sigma * e3``;
* ``nuisance`` in [0, 1] (0.5): changes **no** output, so it is unidentifiable and its
  posterior is its prior.

``e1, e2, e3`` are independent standard normal draws from the run's seed. With a flat prior
on ``mu``, target ``y`` = v with band half-width h, R replicates summarised by their median
and tolerance epsilon, the ABC posterior of ``mu`` is exactly the law of
``v - sigma * M_R + U``, M_R the median of R standard normals and U uniform on
[-epsilon h, epsilon h]: mean v, variance sigma^2 var(M_R) + (epsilon h)^2 / 3.

``[model]`` keys: ``sigma`` (noise sd, default 1), ``delay`` (seconds of sleep per run; not
part of the run identity), ``fail_above`` (raise when mu exceeds it), ``omit`` (a list of
outputs to leave out of the rows, to test the engine's error for a missing target).
"""

from __future__ import annotations

import math
import time
from pathlib import Path

from abm.batch.adapter import Adapter, FactorInfo, sha256_file, suggest
from abm.core.errors import ConfigError

FACTORS = {"mu": FactorInfo("float", lo=-10.0, hi=10.0),
           "rate": FactorInfo("float", lo=1e-4, hi=1e4, unit="per unit time"),
           "count": FactorInfo("int", lo=0, hi=50),
           "nuisance": FactorInfo("float", lo=0.0, hi=1.0)}
DEFAULTS = {"mu": 0.0, "rate": 1.0, "count": 0, "nuisance": 0.5}
OUTPUTS = {"y": "1", "log_rate": "1", "count_y": "1"}


def evaluate(point: dict, seed: int, context: dict):
    import numpy as np

    p = {**DEFAULTS, **context["fixed"], **point}
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
    evaluate = staticmethod(evaluate)

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
        if not isinstance(omit, list) or not all(o in OUTPUTS for o in omit):
            raise ConfigError(f"{where}: model.omit = {omit!r} must be a list of outputs "
                              f"({', '.join(OUTPUTS)})")

    def factor_names(self) -> list[str]:
        return list(FACTORS)

    def factor(self, name: str, where: str) -> FactorInfo:
        if name not in FACTORS:
            raise ConfigError(f"{where}: unknown factor '{name}'{suggest(name, FACTORS)}; "
                              f"factors: {', '.join(FACTORS)}")
        return FACTORS[name]

    def outputs(self, period: str, where: str) -> dict[str, str]:
        return dict(OUTPUTS)

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


Adapter = Gaussian
