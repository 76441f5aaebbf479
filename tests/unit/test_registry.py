"""The indicator registry (``abm/core/indicators.py``): every output declared once.

The registry is self-consistent (names unique, formulas over known names, every series
recorded); and a new output is added with two edits, its registry line and the kernel line
that counts it, after which it appears in the tidy tables, the summary, a sweep's outcomes
and the generated docs table.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import ROOT, small

from abm.core import indicators as I
from abm.core.model import ChildProtectionModel
from abm.outputs.tables import summary, tidy


def test_every_output_name_is_declared_once_with_a_unit():
    names = [x.name for x in I.SERIES + I.INDICATORS]
    assert len(names) == len(set(names))
    assert all(x.unit for x in I.SERIES + I.INDICATORS)
    assert {s.kind for s in I.SERIES} == {"flow", "stock", "level"}


def test_flow_and_workforce_indices_follow_the_declaration_order():
    assert [getattr(I, f"FL_{n.upper()}") for n in I.FLOW_NAMES] == list(range(I.N_FLOWS))
    assert [getattr(I, f"W_{n[5:].upper()}") for n in I.WORK_NAMES] == list(range(I.N_WORK))


def test_summary_has_every_output_and_aggregates_by_each_kind():
    m = ChildProtectionModel(small(children=3000, years=1.0, warmup=26), rng=2,
                             agent_views=False).run()
    q = summary(m, "quarter")
    assert set(q.columns) == set(I.units())
    # a flow is the sum of its weeks, a level their mean, a stock the period's last week
    last_week = m.calendar.quarter == q.index[1]
    assert q["referrals"].iloc[1] == m.series("referrals")[last_week].sum()
    assert q["work_caseload"].iloc[1] == pytest.approx(m.series("work_caseload")[last_week].mean())
    assert q["stock_cp_plan_children"].iloc[1] == m.series("stock_cp_plan_children")[last_week][-1]
    assert q["cp_plan_share"].iloc[1] == pytest.approx(
        q["cpp_starts_children"].iloc[1] / q["referrals_children"].iloc[1])
    units = tidy(m).drop_duplicates("indicator").set_index("indicator")["unit"]
    assert units["court_expert_cost"] == "GBP" and units["delay_weeks"] == "child-weeks"
    assert units["court_hearings_held"] == "hearings" and not units.isna().any()


def test_an_unknown_formula_input_is_refused_when_the_registry_loads(tmp_path):
    src = open(I.__file__).read()
    assert '"rereferrals / referrals"' in src
    bad = tmp_path / "bad_registry.py"
    bad.write_text(src.replace('"rereferrals / referrals"', '"rereferrals / referals"'))
    code = textwrap.dedent(f"""
        import importlib.util, sys
        spec = importlib.util.spec_from_file_location("bad_registry", {str(bad)!r})
        mod = importlib.util.module_from_spec(spec)
        sys.modules["bad_registry"] = mod
        spec.loader.exec_module(mod)
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode != 0 and "unknown inputs ['referals']" in r.stderr


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
    "tidy_unit": str(row["unit"].iloc[0]), "tidy_total": float(row["value"].sum()),
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
    assert got["summary"] == got["closures"] == got["tidy_total"] > 0
    assert got["tidy_unit"] == "families" and got["sweep_outcome"] == "families"
    assert got["docs"] is True
    assert np.isfinite(got["summary"])
