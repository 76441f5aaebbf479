"""One browser session's play loop, made safe for a room of participants on one server.

:func:`SessionController` is the Apply-Reset / ▶ / Step row, in place of Mesa's
``ModelController``. It differs from Mesa's in the ways a workshop needs:

* **No render sees a half-appended series.** A step holds the model's lock
  (``WorkshopModel.lock``) and every view draws under the same lock
  (``viz.components``), so a picture is drawn either before or after a week, never during.
* **One step-and-redraw at a time on the server** (:data:`GATE`). With many sessions
  playing, each waits its turn *before* stepping, so the time from a step to its redraw
  stays short, instead of every session's redraw slowing down every other's. A session
  that waited long steps the weeks it missed (up to :data:`MAX_CATCH_UP`) before its
  next redraw, so the calendar keeps its pace.
* **Pause is immediate**: the loop checks a stop flag before every step.
* **A session's model stops when its page is gone** (its websocket disconnected or the
  page closed), and a closed session's memory is handed back (:func:`release_memory`).
"""

from __future__ import annotations

import ctypes
import gc
import logging
import sys
import threading
import time

import solara
from mesa.visualization.utils import force_update, update_counter

log = logging.getLogger("cpabm.viz")

#: One session at a time steps its model and redraws its views (server-wide).
GATE = threading.Lock()
#: Play speed: at most this many weeks a second, when the server has time for it (the pace
#: is also held back by the developer pause and by the time a redraw takes).
WEEKS_PER_SECOND = 5.0
#: At most this many weeks stepped before one redraw, for a session that waited its turn.
MAX_CATCH_UP = 4


def _context():
    """This session's Solara kernel context (None outside a server, e.g. in tests)."""
    try:
        from solara.server import kernel_context
        if kernel_context.has_current_context():
            return kernel_context.get_current_context()
    except Exception:  # noqa: BLE001 - no server: nothing to watch
        pass
    return None


def page_open(ctx) -> bool:
    """Is a browser page still connected to this session? (True outside a server.)"""
    if ctx is None:
        return True
    if ctx.closed_event.is_set():
        return False
    from solara.server.kernel_context import PageStatus
    statuses = list(ctx.page_status.values())
    return not statuses or any(s == PageStatus.CONNECTED for s in statuses)


def advance(model, weeks: int = 1, stop: threading.Event | None = None) -> None:
    """Step ``model`` up to ``weeks`` weeks (fewer if its calendar ends or ``stop`` is set)."""
    for _ in range(max(1, int(weeks))):
        if not model.running or (stop is not None and stop.is_set()):
            break
        model.step()


def release_memory() -> None:
    """Collect garbage and give freed heap pages back to the system (glibc), so a closed
    session's model does not stay in the server's resident memory; logs what is left."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass
    from viz.workshop import WorkshopModel
    held = sum(1 for m in list(WorkshopModel.live) if "twin" in m.__dict__)  # not disposed
    print(f"cpabm viz: a session closed; {held} models in memory (open sessions and the "
          "prepared ones)", file=sys.stderr, flush=True)


def own(model, ctx) -> None:
    """Mark ``model`` as belonging to the session ``ctx`` (disposed when it closes)."""
    model.session_id = getattr(ctx, "id", None)


def on_session_close(ctx) -> None:
    """When ``ctx`` closes: stop and drop the session's models (``dispose``) and hand the
    memory back a moment later."""
    if ctx is None:
        return

    def close():
        from viz.workshop import WorkshopModel
        for m in list(WorkshopModel.live):
            if getattr(m, "session_id", None) == ctx.id:
                m.dispose()
        timer = threading.Timer(1.0, release_memory)
        timer.daemon = True
        timer.start()
    ctx.on_close(close)


@solara.component
def SessionController(model: solara.Reactive, *, renderer=None, model_parameters=None,
                      play_interval=100, pending: bool = False):
    """Apply/Reset, ▶/❚❚ and Step for one session (arguments as Mesa's ModelController's).
    The first button reads "Apply" while the settings chosen differ from the running
    model's (``pending``), else "Reset"; either rebuilds the model from the settings."""
    from mesa.visualization.solara_viz import _build_model_init_kwargs

    update_counter.get()  # the buttons follow the model (its calendar may end)
    playing = solara.use_reactive(False)
    error = solara.use_reactive(None)
    current = solara.use_memo(lambda: {"halt": threading.Event()}, [])  # this play's flag
    if model_parameters is None:
        model_parameters = {}
    model_parameters = solara.use_reactive(model_parameters)
    interval = play_interval.value if isinstance(play_interval, solara.Reactive) \
        else play_interval

    def play_loop():
        if not playing.value:
            return None
        ctx = _context()
        stop = current["halt"] = threading.Event()  # each play has its own flag
        m = model.value

        def loop():
            last = time.monotonic()
            while not stop.is_set():
                if not page_open(ctx):
                    log.info("page gone: the session's model stops")
                    break
                with GATE:
                    if stop.is_set():
                        break
                    now = time.monotonic()
                    weeks = min(MAX_CATCH_UP, max(1, int((now - last) * WEEKS_PER_SECOND)))
                    last = now
                    try:
                        advance(m, weeks, stop)
                        force_update()
                    except Exception as e:  # noqa: BLE001 - shown in the page, logged here
                        log.exception("a step failed")
                        error.value = f"The model stopped: {e}"
                        break
                if not m.running:
                    break
                stop.wait(max(0.0, interval / 1000))
            if not stop.is_set():
                playing.value = False

        def run():
            if ctx is None:
                loop()
            else:
                with ctx:
                    loop()
        threading.Thread(target=run, daemon=True, name="cpabm-play").start()
        return stop.set

    solara.use_effect(play_loop, [playing.value, model.value])

    def do_step():
        with GATE:
            advance(model.value, 1)
            force_update()

    def do_play_pause():
        if playing.value:
            current["halt"].set()  # before the re-render: no further step starts
        playing.value = not playing.value

    def do_reset():
        current["halt"].set()
        playing.value = False
        error.value = None
        kwargs = _build_model_init_kwargs(model.value, model_parameters.value,
                                          add_scenario_when_empty=True,
                                          require_model_accepts_scenario=True)
        old = model.value
        model.value = type(old)(**kwargs)
        model.value.session_id = getattr(old, "session_id", None)

    running = bool(model.value.running)
    with solara.Row(justify="space-between"):
        solara.Button(label="Apply" if pending else "Reset",
                      color="warning" if pending else "primary", on_click=do_reset,
                      classes=["cp-apply"])
        solara.Button(label="❚❚" if playing.value else "▶", color="primary",
                      on_click=do_play_pause, disabled=not running)
        solara.Button(label="Step", color="primary", on_click=do_step,
                      disabled=playing.value or not running)
    if error.value:
        solara.Error(label=error.value)
