"""``cpabm sweep --scheduler dask-local[:N]`` starts (and closes) a Dask LocalCluster; its
results equal a serial sweep's. The plan is read from --scheduler and the environment."""

from __future__ import annotations

import pandas as pd
import pytest

from abm.batch.executors import Plan, choose
from abm.cli import main
from abm.core.errors import ConfigError

SPEC = """\
[sweep]
name = "ishi"
replications = 2
seed = 3

[model]
adapter = "abm.batch.testfunctions:Ishigami"
noise_sd = 0.3

[factors.x1]
range = [-1.0, 1.0]
levels = 3

[fixed]
x2 = 0.5
x3 = 1.0

[outputs]
indicators = ["y"]
"""


def test_dask_local_plans(monkeypatch):
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    assert choose(None, "dask-local:3") == Plan("dask-local", 3)
    assert choose(2, "dask-local") == Plan("dask-local", 2)
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", "dask-local:2")
    assert choose(None, None) == Plan("dask-local", 2)
    assert choose(None, "local").kind in ("serial", "processes")  # 'local' ignores it
    for bad in ("dask-local:0", "dask-local:x"):
        with pytest.raises(ConfigError, match="dask-local:N"):
            choose(None, bad)


@pytest.mark.slow
def test_dask_local_cluster_gives_the_serial_results(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    spec = tmp_path / "ishi.toml"
    spec.write_text(SPEC)
    assert main(["sweep", str(spec), "--out", str(tmp_path / "serial"), "--workers", "0",
                 "--quiet"]) == 0
    assert main(["sweep", str(spec), "--out", str(tmp_path / "dask"),
                 "--scheduler", "dask-local:2"]) == 0
    assert "Dask LocalCluster of 2 worker processes" in capsys.readouterr().err
    cols = ["point", "replication", "seed", "x1", "indicator", "period", "value"]
    a, b = (pd.read_parquet(tmp_path / d / "summary" / "runs_long.parquet")[cols]
            for d in ("serial", "dask"))
    pd.testing.assert_frame_equal(a, b)
