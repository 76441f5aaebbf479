"""The committed results can be regenerated in place by the commands that wrote them.

cpabm replaces only folders it wrote (docs/reliability.md): a run folder's
``.cpabm-output.json`` must list exactly its files with their SHA-256, and a knockout, sweep
or calibration folder must hold only the names its command writes. A committed folder that
breaks this (say, files from two branches merged with one branch's marker) makes `make run`
or `cpabm knockout --replace` refuse a clean checkout, so it is checked here.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from abm.batch.abc.store import OURS as ABC_OURS
from abm.batch.store import OURS as SWEEP_OURS
from abm.core.io import _files, is_temp_name, read_marker
from abm.studies.knockout import OURS as KNOCKOUT_OURS

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "results"
MARKED = sorted(p.parent for p in RESULTS.rglob(".cpabm-output.json"))


def test_the_main_job_folders_are_marked():
    names = {p.relative_to(RESULTS).as_posix() for p in MARKED}
    assert {"england_default", "england_counterfactual_pj", "england_policy_effect"} <= names


@pytest.mark.parametrize("root", MARKED, ids=lambda p: p.relative_to(RESULTS).as_posix())
def test_a_marked_folder_holds_exactly_what_its_marker_lists(root):
    marker = read_marker(root)
    # what git does not track (la_weekly.parquet, .gitignore) is not in a clean checkout
    files = [f for f in _files(root) if not f.endswith("la_weekly.parquet")]
    listed = {f for f in marker["files"] if not f.endswith("la_weekly.parquet")}
    assert sorted(files) == sorted(listed), "files and marker differ: rerun the command"
    changed = [f for f in files
               if hashlib.sha256((root / f).read_bytes()).hexdigest() != marker["files"][f]]
    assert not changed, f"changed after cpabm wrote them: {changed}"


@pytest.mark.parametrize("root, ours", [
    (RESULTS / "knockout", KNOCKOUT_OURS),
    (RESULTS / "calibration" / "abc", ABC_OURS),
    *[(p, SWEEP_OURS) for p in sorted((RESULTS / "sweeps").iterdir()) if p.is_dir()],
], ids=lambda x: x.relative_to(RESULTS).as_posix() if isinstance(x, Path) else "")
def test_a_command_folder_holds_only_what_its_command_writes(root, ours):
    foreign = sorted(p.name for p in root.iterdir() if p.name not in ours
                     and not is_temp_name(p.name))
    assert not foreign, f"{root.name} holds names its command does not write: {foreign}"


#: Every committed result, by path prefix under results/ (the longest prefix wins), and the
#: command, run by a Makefile target, that writes it. A result nobody can regenerate with
#: `make` is a defect; so is a producer that writes nothing committed.
PRODUCERS = {
    "england_default/": "cpabm run experiments/scenarios/england_default.toml",
    "england_counterfactual_pj/": "cpabm run experiments/scenarios/england_counterfactual_pj.toml",
    "england_policy_effect/": "cpabm compare-runs results/england_default",
    "taylor_russell/": "cpabm figures",
    "knockout/": "cpabm knockout --replace",
    "ripple_pulse/": "experiments/tools/ripple_pulse.py",
    "exposure_power/": "experiments/tools/exposure_power.py",
    "timeliness/": "experiments/tools/timeliness_by_regime.py",
    "sweeps/switch_pj_2011/": "cpabm sweep experiments/sweeps/switch_pj_2011.toml --replace",
    "sweeps/court_timetable/": "cpabm sweep experiments/sweeps/court_timetable.toml --replace",
    "figures/court_timetable.": "experiments/tools/plot_court_timetable.py",
    "figures/app_": "-m viz.screenshots",
    "ema/": "docs/examples/ema_workbench.py",
    "optimise/": "docs/examples/optimise_threshold.py",
    "benchmarks/": "-m benchmarks.engine run",
    "benchmarks/batch.": "-m benchmarks.batch",
    "benchmarks/calibration.": "-m benchmarks.calibration",
    "benchmarks/viz.": "-m benchmarks.app",
    "calibration/abc/": "cpabm calibrate experiments/calibration/england.toml",
    "calibration/calibrated_values.md": "experiments/tools/apply_calibration.py",
    "calibration/validation_s10.json": "--out results/calibration/validation_s10.json",
    "calibration/validation_s05.json": "--out results/calibration/validation_s05.json",
    "calibration/validation_1to1.json": "--out results/calibration/validation_1to1.json",
    "calibration/posterior_predictive.json": "--out results/calibration/posterior_predictive.json",
    "calibration/plans.md": "experiments/tools/plans_report.py",
    "calibration/court_indicators.md": "experiments/tools/court_indicators_report.py",
    "calibration/court_tradeoff": "experiments/tools/court_tradeoff.py",
    "calibration/tensions.": "experiments/tools/target_tensions.py",
    "calibration/identify_rest.": "experiments/tools/identify_rest.py",
    "calibration/point_summaries.": "experiments/tools/point_summaries.py",
    "calibration/report.md": "experiments/tools/calibration_report.py",
    "calibration/england_checkpoint.tar.xz": "--save-checkpoint results/calibration/england_checkpoint.tar.xz",
    "calibration/court_quarterly.csv": "experiments/tools/calibration_report.py",
    "calibration/figures/": "experiments/tools/calibration_report.py",
}
#: what is not committed (.gitignore): a sweep's or a calibration's per-run files, LA tables
IGNORED = re.compile(r"(^|/)(la_weekly\.parquet|sims/.*|sweep/runs/.*|court_timetable/runs/.*"
                     r"|\.gitignore|\.lock)$")


def _committed() -> list[str]:
    return sorted(p.relative_to(RESULTS).as_posix() for p in RESULTS.rglob("*")
                  if p.is_file() and not IGNORED.search(p.relative_to(RESULTS).as_posix()))


def _recipes() -> str:
    """The Makefile's recipe lines (commands), not its comments."""
    return "\n".join(line for line in (ROOT / "Makefile").read_text().splitlines()
                     if line.startswith("\t"))


def test_every_committed_result_has_a_make_producer():
    recipes = _recipes()
    orphans, used = [], set()
    for f in _committed():
        prefix = max((k for k in PRODUCERS if f.startswith(k)), key=len, default=None)
        if prefix is None:
            orphans.append(f)
        else:
            used.add(prefix)
    assert not orphans, f"results with no producer in PRODUCERS: {orphans[:5]}"
    missing = {k: v for k, v in PRODUCERS.items() if v not in recipes}
    assert not missing, f"producers that no Makefile recipe runs: {missing}"
    unused = sorted(set(PRODUCERS) - used - {"calibration/calibrated_values.md",
                                             "calibration/court_tradeoff",
                                             "calibration/england_checkpoint.tar.xz",
                                             "calibration/identify_rest.",
                                             "calibration/point_summaries.md",
                                             "calibration/tensions."})
    assert not unused, f"producers whose results are not committed: {unused}"
