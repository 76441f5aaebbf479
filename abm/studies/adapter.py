"""The adapter between the generic sweep machinery and the child protection model.

This is the only module of :mod:`abm.batch` that knows the model. A spec names it with
``[model] adapter = "abm.studies.adapter"`` (the default) and gives the base scenario::

    [model]
    scenario = "../scenarios/england_2011_2015.toml"   # relative to the spec file

Factors are parameter names from the table (``cpabm params``), plus ``regime``, whose values
are regime names (``abm/data/regimes/*.toml``). A factor's value is a scenario override,
so it wins over the regime and holds through ``regime_switch`` events; ``regime`` replaces
the scenario's regime from the start of the warm-up.

``events`` (in [fixed] or in the arms of a variants design) replaces the base scenario's
dated events with a list of event tables as in a scenario file, e.g. ``events = [{ date =
2011-04-04, type = "regime_switch", regime = "professional_judgment" }]``; ``events = []``
runs without events (no media shock). Policy designs are arms that differ in their events.

Outputs: every output of the indicator registry (``abm.core.indicators``) at the sweep's
period (``"fy"``, ``"quarter"`` or ``"month"``), under its official definition (flows summed,
stocks on census day or at the period's end, levels averaged, derived indicators from those),
read with :func:`abm.outputs.tables.summary`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from abm.batch.adapter import (
    Adapter,
    FactorInfo,
    canonical_json,
    sha256_text,
    source_fingerprint,
    suggest,
)
from abm.core.errors import ConfigError

ABM_ROOT = Path(__file__).resolve().parent.parent
#: where the code that decides a run's result starts: the model, its outputs and scenarios,
#: this adapter and the runner (seeds, designs, result tables); everything they import
#: (kernels included) is followed, and the data files are added
CODE_ENTRIES = ["core/model.py", "outputs/tables.py", "core/scenario.py", "studies/adapter.py",
                "batch/runner.py"]
#: imported on the way but without effect on results (post-processing, plumbing)
CODE_SKIP = ("__init__.py", "batch/__init__.py", "batch/summary.py", "batch/sensitivity.py",
             "batch/executors.py", "batch/store.py", "studies/__init__.py")


def code_files() -> list[Path]:
    from abm.batch.adapter import import_closure
    data = sorted(p for p in (ABM_ROOT / "data").rglob("*") if p.is_file())
    return import_closure(ABM_ROOT, CODE_ENTRIES, CODE_SKIP) + data


def _regime_names() -> tuple[str, ...]:
    from abm.core.scenario import regime_names
    return tuple(regime_names())


def outputs() -> dict[str, str]:
    """Every output the adapter can report, with its unit (the same at every period)."""
    from abm.core.indicators import units
    return units()


# ------------------------------------------------------------------ per run (workers)
def set_by_scenario(scenario, regimes) -> set[str]:
    """The parameters a scenario sets itself (its overrides, its regime's) and those the
    given regimes' parameter tables set: what a posterior draw leaves alone."""
    keys = set(scenario.overrides) | set(scenario.regime_params)
    for params in regimes:
        keys |= set(params)
    return keys


def build_scenario(point: dict, context: dict, where: str = "design point"):
    """The base scenario with one design point applied (validated)."""
    from abm.core.params import make_params, validate_overrides
    from abm.core.scenario import _check_shares

    base = context["scenario"]
    params = {k: v for k, v in point.items() if k not in ("regime", "events")}
    overrides = {**base.overrides, **validate_overrides(params, where)}
    if "regime" in point:
        regime, regime_params = point["regime"], context["regimes"][point["regime"]]
    else:
        regime, regime_params = base.regime, base.regime_params
    _check_shares(make_params(regime_params, overrides)._asdict(), where)
    events = _events(point["events"], context) if "events" in point else base.events
    return dataclasses.replace(base, regime=regime, regime_params=regime_params,
                               overrides=overrides, events=events)


def _events(tables: list[dict], context: dict) -> list:
    """Event objects from normalised event tables (:meth:`CPModelAdapter.check_events`);
    a regime switch takes its regime's values from the context (no file access)."""
    import datetime as dt

    from abm.core.scenario import Event, parse_events

    base = context["scenario"]
    out = []
    for t in tables:
        if t["type"] == "regime_switch":
            out.append(Event(dt.date.fromisoformat(t["date"]), "regime_switch",
                             regime=t["regime"],
                             regime_params=tuple(context["regimes"][t["regime"]].items())))
        else:
            out.append(t)
    return parse_events(out, base, "events")


def evaluate(point: dict, seed: int, context: dict):
    """One run: build the scenario, run the model with ``seed``, return the tidy outputs
    ``(indicator, period, value)``, indicator by indicator in period order."""
    import numpy as np
    import pandas as pd

    from abm.core.model import ChildProtectionModel
    from abm.outputs.tables import summary

    model = ChildProtectionModel(build_scenario(point, context), rng=seed, agent_views=False)
    model.run()
    table = summary(model, context["period"])
    inds = list(context["indicators"])
    values = table[inds].to_numpy(dtype=float).T  # indicators x periods
    periods = [str(p) for p in table.index]
    return pd.DataFrame({"indicator": np.repeat(inds, len(periods)),
                         "period": np.tile(periods, len(inds)),
                         "value": values.ravel()})


def _tiny_run():
    import datetime as dt

    from abm.core.model import ChildProtectionModel
    from abm.core.scenario import small_la_scenario

    sc = small_la_scenario(children=3000, years=1, start=dt.date(2008, 4, 7), warmup_weeks=4)
    sc.end = sc.start + dt.timedelta(weeks=8)
    return ChildProtectionModel(sc, rng=0, agent_views=False).run()


def warm(context: dict | None = None) -> None:
    """Compile (first time ever) or load (from the on-disk cache) every Numba kernel, with
    one tiny run. Done once in the parent before fanning out: concurrent cache builds in
    several processes can crash workers (numba issues 4807, 10128)."""
    _tiny_run()


# ------------------------------------------------------------------ the adapter (parent)
class CPModelAdapter(Adapter):
    periods = ("fy", "quarter", "month")
    preload = ("abm.core.model", "abm.outputs.tables")
    packages = ("numpy", "numba", "llvmlite", "mesa", "pandas")
    model_keys = frozenset({"scenario"})
    evaluate = staticmethod(evaluate)
    warm = staticmethod(warm)

    def __init__(self, table: dict, spec_dir: Path, where: str):
        super().__init__(table, spec_dir, where)
        from abm.core.scenario import load_scenario

        s = table.get("scenario")
        if s is None:
            raise ConfigError(f"{where}: [model] needs 'scenario', the base scenario file "
                              f"(relative to the spec), e.g. scenario = "
                              f"\"../scenarios/small_la.toml\"")
        if not isinstance(s, str) or not s:
            raise ConfigError(f"{where}: model.scenario = {s!r} must be the path of a scenario "
                              f"file (.toml)")
        path = spec_dir / s
        if not path.is_file():
            raise ConfigError(f"{where}: model.scenario = {s!r}: no such file ({path}); the "
                              f"path is relative to the spec's folder")
        try:
            self.base = load_scenario(path)
        except ConfigError as e:
            raise ConfigError(f"{where}: model.scenario = {s!r} is not a valid scenario: "
                              f"{e}") from None
        self.scenario_path = path
        self._regimes: dict[str, dict] = {}

    # -- factors ----------------------------------------------------------------------
    def factor_names(self) -> list[str]:
        from abm.core.params import PARAMETERS
        return [*PARAMETERS, "regime", "events"]

    def factor(self, name: str, where: str) -> FactorInfo:
        from abm.core.params import PARAMETERS

        if name == "regime":
            return FactorInfo("category", options=_regime_names())
        if name == "events":
            return FactorInfo("value", check=self.check_events,
                              what="a list of dated events (tables with date, type, ...), "
                                   "which replaces the scenario's events")
        if name not in PARAMETERS:
            raise ConfigError(f"{where}: unknown factor '{name}'"
                              f"{suggest(name, self.factor_names())}; a factor is a model "
                              f"parameter (`cpabm params`) or 'regime'")
        s = PARAMETERS[name]
        if s.type == "bool":
            return FactorInfo("bool", unit=s.unit)
        return FactorInfo(s.type, lo=s.lo, hi=s.hi, unit=s.unit)

    def check_events(self, value, where: str) -> list[dict]:
        """Validate an event list against the base scenario's calendar; return it as plain
        tables (ISO dates, sorted by date; notes dropped) for the manifest and run keys."""
        from abm.core.scenario import parse_events

        if not isinstance(value, list):
            raise ConfigError(f"{where} = {value!r} must be a list of event tables, e.g. "
                              f"[{{ date = 2011-04-04, type = \"regime_switch\", regime = "
                              f"\"professional_judgment\" }}], or [] for none")
        for i, e in enumerate(value):
            if isinstance(e, dict) and e.get("type") == "regime_switch":
                self._regime_checked(e.get("regime"), f"{where}[{i}]")
        events = parse_events(value, self.base, where)
        out = []
        for e in events:
            t = {"date": e.date.isoformat(), "type": e.type}
            if e.type == "media_shock":
                t["magnitude"] = e.magnitude
            elif e.type == "regime_switch":
                t["regime"] = e.regime
            elif e.type == "set_parameter":
                t.update(parameter=e.parameter, value=e.value)
            else:
                t.update(parameter=e.parameter, factor=e.value)
            out.append(t)
        return out

    def _regime_checked(self, name, where: str) -> dict:
        from abm.core.scenario import load_regime
        if not isinstance(name, str) or name not in self._regimes:
            self._regimes[name] = load_regime(name, where)
        return self._regimes[name]

    def _regime(self, name: str) -> dict:
        from abm.core.scenario import load_regime
        if name not in self._regimes:
            self._regimes[name] = load_regime(name, str(self.scenario_path))
        return self._regimes[name]

    def _raw_context(self) -> dict:
        return {"scenario": self.base, "regimes": self._regimes}

    def check_fixed(self, fixed: dict, where: str) -> None:
        if "regime" in fixed:
            self._regime(fixed["regime"])
        try:
            self.base = build_scenario(fixed, self._raw_context(), f"{where}: [fixed]")
        except ConfigError as e:
            raise ConfigError(str(e)) from None

    def check_point(self, point: dict, where: str) -> None:
        if "regime" in point:
            self._regime(point["regime"])
            # a scenario's [parameters] win over its regime: they would mask the factor
            masked = sorted(set(self._regime(point["regime"]))
                            & (set(self.base.overrides) - set(point)))
            if masked:
                raise ConfigError(
                    f"{where}: the base scenario (or [fixed]) sets {', '.join(masked)}, "
                    f"which regime '{point['regime']}' also sets; scenario values win over the "
                    f"regime, so the regime factor would not change them. Remove them from "
                    f"{self.scenario_path.name} / [fixed], or vary them as factors")
        build_scenario(point, self._raw_context(), where)

    # -- outputs ----------------------------------------------------------------------
    def outputs(self, period: str, where: str) -> dict[str, str]:
        return outputs()

    def counts(self, period: str, indicators: list[str]) -> list[str]:
        """Flows that count events or people (not money, not exposure in *-weeks)."""
        from abm.core.indicators import BY_NAME
        return [i for i in indicators if BY_NAME[i].kind == "flow"
                and BY_NAME[i].unit != "GBP" and not BY_NAME[i].unit.endswith("-weeks")]

    def period_labels(self, period: str) -> list[str]:
        from abm.core.calendar import Calendar
        return Calendar(self.base.start, self.base.end).labels(period)

    # -- what runs need, and what decides their results --------------------------------
    def context(self, fixed: dict, factors: list, indicators: list[str], period: str) -> dict:
        for f in factors:
            if f.name == "regime":
                for r in f.values:
                    self._regime(r)
        return {"scenario": self.base, "regimes": dict(self._regimes),
                "indicators": list(indicators), "period": period}

    def set_by_model(self, context: dict) -> set[str]:
        """The base scenario's own parameters (with [fixed]) and every regime's in use: a
        posterior draw changes neither a scenario's deliberate values nor what a regime
        prescribes."""
        return set_by_scenario(context["scenario"], context["regimes"].values())

    def config(self) -> dict:
        # the scenario enters the identity by content (fingerprint), not by path
        return {}

    def fingerprint(self, context: dict) -> dict:
        sc = dataclasses.asdict(context["scenario"])
        sc.pop("source", None)
        return {
            "scenario_name": context["scenario"].name,
            "scenario_sha256": sha256_text(canonical_json(sc)),
            "regimes_sha256": sha256_text(canonical_json(context["regimes"])),
            "code_sha256": source_fingerprint(ABM_ROOT, code_files()),
        }

    def lock_file(self) -> Path | None:
        return ABM_ROOT.parent / "requirements.lock"


Adapter = CPModelAdapter
