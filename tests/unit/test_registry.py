"""The indicator registry (``abm/core/indicators.py``): every output declared once.

The registry is self-consistent (names unique, formulas over known names, every series
recorded) and the summary aggregates each kind of series by its rule. That a new output
needs only two edits is checked end to end in tests/integration/test_registry_new_output.py.
"""

from __future__ import annotations

import datetime as dt
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
    # calendar-true: a flow is its weeks apportioned by the days in the quarter, a level
    # their day-weighted mean, a stock read on the quarter's last day, between the records
    # of the weeks either side
    labels, W = m.calendar.flow_weights("quarter", m.weeks_recorded)
    assert list(q.index) == labels and q["weeks"].iloc[1] * 7 == pytest.approx(92)  # Q3 2008
    ref = m.series("referrals")
    assert q["referrals"].iloc[1] == pytest.approx(W[1] @ ref)
    inside = m.calendar.quarter == q.index[1]  # the weeks ending in it: most of its days
    assert 0.85 < q["referrals"].iloc[1] / ref[inside].sum() < 1.15
    assert q["referrals"].sum() == pytest.approx(W.sum(axis=0) @ ref)
    caseload = m.series("work_caseload")
    assert q["work_caseload"].iloc[1] == pytest.approx(W[1] @ caseload / W[1].sum())
    cpp = m.series("stock_cp_plan_children")
    t = (dt.date(2008, 9, 30) - m.calendar.start).days // 7  # the week holding 30 September
    lo, hi = sorted(cpp[t - 1:t + 1])
    assert lo <= q["stock_cp_plan_children"].iloc[1] <= hi
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


def test_derived_indicators_equal_pandas_eval_to_the_bit_and_formulas_are_arithmetic():
    """abm.outputs.tables evaluates each compiled formula on the columns as arrays: every
    derived value, zeros in denominators included (inf, NaN), is the one DataFrame.eval
    gives; a formula that is not arithmetic on names is refused where it is declared."""
    import numpy as np

    from abm.outputs.tables import _aggregate, _derive

    m = ChildProtectionModel(small(children=3000, years=1.0, warmup=26), rng=4,
                             agent_views=False).run()
    for period in ("month", "fy"):
        base = _aggregate(m, [s.name for s in I.SERIES], period)
        base.iloc[0] = 0.0  # a period of zeros: every ratio's 0/0
        ours = _derive(base.copy())
        theirs = base.copy()
        for ind in I.INDICATORS:
            theirs[ind.name] = theirs.eval(ind.formula, engine="python")
        assert list(ours.columns) == list(theirs.columns)
        np.testing.assert_array_equal(ours.to_numpy(), theirs.to_numpy())
        assert ours[[i.name for i in I.INDICATORS]].iloc[0].isna().sum() > 10  # the 0/0s
    with pytest.raises(ValueError, match="is not arithmetic"):
        I.Indicator("x", "share", "__import__('os').getcwd()", "no")
