"""Sweep specs: read (:func:`load_spec`, a TOML file) or build (:func:`build_spec`, a
document in memory), validate with clear errors, and normalise.

A spec has the sections ``[sweep]`` (name, description, replications, seed), ``[model]``
(the adapter and its keys, e.g. the base scenario), ``[fixed]`` (values for every run),
``[factors.NAME]``, ``[variants.NAME]`` (the named arms of a variants design, crossed with any factors),
``[design]``, ``[outputs]``, ``[metrics.NAME]``, ``[summary]`` and ``[posterior]`` (each
replication's parameters drawn from a calibration's posterior: :mod:`abm.batch.draws`).
docs/batch.md documents every key. Every error raises :class:`abm.core.errors.ConfigError`
naming the spec file, the key, the value and what is valid.

Two digests come out of a spec:

* the **run identity** -- everything that decides one run's result apart from its design
  point and replication: the adapter and its inputs' contents (scenario, regimes, model
  code), the fixed values, the outputs, the root seed, and the package versions and lock
  hash. A run's file name hashes (identity, point, replication).
* the **canonical spec** -- the identity plus the design, replications, metrics, summary
  settings, name and description, as normalised JSON (comments and formatting do not count).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from abm.batch.adapter import Adapter, canonical_json, load_adapter, sha256_text, suggest
from abm.batch.design import DESIGN_KEYS, VARIANT, Design, build_design
from abm.batch.draws import PosteriorDraws, load_draws
from abm.batch.factors import RESERVED, Factor, check_value, parse_factor
from abm.core import tomlio
from abm.core.errors import ConfigError
from abm.core.io import safe_name

SECTIONS = ("sweep", "model", "fixed", "factors", "variants", "design", "outputs", "metrics",
            "summary", "posterior")
SWEEP_KEYS = ("name", "description", "replications", "seed")
OUTPUT_KEYS = ("indicators", "period")
METRIC_KEYS = ("indicator", "periods", "stat")
SUMMARY_KEYS = ("reference", "band", "confidence")
STATS = ("mean", "sum", "min", "max", "first", "last")
DEFAULT_ADAPTER = "abm.studies.adapter"
MAX_SEED = 2**63


@dataclass(frozen=True)
class Metric:
    """A scalar per run: ``stat`` of one indicator over some periods."""

    name: str
    indicator: str
    periods: tuple | None  # None = all periods
    stat: str = "mean"

    def as_dict(self) -> dict:
        return {"indicator": self.indicator, "stat": self.stat,
                "periods": "all" if self.periods is None else list(self.periods)}


@dataclass
class Spec:
    path: Path | None  # the spec's file; None for a spec built in memory
    text: str
    name: str
    description: str
    replications: int
    seed: int
    adapter_name: str
    adapter: Adapter
    fixed: dict
    factors: list[Factor]
    design: Design
    period: str
    indicators: list[str]
    units: dict
    metrics: list[Metric]
    reference: int = 0
    band: tuple = (0.1, 0.9)
    confidence: float = 0.95
    context: dict = field(default_factory=dict)
    counts: list = field(default_factory=list)  # indicators that count events
    posterior: PosteriorDraws | None = None  # each replication's parameters, drawn
    _identity: dict | None = None

    # ------------------------------------------------------------------ digests
    def identity(self) -> dict:
        """What decides a run's result, apart from its design point and replication."""
        if self._identity is None:
            self._identity = {
                "format": 1,
                "adapter": self.adapter_name,
                "model": self.adapter.config(),
                "inputs": self.adapter.fingerprint(self.context),
                "fixed": self.fixed,
                "outputs": {"period": self.period, "indicators": self.indicators},
                "seed": self.seed,
                "environment": self.adapter.environment(),
            }
            if self.posterior is not None:  # only then: other sweeps keep their identity
                self._identity["posterior"] = self.posterior.identity()
        return self._identity

    def identity_hash(self) -> str:
        return sha256_text(canonical_json(self.identity()))

    def canonical(self) -> dict:
        """The whole spec, normalised (defaults filled in, paths replaced by contents)."""
        return {
            "identity": self.identity(),
            "name": self.name,
            "description": self.description,
            "replications": self.replications,
            "factors": {f.name: f.as_dict() for f in self.factors},
            "design": self.design.params,
            "metrics": {m.name: m.as_dict() for m in self.metrics},
            "summary": {"reference": self.design.points[self.reference] if self.design.points
                        else {}, "band": list(self.band), "confidence": self.confidence},
        }

    def canonical_hash(self) -> str:
        return sha256_text(canonical_json(self.canonical()))

    @property
    def n_runs(self) -> int:
        return len(self.design.points) * self.replications

    def run_input(self, point: int, replication: int) -> dict:
        """The model input of design point ``point`` in replication ``replication``: its
        design input, over the replication's posterior draw if the spec has one."""
        inp = self.design.inputs[point]
        return inp if self.posterior is None else {**self.posterior.point(replication), **inp}


# ------------------------------------------------------------------ helpers
def _table(raw: dict, key: str, where: str, allowed=None, required=False) -> dict:
    if key not in raw:
        if required:
            raise ConfigError(f"{where}: missing [{key}] section")
        return {}
    t = raw[key]
    if not isinstance(t, dict):
        raise ConfigError(f"{where}: {key} = {t!r} must be a table [{key}]")
    if allowed is not None:
        unknown = set(t) - set(allowed)
        if unknown:
            k = sorted(unknown)[0]
            raise ConfigError(f"{where}: {key}.{k} = {t[k]!r} is not a key of [{key}]"
                              f"{suggest(k, allowed)}; allowed keys: {', '.join(allowed)}")
    return t


#: size limits, checked before a design is built (a larger spec would exhaust memory)
MAX_REPLICATIONS = 100_000
MAX_SAMPLES = 2**20
MAX_LEVELS = 1000
MAX_RUNS = 10_000_000


def _check_size(dtype: str, params: dict, factors: list, reps: int, where: str) -> None:
    """Refuse a design with more than MAX_RUNS runs before building it."""
    k = len(factors)
    if dtype == "factorial":
        points = 1
        for f in factors:
            points *= len(f.values) if f.values is not None else (f.levels or 1)
    elif dtype == "lhs":
        points = params["samples"]
    elif dtype == "sobol":
        points = params["samples"] * ((2 * k + 2) if params["second_order"] else (k + 2))
    elif dtype == "morris":
        points = params["trajectories"] * (k + 1)
    else:
        return
    if points * reps > MAX_RUNS:
        raise ConfigError(f"{where}: the design has {points} points x {reps} replications = "
                          f"{points * reps} runs, over the limit of {MAX_RUNS}")


def whole_number(value, key: str, where: str, lo: int, hi: int | None = None,
                 what: str = "") -> int:
    """``value`` if it is a whole number in [lo, hi) (or >= lo); otherwise a ConfigError
    naming ``key``, the value and the range."""
    rng = f"[{lo}, {hi})" if hi is not None else f">= {lo}"
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{where}: {key} = {value!r} has the wrong type: expected a whole "
                          f"number {rng}{what}")
    if value < lo or (hi is not None and value >= hi):
        raise ConfigError(f"{where}: {key} = {value!r} is out of range: valid range is "
                          f"{rng}{what}")
    return value


# ------------------------------------------------------------------ the loader
def load_spec(path: str | Path, default_adapter: str = DEFAULT_ADAPTER) -> Spec:
    """Read and validate a sweep spec file. Paths in it are relative to its folder; its
    name defaults to the file's stem. Raises ConfigError; starts nothing, writes nothing."""
    path = Path(path)
    raw, text = tomlio.read_with_text(path)
    return build_spec(raw, path.resolve().parent, where=str(path), name=path.stem, path=path, text=text,
                      default_adapter=default_adapter)


def build_spec(raw: dict, base: str | Path, *, where: str, name: str | None = None,
               path: Path | None = None, text: str | None = None,
               default_adapter: str = DEFAULT_ADAPTER) -> Spec:
    """Validate a sweep spec given as a document in memory (the sections as nested dicts,
    as TOML would read them). Raises ConfigError; starts nothing, writes nothing.

    ``base`` is the folder its relative paths start from; ``where`` names the spec in error
    messages; ``name`` is the sweep's name when ``[sweep]`` gives none; ``path`` is the file
    the manifest names as the spec (none: built in memory), and ``text`` the spec's text
    for the manifest (default: the document written by :func:`abm.core.tomlio.dumps`)."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: a sweep spec is a table of sections, not "
                          f"{type(raw).__name__}")
    text = tomlio.dumps(raw) if text is None else text
    base = Path(base).resolve()
    unknown = set(raw) - set(SECTIONS)
    if unknown:
        k = sorted(unknown)[0]
        raise ConfigError(f"{where}: unknown section [{k}]{suggest(k, SECTIONS)}; sections are "
                          f"{', '.join('[' + s + ']' for s in SECTIONS)}")

    sweep = _table(raw, "sweep", where, SWEEP_KEYS, required=True)
    if "name" not in sweep and name is None:
        raise ConfigError(f"{where}: [sweep] needs 'name' (a spec built in memory has no file "
                          f"name to take it from)")
    name = safe_name(sweep.get("name", name), "sweep.name", where)
    description = sweep.get("description", "")
    if not isinstance(description, str):
        raise ConfigError(f"{where}: sweep.description = {description!r} must be a string")
    if "replications" not in sweep:
        raise ConfigError(f"{where}: [sweep] needs 'replications' (runs per design point, >= 1)")
    reps = whole_number(sweep["replications"], "sweep.replications", where, 1,
                        MAX_REPLICATIONS + 1, what=" (runs per design point)")
    if "seed" not in sweep:
        raise ConfigError(f"{where}: [sweep] needs 'seed' (the root seed, a whole number in "
                          f"[0, 2**63))")
    seed = whole_number(sweep["seed"], "sweep.seed", where, 0, MAX_SEED, " (root seed)")

    # ---- the model (adapter)
    model = _table(raw, "model", where)
    adapter_name = model.get("adapter", default_adapter)
    cls = load_adapter(adapter_name, where)
    adapter = cls(model, base, where)

    # ---- fixed values and factors
    fixed_raw = _table(raw, "fixed", where)
    fixed = {}
    for k, v in fixed_raw.items():
        info = adapter.factor(k, f"{where}: fixed.{k}")
        fixed[k] = check_value(info, v, f"{where}: fixed.{k}")
    adapter.check_fixed(fixed, where)
    factors_raw = _table(raw, "factors", where)
    factors = []
    for k, v in factors_raw.items():
        if k in fixed:
            raise ConfigError(f"{where}: factors.{k}: '{k}' is also in [fixed]; a value is "
                              f"either fixed or varied")
        info = adapter.factor(k, f"{where}: factors.{k}")
        factors.append(parse_factor(k, v, info, where))

    # ---- the design
    design_raw = _table(raw, "design", where)
    dtype = design_raw.get("type", "factorial")
    if not isinstance(dtype, str) or dtype not in DESIGN_KEYS:
        raise ConfigError(f"{where}: design.type = {dtype!r} is unknown{suggest(str(dtype), DESIGN_KEYS)}; "
                          f"valid options: {', '.join(DESIGN_KEYS)}")
    unknown = set(design_raw) - set(DESIGN_KEYS[dtype])
    if unknown:
        k = sorted(unknown)[0]
        raise ConfigError(f"{where}: design.{k} = {design_raw[k]!r} is not a key of a {dtype} "
                          f"design; its keys: {', '.join(DESIGN_KEYS[dtype])}")
    if dtype == "variants":
        for f in factors:  # crossed with every arm: fixed levels, as in a factorial design
            if f.continuous and f.levels is None:
                raise ConfigError(
                    f"{where}: factors.{f.name}: a variants design crosses its arms with fixed "
                    f"levels of each factor; give 'values' or add 'levels = N' to its range")
        variants = _variants(raw, fixed, adapter, where)
        for f in factors:
            setters = [n for n, ov in variants.items() if f.name in ov]
            if setters:
                raise ConfigError(
                    f"{where}: variants.{setters[0]}.{f.name}: '{f.name}' is also a factor "
                    f"crossed with every arm; a value is either set by arms or varied")
        params = {"type": "variants", "variants": variants,
                  "reference": _variant_reference(design_raw, variants, where)}
        # what the adapter sees as varied: every key some variant sets, with its values,
        # and the crossed factors
        varied = _varied(variants, adapter, where) + factors
    else:
        if "variants" in raw:
            raise ConfigError(f"{where}: [variants] is only read by a variants design; add "
                              f"design.type = \"variants\" (and remove [factors]), or remove "
                              f"[variants]")
        params = _design_params(dtype, design_raw, factors, seed, where)
        varied = factors
    _check_size(dtype, params, factors, reps, where)
    design = build_design(factors, params)
    factors = design.factors  # a variants design: the arm's name, then any crossed factors

    # ---- outputs and metrics
    outputs = _table(raw, "outputs", where, OUTPUT_KEYS, required=True)
    period = outputs.get("period", adapter.periods[0])
    if period not in adapter.periods:
        raise ConfigError(f"{where}: outputs.period = {period!r} is not valid; valid options: "
                          f"{', '.join(adapter.periods)}")
    available = adapter.outputs(period, where)
    indicators = outputs.get("indicators")
    if not isinstance(indicators, list) or not indicators:
        raise ConfigError(f"{where}: outputs.indicators = {indicators!r} must be a non-empty "
                          f"list of indicator names; valid names at period '{period}': "
                          f"{', '.join(available)}")
    for i, ind in enumerate(indicators):
        if ind not in available:
            raise ConfigError(f"{where}: outputs.indicators[{i}] = {ind!r} is not an output "
                              f"at period '{period}'{suggest(str(ind), available)}; valid names: "
                              f"{', '.join(available)}")
    if len(set(indicators)) != len(indicators):
        dup = next(x for x in indicators if indicators.count(x) > 1)
        raise ConfigError(f"{where}: outputs.indicators lists {dup!r} twice")
    labels = adapter.period_labels(period)
    metrics = _metrics(raw, where, indicators, labels, [f.name for f in factors])

    # ---- summary settings
    summ = _table(raw, "summary", where, SUMMARY_KEYS)
    band = summ.get("band", [0.1, 0.9])
    if (not isinstance(band, list) or len(band) != 2
            or not all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in band)
            or not 0 <= band[0] < band[1] <= 1):
        raise ConfigError(f"{where}: summary.band = {band!r} must be two quantiles "
                          f"[lo, hi] with 0 <= lo < hi <= 1, e.g. [0.1, 0.9]")
    conf = summ.get("confidence", 0.95)
    if isinstance(conf, bool) or not isinstance(conf, (int, float)) or not 0 < conf < 1:
        raise ConfigError(f"{where}: summary.confidence = {conf!r} is out of range: valid "
                          f"range is (0, 1), e.g. 0.95")

    # ---- every design point must be a valid model input, checked before anything runs
    for i, (p, inp) in enumerate(zip(design.points, design.inputs, strict=True)):
        what = (f"variants.{p[VARIANT]}" if dtype == "variants" else f"design point {i} {p}")
        adapter.check_point(inp, f"{where}: {what}")
    if dtype == "variants":
        if "reference" in summ:
            raise ConfigError(f"{where}: summary.reference = {summ['reference']!r}: a variants "
                              f"design names its reference as design.reference = \"NAME\" (a "
                              f"variant: {', '.join(params['variants'])})")
        reference = next(i for i, p in enumerate(design.points)
                         if p[VARIANT] == params["reference"])
    else:
        reference = _reference(summ.get("reference"), design, where)
    context = adapter.context(fixed, varied, indicators, period)
    posterior = None
    if "posterior" in raw:
        mine = set(fixed) | {f.name for f in varied} | adapter.set_by_model(context)
        posterior = load_draws(_table(raw, "posterior", where), base, where, seed, adapter,
                               mine)
        first = {**posterior.point(0), **design.inputs[reference]}
        adapter.check_point(first, f"{where}: [posterior], replication 0")
    units = {k: available[k] for k in indicators}
    counts = [k for k in adapter.counts(period, list(indicators)) if k in units]
    return Spec(path=path, text=text, name=name, description=description, replications=reps,
                seed=seed, adapter_name=adapter_name, adapter=adapter, fixed=fixed,
                factors=factors, design=design, period=period, indicators=list(indicators),
                units=units, counts=counts, metrics=metrics, reference=reference,
                band=(float(band[0]), float(band[1])), confidence=float(conf), context=context,
                posterior=posterior)


def _design_params(dtype: str, raw: dict, factors: list[Factor], root_seed: int,
                   where: str) -> dict:
    params: dict[str, Any] = {"type": dtype}
    if dtype == "factorial":
        for f in factors:
            if f.continuous and f.levels is None:
                raise ConfigError(
                    f"{where}: factors.{f.name}: a factorial design crosses fixed levels; give "
                    f"'values' or add 'levels = N' to its range (or use design.type = \"lhs\", "
                    f"\"sobol\" or \"morris\" to sample the range)")
        return params
    if not factors:
        raise ConfigError(f"{where}: design.type = {dtype!r} needs at least one factor with a "
                          f"range ([factors.NAME] range = [lo, hi])")
    for f in factors:
        if not f.continuous:
            what = (f"a {f.kind} factor" if f.kind in ("category", "bool")
                    else "a factor with a fixed list of values")
            raise ConfigError(
                f"{where}: factors.{f.name}: a {dtype} design samples every factor from a "
                f"range, but '{f.name}' is {what} ({list(f.values)!r}); give it a range, move "
                f"it to [fixed], or use design.type = \"factorial\"")
        if f.levels is not None:
            raise ConfigError(f"{where}: factors.{f.name}.levels: 'levels' is for factorial "
                              f"designs; a {dtype} design samples the range")
    if "seed" in raw:
        params["seed"] = whole_number(raw["seed"], "design.seed", where, 0, 2**32,
                                      " (sampler seed)")
    else:  # default: the root seed, folded into the samplers' 32-bit range
        params["seed"] = root_seed % 2**32
    if dtype in ("lhs", "sobol"):
        if "samples" not in raw:
            raise ConfigError(f"{where}: a {dtype} design needs design.samples "
                              + ("(number of points)" if dtype == "lhs" else
                                 "(N, a power of 2; the design has N*(k+2) points)"))
        n = whole_number(raw["samples"], "design.samples", where, 2, MAX_SAMPLES + 1)
        if dtype == "sobol":
            if n & (n - 1):
                lo = 2 ** int(math.log2(n))
                raise ConfigError(f"{where}: design.samples = {n} must be a power of 2 for a "
                                  f"Sobol' sequence (e.g. {lo} or {lo * 2})")
            so = raw.get("second_order", False)
            if not isinstance(so, bool):
                raise ConfigError(f"{where}: design.second_order = {so!r} must be true or false")
            if so and len(factors) < 2:
                raise ConfigError(f"{where}: design.second_order = true needs at least two "
                                  f"factors")
            params["second_order"] = so
        params["samples"] = n
    if dtype == "morris":
        if "trajectories" not in raw:
            raise ConfigError(f"{where}: a morris design needs design.trajectories (r, >= 2; "
                              f"the design has r*(k+1) points)")
        params["trajectories"] = whole_number(raw["trajectories"], "design.trajectories",
                                              where, 2, MAX_SAMPLES + 1)
        lv = raw.get("levels", 4)
        if (isinstance(lv, bool) or not isinstance(lv, int) or lv < 2 or lv % 2
                or lv > MAX_LEVELS):
            raise ConfigError(f"{where}: design.levels = {lv!r} is out of range: an even whole "
                              f"number in [2, {MAX_LEVELS}] (grid levels; 4 is usual)")
        params["levels"] = lv
    return params


def _variants(raw: dict, fixed: dict, adapter: Adapter, where: str) -> dict[str, dict]:
    """``[variants.NAME]`` tables: name -> validated overrides (in file order)."""
    table = raw.get("variants")
    example = ("e.g. [variants.full] (empty: the unchanged model) and [variants.no_x] with "
               "x = false")
    if table is None or (isinstance(table, dict) and not table):
        raise ConfigError(f"{where}: a variants design needs at least one [variants.NAME] "
                          f"table of overrides, {example}")
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: variants = {table!r} must be tables [variants.NAME], "
                          f"{example}")
    out: dict[str, dict] = {}
    seen: dict[str, str] = {}
    for name, ov in table.items():
        w = f"{where}: variants.{name}"
        if not name.strip():
            raise ConfigError(f"{w}: a variant needs a non-blank name")
        if not isinstance(ov, dict):
            raise ConfigError(f"{w} = {ov!r} must be a table of overrides ([variants.{name}] "
                              f"followed by 'name = value' lines; empty for the unchanged "
                              f"model)")
        values = {}
        for k, v in ov.items():
            if k in fixed:
                raise ConfigError(f"{w}.{k} = {v!r}: '{k}' is also in [fixed] "
                                  f"({fixed[k]!r}); a value is either fixed or set by "
                                  f"variants")
            info = adapter.factor(k, f"{w}.{k} = {v!r}")
            values[k] = check_value(info, v, f"{w}.{k}")
        same = canonical_json(values)
        if same in seen:
            raise ConfigError(f"{w} = {ov!r} sets the same values as variants.{seen[same]}; "
                              f"each variant must differ (replications repeat runs)")
        seen[same] = name
        out[name] = values
    return out


def _variant_reference(design_raw: dict, variants: dict, where: str) -> str:
    names = list(variants)
    ref = design_raw.get("reference", names[0])
    if not isinstance(ref, str) or ref not in variants:
        raise ConfigError(f"{where}: design.reference = {ref!r} is not a variant"
                          f"{suggest(str(ref), names)}; valid options: {', '.join(names)}")
    return ref


def _varied(variants: dict, adapter: Adapter, where: str) -> list[Factor]:
    """The keys the variants set, as factors listing the values they take (for
    ``Adapter.context``, which prepares what every run needs, e.g. regimes)."""
    values: dict[str, list] = {}
    for ov in variants.values():
        for k, v in ov.items():
            if v not in values.setdefault(k, []):
                values[k].append(v)
    out = []
    for k, vs in values.items():
        info = adapter.factor(k, f"{where}: variants")
        out.append(Factor(k, info.kind, values=tuple(vs), unit=info.unit))
    return out


def _metrics(raw: dict, where: str, indicators: list[str], labels: list[str],
             factor_names: list[str]) -> list[Metric]:
    table = _table(raw, "metrics", where)
    if not table:  # default: one metric per indicator, its mean over all periods
        return [Metric(ind, ind, None, "mean") for ind in indicators]
    out = []
    for name, m in table.items():
        w = f"{where}: metrics.{name}"
        if name in RESERVED or name in factor_names:
            raise ConfigError(f"{w}: '{name}' is taken by a factor or a result column; "
                              f"rename the metric")
        if not isinstance(m, dict):
            raise ConfigError(f"{w} = {m!r} must be a table with 'indicator' (and optional "
                              f"'periods', 'stat')")
        unknown = set(m) - set(METRIC_KEYS)
        if unknown:
            k = sorted(unknown)[0]
            raise ConfigError(f"{w}.{k} is not a metric key; allowed keys: {', '.join(METRIC_KEYS)}")
        ind = m.get("indicator")
        if ind not in indicators:
            raise ConfigError(f"{w}.indicator = {ind!r} is not among outputs.indicators"
                              f"{suggest(str(ind), indicators)}; valid options: "
                              f"{', '.join(indicators)}")
        periods = m.get("periods", "all")
        if periods == "all":
            periods = None
        else:
            if not isinstance(periods, list) or not periods:
                raise ConfigError(f"{w}.periods = {periods!r} must be \"all\" or a non-empty "
                                  f"list of period labels ({', '.join(labels)})")
            for p in periods:
                if p not in labels:
                    raise ConfigError(f"{w}.periods: {p!r} is not a period of these runs; "
                                      f"valid labels: {', '.join(labels)}")
            periods = tuple(periods)
        stat = m.get("stat", "mean")
        if stat not in STATS:
            raise ConfigError(f"{w}.stat = {stat!r} is unknown; valid options: {', '.join(STATS)}")
        out.append(Metric(name, ind, periods, stat))
    return out


def _reference(ref, design: Design, where: str) -> int:
    if ref is None:
        return 0
    if not isinstance(ref, dict) or not ref:
        raise ConfigError(f"{where}: summary.reference = {ref!r} must be a table of factor "
                          f"values naming one design point, e.g. {{ regime = \"prescriptive\" }}")
    for k in ref:
        if k not in design.names:
            raise ConfigError(f"{where}: summary.reference.{k}: '{k}' is not a factor"
                              f"{suggest(k, design.names)}; factors: {', '.join(design.names)}")
    def same(a, b) -> bool:  # levels from linspace: 1.9 may be 1.9000000000000001
        if isinstance(a, float) and isinstance(b, (int, float)) and not isinstance(b, bool):
            return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
        return a == b

    hits = [i for i, p in enumerate(design.points)
            if all(same(p[k], v) for k, v in ref.items())]
    if len(hits) != 1:
        raise ConfigError(f"{where}: summary.reference = {ref!r} matches {len(hits)} design "
                          f"points; it must match exactly one (name more factors, or use "
                          f"values from the design)")
    return hits[0]
