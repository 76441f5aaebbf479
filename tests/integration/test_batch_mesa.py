"""Mesa's own ``batch_run`` works with the model (for users who know it).

docs/batch.md lists what it lacks compared with ``cpabm sweep``. Two of those gaps are
asserted here: it changes the process-wide multiprocessing start method to spawn, and its
rows come back in completion order (sort by RunId).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import multiprocessing as mp

import pandas as pd
import pytest
from mesa.batchrunner import batch_run

import abm
from abm.core.model import ChildProtectionModel


def tiny(regime="prescriptive"):
    return abm.small_la_scenario(children=3000, years=1, regime=regime,
                                 start=dt.date(2008, 4, 7), warmup_weeks=26)


@pytest.fixture
def restore_start_method():
    before = mp.get_start_method(allow_none=True)
    yield
    mp.set_start_method(before, force=True)  # batch_run forces 'spawn' process-wide


def _run(number_processes: int):
    return batch_run(ChildProtectionModel,
                     parameters={"scenario": [tiny(), tiny("professional_judgment")],
                                 "agent_views": False},
                     rng=[11, 12], max_steps=60, data_collection_period=13,
                     number_processes=number_processes, display_progress=False)


def test_mesa_batch_run_rows_equal_the_models_own_datacollector(restore_start_method):
    rows = _run(1)
    assert mp.get_start_method(allow_none=True) == "spawn"  # a global side effect
    df = pd.DataFrame(rows).sort_values(["RunId", "Step"]).reset_index(drop=True)
    # 2 scenarios x 2 seeds = 4 runs, the DataCollector read every 13th collected step
    assert sorted(df["RunId"].unique()) == [0, 1, 2, 3]
    assert df.groupby("RunId")["rng"].first().tolist() == [11, 11, 12, 12]
    assert set(df["Step"]) == {1, 14, 27, 40}  # not the last step (52): see docs/batch.md
    for col in ("referrals", "open_cases", "cp_plans", "vacancy_rate", "anxiety"):
        assert col in df.columns
    # each row equals the model's own DataCollector at that step, for the same seed
    for run_id, scenario, seed in ((0, tiny(), 11), (3, tiny("professional_judgment"), 12)):
        m = ChildProtectionModel(scenario, rng=seed, agent_views=False)
        m.run()
        assert m.steps == 52 and not m.running
        own = m.datacollector.get_model_vars_dataframe()
        got = df[df["RunId"] == run_id].set_index("Step")
        for step in (1, 14, 27, 40):
            for col in own.columns:
                assert got.loc[step, col] == own.iloc[step - 1][col], (run_id, step, col)


@pytest.mark.slow
def test_mesa_batch_run_on_two_processes_gives_the_same_rows(restore_start_method):
    """With two (spawned) processes the rows are the same once sorted by RunId and Step."""
    one = pd.DataFrame(_run(1)).drop(columns="scenario")
    two = pd.DataFrame(_run(2)).drop(columns="scenario")
    key = ["RunId", "Step"]
    pd.testing.assert_frame_equal(one.sort_values(key).reset_index(drop=True),
                                  two.sort_values(key).reset_index(drop=True))


def one_fy():
    """One LA of 3,000 children over the whole of FY2008 (outcomes need a complete year): 31
    March 2008 to 31 March 2009, its end included; at the parameter values the policy
    effects below were checked at (conftest.DESIGN_VALUES)."""
    from conftest import DESIGN_VALUES

    sc = abm.small_la_scenario(children=3000, years=1, start=dt.date(2008, 3, 31), warmup_weeks=26,
                               **DESIGN_VALUES)
    return dataclasses.replace(sc, end=dt.date(2009, 3, 31))


def test_mesa_batch_run_through_the_public_api_gives_abm_evaluate_rows(restore_start_method):
    """``abm.EvaluationModel``: batch_run's rows are abm.evaluate's outcomes, one row per
    run, for every combination of the parameters with every seed."""
    wanted = ("harm_missed", "direct_time_share", "referrals_children")
    rows = batch_run(abm.EvaluationModel,
                     parameters={"scenario": one_fy(), "referrer_threshold": [1.8, 2.2],
                                 "regime": ["prescriptive", "professional_judgment"],
                                 "outcomes": [wanted]},
                     rng=[5, 6], number_processes=1, display_progress=False)
    df = pd.DataFrame(rows).sort_values("RunId").reset_index(drop=True)
    assert len(df) == 8 and df["RunId"].tolist() == list(range(8))
    assert (df["Step"] == 1).all()  # one step is one whole run
    assert df["seed"].tolist() == [5] * 4 + [6] * 4 == df["rng"].tolist()
    for r in (df.iloc[0], df.iloc[7]):
        want = abm.evaluate({"referrer_threshold": r["referrer_threshold"],
                             "regime": r["regime"]}, scenario=one_fy(), seed=int(r["seed"]),
                            outcomes=wanted)
        assert {k: r[k] for k in wanted} == want
    # the policy moves direct time; common random numbers leave the rest of the row alike
    g = df.groupby("regime")["direct_time_share"].mean()
    assert g["professional_judgment"] > g["prescriptive"] + 0.1
    # a lower referrers' threshold refers more children, seed by seed and regime by regime
    lo, hi = (df[df["referrer_threshold"] == t].set_index(["rng", "regime"])
              for t in (1.8, 2.2))
    assert (lo["referrals_children"] > hi["referrals_children"]).all()


def test_evaluation_model_checks_its_inputs():
    with pytest.raises(ValueError, match="rng must be a non-negative integer seed"):
        abm.EvaluationModel(one_fy(), rng=1.5)
    m = abm.EvaluationModel(one_fy(), rng=None, outcomes="harm_missed")
    assert m.seed >= 0  # a drawn seed, recorded in the row
    with pytest.raises(abm.ConfigError, match="no_such_parameter"):
        abm.EvaluationModel(one_fy(), rng=1, no_such_parameter=3).step()


@pytest.mark.slow
def test_evaluation_model_on_two_spawned_processes_gives_the_same_rows(restore_start_method):
    """The class is found by spawned workers (it lives in abm, not in the caller's script)."""
    kw = dict(parameters={"scenario": one_fy(), "regime": ["prescriptive",
                                                           "professional_judgment"],
                          "outcomes": "direct_time_share"},
              rng=[7], display_progress=False)
    one, two = (pd.DataFrame(batch_run(abm.EvaluationModel, number_processes=n, **kw))
                .drop(columns="scenario").sort_values("RunId").reset_index(drop=True)
                for n in (1, 2))
    pd.testing.assert_frame_equal(one, two)
    assert one["direct_time_share"].nunique() == 2
