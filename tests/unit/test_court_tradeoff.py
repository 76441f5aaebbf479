"""experiments/tools/court_tradeoff.py: over a calibration's candidates, the June 2010
arrivals per closure of those that keep the three published durations. Checked on a
synthetic folder whose counts are known."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from conftest import load_tool


def tool():
    return load_tool("court_tradeoff")


def folder(tmp_path: Path) -> Path:
    """Targets: the three durations (tolerance +/-1.5 around 53, 54.4, 55.7), the June ratio
    and one other. Candidates (generation, candidate): replicate medians chosen so that
    three keep all durations (two rising), one misses Q2 2008, one lacks a replicate."""
    ids = ["referrals", "care_duration_q2_fy2008", "care_duration_q2_fy2009",
           "care_duration_q2_fy2010", "care_arrivals_per_closure_2010_06"]
    vals = [500.0, 53.0, 54.4, 55.7, 5.0]
    targets = [{"id": i, "value": v, "lo": v - 1.5, "hi": v + 1.5, "weight": 1.0}
               for i, v in zip(ids, vals, strict=True)]
    targets[4].update(lo=3.5, hi=6.0)
    root = tmp_path / "abc"
    (root / "sims").mkdir(parents=True)
    (root / "manifest.json").write_text(json.dumps(
        {"spec": {"identity": {"targets": targets, "replicates": 2}}}))
    cands = {  # (g, c): (rep 0 stats, rep 1 stats) -> the median is their mean
        (0, 0): ([1, 53, 54, 55, 1.0], [1, 53, 55, 56, 1.4]),    # keeps, rising, ratio 1.2
        (0, 1): ([1, 50, 54, 55, 9.0], [1, 50, 54, 55, 9.0]),    # Q2 2008 outside
        (1, 0): ([1, 54, 54, 55, 2.0], [1, 54, 54, 55, 2.0]),    # keeps, not rising, 2.0
        (1, 1): ([1, 52, 53, 56, 3.6], [1, 52, 54, 56, 3.8]),    # keeps, rising, 3.7
        (1, 2): ([1, 53, 54, 55, 50.0], None),                   # one replicate only
        (1, 3): ([1, 53, 54, 55, float("inf")], [1, 53, 54, 55, float("inf")]),  # no closure
    }
    recs = [{"generation": g, "candidate": c, "replicate": r, "stats": s}
            for (g, c), reps in cands.items() for r, s in enumerate(reps) if s is not None]
    (root / "generations").mkdir()
    (root / "generations" / "gen_000.parquet").write_bytes(b"")  # generation 0 finished
    (root / "sims" / "a.json").write_text(json.dumps(recs[:4]))
    (root / "sims" / "b.json").write_text(json.dumps(recs[4:]))
    return root


def test_counts_and_ratios_over_candidates(tmp_path):
    mod = tool()
    a = mod.analyse(folder(tmp_path))
    # a June with no closure (an infinite ratio) is a candidate too, above any threshold
    assert a["n"] == 5 and a["generations"] == 2 and a["finished"] == 1
    assert a["keep"].sum() == 4 and a["rising"].sum() == 3
    np.testing.assert_allclose(np.sort(a["ratio"][a["keep"]]), [1.2, 2.0, 3.7, np.inf])
    md = mod.report(a)
    assert "| the three Q2 durations inside tolerance | 4 | median 2.85" in md
    assert "highest inf" in md and "of 3.5 or more: 2." in md and "1 of them finished" in md


def test_writes_its_files_and_refuses_a_foreign_report(tmp_path, capsys):
    mod = tool()
    root, out = folder(tmp_path), tmp_path / "out"
    assert mod.main([str(root), "--out", str(out)]) == 0
    assert (out / "figures" / "court_tradeoff.png").stat().st_size > 1000
    assert (out / "court_tradeoff.md").read_text().startswith(mod.SIGNATURE)
    (out / "court_tradeoff.md").write_text("my notes")
    assert mod.main([str(root), "--out", str(out)]) == 2
    assert (out / "court_tradeoff.md").read_text() == "my notes"
    assert mod.main([str(tmp_path), "--out", str(tmp_path / "elsewhere")]) == 2
    assert "has no manifest.json and sims/" in capsys.readouterr().err
