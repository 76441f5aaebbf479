"""The committed results can be regenerated in place by the commands that wrote them.

cpabm replaces only folders it wrote (docs/reliability.md): a run folder's
``.cpabm-output.json`` must list exactly its files with their SHA-256, and a knockout, sweep
or calibration folder must hold only the names its command writes. A committed folder that
breaks this (say, files from two branches merged with one branch's marker) makes `make run`
or `cpabm knockout --replace` refuse a clean checkout, so it is checked here.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from abm.batch.abc.store import OURS as ABC_OURS
from abm.batch.store import OURS as SWEEP_OURS
from abm.core.io import _files, is_temp_name, read_marker
from abm.studies.knockout import OURS as KNOCKOUT_OURS

RESULTS = Path(__file__).resolve().parents[2] / "results"
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
