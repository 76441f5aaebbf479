"""docs/ODD.md (7.10) quotes the on-time shares of assessments by regime from
results/timeliness/by_regime.md (written by experiments/tools/timeliness_by_regime.py): the
table must be the tool's own computation from its runs, and the ODD must quote it as written."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from conftest import load_tool

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "results" / "timeliness"


def _tool():
    return load_tool("timeliness_by_regime")


def test_share_table_is_recomputed_from_the_runs():
    tool = _tool()
    runs = pd.read_csv(OUT / "runs.csv")
    table = pd.read_csv(OUT / "by_regime.csv", index_col=["regime", "fy"])
    again = tool.share_table(runs)
    pd.testing.assert_frame_equal(again, table, check_dtype=False, check_names=False)
    seeds = runs.seed.nunique()
    assert tool.markdown(again, seeds, 0.05) == (OUT / "by_regime.md").read_text()
    # every packaged regime is in it
    regimes = {p.stem for p in (ROOT / "abm" / "data" / "regimes").glob("*.toml")}
    assert set(runs.regime) == regimes


def test_odd_quotes_the_table_as_generated():
    odd = (ROOT / "docs" / "ODD.md").read_text()
    rows = [line for line in (OUT / "by_regime.md").read_text().splitlines()
            if line.startswith("|")]
    assert len(rows) >= 2 + 6
    for row in rows:
        assert row in odd, row
