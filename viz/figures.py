"""Each view of the workshop app drawn from a model, as SVG bytes.

No Solara here, so the views can be drawn and checked without a browser. Every function
takes a model (``viz.workshop.WorkshopModel``) and returns an SVG document; the Solara
components in ``viz.components`` only place them on the page. Each is a few milliseconds.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np

from abm.core import state as S
from viz import workshop as W
from viz.svg import Axes, Svg, nice_ticks, ramp, tick_label

MAIN = "#1f4e79"  # the main run
TWIN = "#e66101"  # the comparison regime
SHOCK = "#c00000"
GREY = "#6e6e6e"
COHORT = "#d95f02"  # cohorts: the cases started in a week
UP, DOWN = "#b2182b", "#1a7837"
DECISION_LABELS = {
    "referrer": "Referral by universal services",
    "screening": "Front-door screening",
    "initial_assessment": "Initial assessment: s47 enquiry?",
    "core_assessment": "Core assessment: conference?",
    "conference": "Conference: child protection plan?",
    "court_application": "Application to court",
}


def _fmt(v, digits: int = 0) -> str:
    if v is None or not np.isfinite(v):
        return "–"
    return f"{v:,.{digits}f}"


def _last(s) -> float:
    v = s.dropna()
    return float(v.iloc[-1]) if len(v) else float("nan")


def _year_ticks(model, lo: float, hi: float) -> list[tuple[float, str]]:
    """Week positions of 1 January of each year in [lo, hi] (calendar weeks)."""
    out = []
    for year in range(W.START.year + 1, W.START.year + 30):
        wk = (dt.date(year, 1, 1) - model.calendar.start).days / 7.0
        if wk > hi:
            break
        if wk >= lo:
            out.append((wk, str(year)))
    if len(out) > 6:
        out = out[::2]
    return out


def _xlim(model, span_weeks: int = 104) -> tuple[float, float]:
    return (0.0, float(max(model.week, span_weeks)) + 2.0)


def _shock_lines(ax: Axes, model, label: bool) -> None:
    weeks = getattr(model, "shock_weeks", [])
    for k, w in enumerate(weeks):
        ax.vline(w, SHOCK, label="media shock" if label and k == len(weeks) - 1 else "")


# ---------------------------------------------------------------------------- 3. time series
#: Line-chart views (3 and 7) are drawn this wide, with their panels in rows of PANEL_COLS:
#: a 1280 px screen shows them about this wide, so their text is drawn at its own size.
PANELS_WIDTH, PANEL_COLS, ROW_HEIGHT = 840, 3, 270


def _panels(svg: Svg, n: int, top: float, bottom: float, width: float = PANELS_WIDTH):
    """Panel boxes (x, y, w, h) in rows of PANEL_COLS; ``top``/``bottom`` are the first
    row's plot area, repeated every ROW_HEIGHT."""
    pw = width / PANEL_COLS
    return [((k % PANEL_COLS) * pw + 50, top + (k // PANEL_COLS) * ROW_HEIGHT, pw - 50 - 16,
             bottom - top) for k in range(n)]


def _panels_height(n: int, bottom: float) -> float:
    return bottom + 34 + (math.ceil(n / PANEL_COLS) - 1) * ROW_HEIGHT


def timeseries_svg(model) -> bytes:
    """Five panels along the review's story: referrals, caseload, workforce, court."""
    s = W.series(model)
    x = np.arange(len(s), dtype=float)
    svg = Svg(PANELS_WIDTH, _panels_height(5, 236))
    xlim = _xlim(model)
    ticks = _year_ticks(model, *xlim)
    boxes = _panels(svg, 5, 66, 236)

    def panel(k, title, ylabel, series_list, ylim=None, refs=()):
        bx, by, bw, bh = boxes[k]
        vals = np.concatenate([np.asarray(v, float) for v, *_ in series_list] + [np.array([0.0])])
        finite = vals[np.isfinite(vals)]
        hi = max(float(finite.max()) * 1.12 if finite.size else 1.0, 1.0)
        for v, *_ in refs:
            hi = max(hi, v * 1.15)
        ax = Axes(svg, bx, by, bw, bh, xlim, ylim or (0.0, hi))
        ax.frame(ticks, ylabel)
        for v, col, _ in refs:
            ax.hline(v, col)
        for v, col, dash, width_ in series_list:
            ax.line(x, v, col, width_, dash)
        for v, col, lab in refs:
            ax.hline_label(v, col, lab)
        _shock_lines(ax, model, label=k == 0)
        svg.text(bx - 44, by - 42, title, size=14, weight="bold")
        return ax

    panel(0, f"Referrals: {_fmt(_last(s['referrals']))} a week",
          "8-week average; faint: weekly",
          [(s["referrals_weekly"], "#b8c7d9", None, 1.0), (s["referrals"], MAIN, None, 2.6)])
    panel(1, f"Caseload: {_fmt(_last(s['caseload']), 1)} per worker",
          "open cases per social worker", [(s["caseload"], MAIN, None, 2.4)])
    panel(2, f"Staff leaving: {_fmt(_last(s['turnover_pct']))}% a year", "",
          [(s["turnover_pct"], "#7b3294", None, 2.4), (s["vacancy_pct"], MAIN, None, 2.0),
           (s["agency_pct"], "#1a9850", "6 3", 2.0)])
    lx, by = boxes[2][0], boxes[2][1]
    svg.text(lx - 44 + 40, by - 6, "%:", size=12.5, fill="#555", anchor="end")
    for lab, col, dash in (("leaving", "#7b3294", None), ("vacant", MAIN, None),
                           ("agency", "#1a9850", "5 2")):
        svg.line(lx, by - 10, lx + 16, by - 10, stroke=col, stroke_width=2.6,
                 stroke_dasharray=dash)
        svg.text(lx + 19, by - 6, lab, size=12.5, fill=col, weight="bold")
        lx += 25 + 7.4 * len(lab)
    panel(3, f"Court: {_fmt(_last(s['court_weeks']))} weeks a case",
          "", [(s["court_weeks"], MAIN, None, 2.4), (s["court_cohort_weeks"], COHORT, "6 3", 2.2)],
          refs=[(55.7, GREY, "2010: 55.7 weeks (§2.31)")])
    # the official figure against the eventual duration of the cases started in a week
    # (drawn once 90% of them have concluded): after a surge the first stays flat while the
    # second rises, and the second is known only a year or more later
    lx, by = boxes[3][0], boxes[3][1]
    for dy, lab, col, dash in ((-24, "cases concluded then (official)", MAIN, None),
                               (-6, "cases started then", COHORT, "5 2")):
        svg.line(lx, by + dy - 4, lx + 16, by + dy - 4, stroke=col, stroke_width=2.6,
                 stroke_dasharray=dash)
        svg.text(lx + 19, by + dy, lab, size=12.5, fill=col, weight="bold")
    panel(4, f"Court: {_fmt(_last(s['arrivals_per_closure']), 1)} new per case closed",
          "care cases in per case out (13-week)", [(s["arrivals_per_closure"], MAIN, None, 2.4)],
          refs=[(1.0, GREY, "in = out")])
    return bytes(svg)


# ---------------------------------------------------------------------------- 7. side by side
def compare_svg(model) -> bytes:
    """The same LA and seed under two regimes, indicator by indicator."""
    cd = W.compare_data(model)
    a, b = cd["a"], cd["b"]
    x = np.arange(len(a), dtype=float)
    svg = Svg(PANELS_WIDTH, _panels_height(5, 250))
    xlim = _xlim(model)
    ticks = _year_ticks(model, *xlim)
    panels = (("referrals", "Referrals", "children a week", 0, None),
              ("caseload", "Caseload", "cases per social worker", 1, None),
              ("direct_pct", "Direct work", "% of case time with families", 0, (0, 100)),
              ("turnover_pct", "Staff leaving", "% a year", 0, None),
              ("on_time_pct", "Assessments on time", "% within timescale (13-week)", 0, (0, 100)))
    boxes = _panels(svg, len(panels), 80, 250)
    for (col, title, unit, digits, ylim), (bx, by, bw, bh) in zip(panels, boxes, strict=True):
        vals = np.concatenate([a[col].to_numpy(float), b[col].to_numpy(float), [0.0]])
        vals = vals[np.isfinite(vals)]
        hi = max(float(vals.max()) * 1.12, 1.0)
        ax = Axes(svg, bx, by, bw, bh, xlim, ylim or (0.0, hi))
        ax.frame(ticks, unit)
        ax.line(x, b[col], TWIN, 2.4)
        ax.line(x, a[col], MAIN, 2.4)
        _shock_lines(ax, model, label=False)
        svg.text(bx - 44, by - 42, f"{title}: {_fmt(_last(a[col]), digits)} vs "
                 f"{_fmt(_last(b[col]), digits)}", size=14, weight="bold")
    lx = 6
    for lab, col in ((f"{cd['a_regime']} (this run)", MAIN),
                     (f"{cd['b_regime']} (same LA, same seed {cd['seed']})", TWIN)):
        svg.line(lx, 10, lx + 26, 10, stroke=col, stroke_width=3)
        svg.text(lx + 32, 14, lab, size=12.5, fill="#222", weight="bold")
        lx += 40 + 7.6 * len(lab)
    return bytes(svg)


# ---------------------------------------------------------------------------- 1. caseflow
FLOW_SHORT = ("Contacts", "Referrals (children)", "Initial assessments (families)",
              "Core assess. / s47 (children)", "CP plans started (children)",
              "Care proceedings (children)")


def _change(svg: Svg, x: float, y: float, now: float, base: float, real: bool) -> None:
    """The change since the start, or "≈" when it is within chance variation."""
    if base > 0:
        ch = (now / base - 1.0) * 100
        if real and abs(ch) >= 0.5:
            svg.text(x, y, f"{'▲' if ch > 0 else '▼'} {abs(ch):.0f}%", size=12.5,
                     anchor="end", fill=UP if ch > 0 else DOWN, weight="bold")
        else:
            svg.text(x, y, "≈", size=13, anchor="end", fill="#888")


def caseflow_svg(model) -> bytes:
    """Flows down the chain (a funnel, last 13 weeks beside the start) and open cases."""
    cf = W.caseflow_data(model)
    flows, stocks = cf["flows"], cf["stocks"]
    width, height = 500, 390
    svg = Svg(width, height)
    svg.text(4, 16, "Flow a week, last 13 weeks", size=13.5, weight="bold")
    svg.text(496, 16, "change since start", size=11, anchor="end", fill="#555")
    top = max(max(f["now"], f["base"]) for f in flows) or 1.0
    cx, half = 292, 76
    for k, f in enumerate(flows):
        y = 28 + 27 * k
        svg.text(4, y + 15, FLOW_SHORT[k], size=12.5)
        wn, wb = half * f["now"] / top, half * f["base"] / top
        svg.rect(cx - wn, y + 3, 2 * wn, 17, fill="#6b8fb5", rx=2)
        svg.rect(cx - wb, y + 3, 2 * wb, 17, fill="none", stroke="#222", stroke_width=1,
                 stroke_dasharray="4 2")
        val = f"{f['now']:,.1f}" if f["now"] < 10 else f"{f['now']:,.0f}"
        svg.text(428, y + 16, val, size=12.5, anchor="end", weight="bold")
        _change(svg, 496, y + 16, f["now"], f["base"], f["beyond_chance"])
    y0 = 28 + 27 * len(flows) + 26
    svg.text(4, y0 - 6, "Open cases now (children)", size=13.5, weight="bold")
    now = np.array([s["now"] for s in stocks], float)
    base = np.array([s["base"] for s in stocks], float)
    xmax = max(now.max(), base.max(), 1.0)
    bx, bw = 172, 210
    for k, s in enumerate(stocks):
        y = y0 + 25 * k
        svg.text(4, y + 15, s["label"], size=12.5)
        svg.rect(bx, y + 3, bw * s["now"] / xmax, 16, fill="#e6a15c", rx=2)
        svg.rect(bx, y + 3, bw * s["base"] / xmax, 16, fill="none", stroke="#222",
                 stroke_width=1, stroke_dasharray="4 2")
        svg.text(428, y + 16, f"{s['now']:,}", size=12.5, anchor="end", weight="bold")
        _change(svg, 496, y + 16, s["now"], s["base"], s["beyond_chance"])
    svg.rect(4, height - 14, 16, 10, fill="none", stroke="#222", stroke_dasharray="4 2")
    svg.text(25, height - 5, "dashed outline = at the session start;  ≈ = no change beyond "
             "chance", size=11, fill="#555")
    return bytes(svg)


# ---------------------------------------------------------------------------- 2. social workers
def worker_scale(model) -> float:
    """Caseload colour scale for the session: about twice the caseload at the start."""
    if not hasattr(model, "_cp_caseload_scale"):
        wd = W.worker_data(model)
        v = max(4.0, 2.0 * wd["mean_caseload"])
        step = 5.0 if v > 10 else 2.0
        model._cp_caseload_scale = math.ceil(v / step) * step
    return model._cp_caseload_scale


def workers_svg(model, colour_by: str = "caseload") -> bytes:
    """One square per social-work post: colour = caseload (or stress), dashed = vacant,
    A = agency worker, white dot = newly qualified (under 2 years)."""
    wd = W.worker_data(model)
    n = wd["posts"]
    width = 500
    team = max(1, int(getattr(model.p, "team_size", 8)))
    grid_h = 270.0
    cols = max(1, math.ceil(math.sqrt(n * width / grid_h)))
    if team <= cols:
        cols = max(team, int(round(cols / team)) * team)
    rows = math.ceil(n / cols)
    teams_in_row = cols // team if team < cols else 1
    gap = 7.0 if teams_in_row > 1 else 0.0
    cell = min((width - 8 - (teams_in_row - 1) * gap) / cols, grid_h / max(rows, 1), 36.0)
    pad = max(1.0, cell * 0.12)
    if colour_by == "stress":
        vals, vmax = wd["stress"], 1.0
        unit, ticks = "hours needed beyond hours available", [(0, "none"), (0.5, "+50%"),
                                                            (1.0, "+100%")]
    else:
        vmax = worker_scale(model)
        vals, unit = wd["caseload"], "open cases per worker"
        ticks = [(0, "0"), (vmax / 2, tick_label(vmax / 2)), (vmax, f"{tick_label(vmax)}+")]
    order = np.lexsort((np.arange(n), wd["team"]))
    top = 50.0
    grid_w = cols * cell + (teams_in_row - 1) * gap
    x0 = (width - grid_w) / 2
    svg = Svg(width, 10)
    summary = (f"{n} posts: {wd['permanent']} permanent, {wd['agency']} agency, "
               f"{wd['vacant']} vacant")
    exp0 = wd["experience_at_start"]
    summary2 = (f"mean caseload {wd['mean_caseload']:.1f} · experience {wd['mean_experience']:.1f} yrs"
                + (f" (start {exp0:.1f})" if exp0 is not None and np.isfinite(exp0) else "")
                + f" · {wd['newly_qualified']} newly qualified")
    svg.text(width / 2, 18, summary, size=14, anchor="middle", weight="bold")
    svg.text(width / 2, 38, summary2, size=12.5, anchor="middle", fill="#333")
    for pos, i in enumerate(order):
        r, c = divmod(pos, cols)
        x = x0 + c * cell + (c // team) * gap if teams_in_row > 1 else x0 + c * cell
        y = top + r * cell
        sz = cell - pad
        st = wd["status"][i]
        if st == "vacant":
            svg.rect(x, y, sz, sz, rx=2, fill="#ffffff", stroke="#777", stroke_width=1.3,
                     stroke_dasharray="3 2")
            continue
        svg.rect(x, y, sz, sz, rx=2, fill=ramp(vals[i] / vmax), stroke="#555",
                 stroke_width=0.6)
        if st == "agency" and sz >= 9:
            svg.text(x + sz / 2, y + sz * 0.74, "A", size=sz * 0.66, anchor="middle",
                     weight="bold", fill="#111")
        if wd["experience"][i] < 2.0:
            rr = max(1.6, sz * 0.14)
            svg.circle(x + sz - rr * 1.7, y + rr * 1.7, rr, fill="#ffffff", stroke="#222",
                       stroke_width=0.7)
    ly = top + rows * cell + 22
    svg.defs.append('<linearGradient id="ramp">' + "".join(
        f'<stop offset="{k / 10:.1f}" stop-color="{ramp(k / 10)}"/>' for k in range(11))
        + "</linearGradient>")
    bar_w = 160
    svg.text(8, ly - 5, unit, size=11.5, fill="#333")
    svg.rect(8, ly, bar_w, 11, fill="url(#ramp)", stroke="#555", stroke_width=0.5)
    for v, lab in ticks:
        svg.text(8 + bar_w * v / vmax, ly + 25, lab, size=11, anchor="middle", fill="#333")
    lx = 205
    svg.rect(lx, ly - 1, 14, 14, rx=2, fill="#fff", stroke="#777", stroke_dasharray="3 2",
             stroke_width=1.3)
    svg.text(lx + 19, ly + 11, "vacant post", size=12)
    lx += 98
    svg.rect(lx, ly - 1, 14, 14, rx=2, fill=ramp(0.3), stroke="#555", stroke_width=0.6)
    svg.text(lx + 7, ly + 10, "A", size=10.5, anchor="middle", weight="bold")
    svg.text(lx + 19, ly + 11, "agency", size=12)
    lx += 72
    svg.rect(lx, ly - 1, 14, 14, rx=2, fill=ramp(0.3), stroke="#555", stroke_width=0.6)
    svg.circle(lx + 10, ly + 3.5, 2.4, fill="#fff", stroke="#222", stroke_width=0.7)
    svg.text(lx + 19, ly + 11, "new (<2 yrs)", size=12)
    svg.height = ly + 32
    return bytes(svg)


# ---------------------------------------------------------------------------- 4. Taylor-Russell
def decisions_svg(model, point: int = S.D_REFERRER, weeks: int = 13) -> bytes:
    """True risk against assessed risk for recent decisions, the threshold for action, the
    significant-harm line and the four outcome counts (the review's Figures I-IV)."""
    dd = W.decision_data(model, point, weeks)
    c = dd["counts"]
    x, y, thr, cut = dd["x"], dd["y"], dd["threshold"], dd["cut"]
    lo, hi = -3.0, 6.0
    width, height = 500, 390
    svg = Svg(width, height)
    ax = Axes(svg, 52, 30, 436, 305, (lo, hi), (lo, hi))
    ax.yticks = [-2, 0, 2, 4, 6]
    ax.ylim = (lo, hi)
    ax.frame([(v, tick_label(v)) for v in (-2, 0, 2, 4, 6)])
    svg.text(4, 18, f"{DECISION_LABELS.get(dd['name'], dd['name'])}: {dd['n']:,} decisions, "
             f"last {dd['weeks']} weeks", size=13, weight="bold")
    # quadrant tints: acted on (above the threshold) / truly at risk (right of the cut)
    xc, yt = float(ax.px(cut)), float(ax.py(min(max(thr, lo), hi)))
    svg.rect(ax.x, ax.y, xc - ax.x, yt - ax.y, fill="#fdebd3")          # false positives
    svg.rect(xc, yt, ax.x + ax.w - xc, ax.y + ax.h - yt, fill="#f9d6d5")  # missed
    svg.line(ax.px(lo), ax.py(lo), ax.px(hi), ax.py(hi), stroke="#bbb", stroke_dasharray="2 3")
    if x.size:  # each decision coloured by the threshold it was judged against, as counted
        pos, truly = y > dd["thresholds"], x > cut
        for m, col in ((~pos & ~truly, "#a8a8a8"), (pos & ~truly, "#e08214"),
                       (pos & truly, MAIN), (~pos & truly, SHOCK)):
            px, py = ax.px(np.clip(x[m], lo, hi)), ax.py(np.clip(y[m], lo, hi))
            if px.size:  # one path of round dots: a tenth of the size of <circle>s
                d = "".join(f"M{a:.1f} {b:.1f}h0" for a, b in zip(px, py, strict=True))
                svg.path(d, stroke=col, stroke_width=4.6, stroke_linecap="round",
                         stroke_opacity=0.7, fill="none")
    ax.vline(cut, SHOCK, dash="6 3", width=1.6)
    ax.hline(min(max(thr, lo), hi), "#111", dash=None, width=2.6)
    svg.text(ax.x + 6, yt - 6, f"threshold for action: {thr:.2f}", size=12, weight="bold")
    svg.text(xc + 5, ax.y + ax.h - 6, "truly at risk →", size=11.5, fill=SHOCK, weight="bold")

    def count(xx, yy, anchor, label, n, col):
        svg.rect(xx - (150 if anchor == "end" else 0), yy - 15, 150, 36, fill="#ffffff",
                 fill_opacity=0.85, rx=4)
        svg.text(xx + (-5 if anchor == "end" else 5), yy, label, size=11.5, anchor=anchor,
                 fill=col, weight="bold")
        svg.text(xx + (-5 if anchor == "end" else 5), yy + 17, f"{n:,}", size=15, anchor=anchor,
                 fill=col, weight="bold")

    count(ax.x + 4, ax.y + 18, "start", "False positives", c["FP"], "#b35806")
    count(ax.x + ax.w - 4, ax.y + 18, "end", "True positives", c["TP"], MAIN)
    count(ax.x + 4, ax.y + ax.h - 58, "start", "True negatives", c["TN"], "#555")
    count(ax.x + ax.w - 4, ax.y + ax.h - 58, "end", "Missed (false neg.)", c["FN"], SHOCK)
    svg.text(ax.x + ax.w / 2, height - 20, "true risk of significant harm (latent units)",
             size=12, anchor="middle", fill="#333")
    svg.text(ax.x + ax.w / 2, height - 4, "dotted diagonal = a perfect assessment", size=11,
             anchor="middle", fill="#666")
    svg.add(f'<text x="13" y="{ax.y + ax.h / 2:.0f}" font-size="12" fill="#333" '
            f'text-anchor="middle" transform="rotate(-90 13 {ax.y + ax.h / 2:.0f})">'
            f'assessed risk</text>')
    return bytes(svg)


# ---------------------------------------------------------------------------- 5. causal loops
# Appendix 2's causal loop diagram. Nodes: key -> (label lines, x, y).
CLD_NODES = {
    "D": (("'We followed the", "rules' defence"), 74, 46),
    "C": (("Compliance",), 250, 40),
    "P": (("Prescription",), 118, 178),
    "S": (("Scope for", "judgment"), 318, 178),
    "A": (("Acknowledged", "errors"), 62, 300),
    "E": (("Errors",), 196, 356),
    "Q": (("Quality of", "help"), 318, 300),
    "SAT": (("Satisfaction",), 446, 40),
    "T": (("Turnover",), 446, 140),
    "X": (("Experience",), 446, 240),
    "ST": (("Status",), 446, 340),
}
# (from, to, polarity S/O, loops it belongs to, bend)
CLD_LINKS = (
    ("P", "S", "O", ("B1", "B2", "R"), 0.0),
    ("S", "C", "O", ("B1", "R"), -0.12),
    ("C", "P", "O", ("B1",), -0.12),
    ("C", "D", "S", ("R",), 0.0),
    ("D", "A", "O", ("R",), 0.12),
    ("A", "P", "O", ("B2", "R"), 0.0),
    ("S", "Q", "S", ("B2",), 0.0),
    ("Q", "E", "O", ("B2",), -0.12),
    ("E", "A", "S", ("B2",), -0.12),
    ("S", "SAT", "S", ("ripple",), 0.0),
    ("SAT", "T", "O", ("ripple",), 0.0),
    ("T", "X", "O", ("ripple",), 0.0),
    ("X", "ST", "S", ("ripple",), 0.0),
)
LOOPS = {"B1": ("#2166ac", 236, 132), "B2": ("#1a9850", 200, 258), "R": ("#d73027", 128, 112),
         "ripple": ("#7b3294", 0, 0)}
LOOP_REF = 0.05  # prescription a year at which a loop is drawn at full strength


def _cld_values(ld: dict) -> dict:
    return {
        "P": f"{ld['prescription']:.2f} ×",
        "S": f"{ld['scope']:.2f} of 1",
        "C": f"{100 * ld['compliance']:.0f}% on time",
        "D": f"{100 * ld['hidden_share']:.0f}% of errors hidden",
        "A": f"{ld['acknowledged']:.1f} per 100k/yr",
        "E": f"{ld['errors']:.1f} per 100k/yr",
        "Q": (f"direct work {ld['direct_pct']:.0f}%" if np.isfinite(ld["direct_pct"])
              else "direct work –"),
        "SAT": f"{ld['satisfaction']:+.2f} index",
        "T": f"{ld['turnover_pct']:.0f}% a year",
        "X": f"{ld['experience']:.1f} years",
        "ST": f"{ld['status']:+.2f} index",
    }


def _box(key):
    lines, x, y = CLD_NODES[key]
    w = {"D": 134, "A": 112}.get(key, 108)
    h = 22 + 14 * len(lines)
    return x, y, w, h


def _edge_point(key, tx, ty):
    """Where the segment from a node's centre towards (tx, ty) leaves its box."""
    x, y, w, h = _box(key)
    dx, dy = tx - x, ty - y
    if dx == 0 and dy == 0:
        return x, y
    sx = (w / 2 + 3) / abs(dx) if dx else math.inf
    sy = (h / 2 + 3) / abs(dy) if dy else math.inf
    s = min(sx, sy)
    return x + dx * s, y + dy * s


def loops_svg(model) -> bytes:
    """Appendix 2's causal loop diagram with live values; each loop coloured and drawn as
    strongly as its current pull on prescription (grey and dashed when switched off)."""
    ld = W.loop_data(model)
    vals = _cld_values(ld)
    strength = {k: min(1.0, abs(v) / LOOP_REF) for k, v in ld["pulls"].items()}
    strength["ripple"] = 1.0
    on = {**ld["on"], "ripple": True}
    width, height = 500, 390
    svg = Svg(width, height)
    for k, col in [(k, v[0]) for k, v in LOOPS.items()] + [("shared", "#444"), ("off", "#aaa")]:
        svg.defs.append(f'<marker id="m{k}" viewBox="0 0 10 10" refX="9" refY="5" '
                        f'markerWidth="6" markerHeight="6" orient="auto-start-reverse">'
                        f'<path d="M0,0 L10,5 L0,10 z" fill="{col}"/></marker>')
    for a, b, pol, loops, bend in CLD_LINKS:
        xa, ya = CLD_NODES[a][1:]
        xb, yb = CLD_NODES[b][1:]
        x1, y1 = _edge_point(a, xb, yb)
        x2, y2 = _edge_point(b, xa, ya)
        if loops == ("ripple",):
            col, sw, op, mk, dash = LOOPS["ripple"][0], 2.2, 0.9, "ripple", None
        elif len(loops) == 1:
            lp = loops[0]
            active = on[lp]
            col = LOOPS[lp][0] if active else "#aaa"
            sw = 1.6 + 3.4 * strength[lp] if active else 1.6
            op = 0.45 + 0.55 * strength[lp] if active else 1.0
            mk, dash = (lp, None) if active else ("off", "6 4")
        else:
            col, sw, op, mk, dash = "#444", 2.0, 1.0, "shared", None
        mx, my = (x1 + x2) / 2, (y1 + y2) / 2
        dx, dy = x2 - x1, y2 - y1
        ln = math.hypot(dx, dy) or 1.0
        cx, cy = mx - dy / ln * bend * ln, my + dx / ln * bend * ln
        svg.path(f"M{x1:.1f},{y1:.1f} Q{cx:.1f},{cy:.1f} {x2:.1f},{y2:.1f}", fill="none",
                 stroke=col, stroke_width=sw, stroke_opacity=op, stroke_dasharray=dash,
                 marker_end=f"url(#m{mk})")
        t = 0.62  # polarity towards the head, on the curve
        px = (1 - t) ** 2 * x1 + 2 * (1 - t) * t * cx + t * t * x2
        py = (1 - t) ** 2 * y1 + 2 * (1 - t) * t * cy + t * t * y2
        svg.circle(px, py, 7.5, fill="#fff", stroke=col, stroke_width=1)
        svg.text(px, py + 4, pol, size=10.5, anchor="middle", weight="bold", fill=col)
    for key, (lines, x, y) in CLD_NODES.items():
        _, _, w, h = _box(key)
        fill = "#f6f1fa" if key in ("SAT", "T", "X", "ST") else "#f2f6fb"
        svg.rect(x - w / 2, y - h / 2, w, h, rx=7, fill=fill, stroke="#333", stroke_width=1.1)
        for k, line in enumerate(lines):
            svg.text(x, y - h / 2 + 15 + 14 * k, line, size=12.5, anchor="middle",
                     weight="bold", fill="#111")
        svg.text(x, y + h / 2 - 6, vals[key], size=11, anchor="middle", fill=MAIN)
    for lp in ("B1", "B2", "R"):
        col, x, y = LOOPS[lp]
        active = on[lp]
        c = col if active else "#999"
        op = 0.12 + 0.78 * strength[lp] if active else 0.0
        txt = "#fff" if op > 0.5 else c
        svg.circle(x, y, 23, fill=c, fill_opacity=op, stroke=c, stroke_width=2)
        svg.text(x, y + 2, lp, size=14, anchor="middle", weight="bold", fill=txt)
        svg.text(x, y + 14, f"{ld['pulls'][lp]:+.2f}" if active else "off", size=10.5,
                 anchor="middle", fill=txt)
    svg.text(446, 382, "ripple effect (¶14)", size=11, anchor="middle", fill=LOOPS["ripple"][0],
             weight="bold")
    svg.text(4, 382, "S = same direction, O = opposite (¶5-6)", size=11, fill="#444")
    return bytes(svg)


# ---------------------------------------------------------------------------- 6. child's journey
def journey_svg(model) -> bytes:
    """The followed family's episode: stages as coloured bars, delays marked in red (past a
    timescale) and grey (no allocated social worker), changes of social worker as ticks."""
    jd = W.journey_data(model)
    width, height = PANELS_WIDTH, 394
    svg = Svg(width, height)
    svg.defs.append('<pattern id="late" width="8" height="8" patternUnits="userSpaceOnUse" '
                    'patternTransform="rotate(45)"><rect width="8" height="8" fill="#f8d0d0"/>'
                    f'<line x1="0" y1="0" x2="0" y2="8" stroke="{SHOCK}" stroke-width="3"/>'
                    '</pattern>')
    svg.defs.append('<pattern id="nosw" width="8" height="8" patternUnits="userSpaceOnUse" '
                    'patternTransform="rotate(-45)"><rect width="8" height="8" fill="#eee"/>'
                    '<line x1="0" y1="0" x2="0" y2="8" stroke="#666" stroke-width="2"/>'
                    '</pattern>')
    if jd is None:
        svg.text(width / 2, height / 2, "No family followed yet: press 'Follow another family'.",
                 size=16, anchor="middle")
        return bytes(svg)
    t0 = jd["start"]
    span = max((jd["now"] - t0) * 1.05, 26.0)
    x0, x1 = 110, width - 15
    state_now = W.JOURNEY_STATES.get(jd["state_now"], (jd["state_now"],))[0]
    kids = f"{jd['children']} {'child' if jd['children'] == 1 else 'children'}"
    svg.text(4, 20, f"Family {jd['row']:,} ({kids}), referred {model.date(t0):%d %b %Y}: "
             f"now {state_now}, week {jd['now'] - t0}", size=15, weight="bold")
    dw = jd["delay_weeks"]
    svg.text(4, 42, f"Delay past timescales so far: {dw:.0f} week{'' if dw == 1 else 's'} "
             f"≈ {jd['childhood_pct']:.1f}% of a childhood (§1.34: 2 months ≈ 1%)", size=13,
             fill=SHOCK if dw > 0 else "#333", weight="bold")

    def X(w):
        return x0 + (w - t0) / span * (x1 - x0)

    lane_y, lane_h = 104, 100
    svg.text(x0 - 8, lane_y + lane_h / 2 + 5, "stage", size=13, anchor="end", weight="bold")
    placed: list[list[tuple[float, float]]] = [[], [], []]  # label extents per level
    for sg in jd["segments"]:
        a, b = X(sg["start"]), max(X(sg["end"]), X(sg["start"]) + 2)
        label, col = W.JOURNEY_STATES.get(sg["state"], (sg["state"], "#ccc"))
        svg.rect(a, lane_y, b - a, lane_h, fill=col, stroke="#333", stroke_width=0.8)
        wks = sg["end"] - sg["start"]
        dark = sg["state"] in ("core_assessment", "care_proceedings", "looked_after")
        txt = f"{wks:.0f} wk{'s' if wks != 1 else ''}"
        if b - a > 7.6 * len(label) + 8:
            svg.text((a + b) / 2, lane_y + lane_h / 2 - 4, label, size=12.5, anchor="middle",
                     weight="bold", fill="#fff" if dark else "#111")
            svg.text((a + b) / 2, lane_y + lane_h / 2 + 14, txt, size=12.5, anchor="middle",
                     fill="#fff" if dark else "#111")
        else:  # too narrow: label above the lane, on the first level where it fits
            text = f"{label}, {txt}"
            half = 3.6 * len(text) + 4
            mid = min(max((a + b) / 2, x0 + half), x1 - half)
            level = next((k for k, used in enumerate(placed)
                          if all(mid + half < u0 or mid - half > u1 for u0, u1 in used)),
                         len(placed) - 1)
            placed[level].append((mid - half, mid + half))
            ty = lane_y - 8 - 15 * level
            svg.line((a + b) / 2, lane_y - 1, (a + b) / 2, ty + 2, stroke="#888")
            svg.text(mid, ty, text, size=12.5, anchor="middle")
    for w in jd["worker_changes"]:
        xx = X(w)
        svg.path(f"M{xx - 6:.1f},{lane_y + lane_h + 4} L{xx + 6:.1f},{lane_y + lane_h + 4} "
                 f"L{xx:.1f},{lane_y + lane_h - 6} z", fill="#111")
    for w in jd["harm"]:
        xx = X(w)
        svg.text(xx, lane_y + lane_h / 2 + 7, "✖", size=20, anchor="middle", fill=SHOCK)
    dl_y, dl_h = lane_y + lane_h + 22, 26
    svg.text(x0 - 8, dl_y + dl_h / 2 + 5, "delays", size=13, anchor="end", weight="bold")
    svg.rect(x0, dl_y, x1 - x0, dl_h, fill="#fafafa", stroke="#ddd")
    for d in jd["delays"]:
        a, b = X(d["start"]), X(d["end"])
        fill = "url(#late)" if d["kind"] == "past timescale" else "url(#nosw)"
        svg.rect(a, dl_y, max(b - a, 1.5), dl_h, fill=fill,
                 stroke=SHOCK if d["kind"] == "past timescale" else "#555", stroke_width=1)
    ax_y = dl_y + dl_h + 14
    svg.line(x0, ax_y, x1, ax_y, stroke="#888")
    for t in nice_ticks(0, span, 8):
        if t > span:
            break
        xx = X(t0 + t)
        svg.line(xx, ax_y, xx, ax_y + 5, stroke="#888")
        svg.text(xx, ax_y + 19, tick_label(t), size=12.5, anchor="middle", fill="#444")
    svg.line(X(jd["now"]), lane_y - 4, X(jd["now"]), ax_y, stroke="#111", stroke_dasharray="3 3")
    svg.text(X(jd["now"]), ax_y + 36, "now", size=12.5, anchor="middle", weight="bold")
    svg.text((x0 + x1) / 2, ax_y + 36, "weeks since referral", size=12.5, anchor="middle",
             fill="#333")
    ly = height - 34
    items = [("late", "past its timescale (assessment 2 / 7 weeks"
              + (f", court {jd['court_aim']:.0f}" if jd["court_aim"] else "") + ")"),
             ("nosw", "no social worker allocated")]
    lx = 4
    for pat, lab in items:
        svg.rect(lx, ly - 12, 26, 15, fill=f"url(#{pat})", stroke="#555")
        svg.text(lx + 32, ly, lab, size=12.5)
        lx += 44 + 7.2 * len(lab)
    lx, ly = 4, ly + 22
    svg.path(f"M{lx:.1f},{ly - 10} L{lx + 12:.1f},{ly - 10} L{lx + 6:.1f},{ly} z", fill="#111")
    svg.text(lx + 18, ly, "new social worker", size=12.5)
    lx += 150
    svg.text(lx + 6, ly + 2, "✖", size=16, anchor="middle", fill=SHOCK)
    svg.text(lx + 18, ly, "serious harm", size=12.5)
    return bytes(svg)


def error_svg(error: Exception) -> bytes:
    """What a view's card shows when its drawing failed: a plain message, not a traceback
    (the traceback goes to the server's log)."""
    svg = Svg(640, 200)
    svg.text(320, 80, "This view could not be drawn this week.", size=22, anchor="middle",
             weight=700)
    svg.text(320, 118, "The rest of the page keeps working; press Step or ▶ to try again.",
             size=16, anchor="middle")
    svg.text(320, 150, f"({type(error).__name__}: {str(error)[:70]})", size=13,
             anchor="middle", fill=GREY)
    return bytes(svg)


VIEWS = {
    "caseflow": caseflow_svg, "workers": workers_svg, "timeseries": timeseries_svg,
    "decisions": decisions_svg, "loops": loops_svg, "journey": journey_svg,
    "compare": compare_svg,
}


def all_views(model) -> dict[str, bytes]:
    """Every view once (tests and benchmarks)."""
    return {name: fn(model) for name, fn in VIEWS.items()}
