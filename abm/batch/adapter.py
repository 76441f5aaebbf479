"""The boundary between the generic sweep machinery and a model.

An adapter is a class, named in a spec as ``[model] adapter = "package.module:Class"`` (a
bare module name means its ``Adapter`` attribute). It is built in the parent process from
the spec's ``[model]`` table and answers the machinery's questions:

* :meth:`Adapter.factor` -- what a factor name means (kind, valid range or options);
* :meth:`Adapter.outputs` / :meth:`Adapter.period_labels` -- which indicators and periods
  exist;
* :meth:`Adapter.context` -- the picklable inputs every run needs (no file access on
  workers);
* :meth:`Adapter.check_point` -- cross-factor rules, checked for every design point before
  anything runs;
* :meth:`Adapter.fingerprint` -- everything besides the spec that decides a run's result
  (input contents, model code), so a results folder can never mix two versions.

``evaluate`` and ``warm`` are *module-level* functions (the adapter holds references to
them), so they pickle by name for process pools and Dask workers. ``evaluate(point, seed,
context)`` returns rows of ``(indicator, period, value)`` as a DataFrame or a list of
tuples; it must be a deterministic function of its arguments.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib
import json
import platform
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from abm.core.errors import ConfigError

#: "value": a structured value (e.g. a list of tables) that the adapter's ``check`` validates
#: and normalises to plain JSON; it can be set by [fixed] and by variants, not varied as a factor
KINDS = ("float", "int", "bool", "category", "value")


@dataclass(frozen=True)
class FactorInfo:
    """What the model accepts for one factor."""

    kind: str  # "float" | "int" | "bool" | "category" | "value"
    lo: Any = None  # inclusive bounds for float and int
    hi: Any = None
    options: tuple = ()  # valid values of a category
    unit: str = ""
    #: for kind "value": ``check(value, where) -> normalised JSON value``; raises ConfigError
    check: Callable | None = None
    what: str = ""  # for kind "value": what it is, for error messages

    def describe(self) -> str:
        if self.kind == "category":
            return "one of " + ", ".join(repr(o) for o in self.options)
        if self.kind == "bool":
            return "true or false"
        if self.kind == "value":
            return self.what or "a value the model checks"
        what = "a whole number" if self.kind == "int" else "a number"
        return f"{what} in [{self.lo}, {self.hi}]" + (f" ({self.unit})" if self.unit else "")


def suggest(name: str, options) -> str:
    close = difflib.get_close_matches(name, list(options), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


class Adapter:
    """Base class: override what the model needs. See the module docstring."""

    #: module-level function ``(point, seed, context) -> rows``; set by subclasses
    evaluate: Callable = None
    #: module-level function ``(context) -> None`` that compiles/loads caches; optional
    warm: Callable = None
    #: output resolutions (first is the default)
    periods: tuple[str, ...] = ("all",)
    #: modules worth importing once in the process-pool server (forkserver preload)
    preload: tuple[str, ...] = ()
    #: distributions whose versions decide results (recorded, and part of the run identity)
    packages: tuple[str, ...] = ("numpy",)
    #: model keys allowed in the spec's [model] table besides 'adapter'
    model_keys: frozenset = frozenset()

    def __init__(self, table: dict, spec_dir: Path, where: str):
        self.where = where
        self.spec_dir = spec_dir
        unknown = set(table) - set(self.model_keys) - {"adapter"}
        if unknown:
            k = sorted(unknown)[0]
            allowed = ", ".join(sorted(set(self.model_keys) | {"adapter"}))
            raise ConfigError(f"{where}: model.{k} = {table[k]!r} is not a key of this "
                              f"adapter; allowed keys: {allowed}")
        self.table = table

    # -- questions the machinery asks ------------------------------------------------
    def factor(self, name: str, where: str) -> FactorInfo:
        raise NotImplementedError

    def factor_names(self) -> list[str]:
        return []

    def outputs(self, period: str, where: str) -> dict[str, str]:
        """Indicator name -> unit at this period resolution."""
        raise NotImplementedError

    def counts(self, period: str, indicators: list[str]) -> list[str]:
        """The indicators whose values count events (a number of referrals, of missed
        harms): the precision report gives the events behind their means."""
        return []

    def period_labels(self, period: str) -> list[str]:
        """The period labels a run produces (for checking metric periods)."""
        return ["all"]

    def check_fixed(self, fixed: dict, where: str) -> None:
        """Whole-model checks of the fixed values (after each was checked as a factor)."""

    def check_point(self, point: dict, where: str) -> None:
        """Cross-factor rules for one design point; raise ConfigError."""

    def context(self, fixed: dict, factors: list, indicators: list[str], period: str) -> dict:
        """Picklable inputs shared by every run (``factors`` are :class:`Factor` objects)."""
        return {"fixed": dict(fixed), "indicators": list(indicators), "period": period}

    def set_by_model(self, context: dict) -> set[str]:
        """Factors the base model sets itself (a base scenario's own values, say), which a
        posterior draw (a spec's ``[posterior]``, :mod:`abm.batch.draws`) leaves as they are.
        The spec's ``[fixed]`` values and varied factors are left alone in any case."""
        return set()

    def config(self) -> dict:
        """The [model] table as it enters the run identity (no machine-specific paths)."""
        return {k: v for k, v in self.table.items()}

    def fingerprint(self, context: dict) -> dict:
        """Everything besides the spec that decides a run's result."""
        return {}

    def lock_file(self) -> Path | None:
        return None

    # -- environment ------------------------------------------------------------------
    def environment(self) -> dict:
        lock = self.lock_file()
        versions = package_versions(self.packages)
        return {"python": platform.python_version(), "versions": versions,
                "lock_sha256": sha256_file(lock) if lock and lock.exists() else None}


def load_adapter(name: str, where: str) -> type[Adapter]:
    """``package.module:Class`` or ``package.module`` (its ``Adapter``)."""
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where}: model.adapter = {name!r} must name an adapter, e.g. "
                          f"\"abm.studies.adapter\"")
    module, _, attr = name.partition(":")
    try:
        mod = importlib.import_module(module)
    except ImportError as e:
        raise ConfigError(f"{where}: model.adapter = {name!r}: cannot import module "
                          f"'{module}' ({e})") from None
    attr = attr or "Adapter"
    cls = getattr(mod, attr, None)
    if not (isinstance(cls, type) and issubclass(cls, Adapter)):
        raise ConfigError(f"{where}: model.adapter = {name!r}: '{module}' has no adapter "
                          f"class '{attr}'")
    return cls


# ------------------------------------------------------------------ hashing helpers
def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and exact float reprs: the same content, the same text."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=True,
                      default=_default)


def _default(o):
    import numpy as np

    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.bool_):
        return bool(o)
    if isinstance(o, Path):
        return str(o)
    return repr(o)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def sha256_file(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _imported_modules(source: str, module: str, is_package: bool) -> set[str]:
    """Absolute names of the modules a source file imports (relative imports resolved;
    imports inside functions included), with ``from X import y`` giving both X and X.y."""
    import ast

    out: set[str] = set()
    here = module.split(".") if is_package else module.split(".")[:-1]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.add(mod)
            out.update(f"{mod}.{a.name}" for a in node.names)
    return out


def import_closure(root: Path, entries: list[str], skip: tuple[str, ...] = ()) -> list[Path]:
    """The package's source files reachable from ``entries`` (paths relative to the package
    ``root``) through its imports, including imports inside functions; files in ``skip``
    are neither included nor followed."""
    package = root.name
    seen: set[Path] = set()
    skipped = {root / s for s in skip}
    todo = [root / e for e in entries]
    while todo:
        f = todo.pop()
        if f in seen or f in skipped or not f.is_file():
            continue
        seen.add(f)
        rel = f.relative_to(root).with_suffix("").parts
        is_package = rel[-1] == "__init__"
        module = ".".join((package, *(rel[:-1] if is_package else rel)))
        for parent in (f.parent, *f.parent.parents):  # the packages it sits in run first
            if parent == root.parent:
                break
            todo.append(parent / "__init__.py")
        for name in _imported_modules(f.read_text(), module, is_package):
            parts = name.split(".")
            if parts[0] != package:
                continue
            target = root.joinpath(*parts[1:])
            todo += [target.with_suffix(".py"), target / "__init__.py"]
    return sorted(p for p in seen if p.resolve().is_relative_to(root.resolve()))


def source_fingerprint(root: Path, files: list[Path]) -> str:
    """SHA-256 over the given files of a package, by path relative to ``root``."""
    h = hashlib.sha256()
    for p in sorted(files):
        h.update(p.relative_to(root).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def package_versions(names) -> dict[str, str]:
    out = {}
    for n in names:
        try:
            out[n] = metadata.version(n)
        except metadata.PackageNotFoundError:
            out[n] = None
    return out


#: versions recorded in every manifest (not all of them decide results)
RECORDED_PACKAGES = ("numpy", "numba", "llvmlite", "mesa", "pandas", "pyarrow", "scipy",
                     "SALib", "dask", "distributed", "tqdm", "matplotlib")


def recorded_environment() -> dict:
    return {"python": sys.version.split()[0], "platform": platform.platform(),
            "machine": platform.machine(), "versions": package_versions(RECORDED_PACKAGES)}
