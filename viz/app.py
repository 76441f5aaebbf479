"""The workshop app: ``solara run viz/app.py`` (or ``make viz`` / ``cpabm viz``).

Built on Mesa's ``SolaraViz``: Mesa gives the page frame, Play / Step / Reset and the
reset-time parameters (LA size, regime, comparison regime, seed); the seven views, the
levers and the media-shock button are this project's components (``viz.components``).
Each browser session gets its own model (made in ``Page``, never at module level).
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
from mesa.visualization import SolaraViz  # noqa: E402
from mesa.visualization.user_param import Slider  # noqa: E402

from viz import components as C  # noqa: E402
from viz import session as SESSION  # noqa: E402
from viz import workshop as W  # noqa: E402

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
COMPONENTS = [view for view, _ in C.VIEWS]
LAYOUT = [{"i": i, "moved": False, **pos} for i, (_, pos) in enumerate(C.VIEWS)]


def _install_layout() -> None:
    """Give Mesa's grid our initial layout (Mesa 3.5.1 sizes every view 6 x 10 cells and
    offers no argument for it). Other numbers of views keep Mesa's own layout."""
    default = getattr(_mesa_viz, "_cp_default_layout", _mesa_viz.make_initial_grid_layout)
    _mesa_viz._cp_default_layout = default

    def layout(num_components: int):
        if num_components == len(LAYOUT):
            return [dict(item) for item in LAYOUT]
        return default(num_components)

    _mesa_viz.make_initial_grid_layout = layout


_install_layout()
# Reset / Play / Step: the workshop's own controller (viz.session: safe with many sessions)
_mesa_viz.ModelController = SESSION.SessionController


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
    """The whole app for one model reactive (Page makes it; tests pass their own)."""
    solara.Style(C.CSS)
    C.SidebarLevers(model)
    with solara.Column(classes=["cp-main"], gap="0px"):
        C.Banner(model)
        SolaraViz(model, components=COMPONENTS, model_params=MODEL_PARAMS, name=TITLE,
                  play_interval=100, render_interval=1)


@solara.component
def Page():
    def take():  # one model per browser session, dropped when the session closes
        ctx = SESSION._context()
        m = POOL.take()
        SESSION.own(m, ctx)
        SESSION.on_session_close(ctx)
        return m
    initial = solara.use_memo(take, [])
    model = solara.use_reactive(initial)
    solara.Title("cpabm workshop")
    Workshop(model)
