"""The indicator registry (``abm/core/indicators.py``): every output declared once.

The registry is self-consistent (names unique, formulas over known names, every series
recorded) and the summary aggregates each kind of series by its rule. That a new output
needs only two edits is checked end to end in tests/integration/test_registry_new_output.py.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from conftest import small

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
