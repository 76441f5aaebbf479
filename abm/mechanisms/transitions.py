"""The caseflow moves casework decides, and the courts' outcomes that reuse them.

Casework decides, case by case, what each open case does this week; the moves are then
applied here, in the order decided, by :func:`apply_moves`. The bookkeeping of every move
(stocks, the transition matrix, the open-case list) is :func:`core.move_rows`', written
out. Applying the moves after casework's loop changes no result: the loop reads only the
row of the case it visits and the workers' ratios, and walks the open-case list downward,
so the moves it has already decided touch nothing it reads later. It keeps the loop free of
calls that take the tables (docs/performance.md, section 9).
"""

import math

import numpy as np
from numba import njit

from abm.core import indicators as I
from abm.core.state import (
    CA,
    CIN,
    COURT,
    CPP,
    NONE,
)

#: The moves: a core assessment / s47 enquiry starts; child-in-need services; a child
#: protection plan; the LA applies for care proceedings; the case closes; early help ends.
GO_CA, GO_CIN, GO_CPP, GO_COURT, GO_CLOSE, GO_EH_END = 1, 2, 3, 4, 5, 6


@njit(cache=True)
def apply_moves(fam, work, las, open_list, p, moves, n, t):
    """Apply the first ``n`` moves of ``moves`` (rows of family, GO_* code) at week ``t``.

    The bookkeeping of each move is :func:`core.move_rows`' written out once in the loop
    rather than called: a call taking its ten columns costs 100-300 ns a move in reference
    counting, the lines themselves about 10 ns (docs/performance.md, section 9)."""
    flow = las.flow
    state, la_of, n_children, since = fam.state, fam.la, fam.n_children, fam.since
    stock_fam, stock_children, trans = las.stock_fam, las.stock_children, las.trans
    open_pos, idx, n_open = fam.open_pos, open_list.idx, open_list.n
    for j in range(n):
        i = moves[j, 0]
        go = moves[j, 1]
        la = la_of[i]
        if go == GO_CA:
            new = CA
        elif go == GO_CIN:
            new = CIN
        elif go == GO_CPP:
            new = CPP
        elif go == GO_COURT:
            new = COURT
        else:  # GO_CLOSE, GO_EH_END
            new = NONE
        # before the move
        if (go == GO_CA or go == GO_COURT) and fam.returned[i] >= 0:
            # a new s47 enquiry or care application within 52 weeks of going home from care
            # is a reunification breakdown, scored against the skill of who decided it
            if t - fam.returned[i] <= 52:
                las.reunify[fam.return_bin[i], 1] += 1
                flow[la, I.FL_REUNIFICATION_BREAKDOWNS] += 1
            fam.returned[i] = -1
        elif go == GO_CLOSE:
            w = fam.worker[i]
            if w >= 0:
                work.caseload[w] -= 1
                fam.worker[i] = -1
            fam.last_closed[i] = t
            fam.episode_start[i] = -1
            fam.help_start[i] = -1
            flow[la, I.FL_CLOSURES] += 1
        elif go == GO_EH_END:
            las.eh_used[la] -= 1
            flow[la, I.FL_EARLY_HELP_ENDS] += 1
        # the move (core.move_rows): stocks, transitions, state; a closed case leaves the
        # open list, the last entry taking its place (every other move is between open states)
        old = state[i]
        nc = n_children[i]
        stock_fam[la, old] -= 1
        stock_fam[la, new] += 1
        stock_children[la, old] -= nc
        stock_children[la, new] += nc
        trans[la, old, new] += 1
        state[i] = new
        since[i] = t
        if new == NONE:
            pos = open_pos[i]
            last = n_open[0] - 1
            k = idx[last]
            idx[pos] = k
            open_pos[k] = pos
            open_pos[i] = -1
            n_open[0] = last
        # after it
        if go == GO_CA:
            fam.due[i] = t + int(math.ceil(p.ca_target_weeks))
            fam.acc_direct[i] = 0.0
            fam.acc_record[i] = 0.0
            flow[la, I.FL_CA_STARTS] += 1
            flow[la, I.FL_CA_STARTS_CHILDREN] += nc
        elif go == GO_COURT:
            fam.court_case[i] = -1  # the court opens its case record
            flow[la, I.FL_COURT_APPLICATIONS] += 1
            flow[la, I.FL_COURT_APPLICATIONS_CHILDREN] += nc
        elif go == GO_CIN or go == GO_CPP:
            if go == GO_CIN:
                fam.due[i] = t + int(math.ceil(p.cin_review_weeks))
                flow[la, I.FL_CIN_STARTS] += 1
            else:
                fam.due[i] = t + int(math.ceil(p.cpp_review_weeks))
                flow[la, I.FL_CPP_STARTS] += 1
                flow[la, I.FL_CPP_STARTS_CHILDREN] += nc
            if fam.help_start[i] < 0 and fam.episode_start[i] >= 0:
                # first help of the episode: the child's journey from referral to help ends
                fam.help_start[i] = t
                flow[la, I.FL_JOURNEY_WEEKS_SUM] += t - fam.episode_start[i]
                flow[la, I.FL_JOURNEYS] += 1


@njit(cache=True)
def apply_move(fam, work, las, open_list, p, i, go, t):
    """One move (GO_* code ``go``) of family ``i`` at week ``t``, now."""
    moves = np.empty((1, 2), np.int64)
    moves[0, 0] = i
    moves[0, 1] = go
    apply_moves(fam, work, las, open_list, p, moves, 1, t)
