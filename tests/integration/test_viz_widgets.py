"""The workshop app without a browser: Solara widgets rendered in-process (solara.render),
the app's model wrapper, the view drawings, the offline-asset pins and `cpabm viz`."""

from __future__ import annotations

import os
import re
import sys

import numpy as np
import pytest
from conftest import ROOT as PROJECT_ROOT

os.environ.setdefault("CPABM_VIZ_PREBUILD", "0")  # no background model builds in tests
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

import ipyvuetify  # noqa: E402  (the viz extra is in requirements.lock: fail, never skip)
import ipywidgets  # noqa: E402
import solara  # noqa: E402

from viz import figures as F  # noqa: E402
from viz import workshop as W  # noqa: E402

v = ipyvuetify
SMALL = dict(children=10_000, warmup_weeks=52, history_weeks=8)


@pytest.fixture(scope="module")
def app():
    import viz.app as A
    return A


def small_model(**kw):
    return W.WorkshopModel(**{**SMALL, **kw})


def render_app(app, model):
    """The whole app (Mesa's SolaraViz inside an AppLayout, so the sidebar renders)."""
    model_r = solara.reactive(model)
    box, rc = solara.render(solara.AppLayout(children=[app.Workshop(model_r)]),
                            handle_error=False)
    return model_r, rc


def button(rc, label):
    return rc.find(v.Btn, children=[label]).widget


def by_class(finder, widget_class, token):
    """Widgets of a class whose CSS classes include ``token``."""
    return [w for w in finder.find(widget_class).widgets
            if token in (getattr(w, "class_", None) or "").split()]


def lever_sliders(rc):
    (card,) = by_class(rc, v.Card, "cp-levers")
    from reacton.find import Finder
    return Finder([card]).find(v.Slider).widgets


def settings_slider(rc, label):
    """A slider of the card "This local authority" (the settings applied on Apply)."""
    (card,) = by_class(rc, v.Card, "cp-settings")
    from reacton.find import Finder
    (w,) = [w for w in Finder([card]).find(v.Slider).widgets if w.label == label]
    return w


def switch(rc, name):
    (w,) = by_class(rc, v.Switch, f"cp-switch-{name}")
    return w


def assert_finite_model(m):
    T = m.week
    for key in ("flow", "stock_children", "work", "national", "court"):
        arr = np.asarray(m.record.arrays()[key][:T], float)
        assert np.isfinite(arr).all(), f"non-finite values in rec[{key!r}]"
    assert (m.las.stock_children >= 0).all()
    for arr in (m.work.caseload, m.work.stress, m.work.satisfaction, m.work.experience):
        assert np.isfinite(arr).all()


def assert_views_clean(m):
    for name, svg in F.all_views(m).items():
        text = svg.decode()
        assert text.startswith("<svg") and text.endswith("</svg>"), name
        words = set(re.findall(r"[A-Za-z]+", re.sub(r"<[^>]*>", " ", text)))
        assert not {"nan", "NaN", "inf", "Infinity"} & words, f"{name} shows NaN/inf"


# ---------------------------------------------------------------------------- widgets
def test_levers_change_the_model_parameters(app):
    m = small_model()
    model_r, rc = render_app(app, m)
    levers = W.LEVERS
    sliders = lever_sliders(rc)
    assert len(sliders) == len(levers)
    for lever, slider in zip(levers, sliders, strict=True):
        assert slider.v_model == pytest.approx(m.lever_value(lever.param)), lever.key
        lo, hi, step = lever.bounds()
        target = W.coerce(lever.param, lo + step * round((hi - lo) / step / 3))
        assert target != m.lever_value(lever.param)
        slider.v_model = target
        assert m.lever_value(lever.param) == pytest.approx(target), lever.key
        if lever.param in m.regime_keys:
            assert m.twin.p != m.p  # a regime setting stays with this run
        else:
            assert getattr(m.twin.p, lever.param) == pytest.approx(target), lever.key
    for name, _, _ in W.LOOP_SWITCHES:
        sw = switch(rc, name)
        assert sw.v_model is True and getattr(m.p, name) is True
        sw.v_model = False
        assert getattr(m.p, name) is False and getattr(m.twin.p, name) is False
    week = m.week
    button(rc, "Media shock: a child's death in the news").click()
    assert m.shock_weeks == [week] and m.anxiety() == pytest.approx(1.0)
    assert m.twin.anxiety() == pytest.approx(1.0)
    images = {w.model_id: w.value for w in rc.find(ipywidgets.Image).widgets}
    assert len(images) == 7
    button(rc, "Step").click()
    assert m.week == week + 1 and m.twin.week == week + 1
    after = {w.model_id: w.value for w in rc.find(ipywidgets.Image).widgets}
    assert all(after[k] != images[k] for k in images), "every view redraws after a step"
    before = dict(m.followed_from)
    button(rc, "Follow another family").click()
    assert m.followed in m.followed_from and len(m.followed_from) >= len(before)


def test_reset_gives_a_fresh_defaults_model_and_the_levers_follow_it(app):
    model = app.new_model(**SMALL)
    fresh = app.new_model(**SMALL)
    model_r, rc = render_app(app, model)
    for _ in range(3):
        button(rc, "Step").click()
    button(rc, "Media shock: a child's death in the news").click()
    lever_sliders(rc)[0].v_model = 0.5
    switch(rc, "mech_loop_b1").v_model = False
    assert model.week == SMALL["history_weeks"] + 3 and model.shock_weeks
    # Mesa's Reset rebuilds from its model parameters; they must give the defaults' model
    import mesa.visualization.solara_viz as mv
    mv_params = {**{k: (p.value if isinstance(p, mv.Slider) else p.get("value"))
                    for k, p in app.MODEL_PARAMS.items() if not mv.check_param_is_fixed(p)},
                 **{k: p for k, p in app.MODEL_PARAMS.items() if mv.check_param_is_fixed(p)}}
    app_defaults = {**app.DEFAULTS, **app.FIXED}
    assert {k: mv_params[k] for k in app_defaults} == app_defaults
    # the settings show the run's own (nothing pending); set the defaults' LA size: pending
    assert rc.find(v.Html, class_="cp-pending").widgets == []
    settings_slider(rc, "LA size (children)").v_model = app.DEFAULTS["children"]
    pending = rc.find(v.Html, class_="cp-pending").widgets
    assert len(pending) == 1 and "LA size 75,000 children" in pending[0].children[0]
    assert "Apply starts a new run" in pending[0].children[0]
    button(rc, "Apply").click()
    new = model_r.value
    assert rc.find(v.Html, class_="cp-pending").widgets == []
    assert rc.find(v.Btn, children=["Reset"]).widgets  # nothing pending now
    assert new is not model and isinstance(new, W.WorkshopModel)
    # a fresh start: the defaults' week, no shock, every parameter back, same numbers
    assert new.week == app.FIXED["history_weeks"] and new.shock_weeks == []
    assert new.anxiety() == 0.0 and new.p.mech_loop_b1 is True
    ref = app.new_model()
    assert new.p == ref.p and new.twin.p == ref.twin.p
    np.testing.assert_array_equal(new.record.flow, ref.record.flow)
    np.testing.assert_array_equal(new.twin.record.flow, ref.twin.record.flow)
    # the levers now show the new model's values
    for lever, slider in zip(W.LEVERS, lever_sliders(rc), strict=True):
        assert slider.v_model == pytest.approx(new.lever_value(lever.param)), lever.key
    assert fresh.week == SMALL["history_weeks"]


@pytest.mark.parametrize("end", ["lo", "hi"])
def test_extreme_lever_values_neither_crash_nor_give_nan(app, end):
    m = small_model()
    model_r, rc = render_app(app, m)
    for lever, slider in zip(W.LEVERS, lever_sliders(rc), strict=True):
        lo, hi, _ = lever.bounds()
        slider.v_model = lo if end == "lo" else hi
        assert m.lever_value(lever.param) == pytest.approx(lo if end == "lo" else hi)
    for name, _, _ in W.LOOP_SWITCHES:
        switch(rc, name).v_model = end == "hi"
    button(rc, "Media shock: a child's death in the news").click()
    button(rc, "Step").click()  # the page redraws at the extremes
    for _ in range(18):  # (stepping through the widget would redraw the page each week)
        m.step()
    button(rc, "Step").click()
    assert m.week == SMALL["history_weeks"] + 20
    assert_finite_model(m)
    assert_finite_model(m.twin)
    assert_views_clean(m)
    # ratios may have gaps (drawn as gaps); levels and rates must be numbers
    s = W.series(m)
    for col in ("referrals", "caseload", "vacancy_pct", "turnover_pct", "experience"):
        assert np.isfinite(s[col].to_numpy()).all(), col


@pytest.mark.parametrize("children", [5_000, 250_000])
def test_la_size_extremes_step_without_nan_or_broken_views(children):
    m = W.WorkshopModel(children=children, warmup_weeks=26, history_weeks=4)
    for _ in range(4):
        m.step()
    assert m.children_n == children
    assert_finite_model(m)
    assert_views_clean(m)


@pytest.mark.parametrize("text,seed", [("2010", 2010), (" 7 ", 7), ("", None), ("abc", None),
                                       ("-5", None), (3, 3), ("9" * 30, None)])
def test_seed_box_gives_a_reproducible_seed(text, seed):
    got = W.parse_seed(text)
    assert 0 <= got < 2**63 and got == W.parse_seed(text)
    if seed is not None:
        assert got == seed


def test_views_redraw_after_steps_and_controls():
    m = small_model()
    before = F.all_views(m)
    for _ in range(3):
        m.step()
    after = F.all_views(m)
    assert {k for k in before if before[k] != after[k]} == set(before)
    m.set_lever("mech_loop_r", False)
    assert F.loops_svg(m) != after["loops"]
    m.media_shock()
    assert F.timeseries_svg(m) != after["timeseries"]  # the shock line appears at once


def test_media_shock_raises_referrals_same_seed():
    # Same seed, shock or no shock. Thresholds drop at once, while the calibrated rise in
    # contacts builds over a year. The two runs share random numbers only until their
    # caseflows first differ (a different case opens, and the risk and contact streams then
    # serve other families), so one pair is noisy: the check pools six seeds.
    ra = rb = 0
    for seed in range(1, 7):
        a = small_model(children=30_000, rng=str(seed))
        b = small_model(children=30_000, rng=str(seed))
        b.media_shock()
        for _ in range(13):
            a.step()
            b.step()
        assert b.anxiety() > 0.8 and a.anxiety() == 0
        ra += W.flow(a, "referrals_children")[-13:].sum()
        rb += W.flow(b, "referrals_children")[-13:].sum()
    assert rb > ra * 1.04, (ra, rb)
    # a room pressing the button again and again in one week gets one shock
    c = small_model(children=5_000)
    assert c.media_shock() and not c.media_shock() and not c.media_shock()
    assert c.anxiety() == pytest.approx(W.MEDIA_SHOCK) and c.shock_weeks == [c.week]
    c.step()
    assert c.media_shock() and len(c.shock_weeks) == 2


def test_caseflow_shows_no_change_before_a_week_is_played():
    """On first load nothing has been played: no "▼49%" from the history's own noise."""
    m = small_model()
    cf = W.caseflow_data(m)
    assert all(f["change_pct"] in (0.0, None) and not f["beyond_chance"] for f in cf["flows"])
    assert all(s["now"] == s["base"] for s in cf["stocks"])
    base = [f["base"] for f in cf["flows"]]
    for _ in range(3):
        m.step()
    cf = W.caseflow_data(m)
    assert [f["base"] for f in cf["flows"]] == base  # the start stays the start
    assert "▲" not in F.caseflow_svg(small_model()).decode()


def test_twin_is_the_same_la_and_seed():
    m = small_model(regime="prescriptive", compare_regime="prescriptive")
    for _ in range(5):
        m.step()
    np.testing.assert_array_equal(m.record.flow, m.twin.record.flow)
    other = small_model()
    assert other.twin.regime == "professional_judgment" and other.regime == "prescriptive"
    assert other.twin.n_families == other.n_families and other.twin.seed == other.seed


def test_decision_counts_are_the_models_own_counts_over_the_same_weeks():
    """The panel's TP/FP/TN/FN, classified from the decision reservoir, equal the confusion
    counts the model recorded week by week (summed over LAs) over the same weeks, and its
    number of decisions those of the score histograms: a window off by a week, a swapped
    label or a wrong cut is caught."""
    from abm.core import state as S
    from abm.core.model import RESERVOIR_SIZE

    m = small_model()
    weeks = 13
    while m.week < weeks:  # every week of the window is a recorded one (none of the warm-up)
        m.step()
    rec = m.record
    window = slice(m.week - weeks, m.week)
    for point in range(6):
        dd = W.decision_data(m, point, weeks=weeks)
        assert 0 < dd["n"] < RESERVOIR_SIZE, (point, dd["n"])  # the window fits the ring
        got = rec.decisions[window, :, point, :].sum(axis=(0, 1))
        want = {"TP": got[S.TP], "FP": got[S.FP], "TN": got[S.TN], "FN": got[S.FN]}
        assert dd["counts"] == want, (point, dd["counts"], want)
        hist = rec.score_hist[window, point]  # [weeks, truly at risk?, bins]
        assert dd["n"] == hist.sum()
        assert dd["counts"]["TP"] + dd["counts"]["FN"] == hist[:, 1].sum()  # truly at risk
        assert np.isfinite(dd["threshold"]) and dd["weeks"] <= weeks
        # the dots drawn are coloured as counted: each against its own threshold
        if dd["n"] <= 1500:  # not thinned: the dots are the decisions
            pos, truly = dd["y"] > dd["thresholds"], dd["x"] > dd["cut"]
            assert int((pos & ~truly).sum()) == dd["counts"]["FP"]
            assert int((~pos & truly).sum()) == dd["counts"]["FN"]
    # a threshold moved a moment ago: the older decisions keep the colour they were counted
    # with (the corner counts and the dots agree)
    m.set_lever("referrer_threshold", 0.5)
    m.step()
    dd = W.decision_data(m, S.D_REFERRER, weeks=weeks)
    svg = F.decisions_svg(m, S.D_REFERRER, weeks).decode()
    assert len(set(dd["thresholds"].round(6))) > 1  # decisions of both thresholds shown
    pos, truly = dd["y"] > dd["thresholds"], dd["x"] > dd["cut"]
    assert int((pos & ~truly).sum()) == dd["counts"]["FP"] and f">{dd['counts']['FP']:,}<" in svg


def test_grid_leaves_no_holes_and_parameters_are_model_arguments(app):
    from viz import components as C
    assert len(C.VIEWS) == len(C.VIEW_KEYS) == 7
    # on two columns, the narrow views between two wide ones come in pairs (no empty cell)
    run = 0
    for _, wide in C.VIEWS + ((None, True),):
        if wide:
            assert run % 2 == 0, [w for _, w in C.VIEWS]
            run = 0
        else:
            run += 1
    # every model parameter is one WorkshopModel accepts (Mesa checks this too)
    import inspect
    sig = inspect.signature(W.WorkshopModel.__init__).parameters
    assert set(app.MODEL_PARAMS) <= set(sig)
    assert set(app.REGIMES) == {W.regime_label(r) for r in W.regime_files()}


def test_each_session_gets_its_own_prepared_model(app):
    made = []

    def factory():
        made.append(object())
        return made[-1]
    pool = app.ModelPool(size=2, factory=factory)
    pool.fill()
    a, b, c = pool.take(), pool.take(), pool.take()  # the third is built on demand
    assert len({id(a), id(b), id(c)}) == 3
    assert app.ModelPool(size=0, factory=factory).take() is made[-1]


def test_a_session_keeps_its_model_when_its_page_is_rebuilt(app, monkeypatch):
    """Going to the Facilitator tab and back rebuilds the workshop page: the session finds
    its run where it left it (the model Apply or Reset last made), not a fresh one; another
    session gets its own; a closed session's entry goes, and a disposed model is replaced."""
    closers = {}

    class Ctx:
        def __init__(self, key):
            self.id = key

        def on_close(self, fn):
            closers.setdefault(self.id, []).append(fn)

    made = iter(range(10**6))

    class Fake:
        def __init__(self):
            self.n, self.twin = next(made), None

        def dispose(self):
            self.__dict__.clear()

    monkeypatch.setattr(app.POOL, "take", Fake)
    current = {"ctx": Ctx("a")}
    monkeypatch.setattr(app.SESSION, "_context", lambda: current["ctx"])
    first = app.session_model()
    assert app.session_model() is first  # the page rebuilt: the same run
    first.value = Fake()  # Apply: a new model in the session's reactive
    assert app.session_model().value is first.value
    current["ctx"] = Ctx("b")
    other = app.session_model()
    assert other is not first and other.value.n != first.value.n
    first.value.dispose()  # disposed (the session closed): never handed out again
    current["ctx"] = Ctx("a")
    assert "twin" in app.session_model().value.__dict__
    for fn in closers["b"]:
        fn()
    assert "b" not in app.SESSION_MODELS


def _vuetify_round(value, lo, hi, step):
    """What Vuetify's slider does to a value when it is drawn (VSlider.roundValue): onto the
    grid lo + k step, then toFixed(the step's decimals)."""
    decimals = len(repr(float(step)).split(".")[1].rstrip("0")) if "." in repr(float(step)) else 0
    offset = lo % step
    v = round((value - offset) / step) * step + offset
    return round(min(v, hi), decimals)


def _calibrated_params() -> set[str]:
    import tomllib
    spec = tomllib.loads((PROJECT_ROOT / "experiments" / "calibration" / "england.toml")
                         .read_text())
    return set(spec["priors"])


@pytest.mark.parametrize("share", [None, 0.1234, 0.5678, 0.9013])
def test_every_lever_slider_holds_the_parameters_default(share, monkeypatch):
    """A slider moves any value off its grid onto it when drawn: a default off the grid
    (0.135 on a 0.02 grid became 0.14) would change the run by opening the page. Each lever's
    default stays; so do the defaults the calibration writes (4 significant figures) for the
    levers it fits, put at a few places in the lever's range."""
    from abm.core import params

    calibrated = _calibrated_params()
    for lever in W.LEVERS:
        spec = params.PARAMETERS[lever.param]
        if share is not None:
            if lever.param not in calibrated:
                continue
            lo, hi, _ = lever.bounds()
            d = float(f"{lo + share * (hi - lo):.4g}")
            if lever.relative:  # a relative lever's range follows the default
                d = float(f"{spec.default * (0.5 + share):.4g}")
            monkeypatch.setitem(params.PARAMETERS, lever.param,
                                params.ParamSpec(**{**spec.__dict__, "default": d}))
        d = params.PARAMETERS[lever.param].default
        lo, hi, step = lever.bounds()
        assert lo <= d <= hi and (hi - lo) / step <= 20_000, (lever.key, lo, hi, step)
        assert _vuetify_round(d, lo, hi, step) == pytest.approx(d, abs=1e-12), (lever.key, d)
        assert W.format_value(d, lever.decimals(), "", spec.type == "int") == (
            f"{d:,.0f}" if spec.type == "int" else f"{d:,.{lever.decimals()}f}")
        monkeypatch.undo()
    assert share is None or calibrated & {lv.param for lv in W.LEVERS}


# ---------------------------------------------------------------------------- sessions
def _wait(cond, timeout=60.0):
    import time
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_views_drawn_while_another_thread_steps_never_see_half_a_week():
    """A step holds the model's lock and the views draw under it (as the app's cards do):
    drawing in one thread while another steps gives whole pictures, never an error."""
    import threading
    m = small_model()
    failures, done, drawn = [], threading.Event(), threading.Event()

    def play():
        drawn.wait(30)  # the first picture is drawn before the steps start
        try:
            for _ in range(40):
                m.step()
        finally:
            done.set()
    threading.Thread(target=play).start()
    draws = 0
    while True:
        finished = done.is_set()
        try:
            with m.lock:
                week = m.week
                views = F.all_views(m)
                assert len(W.series(m)) == W.recorded_weeks(m) == week
            assert all(v.startswith(b"<svg") for v in views.values())
            draws += 1
        except Exception as e:  # noqa: BLE001 - collected and reported
            failures.append(repr(e))
        drawn.set()
        if finished:
            break
    assert failures == [] and draws >= 2 and m.week >= 40


def test_play_and_pause_in_the_page_and_pause_is_immediate(app):
    """▶ plays in a thread of its own; ❚❚ stops it before the next step."""
    import time
    m = small_model()
    model_r, rc = render_app(app, m)
    start = m.week
    button(rc, "▶").click()
    _wait(lambda: m.week >= start + 3)
    button(rc, "❚❚").click()
    paused = m.week
    time.sleep(0.6)
    assert m.week - paused <= 1  # at most the step in flight when ❚❚ was pressed
    stopped = m.week
    time.sleep(0.6)
    assert m.week == stopped
    assert rc.find(v.Btn, children=["▶"]).widget.disabled is False


def test_a_failing_view_shows_a_message_and_the_others_keep_working(app, monkeypatch):
    def broken(model):
        raise ValueError("operands could not be broadcast together")
    monkeypatch.setattr(F, "caseflow_svg", broken)
    m = small_model()
    model_r, rc = render_app(app, m)
    button(rc, "Step").click()
    texts = [bytes(w.value).decode() for w in rc.find(ipywidgets.Image).widgets]
    assert sum("could not be drawn" in t for t in texts) == 1
    assert sum("could not be drawn" not in t and t.startswith("<svg") for t in texts) == 6
    assert m.week == SMALL["history_weeks"] + 1


def test_a_session_stops_when_its_page_is_gone():
    import threading

    from solara.server.kernel_context import PageStatus

    from viz import session

    class Ctx:
        closed_event = threading.Event()
        page_status = {"a": PageStatus.CONNECTED, "b": PageStatus.DISCONNECTED}
    ctx = Ctx()
    assert session.page_open(ctx) and session.page_open(None)
    ctx.page_status = {"a": PageStatus.CLOSED, "b": PageStatus.DISCONNECTED}
    assert not session.page_open(ctx)
    ctx.page_status = {"a": PageStatus.CONNECTED}
    ctx.closed_event.set()
    assert not session.page_open(ctx)


# ---------------------------------------------------------------------------- set-up pieces
def test_offline_asset_pins_match_the_installed_solara():
    from viz import offline_assets as OA
    wanted = OA.required_from_solara()
    assert {k: v for k, (v, _) in OA.PACKAGES.items()} == wanted


def test_cli_registers_viz_and_checks_its_port():
    import socket

    from abm import cli
    from abm.cli import viz as viz_cli
    assert cli.EXTENSIONS["viz"][0] == "abm.cli.viz"
    args = cli._parser().parse_args(["viz"])
    assert (args.host, args.port, args.open) == ("127.0.0.1", 8765, None)
    args = cli._parser().parse_args(["viz", "--port", "9001", "--no-open"])
    assert (args.port, args.open) == (9001, False)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        busy = s.getsockname()[1]
        assert cli.main(["viz", "--port", str(busy)]) == 2
    assert cli.main(["viz", "--port", "0"]) == 2
    assert "solara" not in viz_cli.__dict__  # nothing heavy at import
    # served to the room (--host 0.0.0.0): the addresses participants open, never loopback
    lan = viz_cli.lan_addresses()
    assert all(not a.startswith("127.") and socket.inet_aton(a) for a in lan)


def test_port_left_by_a_stopped_server_is_free_at_once():
    """A server just stopped leaves its connections in TIME_WAIT; `cpabm viz` checks the
    port as the server binds it (SO_REUSEADDR), so a restart on the same port works."""
    import socket

    from abm.cli import viz as viz_cli
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    port = srv.getsockname()[1]
    cli = socket.create_connection(("127.0.0.1", port))
    conn, _ = srv.accept()
    conn.close()  # the server closes first: its side waits in TIME_WAIT
    srv.close()
    cli.close()
    plain = socket.socket()
    with pytest.raises(OSError):
        plain.bind(("127.0.0.1", port))  # what the old check did: "already in use"
    plain.close()
    assert viz_cli._port_free("127.0.0.1", port)


def test_holding_page_shows_progress_then_exactly_what_to_run():
    import socket
    import urllib.error
    import urllib.request

    from abm.cli import viz as viz_cli
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    page = viz_cli.HoldingPage("127.0.0.1", port)
    try:
        page.set("step 2 of 3: loading the model's kernels")

        def get(path):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10)
            except urllib.error.HTTPError as e:
                return e.code, e.read().decode()
            raise AssertionError("the holding page must not answer 200 (the app's readyz)")
        code, text = get("/")
        assert code == 503 and "loading the model&#x27;s kernels" in text and "<script>" in text
        assert get("/readyz")[0] == 503
        page.fail("The page's front end is missing. In /x run `make viz-assets`, then "
                  "`cpabm viz` again.")
        code, text = get("/")
        assert code == 500 and "run `make viz-assets`" in text and "<script>" not in text
    finally:
        page.close()
    assert viz_cli._port_free("127.0.0.1", port)  # the app can take the address at once


# ---------------------------------------------------------------------------- saved runs
def test_saved_runs_keep_every_group_and_compare_their_outcomes(tmp_path):
    from viz import runs as R
    a, b = small_model(), small_model()
    b.media_shock()
    for _ in range(6):
        a.step()
        b.step()
    rec_a = R.save_run("Group A", a, tmp_path)
    rec_b = R.save_run("  Group   A ", b, tmp_path)  # the same name: kept apart, not over
    assert (rec_a["name"], rec_b["name"]) == ("Group A", "Group A (2)")
    runs = R.load_runs(tmp_path)
    assert [r["name"] for r in runs] == ["Group A", "Group A (2)"]
    assert R.same_seeds(runs) and runs[1]["shock_weeks"] == [SMALL["history_weeks"]]
    o = runs[0]["outcomes"]
    assert o["weeks"] == 6
    def year(name):  # the six weeks played since the session start, as a year's rate
        return float(a.series(name)[-6:].sum()) * 52 / 6
    assert o["unnecessary_investigations"] == pytest.approx(year("unnecessary_investigations"))
    assert o["missed_harm"] == pytest.approx(year("harm_missed"))
    assert o["delay"] == pytest.approx(year("delay_weeks"))
    # staff and expert costs per year in £ million; turnover: last week's annual rate in %
    assert o["cost"] > 0
    assert o["cost"] == pytest.approx((year("work_cost") + year("court_expert_cost")) / 1e6)
    assert o["turnover"] == pytest.approx(100 * float(a.series("turnover_annual_rate")[-1]))
    assert runs[1]["outcomes"]["turnover"] == pytest.approx(
        100 * float(b.series("turnover_annual_rate")[-1]))
    table = R.runs_table(runs)
    assert list(table["run"]) == ["Group A", "Group A (2)"]
    assert {f"{label} ({unit})" for _, label, unit in R.OUTCOMES} <= set(table.columns)
    weekly = np.genfromtxt(tmp_path / "group-a.csv", delimiter=",", names=True, dtype=None,
                           encoding="utf-8")
    assert len(weekly) == 6 and "harm_missed" in weekly.dtype.names
    assert R.comparison_png(runs).startswith(b"\x89PNG")
    with pytest.raises(ValueError, match="needs a name"):
        R.save_run("  ", a, tmp_path)
    other = small_model(rng="7")
    R.save_run("Group C", other, tmp_path)
    assert not R.same_seeds(R.load_runs(tmp_path))


def test_facilitator_page_shows_the_saved_runs(tmp_path, monkeypatch, app):
    from viz import components as C
    from viz import runs as R
    monkeypatch.setenv("CPABM_VIZ_RUNS", str(tmp_path))
    box, rc = solara.render(C.Facilitator(), handle_error=False)
    assert rc.find(v.Html, tag="p").widgets  # "No runs saved yet"
    R.save_run("Group A", small_model())
    R.save_run("Group B", small_model())
    rc.find(v.Btn, children=["Refresh"]).widget.click()
    (table,) = rc.find(v.Html, class_="cp-runs").widgets
    text = str(table)
    assert "Group A" in text and "Group B" in text
    assert rc.find(v.Html, class_="cp-seeds cp-seeds-same").widgets
    assert not rc.find(v.Html, class_="cp-note cp-weeks-differ").widgets  # 0 and 0 weeks
    played = small_model()
    for _ in range(3):
        played.step()
    R.save_run("Group C", played)
    rc.find(v.Btn, children=["Refresh"]).widget.click()
    (note,) = rc.find(v.Html, class_="cp-note cp-weeks-differ").widgets
    assert "from 0 to 3 weeks" in str(note)


def test_court_panel_shows_cases_started_then_once_they_are_known():
    """Beside the official duration (cases concluded in a week), the eventual duration of the
    cases started in a week: the 13-week ratio of the cohort sums, drawn only where 90% of
    that window's applications have concluded, so the last months are a gap."""
    m = W.WorkshopModel(children=60_000, warmup_weeks=104, history_weeks=4)
    for _ in range(200):
        m.step()
    got = W.cohort_weeks(m)
    started = W.flow(m, "court_applications")
    done = W.flow(m, "court_cohort_concluded")
    weeks = W.flow(m, "court_cohort_duration_weeks_sum")
    known = np.isfinite(got)
    assert 0 < known.sum() < len(got) and not known[-26:].any()  # recent cohorts: unknown
    for i in np.flatnonzero(known)[::7]:
        lo = max(0, i - 12)
        assert done[lo:i + 1].sum() >= W.COHORT_KNOWN * started[lo:i + 1].sum()
        assert got[i] == pytest.approx(weeks[lo:i + 1].sum() / done[lo:i + 1].sum())
    # where a cohort is known, its duration is that of the cases concluded: a long-run
    # average of one equals the other's (no surge here), within the noise of a small LA
    s = W.series(m)
    both = known & np.isfinite(s["court_weeks"].to_numpy())
    assert abs(np.mean(got[both]) - np.mean(s["court_weeks"].to_numpy()[both])) < 8
    svg = F.timeseries_svg(m).decode()
    assert "cases started then" in svg and "cases concluded then (official)" in svg


def test_a_run_saved_before_playing_says_no_week_was_played():
    from viz import runs as R
    m = small_model(children=5_000)
    o = R.outcomes(m)
    assert o["weeks"] == 0 and o["delay"] > 0  # the history's last year, labelled unplayed
    m.step()
    assert R.outcomes(m)["weeks"] == 1


# ---------------------------------------------------------------------------- workshop safety
def test_the_settings_shown_are_the_running_models_so_nothing_is_pending(app):
    """A page built for a run it did not start (back from the Facilitator tab, or a run
    taken back after a reload) shows that run's settings: no spurious "Apply" that would
    rebuild it under the defaults."""
    m = small_model(regime="professional judgment", compare_regime="prescriptive", rng="abc")
    model_r, rc = render_app(app, m)
    assert rc.find(v.Html, class_="cp-pending").widgets == []
    assert rc.find(v.Btn, children=["Reset"]).widgets and not \
        rc.find(v.Btn, children=["Apply"]).widgets
    (card,) = by_class(rc, v.Card, "cp-settings")
    from reacton.find import Finder
    selects = {w.label: w.v_model for w in Finder([card]).find(v.Select).widgets}
    assert selects["Regime"] == "professional judgment"
    assert selects["Compare with (view 7)"] == "prescriptive"
    assert settings_slider(rc, "LA size (children)").v_model == 10_000
    (seed,) = [w for w in Finder([card]).find(v.TextField).widgets if w.label == "Seed"]
    assert W.parse_seed(seed.v_model) == m.seed


def test_reset_asks_first_when_the_run_has_something_to_lose(app):
    from viz import session
    fresh = small_model()
    assert not session.has_progress(fresh)
    m = small_model()
    model_r, rc = render_app(app, m)
    button(rc, "Step").click()
    button(rc, "Step").click()
    button(rc, "Media shock: a child's death in the news").click()
    assert session.has_progress(m)
    button(rc, "Reset").click()  # a mis-click: the run is still there, and a question
    assert model_r.value is m and m.week == SMALL["history_weeks"] + 2
    (question,) = rc.find(v.Html, class_="cp-reset-question").widgets
    assert "2 weeks played and 1 media shock will be lost" in question.children[0]
    assert rc.find(v.Btn, children=["Reset"]).widget.disabled
    button(rc, "Cancel").click()
    assert rc.find(v.Html, class_="cp-reset-question").widgets == []
    assert model_r.value is m and not rc.find(v.Btn, children=["Reset"]).widget.disabled
    button(rc, "Reset").click()
    button(rc, "Yes, start again").click()
    new = model_r.value
    assert new is not m and new.week == new.session_start and new.shock_weeks == []
    assert rc.find(v.Html, class_="cp-reset-question").widgets == []
    button(rc, "Reset").click()  # nothing to lose now: at once, no question
    assert model_r.value is not new
    assert rc.find(v.Html, class_="cp-reset-question").widgets == []


def test_presentation_mode_keeps_each_views_options(app):
    """Present, and Back to all views, show a view as the user set it (view 2's colouring,
    view 4's decision point), not its defaults."""
    from viz import components as C
    try:
        m = small_model()
        model_r, rc = render_app(app, m)
        (toggle,) = by_class(rc, v.BtnToggle, "cp-colour-by")
        toggle.v_model = 1  # "stress"
        (select,) = by_class(rc, v.Select, "cp-decision-select")
        select.v_model = "court application"
        stress = F.workers_svg(m, "stress")
        court = F.decisions_svg(m, C.DECISION_CHOICES["court application"])
        assert stress != F.workers_svg(m, "caseload")

        def images():
            return [bytes(w.value) for w in rc.find(ipywidgets.Image).widgets]
        assert stress in images() and court in images()
        presents = by_class(rc, v.Btn, "cp-present-button")
        presents[C.VIEW_KEYS.index("workers")].click()
        assert images() == [stress]
        (toggle,) = by_class(rc, v.BtnToggle, "cp-colour-by")
        assert toggle.v_model == 1
        by_class(rc, v.Btn, "cp-present-button")[0].click()  # back to all views
        assert len(images()) == 7 and stress in images() and court in images()
        by_class(rc, v.Btn, "cp-present-button")[C.VIEW_KEYS.index("decisions")].click()
        assert images() == [court]
        (select,) = by_class(rc, v.Select, "cp-decision-select")
        assert select.v_model == "court application"
    finally:  # outside a server these reactives are global: leave the defaults
        C.PRESENTING.set(None)
        C.WORKER_COLOUR.set("caseload")
        C.DECISION_POINT.set("referral")


class _Ctx:
    """A stand-in for Solara's kernel context: a kernel id, the browser's session cookie,
    and its close callbacks (run in reverse, as Solara runs them)."""

    def __init__(self, kernel, browser):
        self.id, self.session_id, self.callbacks = kernel, browser, []

    def on_close(self, fn):
        self.callbacks.append(fn)

    def close(self):
        for fn in reversed(self.callbacks):
            fn()


def test_a_reloaded_page_gets_its_run_back_and_others_do_not(app, monkeypatch):
    """A page reload (or a connection back after Solara dropped the session) opens a new
    session in the same browser: it gets the run its last session left, for
    ``RESUME_S`` seconds; another browser never gets it; afterwards it is dropped."""
    from viz import session
    monkeypatch.setattr(app.POOL, "take", small_model)
    monkeypatch.setattr(session, "RESUME_S", 60.0)
    current = {}
    monkeypatch.setattr(app.SESSION, "_context", lambda: current["ctx"])
    current["ctx"] = first = _Ctx("k1", "browser-a")
    m = app.session_model().value
    m.step()
    m.media_shock()
    week = m.week
    current["ctx"] = other = _Ctx("k2", "browser-b")
    theirs = app.session_model().value
    first.close()  # the reload closes the old page's session
    assert "k1" not in app.SESSION_MODELS and "twin" in m.__dict__  # kept, not dropped
    current["ctx"] = again = _Ctx("k3", "browser-a")
    got = app.session_model().value
    assert got is m and got.week == week and got.shock_weeks == [week]
    assert got.session_id == "k3" and "browser-a" not in session.PARKED
    other.close()  # browser b's run is kept for browser b only
    current["ctx"] = _Ctx("k4", "browser-c")
    assert app.session_model().value is not theirs
    monkeypatch.setattr(session, "RESUME_S", 0.2)
    again.close()
    _wait(lambda: "twin" not in m.__dict__, timeout=10)  # dropped once the time is up
    assert "browser-a" not in session.PARKED
    current["ctx"] = _Ctx("k5", "browser-a")
    assert app.session_model().value is not m
    for entries in session.PARKED.values():  # leave nothing behind for other tests
        for _, timer in entries:
            timer.cancel()
    session.PARKED.clear()
    for key in ("k4", "k5"):
        app.SESSION_MODELS.pop(key, None)


class _Clock:
    """A model for the play loop: counts weeks, and notes the week at every redraw."""

    def __init__(self):
        self.week, self.running, self.redraws = 0, True, []

    def step(self):
        self.week += 1


def _play(model, pause_s, seconds, monkeypatch, hold_gate_s=0.0):
    import threading
    import time

    from viz import session
    monkeypatch.setattr(session, "force_update", lambda: model.redraws.append(model.week))
    stop = threading.Event()
    if hold_gate_s:
        session.GATE.acquire()
    t = threading.Thread(target=session.play, args=(model, stop, pause_s))
    t.start()
    if hold_gate_s:
        time.sleep(hold_gate_s)
        session.GATE.release()
    time.sleep(seconds)
    stop.set()
    t.join(5)
    assert not t.is_alive()
    return np.diff([0, *model.redraws])


def test_play_pauses_as_set_and_never_skips_weeks_for_the_pause(monkeypatch):
    from viz import session
    # a pause of 0.4 s: one week per redraw (the pause is not "missed time" to catch up)
    steps = _play(_Clock(), lambda: 0.4, 1.7, monkeypatch)
    assert 2 <= len(steps) <= 6 and (steps == 1).all(), steps
    # no pause: still no faster than WEEKS_PER_SECOND
    steps = _play(_Clock(), lambda: 0.0, 1.0, monkeypatch)
    assert (steps == 1).all() and len(steps) <= session.WEEKS_PER_SECOND * 1.0 + 2, steps
    # a session kept waiting for the server's gate catches up, up to MAX_CATCH_UP weeks
    steps = _play(_Clock(), lambda: 0.1, 0.3, monkeypatch, hold_gate_s=0.5)
    assert 2 <= steps[0] <= session.MAX_CATCH_UP and (steps[1:] == 1).all(), steps


def test_the_pause_slider_applies_while_playing(app):
    """The developer pause changes the pace at once, not at the next ▶."""
    from viz import session
    m = small_model()
    pause_ms = solara.reactive(60_000)
    box, rc = solara.render(session.SessionController(solara.reactive(m),
                                                      play_interval=pause_ms),
                            handle_error=False)
    start = m.week
    button(rc, "▶").click()
    _wait(lambda: m.week >= start + 1, timeout=30)
    pause_ms.set(0)  # was a minute between weeks
    _wait(lambda: m.week >= start + 4, timeout=30)
    button(rc, "❚❚").click()
