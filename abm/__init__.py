"""cpabm: an agent-based model of the child protection system in England.

Workforce and caseflow of children's social care and care proceedings, after the Munro
Review of Child Protection, Part One (2010). Mesa agents are thin views over
struct-of-arrays state; the weekly step runs as Numba kernels.

    >>> import abm
    >>> res = abm.run("small_la", seed=1, regime="professional_judgment")
    >>> res.outcomes()["harm_missed"]      # a float with .unit: events per financial year
    >>> abm.evaluate({"hearing_slots_per_100k": 12}, scenario="small_la", seed=1)

The public API is ``abm.__all__`` (see abm/api.py and docs/research.md); the model itself
is ``abm.ChildProtectionModel`` (a ``mesa.Model``) with its agent views.
"""

import hashlib as _hashlib
import os as _os
from pathlib import Path as _Path


def _numba_cache_dir() -> None:
    # Numba's on-disk cache keys a kernel on its own file only, not on the constants it
    # imports (flow indices, state codes). Key the cache folder on the source of everything the
    # kernels import (abm/mechanisms/*.py and abm/core/{kernels,state,indicators}.py), so a
    # stale kernel can never load.
    if "NUMBA_CACHE_DIR" in _os.environ:
        return
    h = _hashlib.sha1()
    root = _Path(__file__).parent
    sources = sorted(root.joinpath("mechanisms").glob("*.py")) + [
        root / "core" / f for f in ("kernels.py", "state.py", "indicators.py")]
    for p in sources:  # everything the kernels import
        h.update(p.relative_to(root).as_posix().encode())
        h.update(p.read_bytes())
    base = _Path(_os.environ.get("XDG_CACHE_HOME", _Path.home() / ".cache"))
    folder = str(base / "cpabm" / f"numba-{h.hexdigest()[:16]}")
    _os.environ["NUMBA_CACHE_DIR"] = folder
    import sys

    if "numba" in sys.modules:
        # Numba read its configuration when it was imported, before this: without this line
        # the kernels would be cached beside their sources, keyed on each file alone, and an
        # index written by other kernel sources can crash the load instead of recompiling.
        from numba.core import config

        config.CACHE_DIR = folder


_numba_cache_dir()

from abm.api import (  # noqa: E402
    Quantity,
    Result,
    evaluate,
    load_scenario,
    outcome_units,
    posterior_draws,
    run,
)
from abm.core.errors import ConfigError  # noqa: E402
from abm.core.scenario import Event, Scenario, small_la_scenario  # noqa: E402

#: the stable public API (tests/integration/test_api.py); everything else is private
__all__ = ["ConfigError", "Event", "Quantity", "Result", "Scenario", "evaluate",
           "load_scenario", "outcome_units", "posterior_draws", "run", "small_la_scenario",
           "ChildProtectionModel", "FamilyAgent", "ReferrerAgent", "SocialWorkerAgent",
           "CourtAgent", "EvaluationModel"]
__version__ = "0.1.0"


def __getattr__(name):
    # Import the model lazily so `import abm` (the CLI's argument checks) stays fast.
    if name in ("ChildProtectionModel",):
        from abm.core.model import ChildProtectionModel
        return ChildProtectionModel
    if name == "EvaluationModel":
        from abm.mesa_batch import EvaluationModel
        return EvaluationModel
    if name in ("FamilyAgent", "ReferrerAgent", "SocialWorkerAgent", "CourtAgent"):
        from abm.core import agents
        return getattr(agents, name)
    raise AttributeError(name)
