"""The ``cpabm`` command line, in-process through ``abm.cli.main`` and once as the real script.

Runs are tiny (3,000 children, one year, 26 warm-up weeks). The first run in a fresh process
may spend ~45 s compiling the Numba kernels; later runs use the on-disk cache.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from abm.cli import main
from abm.core.params import PARAMETERS

CPABM = Path(sys.executable).with_name("cpabm")

TINY = """\
[scenario]
name = "tiny"
description = "cli smoke test"
start = 2008-04-07
end = 2009-04-05
regime = "prescriptive"
places = { children = 3000 }

[parameters]
warmup_weeks = 26

[[events]]
date = 2008-11-12
type = "media_shock"
magnitude = 1.0
"""

RUN_FILES = {"national_weekly.parquet", "national_monthly.parquet", "la_weekly.parquet", "summary_fy.csv", "summary_fy.md",
             "summary_fy.parquet", "decisions_by_fy.csv", "run.json", "caseflow.png",
             "workforce.png", "decisions.png"}
MISSPELT = TINY.replace("warmup_weeks = 26", "warmup_weeks = 26\nreferral_threshhold = 1.0")


def _write(folder: Path, text: str, name: str = "tiny.toml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def _run(scenario: Path, out: Path, *extra: str) -> int:
    return main(["run", str(scenario), "--out", str(out), "--quiet", *extra])


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Three tiny runs shared by the smoke and compare tests: seed 1, seed 1 with a lower
    referral threshold, and seed 2. Each entry is (exit code, output folder)."""
    root = tmp_path_factory.mktemp("runs")
    scenario = _write(root, TINY)
    out = {}
    out["a"] = (_run(scenario, root / "a", "--seed", "1"), root / "a")
    out["b"] = (_run(scenario, root / "b", "--seed", "1", "--set", "referrer_threshold=1.5"),
                root / "b")
    out["c"] = (_run(scenario, root / "c", "--seed", "2"), root / "c")
    out["scenario"] = scenario
    return out


# --------------------------------------------------------------------------- cpabm run

def test_run_writes_every_output_file_atomically_with_real_pngs(runs):
    rc, out = runs["a"]
    assert rc == 0
    assert out.is_dir()
    assert RUN_FILES <= {p.name for p in out.iterdir()}
    # the folder was built atomically: no temporary folders left next to it
    assert not [p.name for p in out.parent.iterdir() if p.name.startswith(".")]
    for png in ("caseflow.png", "workforce.png", "decisions.png"):
        data = (out / png).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000


def test_run_tidy_tables_have_units_a_year_of_weeks_and_the_shock_in_anxiety(runs):
    _, out = runs["a"]
    for name in ("national_weekly.parquet", "la_weekly.parquet"):
        long = pd.read_parquet(out / name)
        assert {"indicator", "value", "unit", "week", "date"} <= set(long.columns), name
        assert len(long) > 0
        assert long["unit"].notna().all(), f"{name}: indicators without a unit"
        assert long["week"].min() == 0 and long["week"].max() == 51  # 52 weeks in the year
        assert pd.Timestamp("2008-04-07") <= long["date"].min()
        assert long["date"].max() <= pd.Timestamp("2009-04-06")
        assert (long["seed"] == 1).all() and (long["scenario"] == "tiny").all()
    nat = pd.read_parquet(out / "national_weekly.parquet")
    # the calendar-true monthly table: every output with its unit; a month's flow is the
    # weekly flows apportioned by day, so the months add up to the weeks in the calendar
    mon = pd.read_parquet(out / "national_monthly.parquet")
    assert {"month", "indicator", "value", "unit", "scenario", "seed"} <= set(mon.columns)
    assert mon["month"].iloc[0] == "2008-04" and mon["month"].iloc[-1] == "2009-04"
    assert mon.loc[mon["indicator"] != "weeks", "unit"].notna().all()
    ref_m = mon[mon["indicator"] == "referrals"]["value"].sum()
    assert ref_m == pytest.approx(nat[nat["indicator"] == "referrals"]["value"].sum())
    # the media shock on 2008-11-12 shows up in the anxiety series, and nothing before it
    anx = nat[nat["indicator"] == "anxiety"].set_index("date")["value"].sort_index()
    assert (anx[anx.index < pd.Timestamp("2008-11-12")] == 0).all()
    assert anx[anx.index >= pd.Timestamp("2008-11-12")].iloc[0] > 0.5


def test_run_summary_tables_markdown_and_run_record_agree(runs):
    _, out = runs["a"]
    summary = pd.read_csv(out / "summary_fy.csv", index_col="fy")
    assert "FY2008" in summary.index
    assert summary.loc["FY2008", "referrals"] > 0
    assert summary.loc["FY2008", "contacts"] >= summary.loc["FY2008", "ia_completed"]
    long = pd.read_parquet(out / "summary_fy.parquet")
    assert {"fy", "indicator", "value", "unit"} <= set(long.columns)
    ref = long[(long["fy"] == "FY2008") & (long["indicator"] == "referrals")]
    assert ref["value"].tolist() == [pytest.approx(summary.loc["FY2008", "referrals"], rel=1e-5)]
    md = (out / "summary_fy.md").read_text()
    assert md.startswith("# tiny: per financial year (seed 1)")
    assert "| referrals_children | children |" in md and "| referrals | families |" in md
    dec = pd.read_csv(out / "decisions_by_fy.csv")
    assert {"fy", "decision", "TP", "FP", "TN", "FN"} <= set(dec.columns)
    meta = json.loads((out / "run.json").read_text())
    assert meta["seed"] == 1 and meta["scenario"] == "tiny" and meta["children"] == 3000
    assert meta["source"] == str(runs["scenario"])
    assert meta["overrides"] == {}


def test_run_records_its_set_overrides(runs):
    rc, out = runs["b"]
    assert rc == 0
    assert json.loads((out / "run.json").read_text())["overrides"] == {"referrer_threshold": 1.5}


def test_run_quiet_prints_nothing(tmp_path, capsys, runs):
    _ = runs  # ensure kernels are compiled before this run
    scenario = _write(tmp_path, TINY)
    assert _run(scenario, tmp_path / "out", "--seed", "3") == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert (tmp_path / "out" / "summary_fy.csv").exists()


# --------------------------------------------------------------------------- bad input: exit 2

def test_misspelt_parameter_exit_2_writes_nothing(tmp_path, capsys):
    scenario = _write(tmp_path, MISSPELT)
    out = tmp_path / "out"
    assert _run(scenario, out) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"cpabm: error: {scenario}: ")
    assert "unknown parameter 'referral_threshhold' = 1.0" in err
    assert "did you mean 'referrer_threshold'?" in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1  # one-line message
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["tiny.toml"]  # no temp folders either


@pytest.mark.parametrize("setting, fragments", [
    ("referer_threshold=1.5", ["--set: unknown parameter 'referer_threshold' = '1.5'",
                               "did you mean 'referrer_threshold'?"]),
    ("team_size=500", ["--set: parameter 'team_size' = 500 is out of range",
                       "valid range is [1, 100] (posts)"]),
    ("compliance_priority=yes", ["--set: parameter 'compliance_priority' = 'yes'",
                                 "expected true or false"]),
    ("referrer_threshold", ["--set: 'referrer_threshold' is not of the form key=value"]),
], ids=["unknown_key", "out_of_range", "bad_bool", "no_equals"])
def test_bad_set_exit_2_writes_nothing(tmp_path, capsys, setting, fragments):
    scenario = _write(tmp_path, TINY)
    out = tmp_path / "out"
    assert _run(scenario, out, "--set", "warmup_weeks=0", "--set", setting) == 2
    err = capsys.readouterr().err
    assert err.startswith("cpabm: error: --set: ")
    for frag in fragments:
        assert frag in err
    assert not out.exists()


def test_nonexistent_scenario_exit_2(tmp_path, capsys):
    missing = tmp_path / "nope" / "missing.toml"
    out = tmp_path / "out"
    assert _run(missing, out) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"cpabm: error: {missing}: file not found"
    assert not out.exists()


def test_negative_seed_exit_2(tmp_path, capsys):
    scenario = _write(tmp_path, TINY)
    out = tmp_path / "out"
    assert _run(scenario, out, "--seed=-1") == 2
    err = capsys.readouterr().err
    assert "--seed = -1 is out of range: valid range is [0, 2**63)" in err
    assert not out.exists()


def test_non_integer_seed_is_a_usage_error(tmp_path, capsys):
    scenario = _write(tmp_path, TINY)
    out = tmp_path / "out"
    assert _run(scenario, out, "--seed", "one") == 2
    err = capsys.readouterr().err
    assert "argument --seed: invalid int value: 'one'" in err
    assert not out.exists()


def test_out_is_a_file_exit_2(tmp_path, capsys):
    scenario = _write(tmp_path, TINY)
    out = tmp_path / "taken"
    out.write_text("not a folder")
    assert _run(scenario, out) == 2
    err = capsys.readouterr().err
    assert f"--out = '{out}' exists and is not a folder" in err
    assert out.read_text() == "not a folder"


def test_real_console_script_exits_2_on_a_misspelt_parameter(tmp_path):
    assert CPABM.exists(), f"console script not installed at {CPABM}"
    scenario = _write(tmp_path, MISSPELT)
    out = tmp_path / "out"
    proc = subprocess.run([str(CPABM), "run", str(scenario), "--out", str(out), "--quiet"],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    assert proc.stderr.startswith(f"cpabm: error: {scenario}: ")
    assert "unknown parameter 'referral_threshhold' = 1.0" in proc.stderr
    assert "did you mean 'referrer_threshold'?" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists()
    assert not (tmp_path / "results").exists()  # nothing written under the default folder


# --------------------------------------------------------------------------- cpabm params

def test_params_lists_every_parameter(capsys):
    assert main(["params"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(PARAMETERS)
    row = next(line for line in lines if line.split()[0] == "referrer_threshold")
    assert "1.9" in row and "[-3.0, 6.0]" in row and "latent units" in row
    assert [line.split()[0] for line in lines] == list(PARAMETERS)


def test_params_markdown_is_a_table_of_every_parameter(capsys):
    assert main(["params", "--markdown"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == ("| name | mechanism | unit | default | range | calibrated | description "
                        "| source |")
    assert lines[1] == "|---|---|---|---|---|---|---|---|"
    assert any(line.startswith("| `referrer_threshold` |") for line in lines)
    assert sum(line.startswith("| `") for line in lines) == len(PARAMETERS)


def test_outputs_lists_every_series_and_indicator_with_its_unit(capsys):
    from abm.core import indicators as I

    assert main(["outputs"]) == 0
    lines = capsys.readouterr().out.splitlines()
    names = [line.split()[0] for line in lines]
    assert names == [s.name for s in I.SERIES] + [i.name for i in I.INDICATORS]
    row = next(line for line in lines if line.split()[0] == "care_open_age_weeks")
    assert "weeks" in row and "(= " in row  # a derived indicator shows its formula


# --------------------------------------------------------------------------- cpabm compare-runs

def test_compare_runs_of_the_same_seed_writes_their_differences(runs, tmp_path, capsys):
    (rc_a, a), (rc_b, b) = runs["a"], runs["b"]
    assert rc_a == 0 and rc_b == 0
    out = tmp_path / "cmp"
    assert main(["compare-runs", str(a), str(b), "--out", str(out)]) == 0
    assert (out / "difference_fy.csv").exists()
    assert (out / "relative_difference_fy.csv").exists()
    diff = pd.read_csv(out / "difference_fy.csv", index_col="fy")
    sa = pd.read_csv(a / "summary_fy.csv", index_col="fy")
    sb = pd.read_csv(b / "summary_fy.csv", index_col="fy")
    assert list(diff.index) == list(sa.index)
    assert diff.loc["FY2008", "referrals"] == pytest.approx(
        sb.loc["FY2008", "referrals"] - sa.loc["FY2008", "referrals"], rel=1e-5)
    # same seed, a lower referrer threshold (1.5 against the default 1.9): more referrals
    assert diff.loc["FY2008", "referrals"] > 0 and diff.loc["FY2008", "referrals_children"] > 0
    # the relative differences are the differences over the base run's (a's) magnitude,
    # missing where the base is zero or missing
    rel = pd.read_csv(out / "relative_difference_fy.csv", index_col="fy")
    assert list(rel.index) == list(sa.index) and list(rel.columns) == list(sa.columns)
    want = (sb - sa) / sa.abs().where(sa.abs() > 0)
    pd.testing.assert_frame_equal(rel.isna(), want.isna())
    pd.testing.assert_frame_equal(rel, want, check_dtype=False, rtol=1e-5, atol=1e-9)
    assert rel.loc["FY2008", "referrals"] == pytest.approx(
        diff.loc["FY2008", "referrals"] / sa.loc["FY2008", "referrals"], rel=1e-5)
    assert (sa < 0).any().any()  # some base values are negative: divided by their size
    md = (out / "difference_fy.md").read_text()
    assert md.startswith("# tiny minus tiny (seed 1)")
    assert f"wrote {out}/" in capsys.readouterr().out


def test_compare_runs_different_seeds_exit_2(runs, tmp_path, capsys):
    (rc_a, a), (rc_c, c) = runs["a"], runs["c"]
    assert rc_a == 0 and rc_c == 0
    out = tmp_path / "cmp"
    assert main(["compare-runs", str(a), str(c), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "runs have different seeds (1 vs 2)" in err
    assert not out.exists()


def test_compare_runs_not_a_run_folder_exit_2(runs, tmp_path, capsys):
    _, a = runs["a"]
    empty = tmp_path / "empty"
    empty.mkdir()
    out = tmp_path / "cmp"
    assert main(["compare-runs", str(a), str(empty), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{empty / 'run.json'}: not found" in err
    assert not out.exists()


def test_no_command_is_a_usage_error(capsys):
    assert main([]) == 2
    assert "required: command" in capsys.readouterr().err


def test_outputs_doc_names_exactly_the_files_a_run_writes(runs):
    """docs/outputs.md (generated: make_docs.RUN_FILES_DOC) lists every file `cpabm run`
    writes, and no other."""
    import re

    rc, out = runs["a"]
    assert rc == 0
    text = (Path(__file__).resolve().parents[2] / "docs" / "outputs.md").read_text()
    listed = text.split("`cpabm run` writes:", 1)[1].split("\n## ", 1)[0]
    named = {n for n in re.findall(r"`([^`]+\.(?:parquet|csv|md|png|json))`", listed)
             if "/" not in n}
    assert named == {p.name for p in out.iterdir()}
