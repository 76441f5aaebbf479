"""The workshop app in a real browser: `solara run viz/app.py` on a free 127.0.0.1 port,
Debian's headless Chromium driven by Playwright, every non-local request blocked (the page
must render from the local cache, with no internet).

These need Chromium and the offline front end, which `make test` installs first
(`make viz-assets`); without them they fail, saying so, rather than skip.
"""

from __future__ import annotations

import os
import re
import sys
import time

import pytest
from conftest import ROOT as PROJECT_ROOT

os.environ.setdefault("CPABM_VIZ_PREBUILD", "0")
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from viz import browser as B  # noqa: E402

pytestmark = pytest.mark.slow

TITLES = {"timeseries": "3 · Over time", "caseflow": "1 · Caseflow",
          "workers": "2 · Social workers", "loops": "5 · Learning loops",
          "decisions": "4 · Decisions under uncertainty", "journey": "6 · One child's journey",
          "compare": "7 · Side by side"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    problems = B.missing_prerequisites()
    if problems:
        pytest.fail("browser tests cannot run: " + "; ".join(problems) + f"; {B.INSTALL_HINT}",
                    pytrace=False)
    tmp = tmp_path_factory.mktemp("viz")
    with B.app_server(log=tmp / "solara.log", env={"CPABM_VIZ_RUNS": str(tmp / "runs")}) as url:
        yield url


@pytest.fixture(scope="module")
def chromium(server):
    with B.browser() as b:
        yield b


class OpenPage:
    """A fresh page (its own session and model) with the internet blocked and the console
    recorded."""

    def __init__(self, chromium, url):
        self.page = chromium.new_page(viewport={"width": 1920, "height": 1080})
        self.console: list[tuple[str, str]] = []
        self.errors: list[str] = []
        self.external: list[str] = []
        self.page.on("console", lambda m: self.console.append((m.type, m.text)))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("requestfailed", lambda r: None if r.url in self.external else
                     self.errors.append(f"request failed: {r.url} ({r.failure})"))
        B.block_internet(self.page, self.external)
        t0 = time.perf_counter()
        self.page.goto(url)
        B.wait_for_views(self.page)
        self.seconds = time.perf_counter() - t0

    def svg(self, key):
        return B.view_svg(self.page, key)

    def referrals(self) -> float:
        m = re.search(r"Referrals: ([\d,]+) a week", self.svg("timeseries"))
        return float(m.group(1).replace(",", ""))

    def close(self):
        self.page.close()


@pytest.fixture
def open_page(chromium, server):
    pages = []

    def make():
        p = OpenPage(chromium, server)
        pages.append(p)
        return p
    yield make
    for p in pages:
        p.close()


def test_page_loads_offline_without_console_errors(open_page):
    p = open_page()
    time.sleep(0.5)  # anything logged just after the views appear
    errors = [t for kind, t in p.console if kind == "error"] + p.errors
    assert errors == [], f"console errors: {errors}"
    assert p.external == [], f"the page asked the internet for {p.external[:5]}"
    assert p.seconds < 30


def test_every_view_and_control_is_present(open_page):
    p = open_page()
    page = p.page
    for key, title in TITLES.items():
        card = page.locator(f".cp-view-{key}")
        assert card.count() == 1, key
        assert title in card.locator(".cp-view-title").inner_text(), key
        assert card.is_visible() or key in ("decisions", "journey", "compare")
        img = B.view_image(page, key)
        assert img.evaluate("i => i.naturalWidth > 100 && i.src.startsWith('blob:')"), key
        assert p.svg(key).startswith("<svg"), key
    for name in ("Reset", "Step", "▶"):
        assert page.get_by_role("button", name=name, exact=True).count() == 1, name
    assert page.locator("button.cp-shock").is_visible()
    assert page.locator(".cp-levers").count() == 1
    for label in ("Referral threshold", "Prescription level", "Early-help places",
                  "Time to fill a vacancy", "Court hearing capacity"):
        assert page.get_by_text(label).count() >= 1, label
    for name in ("B1 single-loop compliance", "B2 double-loop learning",
                 "R addiction to prescription"):
        assert page.get_by_text(name).count() == 1, name
    for label in ("LA size (children)", "Regime", "Compare with (view 7)", "Seed"):
        assert page.get_by_text(label, exact=True).count() >= 1, label
    loops = p.svg("loops")
    for var in ("Prescription", "Compliance", "Scope for", "Satisfaction", "Turnover",
                "Experience", "Status", "Quality of", "Errors", "Acknowledged",
                "rules&#x27; defence", "B1", "B2", ">R<"):
        assert var in loops, var
    decisions = p.svg("decisions")
    for word in ("False positives", "Missed (false neg.)", "threshold for action"):
        assert word in decisions, word
    assert "past its timescale" in p.svg("journey")


def test_images_change_after_steps(open_page):
    p = open_page()
    before_src = B.view_sources(p.page)
    before = {k: p.svg(k) for k in B.VIEW_KEYS}
    week = B.banner_week(p.page)
    B.click_step(p.page, 3)
    assert B.banner_week(p.page) == week + 3
    B.wait_for_views(p.page)
    after_src = B.view_sources(p.page)
    after = {k: p.svg(k) for k in B.VIEW_KEYS}
    unchanged = [k for k in B.VIEW_KEYS if before[k] == after[k]]
    assert unchanged == [], f"views that did not change after 3 steps: {unchanged}"
    assert all(after_src[k] != before_src[k] for k in B.VIEW_KEYS)


def test_media_shock_button_lowers_the_threshold_for_action(open_page):
    """Two sessions with the same seed: one presses the button, one does not. The shock's
    first effect is defensive: every threshold for action drops at once, which the decisions
    view shows. (Its effect on referrals is checked over pooled seeds in test_viz_widgets:
    one session's weekly count is too noisy to show it.)"""
    calm, shocked = open_page(), open_page()
    shocked.page.locator("button.cp-shock").click()
    shocked.page.wait_for_function(
        "() => document.querySelector('.cp-banner-line2').textContent.includes('anxiety 1.00')")
    deadline = time.monotonic() + 10  # the picture arrives just after the status line
    while "media shock" not in shocked.svg("timeseries") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "media shock" in shocked.svg("timeseries")
    B.click_step(calm.page, 4)
    B.click_step(shocked.page, 4)
    B.wait_for_views(calm.page)
    B.wait_for_views(shocked.page)

    def threshold(p):
        return float(re.search(r"threshold for action: (-?[\d.]+)", p.svg("decisions")).group(1))

    t_calm, t_shocked = threshold(calm), threshold(shocked)
    assert t_shocked < t_calm - 0.05, (t_calm, t_shocked)


# ---------------------------------------------------------------------------- issue 23
def test_opening_guide_and_presentation_mode_at_projector_size(chromium, server):
    page = chromium.new_page(viewport={"width": 1280, "height": 720})
    try:
        page.goto(server)
        B.wait_for_views(page)
        guide = page.locator(".cp-guide")
        assert guide.is_visible()
        text = guide.inner_text()
        for move in ("A child's death in the news", "Thresholds", "A different regime"):
            assert move in text, move
        assert guide.bounding_box()["y"] < 720  # on the first screen
        for jargon in ("Render Interval", "Use Threads", "Time:", "Play Interval"):
            assert page.get_by_text(jargon).count() == 0, jargon
        page.locator(".cp-guide-close").click()
        guide.wait_for(state="detached")
        page.locator(".cp-view-timeseries .cp-present-button").click()
        page.wait_for_selector(".cp-present .cp-view-timeseries")
        assert page.locator(".cp-view").count() == 1  # one view, full screen
        box = page.locator(".cp-present").bounding_box()
        assert box["height"] > 500
        title = page.locator(".cp-present .cp-view-title")
        assert float(title.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")) >= 24
        page.locator(".cp-present-button").click()
        page.wait_for_selector(".cp-grid")
        assert page.locator(".cp-view").count() == 7
        page.locator(".cp-guide-open").click()  # the guide comes back
        page.wait_for_selector(".cp-guide")
    finally:
        page.close()


def test_facilitator_page_compares_the_runs_groups_saved(chromium, server):
    names = []
    for group in ("Group red", "Group blue"):
        page = chromium.new_page(viewport={"width": 1280, "height": 720})
        page.goto(server)
        B.wait_for_views(page)
        if group == "Group blue":
            page.locator("button.cp-shock").click()
            B.click_step(page, 2)
            # the Facilitator tab and back: the group's run is where it was, not a fresh one
            week = B.banner_week(page)
            page.get_by_role("tab", name="Facilitator").click()
            page.wait_for_selector(".cp-facilitator", timeout=60_000)
            page.get_by_role("tab").first.click()  # the workshop's tab (Solara names it Home here)
            B.wait_for_views(page)
            assert B.banner_week(page) == week
        page.get_by_label("Your group's name").fill(group)
        page.locator(".cp-save-button").click()
        page.wait_for_selector(".cp-save-message")
        names.append(re.search(r"Saved as “(.+?)”", page.locator(".cp-save-message")
                               .inner_text()).group(1))
        page.close()
    page = chromium.new_page(viewport={"width": 1280, "height": 720})
    try:
        page.goto(server + "facilitator")
        page.wait_for_selector("table.cp-runs", timeout=60_000)
        table = page.locator("table.cp-runs").inner_text()
        for name in names:
            assert name in table
        for outcome in ("Missed harm", "Unnecessary investigations", "Delay for children",
                        "Staff turnover", "Cost"):
            assert outcome in table, outcome
        assert "policy, not luck" in page.locator(".cp-seeds").inner_text()
        img = page.locator("img.cp-runs-chart")
        assert img.evaluate("i => i.complete && i.naturalWidth > 500")
        with page.expect_download() as dl:
            page.get_by_text("Download the table (CSV)").click()
        csv = open(dl.value.path()).read()
        assert csv.startswith("run,") and all(n in csv for n in names)
    finally:
        page.close()


def test_a_room_of_six_plays_together_without_errors_and_frees_its_sessions(chromium, tmp_path):
    """The 25-participant figure is a benchmark (`benchmarks.app --room 25`, recorded in
    results/benchmarks/viz.md); this is the same room with 6 participants."""
    from viz import room
    log = tmp_path / "solara.log"
    # sessions of closed pages are culled after 3 s here (20 s in the app)
    with B.app_server(log=log, env={"SOLARA_KERNEL_CULL_TIMEOUT": "3s"}) as url:
        res = room.play_room(url, url.pid, contexts=6, play_s=8, settle_s=0,
                             browser=chromium)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            held = re.findall(r"a session closed; (\d+) models in memory", log.read_text())
            if len(held) >= 6 and held[-1] == "0":
                break
            time.sleep(1)
    assert res["errors_shown"] == [] and res["page_errors"] == [], res
    assert res["step_to_redraw_s"]["n"] >= 6, res
    assert res["step_to_redraw_s"]["median"] <= 1.0, res
    assert res["weeks_played"]["median"] >= 1, res
    assert res["pages_still_moving_after_pause"] == 0, res
    assert "Traceback" not in log.read_text()
    assert held and held[-1] == "0", f"sessions still holding a model: {held}"


def test_cpabm_viz_starts_restarts_on_the_same_port_and_dies_with_its_parent(tmp_path):
    import signal
    import subprocess
    import urllib.request

    from abm.cli import viz as viz_cli
    port = B.free_port()
    cpabm = [str(PROJECT_ROOT / ".venv" / "bin" / "cpabm")]
    if not os.path.exists(cpabm[0]):
        cpabm = [sys.executable, "-c", "import sys; from abm.cli import main; sys.exit(main())"]

    def start():
        return subprocess.Popen(cpabm + ["viz", "--port", str(port), "--no-open"],
                                env=B.offline_env(), stdout=subprocess.DEVNULL,
                                stderr=open(tmp_path / "cpabm.log", "a"))

    def ready(timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                    if r.status == 200:
                        return True
            except OSError:
                pass
            time.sleep(0.5)
        return False

    proc = start()
    try:
        assert ready(), (tmp_path / "cpabm.log").read_text()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30) as r:
            assert r.status == 200
        proc.send_signal(signal.SIGKILL)  # the server must not outlive cpabm viz
        proc.wait(10)
        deadline = time.monotonic() + 15
        while not viz_cli._port_free("127.0.0.1", port) and time.monotonic() < deadline:
            time.sleep(0.3)
        assert viz_cli._port_free("127.0.0.1", port), "the server outlived cpabm viz"
        proc = start()  # at once, on the same port
        assert ready(), (tmp_path / "cpabm.log").read_text()
        proc.terminate()
        assert proc.wait(20) == 0
        assert "already in use" not in (tmp_path / "cpabm.log").read_text()
    finally:
        if proc.poll() is None:
            proc.kill()


def test_every_view_reads_from_the_back_of_the_room_at_1280x720(chromium, server):
    """At a projector's 1280x720, with the levers' sidebar open: the smallest text of every
    view's picture is drawn at 12 CSS px or more, in the grid and in presentation mode (the
    sidebar hidden, the picture fitted to the screen); in the grid the picture fills at
    least 85% of its card (the rest is its title and footer; 45% in presentation, where a
    square picture fitted to the screen's height leaves the sides empty). The page asks for no grid-layout
    script (the app lays its views out with CSS) and nothing outside 127.0.0.1."""
    page = chromium.new_page(viewport={"width": 1280, "height": 720})
    asked: list[str] = []
    external: list[str] = []
    page.on("request", lambda r: asked.append(r.url))
    B.block_internet(page, external)
    try:
        page.goto(server)
        B.wait_for_views(page)
        page.locator(".cp-guide-close").click()
        page.locator(".cp-guide").wait_for(state="detached")
        assert page.locator(".v-navigation-drawer").first.is_visible()  # the sidebar is open
        grid = {k: B.readability(page, k) for k in B.VIEW_KEYS}
        small = {k: r for k, r in grid.items() if r["font_px"] < 12 or r["fill"] < 0.85}
        assert small == {}, f"views too small to read at 1280x720: {small} (all: {grid})"
        present = {}
        for key in B.VIEW_KEYS:
            page.locator(f".cp-view-{key} .cp-present-button").click()
            page.wait_for_selector(f".cp-present img.cp-img-{key}")
            B.wait_for_views(page, keys=[key])
            present[key] = B.readability(page, key)
            page.locator(".cp-present-button").click()
            page.wait_for_selector(".cp-grid")
        small = {k: r for k, r in present.items() if r["font_px"] < 12 or r["fill"] < 0.45}
        assert small == {}, f"presentation mode too small: {small} (all: {present})"
    finally:
        page.close()
    assert not [u for u in asked if "vue-grid-layout" in u], "the page loaded vue-grid-layout"
    assert external == [], f"the page asked the internet for {external[:5]}"
