"""``abm.EvaluationModel``: :func:`abm.evaluate` as a ``mesa.Model``, for Mesa's ``batch_run``.

Mesa's batch runner builds ``model_cls(**kwargs, rng=seed)`` for every combination of the
values it is given, steps the model until it stops, and reads its ``DataCollector``. Here
one step is one whole run of the scenario through :func:`abm.evaluate`, and the
DataCollector holds one row: the seed and the named outcomes (plain floats, the same as
``abm.evaluate`` returns for the same arguments; units from :func:`abm.outcome_units`).

    from mesa.batchrunner import batch_run
    import abm

    if __name__ == "__main__":                   # batch_run spawns processes
        rows = batch_run(abm.EvaluationModel,
                         parameters={"scenario": "small_la",
                                     "regime": ["prescriptive", "professional_judgment"],
                                     "referrer_threshold": [1.8, 2.2],
                                     "outcomes": [("harm_missed", "direct_time_share")]},
                         rng=[1, 2, 3], number_processes=2)

docs/research.md (section 5) says what this route gives and what it lacks.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import Any

import mesa

from abm.api import evaluate
from abm.core.scenario import Scenario


class EvaluationModel(mesa.Model):
    """One run of a scenario as a one-step ``mesa.Model`` (for ``mesa.batch_run``).

    Parameters
    ----------
    scenario : an :class:`abm.Scenario`, a scenario file, or a packaged scenario's name
        (``small_la``, ``baseline_la``); default ``small_la``.
    rng : int or None
        The seed (Mesa's name for it). Runs with the same seed share their random numbers
        (common random numbers). ``None`` draws a seed; the row records it as ``seed``.
    outcomes : outcome names, or one name (default: every indicator's mean over the run's
        complete financial years, as :func:`abm.evaluate`).
    **params : parameter values (``cpabm params``) and ``regime``, as :func:`abm.evaluate`
        takes them; an unknown name or an out-of-range value raises :class:`abm.ConfigError`
        when the model steps.
    """

    def __init__(self, scenario: Scenario | str | Path = "small_la", *,
                 rng: int | None = None, outcomes: Iterable[str] | str | None = None,
                 **params: Any) -> None:
        from abm.core.model import run_seed

        seed = run_seed(rng)
        super().__init__(rng=seed)
        self.seed = seed
        self.spec = scenario  # Mesa's Model keeps its own ``scenario`` attribute
        self.params = params
        self.outcome_names = [outcomes] if isinstance(outcomes, str) else outcomes
        #: the run's outcomes, once the model has stepped
        self.outcomes: dict[str, float] = {}
        self.datacollector = mesa.DataCollector(model_reporters={"seed": "seed"})

    def step(self) -> None:
        """Run the scenario to its end, record its outcomes, and stop."""
        self.outcomes = evaluate(self.params, scenario=self.spec, seed=self.seed,
                                 outcomes=self.outcome_names)
        reporters = {"seed": "seed"}
        reporters.update({name: partial(_outcome, name) for name in self.outcomes})
        self.datacollector = mesa.DataCollector(model_reporters=reporters)
        self.datacollector.collect(self)
        self.running = False


def _outcome(name: str, model: EvaluationModel) -> float:
    """One named outcome of a model that has stepped (a DataCollector reporter)."""
    return model.outcomes[name]
