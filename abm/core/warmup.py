"""Cold start: compile the kernels into the on-disk cache in two processes at once.

The first model built with an empty Numba cache (a fresh clone, or after a change to a
kernel's source) compiles every kernel, about 45 s of CPU on one core. :func:`ensure_compiled`
splits that work: a helper process compiles the kernels of one half of the week's mechanisms
(:data:`CHILD_MECHANISMS`) while this process compiles the other half, each by stepping a tiny
model one week with the other half's mechanisms skipped; both write the cache, and every
later model (in this process and any other) loads the kernels from it. Nothing about the
model's results changes: the same kernels are compiled, only in two processes.

``CPABM_COMPILE_WORKERS=1`` compiles in this process alone (as the first run would anyway).
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time

#: The mechanisms whose kernels the helper process compiles (the rest compile here). Chosen
#: to balance the two halves' compile time (casework, the courts and the systems loops
#: here, about 25 s of CPU; the front door, harm, household renewal, exposure, the
#: workforce and the weekly record in the helper, about 21 s).
CHILD_MECHANISMS = ("harm", "front_door", "workload", "ripple", "renewal", "exposure")
_CHILD_ENV = "CPABM_COMPILE_CHILD"
_done = False


def _top_kernels() -> list:
    """The kernels the week calls (the dispatchers whose cache files a warm start loads)."""
    from abm.mechanisms import casework, courts, frontdoor, population, ripple, workload
    return [population.init_la_families, population.harm_events,
            frontdoor.contacts_and_referrals, workload.allocate, workload.time_use,
            workload.record_workforce, casework.casework, courts.courts_step,
            ripple.turnover_and_recruitment, population.harm_exposure]


def is_cached() -> bool:
    """Is every kernel the week calls in the on-disk cache already?"""
    try:
        return all(os.path.exists(k._cache._cache_file._index_path) for k in _top_kernels())
    except AttributeError:  # not a caching dispatcher (e.g. NUMBA_DISABLE_JIT)
        return True


def _tiny_model(python_init: bool):
    """A one-LA model with no warm-up: its tables have the kernels' argument types. With
    ``python_init`` the family table is filled by the kernel's pure-Python version, so that
    building it compiles nothing (the other process compiles that kernel)."""
    from abm.core import model as M
    from abm.core.scenario import small_la_scenario
    from abm.mechanisms import population

    sc = small_la_scenario(children=300, years=0.1, start=dt.date(2008, 4, 7), warmup_weeks=0)
    compiled = population.init_la_families
    if python_init:
        population.init_la_families = compiled.py_func
    try:
        return M.ChildProtectionModel(sc, rng=0, agent_views=False, compile_first=False)
    finally:
        population.init_la_families = compiled


def compile_half(child: bool) -> None:
    """Step a tiny model one week with only this half's mechanisms (and, in the helper, the
    weekly record), compiling their kernels into the cache."""
    m = _tiny_model(python_init=not child)  # the helper compiles the family table's kernel
    for name, mechanism in m.mechanisms.items():
        if (name in CHILD_MECHANISMS) != child:
            mechanism.step = lambda d: None
    if not child:
        m._record = lambda d: None
        m.mechanisms["anxiety"].shock(1.0)  # the audit after a media shock is a kernel too
    m.step()


def ensure_compiled(log=None) -> None:
    """Make sure every kernel is in the on-disk cache, compiling it in two processes at once
    if it is not (once per process; cheap when the cache is warm)."""
    global _done
    if _done or os.environ.get(_CHILD_ENV):
        return
    _done = True
    if is_cached() or os.environ.get("CPABM_COMPILE_WORKERS") == "1":
        return
    t0 = time.perf_counter()
    if log is not None:
        log("compiling the model's kernels (first run after a change; cached afterwards) ...")
    env = dict(os.environ, **{_CHILD_ENV: "1"})
    child = subprocess.Popen([sys.executable, "-c",
                              "from abm.core.warmup import compile_half; compile_half(True)"],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        compile_half(child=False)
    finally:
        _, err = child.communicate()
    if child.returncode != 0 and log is not None:  # the kernels then compile on first use
        log(f"the helper process failed ({err.decode(errors='replace').strip()[-300:]}); "
            f"compiling the rest here")
    if log is not None:
        log(f"kernels compiled in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":  # python -m abm.core.warmup: fill the kernel cache now
    ensure_compiled(log=lambda s: print(f"cpabm: {s}", flush=True))
