"""Outputs: tidy (long) tables with units, aggregation to month / quarter / financial year,
and the per-financial-year summary under the official definitions.

Definitions
-----------
* Flows (referrals, assessments, applications, ...) are summed over the weeks of a period.
* Census stocks (children in need, CP plans) are read at the last week ending on or before
  31 March, as the DfE CIN census is; other periods read the period's last week.
* Mean duration of care cases is over cases *concluded* in the period (MoJ definition).
* Workforce rates: vacancy rate = vacant / posts (period mean); turnover = leavers over the
  year / mean permanent staff; agency share = agency / filled posts (period mean).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from abm.core import state as S
from abm.core.model import NATIONAL_FIELDS, WORK_FIELDS

FLOW_UNITS = {name: ("children" if name.endswith("_children") else
                     "weeks" if name.endswith("weeks_sum") else
                     "case-weeks" if name == "unallocated_case_weeks" else
                     "workers" if name in ("joiners", "leavers", "agency_starts") else
                     "events" if name.startswith("harm") else
                     "families") for name in S.FLOWS}
WORK_UNITS = {"posts": "posts", "permanent": "workers", "agency": "workers", "vacant": "posts",
              "caseload": "cases", "direct_hours": "hours/week", "record_hours": "hours/week",
              "demand_hours": "hours/week", "available_hours": "hours/week",
              "experience_sum": "worker-years", "satisfaction_sum": "index", "stress_sum": "index",
              "cost": "GBP/week", "contracted_hours": "hours/week"}


def weekly_frame(model, per_la: bool = False) -> pd.DataFrame:
    """Wide weekly table: national (default) or one row per LA and week."""
    rec, cal = model.rec, model.calendar
    T = model.week if model.week > 0 else 0
    T = min(T, cal.n_weeks)
    L = len(model.las.children)
    cols = {}
    flow = rec["flow"][:T]
    stock = rec["stock_children"][:T]
    stock_f = rec["stock_fam"][:T]
    work = rec["work"][:T]
    if not per_la:
        flow, stock, stock_f, work = (x.sum(axis=1, keepdims=True) for x in (flow, stock, stock_f, work))
    n_units = flow.shape[1]
    for k, name in enumerate(S.FLOWS):
        cols[name] = flow[:, :, k].ravel()
    for k, name in enumerate(S.STATE_NAMES):
        cols[f"stock_{name}_children"] = stock[:, :, k].ravel()
        cols[f"stock_{name}_families"] = stock_f[:, :, k].ravel()
    for k, name in enumerate(WORK_FIELDS):
        cols[f"work_{name}"] = work[:, :, k].ravel()
    df = pd.DataFrame(cols)
    week = np.repeat(np.arange(T), n_units)
    df.insert(0, "week", week)
    df.insert(1, "date", cal.week_end[week])
    df.insert(2, "la", np.tile(np.arange(n_units), T) if per_la else -1)
    df["month"] = cal.month[week]
    df["quarter"] = cal.quarter[week]
    df["fy"] = cal.fy[week]
    if not per_la:
        court = rec["court"][:T].sum(axis=1)
        for k, name in enumerate(S.COURT_FIELDS):
            df[f"court_{name}"] = court[:, k]
        nat = rec["national"][:T]
        for k, name in enumerate(NATIONAL_FIELDS):
            df[name] = nat[:, k]
    _ = L
    return df


def tidy(model, per_la: bool = False) -> pd.DataFrame:
    """Long format: one row per (week, LA, indicator) with its unit."""
    wide = weekly_frame(model, per_la)
    id_cols = ["week", "date", "la", "month", "quarter", "fy"]
    long = wide.melt(id_vars=id_cols, var_name="indicator", value_name="value")
    units = {**FLOW_UNITS, **{f"work_{k}": v for k, v in WORK_UNITS.items()}}
    for name in S.STATE_NAMES:
        units[f"stock_{name}_children"] = "children"
        units[f"stock_{name}_families"] = "families"
    units.update(anxiety="anxiety units", threshold_shift="latent units",
                 professional_status="index", turnover_annual_rate="per year",
                 prescription="multiplier", scope_for_judgment="0..1",
                 compliance="share on time", error_rate="errors per 100k children per year",
                 hidden_error_share="share", loop_b1_pull="prescription per year",
                 loop_b2_pull="prescription per year", loop_r_pull="prescription per year",
                 court_open_cases="care cases", court_unallocated="care cases without a guardian",
                 court_listed="hearings listed per week", court_held="hearings held per week",
                 court_ineffective="ineffective hearings per week",
                 court_slots="hearing slots per week", court_guardian_capacity="care cases")
    long["unit"] = long["indicator"].map(units).astype("string")
    long["scenario"] = model.spec.name
    long["seed"] = model.seed
    long["value"] = long["value"].astype(float)
    return long


def period_table(model, period: str = "fy") -> pd.DataFrame:
    """National indicators aggregated to 'month', 'quarter' or 'fy'."""
    if period not in ("month", "quarter", "fy"):
        raise ValueError(f"period must be month, quarter or fy, got {period!r}")
    w = weekly_frame(model)
    flows = list(S.FLOWS)
    g = w.groupby(period, sort=False)
    out = g[flows].sum()
    stock_cols = [c for c in w.columns if c.startswith("stock_")]
    last = g[stock_cols].last()
    if period == "fy":  # census at 31 March
        census = model.calendar.census_weeks()
        for fy in last.index:
            if fy in census and census[fy] < len(w):
                last.loc[fy] = w.loc[census[fy], stock_cols].to_numpy()
            else:
                last.loc[fy] = np.nan  # period not complete: no census
    work_cols = [c for c in w.columns if c.startswith("work_") or c.startswith("court_")
                 and c[6:] in S.COURT_FIELDS]
    out = out.join(last).join(g[work_cols].mean()).join(g["week"].count().rename("weeks"))
    for c in NATIONAL_FIELDS:
        out[f"{c}_mean"] = g[c].mean()
    return out


def fy_summary(model) -> pd.DataFrame:
    """Per-financial-year indicators under the official definitions (national)."""
    t = period_table(model, "fy")
    sc_states = [f"stock_{S.STATE_NAMES[s]}_children" for s in S.SOCIAL_CARE_STATES]
    out = pd.DataFrame(index=t.index)
    out["weeks"] = t["weeks"]
    out["contacts"] = t["contacts"]
    out["referrals"] = t["referrals_children"]
    out["rereferral_rate"] = t["rereferrals"] / t["referrals"]
    out["initial_assessments"] = t["ia_completed"]
    out["ia_on_time_share"] = t["ia_on_time"] / t["ia_completed"]
    out["core_assessments"] = t["ca_starts_children"]
    out["core_assessment_share"] = t["ca_starts_children"] / t["referrals_children"]
    out["cp_plans_started"] = t["cpp_starts_children"]
    out["cp_plan_share"] = t["cpp_starts_children"] / t["referrals_children"]
    out["children_in_need_census"] = t[sc_states].sum(axis=1, min_count=1)
    out["cp_plans_census"] = t["stock_cp_plan_children"]
    out["looked_after_census"] = t["stock_looked_after_children"]
    out["early_help_starts"] = t["early_help_starts"]
    out["care_applications"] = t["court_applications"]
    out["care_applications_children"] = t["court_applications_children"]
    out["care_cases_concluded"] = t["court_concluded"]
    out["care_mean_duration_weeks"] = t["court_duration_weeks_sum"] / t["court_concluded"]
    out["care_arrivals_per_closure"] = t["court_applications"] / t["court_concluded"]
    out["care_open_cases_mean"] = t["court_open_cases"]
    out["guardian_queue_mean"] = t["court_unallocated"]
    out["hearings_per_concluded_case"] = t["court_hearings_sum_concluded"] / t["court_concluded"]
    out["ineffective_hearing_rate"] = t["court_hearings_ineffective"] / t["court_hearings_held"]
    out["experts_per_concluded_case"] = t["court_experts_sum_concluded"] / t["court_concluded"]
    out["expert_cost_gbp"] = t["court_expert_cost"]
    outcomes = t[["outcome_home", "outcome_supervision", "outcome_care_order",
                  "outcome_placement_order"]]
    for col in outcomes.columns:
        out[f"{col}_share"] = outcomes[col] / outcomes.sum(axis=1)
    out["mean_time_to_permanence_weeks"] = t["permanence_weeks_sum"] / t["permanences"]
    out["social_worker_fte"] = t["work_permanent"] + t["work_agency"]
    out["vacancy_rate"] = t["work_vacant"] / t["work_posts"]
    # workforce surveys (LAWIG, DfE) count a post without a permanent holder as vacant even
    # when an agency worker covers it
    out["vacancy_rate_survey"] = (t["work_vacant"] + t["work_agency"]) / t["work_posts"]
    out["turnover_rate"] = t["leavers"] / t["work_permanent"] * 52.0 / t["weeks"]
    out["agency_share"] = t["work_agency"] / (t["work_permanent"] + t["work_agency"])
    out["mean_caseload"] = t["work_caseload"] / (t["work_permanent"] + t["work_agency"])
    out["direct_time_share"] = t["work_direct_hours"] / (t["work_direct_hours"] + t["work_record_hours"])
    filled = t["work_permanent"] + t["work_agency"]
    out["direct_share_of_contracted_hours"] = t["work_direct_hours"] / t["work_contracted_hours"]
    out["recording_share_of_contracted_hours"] = t["work_record_hours"] / t["work_contracted_hours"]
    out["mean_experience_years"] = t["work_experience_sum"] / filled
    out["mean_satisfaction"] = t["work_satisfaction_sum"] / filled
    out["mean_stress"] = t["work_stress_sum"] / filled
    out["worker_changes_per_child_in_need"] = t["worker_changes"] / t[sc_states].sum(axis=1, min_count=1)
    out["worker_changes"] = t["worker_changes"]
    out["harm_events_known"] = t["harm_known"]
    out["harm_events_missed"] = t["harm_missed"]
    out["unnecessary_investigations"] = t["unnecessary_investigations"]
    out["mean_journey_weeks"] = t["journey_weeks_sum"] / t["journeys"]
    out["delay_weeks"] = t["delay_weeks"]
    cin = t[sc_states].sum(axis=1, min_count=1)
    out["delay_weeks_per_child_in_need"] = t["delay_weeks"] / cin
    out["childhood_lost_pct_per_child_in_need"] = out["delay_weeks_per_child_in_need"] / (18 * 52) * 100
    out["reunifications"] = t["reunification_attempts"]
    out["reunification_breakdowns_52w"] = t["reunification_breakdowns"]
    out["rereferrals"] = t["rereferrals"]
    out["police_triage_referral_share"] = t["police_triage_referrals"] / t["police_triaged"]
    out["referral_to_assessment_share"] = t["ia_starts"] / t["referrals"]
    out["workforce_cost_gbp"] = t["work_cost"] * t["weeks"]
    out["prescription"] = t["prescription_mean"]
    out["scope_for_judgment"] = t["scope_for_judgment_mean"]
    out["loop_b1_pull"] = t["loop_b1_pull_mean"]
    out["loop_b2_pull"] = t["loop_b2_pull_mean"]
    out["loop_r_pull"] = t["loop_r_pull_mean"]
    out.index.name = "fy"
    return out


SUMMARY_UNITS = {
    "weeks": "weeks", "contacts": "contacts (families)", "referrals": "children",
    "rereferral_rate": "share", "initial_assessments": "families",
    "ia_on_time_share": "share", "core_assessments": "children",
    "core_assessment_share": "share of referrals", "cp_plans_started": "children",
    "cp_plan_share": "share of referrals", "children_in_need_census": "children at 31 March",
    "cp_plans_census": "children at 31 March", "looked_after_census": "children at 31 March",
    "early_help_starts": "families", "care_applications": "cases",
    "care_applications_children": "children", "care_cases_concluded": "cases",
    "care_mean_duration_weeks": "weeks (cases concluded in the period)",
    "care_arrivals_per_closure": "applications per concluded case",
    "care_open_cases_mean": "care cases (mean)", "guardian_queue_mean": "cases without a guardian (mean)",
    "hearings_per_concluded_case": "hearings (incl. ineffective)",
    "ineffective_hearing_rate": "share of hearings held", "experts_per_concluded_case": "assessments",
    "expert_cost_gbp": "GBP", "outcome_home_share": "share of outcomes",
    "outcome_supervision_share": "share of outcomes", "outcome_care_order_share": "share of outcomes",
    "outcome_placement_order_share": "share of outcomes",
    "mean_time_to_permanence_weeks": "weeks (application to permanence)",
    "social_worker_fte": "FTE (mean)", "vacancy_rate": "share of posts (unfilled)",
    "vacancy_rate_survey": "share of posts without a permanent holder (survey definition)",
    "turnover_rate": "per year", "agency_share": "share of filled posts",
    "mean_caseload": "cases per worker", "direct_time_share": "share of case hours",
    "direct_share_of_contracted_hours": "share", "recording_share_of_contracted_hours": "share",
    "mean_experience_years": "years", "mean_satisfaction": "index (0 = neutral)",
    "mean_stress": "index (0 = no overload)",
    "worker_changes_per_child_in_need": "changes per open case at 31 March",
    "worker_changes": "changes of social worker", "harm_events_known": "events",
    "harm_events_missed": "events", "unnecessary_investigations": "families",
    "mean_journey_weeks": "weeks (referral to help)", "workforce_cost_gbp": "GBP",
    "delay_weeks": "child-weeks of drift and delay",
    "delay_weeks_per_child_in_need": "weeks per child in need",
    "childhood_lost_pct_per_child_in_need": "% of childhood (2 months = 1%)",
    "reunifications": "children home from care orders",
    "reunification_breakdowns_52w": "breakdowns within 52 weeks", "rereferrals": "referrals",
    "police_triage_referral_share": "share of police incidents (triage only)",
    "referral_to_assessment_share": "initial assessments per referral",
    "prescription": "multiplier (mean)", "scope_for_judgment": "0..1 (mean)",
    "loop_b1_pull": "prescription per year (mean)", "loop_b2_pull": "prescription per year (mean)",
    "loop_r_pull": "prescription per year (mean)",
}


def decision_table(model) -> pd.DataFrame:
    """Error matrix (TP/FP/TN/FN) per decision point and financial year, national."""
    dec = model.rec["decisions"][: model.week].sum(axis=1)  # T x D x 4
    hist = model.rec["score_hist"][: model.week]  # T x D x 2 x bins
    fy = model.calendar.fy[: model.week]
    rows = []
    for f in pd.unique(fy):
        m = fy == f
        tot = dec[m].sum(axis=0)
        h = hist[m].sum(axis=0)
        for d, name in enumerate(S.DECISION_NAMES):
            tp, fp, tn, fn = (int(x) for x in tot[d])
            rows.append({"fy": f, "decision": name, "TP": tp, "FP": fp, "TN": tn, "FN": fn,
                         "sensitivity": tp / (tp + fn) if tp + fn else np.nan,
                         "specificity": tn / (tn + fp) if tn + fp else np.nan,
                         "auc": auc_from_hist(h[d, 0], h[d, 1])})
    return pd.DataFrame(rows)


def la_fy_summary(model) -> pd.DataFrame:
    """Per-LA, per-financial-year indicators (caseflow and workforce), long format."""
    w = weekly_frame(model, per_la=True)
    g = w.groupby(["la", "fy"], sort=True)
    s = g[list(S.FLOWS)].sum()
    m = g[[c for c in w.columns if c.startswith("work_")]].mean()
    n = g["week"].count()
    codes = [pl.code for pl in model.spec.places]
    out = pd.DataFrame(index=s.index)
    out["referrals"] = s["referrals_children"]
    out["core_assessment_share"] = s["ca_starts_children"] / s["referrals_children"]
    out["cp_plan_share"] = s["cpp_starts_children"] / s["referrals_children"]
    out["care_applications"] = s["court_applications"]
    filled = m["work_permanent"] + m["work_agency"]
    out["social_worker_fte"] = filled
    out["vacancy_rate"] = m["work_vacant"] / m["work_posts"]
    out["turnover_rate"] = s["leavers"] / m["work_permanent"] * 52.0 / n
    out["agency_share"] = m["work_agency"] / filled
    out["mean_caseload"] = m["work_caseload"] / filled
    out["direct_share_of_contracted_hours"] = m["work_direct_hours"] / m["work_contracted_hours"]
    out["mean_experience_years"] = m["work_experience_sum"] / filled
    out["worker_changes"] = s["worker_changes"]
    out["workforce_cost_gbp"] = m["work_cost"] * n
    out = out.reset_index()
    out.insert(1, "la_code", [codes[i] for i in out["la"]])
    return out.melt(id_vars=["la", "la_code", "fy"], var_name="indicator")


def workforce_distributions(model) -> pd.DataFrame:
    """Weekly national distributions of caseload (cases) and experience (whole years)."""
    T = model.week
    rows = []
    for key, var in (("caseload_hist", "caseload"), ("experience_hist", "experience_years")):
        h = model.rec[key][:T]
        t, b = np.nonzero(h)
        rows.append(pd.DataFrame({"week": t, "date": model.calendar.week_end[t], "variable": var,
                                  "bin": b, "workers": h[t, b]}))
    return pd.concat(rows, ignore_index=True)


def auc_from_hist(neg: np.ndarray, pos: np.ndarray) -> float:
    """Area under the ROC curve of decision scores against true risk, from binned scores:
    P(score of a truly-at-risk case > score of a not-at-risk case), ties counted half."""
    n_neg, n_pos = neg.sum(), pos.sum()
    if n_neg == 0 or n_pos == 0:
        return float("nan")
    below = np.cumsum(neg) - neg
    return float((pos * (below + 0.5 * neg)).sum() / (n_neg * n_pos))


def reunification_table(model) -> pd.DataFrame:
    """Reunifications from care and breakdowns within 52 weeks, by the skill decile of the
    worker who decided the return (0 = newly qualified with no direct time, 9 = best)."""
    r = model.rec["reunify"][: model.week].sum(axis=0)
    df = pd.DataFrame({"skill_decile": np.arange(r.shape[0]), "reunifications": r[:, 0],
                       "breakdowns_52w": r[:, 1]})
    df["success_rate"] = 1 - df["breakdowns_52w"] / df["reunifications"].where(df["reunifications"] > 0)
    return df
