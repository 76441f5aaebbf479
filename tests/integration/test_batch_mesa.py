"""Mesa's own ``batch_run`` works with the model (for users who know it).

docs/batch.md lists what it lacks compared with ``cpabm sweep``. Two of those gaps are
asserted here: it changes the process-wide multiprocessing start method to spawn, and its
rows come back in completion order (sort by RunId).
"""

from __future__ import annotations

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
