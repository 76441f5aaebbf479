"""The workshop app: ``solara run viz/app.py`` (or ``make viz`` / ``cpabm viz``).

The page frame is this project's (``Workshop``); Mesa gives the reset-time parameter inputs
(``ModelCreator``: LA size, regime, comparison regime, seed); Play / Step / Apply-Reset are
``viz.session``'s (safe with a room of sessions on one server); the seven views, the levers,
the guide and the media-shock button are ``viz.components``. Each browser session gets its
own model (made in ``Page``, never at module level).
"""

from __future__ import annotations

import os
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
try:  # `solara run viz/app.py` from anywhere: make the project importable
    import viz  # noqa: F401
except ImportError:
    sys.path.insert(0, str(ROOT))

import mesa.visualization.solara_viz as _mesa_viz  # noqa: E402
import solara  # noqa: E402
from mesa.visualization.user_param import Slider  # noqa: E402

from viz import components as C  # noqa: E402
from viz import session as SESSION  # noqa: E402
from viz import workshop as W  # noqa: E402
from viz.components import H  # noqa: E402

CULL_TIMEOUT = "20s"

try:  # no "runs on Solara" badge over the views; a plain tab title
    from solara.server import settings as _server_settings

    _server_settings.theme.show_banner = False
    _server_settings.theme.title = "cpabm workshop"
    # a session whose page has gone (tab closed, laptop shut) is freed after this long,
    # not Solara's default 24 h (SOLARA_KERNEL_CULL_TIMEOUT overrides it)
    if "SOLARA_KERNEL_CULL_TIMEOUT" not in os.environ:
        _server_settings.kernel.cull_timeout = CULL_TIMEOUT
except ImportError:  # pragma: no cover - solara-server is part of solara
    pass

TITLE = "Child protection in England: a workshop model (Munro Review, 2010)"
DEFAULTS = dict(children=75_000, regime="prescriptive", compare_regime="professional judgment",
                rng="2010")
FIXED = dict(years=10, warmup_weeks=156, history_weeks=W.HISTORY_WEEKS)
REGIMES = [W.regime_label(r) for r in W.regime_files()]

#: Mesa's reset-time parameters: applied when the user presses Reset.
MODEL_PARAMS = {
    "children": Slider("LA size (children)", DEFAULTS["children"], 5_000, 250_000, 5_000),
    "regime": {"type": "Select", "value": DEFAULTS["regime"], "values": REGIMES,
               "label": "Regime"},
    "compare_regime": {"type": "Select", "value": DEFAULTS["compare_regime"], "values": REGIMES,
                       "label": "Compare with (view 7)"},
    "rng": {"type": "InputText", "value": DEFAULTS["rng"], "label": "Seed"},
    **FIXED,
}


def settings_params(model) -> dict:
    """:data:`MODEL_PARAMS` with the running model's settings as their values, so a page
    built again for a run (back from the Facilitator tab, or a run taken back after a
    reload) shows that run's settings, and nothing is pending."""
    lo, hi, step = 5_000, 250_000, 5_000
    children = int(min(max(round(model.children_n / step) * step, lo), hi))
    out = {k: (dict(p) if isinstance(p, dict) else p) for k, p in MODEL_PARAMS.items()}
    out["children"] = Slider("LA size (children)", children, lo, hi, step)
    out["regime"]["value"] = W.regime_label(model.regime)
    out["compare_regime"]["value"] = W.regime_label(model.twin.regime)
    out["rng"]["value"] = str(model.seed)
    return out


def new_model(**kw) -> W.WorkshopModel:
    return W.WorkshopModel(**{**DEFAULTS, **FIXED, **kw})


REFILL_DELAY_S = 20.0


class ModelPool:
    """Default models built ahead, in the background, for the next browser sessions, so a
    page opens without waiting for the warm-up. Each model goes to exactly one session (a
    model shared by sessions would mix their controls); taken ones are replaced a little
    later. CPABM_VIZ_PREBUILD = how many to keep ready (default 2, for two participants
    opening the page together); 0 builds on demand."""

    def __init__(self, size: int | None = None, factory=None):
        self.factory = factory or new_model
        self._lock = threading.Lock()
        self._ready: list[Future] = []
        self._pool: ThreadPoolExecutor | None = None
        if size is None:
            raw = os.environ.get("CPABM_VIZ_PREBUILD", "2")
            size = int(raw) if raw.isdigit() else 2
        self.size = max(0, min(size, 8))

    def fill(self) -> None:
        with self._lock:
            if self._pool is None and self.size:
                self._pool = ThreadPoolExecutor(1, thread_name_prefix="cpabm-prebuild")
            while len(self._ready) < self.size:
                self._ready.append(self._pool.submit(self.factory))

    def take(self) -> W.WorkshopModel:
        with self._lock:
            fut = self._ready.pop(0) if self._ready else None
        try:
            model = fut.result() if fut is not None else self.factory()
        except Exception:  # a failed background build: build here, and show its error
            model = self.factory()
        if self.size:
            # replace it later: a build holds the GIL (Numba kernels), and now it would
            # slow the page being opened
            timer = threading.Timer(REFILL_DELAY_S, self.fill)
            timer.daemon = True
            timer.start()
        return model


POOL = ModelPool()
POOL.fill()


@solara.component
def Workshop(model: solara.Reactive):
    """The whole app for one model reactive (Page makes it; tests pass their own): the
    opening guide, the status line and the seven views; in the sidebar Play / Step /
    Apply-Reset, this LA's settings (applied on Apply), the levers, and the developer
    settings behind an "advanced" switch."""
    params = solara.use_reactive({})  # the settings chosen, applied on Apply / Reset
    settings = solara.use_memo(lambda: settings_params(model.value), [])  # the run's, at first
    advanced = solara.use_reactive(False)
    guide = solara.use_reactive(True)
    interval = solara.use_reactive(100)
    solara.Style(C.CSS)
    with solara.AppBar():
        solara.AppBarTitle(TITLE)
        if not guide.value:
            solara.Button("Guide", on_click=lambda: guide.set(True), text=True,
                          classes=["cp-guide-open"], style={"color": "white"})
    pending = C.pending_changes(model.value, params.value)
    with solara.Sidebar():
        with solara.Card("Run", margin=0, classes=["cp-run"]):
            SESSION.SessionController(model, model_parameters=params, play_interval=interval,
                                      pending=bool(pending))
            if pending:
                H("div", "Pending (Apply starts a new run with them): " + "; ".join(pending),
                  cls="cp-pending")
        C.Levers(model)
        with solara.Card("This local authority", margin=0, classes=["cp-settings"]):
            _mesa_viz.ModelCreator(model, settings, model_parameters=params)
            C.RegimeNotes(params.value)
        C.SaveRun(model)
        solara.Switch(label="advanced (developer settings)", value=advanced,
                      classes=["cp-advanced"])
        if advanced.value:
            with solara.Card("Developer settings", margin=0, classes=["cp-developer"]):
                solara.SliderInt("Pause between weeks while playing (ms)", value=interval,
                                 min=0, max=1000, step=50)
                H("div", f"Kernel clock: week {model.value._t} (warm-up "
                  f"{model.value.offset} weeks); model seed {model.value.seed}.",
                  cls="cp-note")
    with solara.Column(classes=["cp-main"], gap="0px"):
        if guide.value:
            C.Guide(on_close=lambda: guide.set(False))
        C.Banner(model)
        C.ViewGrid(model.value)


#: Each browser session's model, by session: the page is rebuilt when the group comes back
#: from the Facilitator tab, and must find its run where it left it (Apply and Reset put
#: the new model in the same reactive).
SESSION_MODELS: dict[object, solara.Reactive] = {}
_SESSION_MODELS_LOCK = threading.Lock()


def session_model() -> solara.Reactive:
    """This session's model (a reactive): the one it has; else the run its browser's last
    closed session left (a reload, or a connection back after Solara dropped the session,
    within ``SESSION.RESUME_S`` seconds); else a new one from the pool. Owned by the
    session; when the session closes, its run is kept for its browser a while
    (``SESSION.park``) and the rest dropped, with its entry here."""
    ctx = SESSION._context()
    key = getattr(ctx, "id", None)
    with _SESSION_MODELS_LOCK:
        held = SESSION_MODELS.get(key) if key is not None else None
        if held is not None and "twin" in held.value.__dict__:  # not disposed
            return held
        m = SESSION.unpark(ctx) if ctx is not None else None
        if m is None:
            m = POOL.take()
            SESSION.own(m, ctx)
        model = solara.reactive(m)
        if key is not None:
            SESSION_MODELS[key] = model
            SESSION.on_session_close(ctx, current=lambda: model.value)
            # (only its own entry: a new context on the same kernel id may have one already)
            ctx.on_close(lambda: SESSION_MODELS.pop(key) if SESSION_MODELS.get(key) is model
                         else None)
        return model


@solara.component
def Page():
    model = solara.use_memo(session_model, [])  # one model per browser session
    solara.Title("cpabm workshop")
    Workshop(model)


@solara.component
def FacilitatorPage():
    solara.Title("cpabm workshop: facilitator")
    C.Facilitator()


#: The app's pages: the workshop (one per group) and the facilitator's comparison.
routes = [solara.Route(path="/", component=Page, label="Workshop"),
          solara.Route(path="facilitator", component=FacilitatorPage, label="Facilitator")]
