"""The single parameter table: loading, validation and the typed parameter records.

Every parameter lives in ``abm/data/parameters.toml`` with its unit, default, valid range,
mechanism, description and source. :class:`Params` is an immutable namedtuple of every value
(the scenario's, after its regime and overrides); it changes only when a dated event or the
app changes a policy. Each mechanism's kernels take a small record of just the parameters
they read (:func:`param_record`), built from it, and the week's :class:`Drivers` (what
varies from week to week: anxiety, the prescription in force, ...). Parameters are never
rewritten in flight.
"""

from __future__ import annotations

import math
import sys
from collections import namedtuple
from dataclasses import dataclass
from importlib import resources
from typing import Any

from abm.core import tomlio
from abm.core.errors import ConfigError


@dataclass(frozen=True)
class ParamSpec:
    name: str
    type: str
    unit: str
    default: Any
    lo: Any
    hi: Any
    mechanism: str
    description: str
    source: str
    calibrated: bool = False


def _load_table() -> dict[str, ParamSpec]:
    text = resources.files("abm").joinpath("data/parameters.toml").read_text()
    raw = tomlio.loads(text, "abm/data/parameters.toml")
    table: dict[str, ParamSpec] = {}
    for name, d in raw.items():
        lo, hi = d["range"]
        spec = ParamSpec(
            name=name,
            type=d["type"],
            unit=d["unit"],
            default=d["default"],
            lo=lo,
            hi=hi,
            mechanism=d["mechanism"],
            description=d["description"],
            source=d["source"],
            calibrated=bool(d.get("calibrated", False)),
        )
        # The table must be self-consistent: a default outside its own range is a bug.
        coerce_value(spec, spec.default, where="abm/data/parameters.toml")
        table[name] = spec
    return table


def coerce_value(spec: ParamSpec, value: Any, where: str) -> Any:
    """Check one value against its spec; return it as the spec's Python type."""
    rng = f"[{spec.lo}, {spec.hi}]"
    if spec.type == "bool":
        if not isinstance(value, bool):
            raise ConfigError(
                f"{where}: parameter '{spec.name}' = {value!r} has the wrong type: expected "
                f"true or false"
            )
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(
            f"{where}: parameter '{spec.name}' = {value!r} has the wrong type: expected a "
            f"{'whole number' if spec.type == 'int' else 'number'} in {rng} ({spec.unit})"
        )
    if not math.isfinite(value):
        raise ConfigError(f"{where}: parameter '{spec.name}' = {value!r} is not a finite number; "
                          f"valid range is {rng} ({spec.unit})")
    if spec.type == "int":
        if float(value) != int(value):
            raise ConfigError(
                f"{where}: parameter '{spec.name}' = {value!r} has the wrong type: expected "
                f"a whole number in {rng} ({spec.unit})"
            )
        value = int(value)
    else:
        value = float(value)
    if not (spec.lo <= value <= spec.hi):
        raise ConfigError(
            f"{where}: parameter '{spec.name}' = {value!r} is out of range: valid range is "
            f"{rng} ({spec.unit})"
        )
    return value


PARAMETERS: dict[str, ParamSpec] = _load_table()
PARAM_NAMES: tuple[str, ...] = tuple(PARAMETERS)

#: Immutable record of every parameter value; passed to kernels as one explicit argument.
Params = namedtuple("Params", PARAM_NAMES)


def param_record(name: str, fields: str) -> type:
    """The record type a mechanism's kernels take: the named parameters (space-separated)
    from the one table. ``Record.of(p)`` builds it from a :class:`Params`. A small record
    keeps the kernels' signatures (and so their compile time and call overhead) small."""
    names = tuple(fields.split())
    unknown = [n for n in names if n not in PARAMETERS]
    if unknown:
        raise ValueError(f"{name}: not in the parameter table: {', '.join(unknown)}")
    # the record's class must be importable where it is defined (the mechanism's module,
    # under ``name``): Numba's on-disk cache finds kernels by their argument types, pickled
    # by reference to that class
    module = sys._getframe(1).f_globals["__name__"]
    record = namedtuple(name, names, module=module)
    record.of = classmethod(lambda cls, p: cls(*(getattr(p, n) for n in cls._fields)))
    return record


#: What changes week by week, set at the start of each week by the mechanisms that own it
#: and taken by the kernels beside their parameters:
#: anxiety (public anxiety, ``anxiety``), threshold_shift (how far defensive practice lowers
#: every decision threshold, ``anxiety``), contact_gain (publicity's lagged multiplier on the
#: contact rate, ``anxiety``), prescription and scope_for_judgment (in force, ``loops``),
#: status_level (the profession's status, ``ripple``).
Drivers = namedtuple("Drivers", ["anxiety", "threshold_shift", "contact_gain", "prescription",
                                 "scope_for_judgment", "status_level", "court_shift"])


def _suggest(name: str) -> str:
    import difflib

    close = difflib.get_close_matches(name, PARAM_NAMES, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def validate_overrides(overrides: dict[str, Any], where: str) -> dict[str, Any]:
    """Validate a mapping of parameter overrides; return the coerced values."""
    out = {}
    for key, value in overrides.items():
        if key not in PARAMETERS:
            raise ConfigError(
                f"{where}: unknown parameter '{key}' = {value!r}{_suggest(key)}; see "
                f"abm/data/parameters.toml or `cpabm params` for the valid names"
            )
        out[key] = coerce_value(PARAMETERS[key], value, where)
    return out


def make_params(*layers: dict[str, Any]) -> Params:
    """Defaults, then each layer of (already validated) overrides on top."""
    values = {name: spec.default for name, spec in PARAMETERS.items()}
    for layer in layers:
        values.update(layer)
    return Params(**values)


def parse_assignment(text: str, where: str = "--set") -> tuple[str, Any]:
    """Parse ``key=value`` from the command line into a validated (key, value)."""
    if "=" not in text:
        raise ConfigError(f"{where}: '{text}' is not of the form key=value")
    key, raw = (s.strip() for s in text.split("=", 1))
    if key not in PARAMETERS:
        raise ConfigError(f"{where}: unknown parameter '{key}' = {raw!r}{_suggest(key)}")
    spec = PARAMETERS[key]
    if spec.type == "bool":
        lowered = raw.lower()
        if lowered not in ("true", "false"):
            raise ConfigError(
                f"{where}: parameter '{key}' = {raw!r} has the wrong type: expected true or false"
            )
        value: Any = lowered == "true"
    else:
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(
                f"{where}: parameter '{key}' = {raw!r} has the wrong type: expected a number "
                f"in [{spec.lo}, {spec.hi}] ({spec.unit})"
            ) from None
    return key, coerce_value(spec, value, where)


def parameter_table_markdown(calibrated_values: dict[str, Any] | None = None) -> str:
    """The parameter table as Markdown, generated from the single source."""
    calibrated_values = calibrated_values or {}
    rows = [
        "| name | mechanism | unit | default | range | calibrated | description | source |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in PARAMETERS.values():
        cal = f"yes ({calibrated_values[s.name]:.4g})" if s.name in calibrated_values else (
            "yes" if s.calibrated else "no")
        rows.append(
            f"| `{s.name}` | {s.mechanism} | {s.unit} | {s.default} | [{s.lo}, {s.hi}] | {cal} "
            f"| {s.description} | {s.source} |"
        )
    return "\n".join(rows) + "\n"
