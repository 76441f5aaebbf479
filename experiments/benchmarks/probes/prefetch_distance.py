"""Question: how far ahead should the loops over the open cases prefetch their rows?

The kernels prefetch ``abm.core.kernels.PREFETCH_AHEAD`` cases ahead (docs/performance.md,
*Memory*); the best distance depends on the machine's memory latency and the time a visit
takes, so run this again on a new machine or after the loops change. It builds England at
1:1 (or its first ``--las`` LAs), runs a few weeks, then times a light pass over the open
cases (the shape of allocation: state, worker and LA of each case, the worker's status) with
the rows prefetched 0, 4, 8, 16, 32 and 64 cases ahead, in rounds.

    PYTHONPATH=experiments .venv/bin/python -m benchmarks.probes.prefetch_distance [--las 152] [--rounds 3]
"""

import argparse
import time

from numba import njit

from abm.core.kernels import prefetch
from abm.core.model import ChildProtectionModel
from abm.core.state import EARLY_HELP
from benchmarks.plans import ENGLAND, make_scenario


def make_pass(dist: int):
    @njit
    def light_pass(fam, work, open_list):
        n = open_list.n[0]
        c = 0.0
        for kk in range(n):
            if dist > 0 and kk + dist < n:
                prefetch(fam.state, open_list.idx[kk + dist])
            i = open_list.idx[kk]
            w = fam.worker[i]
            if fam.state[i] != EARLY_HELP and w >= 0:
                c += work.status[w] + fam.la[i]
        return c
    return light_pass


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--las", type=int, default=152)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    sc = make_scenario({"path": ENGLAND, "las": a.las, "years": 1,
                        "overrides": {"warmup_weeks": 52}})
    m = ChildProtectionModel(sc, rng=1, agent_views=False)
    for _ in range(10):
        m.step()
    passes = {d: make_pass(d) for d in (0, 4, 8, 16, 32, 64)}
    for f in passes.values():
        f(m.fam, m.work, m.open)
    print(f"{int(m.open.n[0]):,} open cases; ms per pass by prefetch distance")
    for _ in range(a.rounds):
        row = []
        for d, f in passes.items():
            t = time.perf_counter()
            for _ in range(20):
                f(m.fam, m.work, m.open)
            row.append(f"{d}: {(time.perf_counter() - t) * 50:.2f}")
        print("  " + "  ".join(row))


if __name__ == "__main__":
    main()
