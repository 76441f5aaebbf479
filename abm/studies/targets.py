"""The published figures the model is calibrated and validated against, and how each one is
measured on a model run (the child-protection side of calibration).

* ``abm/data/targets/england_2005_2011.toml`` is a verbatim copy of the targets, with their
  sources; ``abm/data/targets/casework_2006_2010.toml`` adds the published timeliness of
  assessments (checked, not fitted), ``courts_2004_2011.toml`` the descriptive evidence on
  care proceedings, ``plans_2007_2010.toml`` the published figures on child protection
  plans (each extra file maps its own targets in a ``[map]`` table);
  ``abm/data/targets/model_map.toml`` says which model output, under which
  official definition (financial year, census at 31 March, quarter of concluded cases,
  month), measures each one, and with what tolerance.
* :func:`target_statistics` measures every "main" target on one finished run.
* :func:`variant_statistics` runs the one-LA checks (front-door variants) that the review
  reports from case studies rather than national series.
* :class:`CalibrationAdapter` plugs the statistics into the generic ABC-SMC machinery
  (``abm.batch.abc``, ``cpabm calibrate``); :func:`validate` is ``cpabm validate``.

Nothing here feeds a target back into the model: targets are only read to score runs.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from abm.core import tomlio
from abm.core.errors import ConfigError
from abm.core.scenario import DATA_DIR

TARGETS_DIR = DATA_DIR / "targets"
TARGETS_FILE = TARGETS_DIR / "england_2005_2011.toml"
MAP_FILE = TARGETS_DIR / "model_map.toml"
#: Further targets files, each holding its own mapping in a ``[map]`` table (the same keys
#: as model_map.toml): the descriptive evidence on care proceedings, the published
#: timeliness of assessments, and child protection plans.
EXTRA_TARGET_FILES = (TARGETS_DIR / "courts_2004_2011.toml", TARGETS_DIR / "casework_2006_2010.toml",
                      TARGETS_DIR / "plans_2007_2010.toml")
MAP_KEYS = {"table", "indicator", "periods", "rise_from", "count", "weight", "tolerance",
            "tolerance_rel", "tolerance_abs", "scenario", "why", "from_target", "value"}
TABLES = ("fy", "quarter", "month", "reunification")
#: One-LA checks: regime and the LA run that measures them.
VARIANTS = {"triage": "multi_agency_triage", "integrated_front_door": "integrated_front_door"}
VARIANT_CHILDREN = 150_000


@dataclass(frozen=True)
class TargetSpec:
    """One published figure and how the model measures it."""

    id: str
    what: str
    source: str
    value: float
    lo: float
    hi: float
    weight: float
    table: str
    indicator: str
    periods: tuple[str, ...] = ()
    rise_from: str | None = None
    count: bool = False
    scenario: str = "main"
    why: str = ""

    def passes(self, x: float) -> bool:
        return bool(np.isfinite(x)) and self.lo <= x <= self.hi


# ------------------------------------------------------------------ reading the targets
def _band(t: dict, m: dict, value: float, where: str) -> tuple[float, float]:
    if "tolerance" in m:
        lo, hi = m["tolerance"]
        return float(lo), float(hi)
    rel = m.get("tolerance_rel", t.get("tolerance_rel"))
    ab = m.get("tolerance_abs", t.get("tolerance_abs"))
    rng = t.get("value_range")
    if rng is not None:
        lo, hi = float(rng[0]), float(rng[1])
        if ab is not None:
            lo, hi = lo - ab, hi + ab
        return lo, hi
    if rel is not None:
        return value * (1 - rel), value * (1 + rel)
    if ab is not None:
        return value - ab, value + ab
    raise ConfigError(f"{where}: no tolerance: give tolerance, tolerance_rel or tolerance_abs")


def _series_value(series: dict, sid: str, point: str, where: str) -> tuple[float, dict]:
    if sid not in series:
        raise ConfigError(f"{where}: no [[series]] with id {sid!r} in the targets file")
    s = series[sid]
    if "." in point:  # "initial.FY2006" -> s["initial"]["FY2006"]
        group, key = point.split(".", 1)
        table = s.get(group, {})
    else:
        key, table = point, s.get("points", {})
    if key not in table:
        raise ConfigError(f"{where}: series {sid!r} has no point {point!r}")
    return float(table[key]), s


def load_targets(targets_file: str | Path = TARGETS_FILE, map_file: str | Path = MAP_FILE,
                 extra: tuple[str | Path, ...] = EXTRA_TARGET_FILES) -> list[TargetSpec]:
    """Every mapped target, in the map file's order, then those of the ``extra`` files (each
    mapped by its own ``[map]`` table)."""
    tf, mf = Path(targets_file), Path(map_file)
    out = _load(tomlio.read(tf, f"targets: {tf}"), tomlio.read(mf, f"targets: {mf}"), tf, mf)
    seen = {t.id for t in out}
    for f in map(Path, extra):
        raw = tomlio.read(f, f"targets: {f}")
        more = _load(raw, raw.get("map", {}), f, f)
        twice = seen & {t.id for t in more}
        if twice:
            raise ConfigError(f"{f.name}: target id {sorted(twice)[0]!r} is defined twice")
        out += more
        seen |= {t.id for t in more}
    return out


def seed_ids() -> frozenset[str]:
    """The ids of the review's own figures: the targets of the seed file
    (:data:`TARGETS_FILE`, mapped by :data:`MAP_FILE`), apart from the descriptive evidence
    of the extra files."""
    return frozenset(t.id for t in load_targets(extra=()))


def _load(raw: dict, mapping: dict, tf: Path, mf: Path) -> list[TargetSpec]:
    by_id = {t["id"]: t for t in raw.get("target", [])}
    series = {s["id"]: s for s in raw.get("series", [])}
    out = []
    for tid, m in mapping.items():
        where = f"{mf.name} [{tid}]"
        unknown = set(m) - MAP_KEYS
        if unknown:
            k = sorted(unknown)[0]
            raise ConfigError(f"{where}: unknown key {k!r}; valid keys: {', '.join(sorted(MAP_KEYS))}")
        if m.get("table") not in TABLES:
            raise ConfigError(f"{where}: table = {m.get('table')!r}; valid: {', '.join(TABLES)}")
        if tid.startswith("series:"):
            _, sid, point = tid.split(":", 2)
            value, t = _series_value(series, sid, point, where)
            what, source = f"{t['what']} ({point})", t.get("source", "")
            t = {}
        else:
            base = m.get("from_target", tid)
            if base not in by_id:
                raise ConfigError(f"{where}: no [[target]] with id {base!r} in {tf.name}")
            t = by_id[base]
            what, source = t["what"], t.get("source", "")
            if "value" in m:
                value = float(m["value"])
            elif "value" in t:
                value = float(t["value"])
            elif "value_after" in t:
                value = float(t["value_after"])
            else:
                value = float(np.mean(t["value_range"]))
        lo, hi = _band(t, m, value, where)
        scenario = m.get("scenario", "main")
        if scenario != "main" and scenario not in VARIANTS:
            raise ConfigError(f"{where}: scenario = {scenario!r}; valid: main, "
                              f"{', '.join(VARIANTS)}")
        out.append(TargetSpec(
            id=tid, what=what, source=source, value=value, lo=lo, hi=hi,
            weight=float(m.get("weight", 1.0)), table=m["table"], indicator=m["indicator"],
            periods=tuple(m.get("periods", ())), rise_from=m.get("rise_from"),
            count=bool(m.get("count", False)), scenario=scenario, why=m.get("why", "")))
    return out


# ------------------------------------------------------------------ measuring a run
def _reunification(model) -> dict[str, float]:
    from abm.outputs.tables import reunification_table

    r = reunification_table(model)
    def rate(deciles):
        sub = r[r["skill_decile"].isin(deciles)]
        n = sub["reunifications"].sum()
        return float(1 - sub["breakdowns_52w"].sum() / n) if n > 0 else math.nan
    return {"success_low_skill": rate(range(8)), "success_high_skill": rate([8, 9])}


def _tables(model, needed: dict[str, set[str]]) -> dict:
    """Each table the targets read (``needed``: table -> indicators), with just those
    indicators (``summary(..., only=...)``: the same values, without the rest)."""
    from abm.outputs.tables import summary

    tables = {p: summary(model, p, only=needed[p]) for p in ("fy", "quarter", "month")
              if p in needed}
    if "reunification" in needed:
        tables["reunification"] = _reunification(model)
    return tables


def _measure(t: TargetSpec, tables: dict, scale: float) -> float:
    tab = tables[t.table]
    if t.table == "reunification":
        return float(tab.get(t.indicator, math.nan))
    if t.indicator not in tab.columns:
        raise ConfigError(f"target {t.id}: the model has no output {t.indicator!r} at "
                          f"'{t.table}' resolution")

    def at(periods):
        vals = [float(tab.at[p, t.indicator]) if p in tab.index else math.nan for p in periods]
        return float(np.mean(vals))
    x = at(t.periods)
    if t.rise_from is not None:  # a rise from nothing is undefined, not an error
        base = at([t.rise_from])
        return x / base - 1.0 if base != 0 else math.nan
    return x / scale if t.count else x


def target_statistics(model, targets: list[TargetSpec]) -> dict[str, float]:
    """Measure every target of scenario 'main' on a finished run (counts rescaled to 1:1)."""
    main = [t for t in targets if t.scenario == "main"]
    needed: dict[str, set[str]] = {}
    for t in main:
        needed.setdefault(t.table, set()).add(t.indicator)
    tables = _tables(model, needed)
    return {t.id: _measure(t, tables, model.spec.scale) for t in main}


def variant_scenario(regime: str, children: int = VARIANT_CHILDREN, overrides: dict | None = None):
    """The one LA the front-door case studies are compared on: FY2009-FY2010."""
    import datetime as dt

    from abm.core.params import validate_overrides
    from abm.core.scenario import small_la_scenario

    sc = small_la_scenario(children=children, years=2.0, start=dt.date(2009, 4, 6),
                           regime=regime)
    if overrides:
        sc = dataclasses.replace(sc, overrides={**sc.overrides,
                                                **validate_overrides(overrides, "variant")})
    return sc


def variant_statistics(targets: list[TargetSpec], seed: int, overrides: dict | None = None,
                       children: int = VARIANT_CHILDREN) -> dict[str, float]:
    """Measure the one-LA variant targets (each under its regime, prescriptive as 'before')."""
    from abm.core.model import ChildProtectionModel
    from abm.outputs.tables import summary

    wanted = [t for t in targets if t.scenario != "main"]
    if not wanted:
        return {}
    runs = {}
    for regime in {"prescriptive", *(VARIANTS[t.scenario] for t in wanted)}:
        m = ChildProtectionModel(variant_scenario(regime, children, overrides), rng=seed,
                                 agent_views=False).run()
        runs[regime] = summary(m, "fy")
    out = {}
    for t in wanted:
        fy = runs[VARIANTS[t.scenario]]
        x = float(np.mean([fy.at[p, t.indicator] for p in t.periods]))
        if t.scenario == "integrated_front_door":  # after / before, the same LA and seed
            before = float(np.mean([runs["prescriptive"].at[p, t.indicator] for p in t.periods]))
            x = x / before
        out[t.id] = x
    return out


# ------------------------------------------------------------------ ABC-SMC adapter
def evaluate_targets(point: dict, seed: int, context: dict):
    """One calibration run: the scenario with ``point`` applied, measured on every target
    (module level, so it pickles by name for process pools and Dask workers)."""
    from abm.core.model import ChildProtectionModel
    from abm.studies.adapter import build_scenario

    model = ChildProtectionModel(build_scenario(point, context), rng=seed, agent_views=False)
    stats = target_statistics(model.run(), context["target_specs"])
    return [(tid, "all", float(stats[tid])) for tid in context["indicators"]]


def _target_adapter_base():
    from abm.studies.adapter import CPModelAdapter
    return CPModelAdapter


class CalibrationAdapter(_target_adapter_base()):
    """The model as ``cpabm calibrate`` sees it: factors are parameters (as in sweeps);
    outputs are the targets of ``abm/data/targets`` measured on the run.

    The spec's ``[targets]`` table takes ``file`` and ``map`` (defaults: the project's
    files), ``use`` (target ids; default every 'main' target with weight > 0) and
    ``weights`` (id = weight, replacing the map's).
    """

    periods = ("all",)
    evaluate = staticmethod(evaluate_targets)
    TARGET_TABLE_KEYS = {"file", "map", "use", "weights"}

    def targets(self, table: dict, spec_dir: Path, where: str):
        from abm.batch.abc import Target

        unknown = set(table) - self.TARGET_TABLE_KEYS
        if unknown:
            k = sorted(unknown)[0]
            raise ConfigError(f"{where}: targets.{k} is not a key; valid keys: "
                              f"{', '.join(sorted(self.TARGET_TABLE_KEYS))}")
        tf = spec_dir / table["file"] if "file" in table else TARGETS_FILE
        mf = spec_dir / table["map"] if "map" in table else MAP_FILE
        specs = {t.id: t for t in load_targets(tf, mf)}
        weights = dict(table.get("weights", {}))
        for k, w in weights.items():
            if k not in specs:
                raise ConfigError(f"{where}: targets.weights.{k}: no such target; targets: "
                                  f"{', '.join(specs)}")
            if isinstance(w, bool) or not isinstance(w, (int, float)) or w < 0:
                raise ConfigError(f"{where}: targets.weights.{k} = {w!r}: a number >= 0")
        use = table.get("use")
        if use is None:
            use = [t.id for t in specs.values()
                   if t.scenario == "main" and weights.get(t.id, t.weight) > 0]
        for k in use:
            if k not in specs:
                raise ConfigError(f"{where}: targets.use: {k!r} is not a target; targets: "
                                  f"{', '.join(specs)}")
            if specs[k].scenario != "main":
                raise ConfigError(f"{where}: targets.use: {k!r} is a one-LA variant check "
                                  f"(`cpabm validate` measures it), not a statistic of this run")
        self._specs = [dataclasses.replace(specs[k], weight=float(weights.get(k, specs[k].weight)))
                       for k in use]
        return [Target(t.id, t.value, t.lo, t.hi, t.weight) for t in self._specs]

    def outputs(self, period: str, where: str) -> dict[str, str]:
        return {t.id: t.what for t in getattr(self, "_specs", [])}

    def period_labels(self, period: str) -> list[str]:
        return ["all"]

    def context(self, fixed: dict, factors: list, indicators: list[str], period: str) -> dict:
        ctx = super().context(fixed, factors, indicators, period)
        ctx["target_specs"] = [t for t in self._specs if t.id in indicators]
        return ctx

    def fingerprint(self, context: dict) -> dict:
        from abm.batch.adapter import canonical_json, sha256_text
        out = super().fingerprint(context)
        # the targets this calibration uses, as measured (not the files: editing another
        # target's entry must not invalidate a calibration in progress)
        out["targets_sha256"] = sha256_text(canonical_json(
            [dataclasses.asdict(t) for t in context["target_specs"]]))
        return out
