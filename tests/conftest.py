"""Shared fixtures: small, fast scenarios built in code."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import pytest

import abm
from abm.core.scenario import Event

#: The checkout; the benchmarks (experiments/benchmarks, outside the packages) import as
#: ``benchmarks.*`` from experiments/.
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "experiments") not in sys.path:
    sys.path.insert(0, str(ROOT / "experiments"))

#: A one-LA scenario file small enough for sweeps in tests (3,000 children, one year).
TINY_SCENARIO = """\
[scenario]
name = "tiny"
start = 2008-04-07
end = 2009-03-31
regime = "prescriptive"
places = { children = 3000 }

[parameters]
warmup_weeks = 26
"""


def load_tool(name: str):
    """The script experiments/tools/NAME.py as a module (the tools are scripts, not a
    package), for tests that recompute a committed result table with the tool's own code."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, ROOT / "experiments" / "tools" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def small(children=8000, years=1.0, regime="prescriptive", shock=None, warmup=52, **ov):
    """A one-LA scenario starting 2008-04-07; ``shock`` = (date, magnitude) or None."""
    warmup = ov.pop("warmup_weeks", warmup)
    sc = abm.small_la_scenario(children=children, years=years, regime=regime,
                               start=dt.date(2008, 4, 7), warmup_weeks=warmup, **ov)
    if shock is not None:
        sc.events = [Event(shock[0], "media_shock", magnitude=shock[1])]
    return sc


@pytest.fixture
def small_scenario():
    return small
