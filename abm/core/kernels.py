"""Shared bookkeeping: state moves, the open-case list, lazy risk, Taylor-Russell decisions.

Every change of a family's caseflow state does the bookkeeping of :func:`move_rows`, which
keeps the stock counters, the weekly transition matrix and the open list, so conservation
(stock = opening stock + inflows - outflows) holds by construction and is checked by the
tests against a full recount. :func:`move` calls it (the courts' care orders, the tests);
the front door and ``transitions.apply_moves`` write the same lines out in their loops.
"""

import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic
from numba.np.random.generator_core import next_uint32
from numba.np.random.random_methods import bounded_lemire_uint64, buffered_bounded_lemire_uint32

from abm.core.state import (
    CARE,
    FN,
    FP,
    NONE,
    SCORE_BINS,
    SCORE_HI,
    SCORE_LO,
    TN,
    TP,
)

#: How many cases ahead the loops over the open-case list prefetch a family's row. At
#: England a light loop (allocation) visits a case in 20 to 30 ns, so 8 ahead did not cover
#: the memory's latency: 16 passes over the open cases 15-25% faster (docs/performance.md,
#: section 9).
PREFETCH_AHEAD = 16


@intrinsic
def prefetch(typingctx, arr, idx):
    """Hint the CPU to fetch ``arr[idx]``'s cache line (LLVM ``llvm.prefetch``, read, keep).

    A pure performance hint with no effect on any value. The weekly loops visit open cases
    at scattered rows of a table of millions of families; the rows to come are known ahead
    (the open-case list), so fetching them early overlaps the memory waits.
    """
    sig = types.void(arr, idx)

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        i = context.cast(builder, args[1], signature.args[1], types.intp)
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [i], wraparound=False)
        i32 = ir.IntType(32)
        i8p = ir.IntType(8).as_pointer()  # one declaration serves arrays of every dtype
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
        builder.call(fn, [builder.bitcast(ptr, i8p), ir.Constant(i32, 0), ir.Constant(i32, 3),
                          ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return sig, codegen


@njit(cache=True)
def open_add(open_pos, idx, n_open, i):
    """Family i joins the open-case list (if not on it)."""
    if open_pos[i] < 0:
        n = n_open[0]
        idx[n] = i
        open_pos[i] = n
        n_open[0] = n + 1


@njit(cache=True)
def open_remove(open_pos, idx, n_open, i):
    """Family i leaves the open-case list (if on it): the last entry takes its place."""
    pos = open_pos[i]
    if pos >= 0:
        last = n_open[0] - 1
        j = idx[last]
        idx[pos] = j
        open_pos[j] = pos
        open_pos[i] = -1
        n_open[0] = last


@njit(cache=True)
def move_columns(fam, las, open_list):
    """The columns a state move touches, as one tuple for :func:`move_rows`."""
    return (fam.state, fam.la, fam.n_children, fam.since, fam.open_pos, las.stock_fam,
            las.stock_children, las.trans, open_list.idx, open_list.n)


@njit(cache=True)
def move_rows(mc, i, new_state, t):
    """:func:`move` on its columns, ``mc = move_columns(fam, las, open_list)``: the
    bookkeeping of a state move, defined once here.

    The loops that make many moves (the front door, ``transitions.apply_moves``) write these
    lines out instead of calling this: a Numba call takes and releases a reference to every
    array it is given (two atomic operations each), 100-300 ns a move against about 10 ns
    for the lines (``experiments/tools/refcount_rules.py``; docs/performance.md, section 9).
    """
    state, la_of, n_children, since, open_pos, stock_fam, stock_children, trans, idx, n_open = mc
    old = state[i]
    la = la_of[i]
    nc = n_children[i]
    stock_fam[la, old] -= 1
    stock_fam[la, new_state] += 1
    stock_children[la, old] -= nc
    stock_children[la, new_state] += nc
    trans[la, old, new_state] += 1
    state[i] = new_state
    since[i] = t
    if new_state == NONE:
        open_remove(open_pos, idx, n_open, i)
    else:
        open_add(open_pos, idx, n_open, i)


@njit(cache=True)
def move(fam, las, open_list, i, new_state, t):
    """Move family i to new_state at week t, keeping stocks, transitions and the open list."""
    move_rows(move_columns(fam, las, open_list), i, new_state, t)


@njit(cache=True)
def randbelow(rng, n):
    """``rng.integers(0, n)`` for n >= 1, bit-identical, at a tenth of the cost.

    Numba's scalar ``Generator.integers`` allocates a one-element array per draw; this calls
    the same routine (NumPy's Lemire rejection on the bit generator) without the array, so
    it consumes the stream exactly as ``integers`` does.
    """
    r = np.uint64(n - 1)
    if r == 0:
        return np.int64(0)  # NumPy draws nothing for a one-value range
    bitgen = rng.bit_generator
    if r < np.uint64(0xFFFFFFFF):
        return np.int64(buffered_bounded_lemire_uint32(bitgen, r))
    if r == np.uint64(0xFFFFFFFF):
        return np.int64(next_uint32(bitgen))
    return np.int64(bounded_lemire_uint64(bitgen, r))


@njit(cache=True, inline="always")
def ou_transition(theta, volatility, dt):
    """Decay and innovation SD of the exact Ornstein-Uhlenbeck transition over dt weeks."""
    if theta > 0.0:
        decay = math.exp(-theta * dt)
        sd = volatility * math.sqrt((1.0 - decay * decay) / (2.0 * theta))
    else:
        decay = 1.0
        sd = volatility * math.sqrt(dt)
    return decay, sd


@njit(cache=True, inline="always")
def ou_step(mu, risk, decay, sd, rng):
    """Risk after an OU transition with this decay and innovation SD, from ``risk`` around
    the long-run level ``mu``. Every caller that advances a family's risk uses it."""
    return mu + (risk - mu) * decay + sd * rng.normal()


@njit(cache=True)
def ou_table(theta, volatility, t_max):
    """:func:`ou_transition` for every elapsed time 0..t_max weeks, as two arrays: loops that
    advance many families' risk look it up instead of computing ``exp`` and ``sqrt`` each
    time (the same arithmetic, so the same values)."""
    decay = np.ones(t_max + 1)
    sd = np.zeros(t_max + 1)
    for dt in range(1, t_max + 1):
        decay[dt], sd[dt] = ou_transition(theta, volatility, dt)
    return decay, sd


@njit(cache=True)
def advance_risk(fam, i, t, p, rng):
    """Bring family i's latent risk forward to week t: the exact Ornstein-Uhlenbeck transition.

    Risk of families without an open case is advanced lazily, only when something touches
    them; the exact transition makes that statistically identical to weekly updates.
    (Casework, which steps every open case every week, computes the one-week transition once
    per week and applies it with the same arithmetic.)
    """
    dt = t - fam.risk_t[i]
    if dt <= 0:
        return fam.risk[i]
    decay, sd = ou_transition(p.risk_reversion, p.risk_volatility, dt)
    z = ou_step(fam.base[i], fam.risk[i], decay, sd, rng)
    fam.risk[i] = z
    fam.risk_t[i] = t
    return z


#: A decision log: one row per Taylor-Russell decision a kernel's loop makes, with these
#: columns, scored after the loop by :func:`score_decisions`. One float64 array, so that the
#: loop hands :func:`judge` one array rather than the seven of the confusion counts and the
#: reservoir: an inlined helper takes and releases a reference to every array it is given,
#: on every call (docs/performance.md, sections 8 and 9).
LOG_KIND, LOG_LA, LOG_TRUE, LOG_SCORE, LOG_THRESHOLD = 0, 1, 2, 3, 4


@njit(cache=True)
def decision_log(n):
    """An empty decision log with room for ``n`` decisions."""
    return np.empty((n, 5))


@njit(cache=True, inline="always")
def judge(true_risk, sigma, threshold, rng, log, n, kind, la):
    """A Taylor-Russell decision of kind ``kind`` in LA ``la``: a noisy estimate of true risk
    against a threshold. Returns (positive, score), and writes the decision to row ``n`` of
    ``log`` (the caller then counts it) for :func:`score_decisions`."""
    score = true_risk + sigma * rng.normal()
    log[n, LOG_KIND] = kind
    log[n, LOG_LA] = la
    log[n, LOG_TRUE] = true_risk
    log[n, LOG_SCORE] = score
    log[n, LOG_THRESHOLD] = threshold
    return score > threshold, score


@njit(cache=True)
def score_decisions(log, n, cut, counts, res, t):
    """Score the first ``n`` decisions of ``log``, in the order made, against the truth (true
    risk above the significant-harm cut): counts[la, kind, TP/FP/TN/FN], the score
    histograms, and the reservoir of recent decisions (for the Figures I-IV scatter and the
    AUC). Decisions made at week ``t``."""
    for j in range(n):
        d = int(log[j, LOG_KIND])
        la = int(log[j, LOG_LA])
        true_risk = log[j, LOG_TRUE]
        score = log[j, LOG_SCORE]
        threshold = log[j, LOG_THRESHOLD]
        positive = score > threshold
        truly = true_risk > cut
        if positive:
            if truly:
                counts[la, d, TP] += 1
            else:
                counts[la, d, FP] += 1
        else:
            if truly:
                counts[la, d, FN] += 1
            else:
                counts[la, d, TN] += 1
        b = int((score - SCORE_LO) / (SCORE_HI - SCORE_LO) * SCORE_BINS)
        res.hist[d, 1 if truly else 0, min(SCORE_BINS - 1, max(0, b))] += 1
        k = res.count[d] % res.true_risk.shape[1]
        res.true_risk[d, k] = true_risk
        res.score[d, k] = score
        res.threshold[d, k] = threshold
        res.week[d, k] = t
        res.count[d] += 1


@njit(cache=True)
def geometric_weeks(mean, rng):
    """Whole weeks (>=1) with the given mean: a geometric waiting time."""
    if mean <= 1.0:
        return 1
    return 1 + int(rng.exponential(mean - 1.0) + 0.5)


@njit(cache=True)
def in_social_care(state):
    return state >= 2 and state <= CARE


@njit(cache=True)
def popcount6(x):
    c = 0
    for k in range(6):
        if (x >> k) & 1:
            c += 1
    return c


@njit(cache=True)
def recount_stocks(fam, n_las, n_states):
    """Full recount of families per (LA, state): the check on the incremental counters."""
    out = np.zeros((n_las, n_states), np.int64)
    for i in range(fam.state.shape[0]):
        out[fam.la[i], fam.state[i]] += 1
    return out

