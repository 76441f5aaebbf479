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
  page closed). A closed session's run is kept for :data:`RESUME_S` seconds, for the same
  browser to take back (a reload, a tab closed by mistake, a connection back after Solara
  dropped the session); then it is dropped and its memory handed back
  (:func:`release_memory`).
* **Reset asks first** when the run has anything to lose (weeks played, media shocks).
"""

from __future__ import annotations

import ctypes
import gc
import logging
import os
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


def _seconds(raw: str | None, default: float) -> float:
    try:
        return max(0.0, float(raw)) if raw not in (None, "") else default
    except ValueError:
        return default


#: Seconds a closed session's run is kept for its browser to take back (CPABM_VIZ_RESUME;
#: 0 drops it at once). Short, so that a room's memory is handed back soon after it leaves.
RESUME_S = _seconds(os.environ.get("CPABM_VIZ_RESUME"), 20.0)


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


def play(model, stop: threading.Event, pause_s=lambda: 0.1, ctx=None,
         on_error=None) -> None:
    """Play ``model`` week by week until ``stop`` is set, its calendar ends or its page
    (``ctx``) is gone: one week, a redraw, then a pause of ``pause_s()`` seconds (read
    again while pausing, so a change applies at once), and never faster than
    :data:`WEEKS_PER_SECOND`. A session that waited for :data:`GATE` also steps the weeks it
    missed while waiting (up to :data:`MAX_CATCH_UP`), never for the pause."""
    period = 1.0 / WEEKS_PER_SECOND
    while not stop.is_set():
        if not page_open(ctx):
            log.info("page gone: the session's model stops")
            break
        began = time.monotonic()
        with GATE:
            if stop.is_set():
                break
            waited = time.monotonic() - began
            weeks = min(MAX_CATCH_UP, 1 + int(waited * WEEKS_PER_SECOND))
            try:
                advance(model, weeks, stop)
                force_update()
            except Exception as e:  # noqa: BLE001 - shown in the page, logged here
                log.exception("a step failed")
                if on_error is not None:
                    on_error(e)
                break
        if not model.running:
            break
        drawn = time.monotonic()
        while not stop.is_set():
            left = max(drawn + max(0.0, float(pause_s())), began + period) - time.monotonic()
            if left <= 0:
                break
            stop.wait(min(left, 0.05))


def has_progress(model) -> bool:
    """Would a reset lose something: weeks played since the session start, or a shock?"""
    start = getattr(model, "session_start", model.week)
    return model.week > start or bool(getattr(model, "shock_weeks", None))


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
    print(f"cpabm viz: a session closed; {held} models in memory (open sessions, closed "
          f"sessions' runs kept {RESUME_S:g} s for their browser, and the prepared ones)",
          file=sys.stderr, flush=True)


def own(model, ctx) -> None:
    """Mark ``model`` as belonging to the session ``ctx`` (disposed when it closes)."""
    model.session_id = getattr(ctx, "id", None)


#: Closed sessions' runs, by browser (Solara's session cookie): [(model, its expiry timer)],
#: the latest last.
PARKED: dict[str, list] = {}
_PARKED_LOCK = threading.Lock()


def _later(seconds: float, fn) -> threading.Timer:
    timer = threading.Timer(seconds, fn)
    timer.daemon = True
    timer.start()
    return timer


def _disposed(model) -> bool:
    return "twin" not in model.__dict__


def park(browser: str, model) -> None:
    """Keep ``model`` (a closed session's run) for :data:`RESUME_S` seconds, for a new
    session of the same ``browser`` to take back (:func:`unpark`); then drop it."""
    def expire():
        with _PARKED_LOCK:
            entries = PARKED.get(browser, [])
            kept = [e for e in entries if e[0] is not model]
            if len(kept) == len(entries):  # taken back meanwhile
                return
            if kept:
                PARKED[browser] = kept
            else:
                PARKED.pop(browser, None)
        model.dispose()
        release_memory()
    model.session_id = None  # owned by no session while it waits
    with _PARKED_LOCK:
        PARKED.setdefault(browser, []).append((model, _later(RESUME_S, expire)))


def unpark(ctx):
    """The latest run kept for this session's browser, now owned by ``ctx``; else None."""
    browser = getattr(ctx, "session_id", None)
    if not browser:
        return None
    with _PARKED_LOCK:
        entries = PARKED.pop(browser, [])
        model = None
        while entries:
            m, timer = entries.pop()
            timer.cancel()
            if not _disposed(m):
                model = m
                break
        if entries:
            PARKED[browser] = entries
    if model is not None:
        own(model, ctx)
        log.info("a run kept for its browser was taken back (week %s)", model.week)
    return model


def on_session_close(ctx, current=None) -> None:
    """When ``ctx`` closes: stop and drop the session's models (``dispose``) and hand the
    memory back a moment later; but its current run (``current()``) is parked for the same
    browser to take back (:data:`RESUME_S` seconds) rather than dropped."""
    if ctx is None:
        return

    def close():
        from viz.workshop import WorkshopModel
        kept = current() if current is not None else None
        browser = getattr(ctx, "session_id", None)
        if kept is not None and (not browser or RESUME_S <= 0 or _disposed(kept)):
            kept = None
        for m in list(WorkshopModel.live):
            if getattr(m, "session_id", None) == ctx.id and m is not kept:
                m.dispose()
        if kept is not None:
            park(browser, kept)
        _later(1.0, release_memory)
    ctx.on_close(close)


@solara.component
def SessionController(model: solara.Reactive, *, renderer=None, model_parameters=None,
                      play_interval=100, pending: bool = False):
    """Apply/Reset, ▶/❚❚ and Step for one session (arguments as Mesa's ModelController's).
    The first button reads "Apply" while the settings chosen differ from the running
    model's (``pending``), else "Reset"; either rebuilds the model from the settings. Reset
    asks first when the run has something to lose (:func:`has_progress`); Apply does not
    (the settings were just changed on purpose, and the note above says what it does).
    ``play_interval`` (ms, or a reactive) is the pause between weeks while playing."""
    from mesa.visualization.solara_viz import _build_model_init_kwargs

    update_counter.get()  # the buttons follow the model (its calendar may end)
    playing = solara.use_reactive(False)
    error = solara.use_reactive(None)
    confirming = solara.use_reactive(False)
    # this play's stop flag, and the pause the play loop reads (it can change while playing)
    current = solara.use_memo(lambda: {"halt": threading.Event(), "pause_s": 0.1}, [])
    if model_parameters is None:
        model_parameters = {}
    model_parameters = solara.use_reactive(model_parameters)
    interval = play_interval.value if isinstance(play_interval, solara.Reactive) \
        else play_interval
    current["pause_s"] = max(0.0, float(interval)) / 1000

    def play_loop():
        if not playing.value:
            return None
        ctx = _context()
        stop = current["halt"] = threading.Event()  # each play has its own flag
        m = model.value

        def failed(e):
            error.value = f"The model stopped: {e}"

        def loop():
            play(m, stop, lambda: current["pause_s"], ctx, failed)
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
        confirming.value = False
        current["halt"].set()
        playing.value = False
        error.value = None
        kwargs = _build_model_init_kwargs(model.value, model_parameters.value,
                                          add_scenario_when_empty=True,
                                          require_model_accepts_scenario=True)
        old = model.value
        model.value = type(old)(**kwargs)
        model.value.session_id = getattr(old, "session_id", None)

    def ask_reset():
        if pending or not has_progress(model.value):
            do_reset()
        else:
            confirming.value = True

    running = bool(model.value.running)
    with solara.Row(justify="space-between"):
        solara.Button(label="Apply" if pending else "Reset",
                      color="warning" if pending else "primary", on_click=ask_reset,
                      classes=["cp-apply"], disabled=confirming.value and not pending)
        solara.Button(label="❚❚" if playing.value else "▶", color="primary",
                      on_click=do_play_pause, disabled=not running)
        solara.Button(label="Step", color="primary", on_click=do_step,
                      disabled=playing.value or not running)
    if confirming.value and not pending:
        m = model.value
        played = m.week - getattr(m, "session_start", m.week)
        shocks = len(getattr(m, "shock_weeks", []))
        lost = ([f"{played} week{'s' if played != 1 else ''} played"] if played else []) + (
            [f"{shocks} media shock{'s' if shocks != 1 else ''}"] if shocks else [])
        with solara.Column(gap="4px", classes=["cp-reset-confirm"]):
            solara.v.Html(tag="div", class_="cp-reset-question", children=[
                f"Start this run again? Its {' and '.join(lost)} will be lost (Save this "
                "run, below, keeps them for the facilitator's page)."])
            with solara.Row():
                solara.Button("Yes, start again", on_click=do_reset, color="error",
                              dense=True, classes=["cp-reset-yes"])
                solara.Button("Cancel", on_click=lambda: confirming.set(False), dense=True,
                              outlined=True, classes=["cp-reset-cancel"])
    if error.value:
        solara.Error(label=error.value)
