"""What the engine benchmark runs: its scenarios, full and quick, as plain descriptions.

A description names a scenario file (``path``) and optional changes to it: parameter
``overrides``, the first ``las`` of its places, one place resized to ``children``, a
``scale`` and a calendar cut to ``years`` from its start (:func:`make_scenario`). The
descriptions go into the recorded JSON, so a record says exactly what was run.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]

ENGLAND = "experiments/scenarios/england_default.toml"
SMALL_LA = "abm/data/scenarios/small_la.toml"

FULL = {
    # a typical English LA (60,000 children) for one calendar year after the warm-up
    "reference_la": {"path": SMALL_LA, "children": 60_000, "years": 1},
    "england": {"path": ENGLAND},
    "scaling_las": [{"path": ENGLAND, "las": k, "years": 1, "overrides": {"warmup_weeks": 52}}
                    for k in (19, 38, 76, 152)],
    "scaling_years": [{"path": ENGLAND, "las": 38, "years": y, "overrides": {"warmup_weeks": 52}}
                      for y in (1, 2, 4, 7)],
    "startup": {"path": SMALL_LA, "children": 2_000, "years": 1, "overrides": {"warmup_weeks": 4}},
    "loop": {"quick": False},
}
QUICK = {
    "reference_la": {"path": SMALL_LA, "children": 600, "years": 1, "overrides": {"warmup_weeks": 8}},
    "england": {"path": ENGLAND, "las": 3, "scale": 0.01, "years": 1, "overrides": {"warmup_weeks": 8}},
    "scaling_las": [{"path": ENGLAND, "las": k, "scale": 0.01, "years": 1,
                     "overrides": {"warmup_weeks": 4}} for k in (2, 4)],
    "scaling_years": [{"path": ENGLAND, "las": 2, "scale": 0.01, "years": y,
                       "overrides": {"warmup_weeks": 4}} for y in (1, 2)],
    "startup": {"path": SMALL_LA, "children": 500, "years": 1, "overrides": {"warmup_weeks": 4}},
    "loop": {"quick": True},
}


def make_scenario(desc: dict):
    """A scenario from a description (see the module docstring)."""
    from abm.core.errors import ConfigError
    from abm.core.scenario import load_scenario

    unknown = set(desc) - {"path", "overrides", "las", "children", "scale", "years"}
    if unknown:
        raise ConfigError(f"bench scenario {desc}: unknown key {sorted(unknown)[0]!r}")
    sc = load_scenario(PROJECT_ROOT / desc["path"], desc.get("overrides") or None)
    if "las" in desc:
        sc = dataclasses.replace(sc, places=sc.places[: int(desc["las"])])
    if "children" in desc:
        if len(sc.places) != 1:
            raise ConfigError(f"bench scenario {desc}: 'children' needs a one-LA scenario")
        sc = dataclasses.replace(sc, places=[dataclasses.replace(sc.places[0],
                                                                 children=int(desc["children"]))])
    if "scale" in desc:
        sc = dataclasses.replace(sc, scale=float(desc["scale"]))
    if "years" in desc:
        end = sc.start + dt.timedelta(days=int(365.25 * float(desc["years"])))
        sc = dataclasses.replace(sc, end=end, events=[e for e in sc.events if e.date < end])
    return sc
