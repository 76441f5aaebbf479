"""``cpabm viz``: start the workshop app (Solara, Mesa SolaraViz) on 127.0.0.1.

    cpabm viz [--host 127.0.0.1] [--port 8765] [--open | --no-open]

Runs ``solara run`` on the installed ``viz/app.py``, prints the address, and serves until
Ctrl-C. The page needs no internet once ``make viz-assets`` (or ``make viz``) has put the
front end in Solara's local cache. Imports nothing heavy until ``run``.
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


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


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
    try:
        from viz.offline_assets import status
        missing = [f"{k} ({v})" for k, v in status().items() if v != "ok"]
    except Exception as e:  # noqa: BLE001 - a missing front end is only a warning
        missing = [f"cannot check ({e})"]
    if missing:
        print("cpabm viz: warning: the offline front end is incomplete, so the page will "
              "try to fetch it from the internet: run `make viz-assets`\n  "
              + "\n  ".join(missing), file=sys.stderr)
    print("cpabm viz: loading the model kernels ...", file=sys.stderr, flush=True)
    secs = _warm_kernels()
    if secs > 5:
        print(f"cpabm viz: kernels compiled in {secs:.0f} s (cached for next time)",
              file=sys.stderr)
    want_open = args.open if args.open is not None else bool(
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or sys.platform != "linux")
    cmd = _solara(Path(sys.executable)) + [
        "run", str(app), "--host", args.host, "--port", str(args.port), "--production",
        "--open" if want_open else "--no-open"]
    env = dict(os.environ, SOLARA_THEME_SHOW_BANNER="False",
               SOLARA_TELEMETRY_MIXPANEL_ENABLE="False",
               # plain http on this machine: Solara's note about https cookies is noise here
               PYTHONWARNINGS="ignore:Cookies with samesite:UserWarning")
    shown = "localhost" if args.host in ("0.0.0.0", "::") else args.host
    local = "127.0.0.1" if args.host in ("0.0.0.0", "::", "localhost") else args.host
    print(f"cpabm viz: the workshop app is at http://{shown}:{args.port}/  (Ctrl-C stops it)",
          flush=True)
    proc = subprocess.Popen(cmd, cwd=app.parent.parent, env=env)

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
