"""Question: when does handing arrays to a Numba helper cost reference counting?

The rule the kernels follow (docs/performance.md, *Reference counting*) rests on this; run it
again after a Numba upgrade. Micro-benchmarks of the patterns the kernels use, in
nanoseconds per call:

* an inlined helper (``inline="always"``) taking six arrays, called in a loop: with a
  straight-line body and a straight-line call site, with a branch in its body, and with a
  straight-line body called inside an if/else; and the same lines written out in the loop;
* ``core.move_rows`` (a state move on ten columns, not inlined) against its bookkeeping
  written out;
* a ``numpy.random.Generator`` handed to an inlined helper against drawing in the loop.

Numba takes and releases a reference to every array a helper is given (an atomic operation
each); its reference-count pruning removes the pairs only when the helper's body and its
call site are straight-line code.

    PYTHONPATH=experiments .venv/bin/python -m benchmarks.probes.refcount_rules

About a minute on 2 cores.
"""

import time

import numpy as np
from numba import njit

N_CALLS = 2_000_000


@njit(inline="always")
def _bump(a, b, c, d, e, f, i, v):
    a[i] += v
    b[i] += v
    c[i] -= v
    d[i] += 1
    e[i] = v
    f[i] = i


@njit(inline="always")
def _bump_branch(a, b, c, d, e, f, i, v):
    a[i] += v
    b[i] += v
    c[i] -= v
    d[i] += 1
    if v > 0.5:
        e[i] = v
    else:
        f[i] = i


@njit
def straight(a, b, c, d, e, f, idx, vals):
    for k in range(idx.shape[0]):
        _bump(a, b, c, d, e, f, idx[k], vals[k])


@njit
def branch_in_helper(a, b, c, d, e, f, idx, vals):
    for k in range(idx.shape[0]):
        _bump_branch(a, b, c, d, e, f, idx[k], vals[k])


@njit
def called_in_a_branch(a, b, c, d, e, f, idx, vals):
    for k in range(idx.shape[0]):
        if vals[k] > 0.3:
            _bump(a, b, c, d, e, f, idx[k], vals[k])
        else:
            _bump(a, b, c, d, e, f, idx[k], -vals[k])


@njit
def written_out(a, b, c, d, e, f, idx, vals):
    for k in range(idx.shape[0]):
        i = idx[k]
        v = vals[k]
        a[i] += v
        b[i] += v
        c[i] -= v
        d[i] += 1
        if v > 0.5:
            e[i] = v
        else:
            f[i] = i


@njit(inline="always")
def _ou(mu, r, d, s, rng):
    return mu + (r - mu) * d + s * rng.normal()


@njit
def generator_to_helper(x, rng):
    acc = 0.0
    for k in range(x.shape[0]):
        if x[k] > 0.5:
            acc += _ou(0.0, x[k], 0.9, 0.1, rng)
        else:
            acc -= _ou(0.0, x[k], 0.8, 0.1, rng)
    return acc


@njit
def generator_in_loop(x, rng):
    acc = 0.0
    for k in range(x.shape[0]):
        if x[k] > 0.5:
            acc += x[k] * 0.9 + 0.1 * rng.normal()
        else:
            acc -= x[k] * 0.8 + 0.1 * rng.normal()
    return acc


def _moves():
    """core.move_rows against its bookkeeping written out, on a small LA's tables."""
    import abm
    from abm.core import state as S
    from abm.core.kernels import move_columns, move_rows
    from abm.core.model import ChildProtectionModel

    @njit
    def via_move_rows(fam, las, op, rows, reps):
        mc = move_columns(fam, las, op)
        for r in range(reps):
            for k in range(rows.shape[0]):
                i = rows[k]
                move_rows(mc, i, S.CPP if fam.state[i] == S.CIN else S.CIN, r)

    @njit
    def bookkeeping_written_out(fam, las, op, rows, reps):
        state, la_of, n_children, since = fam.state, fam.la, fam.n_children, fam.since
        sf, sc, tr = las.stock_fam, las.stock_children, las.trans
        for r in range(reps):
            for k in range(rows.shape[0]):
                i = rows[k]
                new = S.CPP if state[i] == S.CIN else S.CIN
                old, la, nc = state[i], la_of[i], n_children[i]
                sf[la, old] -= 1
                sf[la, new] += 1
                sc[la, old] -= nc
                sc[la, new] += nc
                tr[la, old, new] += 1
                state[i] = new
                since[i] = r

    m = ChildProtectionModel(abm.small_la_scenario(children=200_000, years=1, warmup_weeks=0),
                             rng=1, agent_views=False)
    fam, las, op = m.fam, m.las, m.open
    rows = np.flatnonzero(fam.state == S.NONE)[:1000]
    mc = move_columns(fam, las, op)
    for i in rows:
        move_rows(mc, i, S.CIN, 0)  # open cases, so that the moves keep them open
    reps = N_CALLS // len(rows)
    return [(name, lambda f=f: f(fam, las, op, rows, reps))
            for name, f in (("core.move_rows (10 columns, a call)", via_move_rows),
                            ("its bookkeeping written out", bookkeeping_written_out))], reps * len(rows)


def main() -> None:
    rng = np.random.default_rng(0)
    arrs = [np.zeros(1000) for _ in range(5)] + [np.zeros(1000, np.int64)]
    idx = rng.integers(0, 1000, N_CALLS)
    vals = rng.random(N_CALLS)
    cases = [(f.__name__.replace("_", " "), lambda f=f: f(*arrs, idx, vals))
             for f in (straight, branch_in_helper, called_in_a_branch, written_out)]
    cases += [(f.__name__.replace("_", " "), lambda f=f: f(vals, np.random.default_rng(1)))
              for f in (generator_to_helper, generator_in_loop)]
    groups = [(cases, N_CALLS)]
    groups.append(_moves())
    for group, _n in groups:
        for _, run in group:
            run()  # compile
    for rep in range(3):
        print(f"round {rep + 1}:")
        for group, n in groups:
            for name, run in group:
                t = time.perf_counter()
                run()
                print(f"  {name:40s} {(time.perf_counter() - t) / n * 1e9:6.1f} ns per call")


if __name__ == "__main__":
    main()
