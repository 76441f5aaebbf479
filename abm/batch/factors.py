"""Factors of a sweep: a fixed list of values, or a range with a distribution.

A design works in the unit hypercube; each continuous factor maps a unit coordinate ``u``
to its value with its inverse CDF (:meth:`Factor.ppf`). Sobol' and Morris indices are
computed in those unit coordinates (a monotone change of each input's scale leaves Sobol'
indices unchanged; Morris effects are per step of one grid level).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from abm.batch.adapter import FactorInfo
from abm.core.errors import ConfigError

FACTOR_KEYS = ("values", "range", "levels", "distribution", "mode", "mean", "sd")
DISTRIBUTIONS = ("uniform", "loguniform", "triangular", "truncnormal")
#: column names the result tables use themselves; a factor cannot take them
RESERVED = ("run", "point", "replication", "seed", "indicator", "period", "value")


@dataclass(frozen=True)
class Factor:
    name: str
    kind: str  # float | int | bool | category
    values: tuple | None = None  # explicit list of values
    lo: float | None = None  # range
    hi: float | None = None
    levels: int | None = None  # evenly spaced levels of the range (factorial designs)
    distribution: str = "uniform"
    mode: float | None = None
    mean: float | None = None
    sd: float | None = None
    unit: str = ""

    @property
    def continuous(self) -> bool:
        """Sampled from a range (as opposed to a fixed list of values)."""
        return self.values is None

    def grid(self) -> list:
        """The levels a full factorial design crosses."""
        if self.values is not None:
            return list(self.values)
        if self.distribution == "loguniform":
            g = np.geomspace(self.lo, self.hi, self.levels)
        else:
            g = np.linspace(self.lo, self.hi, self.levels)
        g[0], g[-1] = self.lo, self.hi  # exact end points
        return [self._cast(x) for x in g]

    def ppf(self, u: np.ndarray) -> list:
        """Values at unit coordinates ``u`` (inverse CDF of the factor's distribution)."""
        u = np.asarray(u, float)
        lo, hi = float(self.lo), float(self.hi)
        if self.distribution == "uniform":
            if self.kind == "int":  # every whole number in [lo, hi] gets the same mass
                x = np.minimum(np.floor(lo + u * (hi - lo + 1)), hi)
            else:
                x = lo + u * (hi - lo)
        elif self.distribution == "loguniform":
            x = np.exp(math.log(lo) + u * (math.log(hi) - math.log(lo)))
        elif self.distribution == "triangular":
            from scipy import stats
            x = stats.triang((self.mode - lo) / (hi - lo), loc=lo, scale=hi - lo).ppf(u)
        else:  # truncnormal
            from scipy import stats
            a, b = (lo - self.mean) / self.sd, (hi - self.mean) / self.sd
            x = stats.truncnorm(a, b, loc=self.mean, scale=self.sd).ppf(u)
        x = np.where(u <= 0, lo, np.where(u >= 1, hi, np.clip(x, lo, hi)))  # exact ends
        return [self._cast(v) for v in x]

    def _cast(self, v):
        if self.kind == "int":
            return int(np.rint(v))
        return float(v)

    def as_dict(self) -> dict:
        d = {"kind": self.kind}
        if self.values is not None:
            d["values"] = list(self.values)
        else:
            d.update(range=[self.lo, self.hi], distribution=self.distribution)
            for k in ("levels", "mode", "mean", "sd"):
                if getattr(self, k) is not None:
                    d[k] = getattr(self, k)
        return d


def _is_number(v) -> bool:
    return not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v)


def check_value(info: FactorInfo, value, where: str):
    """Check one value against what the model accepts; return it in its Python type."""
    if info.kind == "value":
        return info.check(value, where)
    if info.kind == "category":
        if value not in info.options:
            raise ConfigError(f"{where} = {value!r} is not a valid option: valid options are "
                              f"{', '.join(repr(o) for o in info.options)}")
        return value
    if info.kind == "bool":
        if not isinstance(value, bool):
            raise ConfigError(f"{where} = {value!r} has the wrong type: expected true or false")
        return value
    if not _is_number(value):
        raise ConfigError(f"{where} = {value!r} has the wrong type: expected {info.describe()}")
    if info.kind == "int" and float(value) != int(value):
        raise ConfigError(f"{where} = {value!r} has the wrong type: expected {info.describe()}")
    value = int(value) if info.kind == "int" else float(value)
    if info.lo is not None and not (info.lo <= value <= info.hi):
        raise ConfigError(f"{where} = {value!r} is out of range: valid range is "
                          f"[{info.lo}, {info.hi}]" + (f" ({info.unit})" if info.unit else ""))
    return value


def parse_factor(name: str, raw, info: FactorInfo, where: str) -> Factor:
    """Validate ``[factors.NAME]`` against the model's :class:`FactorInfo`."""
    w = f"{where}: factors.{name}"
    if name in RESERVED:
        raise ConfigError(f"{w}: '{name}' is a reserved column name of the result tables "
                          f"({', '.join(RESERVED)})")
    if info.kind == "value":
        raise ConfigError(f"{w}: '{name}' ({info.describe()}) cannot be varied as a factor; "
                          f"set it in [fixed], or in the arms of a variants design "
                          f"([variants.NAME])")
    if not isinstance(raw, dict):
        raise ConfigError(f"{w} = {raw!r} must be a table, e.g. {{ values = [...] }} or "
                          f"{{ range = [lo, hi] }}")
    unknown = set(raw) - set(FACTOR_KEYS)
    if unknown:
        k = sorted(unknown)[0]
        raise ConfigError(f"{w}.{k} = {raw[k]!r} is not a factor key; allowed keys: "
                          f"{', '.join(FACTOR_KEYS)}")
    if ("values" in raw) == ("range" in raw):
        raise ConfigError(f"{w}: give exactly one of 'values' (a list) or 'range' "
                          f"([lo, hi]); got {sorted(set(raw) & {'values', 'range'}) or 'neither'}")
    if "values" in raw:
        extra = set(raw) - {"values"}
        if extra:
            k = sorted(extra)[0]
            raise ConfigError(f"{w}.{k}: '{k}' goes with 'range', not with a list of 'values'")
        vals = raw["values"]
        if not isinstance(vals, list) or not vals:
            raise ConfigError(f"{w}.values = {vals!r} must be a non-empty list of values "
                              f"({info.describe()})")
        vals = [check_value(info, v, f"{w}.values[{i}]") for i, v in enumerate(vals)]
        if len(set(vals)) != len(vals):
            dup = next(v for v in vals if vals.count(v) > 1)
            raise ConfigError(f"{w}.values = {raw['values']!r} lists {dup!r} twice; each value "
                              f"once (replications repeat runs)")
        return Factor(name, info.kind, values=tuple(vals), unit=info.unit)
    # a range
    if info.kind in ("bool", "category"):
        raise ConfigError(f"{w}.range: '{name}' is a {info.kind} factor ({info.describe()}); "
                          f"give its 'values' as a list instead of a range")
    rng = raw["range"]
    if (not isinstance(rng, list) or len(rng) != 2 or not all(_is_number(v) for v in rng)):
        raise ConfigError(f"{w}.range = {rng!r} must be two numbers [lo, hi] within "
                          f"{info.describe()}")
    lo, hi = (check_value(info, v, f"{w}.range[{i}]") for i, v in enumerate(rng))
    if not lo < hi:
        raise ConfigError(f"{w}.range = {rng!r} is empty: lo must be less than hi "
                          f"(valid: {info.describe()})")
    dist = raw.get("distribution", "uniform")
    if dist not in DISTRIBUTIONS:
        raise ConfigError(f"{w}.distribution = {dist!r} is unknown; valid options: "
                          f"{', '.join(DISTRIBUTIONS)}")
    needed = {"triangular": {"mode"}, "truncnormal": {"mean", "sd"}}.get(dist, set())
    for k in ("mode", "mean", "sd"):
        if k in raw and k not in needed:
            raise ConfigError(f"{w}.{k}: '{k}' is not used by a {dist} distribution "
                              f"(triangular takes 'mode'; truncnormal takes 'mean' and 'sd')")
        if k in needed and k not in raw:
            raise ConfigError(f"{w}: a {dist} distribution needs '{k}'")
        if k in raw and not _is_number(raw[k]):
            raise ConfigError(f"{w}.{k} = {raw[k]!r} must be a number")
    mode = mean = sd = None
    if dist == "loguniform" and lo <= 0:
        raise ConfigError(f"{w}.range = {rng!r}: a loguniform distribution needs lo > 0")
    if dist == "triangular":
        mode = float(raw["mode"])
        if not lo <= mode <= hi:
            raise ConfigError(f"{w}.mode = {mode!r} is out of range: valid range is the "
                              f"factor's range [{lo}, {hi}]")
    if dist == "truncnormal":
        mean, sd = float(raw["mean"]), float(raw["sd"])
        if sd <= 0:
            raise ConfigError(f"{w}.sd = {sd!r} is out of range: must be > 0")
    levels = raw.get("levels")
    if levels is not None:
        if isinstance(levels, bool) or not isinstance(levels, int) or not 2 <= levels <= 1000:
            raise ConfigError(f"{w}.levels = {levels!r} is out of range: a whole number in "
                              f"[2, 1000]")
        if dist not in ("uniform", "loguniform"):
            raise ConfigError(f"{w}.levels: evenly spaced levels need a uniform or loguniform "
                              f"range, not {dist}; list the 'values' instead")
    f = Factor(name, info.kind, lo=lo, hi=hi, levels=levels, distribution=dist, mode=mode,
               mean=mean, sd=sd, unit=info.unit)
    if levels is not None and len(set(f.grid())) != levels:
        raise ConfigError(f"{w}.levels = {levels} gives repeated whole numbers in "
                          f"[{lo}, {hi}]; use fewer levels or list the 'values'")
    return f
