"""``cpabm viz``: start the workshop app (Solara, Mesa SolaraViz) on 127.0.0.1.

    cpabm viz [--host 127.0.0.1] [--port 8765] [--open | --no-open]

Prints the address at once and serves a holding page there while it gets ready (fetching
the page's front end into Solara's local cache if it is missing, loading the model's
kernels); then runs ``solara run`` on the installed ``viz/app.py`` on the same address
until Ctrl-C. If the front end can be neither found nor fetched, the page says exactly what
to run. The server ends with ``cpabm viz`` (Ctrl-C, SIGTERM, even kill -9), and a restart
on the same port works at once. Imports nothing heavy until ``run``.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from pathlib import Path


def configure(parser) -> None:
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    parser.add_argument("--open", dest="open", action="store_true", default=None,
                        help="open a web browser on the app (default: only with a display)")
    parser.add_argument("--no-open", dest="open", action="store_false",
                        help="do not open a web browser")


def lan_addresses() -> list[str]:
    """This machine's IPv4 addresses other than loopback, for a room to open the app with
    (no packet is sent: connecting a UDP socket only picks the outgoing interface)."""
    import socket

    found = []
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.255.255.255", 1))
            found.append(s.getsockname()[0])
    except OSError:
        pass
    try:
        found += socket.gethostbyname_ex(socket.gethostname())[2]
    except OSError:
        pass
    return sorted({a for a in found if not a.startswith("127.") and a != "0.0.0.0"})


def _port_free(host: str, port: int) -> bool:
    """Can the app listen on host:port? (SO_REUSEADDR, as the server itself binds: a port
    left in TIME_WAIT by a server just stopped is free at once.)"""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


class HoldingPage:
    """A plain page on the app's own address while the app gets ready: what is happening
    (with the seconds so far), or, when the app cannot start, exactly what to run. It
    reloads itself every two seconds, so the browser lands on the app once it is up."""

    def __init__(self, host: str, port: int):
        import http.server
        import threading

        page = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                body = (page.body() if self.path.startswith("/cpabm-status")
                        else page.html()).encode()
                self.send_response(503 if page.error is None else 500)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):  # quiet
                pass

        http.server.ThreadingHTTPServer.allow_reuse_address = True
        self.server = http.server.ThreadingHTTPServer((host, port), Handler)
        self.stage, self.started, self.error = "starting", time.monotonic(), None
        self.stage_started = self.started
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def set(self, stage: str) -> None:
        self.stage, self.stage_started = stage, time.monotonic()
        print(f"cpabm viz: {stage} ...", file=sys.stderr, flush=True)

    def fail(self, message: str) -> None:
        self.error = message
        print(f"cpabm viz: {message}", file=sys.stderr, flush=True)

    def body(self) -> str:
        import html as H
        if self.error is not None:
            return (f"<h1>The workshop app cannot start</h1><p>{H.escape(self.error)}</p>"
                    "<p>Then reload this page.</p>")
        secs = time.monotonic() - self.stage_started
        return (f"<h1>The workshop app is getting ready</h1><p><b>{H.escape(self.stage)}</b>"
                f" &hellip; {secs:.0f} s</p><p>This page turns into the app by itself. Loading "
                "the model takes a few seconds; the first time after an update of the model "
                "it compiles its kernels (up to a few minutes).</p>")

    #: Every 2 s: reload once the app answers /readyz, else show the latest status (and keep
    #: trying through the moment the app takes over the address).
    POLL_JS = """setInterval(() => fetch('/readyz').then(r => r.ok ? location.reload() :
      fetch('/cpabm-status').then(r => r.text()).then(t => {
        document.getElementById('s').innerHTML = t; })).catch(() => {}), 2000);"""

    def html(self) -> str:
        script = "" if self.error is not None else f"<script>{self.POLL_JS}</script>"
        return ("<!doctype html><html><head><meta charset='utf-8'><title>cpabm workshop</title>"
                "<style>body{font:18px sans-serif;margin:3em;max-width:40em}</style></head>"
                f"<body><div id='s'>{self.body()}</div>{script}</body></html>")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _front_end(page: HoldingPage) -> bool:
    """Make sure the offline front end is in Solara's cache (fetch it when missing, as
    `make viz-assets` does); False, with the page saying what to run, when it cannot."""
    try:
        from viz import offline_assets
        if offline_assets.complete():
            return True
        page.set("step 1 of 3: fetching the page's front end (once)")
        code = offline_assets.main([])
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
        if not isinstance(e.code, int):
            print(e.code, file=sys.stderr)
    except Exception as e:  # noqa: BLE001 - reported on the page
        print(f"cpabm viz: {e}", file=sys.stderr)
        code = 1
    if code == 0:
        return True
    root = Path(__file__).resolve().parents[2]
    page.fail("The page's front end (Solara's JavaScript) is not on this machine and could "
              f"not be fetched. In {root} run `make viz-assets` (it needs the npm registry "
              "once), then `cpabm viz` again.")
    return False


def _child_dies_with_parent() -> None:
    """In the server process: ask Linux to end it when `cpabm viz` ends, even by kill -9."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: Ctrl-C and SIGTERM still stop it
        pass


def _solara(python: Path) -> list[str]:
    exe = python.with_name("solara")
    return [str(exe)] if exe.exists() else [str(python), "-m", "solara"]


def _warm_kernels() -> float:
    """Load (or, after a change to the model, compile) the Numba kernels once, here, so the
    first page does not wait for them; returns the seconds it took."""
    t0 = time.perf_counter()
    import datetime as dt

    import abm
    from abm.core.model import ChildProtectionModel
    sc = abm.small_la_scenario(children=2_000, years=1, start=dt.date(2007, 4, 2),
                               warmup_weeks=2)
    m = ChildProtectionModel(sc, rng=0, agent_views=False)
    m.step()
    return time.perf_counter() - t0


def run(args) -> int:
    import importlib.util
    import subprocess

    spec = importlib.util.find_spec("viz.app")  # the workshop package, installed with cpabm
    if spec is None or not spec.origin:
        print("cpabm viz: the workshop app (package `viz`, installed with cpabm) is missing; "
              "reinstall cpabm", file=sys.stderr)
        return 2
    app = Path(spec.origin)
    if not (1 <= args.port <= 65535):
        print(f"cpabm viz: --port = {args.port} is out of range: valid range is [1, 65535]",
              file=sys.stderr)
        return 2
    if not _port_free(args.host, args.port):
        print(f"cpabm viz: {args.host}:{args.port} is already in use; pass --port N",
              file=sys.stderr)
        return 2
    shown = "localhost" if args.host in ("0.0.0.0", "::") else args.host
    local = "127.0.0.1" if args.host in ("0.0.0.0", "::", "localhost") else args.host
    page = HoldingPage(args.host, args.port)
    print(f"cpabm viz: the workshop app is at http://{shown}:{args.port}/  (Ctrl-C stops it)",
          flush=True)
    if args.host in ("0.0.0.0", "::"):
        lan = lan_addresses()
        print("cpabm viz: participants on this network open " + (", ".join(
            f"http://{a}:{args.port}/" for a in lan) if lan else "this machine's address "
            f"(none found here) with :{args.port}"), flush=True)
    try:
        if not _front_end(page):
            while True:  # the page says what to run, until Ctrl-C
                time.sleep(3600)
        page.set("step 2 of 3: loading the model's kernels")
        secs = _warm_kernels()
        if secs > 5:
            print(f"cpabm viz: kernels compiled in {secs:.0f} s (cached for next time)",
                  file=sys.stderr)
        page.set("step 3 of 3: starting the app")
    except KeyboardInterrupt:
        page.close()
        return 1 if page.error else 0
    want_open = args.open if args.open is not None else bool(
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or sys.platform != "linux")
    cmd = _solara(Path(sys.executable)) + [
        "run", str(app), "--host", args.host, "--port", str(args.port), "--production",
        "--open" if want_open else "--no-open"]
    env = dict(os.environ, SOLARA_THEME_SHOW_BANNER="False",
               SOLARA_TELEMETRY_MIXPANEL_ENABLE="False",
               # plain http on this machine: Solara's note about https cookies is noise here
               PYTHONWARNINGS="ignore:Cookies with samesite:UserWarning")
    page.close()  # the app takes over the address (SO_REUSEADDR: at once)
    proc = subprocess.Popen(cmd, cwd=app.parent.parent, env=env,
                            preexec_fn=_child_dies_with_parent)

    def stop(signum, frame):  # a terminated `cpabm viz` takes its server with it
        proc.terminate()
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        if _wait_ready(proc, f"http://{local}:{args.port}/"):
            print(f"cpabm viz: ready: http://{shown}:{args.port}/", flush=True)
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        return 0


def _wait_ready(proc, url: str, timeout: float = 120.0) -> bool:
    """Wait until the server answers, then fetch the page's files once so Solara has
    compressed them before the first participant opens the page."""
    import urllib.request
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "readyz", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            time.sleep(0.3)
    else:
        return False
    try:
        from viz.browser import warm_up
        warm_up(url)
    except Exception:  # noqa: BLE001 - only a speed-up
        pass
    return True
