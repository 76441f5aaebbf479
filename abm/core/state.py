"""Struct-of-arrays state: one table per kind of agent.

Each table is a namedtuple of NumPy arrays, one row per agent. Kernels take these tables
as explicit arguments and mutate them in place; Mesa agents (``abm.core.agents``) are thin views
holding only a row index. Nothing here holds the same value twice.

Caseflow states (``Family.state``)
---------------------------------
NONE        in the population, no open episode
EARLY_HELP  early help from a universal service (not a social-care case)
IA          initial assessment in progress
CA          core assessment / s47 enquiry in progress
CIN         child-in-need services
CPP         child protection plan
COURT       care proceedings
CARE        looked after under a care or placement order
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from abm.core.indicators import COURT_COMPONENTS, STATE_NAMES

NONE, EARLY_HELP, IA, CA, CIN, CPP, COURT, CARE = range(8)
N_STATES = len(STATE_NAMES)
#: States that count as an open children's social care case (CIN census definition).
SOCIAL_CARE_STATES = (IA, CA, CIN, CPP, COURT, CARE)

# Decision points of the Taylor-Russell bookkeeping.
D_REFERRER, D_SCREEN, D_IA, D_CA, D_CONFERENCE, D_COURT = range(6)
DECISION_NAMES = ("referrer", "screening", "initial_assessment", "core_assessment",
                  "conference", "court_application")
N_DECISIONS = 6
TP, FP, TN, FN = range(4)

# Referrer types.
REFERRER_TYPES = ("police", "schools", "health", "early_years", "other")
N_REFERRER_TYPES = 5

# Worker post status.
VACANT, PERMANENT, AGENCY = 0, 1, 2


Families = namedtuple("Families", [
    "la",            # int32  LA row
    "n_children",    # int8   children in the household
    "base",          # float32 long-run latent risk (the family's own mean); lasting change
                     #        after a plan lowers it (``casework.lasting_change``)
    "base_origin",   # float32 the long-run risk of a new household in this row: its place
                     #        in the LA's sorted risk distribution (``population.Renewal``)
    "risk",          # float32 current latent risk, valid at week risk_t
    "risk_t",        # int32  week the risk was last advanced to
    "needs",         # uint8  bitmask of need domains
    "state",         # int8   caseflow state
    "since",         # int32  week the current state began
    "due",           # int32  week of the next scheduled event in this state
    "routine_due",   # int32  week of the routine review that an audit review came before
                     #        (-1 if none): the audit adds a review, the routine one stands
    "worker",        # int32  allocated worker post, -1 if none
    "acc_direct",    # float32 direct hours received in the current assessment
    "acc_record",    # float32 recording done in the current assessment, in weeks of work
                     #        at full pace (each allocated week adds its worker's record ratio)
    "work_need",     # float32 weeks of work at full pace the current assessment needs
                     #        (0: not drawn yet; drawn in its first week of casework)
    "last_closed",   # int32  week of the last social-care closure (-1e6 if never)
    "episode_start", # int32  week the current social-care episode began (-1 if none)
    "help_start",    # int32  week help first arrived in this episode (-1 if none yet)
    "n_worker_changes",  # int16 changes of social worker, cumulative (this household)
    "n_referrals",   # int16  referrals, cumulative (this household)
    "n_harm",        # int16  severe harm events, cumulative (this household)
    "n_plans",       # int16  child protection plans started by the household now in this
                     #        row, cumulative (a later one is a repeat plan)
    "open_pos",      # int32  position in the open-case list, -1 if not open
    "court_case",    # int32  row in CourtCases while in care proceedings, else -1
    "order",         # int8   0 none, 1 care order (before the return review), 2 placement
                     #        order, 3 care order after a review that kept the child in care
    "returned",      # int32  week the child went home from care (-1 if not in the window)
    "return_bin",    # int8   skill decile of the worker who decided the return
])

OpenList = namedtuple("OpenList", ["idx", "n"])  # idx: int32[N]; n: int64[1]

Workers = namedtuple("Workers", [
    "la", "team", "status", "experience", "caseload", "direct_ratio", "record_ratio",
    "direct_hours", "record_hours", "demand_hours", "satisfaction", "stress",
    "hire_due", "agency_due", "changed", "sigma",
])

LAState = namedtuple("LAState", [
    "pay",           # float64 local pay index (log, relative to national)
    "children", "families", "fam_start", "fam_end", "court", "worker_start", "worker_end",
    "bin_start", "bin_end", "bin_base_max", "eh_places", "eh_used",
    "stock_fam", "stock_children", "trans", "flow", "decisions", "referrer_flow",
    "reunify",       # int64[10, 2] weekly, national: reunifications, breakdowns by skill decile
])
N_SKILL_BINS = 10

Courts = namedtuple("Courts", [
    "slots",              # float64 hearing slots per week
    "guardian_capacity",  # float64 cases guardians can carry at once
    "guardians_used",     # int64   cases with a guardian allocated
    "credit",             # float64 fractional hearing slots carried to next week
    "extra_capacity",     # float64 capacity found under listing pressure, a share of base slots
    "children_served",    # float64 children in the LAs the court serves
    "open_cases",         # int64   weekly: care cases open
    "unallocated",        # int64   weekly: open cases waiting for a guardian
    "listed",             # int64   weekly: hearings listed (demand)
    "held",               # int64   weekly: hearings held (effective + ineffective)
    "ineffective",        # int64   weekly: ineffective / adjourned hearings
    "open_age_weeks_sum", # int64   weekly: weeks since application, summed over the open cases
    "expert_capacity",    # float64 expert reports the experts serving the area start a week
    "experts_queued",     # int64   weekly: expert reports waiting for an expert to start them
    "expert_credit",      # float64[1] national: fractional expert starts carried to next week
    "experts_waiting",    # int64[1]   national: expert reports waiting, kept as they change
])

CourtCases = namedtuple("CourtCases", [
    "fam", "court", "opened", "active", "guardian", "guardian_wait_from", "hearings_needed",
    "hearings_done", "ineffective", "next_hearing", "experts", "expert_due", "fdac",
    "wait_reason",  # int8  why the case waits for its next listing (courts.PLANNED, ...)
    "interval",     # int16 weeks between hearings, as the judge's timetable sets them
    "components",   # int32[M, n] weeks spent in each component of the duration so far
    "expert_queued",        # int16 expert reports commissioned but not yet started
    "expert_queued_since",  # int32 week the case's waiting reports were commissioned
    "free", "n_free",
])


def empty_court_cases(m: int) -> CourtCases:
    return CourtCases(
        fam=np.full(m, -1, np.int32), court=np.zeros(m, np.int32), opened=np.zeros(m, np.int32),
        active=np.zeros(m, np.int8), guardian=np.zeros(m, np.int8),
        guardian_wait_from=np.zeros(m, np.int32), hearings_needed=np.zeros(m, np.int16),
        hearings_done=np.zeros(m, np.int16), ineffective=np.zeros(m, np.int16),
        next_hearing=np.zeros(m, np.int32), experts=np.zeros(m, np.int16),
        expert_due=np.zeros(m, np.int32), fdac=np.zeros(m, np.int8),
        wait_reason=np.zeros(m, np.int8), interval=np.zeros(m, np.int16),
        components=np.zeros((m, len(COURT_COMPONENTS)), np.int32),
        expert_queued=np.zeros(m, np.int16), expert_queued_since=np.zeros(m, np.int32),
        free=np.arange(m - 1, -1, -1, dtype=np.int32), n_free=np.array([m], np.int64),
    )

Reservoir = namedtuple("Reservoir", [
    "true_risk", "score", "threshold", "week", "count",  # ring buffer of recent decisions
    "hist",  # int64[D, 2, SCORE_BINS] weekly: decision scores of truly not at risk / at risk
])
SCORE_BINS, SCORE_LO, SCORE_HI = 48, -4.0, 8.0


#: Memory layout of the family table. Casework, allocation and time use visit the open
#: cases in list order, i.e. at scattered rows of a table of millions: with one array per
#: field each visit costs one cache miss per field read. So the fields are stored as rows
#: of two packed records and each Families field is a strided view into one of them: the
#: *hot* record (every field the weekly loops over open cases read, 32 bytes, half a cache
#: line) and the *cold* one (bookkeeping read at state changes). Values and dtypes are the
#: same as with separate arrays; only the memory layout differs.
FAMILY_HOT = [("state", np.int8), ("n_children", np.int8), ("needs", np.uint8),
              ("order", np.int8), ("la", np.int32), ("worker", np.int32), ("since", np.int32),
              ("due", np.int32), ("risk_t", np.int32), ("risk", np.float32),
              ("base", np.float32)]
FAMILY_COLD = [("acc_direct", np.float32), ("acc_record", np.float32),
               ("court_case", np.int32), ("open_pos", np.int32), ("last_closed", np.int32),
               ("episode_start", np.int32), ("help_start", np.int32), ("returned", np.int32),
               ("n_worker_changes", np.int16), ("n_referrals", np.int16), ("n_harm", np.int16),
               ("return_bin", np.int8), ("routine_due", np.int32), ("n_plans", np.int16),
               ("work_need", np.float32), ("base_origin", np.float32)]
assert sorted(f for f, _ in FAMILY_HOT + FAMILY_COLD) == sorted(Families._fields)


def _packed(n: int, fields) -> np.ndarray:
    """A zeroed structured array of n records, starting on a 64-byte (cache-line) boundary."""
    dtype = np.dtype(fields, align=True)
    buf = np.zeros(n * dtype.itemsize + 64, np.uint8)
    off = (-buf.ctypes.data) % 64
    return buf[off:off + n * dtype.itemsize].view(dtype)


def empty_families(n: int) -> Families:
    hot, cold = _packed(n, FAMILY_HOT), _packed(n, FAMILY_COLD)
    fam = Families(**{f: hot[f] for f, _ in FAMILY_HOT}, **{f: cold[f] for f, _ in FAMILY_COLD})
    fam.n_children[:] = 1
    fam.worker[:] = -1
    fam.last_closed[:] = -1_000_000
    fam.episode_start[:] = -1
    fam.help_start[:] = -1
    fam.open_pos[:] = -1
    fam.court_case[:] = -1
    fam.returned[:] = -1
    fam.routine_due[:] = -1
    return fam


def empty_workers(n: int) -> Workers:
    f32 = lambda: np.zeros(n, np.float32)  # noqa: E731
    return Workers(
        la=np.zeros(n, np.int32), team=np.zeros(n, np.int32), status=np.zeros(n, np.int8),
        experience=f32(), caseload=np.zeros(n, np.int32), direct_ratio=np.ones(n, np.float32),
        record_ratio=np.ones(n, np.float32), direct_hours=f32(), record_hours=f32(),
        demand_hours=f32(), satisfaction=f32(), stress=f32(),
        hire_due=np.full(n, -1, np.int32), agency_due=np.full(n, -1, np.int32),
        changed=np.full(n, -1, np.int32),
        sigma=np.ones(n, np.float32),
    )


def nbytes(table) -> int:
    return sum(a.nbytes for a in table if isinstance(a, np.ndarray))
