"""Moves between caseflow states shared by casework and the courts."""

import math

from numba import njit

from ..state import (
    CIN,
    CPP,
    FL_CIN_STARTS,
    FL_CLOSURES,
    FL_CPP_STARTS,
    FL_CPP_STARTS_CHILDREN,
    FL_JOURNEY_WEEKS_SUM,
    FL_JOURNEYS,
    NONE,
)
from .core import move_columns, move_rows


@njit(cache=True)
def start_help_rows(la_of, episode_start, help_start, flow, i, t):
    """First help of the episode: the child's journey from referral to help ends here."""
    if help_start[i] < 0 and episode_start[i] >= 0:
        help_start[i] = t
        flow[la_of[i], FL_JOURNEY_WEEKS_SUM] += t - episode_start[i]
        flow[la_of[i], FL_JOURNEYS] += 1


@njit(cache=True)
def start_help(fam, las, i, t):
    start_help_rows(fam.la, fam.episode_start, fam.help_start, las.flow, i, t)


# The *_rows forms take the columns they touch (``mc = core.move_columns(...)`` and a few
# more), for kernels that make many moves: see core.move_rows. The table forms are the
# same code, for callers that make few.

@njit(cache=True)
def close_case_rows(mc, worker, caseload, last_closed, episode_start, help_start, flow, i, t):
    w = worker[i]
    if w >= 0:
        caseload[w] -= 1
        worker[i] = -1
    last_closed[i] = t
    episode_start[i] = -1
    help_start[i] = -1
    flow[mc[1][i], FL_CLOSURES] += 1
    move_rows(mc, i, NONE, t)


@njit(cache=True)
def close_case(fam, work, las, open_list, i, t):
    close_case_rows(move_columns(fam, las, open_list), fam.worker, work.caseload,
                    fam.last_closed, fam.episode_start, fam.help_start, las.flow, i, t)


@njit(cache=True)
def to_cin_rows(mc, due, episode_start, help_start, flow, review_weeks, i, t):
    move_rows(mc, i, CIN, t)
    due[i] = t + int(math.ceil(review_weeks))
    flow[mc[1][i], FL_CIN_STARTS] += 1
    start_help_rows(mc[1], episode_start, help_start, flow, i, t)


@njit(cache=True)
def to_cin(fam, las, open_list, p, i, t):
    to_cin_rows(move_columns(fam, las, open_list), fam.due, fam.episode_start, fam.help_start,
                las.flow, p.cin_review_weeks, i, t)


@njit(cache=True)
def to_cpp_rows(mc, due, episode_start, help_start, flow, review_weeks, i, t):
    move_rows(mc, i, CPP, t)
    due[i] = t + int(math.ceil(review_weeks))
    flow[mc[1][i], FL_CPP_STARTS] += 1
    flow[mc[1][i], FL_CPP_STARTS_CHILDREN] += mc[2][i]
    start_help_rows(mc[1], episode_start, help_start, flow, i, t)


@njit(cache=True)
def to_cpp(fam, las, open_list, p, i, t):
    to_cpp_rows(move_columns(fam, las, open_list), fam.due, fam.episode_start, fam.help_start,
                las.flow, p.cpp_review_weeks, i, t)
