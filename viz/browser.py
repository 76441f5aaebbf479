"""Drive the app in a real browser: start ``solara run`` on a free local port and open it
in Debian's headless Chromium with Playwright. Used by the browser tests, the screenshots
and the first-render benchmark. Nothing here reaches beyond 127.0.0.1.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "viz" / "app.py"
CHROMIUM = os.environ.get("CPABM_CHROMIUM", "/usr/bin/chromium")
#: Chromium flags: no sandbox (root in CI), no GPU, and none of its background traffic.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic",
                 "--disable-features=MediaRouter,OptimizationHints,Translate",
                 "--metrics-recording-only", "--disable-default-apps"]
VIEW_KEYS = ("timeseries", "caseflow", "workers", "loops", "decisions", "journey", "compare")
INSTALL_HINT = "run `make viz-assets` (installs Chromium and the offline front end)"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def solara_cmd(port: int, host: str = "127.0.0.1") -> list[str]:
    exe = Path(sys.executable).with_name("solara")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "solara"]
    return cmd + ["run", str(APP), "--host", host, "--port", str(port), "--no-open",
                  "--production"]


def offline_env() -> dict[str, str]:
    """The server's environment: no telemetry, and no proxy to the internet."""
    env = dict(os.environ)
    env.update(SOLARA_TELEMETRY_MIXPANEL_ENABLE="False", NO_PROXY="*", no_proxy="*",
               PYTHONUNBUFFERED="1", SOLARA_THEME_SHOW_BANNER="False",
               PYTHONWARNINGS="ignore:Cookies with samesite:UserWarning")
    for k in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY",
              "all_proxy"):
        env.pop(k, None)
    return env


class ServerURL(str):
    """The app's address, carrying the server's process id (``.pid``)."""

    pid: int


@contextmanager
def app_server(port: int | None = None, timeout: float = 90.0, log: Path | None = None,
               env: dict[str, str] | None = None):
    """``solara run viz/app.py`` on 127.0.0.1; yields the URL (a :class:`ServerURL`); stops
    it (its own process group) afterwards. ``env`` adds to the server's environment."""
    port = port or free_port()
    out = open(log, "w") if log else subprocess.DEVNULL
    proc = subprocess.Popen(solara_cmd(port), cwd=ROOT, env={**offline_env(), **(env or {})},
                            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = ServerURL(f"http://127.0.0.1:{port}/")
    url.pid = proc.pid
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"solara run exited with {proc.returncode}"
                                   + (f"; see {log}" if log else ""))
            try:
                with urllib.request.urlopen(url + "readyz", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"solara run did not answer on {url} in {timeout:.0f} s")
            time.sleep(0.3)
        warm_up(url)
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        if log:
            out.close()


def warm_up(url: str) -> int:
    """Ask the server once for the page and the files it links (as ``cpabm viz`` does), so
    Solara compresses and caches them before the first participant arrives."""
    import re
    import urllib.request
    headers = {"Accept-Encoding": "gzip"}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers),
                                    timeout=30) as r:
            html = r.read()
            if r.headers.get("Content-Encoding") == "gzip":
                import gzip
                html = gzip.decompress(html)
    except OSError:
        return 0
    paths = set(re.findall(rb'(?:src|href)="(/(?:_solara/cdn|static)/[^"]+)"', html))
    paths |= {b"/static/nbextensions/jupyter-vuetify/nodeps.js",
              b"/static/nbextensions/jupyter-vue/nodeps.js"}  # loaded by the page's scripts
    for p in paths:
        try:
            with urllib.request.urlopen(urllib.request.Request(
                    url.rstrip("/") + p.decode(), headers=headers), timeout=30) as r:
                r.read()
        except OSError:
            pass
    return len(paths)


def missing_prerequisites() -> list[str]:
    """What the browser checks need and this machine lacks (empty when ready)."""
    problems = []
    if not (os.path.exists(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        problems.append(f"Chromium not found at {CHROMIUM}")
    try:
        from viz.offline_assets import status
        bad = {k: v for k, v in status().items() if v != "ok"}
        if bad:
            problems.append("offline front end incomplete: " + "; ".join(
                f"{k} {v}" for k, v in bad.items()))
    except Exception as e:  # solara missing, etc.
        problems.append(f"cannot check the offline assets: {e}")
    if shutil.which("solara", path=str(Path(sys.executable).parent)) is None:
        problems.append("solara is not installed in this Python environment")
    return problems


@contextmanager
def browser():
    """Headless Chromium (Debian's) driven by Playwright."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


def block_internet(page, requests_out: list[str] | None = None) -> None:
    """Abort every request that is not to 127.0.0.1 (and record it): the page must not
    need the internet."""
    def handle(route):
        url = route.request.url
        if url.startswith(("http://127.0.0.1", "ws://127.0.0.1", "blob:", "data:")):
            route.continue_()
        else:
            if requests_out is not None:
                requests_out.append(url)
            route.abort()
    page.route("**/*", handle)


def view_image(page, key: str):
    return page.locator(f"img.cp-img-{key}")


def wait_for_views(page, timeout_ms: float = 60_000, keys=VIEW_KEYS) -> None:
    """Wait until every view's picture (or those of ``keys``) has loaded (real elements,
    not a timer)."""
    page.wait_for_function(
        """keys => keys.every(k => { const i = document.querySelector('img.cp-img-' + k);
                                     return i && i.complete && i.naturalWidth > 0; })""",
        arg=list(keys), timeout=timeout_ms)


def view_sources(page) -> dict[str, str]:
    return page.evaluate("""keys => Object.fromEntries(keys.map(k => {
        const i = document.querySelector('img.cp-img-' + k); return [k, i ? i.src : null]; }))""",
                         list(VIEW_KEYS))


def view_svg(page, key: str) -> str:
    """The SVG text behind a view's <img src="blob:...">."""
    return page.evaluate("""async k => { const i = document.querySelector('img.cp-img-' + k);
        const r = await fetch(i.src); return await r.text(); }""", key)


WEEK_JS = """() => { const e = document.querySelector('.cp-banner-line1');
                      const m = e && e.textContent.match(/week (\\d+)/);
                      return m ? parseInt(m[1]) : -1; }"""


def banner_week(page) -> int:
    """The model week the status line shows (-1 before it is there)."""
    return int(page.evaluate(WEEK_JS))


def click_step(page, times: int = 1, timeout_ms: float = 30_000) -> None:
    """Press Mesa's Step button and wait until the week in the status line has moved."""
    for _ in range(times):
        before = banner_week(page)
        page.get_by_role("button", name="Step", exact=True).click()
        page.wait_for_function(f"w => ({WEEK_JS})() > w", arg=before, timeout=timeout_ms)


READ_JS = """k => { const i = document.querySelector('img.cp-img-' + k);
    const card = document.querySelector('.cp-view-' + k);
    const s = Math.min(i.clientWidth / i.naturalWidth, i.clientHeight / i.naturalHeight);
    const c = card.getBoundingClientRect();
    return {scale: s, drawn: i.naturalWidth * s * i.naturalHeight * s,
            card: c.width * c.height}; }"""


def readability(page, key: str) -> dict[str, float]:
    """How a view's picture reads on this screen: the smallest text in it in CSS pixels
    (each SVG font size times the scale the picture is drawn at, ``object-fit: contain``)
    and the share of the card's area the drawn picture fills."""
    sizes = [float(x) for x in re.findall(r'font-size(?:="|:\s*)([\d.]+)', view_svg(page, key))]
    m = page.evaluate(READ_JS, key)
    return {"font_px": round(min(sizes) * m["scale"], 2), "fill": round(m["drawn"] / m["card"], 3),
            "scale": round(m["scale"], 3)}
