"""The indicator registry: every output of the model, declared once.

Two kinds of declaration:

* **Series**, recorded every week: *flows* (events counted in the week, summed over a
  period), *stocks* (a count at a moment: read at the period's end, or on census day for a
  financial year) and *levels* (a state such as a caseload or anxiety: averaged over the
  period's weeks). Each series lives in one weekly record (``table``): ``flow``, ``stock``
  and ``work`` have one row per LA, ``court`` one row per court centre, ``national`` one
  value, ``cohort`` one value counted at the week a care case started (so a period's value
  is about the cases that started in it). The kernels count flows at ``FL_<NAME>`` and write workforce fields at
  ``W_<NAME>``: both index constants are generated here, in declaration order.
* **Indicators** derived from the series' period aggregates by a formula (a ratio, a share,
  a rate): ``cp_plan_share = cpp_starts_children / referrals_children``.

Everything else is generated from these lists: the weekly tidy tables and their units
(``abm.outputs.tables``), the summaries at any period (month, quarter, financial year), the
per-LA summary, the sweep adapter's outcomes, the regression baseline and the output table
in ``docs/outputs.md``. A new output needs two edits: its line here and the kernel line that
counts it.

Official definitions, calendar-true (``abm.core.calendar``): flows are counted over the
period's days, each week apportioned to the days it covers; levels are averaged over the
period's days; stocks are read on the period's last day (for a financial year 31 March, the
census day of the DfE's CIN census); durations of care cases are over cases *concluded* in
the period (the MoJ statistic). ``weeks`` in a formula is the weeks of days the period holds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Caseflow states, in the order of ``Families.state`` (``abm.core.state``), with the noun of
#: their stock series.
STATE_NAMES = ("none", "early_help", "initial_assessment", "core_assessment", "child_in_need",
               "cp_plan", "care_proceedings", "looked_after")


@dataclass(frozen=True)
class Series:
    """A weekly recorded output."""

    name: str
    unit: str
    kind: str  # "flow", "stock" or "level"
    table: str  # weekly record: "flow", "stock", "work", "court", "cohort" or "national"
    description: str
    mechanism: str = ""
    field: str = ""  # court series: the ``Courts`` field recorded, if not the name's tail

    @property
    def aggregation(self) -> str:
        return {"flow": "sum over the period's days (each week apportioned by its days)",
                "stock": "on the period's last day (FY: 31 March, the census day)",
                "level": "mean over the period's days"}[self.kind]


#: what a formula may hold: names, numbers, + - * / and brackets (abm.outputs.tables
#: evaluates it on arrays)
_ARITHMETIC = re.compile(r"[A-Za-z0-9_ .+\-*/()]+")


@dataclass(frozen=True)
class Indicator:
    """An output derived from period aggregates by ``formula`` (an arithmetic expression of
    series and earlier indicators)."""

    name: str
    unit: str
    formula: str
    description: str
    mechanism: str = ""

    def __post_init__(self):
        if not _ARITHMETIC.fullmatch(self.formula):
            raise ValueError(f"indicator {self.name!r}: formula {self.formula!r} is not "
                             f"arithmetic on names and numbers (+ - * / and brackets only)")

    @property
    def kind(self) -> str:
        return "rate"

    @property
    def inputs(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", self.formula)))


def _flow(name, unit, description, mechanism):
    return Series(name, unit, "flow", "flow", description, mechanism)


#: The components of a care case's duration: every week from application to final hearing is
#: in exactly one (abm.mechanisms.courts classifies each open case's week).
COURT_COMPONENTS = (
    ("first_hearing", "from application to the first effective hearing"),
    ("guardian", "after the first hearing, waiting for a children's guardian (the case is "
     "not listed until one is allocated)"),
    ("case_management", "the intervals the judge planned between hearings"),
    ("experts", "relisted after a hearing that could not go ahead without expert reports, "
     "until the reports are in"),
    ("adjourned", "relisted after an ineffective hearing (overloaded lists, the base rate)"),
    ("listing", "due for a hearing but not reached in the week's list"),
)

#: The DfE's bands for the length of a child protection plan that ended: name, description,
#: and the longest plan in the band in whole weeks (a week is 7 days: 13 weeks = 91 days
#: is within 3 months, 26 weeks within 6 months, 52 within a year, 104 within two years).
CPP_DURATION_BANDS = (
    ("under_3_months", "3 months or less", 13),
    ("3_to_6_months", "more than 3 months, up to 6 months", 26),
    ("6_to_12_months", "more than 6 months, under 1 year", 52),
    ("1_to_2_years", "1 year, under 2 years", 104),
    ("2_years_and_over", "2 years or more", 1 << 30),
)

# ------------------------------------------------------------------ flows (per LA, per week)
FLOWS = (
    _flow("contacts", "contacts", "contacts of universal services with a family that reached a "
          "decision about concern (families without an open case and with one)", "front door"),
    _flow("contacts_open_case", "contacts", "contacts with a family whose case is already open",
          "front door"),
    _flow("referrals", "families", "referrals to children's social care (households)",
          "front door"),
    _flow("referrals_children", "children", "children in the referred households (the DfE's "
          "count of referrals)", "front door"),
    _flow("rereferrals", "families", "referrals within the re-referral window of the "
          "family's last closure", "front door"),
    _flow("early_help_starts", "families", "early help started by a universal service",
          "early help"),
    _flow("screened_out", "families", "referrals screened out at the front door", "front door"),
    _flow("ia_starts", "families", "initial assessments started", "casework"),
    _flow("ia_completed", "families", "initial assessments completed", "casework"),
    _flow("ia_on_time", "families", "initial assessments completed within the timescale",
          "timescales"),
    _flow("ca_starts", "families", "core assessments / s47 enquiries started", "casework"),
    _flow("ca_starts_children", "children", "children in core assessments / s47 enquiries "
          "started", "casework"),
    _flow("ca_completed", "families", "core assessments completed", "casework"),
    _flow("ca_on_time", "families", "core assessments completed within the timescale",
          "timescales"),
    _flow("conferences", "families", "initial child protection conferences", "casework"),
    _flow("cpp_starts", "families", "child protection plans started", "casework"),
    _flow("cpp_starts_children", "children", "children who became the subject of a child "
          "protection plan", "casework"),
    _flow("cpp_repeat_starts_children", "children", "children who became the subject of a "
          "child protection plan for a second or later time (their family had a plan before, "
          "since the run's warm-up began)", "plans"),
    _flow("cp_plans_ended", "children", "children who ceased to be the subject of a child "
          "protection plan (stepped down, closed, or escalated to care proceedings)", "plans"),
    _flow("cp_plan_duration_weeks_sum", "child-weeks", "weeks from the initial conference to "
          "the plan's end, summed over the children whose plan ended", "plans"),
    *(_flow(f"cp_plans_ended_{name}", "children", f"children whose plan ended after {what} "
            "(DfE length band)", "plans") for name, what, _ in CPP_DURATION_BANDS),
    _flow("cin_starts", "families", "child-in-need services started (or stepped down to)",
          "casework"),
    _flow("closures", "families", "social-care cases closed", "casework"),
    _flow("court_applications", "cases", "applications for care proceedings (one case per "
          "family)", "courts"),
    _flow("court_applications_children", "children", "children in applications for care "
          "proceedings", "courts"),
    _flow("court_concluded", "cases", "care cases concluded (final hearing held)", "courts"),
    _flow("court_duration_weeks_sum", "case-weeks", "weeks from application to final hearing, "
          "summed over the cases concluded", "courts"),
    _flow("care_orders", "cases", "care cases concluded with a care or placement order",
          "courts"),
    _flow("harm_events", "events", "severe harm events", "harm"),
    _flow("harm_known", "events", "severe harm events to families with an open case", "harm"),
    _flow("harm_missed", "events", "severe harm events to families with no open case", "harm"),
    _flow("unprotected_harm_weeks", "child-weeks", "children above the significant-harm cut "
          "without a protective service (plan, proceedings, care); families with no open case "
          "by expected value at their long-run risk", "harm exposure"),
    _flow("unnecessary_intervention_weeks", "child-weeks", "children under a protective "
          "service (plan, proceedings, care) while below the significant-harm cut",
          "harm exposure"),
    _flow("worker_changes", "changes of worker", "open cases whose social worker changed",
          "workload"),
    _flow("joiners", "workers", "permanent social workers recruited", "ripple effect"),
    _flow("leavers", "workers", "permanent social workers who left", "ripple effect"),
    _flow("agency_starts", "workers", "agency workers starting in a vacant post",
          "ripple effect"),
    _flow("unallocated_case_weeks", "case-weeks", "open cases left without a social worker "
          "in the week", "workload"),
    _flow("unnecessary_investigations", "families", "s47 enquiries into families below the "
          "significant-harm cut", "Taylor-Russell"),
    _flow("journey_weeks_sum", "family-weeks", "weeks from referral to the first help of the "
          "episode, summed over the journeys ending", "outcomes"),
    _flow("journeys", "families", "episodes in which help first arrived", "outcomes"),
    _flow("early_help_ends", "families", "early help ended", "early help"),
    _flow("court_hearings_held", "hearings", "court hearings held (effective and ineffective)",
          "courts"),
    _flow("court_hearings_ineffective", "hearings", "ineffective (adjourned) hearings",
          "courts"),
    _flow("court_experts_commissioned", "expert assessments", "expert assessments commissioned",
          "courts"),
    _flow("court_expert_cost", "GBP", "cost of the expert assessments commissioned", "courts"),
    _flow("court_hearings_sum_concluded", "hearings", "hearings held (incl. ineffective), "
          "summed over the cases concluded", "courts"),
    _flow("court_experts_sum_concluded", "expert assessments", "expert assessments, summed over "
          "the cases concluded", "courts"),
    _flow("outcome_home", "cases", "care cases concluded: home with support (plan)", "courts"),
    _flow("outcome_supervision", "cases", "care cases concluded: supervision order", "courts"),
    _flow("outcome_care_order", "cases", "care cases concluded: care order", "courts"),
    _flow("outcome_placement_order", "cases", "care cases concluded: placement order (adoption)",
          "courts"),
    _flow("permanence_weeks_sum", "case-weeks", "weeks from application to permanence, summed "
          "over the cases reaching it", "courts"),
    _flow("permanences", "cases", "cases reaching permanence", "courts"),
    _flow("fdac_engaged", "cases", "parents engaged by the FDAC team", "courts"),
    *(_flow(f"court_{name}_weeks_sum", "case-weeks", f"weeks {what}, summed over the "
            "cases concluded", "courts") for name, what in COURT_COMPONENTS),
    _flow("court_concluded_with_experts", "cases", "care cases concluded with at least one "
          "expert assessment", "courts"),
    _flow("court_concluded_within_40_weeks", "cases", "care cases concluded within 40 weeks "
          "of application (the 2003 Protocol for judicial case management's target)",
          "courts"),
    _flow("guardian_wait_weeks_sum", "case-weeks", "weeks from application to a children's "
          "guardian, summed over the guardians allocated", "courts"),
    _flow("guardians_allocated", "cases", "children's guardians allocated", "courts"),
    _flow("expert_reports_started", "expert reports", "expert assessments started by an "
          "expert (reached from the national expert queue)", "courts"),
    _flow("expert_queue_weeks_sum", "report-weeks", "weeks from commissioning to the start "
          "of work, summed over the expert assessments started", "courts"),
    _flow("reunification_breakdowns", "families", "families whose children came back from care "
          "and whose return broke down within 52 weeks (a new s47 enquiry or care application)",
          "outcomes"),
    _flow("police_triaged", "contacts", "police contacts decided by the triage unit",
          "front door"),
    _flow("police_triage_referrals", "contacts", "police contacts the triage unit referred",
          "front door"),
    _flow("delay_weeks", "child-weeks", "weeks of drift and delay: past an assessment "
          "timescale, past the court yardstick, or without a social worker", "outcomes"),
    _flow("reunification_attempts", "families", "families whose children went home from a "
          "care order after a review", "outcomes"),
)

# ------------------------------------------------------------------ stocks (per LA)
STOCKS = tuple(
    Series(f"stock_{state}_{unit}", unit, "stock", "stock",
           f"{unit} in state '{state}'", "caseflow")
    for state in STATE_NAMES for unit in ("children", "families"))

# ------------------------------------------------------------------ workforce (per LA, weekly)
_W = (
    ("posts", "posts", "social-worker posts (funded establishment)"),
    ("permanent", "workers", "posts held by permanent staff"),
    ("agency", "workers", "posts covered by agency workers"),
    ("vacant", "posts", "posts with nobody in them"),
    ("caseload", "cases", "open cases held by workers in post"),
    ("direct_hours", "hours/week", "hours of direct work given"),
    ("record_hours", "hours/week", "hours of recording done"),
    ("demand_hours", "hours/week", "hours of direct work and recording the cases needed"),
    ("available_hours", "hours/week", "case hours of the workers in post"),
    ("experience_sum", "worker-years", "experience of the workers in post, summed"),
    ("satisfaction_sum", "index", "satisfaction of the workers in post, summed"),
    ("stress_sum", "index", "stress of the workers in post, summed"),
    ("cost", "GBP/week", "cost of the workers in post (agency at its premium)"),
    ("contracted_hours", "hours/week", "contracted hours of the workers in post"),
)
WORKFORCE = tuple(Series(f"work_{n}", u, "level", "work", d, "workload") for n, u, d in _W)

# ------------------------------------------------------------------ courts (per court centre)
COURT = (
    Series("court_open_cases", "care cases", "level", "court", "care cases open", "courts"),
    Series("court_unallocated", "care cases", "level", "court",
           "open care cases waiting for a children's guardian", "courts"),
    Series("court_listed", "hearings/week", "level", "court", "hearings listed", "courts"),
    Series("court_held", "hearings/week", "level", "court", "hearings held", "courts"),
    Series("court_ineffective", "hearings/week", "level", "court", "ineffective hearings",
           "courts"),
    Series("court_slots", "hearing slots/week", "level", "court", "hearing slots", "courts"),
    Series("court_guardian_capacity", "care cases", "level", "court",
           "cases the guardians can carry at once", "courts"),
    Series("court_experts_queued", "expert reports", "level", "court", "expert assessments "
           "commissioned and waiting for an expert to start them (at the week's end)",
           "courts"),
    Series("court_expert_capacity", "expert reports/week", "level", "court",
           "expert assessments the experts serving the court's area can start a week",
           "courts"),
    Series("court_backlog", "care cases", "stock", "court", "care cases open (the backlog) "
           "at the period's end (census day for a financial year)", "courts",
           field="open_cases"),
    Series("court_open_age_weeks_sum", "case-weeks", "stock", "court", "weeks since "
           "application, summed over the care cases open at the period's end", "courts"),
)

# ------------------------------------------------------------------ cohorts (national, weekly)
# Counted at the week a case *started* (its application), when it concludes: a cohort's row
# fills in as its cases conclude, so the cohorts of a run's last year or so are incomplete
# (``care_cohort_concluded_share`` says how far).
COHORT = (
    Series("court_cohort_concluded", "cases", "flow", "cohort", "care cases applied for in "
           "the period and concluded by the run's end", "courts"),
    Series("court_cohort_duration_weeks_sum", "case-weeks", "flow", "cohort", "weeks from "
           "application to final hearing, summed over the cases applied for in the period and "
           "concluded by the run's end", "courts"),
)

# ------------------------------------------------------------------ national (one value a week)
NATIONAL = (
    Series("anxiety", "anxiety units", "level", "national",
           "public anxiety after media shocks", "anxiety"),
    Series("threshold_shift", "latent risk units", "level", "national",
           "how far defensive practice lowers every decision threshold", "anxiety"),
    Series("professional_status", "index", "level", "national",
           "the profession's status (0 = neutral)", "ripple effect"),
    Series("turnover_annual_rate", "per year", "level", "national",
           "permanent staff turnover, smoothed", "ripple effect"),
    Series("prescription", "multiplier", "level", "national",
           "prescription in force (multiplies the recording demand)", "loops"),
    Series("scope_for_judgment", "0..1", "level", "national",
           "scope for professional judgment in force", "loops"),
    Series("compliance", "share", "level", "national",
           "share of assessments completed on time, smoothed (loop B1)", "loops"),
    Series("error_rate", "errors per 100k children per year", "level", "national",
           "errors the system sees, smoothed (loops B2, R)", "loops"),
    Series("hidden_error_share", "share", "level", "national",
           "share of errors defended as compliance and not acknowledged (loop R)", "loops"),
    Series("loop_b1_pull", "prescription per year", "level", "national",
           "loop B1's pull on prescription", "loops"),
    Series("loop_b2_pull", "prescription per year", "level", "national",
           "loop B2's pull on prescription", "loops"),
    Series("loop_r_pull", "prescription per year", "level", "national",
           "loop R's pull on prescription", "loops"),
)

SERIES: tuple[Series, ...] = FLOWS + STOCKS + WORKFORCE + COURT + COHORT + NATIONAL
#: Series with one row per LA (the rest are per court centre or national).
PER_LA_TABLES = ("flow", "stock", "work")

_SC = " + ".join(f"stock_{s}_children" for s in STATE_NAMES[2:])  # social-care states
_FILLED = "(work_permanent + work_agency)"
_OUTCOMES = "(outcome_home + outcome_supervision + outcome_care_order + outcome_placement_order)"

# ------------------------------------------------------------------ derived indicators
INDICATORS = (
    Indicator("children_in_need", "children", _SC, "children with an open social-care case "
              "(the CIN census definition: assessment, child in need, plan, proceedings, "
              "looked after)", "caseflow"),
    Indicator("rereferral_rate", "share of referrals", "rereferrals / referrals",
              "referrals within the re-referral window of the last closure", "front door"),
    Indicator("ia_on_time_share", "share", "ia_on_time / ia_completed",
              "initial assessments completed within the timescale", "timescales"),
    Indicator("ca_on_time_share", "share", "ca_on_time / ca_completed",
              "core assessments completed within the timescale", "timescales"),
    Indicator("core_assessment_share", "share of referrals",
              "ca_starts_children / referrals_children",
              "children in core assessments per child referred", "casework"),
    Indicator("cp_plan_share", "share of referrals", "cpp_starts_children / referrals_children",
              "children becoming the subject of a plan per child referred", "casework"),
    Indicator("cp_plan_repeat_share", "share of plan starts",
              "cpp_repeat_starts_children / cpp_starts_children",
              "children becoming the subject of a plan for a second or later time, per child "
              "becoming the subject of a plan", "plans"),
    Indicator("cp_plan_duration_weeks", "weeks", "cp_plan_duration_weeks_sum / cp_plans_ended",
              "mean duration of the child protection plans that ended in the period (the DfE's "
              "plans-ended definition)", "plans"),
    *(Indicator(f"cp_plans_ended_{name}_share", "share of plans ended",
                f"cp_plans_ended_{name} / cp_plans_ended",
                f"plans that ended in the period after {what} (the DfE length band)", "plans")
      for name, what, _ in CPP_DURATION_BANDS),
    Indicator("initial_assessments_children", "children",
              "ia_completed * referrals_children / referrals",
              "initial assessments completed, in children (families x children per referred "
              "family: an approximation)", "casework"),
    Indicator("care_mean_duration_weeks", "weeks", "court_duration_weeks_sum / court_concluded",
              "mean duration of the care cases concluded in the period (MoJ definition)",
              "courts"),
    Indicator("care_arrivals_per_closure", "applications per concluded case",
              "court_applications / court_concluded",
              "applications per care case concluded in the period", "courts"),
    *(Indicator(f"care_{name}_weeks", "weeks", f"court_{name}_weeks_sum / court_concluded",
                f"mean weeks {what}, per care case concluded in the period (the components "
                "add up to care_mean_duration_weeks)", "courts")
      for name, what in COURT_COMPONENTS),
    Indicator("care_expert_evidence_share", "share of concluded cases",
              "court_concluded_with_experts / court_concluded",
              "care cases concluded in the period with expert evidence", "courts"),
    Indicator("care_within_40_weeks_share", "share of concluded cases",
              "court_concluded_within_40_weeks / court_concluded",
              "care cases concluded in the period within 40 weeks of application", "courts"),
    Indicator("care_open_age_weeks", "weeks", "court_open_age_weeks_sum / court_backlog",
              "mean age (weeks since application) of the care cases open at the period's "
              "end", "courts"),
    Indicator("care_cohort_duration_weeks", "weeks",
              "court_cohort_duration_weeks_sum / court_cohort_concluded",
              "eventual mean duration of the care cases applied for in the period (over "
              "those concluded by the run's end)", "courts"),
    Indicator("care_cohort_concluded_share", "share of applications",
              "court_cohort_concluded / court_applications",
              "share of the period's applications concluded by the run's end (how complete "
              "care_cohort_duration_weeks is)", "courts"),
    Indicator("hearings_per_concluded_case", "hearings",
              "court_hearings_sum_concluded / court_concluded",
              "hearings (incl. ineffective) per case concluded", "courts"),
    Indicator("ineffective_hearing_rate", "share of hearings held",
              "court_hearings_ineffective / court_hearings_held",
              "ineffective (adjourned) hearings per hearing held", "courts"),
    Indicator("expert_queue_wait_weeks", "weeks",
              "expert_queue_weeks_sum / expert_reports_started",
              "mean weeks an expert assessment waited for an expert to start it (the queue "
              "when experts are scarce)", "courts"),
    Indicator("experts_per_concluded_case", "expert assessments",
              "court_experts_sum_concluded / court_concluded",
              "expert assessments per case concluded", "courts"),
    Indicator("mean_guardian_wait_weeks", "weeks",
              "guardian_wait_weeks_sum / guardians_allocated",
              "weeks from application to a guardian, for guardians allocated", "courts"),
    Indicator("outcome_home_share", "share of outcomes", f"outcome_home / {_OUTCOMES}",
              "concluded cases going home with support", "courts"),
    Indicator("outcome_supervision_share", "share of outcomes",
              f"outcome_supervision / {_OUTCOMES}", "concluded cases with a supervision order",
              "courts"),
    Indicator("outcome_care_order_share", "share of outcomes",
              f"outcome_care_order / {_OUTCOMES}", "concluded cases with a care order",
              "courts"),
    Indicator("outcome_placement_order_share", "share of outcomes",
              f"outcome_placement_order / {_OUTCOMES}",
              "concluded cases with a placement order", "courts"),
    Indicator("mean_time_to_permanence_weeks", "weeks", "permanence_weeks_sum / permanences",
              "weeks from application to permanence", "courts"),
    Indicator("social_worker_fte", "FTE", _FILLED, "posts filled (permanent and agency)",
              "workload"),
    Indicator("vacancy_rate", "share of posts", "work_vacant / work_posts",
              "posts with nobody in them", "ripple effect"),
    Indicator("vacancy_rate_survey", "share of posts",
              "(work_vacant + work_agency) / work_posts",
              "posts without a permanent holder (the workforce surveys' definition: a post "
              "covered by an agency worker counts as vacant)", "ripple effect"),
    Indicator("turnover_rate", "per year", "leavers / work_permanent * 52.0 / weeks",
              "permanent leavers per permanent worker, per year", "ripple effect"),
    Indicator("agency_share", "share of filled posts", f"work_agency / {_FILLED}",
              "filled posts covered by agency workers", "ripple effect"),
    Indicator("mean_caseload", "cases per worker", f"work_caseload / {_FILLED}",
              "open cases per worker in post", "workload"),
    Indicator("direct_time_share", "share of case hours",
              "work_direct_hours / (work_direct_hours + work_record_hours)",
              "direct work as a share of the hours given to cases", "workload"),
    Indicator("direct_share_of_contracted_hours", "share",
              "work_direct_hours / work_contracted_hours",
              "direct work as a share of contracted hours", "workload"),
    Indicator("recording_share_of_contracted_hours", "share",
              "work_record_hours / work_contracted_hours",
              "recording as a share of contracted hours", "workload"),
    Indicator("mean_experience_years", "years", f"work_experience_sum / {_FILLED}",
              "experience of the workers in post", "ripple effect"),
    Indicator("mean_satisfaction", "index (0 = neutral)", f"work_satisfaction_sum / {_FILLED}",
              "satisfaction of the workers in post", "ripple effect"),
    Indicator("mean_stress", "index (0 = no overload)", f"work_stress_sum / {_FILLED}",
              "stress of the workers in post", "ripple effect"),
    Indicator("worker_changes_per_child_in_need", "changes per child in need",
              "worker_changes / children_in_need",
              "changes of social worker (counted once per family's case) per child with an "
              "open case at the period's end",
              "workload"),
    Indicator("mean_journey_weeks", "weeks", "journey_weeks_sum / journeys",
              "weeks from referral to the first help of the episode", "outcomes"),
    Indicator("delay_weeks_per_child_in_need", "weeks per child in need",
              "delay_weeks / children_in_need",
              "weeks of drift and delay per child with an open case", "outcomes"),
    Indicator("childhood_lost_pct_per_child_in_need", "% of childhood",
              "delay_weeks_per_child_in_need / (18 * 52) * 100",
              "drift and delay as a share of an 18-year childhood (2 months = 1%)", "outcomes"),
    Indicator("police_triage_referral_share", "share of police contacts",
              "police_triage_referrals / police_triaged",
              "police contacts the triage unit referred (Case Study 1)", "front door"),
    Indicator("referral_to_assessment_share", "initial assessments per referral",
              "ia_starts / referrals", "referrals that became an initial assessment "
              "(Case Study 2)", "front door"),
    Indicator("workforce_cost_gbp", "GBP", "work_cost * weeks",
              "cost of the workers in post over the period", "workload"),
)

BY_NAME: dict[str, Series | Indicator] = {x.name: x for x in SERIES + INDICATORS}
assert len(BY_NAME) == len(SERIES) + len(INDICATORS), "an output name is declared twice"
for _ind in INDICATORS:
    _known = [x.name for x in SERIES + INDICATORS[:INDICATORS.index(_ind)]] + ["weeks"]
    _missing = [n for n in _ind.inputs if n not in _known]
    assert not _missing, f"indicator {_ind.name}: unknown inputs {_missing}"

FLOW_NAMES = tuple(f.name for f in FLOWS)
N_FLOWS = len(FLOWS)
WORK_NAMES = tuple(s.name for s in WORKFORCE)
N_WORK = len(WORKFORCE)
COURT_NAMES = tuple(s.name for s in COURT)
#: The ``Courts`` state field each court series records.
COURT_FIELDS = tuple(s.field or s.name[len("court_"):] for s in COURT)
COHORT_NAMES = tuple(s.name for s in COHORT)
NATIONAL_NAMES = tuple(s.name for s in NATIONAL)


def units() -> dict[str, str]:
    """Every output's unit, by name (``weeks``: the weeks a period holds)."""
    return {"weeks": "weeks", **{x.name: x.unit for x in SERIES + INDICATORS}}


# Index constants the kernels use: FL_CONTACTS = 0, ..., W_POSTS = 0, ...
for _k, _s in enumerate(FLOWS):
    globals()[f"FL_{_s.name.upper()}"] = _k
for _k, _s in enumerate(WORKFORCE):
    globals()[f"W_{_s.name[5:].upper()}"] = _k
#: The first of the plan-length band flows (they follow in CPP_DURATION_BANDS order) and
#: each band's longest plan in weeks
FL_CPP_DURATION_BANDS = FLOW_NAMES.index(f"cp_plans_ended_{CPP_DURATION_BANDS[0][0]}")
CPP_BAND_MAX_WEEKS = tuple(w for _, _, w in CPP_DURATION_BANDS)
#: The first of the duration-component flows (they follow in COURT_COMPONENTS order)
FL_COURT_COMPONENTS = FLOW_NAMES.index(f"court_{COURT_COMPONENTS[0][0]}_weeks_sum")
CO_CONCLUDED, CO_DURATION_WEEKS_SUM = (COHORT_NAMES.index(f"court_cohort_{n}")
                                       for n in ("concluded", "duration_weeks_sum"))
