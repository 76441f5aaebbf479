"""The public API for researchers: load a scenario, run it, read named outcomes.

Everything here is re-exported by :mod:`abm` and listed in ``abm.__all__``; it is stable
and tested (tests/integration/test_api.py). The rest of the package is private.

    >>> import abm
    >>> sc = abm.load_scenario("small_la", warmup_weeks=52)
    >>> res = abm.run(sc, seed=1, regime="professional_judgment")
    >>> res.outcomes()["harm_missed"]            # events per financial year, mean
    >>> res.summary()                            # tidy: period, indicator, value, unit, days, weeks, kind
    >>> abm.evaluate({"hearing_slots_per_100k": 12}, scenario="small_la", seed=1)

Definitions. Every output is declared once in the indicator registry (``cpabm outputs``
lists them with units). Periods are calendar-true: a financial year's flows are the sum of
each week's flows apportioned to the days of that year the run covers (the ``days`` column
says how many), its stocks are read on census day (31 March), levels are averaged over its
days, and derived indicators (shares, rates) are computed from those. :meth:`Result.outcomes` names one scalar per indicator (the
mean over the run's *complete* financial years) and one per indicator and financial year.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from abm.core.errors import ConfigError
from abm.core.scenario import Event, Scenario, parse_events
from abm.core.scenario import load_scenario as _load_scenario

if TYPE_CHECKING:
    import pandas as pd

class Quantity(float):
    """A float that carries its unit: ``q + 1`` is a plain float, ``q.unit`` the unit."""

    unit: str

    def __new__(cls, value: float, unit: str) -> Quantity:
        q = super().__new__(cls, value)
        q.unit = unit
        return q

    def __repr__(self) -> str:
        return f"{float(self)!r} {self.unit}"

    def __reduce__(self):
        return (Quantity, (float(self), self.unit))


def load_scenario(path_or_name: str | Path, **overrides: Any) -> Scenario:
    """A validated scenario: a ``.toml`` file, or the name of a packaged scenario
    (``small_la``, ``baseline_la``). Keyword arguments override parameters of the table
    (``cpabm params``); an unknown name or an out-of-range value raises
    :class:`abm.ConfigError` naming the key, the value and the valid range."""
    if not isinstance(path_or_name, (str, Path)):
        raise ConfigError(f"load_scenario: path_or_name = {path_or_name!r} must be a path or a "
                          f"packaged scenario's name (a str or pathlib.Path), not "
                          f"{type(path_or_name).__name__}")
    return _load_scenario(path_or_name, overrides)


def _check_seed(seed: Any, where: str) -> int:
    """A root seed in the documented range [0, 2**63), checked before any work."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise ConfigError(f"{where}: seed = {seed!r} has the wrong type: a whole number in "
                          f"[0, 2**63) is needed, not {type(seed).__name__}")
    if not 0 <= int(seed) < 2**63:
        raise ConfigError(f"{where}: seed = {seed!r} is out of range: valid range is whole "
                          f"numbers in [0, 2**63)")
    return int(seed)


def _plain(value: Any) -> Any:
    """A NumPy scalar (what optimisers, SALib and the EMA Workbench hand over) as the Python
    number it holds; anything else unchanged."""
    import numpy as np

    return value.item() if isinstance(value, np.generic) else value


def _with_regime(sc: Scenario, regime: str) -> Scenario:
    from abm.core.scenario import _check_shares, load_regime

    params = load_regime(regime, f"{sc.source}: regime")
    masked = sorted(set(params) & set(sc.overrides))
    if masked:
        raise ConfigError(f"{sc.source}: regime = {regime!r}: the scenario sets "
                          f"{', '.join(masked)}, which the regime also sets; scenario values "
                          f"win over the regime, so the regime would not change them")
    from abm.core.params import make_params
    _check_shares(make_params(params, sc.overrides)._asdict(), f"{sc.source}: regime")
    return dataclasses.replace(sc, regime=regime, regime_params=params)


def _scenario(scenario: Scenario | str | Path) -> Scenario:
    if isinstance(scenario, Scenario):
        return scenario
    if isinstance(scenario, (str, Path)):
        return load_scenario(scenario)
    raise ConfigError(f"scenario = {scenario!r} must be an abm.Scenario, a path or a packaged "
                      f"scenario's name, not {type(scenario).__name__}")


def _event_table(ev: Event) -> dict[str, Any]:
    """An :class:`Event` as the table a scenario file would hold, so that it is checked as
    one (its type, its date within the calendar, its values' ranges) and a regime switch
    takes its regime's values."""
    table: dict[str, Any] = {"date": ev.date, "type": ev.type}
    if ev.type == "media_shock":
        table["magnitude"] = ev.magnitude
    elif ev.type == "regime_switch":
        table["regime"] = ev.regime
    elif ev.type == "set_parameter":
        table.update(parameter=ev.parameter, value=ev.value)
    elif ev.type == "scale_parameter":
        table.update(parameter=ev.parameter, factor=ev.value)
    return table


def run(scenario: Scenario | str | Path, *, seed: int = 0, regime: str | None = None,
        events: Iterable[Event | Mapping[str, Any]] | None = None) -> Result:
    """Run a scenario to its end with one seed and return its :class:`Result`.

    ``regime`` replaces the scenario's regime from the start of the warm-up (the regime
    names are the files of ``abm/data/regimes``). ``events`` replaces the scenario's dated
    events: a list of :class:`Event` or of tables as in a scenario file, e.g.
    ``{"date": "2011-04-04", "type": "regime_switch", "regime": "professional_judgment"}``;
    ``[]`` runs without events (no media shock). Runs with the same seed share their random
    numbers until the policy makes them differ (common random numbers)."""
    from abm.core.model import ChildProtectionModel

    _check_seed(seed, "run")
    sc = _scenario(scenario)
    if regime is not None:
        sc = _with_regime(sc, regime)
    if events is not None:
        if isinstance(events, (str, bytes, Mapping)) or not isinstance(events, Iterable):
            raise ConfigError(f"run(events=...): events = {events!r} must be a list of "
                              f"abm.Event or of event tables")
        tables = [_event_table(e) if isinstance(e, Event) else e for e in events]
        sc = dataclasses.replace(sc, events=parse_events(tables, sc, "run(events=...)"))
    if events is not None or regime is not None:
        from abm.core.scenario import _check_event_values
        _check_event_values(sc.regime_params, sc.overrides, sc.events, f"{sc.source}: run")
    model = ChildProtectionModel(sc, rng=seed, agent_views=False)
    model.run()
    res = Result(sc, int(seed), model)
    res._owns_model = True  # made here: released when the result is dropped
    return res


def _check_period(period: Any, where: str) -> None:
    from abm.core.calendar import PERIODS

    if period not in PERIODS:
        raise ConfigError(f"{where}: period = {period!r} is unknown; valid periods are "
                          f"{', '.join(repr(p) for p in PERIODS)}")


class Result:
    """One finished run. Tables are tidy (one value per row) and carry a ``unit`` column."""

    def __init__(self, scenario: Scenario, seed: int, model) -> None:
        self.scenario = scenario
        self.seed = seed
        self._model = model
        self._summaries: dict[str, pd.DataFrame] = {}  # by period
        self._owns_model = False

    def __del__(self) -> None:
        # a model that abm.run made is freed with its result (a model is a web of reference
        # cycles, which Python's collector may reach only many runs later); one stepped by
        # hand (Result.from_model) belongs to its caller
        if getattr(self, "_owns_model", False):
            try:
                self._model.release()
            except Exception:  # noqa: BLE001 - never raise from a finaliser
                pass

    @classmethod
    def from_model(cls, model) -> Result:
        """The tables of a model stepped by hand (an :class:`abm.ChildProtectionModel`), as
        far as it has run: a snapshot, so make a new one after stepping further."""
        return cls(model.spec, int(model.seed), model)

    def __repr__(self) -> str:
        return (f"<abm.Result {self.scenario.name!r} seed={self.seed} regime="
                f"{self.scenario.regime!r} (at the start) {self.scenario.start}.."
                f"{self.scenario.end}>")

    def summary(self, period: str = "fy") -> pd.DataFrame:
        """Every output per ``period`` ('fy', 'quarter' or 'month'): columns ``period``,
        ``indicator``, ``value``, ``unit``, ``days`` (the calendar days of the period that
        the run covers; a flow over a part-period covers only those days), ``weeks`` (the
        same, in weeks: ``days / 7``) and ``kind``, how the period's value is made: ``flow``
        (summed over its days), ``stock`` (on its last day: a financial year's census day),
        ``level`` (averaged over its days) or ``rate`` (derived from those)."""
        _check_period(period, "Result.summary")
        if period not in self._summaries:
            from abm.outputs.tables import summary, summary_long

            wide = summary(self._model, period)
            days = (wide["weeks"] * 7).round().astype(int)
            long = summary_long(wide.drop(columns="weeks"))
            long = long.rename(columns={period: "period"})
            long["days"] = long["period"].map(days).astype(int)
            long["weeks"] = long["days"] / 7
            long["value"] = long["value"].astype(float)
            from abm.core.indicators import BY_NAME
            long["kind"] = long["indicator"].map(lambda n: BY_NAME[n].kind)
            self._summaries[period] = long[["period", "indicator", "value", "unit", "days",
                                            "weeks", "kind"]]
        return self._summaries[period].copy()

    def la_summary(self, period: str = "fy") -> pd.DataFrame:
        """The per-LA outputs (the per-LA series and the indicators derived from them) per
        LA and ``period``: columns ``la`` (its index), ``la_code``, ``period``,
        ``indicator``, ``value``, ``unit``. LAs are synthetic (docs/ODD.md, section 6)."""
        _check_period(period, "Result.la_summary")
        from abm.outputs.tables import la_summary

        t = la_summary(self._model, period).rename(columns={period: "period"})
        t["period"] = t["period"].astype(str)
        t["value"] = t["value"].astype(float)
        return t[["la", "la_code", "period", "indicator", "value", "unit"]]

    def weekly(self) -> pd.DataFrame:
        """Every series week by week, long: week, date, month, quarter, fy, indicator,
        value, unit (national)."""
        from abm.outputs.tables import tidy

        t = tidy(self._model)
        return t.drop(columns=["la", "scenario", "seed"])

    def _period_days(self, period: str) -> dict[str, int]:
        """The calendar days each ``period`` of the run's calendar holds (a financial year:
        365 or 366)."""
        return {label: (last - first).days + 1
                for label, first, last in self._model.calendar.periods(period)}

    @property
    def complete_years(self) -> list[str]:
        """The financial years the run covers every day of (census day included): the years
        ``NAME`` outcomes average over."""
        s = self.summary("fy")
        days = s.groupby("period", sort=False)["days"].first()
        whole = self._period_days("fy")
        return [str(p) for p, d in days.items() if d == whole.get(p)]

    def outcomes(self) -> dict[str, Quantity]:
        """Named scalars with units (each a :class:`Quantity`, a float with ``.unit``):

        * ``NAME``: the indicator's mean over the run's complete financial years
          (:attr:`complete_years`; flows: per year; stocks: on census day; shares and
          rates: the mean of the yearly values). A run with no complete year gives NaN for
          every ``NAME``, with a warning: end a scenario on 31 March to have one;
        * ``NAME[FY2011]``: its value in one financial year (part-years included; see
          :meth:`summary` for the days each covers).
        """
        s = self.summary("fy")
        years = self.complete_years
        if not years:
            warnings.warn(f"{self.scenario.name}: the run ({self.scenario.start} to "
                          f"{self.scenario.end}) covers no complete financial year, so every "
                          f"NAME outcome is NaN; read NAME[FYyyyy], or end the scenario on "
                          f"31 March", stacklevel=2)
        means = s[s["period"].isin(years)].groupby("indicator")["value"].mean()  # NaN skipped
        units = s.groupby("indicator", sort=False)["unit"].first()
        out: dict[str, Quantity] = {ind: Quantity(float(means.get(ind, math.nan)), unit)
                                    for ind, unit in units.items()}
        for row in s.itertuples(index=False):
            out[f"{row.indicator}[{row.period}]"] = Quantity(row.value, row.unit)
        return out


def evaluate(params: Mapping[str, Any], *, scenario: Scenario | str | Path, seed: int = 0,
             outcomes: Iterable[str] | None = None) -> dict[str, float]:
    """One run as a function: parameter values in, named outcomes out (plain floats).

    For optimisers, workbenches (EMA Workbench, SALib) and notebooks. ``params`` maps
    parameter names (``cpabm params``) to values, applied as scenario overrides (they hold
    through regime switches); the key ``regime`` names a regime for the whole run.
    ``scenario`` is an :class:`abm.Scenario`, a path, or a packaged scenario's name
    (``small_la``); ``outcomes`` picks names of :meth:`Result.outcomes` (default: every
    indicator's mean over complete financial years, without the per-year entries)."""
    from abm.core.params import make_params, validate_overrides
    from abm.core.scenario import _check_shares

    _check_seed(seed, "evaluate")
    if not isinstance(params, Mapping):
        raise ConfigError(f"evaluate: params = {params!r} must be a mapping of parameter names "
                          f"(cpabm params) to values, not {type(params).__name__}")
    bad = [k for k in params if not isinstance(k, str)]
    if bad:
        raise ConfigError(f"evaluate: params key {bad[0]!r} must be a parameter's name (a str; "
                          f"see cpabm params)")
    sc = _scenario(scenario)  # read afresh each call (about a millisecond): edits to the
    # file, or to a file it names as its base, count at once
    params = {k: _plain(v) for k, v in params.items()}
    regime = params.pop("regime", None)
    if regime is not None:
        sc = _with_regime(sc, regime)
    where = "evaluate(params)"
    ov = {**sc.overrides, **validate_overrides(params, where)}
    _check_shares(make_params(sc.regime_params, ov)._asdict(), where)
    res = run(dataclasses.replace(sc, overrides=ov), seed=seed)
    got = res.outcomes()
    del res  # its model is released now (Result.__del__), not at the next full collection
    if outcomes is None:
        return {k: float(v) for k, v in got.items() if "[" not in k}
    names = [outcomes] if isinstance(outcomes, str) else list(outcomes)
    unknown = [n for n in names if n not in got]
    if unknown:
        import difflib
        close = difflib.get_close_matches(unknown[0], list(got), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ConfigError(f"evaluate(outcomes=...): {unknown[0]!r} is not an outcome{hint}; "
                          f"outcomes are indicator names (cpabm outputs), or NAME[FY2011]")
    return {n: float(got[n]) for n in names}


def posterior_draws(folder: str | Path, k: int, *, seed: int = 0,
                    scenario: Scenario | str | Path | None = None) -> list[dict[str, Any]]:
    """``k`` parameter sets drawn by weight from the final generation of a finished
    calibration (``cpabm calibrate --out``: the project's is ``results/calibration/abc``),
    each with the calibration's own ``[fixed]`` values, for :func:`evaluate` or
    :func:`load_scenario`. Draw ``r`` is the one replication ``r`` of a sweep with
    ``[posterior]`` and this ``seed`` runs, and does not depend on ``k``.

    With ``scenario``, the parameters it sets itself (its ``[parameters]``) and those any
    regime sets are left out of the draws, as a sweep leaves them: a draw then changes
    neither the scenario's deliberate values nor what a regime prescribes. Without it, every
    parameter of the posterior is drawn."""
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= 100_000:
        raise ConfigError(f"posterior_draws: k = {k!r} is out of range: a whole number in "
                          f"[1, 100000]")
    draws = _posterior(folder, seed, scenario, "posterior_draws")
    return [draws.point(r) for r in range(k)]


def _posterior(folder: str | Path, seed: int, scenario, where: str):
    """The draws of the calibration in ``folder`` (:class:`abm.batch.draws.PosteriorDraws`),
    checked against the model's parameters, leaving out what ``scenario`` (if given) and the
    regimes set. Shared by :func:`posterior_draws` and ``cpabm validate --posterior``."""
    from abm.batch.draws import from_folder
    from abm.core.params import PARAMETERS
    from abm.core.scenario import load_regime, regime_names

    _check_seed(seed, where)

    def check(name: str, at: str) -> None:
        if name not in PARAMETERS:
            raise ConfigError(f"{at} is not a model parameter (cpabm params)")

    keep: set[str] = set()
    if scenario is not None:
        from abm.studies.adapter import set_by_scenario
        keep = set_by_scenario(_scenario(scenario),
                               [load_regime(name, where) for name in regime_names()])
    root = Path(folder)
    if not root.is_dir():
        raise ConfigError(f"{where}: folder = {str(folder)!r}: no such folder")
    return from_folder(root.resolve(), seed, check, keep, f"{where}: folder = {str(folder)!r}",
                       shown=str(folder))


def outcome_units() -> dict[str, str]:
    """The unit of every indicator (the outcome ``NAME`` and ``NAME[FYyyyy]`` share it)."""
    from abm.core.indicators import units
    return {k: v for k, v in units().items() if k != "weeks"}


__all__ = ["Quantity", "Result", "evaluate", "load_scenario", "outcome_units",
           "posterior_draws", "run"]
