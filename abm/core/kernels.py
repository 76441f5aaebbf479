"""Kernel code every mechanism shares: the caseflow's bookkeeping and a few Numba tools.

Every change of a family's caseflow state does the bookkeeping of :func:`move_rows`, which
keeps the stock counters, the weekly transition matrix and the open list, so conservation
(stock = opening stock + inflows - outflows) holds by construction and is checked by the
tests against a full recount. :func:`move` calls it (the courts' care orders, the tests);
the front door and ``casework.apply_moves`` write the same lines out in their loops. The
tools: :func:`prefetch`, :func:`randbelow`, :func:`geometric_weeks` (and
:func:`geometric_weeks_from`), :func:`sort_int64`.
"""

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic
from numba.np.random.generator_core import next_uint32
from numba.np.random.random_methods import bounded_lemire_uint64, buffered_bounded_lemire_uint32

from abm.core.state import CARE, NONE

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

    The loops that make many moves (the front door, ``casework.apply_moves``) write these
    lines out instead of calling this: a Numba call takes and releases a reference to every
    array it is given (two atomic operations each), 100-300 ns a move against about 10 ns
    for the lines (docs/performance.md).
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


@njit(cache=True)
def geometric_weeks(mean, rng):
    """Whole weeks (>=1) with the given mean: a geometric waiting time."""
    if mean <= 1.0:
        return 1
    return 1 + int(rng.exponential(mean - 1.0) + 0.5)


@njit(cache=True)
def geometric_weeks_from(mean, e):
    """:func:`geometric_weeks` from an Exponential(1) number ``e`` drawn beforehand (the same
    value for the same draw), for a kernel that draws a fixed number of random numbers
    whatever happens."""
    if mean <= 1.0:
        return 1
    return 1 + int(e * (mean - 1.0) + 0.5)


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



@njit(cache=True)
def sort_int64(a):
    """Sort ``a`` (int64) in place, ascending: a heapsort. The kernels sort only unique keys
    (a row index is folded into every key), so any correct sort gives the same order; this
    one compiles in a fraction of the time of NumPy's sort, whose Numba version is compiled
    anew for every array type."""
    n = a.shape[0]
    for start in range(n // 2 - 1, -1, -1):
        _sift_down(a, start, n)
    for end in range(n - 1, 0, -1):
        a[0], a[end] = a[end], a[0]
        _sift_down(a, 0, end)


@njit(cache=True, inline="always")
def _sift_down(a, root, n):
    while True:
        child = 2 * root + 1
        if child >= n:
            return
        if child + 1 < n and a[child] < a[child + 1]:
            child += 1
        if a[root] >= a[child]:
            return
        a[root], a[child] = a[child], a[root]
        root = child
