"""The kernels' on-disk cache folder is keyed on the sources the kernels import
(``abm/__init__.py``), whether or not Numba was imported before ``abm``."""

import os
import subprocess
import sys

import pytest

CODE = """
import sys
if sys.argv[1] == "numba-first":
    import numba  # noqa: F401
import abm
from abm.core import kernels as core
from numba.core import config
loc = core.ou_table._cache._cache_path
print(os.environ["NUMBA_CACHE_DIR"], config.CACHE_DIR, loc, sep="\\n")
"""


@pytest.mark.parametrize("order", ["abm-first", "numba-first"])
def test_cache_folder_is_keyed_on_the_kernel_sources(order, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["XDG_CACHE_HOME"] = str(tmp_path)
    out = subprocess.run([sys.executable, "-c", "import os\n" + CODE, order], env=env,
                         capture_output=True, text=True, check=True).stdout.split("\n")
    folder, config_dir, kernel_cache = out[0], out[1], out[2]
    assert folder.startswith(str(tmp_path / "cpabm" / "numba-"))
    assert config_dir == folder
    assert kernel_cache.startswith(folder)  # not __pycache__ beside the sources
