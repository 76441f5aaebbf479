"""Calibration targets and the distance a candidate is judged by.

* :class:`Target`: a statistic's id, its value, its tolerance band [lo, hi] (the band's
  half-width is the distance's unit) and its weight;
* :func:`default_targets` reads the generic ``[targets.ID]`` tables and
  :func:`check_targets` validates any adapter's targets;
* :func:`target_stats` picks each target's statistic out of one simulation's rows;
* :func:`distance`: d = sqrt(sum_i w_i z_i^2 / sum_i w_i), z_i = (s_i - value_i) /
  ((hi_i - lo_i) / 2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from abm.batch.adapter import suggest
from abm.core.errors import ConfigError

TARGET_KEYS = ("value", "lo", "hi", "weight")


def _is_number(v) -> bool:
    return not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v)


@dataclass(frozen=True)
class Target:
    """One calibration target: the statistic ``id`` should be ``value``; ``[lo, hi]`` is the
    tolerance band (its half-width is the distance's unit); ``weight`` >= 0 (0: reported,
    not fitted)."""

    id: str
    value: float
    lo: float
    hi: float
    weight: float = 1.0

    @property
    def scale(self) -> float:
        return (self.hi - self.lo) / 2


def default_targets(table: dict, spec_dir: Path, where: str) -> list[Target]:
    """The generic ``[targets.ID]`` tables: ``value``, ``lo``, ``hi``, optional ``weight``
    (default 1). Used when the adapter has no ``targets`` method of its own."""
    out = []
    for tid, t in table.items():
        w = f"{where}: targets.{tid}"
        if not isinstance(t, dict):
            raise ConfigError(f"{w} = {t!r} must be a table {{ value = ..., lo = ..., hi = ... }}")
        unknown = set(t) - set(TARGET_KEYS)
        if unknown:
            k = sorted(unknown)[0]
            raise ConfigError(f"{w}.{k} = {t[k]!r} is not a target key{suggest(k, TARGET_KEYS)}; "
                              f"valid keys: {', '.join(TARGET_KEYS)}")
        for k in ("value", "lo", "hi"):
            if k not in t:
                raise ConfigError(f"{w}: needs '{k}' (a target has value, lo, hi and an "
                                  f"optional weight)")
        out.append(Target(tid, t["value"], t["lo"], t["hi"], t.get("weight", 1.0)))
    return out


def check_targets(targets, where: str) -> list[Target]:
    """Validate an adapter's targets: numbers, lo <= value <= hi, lo < hi, weight >= 0 with a
    positive total, unique ids."""
    if not isinstance(targets, list) or not targets:
        raise ConfigError(f"{where}: [targets] gives no targets; a calibration needs at least one")
    seen = set()
    out = []
    for t in targets:
        if not isinstance(t, Target):
            raise ConfigError(f"{where}: the adapter's targets() returned {t!r}, not a Target")
        w = f"{where}: targets.{t.id}"
        if not isinstance(t.id, str) or not t.id:
            raise ConfigError(f"{where}: target id {t.id!r} must be a non-empty string")
        if t.id in seen:
            raise ConfigError(f"{w}: target id {t.id!r} appears twice")
        seen.add(t.id)
        for k in ("value", "lo", "hi", "weight"):
            if not _is_number(getattr(t, k)):
                raise ConfigError(f"{w}.{k} = {getattr(t, k)!r} must be a finite number")
        if not t.lo < t.hi:
            raise ConfigError(f"{w}: lo = {t.lo!r} must be less than hi = {t.hi!r} (the "
                              f"tolerance band)")
        if not t.lo <= t.value <= t.hi:
            raise ConfigError(f"{w}.value = {t.value!r} is out of range: it must lie in its "
                              f"tolerance band [lo, hi] = [{t.lo}, {t.hi}]")
        if t.weight < 0:
            raise ConfigError(f"{w}.weight = {t.weight!r} is out of range: valid range is >= 0")
        out.append(Target(t.id, float(t.value), float(t.lo), float(t.hi), float(t.weight)))
    if sum(t.weight for t in out) <= 0:
        raise ConfigError(f"{where}: every target has weight 0; at least one must be > 0")
    return out


def target_stats(rows: dict, targets: list[Target]) -> list[float]:
    """The statistic of each target: the value of the one row whose indicator is its id."""
    by: dict[str, list[float]] = {}
    for ind, val in zip(rows["indicator"], rows["value"], strict=True):
        by.setdefault(ind, []).append(val)
    out = []
    for t in targets:
        vals = by.get(t.id)
        if not vals:
            shown = ", ".join(sorted(by)[:8]) or "none"
            raise ValueError(f"target '{t.id}' is missing from the model's rows (indicators "
                             f"returned: {shown}); the adapter's evaluate must return a row "
                             f"whose indicator is each target id")
        if len(vals) > 1:
            raise ValueError(f"target '{t.id}' matches {len(vals)} rows of the model's output; "
                             f"it needs exactly one (the period is ignored)")
        out.append(float(vals[0]))
    return out


def distance(stats, targets: list[Target]) -> float:
    """d = sqrt(sum w_i z_i^2 / sum w_i), z_i = (s_i - value_i) / ((hi_i - lo_i) / 2).
    A missing (NaN) statistic of a weighted target gives an infinite distance."""
    s = np.asarray(stats, float)
    v = np.array([t.value for t in targets])
    h = np.array([t.scale for t in targets])
    w = np.array([t.weight for t in targets])
    z = (s - v) / h
    use = w > 0
    if np.isnan(z[use]).any():
        return math.inf
    return float(math.sqrt(np.sum(w[use] * z[use] ** 2) / np.sum(w[use])))
