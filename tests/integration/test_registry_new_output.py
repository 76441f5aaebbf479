"""A new output of the indicator registry (``abm/core/indicators.py``) needs two edits, its
registry line and the kernel line that counts it: in a copy of the package, the new output
then appears in the tidy tables with its unit, the summary, a sweep's outcomes and the
generated docs table, and counts what it should."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT

ADDED = '''
import json, sys
sys.path.insert(0, sys.argv[1])
sys.path.insert(0, sys.argv[2])  # experiments/ (tools)
import datetime as dt
import abm
from abm.core.model import ChildProtectionModel
from abm.outputs.tables import summary, tidy
from abm.studies import adapter
from tools.make_docs import render_outputs_md

assert abm.__file__.startswith(sys.argv[1]), abm.__file__
sc = abm.small_la_scenario(children=3000, years=1, start=dt.date(2008, 4, 7), warmup_weeks=26)
m = ChildProtectionModel(sc, rng=4, agent_views=False).run()
fy = summary(m, "fy")
t = tidy(m)
row = t[t["indicator"] == "cases_closed_again"]
print(json.dumps({
    "summary": float(fy["cases_closed_again"].sum()),
    "closures": float(fy["closures"].sum()),
    # the weekly values, each week weighted by its share of days in the scenario's calendar
    "tidy_unit": str(row["unit"].iloc[0]),
    "tidy_total": float((row["value"].to_numpy()
                         * m.calendar.flow_weights("fy")[1].sum(0)[row["week"]]).sum()),
    "sweep_outcome": adapter.outputs().get("cases_closed_again"),
    "docs": "| `cases_closed_again` | families |" in render_outputs_md(),
}))
'''


@pytest.mark.slow
def test_a_new_output_needs_two_edits_and_appears_everywhere(tmp_path):
    """Copy the package, add a flow with one registry line and count it with one kernel
    line (beside ``closures``): it is then in the tidy table with its unit, the summary, the
    sweep adapter's outcomes and the docs' output table, and counts what it should."""
    pkg = tmp_path / "src"
    shutil.copytree(ROOT / "abm", pkg / "abm", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "experiments" / "tools", tmp_path / "exp" / "tools",
                    ignore=shutil.ignore_patterns("__pycache__"))
    reg = pkg / "abm" / "core" / "indicators.py"
    text = reg.read_text()
    anchor = '    _flow("closures", "families", "social-care cases closed", "casework"),\n'
    assert text.count(anchor) == 1
    reg.write_text(text.replace(anchor, anchor + '    _flow("cases_closed_again", "families", '
                                '"closures counted again (a test)", "casework"),\n'))
    line = "            flow[la, I.FL_CLOSURES] += 1\n"
    kernel, = [f for f in (pkg / "abm" / "mechanisms").glob("*.py") if line in f.read_text()]
    text = kernel.read_text()
    assert text.count(line) == 1
    kernel.write_text(text.replace(line, line + "            flow[la, I.FL_CASES_CLOSED_AGAIN] += 1\n"))
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"))
    env.pop("NUMBA_CACHE_DIR", None)
    r = subprocess.run([sys.executable, "-c", ADDED, str(pkg), str(tmp_path / "exp")],
                       capture_output=True, text=True, env=env, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    got = json.loads(r.stdout.strip().splitlines()[-1])
    assert got["summary"] == pytest.approx(got["closures"]) and got["summary"] > 0
    assert got["summary"] == pytest.approx(got["tidy_total"])
    assert got["tidy_unit"] == "families" and got["sweep_outcome"] == "families"
    assert got["docs"] is True
    assert np.isfinite(got["summary"])
