"""Screenshots of the app before and after a media shock, as a workshop would see it.

    .venv/bin/python -m viz.screenshots [--out results/figures] [--weeks 52]

Starts ``solara run viz/app.py`` on a free local port, opens it in headless Chromium with
every non-local request blocked, waits for all seven views, saves
``app_before_shock.png``, presses the media-shock button, steps ``--weeks`` weeks (52) with
the Step button, and saves ``app_after_shock.png`` (whole page, 1920 px wide). At 1280x720
(a projector) it also saves the first screen with the opening guide (``app_guide.png``),
one view in presentation mode (``app_present.png``) and the facilitator's page after two
groups saved their runs (``app_facilitator.png``; the runs go to a temporary folder).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from viz import browser as B

WIDTH, HEIGHT = 1920, 1080
#: Scroll an element's top to just under the app bar (the bar overlays the page).
SHOW_BELOW_APP_BAR = """e => { e.scrollIntoView();
    const bar = document.querySelector('header');
    const h = bar ? bar.getBoundingClientRect().bottom : 0;
    for (let p = e.parentElement; p; p = p.parentElement) {
        if (p.scrollHeight > p.clientHeight && p.scrollTop > 0) { p.scrollTop -= h; return; } }
    window.scrollBy(0, -h); }"""


def full_height(page) -> int:
    """Height that shows the whole grid without the inner scroll."""
    return int(page.evaluate("""() => { const g = document.querySelector('.cp-grid');
        const r = g ? g.getBoundingClientRect() : {bottom: 1080};
        const s = document.querySelector('.v-navigation-drawer__content');
        return Math.max(r.bottom + 40, s ? s.scrollHeight + 80 : 0, 1080); }"""))


def shoot(page, path: Path, full: bool = True) -> None:
    if full:
        page.set_viewport_size({"width": WIDTH, "height": full_height(page)})
        page.wait_for_timeout(300)  # let the grid re-lay out at the new height
        B.wait_for_views(page)
    page.screenshot(path=str(path))
    page.set_viewport_size({"width": WIDTH, "height": HEIGHT})


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(B.ROOT / "results" / "figures"))
    ap.add_argument("--weeks", type=int, default=52, help="weeks to step after the shock")
    ap.add_argument("--viewport", action="store_true",
                    help="also save the first screen only (*_screen.png)")
    args = ap.parse_args(argv)
    problems = B.missing_prerequisites()
    if problems:
        print("viz.screenshots: " + "; ".join(problems) + f"; {B.INSTALL_HINT}", file=sys.stderr)
        return 1
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    runs = tempfile.mkdtemp(prefix="cpabm-screenshot-runs-")  # not the workshop's own runs
    with B.app_server(env={"CPABM_VIZ_RUNS": runs}) as url, B.browser() as browser:
        page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})
        external: list[str] = []
        B.block_internet(page, external)
        page.goto(url)
        B.wait_for_views(page)
        small = browser.new_page(viewport={"width": 1280, "height": 720})
        B.block_internet(small, external)
        small.goto(url)
        B.wait_for_views(small)
        small.screenshot(path=str(out / "app_guide.png"))  # the opening guide, first screen
        small.locator(".cp-guide-close").click()
        small.locator(".cp-guide").wait_for(state="detached")
        small.locator(".cp-view-timeseries .cp-present-button").click()
        small.wait_for_selector(".cp-present")
        small.locator(".cp-present").evaluate(SHOW_BELOW_APP_BAR)
        small.wait_for_timeout(500)
        small.screenshot(path=str(out / "app_present.png"))  # presentation mode
        small.locator(".cp-present-button").click()
        for group in ("Red group", "Blue group: media shock"):  # two groups save their runs
            if group.startswith("Blue"):
                small.locator("button.cp-shock").click()
                B.click_step(small, 8)
            small.get_by_label("Your group's name").fill(group)
            small.locator(".cp-save-button").click()
            small.get_by_text(f"Saved as “{group}”").wait_for()
        small.goto(url + "facilitator")
        small.wait_for_selector("img.cp-runs-chart")
        small.wait_for_timeout(500)
        small.screenshot(path=str(out / "app_facilitator.png"), full_page=True)
        small.close()
        shoot(page, out / "app_before_shock.png")
        if args.viewport:
            shoot(page, out / "app_before_shock_screen.png", full=False)
        page.locator("button.cp-shock").click()
        B.click_step(page, args.weeks)
        B.wait_for_views(page)
        shoot(page, out / "app_after_shock.png")
        if args.viewport:
            shoot(page, out / "app_after_shock_screen.png", full=False)
        if external:
            print(f"viz.screenshots: the page asked for {len(external)} non-local URLs "
                  f"(blocked), e.g. {external[0]}", file=sys.stderr)
    print(f"wrote app_guide.png, app_present.png, app_facilitator.png, app_before_shock.png and "
          f"app_after_shock.png in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
