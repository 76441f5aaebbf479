"""The batch machinery is generic: nothing in abm/batch imports the child protection model.

The model enters only through an adapter named in a spec (``abm.studies.adapter`` by
default, loaded by name at run time). Checked twice: statically (every import statement of
every module, including those inside functions) and by importing every module of
abm.batch in a fresh interpreter and looking at what came with it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from abm.batch.adapter import _imported_modules

BATCH = ROOT / "abm" / "batch"
#: the model and everything specific to it
FORBIDDEN = ("abm.core.model", "abm.core.state", "abm.core.kernels", "abm.core.agents",
             "abm.mechanisms", "abm.outputs", "abm.studies", "abm.reference", "abm.cli")


def _modules() -> list[str]:
    return sorted(".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
                  for p in BATCH.rglob("*.py"))


def _forbidden(name: str) -> bool:
    return any(name == f or name.startswith(f + ".") for f in FORBIDDEN)


def imports_of(path: Path) -> set[str]:
    """Every module an import statement of the file names, at any depth (the parser the
    run identity's code fingerprint uses)."""
    rel = path.relative_to(ROOT).with_suffix("").parts
    is_package = rel[-1] == "__init__"
    module = ".".join(rel[:-1] if is_package else rel)
    return _imported_modules(path.read_text(), module, is_package)


def test_the_checks_see_a_forbidden_import():
    """The checker itself: it finds imports at any depth, relative ones included."""
    src = ("import numpy\n"
           "def f():\n    from abm.outputs.tables import fy_summary\n"
           "def g():\n    import abm.studies.adapter as a\n"
           "from ..core import model\n")
    found = {n for n in _imported_modules(src, "abm.batch.x", False) if _forbidden(n)}
    assert found == {"abm.outputs.tables", "abm.outputs.tables.fy_summary",
                     "abm.studies.adapter", "abm.core.model"}


def test_no_module_of_abm_batch_imports_the_model():
    mods = _modules()
    assert "abm.batch.abc.smc" in mods and "abm.batch.testfunctions" in mods
    bad = {}
    for p in BATCH.rglob("*.py"):
        hits = sorted(n for n in imports_of(p) if _forbidden(n))
        if hits:
            bad[str(p.relative_to(ROOT))] = hits
    assert not bad, f"abm/batch must not import the model: {bad}"


@pytest.mark.parametrize("adapter", [None, "abm.batch.testfunctions:Gaussian"])
def test_importing_abm_batch_loads_nothing_of_the_model(adapter):
    """Every module of abm.batch imported (and, with the toy, a calibration spec loaded and
    its adapter built): the model's modules stay unloaded."""
    code = ["import sys, importlib",
            f"for m in {_modules()!r}: importlib.import_module(m)"]
    if adapter:
        code += ["import pathlib, tempfile",
                 "d = pathlib.Path(tempfile.mkdtemp())",
                 "(d / 's.toml').write_text('''[calibration]\\nparticles = 2\\ngenerations = 1"
                 f"\\nreplicates = 1\\nseed = 1\\n[model]\\nadapter = \"{adapter}\"\\n"
                 "[priors.mu]\\nlow = 0.0\\nhigh = 1.0\\n[targets.y]\\nvalue = 0.5\\nlo = 0.0"
                 "\\nhi = 1.0\\n''')",
                 "from abm.batch.abc import load_calibration_spec",
                 "load_calibration_spec(d / 's.toml')"]
    code += ["print('\\n'.join(sorted(sys.modules)))"]
    p = subprocess.run([sys.executable, "-c", "\n".join(code)], capture_output=True,
                       text=True, cwd=ROOT, timeout=120)
    assert p.returncode == 0, p.stderr
    loaded = p.stdout.split()
    assert "abm.batch.abc.smc" in loaded
    bad = [m for m in loaded if _forbidden(m)]
    assert not bad, f"importing abm.batch loaded the model: {bad}"


def test_abc_engine_modules_are_classified():
    """The calibration's run identity hashes the engine's modules (ENGINE_MODULES); every
    module of abm/batch/abc is either one of them or only re-exports, reports, reads a
    folder back (status.py: where a run stands), packs it (checkpoint.py: the folder's
    files, byte for byte) or continues its final generation under the run's identity after
    checking that the code replays and reproduces the run (topup.py), or fits an emulator to
    its stored simulations after it (emulate.py)."""
    from abm.batch.abc.spec import ENGINE_MODULES, PACKAGE

    files = {p.name for p in PACKAGE.glob("*.py")}
    assert set(ENGINE_MODULES) <= files
    assert files - set(ENGINE_MODULES) == {"__init__.py", "report.py", "posterior.py",
                                           "status.py", "checkpoint.py", "topup.py",
                                           "emulate.py"}


#: the public names of the engine before it became a package of modules
ABC_NAMES = ("AbcStore BUDGET_KEYS CALIBRATION_KEYS COLUMNS CalibrationResult "
             "CalibrationRunError CalibrationSpec DEFAULTS DEFAULT_ADAPTER DISTS FLUSH_SECONDS "
             "FORMAT GENS IDENTIFIED LOCK LOG MANIFEST MAX_SEED OURS OUTPUTS PRIOR_KEYS "
             "Population Prior SECTIONS SIMS TARGET_KEYS Target WEAK build_manifest calibrate "
             "check_targets default_targets distance identifiability importance_weights "
             "kernel_cov load_calibration_spec population_frame posterior_table run_one "
             "seed_for sim_key target_stats weighted_quantile").split()


def test_abc_public_names_importable_from_the_package():
    import abm.batch.abc as abc

    missing = [n for n in ABC_NAMES if not hasattr(abc, n)]
    assert not missing, missing
    assert set(abc.__all__) >= set(ABC_NAMES)
    assert all(hasattr(abc, n) for n in abc.__all__)
    # each name is the one object its module defines (re-exported, not copied)
    from abm.batch.abc import smc, spec, targets
    assert abc.calibrate is smc.calibrate and abc.Target is targets.Target
    assert abc.load_calibration_spec is spec.load_calibration_spec


def test_first_and_last_metrics_take_the_first_and_last_period_with_a_value():
    """A stock has no value in a last period the run ends before census day: 'last' is the
    last period that has one, not NaN."""
    import numpy as np
    import pandas as pd

    from abm.batch.summary import metric_table

    df = pd.DataFrame({"point": 0, "replication": [0, 0, 0], "run": "r",
                       "indicator": "stock", "period": ["FY2008", "FY2009", "FY2010"],
                       "value": [np.nan, 5.0, np.nan]})
    metrics = [{"name": "last", "indicator": "stock", "periods": "all", "stat": "last"},
               {"name": "first", "indicator": "stock", "periods": "all", "stat": "first"},
               {"name": "mean", "indicator": "stock", "periods": "all", "stat": "mean"}]
    t = metric_table(df, metrics, ["point", "replication"])
    assert t[["last", "first", "mean"]].iloc[0].tolist() == [5.0, 5.0, 5.0]
