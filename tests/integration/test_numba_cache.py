"""The kernels' on-disk cache folder is keyed on the sources the kernels import, whether or
not Numba was imported before ``abm`` (``abm/__init__.py``, ``_numba_cache_dir``)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

CODE = """
import os, sys
if sys.argv[1] == "numba-first":
    import numba  # noqa: F401
import abm
from abm.mechanisms import population as core
from numba.core import config
loc = core.ou_table._cache._cache_path
print(os.environ["NUMBA_CACHE_DIR"], config.CACHE_DIR, loc, sep="\\n")
"""

FOLDER = """
import os, abm
print(abm.__file__)
print(os.environ["NUMBA_CACHE_DIR"])
"""


def _env(cache_home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "PYTHONPATH")}
    env["XDG_CACHE_HOME"] = str(cache_home)
    return env


@pytest.mark.parametrize("order", ["abm-first", "numba-first"])
def test_kernels_cache_under_the_keyed_folder_even_when_numba_is_imported_first(order, tmp_path):
    out = subprocess.run([sys.executable, "-c", CODE, order], env=_env(tmp_path),
                         capture_output=True, text=True, check=True).stdout.split("\n")
    folder, config_dir, kernel_cache = out[0], out[1], out[2]
    assert folder.startswith(str(tmp_path / "cpabm" / "numba-"))
    assert config_dir == folder
    assert kernel_cache.startswith(folder)  # not __pycache__ beside the sources


def _cache_folder(package_parent: Path, cache_home: Path) -> str:
    """The cache folder chosen by the ``abm`` package under ``package_parent``."""
    out = subprocess.run([sys.executable, "-c", FOLDER], cwd=package_parent, env=_env(cache_home),
                         capture_output=True, text=True, check=True).stdout.split("\n")
    assert Path(out[0]).resolve() == (package_parent / "abm" / "__init__.py").resolve()
    return out[1]


@pytest.mark.parametrize("edited, moves", [
    ("abm/mechanisms/casework.py", True),   # a kernel
    ("abm/core/kernels.py", True),          # helpers every kernel inlines
    ("abm/core/state.py", True),            # the constants and tables they import
    ("abm/outputs/tables.py", False),       # no kernel imports it
    ("abm/cli/__init__.py", False),
])
def test_editing_a_kernel_source_changes_the_cache_folder_and_other_files_do_not(
        edited, moves, tmp_path):
    """A copy of the package, imported from the copy: one line added to ``edited`` must move
    the cache folder exactly when the kernels import that file, so a stale kernel can never
    load and an unrelated edit does not throw the compiled kernels away."""
    copy = tmp_path / "copy"
    shutil.copytree(ROOT / "abm", copy / "abm",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    before = _cache_folder(copy, tmp_path / "cache")
    assert before.startswith(str(tmp_path / "cache" / "cpabm" / "numba-"))
    with open(copy / edited, "a") as f:
        f.write("\n# an edit\n")
    after = _cache_folder(copy, tmp_path / "cache")
    assert (after != before) is moves
