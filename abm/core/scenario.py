"""Scenarios and regimes as data files, validated on load.

A scenario (a ``.toml`` file, or the name of one packaged in ``abm/data/scenarios``) names a
calendar, the places, a regime, dated events and parameter overrides. A regime (a name, looked
up in ``abm/data/regimes``) is a named bundle of parameter values. Everything is checked here, before any simulation starts: an unknown
key, a wrong type or an out-of-range value raises :class:`ConfigError` naming the file, the
key, the value and the valid range.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from abm.core import tomlio
from abm.core.calendar import Calendar
from abm.core.errors import ConfigError
from abm.core.params import PARAMETERS, Params, make_params, validate_overrides

#: The package's data: the parameter table, England's LAs, regimes, targets, small scenarios.
DATA_DIR = Path(__file__).resolve().parent.parent / "data"
REGIME_DIRS = [DATA_DIR / "regimes"]
SCENARIO_DIR = DATA_DIR / "scenarios"

SCENARIO_KEYS = {"name", "description", "start", "end", "regime", "places", "scale", "base"}
TOP_KEYS = {"scenario", "parameters", "events"}
EVENT_TYPES = {
    "media_shock": {"magnitude"},
    "regime_switch": {"regime"},
    "set_parameter": {"parameter", "value"},
    "scale_parameter": {"parameter", "factor"},
}


@dataclass(frozen=True)
class Place:
    code: str
    name: str
    children: int
    court: int


@dataclass(frozen=True)
class Event:
    date: dt.date
    type: str
    magnitude: float = 0.0
    regime: str = ""
    regime_params: tuple = ()
    parameter: str = ""
    value: Any = None


@dataclass
class Scenario:
    name: str
    description: str
    start: dt.date
    end: dt.date
    regime: str
    regime_params: dict[str, Any]
    overrides: dict[str, Any]
    places: list[Place]
    scale: float
    events: list[Event] = field(default_factory=list)
    source: str = "<memory>"

    def params(self) -> Params:
        """Parameter values at the start: defaults, then the regime, then overrides."""
        return make_params(self.regime_params, self.overrides)

    @property
    def n_children(self) -> int:
        return sum(p.children for p in self.places)


def england_las() -> list[Place]:
    """152 SYNTHETIC LAs standing for England's (sizes in children aged 0-17, totalling 11
    million) and the court centre of each; see experiments/tools/make_england_las.py."""
    text = resources.files("abm").joinpath("data/england_las.csv").read_text()
    rows = list(csv.DictReader(text.splitlines()))
    return [Place(r["code"], r["name"], int(r["children"]), int(r["court"])) for r in rows]


def load_regime(name: str, where: str) -> dict[str, Any]:
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where}: regime = {name!r} must be the name of a regime file")
    for d in REGIME_DIRS:
        path = d / f"{name}.toml"
        if path.exists():
            raw = tomlio.read(path)
            unknown = set(raw) - {"regime", "parameters"}
            if unknown:
                k = sorted(unknown)[0]
                raise ConfigError(f"{path}: unknown section '{k}'; expected [regime] and [parameters]")
            return validate_overrides(raw.get("parameters", {}), str(path))
    raise ConfigError(f"{where}: unknown regime '{name}'; known regimes: "
                      f"{', '.join(regime_names())}")


def _date(value: Any, key: str, where: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise ConfigError(f"{where}: '{key}' = {value!r} is not a date; write it as YYYY-MM-DD")


def _places(value: Any, where: str) -> list[Place]:
    if value == "england":
        return england_las()
    if isinstance(value, dict):
        unknown = set(value) - {"children", "name"}
        if unknown:
            raise ConfigError(f"{where}: places has unknown key '{sorted(unknown)[0]}'; "
                              f"a single synthetic LA takes 'children' and optional 'name'")
        n = value.get("children")
        if isinstance(n, bool) or not isinstance(n, int):
            raise ConfigError(f"{where}: places.children = {n!r} has the wrong type: expected a "
                              f"whole number of children in [100, 2000000]")
        if not (100 <= n <= 2_000_000):
            raise ConfigError(f"{where}: places.children = {n!r} is out of range: valid range is "
                              f"[100, 2000000] (children in the LA)")
        return [Place("LA", str(value.get("name", "Synthetic LA")), n, 0)]
    if isinstance(value, list) and value:
        by_code = {p.code: p for p in england_las()}
        out = []
        for code in value:
            if code not in by_code:
                raise ConfigError(f"{where}: places contains unknown LA code {code!r}; codes are "
                                  f"E001 .. E152 (see abm/data/england_las.csv)")
            out.append(by_code[code])
        return out
    raise ConfigError(f"{where}: places = {value!r} must be \"england\", a list of LA codes, or "
                      f"{{ children = N }} for one synthetic LA")


def _event(raw: Any, i: int, where: str, start: dt.date, end: dt.date) -> Event:
    w = f"{where}: events[{i}]"
    if not isinstance(raw, dict):
        raise ConfigError(f"{w} must be a table with 'date' and 'type'")
    etype = raw.get("type")
    if etype not in EVENT_TYPES:
        raise ConfigError(f"{w}: type = {etype!r} is unknown; event types are "
                          f"{', '.join(sorted(EVENT_TYPES))}")
    allowed = EVENT_TYPES[etype] | {"date", "type", "note"}
    unknown = set(raw) - allowed
    if unknown:
        raise ConfigError(f"{w}: unknown key '{sorted(unknown)[0]}' for a {etype} event; "
                          f"allowed keys: {', '.join(sorted(allowed))}")
    missing = EVENT_TYPES[etype] - set(raw)
    if "date" not in raw or missing:
        k = "date" if "date" not in raw else sorted(missing)[0]
        raise ConfigError(f"{w}: a {etype} event needs '{k}'")
    date = _date(raw["date"], "date", w)
    if not (start <= date <= end):
        raise ConfigError(f"{w}: date = {date} is outside the scenario's calendar [{start}, {end}]")
    if etype == "media_shock":
        m = raw["magnitude"]
        if isinstance(m, bool) or not isinstance(m, (int, float)) or not (0 <= m <= 10):
            raise ConfigError(f"{w}: magnitude = {m!r} is out of range: valid range is [0, 10] "
                              f"(anxiety units)")
        return Event(date, etype, magnitude=float(m))
    if etype == "regime_switch":
        params = load_regime(raw["regime"], w)
        return Event(date, etype, regime=raw["regime"], regime_params=tuple(params.items()))
    if etype == "set_parameter":
        key = raw["parameter"]
        v = validate_overrides({key: raw["value"]}, w)[key]
        return Event(date, etype, parameter=key, value=v)
    # scale_parameter: multiply the parameter's current value by factor (capacity changes)
    key, f = raw["parameter"], raw["factor"]
    if key not in PARAMETERS:
        validate_overrides({key: f}, w)  # raises with the unknown-name message and suggestion
    if PARAMETERS[key].type != "float":
        raise ConfigError(f"{w}: parameter = {key!r} must name a numeric (float) parameter")
    if isinstance(f, bool) or not isinstance(f, (int, float)) or not (0 <= f <= 100):
        raise ConfigError(f"{w}: factor = {f!r} is out of range: valid range is [0, 100]")
    return Event(date, etype, parameter=key, value=float(f))


def _raw_scenario(path: Path, seen: tuple = ()) -> tuple[dict, dict, list, str]:
    """Read and check one scenario file, following ``base``: returns the merged [scenario]
    table, the merged (validated) parameters, the raw events, and the file's name. Errors in
    a base file are reported against the base file."""
    where = str(path)
    if path.resolve() in seen:
        raise ConfigError(f"{where}: 'base' chain loops back to this file")
    raw = tomlio.read(path)
    unknown = set(raw) - TOP_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown section '{sorted(unknown)[0]}'; expected "
                          f"[scenario], [parameters] and [[events]]")
    sc = raw.get("scenario")
    if not isinstance(sc, dict):
        raise ConfigError(f"{where}: missing [scenario] section")
    unknown = set(sc) - SCENARIO_KEYS
    if unknown:
        k = sorted(unknown)[0]
        raise ConfigError(f"{where}: unknown key '{k}' in [scenario]; allowed keys: "
                          f"{', '.join(sorted(SCENARIO_KEYS))}")
    params = raw.get("parameters", {})
    if not isinstance(params, dict):
        raise ConfigError(f"{where}: parameters = {params!r}: [parameters] must be a table of name = value")
    params = validate_overrides(params, where)
    events = raw.get("events", [])
    if not isinstance(events, list):
        raise ConfigError(f"{where}: events = {events!r} must be an array of tables [[events]]")
    events = [(e, where) for e in events]
    sc = dict(sc)
    if "base" in sc:
        b = sc.pop("base")
        if not isinstance(b, str) or not b:
            raise ConfigError(f"{where}: base = {b!r} must be the path of another scenario file")
        bsc, bparams, bevents, _ = _raw_scenario((path.parent / b), seen + (path.resolve(),))
        sc = {**bsc, **sc}
        params = {**bparams, **params}
        events = bevents + events
    return sc, params, events, where


def regime_names() -> list[str]:
    """The regimes known by name."""
    return sorted({p.stem for d in REGIME_DIRS if d.exists() for p in d.glob("*.toml")})


def scenario_path(path_or_name: str | Path) -> Path:
    """The file of a scenario: a path, or the name of a packaged scenario (``small_la``)."""
    path = Path(path_or_name)
    if path.suffix != ".toml" and len(path.parts) == 1 and (SCENARIO_DIR / f"{path}.toml").is_file():
        return SCENARIO_DIR / f"{path}.toml"
    return path


def packaged_scenarios() -> list[str]:
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.toml"))


def load_scenario(path: str | Path, overrides: dict[str, Any] | None = None) -> Scenario:
    """Load and validate a scenario: a file (following ``base`` if it names one), or the name
    of a packaged scenario such as ``small_la``."""
    path = scenario_path(path)
    if not path.exists() and path.suffix != ".toml" and len(path.parts) == 1:
        raise ConfigError(f"{path}: no such file, and no packaged scenario of that name "
                          f"(packaged: {', '.join(packaged_scenarios())})")
    sc, params, raw_events, where = _raw_scenario(path)
    for key in ("start", "end", "regime", "places"):
        if key not in sc:
            raise ConfigError(f"{where}: [scenario] needs '{key}'")
    start, end = _date(sc["start"], "start", where), _date(sc["end"], "end", where)
    if end <= start + dt.timedelta(days=7):
        raise ConfigError(f"{where}: end = {end} must be at least a week after start = {start}")
    short = Calendar(start, end).census_check()
    if short:
        raise ConfigError(f"{where}: {short}")
    scale = sc.get("scale", 1.0)
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not (0 < scale <= 1):
        raise ConfigError(f"{where}: scale = {scale!r} is out of range: valid range is (0, 1] "
                          f"(fraction of the child population simulated)")
    regime_params = load_regime(sc["regime"], where)
    ov = dict(params)
    ov.update(overrides or {})
    events = [_event(e, i, w, start, end) for i, (e, w) in enumerate(raw_events)]
    events.sort(key=lambda e: e.date)
    places = _places(sc["places"], where)
    _check_shares({**make_params(regime_params, ov)._asdict()}, where)
    return Scenario(
        name=str(sc.get("name", path.stem)),
        description=str(sc.get("description", "")),
        start=start,
        end=end,
        regime=sc["regime"],
        regime_params=regime_params,
        overrides=ov,
        places=places,
        scale=float(scale),
        events=events,
        source=where,
    )


def _check_shares(values: dict, where: str) -> None:
    """Cross-parameter rule: the named referrer shares leave a non-negative 'other' share."""
    names = ("police_share", "schools_share", "health_share", "early_years_share")
    total = sum(values[n] for n in names)
    if total > 1.0 + 1e-9:
        raise ConfigError(f"{where}: referrer shares {', '.join(names)} sum to {total:.3f}; "
                          f"valid range of the sum is [0, 1] (the rest are 'other')")


def small_la_scenario(children: int = 20_000, years: int = 3, regime: str = "prescriptive",
                      start: dt.date = dt.date(2007, 4, 2), **overrides: Any) -> Scenario:
    """A one-LA scenario built in code (tests, the app, quick experiments)."""
    ov = validate_overrides(overrides, "small_la_scenario")
    regime_params = load_regime(regime, "small_la_scenario")
    _check_shares({**make_params(regime_params, ov)._asdict()}, "small_la_scenario")
    return Scenario(
        name=f"la_{children}",
        description="single synthetic LA",
        start=start,
        end=start + dt.timedelta(days=7 * (int(365.25 * years) // 7) - 1),  # whole weeks
        regime=regime,
        regime_params=regime_params,
        overrides=ov,
        places=[Place("LA", "Synthetic LA", children, 0)],
        scale=1.0,
    )
