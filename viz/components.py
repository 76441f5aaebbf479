"""Solara components of the workshop app: the seven views and their grid (or one view full
screen, for a projector), the opening guide, the levers and the status bar.

Each view is a Solara component taking the model. Views redraw when Mesa's
``update_counter`` moves (after a step, a reset, or a button here) and draw their picture
with ``viz.figures``, under the model's lock.
"""

from __future__ import annotations

import logging

import solara
from mesa.visualization.utils import force_update, update_counter

from abm.core import state as S
from viz import figures as F
from viz import workshop as W

v = solara.v
log = logging.getLogger("cpabm.viz")


def H(tag: str, *children, cls: str | None = None, style: str | None = None):
    """A plain HTML element (no Vue template to compile in the browser, unlike
    ``solara.HTML``): children are strings or other elements."""
    return v.Html(tag=tag, children=list(children), class_=cls, style_=style)

CSS = """
.cp-view { height: 100%; display: flex; flex-direction: column; background: #fff;
  border: 1px solid #d0d7de; border-radius: 8px; padding: 4px 4px 2px; overflow: hidden; }
.cp-view-head, .cp-view-foot { padding: 0 6px; }
.cp-view-head { flex: 0 0 auto; display: flex; align-items: baseline; gap: 12px;
  flex-wrap: wrap; }
.cp-view-title { font-size: 17px; font-weight: 700; color: #111; }
.cp-view-sub { font-size: 13.5px; color: #3a3a3a; }
.cp-view-body { flex: 0 0 auto; display: flex; justify-content: center; }
.cp-view-body > * { width: 100%; }
.cp-view-body img { width: 100%; height: auto; display: block; }
.cp-view-foot { flex: 0 0 auto; font-size: 12px; color: #666; display: flex;
  justify-content: space-between; align-items: center; gap: 8px; min-height: 22px; }
.cp-view-tools { display: flex; gap: 6px; align-items: center; }
.cp-view-foot .v-btn:not(.v-btn--round) { height: 24px !important; }
.cp-view-foot .v-input { margin-top: 0; padding-top: 0; }
.cp-view-foot .v-input__slot { min-height: 26px !important; margin-bottom: 0; }
.cp-view-foot .v-text-field__details { display: none; }
.cp-view-tools .v-btn { text-transform: none; letter-spacing: 0; }
.cp-banner { border: 1px solid #d0d7de; border-radius: 8px; background: #f6f8fa;
  padding: 8px 14px; margin: 0 10px 4px 10px; }
.cp-banner-line1 { font-size: 17px; font-weight: 700; color: #111; }
.cp-banner-line2 { font-size: 14px; color: #333; }
.cp-banner .v-btn { text-transform: none; letter-spacing: 0; font-size: 15px; }
.cp-lever-label { font-size: 13.5px; color: #222; margin-top: 6px; line-height: 1.25; }
.cp-lever-label b { font-weight: 700; }
.cp-lever-unit { color: #555; font-size: 12px; }
.cp-note { font-size: 12.5px; color: #555; line-height: 1.3; }
.cp-grid { display: grid; grid-template-columns: minmax(0, 1fr); align-items: start;
  gap: 10px; padding: 0 10px 10px 10px; }
@media (min-width: 1700px) {
  .cp-grid { grid-template-columns: repeat(2, minmax(0, 1fr)); }
  .cp-wide { grid-column: 1 / -1; } }
.cp-present { padding: 0 10px 10px 10px; }
.cp-present .cp-view-body img { height: calc(100vh - 185px); object-fit: contain; }
body:has(.cp-present) .v-navigation-drawer { display: none; }
body:has(.cp-present) main.solara-content-main { padding-left: 0 !important; }
.cp-present .cp-view-title { font-size: 28px; }
.cp-present .cp-view-sub { font-size: 20px; }
.cp-present .cp-view-foot { font-size: 16px; }
.cp-guide { border: 2px solid #1f4e79; border-radius: 8px; background: #eef4fa;
  padding: 10px 16px; margin: 0 10px 6px 10px; font-size: 15px; color: #111; }
.cp-guide h2 { font-size: 19px; margin: 0 0 4px 0; }
.cp-guide ol { margin: 2px 0 4px 0; }
.cp-guide li { margin: 2px 0; }
.cp-pending { font-size: 13.5px; color: #8a4b00; background: #fff4e0; border-radius: 6px;
  padding: 4px 8px; margin-top: 4px; }
.cp-reset-question { font-size: 13.5px; color: #8a1c1c; background: #fdecea; border-radius: 6px;
  padding: 4px 8px; margin-top: 4px; line-height: 1.3; }
.cp-regime-note { font-size: 12.5px; color: #333; line-height: 1.3; margin: 2px 0 6px 0; }
.v-slider__thumb-container[aria-label="LA size (children)"] .v-slider__thumb-label-container {
  display: block !important; }
.v-slider__thumb-container[aria-label="LA size (children)"] .v-slider__thumb-label {
  font-size: 10px; }
.cp-decision-label { font-size: 13px; color: #333; }
"""


#: The view shown full screen (presentation mode), or None for all views. A Solara reactive
#: variable: each browser session has its own value.
PRESENTING = solara.reactive(None)
#: The views' options, held by the session (as PRESENTING), not by the view: presentation
#: mode draws a view anew, and must show it as the user set it, as must the way back.
WORKER_COLOUR = solara.reactive("caseload")  # view 2: "caseload" or "stress"
DECISION_POINT = solara.reactive("referral")  # view 4: a key of DECISION_CHOICES


@solara.component
def ViewCard(key: str, title: str, subtitle: str, picture: bytes, source: str,
             tools=None):
    """A view: title line, the picture (SVG), and a footer naming the review's paragraphs,
    with a button to show it full screen, in large type, for a projector."""
    presenting = PRESENTING.value == key
    with solara.Div(classes=["cp-view", f"cp-view-{key}"]):
        with solara.Div(classes=["cp-view-head"]):
            H("span", title, cls="cp-view-title")
            H("span", *(subtitle if isinstance(subtitle, (list, tuple)) else [subtitle]),
              cls="cp-view-sub")
        with solara.Div(classes=["cp-view-body"]):
            solara.Image(picture, format="svg+xml", classes=["cp-view-img", f"cp-img-{key}"])
        with solara.Div(classes=["cp-view-foot"]):
            with solara.Div(classes=["cp-view-tools"]):
                if tools is not None:
                    tools()
                solara.Button("Back to all views" if presenting else "Present",
                              on_click=lambda: PRESENTING.set(None if presenting else key),
                              text=True, dense=True, classes=["cp-present-button"])
            H("span", source, cls="cp-view-source")


def _picture(fn, model, *args):
    """Draw a view, once per model update (and per option), under the model's lock (never
    while a week is being stepped). A view that fails shows a message in its card; the
    error goes to the server's log and the rest of the page keeps working."""
    tick = update_counter.get()

    def draw():
        try:
            with model.lock:
                return fn(model, *args)
        except Exception as e:  # noqa: BLE001 - one view's failure must not break the page
            log.exception("view %s failed", fn.__name__)
            return F.error_svg(e)
    return solara.use_memo(draw, [model, tick, *args])


@solara.component
def TimeSeriesView(model):
    pic = _picture(F.timeseries_svg, model)
    ViewCard("timeseries", "3 · Over time",
             "Referrals, caseloads, staff and courts, week by week. Red dashed line = media shock.",
             pic, "Review §2.10 (referrals +11%), §2.31-2.32 (court delay), App2 ¶14 (turnover)")


@solara.component
def CaseflowView(model):
    pic = _picture(F.caseflow_svg, model)
    ViewCard("caseflow", "1 · Caseflow", "From a contact to care proceedings.", pic,
             "§2.2, §2.9-2.11")


@solara.component
def WorkersView(model):
    colour_by = WORKER_COLOUR.value
    pic = _picture(F.workers_svg, model, colour_by)

    def tools():
        solara.ToggleButtonsSingle(value=colour_by, values=["caseload", "stress"],
                                   on_value=WORKER_COLOUR.set, dense=True,
                                   classes=["cp-colour-by"])
    ViewCard("workers", "2 · Social workers", "One square per post.", pic,
             "§1.23, App2 ¶14", tools=tools)


DECISION_CHOICES = {"referral": S.D_REFERRER, "screening": S.D_SCREEN,
                    "initial assessment": S.D_IA, "core assessment": S.D_CA,
                    "conference": S.D_CONFERENCE, "court application": S.D_COURT}


@solara.component
def DecisionsView(model):
    point = DECISION_POINT.value
    if point not in DECISION_CHOICES:
        point = "referral"
    pic = _picture(F.decisions_svg, model, DECISION_CHOICES[point])

    def tools():
        H("span", "decision point:", cls="cp-decision-label")
        solara.Select(label="", value=point, values=list(DECISION_CHOICES),
                      on_value=DECISION_POINT.set, dense=True, style={"max-width": "200px"},
                      classes=["cp-decision-select"])
    ViewCard("decisions", "4 · Decisions under uncertainty",
             "Each dot a decision; above the black line, acted on: the two errors trade "
             "places.", pic,
             "Taylor-Russell, §1.47-1.50, Figures I-IV", tools=tools)


@solara.component
def LoopsView(model):
    pic = _picture(F.loops_svg, model)
    ViewCard("loops", "5 · Learning loops",
             "Appendix 2's diagram; a loop is bold while it pulls on prescription.", pic,
             "App2 ¶12-20")


@solara.component
def JourneyView(model):
    pic = _picture(F.journey_svg, model)

    def follow():
        model.follow_family()
        force_update()

    def tools():
        solara.Button("Follow another family", on_click=follow, outlined=True, dense=True,
                      color="primary", classes=["cp-follow"])
    ViewCard("journey", "6 · One child's journey",
             "A family referred when this model was built, followed week by week.", pic,
             "§1.34 (drift and delay), §2.30-2.37", tools=tools)


@solara.component
def CompareView(model):
    pic = _picture(F.compare_svg, model)
    ViewCard("compare", "7 · Side by side",
             ["Same LA, same random numbers: ",
              H("b", W.regime_label(model.regime), style=f"color:{F.MAIN}"), " vs ",
              H("b", W.regime_label(model.twin.regime), style=f"color:{F.TWIN}"),
              "; the gap is the regime's effect."], pic,
             "Introduction; §2.16; App2 ¶16-18")


#: The views in page order; the wide ones span the whole grid (on a 1280 px screen the grid
#: has one column, so every picture is drawn at the card's full width; two on wider screens).
VIEWS = ((TimeSeriesView, True), (CaseflowView, False), (WorkersView, False), (LoopsView, False),
         (DecisionsView, False), (JourneyView, True), (CompareView, True))


@solara.component
def ViewGrid(model):
    """The seven views on a grid of one or two columns, or one of them full screen
    (presentation)."""
    key = PRESENTING.value
    if key is not None:
        view = dict(zip(VIEW_KEYS, (v for v, _ in VIEWS), strict=True)).get(key)
        if view is not None:
            with solara.Div(classes=["cp-present"]):
                view(model)
            return
    with solara.Div(classes=["cp-grid"]):
        for view, wide in VIEWS:
            with solara.Div(classes=["cp-wide"] if wide else [], style="min-width: 0;"):
                view(model)


VIEW_KEYS = ("timeseries", "caseflow", "workers", "loops", "decisions", "journey", "compare")


@solara.component
def Guide(on_close):
    """The opening panel: the workshop's three moves and what to watch."""
    with solara.Div(classes=["cp-guide"]):
        H("h2", "Start here: three moves, about five minutes each")
        H("ol",
          H("li", H("b", "A child's death in the news. "),
            "Press the red Media shock button, then ▶. Watch referrals rise in view 3 and "
            "the threshold for action drop in view 4: more families investigated, most of "
            "them needlessly."),
          H("li", H("b", "Thresholds. "),
            "Move the Referral threshold lever (left). In view 4 the two kinds of error trade "
            "places: fewer missed children means more unnecessary investigations."),
          H("li", H("b", "A different regime. "),
            "Choose another Regime in This local authority and press Apply. View 7 runs the "
            "same LA, same random numbers, under the comparison regime: the gap is policy, "
            "not luck. Watch caseloads, time with families and staff turnover."))
        H("div", "▶ plays week by week and ❚❚ pauses; Step moves one week. Present (under "
          "each view) shows it full screen for a projector.", cls="cp-note")
        solara.Button("Got it", on_click=on_close, color="primary", dense=True,
                      classes=["cp-guide-close"])


def pending_changes(model, params: dict) -> list[str]:
    """The settings chosen in the sidebar that the running model does not have yet."""
    out = []
    if "children" in params and int(params["children"]) != model.children_n:
        out.append(f"LA size {int(params['children']):,} children")
    if "regime" in params and W.regime_file(params["regime"]) != model.regime:
        out.append(f"regime {params['regime']}")
    if "compare_regime" in params and W.regime_file(params["compare_regime"]) != \
            model.twin.regime:
        out.append(f"comparison {params['compare_regime']}")
    if "rng" in params and W.parse_seed(params["rng"]) != model.seed:
        out.append(f"seed {params['rng']}")
    return out


@solara.component
def RegimeNotes(params: dict):
    """One line on each chosen regime, under the settings."""
    for key, role in (("regime", "This run"), ("compare_regime", "Compared with")):
        name = params.get(key)
        if name:
            H("div", H("b", f"{role}: {name}. "), W.regime_description(name),
              cls=f"cp-regime-note cp-regime-note-{key}")


# ---------------------------------------------------------------------------- controls
@solara.component
def LeverSlider(model, lever: W.Lever):
    name = lever.param
    lo, hi, step = lever.bounds()
    current = solara.use_reactive(model.lever_value(name))

    def on_value(v):
        model.set_lever(name, v)
        current.set(model.lever_value(name))

    v = current.value
    shown = W.format_value(v, lever.decimals(), lever.unit,
                           W.PARAMETERS[name].type == "int")
    H("div", H("b", lever.label), f": {shown}",
      H("div", f"{lever.help} Review {lever.review}.", cls="cp-lever-unit"),
      cls=f"cp-lever-label cp-lever-{lever.key}")
    slider = solara.SliderInt if isinstance(lo, int) and isinstance(step, int) else \
        solara.SliderFloat
    slider("", value=v, min=lo, max=hi, step=step, on_value=on_value, thumb_label=True)


@solara.component
def Levers(model_r: solara.Reactive):
    """Sliders and switches that act on the running model from the next week."""
    update_counter.get()
    model = model_r.value
    with solara.Card("Levers (act from the next week)", margin=0, classes=["cp-levers"]):
        H("div", "Changes apply to the running model at once; regime settings (prescription) "
          "apply to this run only, the others to the side-by-side twin too.", cls="cp-note")
        for lever in W.LEVERS:
            LeverSlider(model, lever)
        H("div", H("b", "Learning loops"), " (Appendix 2): on or off", cls="cp-lever-label")
        for name, label, ref in W.LOOP_SWITCHES:
            def toggle(v, name=name):
                model.set_lever(name, v)
                force_update()
            solara.Switch(label=f"{label} ({ref})", value=bool(getattr(model.p, name)),
                          on_value=toggle, classes=[f"cp-switch-{name}"])


@solara.component
def Banner(model_r: solara.Reactive):
    """What is running, the date, and the media-shock button."""
    update_counter.get()
    model = model_r.value
    with model.lock:
        h = W.headline(model)

    def shock():
        model.media_shock(W.MEDIA_SHOCK)
        force_update()

    with solara.Row(classes=["cp-banner"], justify="space-between",
                    style={"align-items": "center"}):
        with solara.Column(gap="2px"):
            H("div", f"One local authority, {h['children']:,} children · {h['regime']} regime · "
              f"seed {h['seed']} · week {h['week']}, to {h['date']:%d %b %Y}",
              cls="cp-banner-line1")
            state = "" if h["running"] else " · the calendar has ended: press Reset"
            H("div", f"Public anxiety {h['anxiety']:.2f} (a media shock adds 1, halving in "
              f"{model.p.anxiety_halflife_weeks:.0f} weeks) · ▶ plays week by week, "
              f"Step = 1 week · the settings of This local authority apply on Apply{state}",
              cls="cp-banner-line2")
            # when the week shown was stepped (server clock): the load benchmark's
            # step-to-redraw time
            H("span", f"{h['stepped_at']:.3f}", cls="cp-stepped-at", style="display:none")
        once = model.shocked_this_week()
        solara.Button("Media shock: a child's death in the news" + (" (one a week)" if once
                                                                    else ""),
                      on_click=shock, color="error", classes=["cp-shock"],
                      disabled=not h["running"] or once)


# ---------------------------------------------------------------------------- saved runs
@solara.component
def SaveRun(model_r: solara.Reactive):
    """A group saves its run under a name, for the facilitator's comparison."""
    from viz import runs as R
    name = solara.use_reactive("")
    message = solara.use_reactive("")

    def save():
        try:
            rec = R.save_run(name.value, model_r.value)
        except (ValueError, OSError) as e:
            message.set(f"Not saved: {e}")
            return
        message.set(f"Saved as “{rec['name']}” (week {rec['week']}). The facilitator's page "
                    "shows it beside the other groups' runs.")
    with solara.Card("Save this run", margin=0, classes=["cp-save"]):
        solara.InputText("Your group's name", value=name, continuous_update=True)
        solara.Button("Save run", on_click=save, color="primary", dense=True,
                      disabled=not name.value.strip(), classes=["cp-save-button"])
        if message.value:
            H("div", message.value, cls="cp-note cp-save-message")


@solara.component
def Facilitator():
    """Every saved run side by side: the five outcomes, with the settings; exports."""
    from viz import runs as R
    tick, set_tick = solara.use_state(0)
    runs = solara.use_memo(R.load_runs, [tick])
    solara.Style(CSS + FACILITATOR_CSS)
    with solara.Column(classes=["cp-facilitator"]):
        H("h1", "Facilitator: the groups' runs side by side")
        H("div", f"{len(runs)} saved runs in {R.runs_folder()}. Outcomes over the weeks each "
          "group played, as a year's rate; lower is better for all five.", cls="cp-note")
        solara.Button("Refresh", on_click=lambda: set_tick(tick + 1), outlined=True,
                      dense=True, classes=["cp-refresh"])
        if not runs:
            H("p", "No runs saved yet: each group presses “Save run” in the app's sidebar.")
            return
        if R.same_seeds(runs):
            H("div", f"Same LA and seed in every run ({runs[0]['children']:,} children, seed "
              f"{runs[0]['seed']}): the differences are policy, not luck.",
              cls="cp-seeds cp-seeds-same")
        else:
            H("div", "Not every run has the same LA size and seed: some of the differences "
              "are luck. Ask the groups to keep the default seed.", cls="cp-seeds cp-seeds-differ")
        fewest, most = R.weeks_played(runs)
        if fewest != most:
            H("div", f"The runs played from {fewest} to {most} weeks: each outcome is a "
              f"year's rate over the weeks its group played, so the periods compared differ "
              f"too.", cls="cp-note cp-weeks-differ")
        table = R.runs_table(runs)
        head = [H("th", c) for c in table.columns]
        rows = []
        for _, row in table.iterrows():
            cells = []
            for c in table.columns:
                val = row[c]
                if isinstance(val, float):
                    val = f"{val:,.2f}" if abs(val) < 10 else f"{val:,.0f}"
                elif isinstance(val, int):
                    val = f"{val:,}" if c != "seed" else str(val)
                cells.append(H("td", str(val)))
            rows.append(H("tr", *cells))
        H("table", H("thead", H("tr", *head)), H("tbody", *rows), cls="cp-runs")
        png = R.comparison_png(runs)
        solara.Image(png, format="png", classes=["cp-runs-chart"])
        with solara.Row():
            solara.FileDownload(table.to_csv(index=False), filename="workshop-runs.csv",
                                label="Download the table (CSV)")
            solara.FileDownload(png, filename="workshop-runs.png",
                                label="Download the chart (PNG)")
        H("div", "Each run's weekly figures are beside it in the folder above "
          "(one CSV per run, same name).", cls="cp-note")


FACILITATOR_CSS = """
.cp-facilitator { padding: 16px 24px; }
.cp-facilitator h1 { font-size: 26px; margin: 0 0 6px 0; }
.cp-runs { border-collapse: collapse; font-size: 15px; margin: 10px 0; }
.cp-runs th, .cp-runs td { border: 1px solid #d0d7de; padding: 4px 10px; text-align: right; }
.cp-runs th:first-child, .cp-runs td:first-child { text-align: left; font-weight: 700; }
.cp-runs th { background: #f6f8fa; }
.cp-seeds { font-size: 15px; padding: 6px 10px; border-radius: 6px; margin: 6px 0; }
.cp-seeds-same { background: #e8f5e9; }
.cp-seeds-differ { background: #fff4e0; }
.cp-runs-chart { max-width: 100%; }
"""
