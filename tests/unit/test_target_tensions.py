"""experiments/tools/target_tensions.py: the targets a calibration cannot meet together,
checked on a synthetic calibration folder whose counts are known."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import load_tool


def tool():
    return load_tool("target_tensions")


def folder(tmp_path: Path) -> Path:
    """Targets A, B, C (tolerance [0, 1]) and D. Generation 1 has 20 complete candidates:
    the 12 that meet A miss B, the 8 that miss A meet B (A and B are in tension); C is met
    by all; D by none. The posterior is candidates 0-3 (meet A) and 12-13 (meet B), weighted
    0.1 each except candidate 12, 0.5. Generation 0 holds 5 candidates that meet A and B
    both, and one incomplete candidate (one replicate) that must be ignored."""
    targets = [{"id": k, "value": 0.5, "lo": 0.0, "hi": 1.0, "weight": 1.0} for k in "ABC"]
    targets.append({"id": "D", "value": 0.5, "lo": 0.0, "hi": 1.0, "weight": 0.0})
    root = tmp_path / "abc"
    (root / "sims").mkdir(parents=True)
    (root / "generations").mkdir()
    (root / "manifest.json").write_text(json.dumps(
        {"spec": {"identity": {"targets": targets, "replicates": 2}}}))
    recs = []
    for c in range(20):
        s = [0.5, 5.0, 0.5, 9.0] if c < 12 else [5.0, 0.5, 0.5, 9.0]
        recs += [{"generation": 1, "candidate": c, "replicate": r, "stats": s} for r in (0, 1)]
    for c in range(5):
        recs += [{"generation": 0, "candidate": c, "replicate": r,
                  "stats": [0.5, 0.5, 0.5, 9.0]} for r in (0, 1)]
    recs.append({"generation": 0, "candidate": 5, "replicate": 0, "stats": [9, 9, 9, 9]})
    (root / "sims" / "a.json").write_text(json.dumps(recs[:17]))
    (root / "sims" / "b.json").write_text(json.dumps(recs[17:]))
    post = pd.DataFrame({"generation": 1, "particle": range(6),
                         "candidate": [0, 1, 2, 3, 12, 13],
                         "weight": [0.1, 0.1, 0.1, 0.1, 0.5, 0.1], "distance": 0.0})
    post.to_parquet(root / "generations" / "gen_001.parquet")
    post.assign(generation=0).to_parquet(root / "generations" / "gen_000.parquet")
    return root


def test_shares_and_the_cost_of_meeting_one_target_to_another(tmp_path):
    mod = tool()
    a = mod.analyse(folder(tmp_path))
    assert a["generation"] == 1 and a["n_ref"] == 20 and a["n_all"] == 25
    np.testing.assert_allclose(a["share"], [0.4, 0.6, 1.0, 0.0])  # posterior weights
    np.testing.assert_allclose(a["p"], [0.6, 0.4, 1.0, 0.0])  # generation 1's candidates
    np.testing.assert_allclose(a["all_met"], [17 / 25, 13 / 25, 1.0, 0.0])
    ab = mod.tensions_of(a, "A")
    assert list(ab["other"]) == ["B"]  # C costs nothing; D is never met
    assert ab["p_other"].iloc[0] == pytest.approx(0.4)
    assert ab["p_other_given_target"].iloc[0] == 0.0
    assert ab["cost"].iloc[0] == pytest.approx(0.4)
    assert len(a["pairs"]) == 4 * 3


def test_report_lists_the_misses_with_their_tensions(tmp_path):
    mod = tool()
    md = mod.report(mod.analyse(folder(tmp_path)))
    rows = [line for line in md.splitlines() if line.startswith("| `")]
    assert [r.split("`")[1] for r in rows] == ["D", "A"]  # B (60%) and C (100%) are met
    assert "| `A` | 1 | 40% | 60% (12) | 68% | `B` 40% -> 0% |" in md
    assert "no candidate near the posterior meets it" in rows[0]


def test_writes_its_files_and_refuses_files_it_did_not_write(tmp_path, capsys):
    mod = tool()
    root, out = folder(tmp_path), tmp_path / "out"
    assert mod.main([str(root), "--out", str(out)]) == 0
    assert (out / "tensions.md").read_text().startswith(mod.SIGNATURE)
    pairs = pd.read_csv(out / "tensions.csv")
    assert len(pairs) == 12 and set(pairs["target"]) == set("ABCD")
    assert mod.main([str(root), "--out", str(out)]) == 0  # its own files: replaced
    (out / "tensions.md").write_text("my notes")
    assert mod.main([str(root), "--out", str(out)]) == 2
    assert (out / "tensions.md").read_text() == "my notes"
    (out / "tensions.md").unlink()
    (out / "tensions.csv").write_text("mine")
    assert mod.main([str(root), "--out", str(out)]) == 2
    assert (out / "tensions.csv").read_text() == "mine"
    assert mod.main([str(tmp_path), "--out", str(tmp_path / "elsewhere")]) == 2
    assert "has no manifest.json and sims/" in capsys.readouterr().err
