"""The calibration spec: its sections and keys, their validation, and the run identity.

:func:`load_calibration_spec` reads a spec (TOML) and checks every key before anything
runs; a mistake raises :class:`abm.core.errors.ConfigError` naming the file, the key, the
value and what is valid. :class:`CalibrationSpec` holds the validated spec, and its
:meth:`~CalibrationSpec.identity`: everything that decides which simulation runs which
point with which seed, and which candidates are accepted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from abm.batch.abc.priors import DISTS, KERNELS, Prior
from abm.batch.abc.targets import Target, _is_number, check_targets, default_targets
from abm.batch.adapter import (
    Adapter,
    FactorInfo,
    canonical_json,
    load_adapter,
    sha256_text,
    source_fingerprint,
    suggest,
)
from abm.batch.spec import whole_number
from abm.core import tomlio
from abm.core.errors import ConfigError
from abm.core.io import safe_name

SECTIONS = ("calibration", "model", "fixed", "priors", "targets")
CALIBRATION_KEYS = ("name", "description", "particles", "generations", "replicates", "seed",
                    "quantile", "min_acceptance", "max_simulations_per_generation",
                    "batch_size", "min_epsilon_decrease", "min_epsilon", "kernel",
                    "min_generations")
#: settings that only decide *when to stop*: they may change when resuming
BUDGET_KEYS = ("generations", "min_acceptance", "max_simulations_per_generation",
               "min_epsilon_decrease", "min_epsilon", "min_generations")
PRIOR_KEYS = ("dist", "low", "high")
#: columns of the particle tables; a prior cannot take these names
COLUMNS = ("generation", "particle", "candidate", "weight", "distance")
DEFAULTS = {"quantile": 0.5, "min_acceptance": 0.01, "min_epsilon_decrease": 0.01,
            "min_epsilon": 0.0}
MAX_SEED = 2**63
FORMAT = "cpabm-abc/1"
DEFAULT_ADAPTER = "abm.studies.adapter"
PACKAGE = Path(__file__).resolve().parent
#: the engine's modules whose code decides which simulations run and which candidates are
#: accepted (in the run identity); the others (``__init__.py``, ``report.py``,
#: ``posterior.py``) only re-export, write the outputs or read them back
ENGINE_MODULES = ("spec.py", "targets.py", "priors.py", "smc.py", "store.py")


def engine_sha256() -> str:
    """SHA-256 of the engine's source (:data:`ENGINE_MODULES`)."""
    return source_fingerprint(PACKAGE, [PACKAGE / m for m in ENGINE_MODULES])


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
    kernel: str
    min_generations: int
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
                "engine_sha256": engine_sha256(),
                "fixed": self.fixed,
                "priors": {p.name: p.as_dict() for p in self.priors},
                "targets": [t.__dict__ for t in self.targets],
                "period": self.period,
                "particles": self.particles,
                "replicates": self.replicates,
                "seed": self.seed,
                "quantile": self.quantile,
                "batch_size": self.batch_size,
                "kernel": self.kernel,
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
    return whole_number(t[key], f"calibration.{key}", where, lo, hi, what)


def _float(t: dict, key: str, where: str, lo: float, hi: float, lo_open: bool, hi_open: bool,
           what: str = "") -> float:
    v = t.get(key, DEFAULTS[key])
    rng = f"{'(' if lo_open else '['}{lo}, {hi}{')' if hi_open else ']'}"
    ok = _is_number(v) and (v > lo if lo_open else v >= lo) and (v < hi if hi_open else v <= hi)
    if not ok:
        raise ConfigError(f"{where}: calibration.{key} = {v!r} is out of range: valid range is "
                          f"{rng}{what}")
    return float(v)


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
    raw, text = tomlio.read_with_text(path)
    unknown = set(raw) - set(SECTIONS)
    if unknown:
        k = sorted(unknown)[0]
        raise ConfigError(f"{where}: unknown section [{k}]{suggest(k, SECTIONS)}; sections are "
                          f"{', '.join('[' + s + ']' for s in SECTIONS)}")

    cal = _section(raw, "calibration", where, required=True)
    _unknown(cal, CALIBRATION_KEYS, "calibration", where)
    name = safe_name(cal.get("name", path.stem), "calibration.name", where)
    description = cal.get("description", "")
    if not isinstance(description, str):
        raise ConfigError(f"{where}: calibration.description = {description!r} must be a string")
    particles = _int(cal, "particles", where, 2, 100_001,
                     what=" (accepted particles per generation)")
    generations = _int(cal, "generations", where, 1, 1001,
                       what=" (at most this many generations, generation 0 the prior's)")
    replicates = _int(cal, "replicates", where, 1, 10_001, what=" (simulations per candidate)")
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
    kernel = cal.get("kernel", KERNELS[0])
    if kernel not in KERNELS:
        raise ConfigError(f"{where}: calibration.kernel = {kernel!r} is unknown"
                          f"{suggest(str(kernel), KERNELS)}; valid options: {', '.join(KERNELS)}")
    n_priors = len(_section(raw, "priors", where))
    if kernel == "multivariate" and particles <= n_priors:
        raise ConfigError(f"{where}: calibration.particles = {particles} must exceed the number "
                          f"of calibrated parameters ({n_priors}) for kernel = \"multivariate\" "
                          f"(the weighted covariance of fewer particles is singular); use more "
                          f"particles (about 15 x the parameters; docs/calibration_method.md, "
                          f"\"Sizing\") or kernel = \"componentwise\"")
    min_gens = _int(cal, "min_generations", where, 1, generations + 1, default=1,
                    what=f" (no stopping rule applies before this many generations; at most "
                         f"generations = {generations})")

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
        min_epsilon_decrease=min_dec, min_epsilon=min_eps, kernel=kernel,
        min_generations=min_gens, adapter_name=adapter_name,
        adapter=adapter, fixed=fixed, priors=priors, targets=targets, period=period,
        context=context)
