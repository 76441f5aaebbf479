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
from .core import move


@njit(cache=True)
def start_help(fam, las, i, t):
    """First help of the episode: the child's journey from referral to help ends here."""
    if fam.help_start[i] < 0 and fam.episode_start[i] >= 0:
        fam.help_start[i] = t
        las.flow[fam.la[i], FL_JOURNEY_WEEKS_SUM] += t - fam.episode_start[i]
        las.flow[fam.la[i], FL_JOURNEYS] += 1


@njit(cache=True)
def close_case(fam, work, las, open_list, i, t):
    w = fam.worker[i]
    if w >= 0:
        work.caseload[w] -= 1
        fam.worker[i] = -1
    fam.last_closed[i] = t
    fam.episode_start[i] = -1
    fam.help_start[i] = -1
    las.flow[fam.la[i], FL_CLOSURES] += 1
    move(fam, las, open_list, i, NONE, t)


@njit(cache=True)
def to_cin(fam, las, open_list, p, i, t):
    move(fam, las, open_list, i, CIN, t)
    fam.due[i] = t + int(math.ceil(p.cin_review_weeks))
    las.flow[fam.la[i], FL_CIN_STARTS] += 1
    start_help(fam, las, i, t)


@njit(cache=True)
def to_cpp(fam, las, open_list, p, i, t):
    move(fam, las, open_list, i, CPP, t)
    fam.due[i] = t + int(math.ceil(p.cpp_review_weeks))
    las.flow[fam.la[i], FL_CPP_STARTS] += 1
    las.flow[fam.la[i], FL_CPP_STARTS_CHILDREN] += fam.n_children[i]
    start_help(fam, las, i, t)
