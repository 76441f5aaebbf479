"""The caseflow moves casework decides, and the courts' outcomes that reuse them.

Casework decides, case by case, what each open case does this week; the moves are then
applied here, in the order decided, by :func:`apply_moves`. The bookkeeping of every move
(stocks, the transition matrix, the open-case list) is :func:`core.move_rows`. Applying the
moves after casework's loop changes no result: the loop reads only the row of the case it
visits and the workers' ratios, and walks the open-case list downward, so the moves it has
already decided touch nothing it reads later. It keeps the loop free of calls that take
the tables (docs/performance.md, section 9).
"""

import math

import numpy as np
from numba import njit

from ..state import (
    CA,
    CIN,
    COURT,
    CPP,
    FL_CA_STARTS,
    FL_CA_STARTS_CHILDREN,
    FL_CIN_STARTS,
    FL_CLOSURES,
    FL_COURT_APPLICATIONS,
    FL_COURT_APPLICATIONS_CHILDREN,
    FL_CPP_STARTS,
    FL_CPP_STARTS_CHILDREN,
    FL_EARLY_HELP_ENDS,
    FL_JOURNEY_WEEKS_SUM,
    FL_JOURNEYS,
    FL_REUNIFICATION_BREAKDOWNS,
    NONE,
)
from .core import move_columns, move_rows

#: The moves: a core assessment / s47 enquiry starts; child-in-need services; a child
#: protection plan; the LA applies for care proceedings; the case closes; early help ends.
GO_CA, GO_CIN, GO_CPP, GO_COURT, GO_CLOSE, GO_EH_END = 1, 2, 3, 4, 5, 6


@njit(cache=True)
def apply_moves(fam, work, las, open_list, p, moves, n, t):
    """Apply the first ``n`` moves of ``moves`` (rows of family, GO_* code) at week ``t``."""
    mc = move_columns(fam, las, open_list)
    flow = las.flow
    for j in range(n):
        i = moves[j, 0]
        go = moves[j, 1]
        la = fam.la[i]
        if (go == GO_CA or go == GO_COURT) and fam.returned[i] >= 0:
            # a new s47 enquiry or care application within 52 weeks of going home from care
            # is a reunification breakdown, scored against the skill of who decided it
            if t - fam.returned[i] <= 52:
                las.reunify[fam.return_bin[i], 1] += 1
                flow[la, FL_REUNIFICATION_BREAKDOWNS] += 1
            fam.returned[i] = -1
        if go == GO_CA:
            move_rows(mc, i, CA, t)
            fam.due[i] = t + int(math.ceil(p.ca_target_weeks))
            fam.acc_direct[i] = 0.0
            fam.acc_record[i] = 0.0
            flow[la, FL_CA_STARTS] += 1
            flow[la, FL_CA_STARTS_CHILDREN] += fam.n_children[i]
        elif go == GO_COURT:
            move_rows(mc, i, COURT, t)  # the court opens its case record
            fam.court_case[i] = -1
            flow[la, FL_COURT_APPLICATIONS] += 1
            flow[la, FL_COURT_APPLICATIONS_CHILDREN] += fam.n_children[i]
        elif go == GO_CIN or go == GO_CPP:
            if go == GO_CIN:
                move_rows(mc, i, CIN, t)
                fam.due[i] = t + int(math.ceil(p.cin_review_weeks))
                flow[la, FL_CIN_STARTS] += 1
            else:
                move_rows(mc, i, CPP, t)
                fam.due[i] = t + int(math.ceil(p.cpp_review_weeks))
                flow[la, FL_CPP_STARTS] += 1
                flow[la, FL_CPP_STARTS_CHILDREN] += fam.n_children[i]
            if fam.help_start[i] < 0 and fam.episode_start[i] >= 0:
                # first help of the episode: the child's journey from referral to help ends
                fam.help_start[i] = t
                flow[la, FL_JOURNEY_WEEKS_SUM] += t - fam.episode_start[i]
                flow[la, FL_JOURNEYS] += 1
        elif go == GO_CLOSE:
            w = fam.worker[i]
            if w >= 0:
                work.caseload[w] -= 1
                fam.worker[i] = -1
            fam.last_closed[i] = t
            fam.episode_start[i] = -1
            fam.help_start[i] = -1
            flow[la, FL_CLOSURES] += 1
            move_rows(mc, i, NONE, t)
        elif go == GO_EH_END:
            las.eh_used[la] -= 1
            flow[la, FL_EARLY_HELP_ENDS] += 1
            move_rows(mc, i, NONE, t)


@njit(cache=True)
def apply_move(fam, work, las, open_list, p, i, go, t):
    """One move (GO_* code ``go``) of family ``i`` at week ``t``, now."""
    moves = np.empty((1, 2), np.int64)
    moves[0, 0] = i
    moves[0, 1] = go
    apply_moves(fam, work, las, open_list, p, moves, 1, t)
