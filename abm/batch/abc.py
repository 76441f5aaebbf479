"""ABC-SMC calibration of a stochastic simulator, through the batch machinery's adapters.

Population Monte Carlo ABC (Beaumont et al. 2009; Toni et al. 2009), model-agnostic: a
model enters through an :class:`abm.batch.adapter.Adapter`, exactly as in a sweep. The
method, its choices and its limits are documented in ``docs/calibration_method.md``.

* generation 0 draws ``particles`` candidates from the prior and accepts all of them;
* generation t >= 1 has tolerance epsilon_t = the ``quantile`` (alpha) of generation t-1's
  distances; a candidate is an ancestor drawn by weight and moved by a Gaussian kernel with
  covariance 2x the weighted particle covariance, in the *transformed* space (log for
  ``loguniform`` priors); a proposal outside the prior (or refused by the adapter's
  ``check_point``) is redrawn without simulating; candidates are simulated until
  ``particles`` have distance <= epsilon_t; weights are prior / sum_j w_j K(theta | theta_j);
* each candidate runs ``replicates`` simulations with their own seeds; the summary is the
  replicate **median** of each target statistic; the distance is
  d = sqrt(sum_i w_i z_i^2 / sum_i w_i), z_i = (s_i - value_i) / ((hi_i - lo_i) / 2);
* it stops after ``generations``, when a generation's acceptance rate falls below
  ``min_acceptance``, when epsilon stops shrinking (relative decrease below
  ``min_epsilon_decrease``), when epsilon reaches ``min_epsilon``, or when a generation
  cannot finish within ``max_simulations_per_generation`` (the previous one is the result).

Determinism and resuming: proposals are drawn in chunks of ``batch_size`` candidates, chunk
b of generation t from its own random stream ``SeedSequence(seed, spawn_key=(0, t, b))``;
simulation (t, c, r) has seed ``SeedSequence(seed, spawn_key=(1, t, c, r))``; candidates
are judged in candidate order and the generation ends at the candidate that brings the
``particles``-th acceptance, whatever the order in which simulations finish. So a
generation is a deterministic function of the previous one, and a run is a deterministic
function of the spec. Each finished simulation is stored atomically under its key =
hash(run identity, t, c, r), in ``sims/*.json`` files written whole or not at all (finished
simulations are grouped into one file at most every second, so a fast model does not pay
an fsync each; a kill loses at most that second); a resumed run replays the algorithm,
reading what is on disk instead of simulating it, and gives identical results.
"""

from __future__ import annotations

import json
import math
import os
import socket
import sys
import time
import tomllib
import traceback
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, wait
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from abm.batch.adapter import (
    Adapter,
    FactorInfo,
    canonical_json,
    load_adapter,
    recorded_environment,
    sha256_file,
    sha256_text,
    suggest,
)
from abm.batch.store import ResultFolder
from abm.core.errors import ConfigError
from abm.core.io import atomic_write_bytes, atomic_write_text

SECTIONS = ("calibration", "model", "fixed", "priors", "targets")
CALIBRATION_KEYS = ("name", "description", "particles", "generations", "replicates", "seed",
                    "quantile", "min_acceptance", "max_simulations_per_generation",
                    "batch_size", "min_epsilon_decrease", "min_epsilon")
#: settings that only decide *when to stop*: they may change when resuming
BUDGET_KEYS = ("generations", "min_acceptance", "max_simulations_per_generation",
               "min_epsilon_decrease", "min_epsilon")
PRIOR_KEYS = ("dist", "low", "high")
DISTS = ("uniform", "loguniform")
TARGET_KEYS = ("value", "lo", "hi", "weight")
#: columns of the particle tables; a prior cannot take these names
COLUMNS = ("generation", "particle", "candidate", "weight", "distance")
DEFAULTS = {"quantile": 0.5, "min_acceptance": 0.01, "min_epsilon_decrease": 0.01,
            "min_epsilon": 0.0}
MAX_SEED = 2**63
#: finished simulations are written together at most this often (a kill loses at most this)
FLUSH_SECONDS = 1.0
FORMAT = "cpabm-abc/1"
DEFAULT_ADAPTER = "abm.studies.adapter"
#: identifiability labels by the posterior's 10-90% width relative to the prior's
IDENTIFIED, WEAK = 0.5, 0.8


# ================================================================== spec
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


@dataclass(frozen=True)
class Prior:
    """A uniform or log-uniform prior on one factor (``float`` or ``int``).

    The particle moves on a continuous scale; a whole-number factor receives the nearest
    whole number, and its continuous support is widened by 0.5 at each end so every whole
    number in [low, high] has the same prior mass (in the transformed space)."""

    name: str
    dist: str
    low: float
    high: float
    kind: str = "float"

    @property
    def log(self) -> bool:
        return self.dist == "loguniform"

    def bounds(self) -> tuple[float, float]:
        """Support in the transformed space (log for loguniform)."""
        lo, hi = (self.low - 0.5, self.high + 0.5) if self.kind == "int" else (self.low, self.high)
        return (math.log(lo), math.log(hi)) if self.log else (float(lo), float(hi))

    def transform(self, x):
        return np.log(x) if self.log else np.asarray(x, float)

    def to_model(self, y: float):
        """The value the model receives for transformed coordinate ``y``."""
        x = math.exp(y) if self.log else float(y)
        if self.kind == "int":
            return int(min(max(math.floor(x + 0.5), self.low), self.high))
        return min(max(x, self.low), self.high)  # exp/log round-off at the ends

    def as_dict(self) -> dict:
        return {"dist": self.dist, "low": self.low, "high": self.high, "kind": self.kind}


@dataclass
class CalibrationSpec:
    path: Path
    text: str
    name: str
    description: str
    particles: int
    generations: int
    replicates: int
    seed: int
    quantile: float
    min_acceptance: float
    max_simulations_per_generation: int
    batch_size: int
    min_epsilon_decrease: float
    min_epsilon: float
    adapter_name: str
    adapter: Adapter
    fixed: dict
    priors: list[Prior]
    targets: list[Target]
    period: str
    context: dict = field(default_factory=dict)
    _identity: dict | None = None

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.priors]

    def identity(self) -> dict:
        """Everything that decides which simulation (t, c, r) runs which point with which
        seed: model, inputs, code of the model and of this engine, priors, targets (they
        decide acceptance, hence later proposals), the algorithm's settings, environment."""
        if self._identity is None:
            self._identity = {
                "format": FORMAT,
                "adapter": self.adapter_name,
                "model": self.adapter.config(),
                "inputs": self.adapter.fingerprint(self.context),
                "engine_sha256": sha256_file(Path(__file__)),
                "fixed": self.fixed,
                "priors": {p.name: p.as_dict() for p in self.priors},
                "targets": [t.__dict__ for t in self.targets],
                "period": self.period,
                "particles": self.particles,
                "replicates": self.replicates,
                "seed": self.seed,
                "quantile": self.quantile,
                "batch_size": self.batch_size,
                "environment": self.adapter.environment(),
            }
        return self._identity

    def identity_hash(self) -> str:
        return sha256_text(canonical_json(self.identity()))

    def canonical(self) -> dict:
        return {"identity": self.identity(), "name": self.name,
                "description": self.description,
                **{k: getattr(self, k) for k in BUDGET_KEYS}}

    def canonical_hash(self) -> str:
        return sha256_text(canonical_json(self.canonical()))


def _is_number(v) -> bool:
    return not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v)


def _unknown(table: dict, allowed, what: str, where: str) -> None:
    unknown = set(table) - set(allowed)
    if unknown:
        k = sorted(unknown)[0]
        raise ConfigError(f"{where}: {what}.{k} = {table[k]!r} is not a key of [{what}]"
                          f"{suggest(k, allowed)}; valid keys: {', '.join(allowed)}")


def _section(raw: dict, key: str, where: str, required: bool = False) -> dict:
    if key not in raw:
        if required:
            raise ConfigError(f"{where}: missing [{key}] section")
        return {}
    t = raw[key]
    if not isinstance(t, dict):
        raise ConfigError(f"{where}: {key} = {t!r} must be a table [{key}]")
    return t


def _int(t: dict, key: str, where: str, lo: int, hi: int | None = None,
         default: int | None = None, what: str = "") -> int:
    if key not in t:
        if default is not None:
            return default
        raise ConfigError(f"{where}: [calibration] needs '{key}'{what}")
    v = t[key]
    rng = f"[{lo}, {hi})" if hi is not None else f">= {lo}"
    if isinstance(v, bool) or not isinstance(v, int):
        raise ConfigError(f"{where}: calibration.{key} = {v!r} has the wrong type: expected a "
                          f"whole number {rng}{what}")
    if v < lo or (hi is not None and v >= hi):
        raise ConfigError(f"{where}: calibration.{key} = {v!r} is out of range: valid range "
                          f"is {rng}{what}")
    return v


def _float(t: dict, key: str, where: str, lo: float, hi: float, lo_open: bool, hi_open: bool,
           what: str = "") -> float:
    v = t.get(key, DEFAULTS[key])
    rng = f"{'(' if lo_open else '['}{lo}, {hi}{')' if hi_open else ']'}"
    ok = _is_number(v) and (v > lo if lo_open else v >= lo) and (v < hi if hi_open else v <= hi)
    if not ok:
        raise ConfigError(f"{where}: calibration.{key} = {v!r} is out of range: valid range is "
                          f"{rng}{what}")
    return float(v)


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


def _prior(name: str, raw, info: FactorInfo, where: str) -> Prior:
    w = f"{where}: priors.{name}"
    if name in COLUMNS:
        raise ConfigError(f"{w}: '{name}' is a column name of the particle tables "
                          f"({', '.join(COLUMNS)}); it cannot be a prior")
    if not isinstance(raw, dict):
        raise ConfigError(f"{w} = {raw!r} must be a table {{ dist = \"uniform\", low = ..., "
                          f"high = ... }}")
    unknown = set(raw) - set(PRIOR_KEYS)
    if unknown:
        k = sorted(unknown)[0]
        raise ConfigError(f"{w}.{k} = {raw[k]!r} is not a prior key{suggest(k, PRIOR_KEYS)}; "
                          f"valid keys: {', '.join(PRIOR_KEYS)}")
    if info.kind not in ("float", "int"):
        raise ConfigError(f"{w}: '{name}' is a {info.kind} factor ({info.describe()}); a prior "
                          f"needs a numeric factor; put it in [fixed]")
    dist = raw.get("dist", "uniform")
    if dist not in DISTS:
        raise ConfigError(f"{w}.dist = {dist!r} is unknown{suggest(str(dist), DISTS)}; valid "
                          f"options: {', '.join(DISTS)}")
    vals = {}
    for k in ("low", "high"):
        if k not in raw:
            raise ConfigError(f"{w}: needs '{k}' ({info.describe()})")
        v = raw[k]
        if not _is_number(v) or (info.kind == "int" and float(v) != int(v)):
            raise ConfigError(f"{w}.{k} = {v!r} has the wrong type: expected {info.describe()}")
        v = int(v) if info.kind == "int" else float(v)
        if info.lo is not None and not info.lo <= v <= info.hi:
            raise ConfigError(f"{w}.{k} = {v!r} is outside the factor's valid range "
                              f"[{info.lo}, {info.hi}]" + (f" ({info.unit})" if info.unit else ""))
        vals[k] = v
    if not vals["low"] < vals["high"]:
        raise ConfigError(f"{w}: low = {vals['low']!r} must be less than high = "
                          f"{vals['high']!r}")
    if dist == "loguniform" and vals["low"] <= (0.5 if info.kind == "int" else 0):
        need = "low >= 1 for a whole-number factor" if info.kind == "int" else "low > 0"
        raise ConfigError(f"{w}.low = {vals['low']!r} is out of range for a loguniform prior: "
                          f"needs {need}")
    return Prior(name, dist, vals["low"], vals["high"], info.kind)


def load_calibration_spec(path: str | Path,
                          default_adapter: str = DEFAULT_ADAPTER) -> CalibrationSpec:
    """Read and validate a calibration spec (TOML). Raises ConfigError naming the file, the
    key, the value and what is valid; runs nothing, writes nothing."""
    from abm.batch.factors import Factor, check_value

    path = Path(path)
    where = str(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"{path}: calibration spec not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, expected a calibration spec (.toml)") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None
    unknown = set(raw) - set(SECTIONS)
    if unknown:
        k = sorted(unknown)[0]
        raise ConfigError(f"{where}: unknown section [{k}]{suggest(k, SECTIONS)}; sections are "
                          f"{', '.join('[' + s + ']' for s in SECTIONS)}")

    cal = _section(raw, "calibration", where, required=True)
    _unknown(cal, CALIBRATION_KEYS, "calibration", where)
    name = cal.get("name", path.stem)
    if not isinstance(name, str) or not name or "/" in name:
        raise ConfigError(f"{where}: calibration.name = {name!r} must be a non-empty name "
                          f"without '/'")
    description = cal.get("description", "")
    if not isinstance(description, str):
        raise ConfigError(f"{where}: calibration.description = {description!r} must be a string")
    particles = _int(cal, "particles", where, 2, what=" (accepted particles per generation)")
    generations = _int(cal, "generations", where, 1,
                       what=" (at most this many generations, generation 0 the prior's)")
    replicates = _int(cal, "replicates", where, 1, what=" (simulations per candidate)")
    seed = _int(cal, "seed", where, 0, MAX_SEED, what=" (the root seed)")
    quantile = _float(cal, "quantile", where, 0, 1, True, True,
                      " (epsilon_t = this quantile of the previous distances)")
    min_acc = _float(cal, "min_acceptance", where, 0, 1, False, True,
                     " (stop when a generation's acceptance rate is lower)")
    min_dec = _float(cal, "min_epsilon_decrease", where, 0, 1, False, True,
                     " (stop when epsilon shrinks by less than this fraction)")
    min_eps = _float(cal, "min_epsilon", where, 0, math.inf, False, True,
                     " (stop once epsilon reaches this)")
    max_sims = _int(cal, "max_simulations_per_generation", where, particles * replicates,
                    default=max(100 * particles * replicates, 1),
                    what=f" (at least particles x replicates = {particles * replicates})")
    batch = _int(cal, "batch_size", where, 1, default=particles,
                 what=" (candidates per proposal chunk)")

    model = _section(raw, "model", where)
    adapter_name = model.get("adapter", default_adapter)
    adapter = load_adapter(adapter_name, where)(model, path.resolve().parent, where)

    fixed = {}
    for k, v in _section(raw, "fixed", where).items():
        info = adapter.factor(k, f"{where}: fixed.{k}")
        fixed[k] = check_value(info, v, f"{where}: fixed.{k}")
    adapter.check_fixed(fixed, where)

    priors_raw = _section(raw, "priors", where, required=True)
    if not priors_raw:
        raise ConfigError(f"{where}: [priors] is empty; give at least one [priors.NAME] "
                          f"with dist, low, high")
    priors = []
    for k, v in priors_raw.items():
        if k in fixed:
            raise ConfigError(f"{where}: priors.{k}: '{k}' is also in [fixed]; a value is "
                              f"either fixed or calibrated")
        priors.append(_prior(k, v, adapter.factor(k, f"{where}: priors.{k}"), where))

    period = adapter.periods[0]
    targets_raw = _section(raw, "targets", where, required=True)
    parse = getattr(adapter, "targets", None) or default_targets
    targets = check_targets(parse(targets_raw, path.resolve().parent, where), where)
    try:
        available = adapter.outputs(period, where)
    except NotImplementedError:
        available = None
    if available is not None:
        for t in targets:
            if t.id not in available:
                raise ConfigError(f"{where}: targets.{t.id}: '{t.id}' is not an output of the "
                                  f"model{suggest(t.id, available)}; outputs: "
                                  f"{', '.join(available)}")

    factors = [Factor(p.name, p.kind, lo=p.low, hi=p.high,
                      distribution=p.dist) for p in priors]
    mid = {p.name: p.to_model(sum(p.bounds()) / 2) for p in priors}
    adapter.check_point(mid, f"{where}: the prior's centre {mid}")
    context = adapter.context(fixed, factors, [t.id for t in targets], period)
    return CalibrationSpec(
        path=path, text=text, name=name, description=description, particles=particles,
        generations=generations, replicates=replicates, seed=seed, quantile=quantile,
        min_acceptance=min_acc, max_simulations_per_generation=max_sims, batch_size=batch,
        min_epsilon_decrease=min_dec, min_epsilon=min_eps, adapter_name=adapter_name,
        adapter=adapter, fixed=fixed, priors=priors, targets=targets, period=period,
        context=context)


# ================================================================== maths
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


def weighted_quantile(x, w, q):
    """Quantile(s) of the weighted sample (midpoint rule, linear interpolation)."""
    x, w = np.asarray(x, float), np.asarray(w, float)
    o = np.argsort(x, kind="stable")
    x, w = x[o], w[o]
    c = (np.cumsum(w) - 0.5 * w) / w.sum()
    return np.interp(q, c, x)


def kernel_cov(Y: np.ndarray, w: np.ndarray, widths: np.ndarray) -> np.ndarray:
    """2x the weighted covariance (Beaumont et al. 2009), kept positive definite."""
    cov = np.atleast_2d(np.cov(Y, rowvar=False, aweights=w, bias=True)) * 2.0
    cov = cov + np.diag((1e-9 * widths) ** 2)  # a collapsed dimension still moves a little
    return cov


def importance_weights(Y: np.ndarray, prevY: np.ndarray, prevw: np.ndarray,
                       cov: np.ndarray) -> np.ndarray:
    """w_i = prior(theta_i) / sum_j w_j K(theta_i | theta_j), normalised. Priors are uniform in
    the transformed space, so the numerator is constant on the support."""
    inv = np.linalg.inv(cov)
    logpw = np.log(prevw)
    out = np.empty(len(Y))
    for a in range(0, len(Y), 256):  # rows in blocks: N x N x k stays small
        d = Y[a:a + 256, None, :] - prevY[None, :, :]
        q = np.einsum("ijk,kl,ijl->ij", d, inv, d)
        lk = logpw[None, :] - 0.5 * q
        m = lk.max(axis=1)
        out[a:a + 256] = -(m + np.log(np.exp(lk - m[:, None]).sum(axis=1)))
    w = np.exp(out - out.max())
    return w / w.sum()


def seed_for(root: int, *key: int) -> int:
    """A seed in [0, 2**63) from the root seed and a spawn key."""
    ss = np.random.SeedSequence(root, spawn_key=tuple(int(k) for k in key))
    return int(ss.generate_state(1, np.uint64)[0] >> np.uint64(1))


def sim_key(identity_hash: str, generation: int, candidate: int, replicate: int) -> str:
    return sha256_text(canonical_json({"identity": identity_hash, "generation": generation,
                                       "candidate": candidate, "replicate": replicate}))[:32]


# ================================================================== the results folder
MANIFEST, SIMS, GENS, LOG, LOCK = "manifest.json", "sims", "generations", "log.jsonl", ".lock"
OUTPUTS = ("posterior.parquet", "posterior.md", "calibrated.toml", "best_particle.csv",
           "history.csv", "marginals.png", "result.json")
OURS = {MANIFEST, SIMS, GENS, LOG, LOCK, *OUTPUTS}


class CalibrationRunError(RuntimeError):
    """A simulation raised, or its rows lacked a target. Finished simulations are on disk."""


class AbcStore(ResultFolder):
    """``OUT/``: manifest.json, sims/<key>.json (one per simulation, atomic),
    generations/gen_NNN.parquet, the outputs, log.jsonl, and .lock while a run writes."""

    KIND = "calibration"
    FORMAT = FORMAT
    OURS = OURS

    def __init__(self, root):
        super().__init__(root)
        self.sims = self.root / SIMS

    def sim_files(self) -> list[Path]:
        if not self.sims.exists():
            return []
        return sorted(p for p in self.sims.iterdir()
                      if p.name.endswith(".json") and not p.name.startswith("."))

    def load_sims(self) -> dict[str, list[float]]:
        """Every finished simulation on disk: key -> target statistics."""
        out = {}
        for f in self.sim_files():
            for rec in json.loads(f.read_text()):
                out[rec["key"]] = rec["stats"]
        return out

    def clean_temp(self) -> int:
        n = 0
        for d in (self.root, self.sims, self.root / GENS):
            if d.exists():
                for p in d.iterdir():
                    if _temp(p.name) and p.is_file():
                        p.unlink(missing_ok=True)
                        n += 1
        return n

    def write_sims(self, records: list[dict]) -> None:
        """Finished simulations, as one file written atomically (whole or not at all),
        named after its first record's key."""
        atomic_write_text(self.sims / f"{records[0]['key']}.json",
                          json.dumps(records, allow_nan=True))

    def log(self, **event) -> None:
        event = {"time": time.strftime("%Y-%m-%dT%H:%M:%S"), "pid": os.getpid(), **event}
        with open(self.root / LOG, "a") as f:
            f.write(json.dumps(event, default=str) + "\n")


def _temp(name: str) -> bool:
    return name.startswith(".") and name.endswith(".tmp")


def build_manifest(spec: CalibrationSpec) -> dict:
    env = recorded_environment()
    env["lock_sha256"] = spec.identity()["environment"].get("lock_sha256")
    return {"format": FORMAT, "name": spec.name, "description": spec.description,
            "spec_path": str(spec.path), "spec_text": spec.text,
            "identity_sha256": spec.identity_hash(), "canonical_sha256": spec.canonical_hash(),
            "spec": spec.canonical(), "environment": env,
            "seeds": {"root": spec.seed,
                      "proposals": "chunk b of generation t: SeedSequence(seed, spawn_key="
                                   "(0, t, b))",
                      "simulations": "simulation (t, c, r): int(SeedSequence(seed, spawn_key="
                                     "(1, t, c, r)).generate_state(1, uint64)[0] >> 1)"},
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "host": socket.gethostname()}


def _prepare(store: AbcStore, spec: CalibrationSpec, resume: bool, log) -> None:
    from abm.batch.runner import diff_keys

    m = store.manifest()
    root = store.root
    if m is None:
        foreign = store.foreign_entries()
        if foreign or store.sim_files():
            shown = ", ".join(foreign[:3]) or f"{SIMS}/"
            raise ConfigError(f"--out = {str(root)!r} is not empty ({shown}) and holds no "
                              f"calibration manifest; choose a new or empty folder")
        store.clean_temp()
        store.write_manifest(build_manifest(spec))
        return
    new = build_manifest(spec)
    if m["identity_sha256"] != new["identity_sha256"]:
        changed = ", ".join(diff_keys(m["spec"]["identity"], new["spec"]["identity"])[:6])
        raise ConfigError(
            f"--out = {str(root)!r} holds a calibration with a different run identity "
            f"(differs in: {changed or 'the identity'}); cannot "
            f"{'resume' if resume else 'write'} into it, because its simulations would not "
            f"match. Choose another --out (spec there: {m.get('spec_path')})")
    if not resume:
        raise ConfigError(f"--out = {str(root)!r} already holds this calibration "
                          f"({len(store.load_sims())} simulations); add --resume to continue "
                          f"or finish it (finished simulations are reused), or choose another "
                          f"--out")
    n = store.clean_temp()
    if n:
        log(f"removed {n} temporary file(s) left by an interrupted writer")
    if m["canonical_sha256"] != new["canonical_sha256"]:
        changed = ", ".join(diff_keys(m["spec"], new["spec"])[:6])
        log(f"settings changed ({changed}); manifest updated, simulations reused")
        new["created"] = m.get("created", new["created"])
        store.write_manifest(new)


# ================================================================== simulation
def run_one(evaluate: Callable, point: dict, seed: int, context: dict):
    """One simulation in a worker: rows as plain lists, and timing."""
    from abm.batch.runner import execute

    return execute(evaluate, point, seed, context)


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


@dataclass
class Population:
    generation: int
    epsilon: float
    Y: np.ndarray  # (N, k) transformed coordinates
    points: list[dict]  # what the model received
    weights: np.ndarray
    distances: np.ndarray
    stats: np.ndarray  # (N, m) replicate medians
    rep_stats: np.ndarray  # (N, R, m)
    candidates: np.ndarray
    n_candidates: int  # candidates judged to reach N acceptances
    n_rejected_proposals: int  # outside the prior: redrawn, not simulated
    seconds: float = 0.0

    @property
    def acceptance(self) -> float:
        return len(self.weights) / self.n_candidates

    @property
    def ess(self) -> float:
        return float(1.0 / np.sum(self.weights**2))


class _Engine:
    """Runs generations; owns the executor (opened on first need) and the sim cache."""

    def __init__(self, spec: CalibrationSpec, store: AbcStore, plan, executor, progress: bool,
                 log):
        self.spec, self.store, self.plan, self.log = spec, store, plan, log
        self.ex = executor
        self.slots = 4 if executor is not None else 1
        # Dask's concurrent.futures wrapper can race a cancel against a finishing task (the
        # result is then set on a cancelled future in the client's thread); leftovers are
        # left to finish there instead (their results are kept)
        dask = (plan is not None and plan.kind == "dask") or (
            executor is not None and type(executor).__module__.startswith("distributed"))
        self.cancel = (lambda futs: None) if dask else (lambda futs: [f.cancel() for f in futs])
        self.progress = progress
        self.ident = spec.identity_hash()
        self.done = store.load_sims()  # key -> statistics
        self.pending: list[dict] = []  # finished, not yet on disk
        self.flushed = time.monotonic()
        self.stack = ExitStack()
        self.executed = self.reused = 0
        self.widths = np.array([b - a for a, b in (p.bounds() for p in spec.priors)])

    # -- the executor, opened lazily (a finished run replays from disk without one)
    def executor(self):
        if self.ex is None:
            warm = self.spec.adapter.warm
            if warm is not None:
                t0 = time.perf_counter()
                warm(self.spec.context)
                self.log(f"warmed the model's caches in {time.perf_counter() - t0:.1f} s")
            from abm.batch.executors import open_executor
            self.ex, self.slots = self.stack.enter_context(
                open_executor(self.plan, self.spec.adapter.preload, warm, (self.spec.context,)))
        return self.ex

    def flush(self, force: bool = False) -> None:
        """Write finished simulations: at most every FLUSH_SECONDS (so a fast model does not
        pay an fsync per simulation), and always at the end of a generation or on failure."""
        if self.pending and (force or time.monotonic() - self.flushed >= FLUSH_SECONDS):
            self.store.write_sims(self.pending)
            self.pending = []
            self.flushed = time.monotonic()

    # -- proposals
    def _valid(self, y: np.ndarray) -> dict | None:
        lo_hi = [p.bounds() for p in self.spec.priors]
        if not all(a <= v <= b for v, (a, b) in zip(y, lo_hi, strict=True)):
            return None
        point = {p.name: p.to_model(v) for p, v in zip(self.spec.priors, y, strict=True)}
        try:
            self.spec.adapter.check_point(point, "proposal")
        except ConfigError:
            return None
        return point

    def propose(self, t: int, b: int, prev: Population | None, chol) -> tuple[list, int]:
        spec = self.spec
        rng = np.random.default_rng(np.random.SeedSequence(spec.seed, spawn_key=(0, t, b)))
        bounds = np.array([p.bounds() for p in spec.priors])
        out, rejected = [], 0
        while len(out) < spec.batch_size:
            if prev is None:
                y = rng.uniform(bounds[:, 0], bounds[:, 1])
            else:
                j = rng.choice(len(prev.weights), p=prev.weights)
                y = prev.Y[j] + chol @ rng.standard_normal(len(spec.priors))
            point = self._valid(y)
            if point is None:
                rejected += 1
                if rejected > 10_000 * spec.batch_size:
                    raise CalibrationRunError(
                        f"generation {t}: more than {rejected} proposals fell outside the prior "
                        f"or were refused by the model's check_point; the prior's support may "
                        f"be (almost) empty under [fixed]")
                continue
            out.append((y, point))
        return out, rejected

    # -- one generation
    def generation(self, t: int, eps: float, prev: Population | None) -> Population | None:
        from tqdm import tqdm

        spec = self.spec
        N, R, B = spec.particles, spec.replicates, spec.batch_size
        cmax = spec.max_simulations_per_generation // R
        chol = None
        if prev is not None:
            chol = np.linalg.cholesky(kernel_cov(prev.Y, prev.weights, self.widths))
        batches: dict[int, list] = {}
        rejected = 0

        def cand(c: int):
            nonlocal rejected
            b = c // B
            if b not in batches:
                batches[b], r = self.propose(t, b, prev, chol)
                rejected += r
            return batches[b][c % B]

        results: dict[tuple[int, int], list[float]] = {}
        accepted: list[tuple] = []
        inflight: dict = {}
        failure = None
        nxt = [0, 0]  # next (candidate, replicate) to obtain
        judged = 0
        t0 = time.perf_counter()
        tty = sys.stderr.isatty()
        bar = tqdm(total=N, unit="particle", desc=f"{spec.name} gen {t}", file=sys.stderr,
                   disable=not self.progress, mininterval=0.5 if tty else 30,
                   dynamic_ncols=True, leave=True)
        sims = 0

        def postfix():
            need = N * R if t == 0 else (sims * N / max(len(accepted), 1))
            acc = len(accepted) / judged if judged else float("nan")
            bar.set_postfix_str(f"sims {sims}/~{need:.0f} acc {acc:.3f} eps {eps:.4g}",
                                refresh=False)

        def obtain_more() -> None:
            """In candidate order: read finished simulations from disk, submit the others,
            until the window of simulations in flight is full or the generation is done."""
            while failure is None and len(accepted) < N and nxt[0] < cmax:
                c, r = nxt
                key = sim_key(self.ident, t, c, r)
                if key in self.done:
                    results[(c, r)] = self.done[key]
                    self.reused += 1
                else:
                    if len(inflight) >= max(2 * self.slots, 4):
                        return
                    ex = self.executor()
                    point = cand(c)[1]
                    seed = seed_for(spec.seed, 1, t, c, r)
                    fut = ex.submit(run_one, spec.adapter.evaluate, point, seed, spec.context)
                    inflight[fut] = (c, r, key, seed)
                nxt[:] = [c, r + 1] if r + 1 < R else [c + 1, 0]
                judge()

        def judge() -> None:
            """Judge candidates in order while all their replicates are in."""
            nonlocal judged
            while len(accepted) < N and judged < cmax and all(
                    (judged, r) in results for r in range(R)):
                c = judged
                reps = np.array([results.pop((c, r)) for r in range(R)], float)
                med = np.median(reps, axis=0)
                d = distance(med, spec.targets)
                judged += 1
                if d <= eps and math.isfinite(d):
                    y, point = cand(c)
                    accepted.append((c, y, point, d, med, reps))
                    bar.update(1)

        try:
            obtain_more()
            judge()
            while inflight:
                done, _ = wait(list(inflight), return_when=FIRST_COMPLETED)
                for fut in sorted(done, key=lambda f: inflight[f][:2]):
                    c, r, key, seed = inflight.pop(fut)
                    if fut.cancelled():
                        continue
                    try:
                        rows, meta = fut.result()
                        stats = target_stats(rows, spec.targets)
                    except Exception as e:  # noqa: BLE001 - reported with its simulation
                        if failure is None:
                            failure = (c, r, seed, e)
                            self.cancel(list(inflight))
                        continue
                    if not self.pending:
                        self.flushed = time.monotonic()
                    self.pending.append({
                        "key": key, "generation": t, "candidate": c, "replicate": r,
                        "seed": seed, "point": cand(c)[1], "stats": stats, "rows": rows,
                        "meta": meta})
                    self.done[key] = stats
                    self.executed += 1
                    sims += 1
                    results[(c, r)] = stats
                self.flush()
                judge()
                postfix()
                if len(accepted) >= N:  # finished: drop what has not started
                    self.cancel(list(inflight))
                else:
                    obtain_more()
                    judge()
        finally:
            self.flush(force=True)
            bar.close()
        if failure is not None:
            c, r, seed, e = failure
            tb = "".join(traceback.format_exception(e)).rstrip()
            hint = ("a worker process died (killed, or out of memory)"
                    if type(e).__name__ == "BrokenProcessPool" else f"{type(e).__name__}: {e}")
            raise CalibrationRunError(
                f"generation {t}, candidate {c} {cand(c)[1]}, replicate {r}, seed {seed} "
                f"failed: {hint}\n{tb}\nFinished simulations are saved in {self.store.root}; "
                f"fix the cause and rerun with --resume.")
        if len(accepted) < N:
            return None
        c_idx = np.array([a[0] for a in accepted])
        Y = np.array([a[1] for a in accepted])
        if prev is None:
            w = np.full(N, 1.0 / N)
        else:
            w = importance_weights(Y, prev.Y, prev.weights,
                                   kernel_cov(prev.Y, prev.weights, self.widths))
        return Population(t, eps, Y, [a[2] for a in accepted], w,
                          np.array([a[3] for a in accepted]), np.array([a[4] for a in accepted]),
                          np.array([a[5] for a in accepted]), c_idx, judged, rejected,
                          time.perf_counter() - t0)


# ================================================================== the driver
@dataclass
class CalibrationResult:
    out: Path
    generations: list[dict]  # history rows
    stop_reason: str
    posterior: Any  # DataFrame of the final population
    best: dict  # the lowest-distance particle's parameters
    median: dict  # the posterior medians
    executed: int  # simulations run in this session
    reused: int  # simulations read from disk
    seconds: float
    executor: str


def calibrate(spec_path, out=None, *, workers: int | None = None, scheduler: str | None = None,
              resume: bool = False, progress: bool = True, executor=None,
              log=None) -> CalibrationResult:
    """Run (or resume) an ABC-SMC calibration into ``out`` (default
    ``results/calibration/<name>``). ``spec_path`` is a path or a loaded spec; ``executor``
    an already open ``concurrent.futures.Executor`` instead of ``workers``/``scheduler``."""
    from abm.batch.executors import choose

    log = log or (lambda msg: print(msg, file=sys.stderr))
    spec = spec_path if isinstance(spec_path, CalibrationSpec) else load_calibration_spec(spec_path)
    out = Path(out) if out is not None else Path("results") / "calibration" / spec.name
    plan = choose(workers, scheduler) if executor is None else None
    desc = plan.describe() if plan else type(executor).__name__
    store = AbcStore(out)
    t_start = time.perf_counter()
    with store.locked():
        _prepare(store, spec, resume, log)
        eng = _Engine(spec, store, plan, executor, progress, log)
        n_done = len(eng.done)
        log(f"calibration {spec.name}: {len(spec.priors)} parameters, {len(spec.targets)} "
            f"targets, {spec.particles} particles x {spec.replicates} replicates, up to "
            f"{spec.generations} generations; {n_done} simulations on disk; {desc} -> {out}")
        store.log(event="start", executor=desc, on_disk=n_done)
        pops: list[Population] = []
        reason = f"reached generations = {spec.generations}"
        with eng.stack:
            for t in range(spec.generations):
                prev = pops[-1] if pops else None
                eps = math.inf if prev is None else max(
                    float(np.quantile(prev.distances, spec.quantile)), spec.min_epsilon)
                if t >= 2 and eps > (1 - spec.min_epsilon_decrease) * prev.epsilon:
                    reason = (f"epsilon stopped shrinking before generation {t}: {eps:.4g} vs "
                              f"{prev.epsilon:.4g} (min_epsilon_decrease = "
                              f"{spec.min_epsilon_decrease})")
                    break
                pop = eng.generation(t, eps, prev)
                if pop is None:
                    reason = (f"generation {t} could not find {spec.particles} particles within "
                              f"max_simulations_per_generation = "
                              f"{spec.max_simulations_per_generation}; the result is generation "
                              f"{t - 1}")
                    break
                pops.append(pop)
                _write_generation(store, spec, pop)
                log(f"generation {t}: epsilon {eps:.4g}, acceptance {pop.acceptance:.3f} "
                    f"({pop.n_candidates} candidates, {pop.n_candidates * spec.replicates} "
                    f"simulations), ESS {pop.ess:.0f}")
                if t > 0 and pop.acceptance < spec.min_acceptance:
                    reason = (f"acceptance rate {pop.acceptance:.4f} of generation {t} fell "
                              f"below min_acceptance = {spec.min_acceptance}")
                    break
                if t > 0 and eps <= spec.min_epsilon:
                    reason = f"epsilon reached min_epsilon = {spec.min_epsilon}"
                    break
        if not pops:
            raise CalibrationRunError(f"generation 0 could not find {spec.particles} particles "
                                      f"with a finite distance within "
                                      f"max_simulations_per_generation; nothing to report")
        res = _write_outputs(store, spec, pops, reason)
        seconds = time.perf_counter() - t_start
        store.log(event="end", executed=eng.executed, reused=eng.reused,
                  seconds=round(seconds, 3), stop=reason)
        log(f"stopped: {reason}; ran {eng.executed} simulations, reused {eng.reused} from disk")
        return CalibrationResult(out, res["history"], reason, res["posterior"], res["best"],
                                 res["median"], eng.executed, eng.reused, seconds, desc)


# ================================================================== outputs
def population_frame(spec: CalibrationSpec, pop: Population):
    import pandas as pd

    df = pd.DataFrame({"generation": pop.generation, "particle": np.arange(len(pop.weights)),
                       "candidate": pop.candidates, "weight": pop.weights,
                       "distance": pop.distances})
    for p in spec.priors:
        df[p.name] = [pt[p.name] for pt in pop.points]
    for i, t in enumerate(spec.targets):
        df[f"stat.{t.id}"] = pop.stats[:, i]
    return df


def _parquet(path: Path, df) -> None:
    import io

    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    atomic_write_bytes(path, buf.getvalue())


def _write_generation(store: AbcStore, spec: CalibrationSpec, pop: Population) -> None:
    _parquet(store.root / GENS / f"gen_{pop.generation:03d}.parquet",
             population_frame(spec, pop))


def identifiability(ratio: float) -> str:
    if ratio < IDENTIFIED:
        return "identified"
    if ratio < WEAK:
        return "weakly identified"
    return "not identified (posterior ~ prior)"


def posterior_table(spec: CalibrationSpec, pop: Population) -> list[dict]:
    """Per parameter: prior, weighted posterior median and 10-90% interval, and that
    interval's width relative to the prior's (in the transformed space)."""
    rows = []
    for k, p in enumerate(spec.priors):
        x = np.array([pt[p.name] for pt in pop.points], float)
        q10, q50, q90 = weighted_quantile(x, pop.weights, [0.1, 0.5, 0.9])
        a, b = p.bounds()
        y10, y90 = weighted_quantile(pop.Y[:, k], pop.weights, [0.1, 0.9])
        ratio = float((y90 - y10) / (0.8 * (b - a)))
        rows.append({"parameter": p.name, "prior": p.dist, "low": p.low, "high": p.high,
                     "median": float(q50), "q10": float(q10), "q90": float(q90),
                     "width_ratio": ratio, "identifiability": identifiability(ratio)})
    return rows


def _fmt(v) -> str:
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    return f"{v:.4g}"


def _toml_value(v) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    return repr(float(v))


def _write_outputs(store: AbcStore, spec: CalibrationSpec, pops: list[Population],
                   reason: str) -> dict:
    import pandas as pd

    pop = pops[-1]
    root = store.root
    history = [{"generation": p.generation, "epsilon": p.epsilon, "particles": len(p.weights),
                "candidates": p.n_candidates,
                "simulations": p.n_candidates * spec.replicates,
                "acceptance": p.acceptance, "ess": p.ess,
                "rejected_proposals": p.n_rejected_proposals,
                "min_distance": float(p.distances.min()),
                "median_distance": float(np.median(p.distances))} for p in pops]
    hist = pd.DataFrame(history)
    atomic_write_text(root / "history.csv", hist.to_csv(index=False))
    post = population_frame(spec, pop)
    _parquet(root / "posterior.parquet", post)
    table = posterior_table(spec, pop)

    # the two candidates
    ib = int(np.argmin(pop.distances))  # first of ties: the earliest candidate
    best = dict(pop.points[ib])
    median = {}
    for p, row in zip(spec.priors, table, strict=True):
        median[p.name] = p.to_model(math.log(row["median"]) if p.log else row["median"])
    lines = [f"# Calibrated parameters: {spec.name}",
             f"# written by `cpabm calibrate` (ABC-SMC) from {spec.path.name}; stop: {reason}",
             f"# [parameters]: the posterior median of each parameter (final generation "
             f"{pop.generation}, epsilon {pop.epsilon:.4g}, {len(pop.weights)} particles)",
             f"# [best_particle]: the particle with the lowest distance ({pop.distances[ib]:.4g}; "
             f"generation {pop.generation}, candidate {int(pop.candidates[ib])})",
             "# The marginal medians are not a joint point of the posterior; with strong "
             "correlations", "# prefer the best particle, and check either with replicates.",
             "", "[parameters]"]
    lines += [f"{k} = {_toml_value(v)}" for k, v in median.items()]
    lines += ["", "[best_particle]"] + [f"{k} = {_toml_value(v)}" for k, v in best.items()]
    lines += ["", "[best_particle_info]", f"distance = {float(pop.distances[ib])!r}",
              f"generation = {pop.generation}", f"candidate = {int(pop.candidates[ib])}"]
    atomic_write_text(root / "calibrated.toml", "\n".join(lines) + "\n")

    # per-target replicate statistics of the best particle
    reps = pop.rep_stats[ib]  # (R, m)
    bt = []
    for i, t in enumerate(spec.targets):
        r = reps[:, i]
        med = float(np.median(r))
        row = {"target": t.id, "value": t.value, "lo": t.lo, "hi": t.hi, "weight": t.weight,
               "median": med, "q10": float(np.quantile(r, 0.1)),
               "q90": float(np.quantile(r, 0.9)), "z": (med - t.value) / t.scale,
               "within_tolerance": bool(t.lo <= med <= t.hi)}
        row.update({f"replicate_{j}": float(v) for j, v in enumerate(r)})
        bt.append(row)
    atomic_write_text(root / "best_particle.csv", pd.DataFrame(bt).to_csv(index=False))

    # posterior.md
    md = [f"# Calibration posterior: {spec.name}", ""]
    if spec.description:
        md += [spec.description, ""]
    md += [f"ABC-SMC, {len(pops)} generation(s), {spec.particles} particles, "
           f"{spec.replicates} replicates per candidate (replicate median), "
           f"{int(hist['simulations'].sum())} simulations. Stopped: {reason}.", "",
           f"Final generation {pop.generation}: epsilon = {pop.epsilon:.4g}, acceptance rate "
           f"{pop.acceptance:.3f}, effective sample size {pop.ess:.0f}.", "",
           "## Parameters", "",
           "Width ratio: the posterior's 10-90% interval over the prior's (in log space for "
           f"loguniform priors). Below {IDENTIFIED}: identified; {IDENTIFIED}-{WEAK}: weakly "
           f"identified; above {WEAK}: not identified (the targets barely constrain it).", "",
           "| parameter | prior | posterior median | 10-90% interval | width ratio | "
           "identifiability |", "|---|---|---|---|---|---|"]
    for r in table:
        md.append(f"| {r['parameter']} | {r['prior']} [{_fmt(r['low'])}, {_fmt(r['high'])}] | "
                  f"{r['median']:.4g} | [{r['q10']:.4g}, {r['q90']:.4g}] | "
                  f"{r['width_ratio']:.2f} | {r['identifiability']} |")
    md += ["", "## Posterior correlations", "",
           "Weighted correlations of the final particles (log scale for loguniform priors). "
           "A strong correlation means the targets fix a combination, not each parameter.", ""]
    if len(spec.priors) > 1:
        c = np.cov(pop.Y, rowvar=False, aweights=pop.weights, bias=True)
        sd = np.sqrt(np.diag(c))
        with np.errstate(invalid="ignore", divide="ignore"):
            corr = c / np.outer(sd, sd)
        md += ["| | " + " | ".join(spec.names) + " |",
               "|---" * (len(spec.names) + 1) + "|"]
        for i, n in enumerate(spec.names):
            md.append(f"| {n} | " + " | ".join(f"{corr[i, j]:.2f}" for j in range(len(spec.names)))
                      + " |")
    else:
        md.append("(one parameter)")
    md += ["", "## Targets at the best particle", "",
           f"Distance {pop.distances[ib]:.4g}. Replicate median and 10-90% over "
           f"{spec.replicates} replicates; z = (median - target) / half-width of the band.", "",
           "| target | value | band | median | 10-90% | z | within |", "|---|---|---|---|---|---|---|"]
    for r in bt:
        md.append(f"| {r['target']} | {r['value']:.4g} | [{r['lo']:.4g}, {r['hi']:.4g}] | "
                  f"{r['median']:.4g} | [{r['q10']:.4g}, {r['q90']:.4g}] | {r['z']:+.2f} | "
                  f"{'yes' if r['within_tolerance'] else 'NO'} |")
    md += ["", "## Generations", "", "| generation | epsilon | acceptance | simulations | ESS |",
           "|---|---|---|---|---|"]
    for h in history:
        md.append(f"| {h['generation']} | {h['epsilon']:.4g} | {h['acceptance']:.3f} | "
                  f"{h['simulations']} | {h['ess']:.0f} |")
    md += ["", "Files: `posterior.parquet` (final particles), `generations/gen_NNN.parquet`, "
           "`history.csv`, `calibrated.toml`, `best_particle.csv`, `marginals.png`. Method: "
           "docs/calibration_method.md.", ""]
    atomic_write_text(root / "posterior.md", "\n".join(md))
    _plot(root / "marginals.png", spec, pops)
    atomic_write_text(root / "result.json", json.dumps(
        {"stop_reason": reason, "final_generation": pop.generation, "history": history,
         "posterior": table, "best": best, "median": median}, indent=1, default=float) + "\n")
    return {"history": history, "posterior": post, "best": best, "median": median}


def _plot(path: Path, spec: CalibrationSpec, pops: list[Population]) -> None:
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = len(spec.priors)
    cols = min(k, 3)
    rows = math.ceil(k / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    cmap = plt.get_cmap("viridis")
    for i, p in enumerate(spec.priors):
        ax = axes[i // cols][i % cols]
        a, b = p.bounds()
        edges = np.linspace(a, b, 31)
        for g, pop in enumerate(pops):
            colour = cmap(g / max(len(pops) - 1, 1))
            ax.hist(pop.Y[:, i], bins=edges, weights=pop.weights, histtype="step",
                    color=colour, label=f"gen {pop.generation}", density=True,
                    linewidth=2 if g == len(pops) - 1 else 1)
        ax.set_xlabel(f"log {p.name}" if p.log else p.name)
        ax.set_xlim(a, b)
        ax.set_yticks([])
    for j in range(k, rows * cols):
        axes[j // cols][j % cols].axis("off")
    axes[0][0].legend(fontsize=7)
    fig.suptitle(f"{spec.name}: marginal posteriors by generation (weighted)")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
