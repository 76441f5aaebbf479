"""A room of participants in one browser: N headless Chromium contexts (each its own
session and model) open the app at 1280x720, all press ▶, play, pause, and close.

Measured per page: tracebacks or error messages shown, the time from a step on the server
to its redraw in the page (the status line carries the server's time of the step, and a
MutationObserver notes when the new one arrives: same machine, same clock), the weeks
played, and the weeks still stepped after ❚❚ was pressed. On the server: resident memory
before the pages open, while they play, and after they have closed and Solara has culled
their sessions. Used by the load benchmark (25 contexts) and by a smaller browser test.
"""

from __future__ import annotations

import statistics
import time
from contextlib import nullcontext
from pathlib import Path

from viz import browser as B

#: Collects, in the page, how long after its step each new week reached the page.
OBSERVER_JS = """() => {
  window.__cpLags = []; window.__cpLast = null;
  const read = () => { const e = document.querySelector('.cp-stepped-at');
                       return e ? parseFloat(e.textContent) : null; };
  window.__cpLast = read();
  new MutationObserver(() => {
    const t = read();
    if (t !== null && t !== window.__cpLast) {
      window.__cpLast = t; window.__cpLags.push(Date.now() / 1000 - t); }
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""
ERROR_JS = """() => { const t = document.body.innerText;
  const bad = ['Traceback (most recent call last)', 'could not be drawn', 'The model stopped'];
  return bad.filter(b => t.includes(b)); }"""


def rss_mib(pid: int) -> float:
    """Resident memory of process ``pid`` in MiB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def _quantiles(xs: list[float]) -> dict:
    xs = sorted(xs)
    if not xs:
        return {"n": 0}
    return {"n": len(xs), "median": statistics.median(xs),
            "p90": xs[min(len(xs) - 1, int(0.9 * len(xs)))], "max": xs[-1]}


def play_room(url: str, server_pid: int, contexts: int = 25, play_s: float = 60.0,
              settle_s: float = 45.0, viewport=(1280, 720), log=print, browser=None,
              warm_s: float = 0.0) -> dict:
    """Open ``contexts`` sessions, play them together for ``play_s`` seconds, pause, close,
    and wait up to ``settle_s`` seconds for the server to free them. Returns the figures.
    ``browser``: a Playwright browser to use (default: a new headless Chromium).
    ``warm_s`` > 0: first open and close one page and wait that long, and count memory from
    then (a server's first pages load code and caches once, about 30-40 MiB here, that no
    later session adds again); the memory before it is ``server_rss_cold_mib``."""
    out: dict = {"contexts": contexts, "play_s": play_s, "viewport": list(viewport),
                 "server_rss_cold_mib": rss_mib(server_pid)}
    errors: list[str] = []
    with nullcontext(browser) if browser is not None else B.browser() as browser:
        if warm_s > 0:  # one visit first, as a facilitator checks the page before the room
            ctx = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
            page = ctx.new_page()
            page.goto(url)
            B.wait_for_views(page, timeout_ms=300_000)
            ctx.close()
            time.sleep(warm_s)
        mem_start = out["server_rss_start_mib"] = rss_mib(server_pid)
        ctxs, pages = [], []
        t0 = time.perf_counter()
        for k in range(contexts):
            ctx = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
            page = ctx.new_page()
            page.on("pageerror", lambda e, k=k: errors.append(f"page {k}: {e}"))
            B.block_internet(page)
            page.goto(url)
            ctxs.append(ctx)
            pages.append(page)
        for page in pages:
            B.wait_for_views(page, timeout_ms=300_000)
        out["all_pages_loaded_s"] = time.perf_counter() - t0
        log(f"room: {contexts} pages loaded in {out['all_pages_loaded_s']:.0f} s")
        weeks0 = []
        for page in pages:
            page.evaluate(OBSERVER_JS)
            weeks0.append(B.banner_week(page))
        for page in pages:
            page.get_by_role("button", name="▶", exact=True).click()
        time.sleep(play_s)
        out["server_rss_playing_mib"] = rss_mib(server_pid)
        lags, weeks, pause_lag, paused_at, shown = [], [], [], [], []
        for k, page in enumerate(pages):
            at_click = B.banner_week(page)
            page.get_by_role("button", name="❚❚", exact=True).click()
            page.get_by_role("button", name="▶", exact=True).wait_for(timeout=30_000)
            time.sleep(0.5)
            after = B.banner_week(page)
            pause_lag.append(after - at_click)
            paused_at.append(after)
            weeks.append(at_click - weeks0[k])
            lags += page.evaluate("() => window.__cpLags")
            shown += [f"page {k}: {b}" for b in page.evaluate(ERROR_JS)]
        time.sleep(2)  # a stepped week left over after the pause would show here
        after_pause = [B.banner_week(p) for p in pages]
        for ctx in ctxs:
            ctx.close()
    out["step_to_redraw_s"] = _quantiles(lags)
    out["weeks_played"] = _quantiles([float(w) for w in weeks])
    out["weeks_per_s_per_page"] = statistics.median(weeks) / play_s if weeks else 0.0
    out["weeks_after_pause_click"] = _quantiles([float(w) for w in pause_lag])
    out["pages_still_moving_after_pause"] = sum(
        a != b for a, b in zip(after_pause, paused_at, strict=True))
    out["errors_shown"] = shown
    out["page_errors"] = errors
    deadline = time.monotonic() + settle_s
    mem = rss_mib(server_pid)
    while time.monotonic() < deadline and mem > mem_start + 50:
        time.sleep(3)
        mem = rss_mib(server_pid)
    out["server_rss_after_close_mib"] = mem
    out["server_rss_growth_mib"] = mem - mem_start
    return out
