"""Precision built in: CI half-widths, the events behind a mean, the replications a target
needs, and ``cpabm sweep --precision REL`` adding replications resumably.

The noisy Ishigami function (known mean, noise sd 0.5) stands in for the model, so the
replications the target needs are known in advance.
"""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest
from scipy import stats

from abm.batch.precision import (
    detect_replications,
    events_per_value,
    precision_table,
    replications_for,
)
from abm.cli import main

SPEC = """\
[sweep]
name = "noisy"
replications = 3
seed = 11

[model]
adapter = "abm.batch.testfunctions:Ishigami"
noise_sd = 0.5

[fixed]
x3 = 1.0

[design]
type = "variants"

[variants.a]
x1 = 1.0
x2 = 0.5

[variants.b]
x1 = 1.5
x2 = 0.5

[outputs]
indicators = ["y"]
"""


def test_replications_for_is_the_smallest_n_meeting_the_target():
    n = replications_for(sd=0.5, mean=2.5, rel=0.1, confidence=0.95)
    hw = lambda k: stats.t.ppf(0.975, k - 1) * 0.5 / math.sqrt(k)  # noqa: E731
    assert hw(n) <= 0.25 < hw(n - 1)
    assert replications_for(0.0, 2.5, 0.1, 0.95) == 1


def test_detect_replications_matches_the_poisson_formula():
    # 9 events a year per run (missed harm at England 5%), a 20% change, 80% power
    z = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)
    assert detect_replications(9.0, 0.2, 0.8) == math.ceil(z**2 * 9 * 2.2 / (9 * 0.2) ** 2)
    assert detect_replications(90.0, 0.2, 0.8) == math.ceil(48 / 10)  # ~ 1 / events per run
    assert detect_replications(9000.0, 0.2, 0.8) == 2  # never fewer than a pair


def test_events_behind_a_metric_count_every_period_it_covers():
    m = {"name": "x", "indicator": "harm", "stat": "mean", "periods": ["FY1", "FY2"]}
    assert events_per_value(m, ["harm"], 5) == 2.0
    assert events_per_value({**m, "periods": "all"}, ["harm"], 5) == 5.0
    assert events_per_value({**m, "stat": "sum"}, ["harm"], 5) == 1.0
    assert math.isnan(events_per_value(m, ["other"], 5))
    mt = pd.DataFrame({"point": [0, 0, 0], "x": [3.0, 4.0, 5.0]})
    t = precision_table(mt, [m], 0.95, ["harm"], 5, rel=0.1)
    r = t.iloc[0]
    assert r["events"] == 24.0 and r["counts_events"]  # (3 + 4 + 5) per year x 2 years
    assert math.isclose(r["ci_half_width"], stats.t.ppf(0.975, 2) * 1.0 / math.sqrt(3))
    assert r["replications_needed"] == replications_for(1.0, 4.0, 0.1, 0.95)


def test_precision_adds_replications_until_met_and_resumes_without_rerunning(tmp_path,
                                                                             capsys):
    spec = tmp_path / "noisy.toml"
    spec.write_text(SPEC)
    out = tmp_path / "out"
    args = ["sweep", str(spec), "--out", str(out), "--workers", "0", "--precision", "0.1",
            "--max-replications", "80"]
    assert main(args) == 0
    m = json.loads((out / "manifest.json").read_text())
    reps = m["replications"]
    t = pd.read_csv(out / "summary" / "precision.csv")
    assert (t["relative_half_width"] <= 0.1).all() and (t["n"] == reps).all()
    # the noise sd is 0.5 and the means about 2.5 and 3.1: about 18 replications needed,
    # and never more than twice what was needed before the last step
    need = max(replications_for(r.sd, r.mean, 0.1, 0.95) for r in t.itertuples())
    assert 8 <= need <= reps <= 2 * need + 2
    files = sorted(p.name for p in (out / "runs").iterdir())
    assert len(files) == 2 * reps
    # every table the summary writes has a unit column (the adapter's unit of y)
    for f in ("runs_long", "bands", "metrics_bands", "paired_differences", "precision"):
        tab = pd.read_csv(out / "summary" / f"{f}.csv", keep_default_na=False)
        assert (tab["unit"].astype(str) == "1").all(), f  # dimensionless
    # the same command again, resumed: the target is met, nothing runs
    assert main([*args, "--resume"]) == 0
    assert sorted(p.name for p in (out / "runs").iterdir()) == files
    assert "0 to run" in capsys.readouterr().err


def test_precision_stops_at_the_cap_with_exit_status_3(tmp_path, capsys):
    spec = tmp_path / "noisy.toml"
    spec.write_text(SPEC)
    out = tmp_path / "out"
    rc = main(["sweep", str(spec), "--out", str(out), "--workers", "0", "--precision",
               "0.01", "--max-replications", "6"])
    assert rc == 3
    assert json.loads((out / "manifest.json").read_text())["replications"] == 6
    assert "stopped at the cap of 6 replications" in capsys.readouterr().err


@pytest.mark.parametrize("extra, message", [
    (["--precision", "1.5"], "--precision = 1.5 is out of range: valid range is (0, 1)"),
    (["--precision", "0.1", "--max-replications", "2"],
     "--max-replications = 2 is out of range: valid range is [3, "),
])
def test_bad_precision_arguments_are_refused(tmp_path, capsys, extra, message):
    spec = tmp_path / "noisy.toml"
    spec.write_text(SPEC)
    assert main(["sweep", str(spec), "--out", str(tmp_path / "o"), *extra]) != 0
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_the_target_is_met_only_when_every_observed_half_width_is():
    """Met means every metric's observed CI half-width at every point is within the target:
    a metric missing in some runs (a duration in a year with no case) is judged on the runs
    that gave it, and one with fewer than two values is not met; what it needs is scaled up
    by the share of runs that gave no value."""
    import pandas as pd

    from abm.batch.precision import precision_met, replications_for

    def row(metric, n, mean, sd, rhw):
        return {"point": 0, "metric": metric, "n": n, "mean": mean, "sd": sd,
                "relative_half_width": rhw}
    ok = row("A", 30, 10.0, 1.0, 0.037)
    table = pd.DataFrame([ok, row("B", 8, 10.0, 2.5, 0.212)])
    met, need, worst = precision_met(table, 30, 0.2, 0.95)
    assert not met and worst["metric"] == "B"
    assert need == -(-replications_for(2.5, 10.0, 0.2, 0.95) * 30 // 8) > 30
    met, need, worst = precision_met(pd.DataFrame([ok, row("C", 1, 5.0, float("nan"),
                                                           float("nan"))]), 30, 0.2, 0.95)
    assert not met and worst["metric"] == "C" and need == 60
    assert precision_met(pd.DataFrame([ok]), 30, 0.2, 0.95)[0]
    # one replication: nothing estimable yet; the next round has two
    one = pd.DataFrame([row("A", 1, 10.0, float("nan"), float("nan"))])
    assert precision_met(one, 1, 0.2, 0.95)[:2] == (False, 2)
