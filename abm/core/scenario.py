"""Scenarios and regimes as data files, validated on load.

A scenario (a ``.toml`` file, or the name of one packaged in ``abm/data/scenarios``) names a
calendar, the places, a regime, dated events and parameter overrides. A regime (a name, looked
up in ``abm/data/regimes``, or a file the user names on the command line with
``--regime-file``) is a named bundle of parameter values. Everything is checked here, before any simulation starts: an unknown
key, a wrong type or an out-of-range value raises :class:`ConfigError` naming the file, the
key, the value and the valid range.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from abm.core import tomlio
from abm.core.calendar import census_check
from abm.core.errors import ConfigError
from abm.core.io import safe_name
from abm.core.params import PARAMETERS, Params, make_params, validate_overrides

#: The package's data: the parameter table, England's LAs, regimes, targets, small scenarios.
DATA_DIR = Path(__file__).resolve().parent.parent / "data"
REGIME_DIRS = [DATA_DIR / "regimes"]
SCENARIO_DIR = DATA_DIR / "scenarios"

SCENARIO_KEYS = {"name", "description", "start", "end", "regime", "places", "scale", "base"}
#: a regime is looked up by name only, in REGIME_DIRS
REGIME_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$")
#: the calendar the model supports (the figures' date axes and the drivers' tables)
DATE_RANGE = (dt.date(1970, 1, 1), dt.date(2100, 12, 31))
MAX_YEARS = 50
#: the fewest children an LA may have after ``scale`` (a smaller LA has no caseload)
MIN_SCALED_CHILDREN = 100
#: the longest chain of ``base`` files
MAX_BASE_CHAIN = 16
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
    """The parameters of a regime, looked up by name (never a path) in REGIME_DIRS."""
    if not isinstance(name, str) or not REGIME_NAME.match(name):
        raise ConfigError(f"{where}: regime = {name!r} must be the name of a regime (letters, "
                          f"digits, '_', '-'); known regimes: {', '.join(regime_names())}")
    for d in REGIME_DIRS:
        path = d / f"{name}.toml"
        if path.is_file():
            return load_regime_file(path)
    raise ConfigError(f"{where}: unknown regime '{name}'; known regimes: "
                      f"{', '.join(regime_names())}")


def load_regime_file(path: str | Path) -> dict[str, Any]:
    """The parameters of a regime file: a packaged one, or a path the user gave explicitly
    on the command line (``cpabm run --regime-file``); checked the same way."""
    path = Path(path)
    if path.suffix != ".toml":
        raise ConfigError(f"{path}: a regime file must be a .toml file")
    raw = tomlio.read(path)
    unknown = set(raw) - {"regime", "parameters"}
    if unknown:
        k = sorted(unknown)[0]
        raise ConfigError(f"{path}: unknown section '{k}'; expected [regime] and [parameters]")
    params = raw.get("parameters", {})
    if not isinstance(params, dict):
        raise ConfigError(f"{path}: parameters = {params!r}: [parameters] must be a "
                          f"table of name = value")
    return validate_overrides(params, str(path))


def _date(value: Any, key: str, where: str) -> dt.date:
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value)
        except ValueError:
            pass
    if isinstance(value, dt.date):
        if not DATE_RANGE[0] <= value <= DATE_RANGE[1]:
            raise ConfigError(f"{where}: '{key}' = {value} is out of range: valid range is "
                              f"[{DATE_RANGE[0]}, {DATE_RANGE[1]}]")
        return value
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
            if isinstance(code, str) and code in {p.code for p in out}:
                raise ConfigError(f"{where}: places lists {code!r} twice; each LA may appear "
                                  f"once")
            if not isinstance(code, str) or code not in by_code:
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
    if etype in ("set_parameter", "scale_parameter") and not isinstance(raw["parameter"], str):
        raise ConfigError(f"{w}: parameter = {raw['parameter']!r} must be the name of a "
                          f"parameter (a string)")
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


def parse_events(raw: list, scenario: Scenario, where: str) -> list[Event]:
    """Validate dated events given as tables (as in a scenario file; dates as ``date`` or
    ISO strings) or :class:`Event` objects, against ``scenario``'s calendar; sorted by date."""
    if not isinstance(raw, list):
        raise ConfigError(f"{where}: events = {raw!r} must be a list of event tables")
    out = [e if isinstance(e, Event) else _event(e, i, where, scenario.start, scenario.end)
           for i, e in enumerate(raw)]
    return sorted(out, key=lambda e: e.date)


def _raw_scenario(path: Path, seen: tuple = ()) -> tuple[dict, dict, list, str]:
    """Read and check one scenario file, following ``base``: returns the merged [scenario]
    table, the merged (validated) parameters, the raw events, and the file's name. Errors in
    a base file are reported against the base file."""
    where = str(path)
    if path.resolve() in seen:
        raise ConfigError(f"{where}: 'base' chain loops back to this file")
    if len(seen) >= MAX_BASE_CHAIN:
        raise ConfigError(f"{where}: 'base' chain is longer than {MAX_BASE_CHAIN} files")
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
        bp = path.parent / b
        if not bp.is_file():
            raise ConfigError(f"{where}: base = {b!r} is not a scenario file ("
                              f"{'not a regular file' if bp.exists() else 'no such file'})")
        bsc, bparams, bevents, _ = _raw_scenario(bp, seen + (path.resolve(),))
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


def load_scenario(path: str | Path, overrides: dict[str, Any] | None = None,
                  regime_file: str | Path | None = None) -> Scenario:
    """Load and validate a scenario: a file (following ``base`` if it names one), or the name
    of a packaged scenario such as ``small_la``. ``regime_file`` (a path given explicitly by
    the user, never read from a scenario) replaces the scenario's regime; the regime's name
    is then the file's stem."""
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
    if end > start + dt.timedelta(days=int(365.25 * MAX_YEARS)):
        raise ConfigError(f"{where}: end = {end} is more than {MAX_YEARS} years after start = "
                          f"{start}: valid range of the span is [1 week, {MAX_YEARS} years]")
    name = safe_name(sc.get("name", path.stem), "name", where)
    description = sc.get("description", "")
    if not isinstance(description, str):
        raise ConfigError(f"{where}: description = {description!r} must be a string")
    short = census_check(end)
    if short:
        raise ConfigError(f"{where}: {short}")
    scale = sc.get("scale", 1.0)
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not (0 < scale <= 1):
        raise ConfigError(f"{where}: scale = {scale!r} is out of range: valid range is (0, 1] "
                          f"(fraction of the child population simulated)")
    if regime_file is not None:
        regime_params, regime = load_regime_file(regime_file), Path(regime_file).stem
    else:
        regime_params, regime = load_regime(sc["regime"], where), sc["regime"]
    ov = dict(params)
    ov.update(validate_overrides(overrides or {}, f"{where}: overrides"))
    events = [_event(e, i, w, start, end) for i, (e, w) in enumerate(raw_events)]
    events.sort(key=lambda e: e.date)
    places = _places(sc["places"], where)
    check_scale(scale, places, where, "scale")
    _check_shares({**make_params(regime_params, ov)._asdict()}, where)
    _check_event_values(regime_params, ov, events, where)
    return Scenario(
        name=name,
        description=description,
        start=start,
        end=end,
        regime=regime,
        regime_params=regime_params,
        overrides=ov,
        places=places,
        scale=float(scale),
        events=events,
        source=where,
    )


def check_scale(scale: Any, places: list[Place], where: str, key: str = "scale") -> float:
    """A scale in (0, 1] that leaves every LA at least MIN_SCALED_CHILDREN children."""
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not (0 < scale <= 1):
        raise ConfigError(f"{where}: {key} = {scale!r} is out of range: valid range is (0, 1] "
                          f"(fraction of the child population simulated)")
    smallest = min(places, key=lambda p: p.children)
    if smallest.children * scale < MIN_SCALED_CHILDREN:
        raise ConfigError(f"{where}: {key} = {scale!r} leaves {smallest.name} "
                          f"({smallest.children} children) with "
                          f"{smallest.children * scale:.3g} children; valid range of {key} here "
                          f"is [{MIN_SCALED_CHILDREN / smallest.children:.3g}, 1] (at least "
                          f"{MIN_SCALED_CHILDREN} children per LA)")
    return float(scale)


def _check_event_values(regime_params: dict, overrides: dict, events: list[Event],
                        where: str) -> None:
    """Follow the parameters through the events in date order, as the model applies them:
    a scaled value outside its parameter's range, or shares that break the sum rule, are
    refused here (never capped in flight)."""
    values = make_params(regime_params, overrides)._asdict()
    for ev in events:
        if ev.type == "regime_switch":
            values = make_params(dict(ev.regime_params), overrides)._asdict()
        elif ev.type == "set_parameter":
            values[ev.parameter] = ev.value
        elif ev.type == "scale_parameter":
            spec = PARAMETERS[ev.parameter]
            v = values[ev.parameter] * ev.value
            if not spec.lo <= v <= spec.hi:
                raise ConfigError(f"{where}: the scale_parameter event on {ev.date} makes "
                                  f"{ev.parameter} = {values[ev.parameter]!r} x {ev.value!r} = "
                                  f"{v:.6g}, out of range: valid range is [{spec.lo}, "
                                  f"{spec.hi}]")
            values[ev.parameter] = v
        else:
            continue
        _check_shares(values, f"{where}: after the {ev.type} event on {ev.date}")


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
