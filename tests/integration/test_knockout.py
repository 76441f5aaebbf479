"""``cpabm knockout``: the loop-knockout experiment on a tiny scenario.

One LA of 3,000 children for one year with a media shock (errors for B2 and R to act on) and
a compliance target of 0.99 (a shortfall for B1 to act on), 2 paired replications of the
shipped template's 11 variants, serial. The runs take a few seconds; the Numba kernels are
loaded (or compiled, ~45 s the first time ever) once per test process.
"""

from __future__ import annotations

import argparse
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT

from abm.batch.spec import load_spec
from abm.batch.store import ResultStore
from abm.core import tomlio
from abm.core.errors import ConfigError
from abm.studies import adapter as cpmodel
from abm.studies import knockout

TEMPLATE = ROOT / "experiments" / "sweeps" / "loop_knockout.toml"

TINY_SHOCK = """\
[scenario]
name = "tiny_shock"
start = 2008-04-07
end = 2009-03-31
regime = "prescriptive"
places = { children = 3000 }

[parameters]
warmup_weeks = 26
compliance_target = 0.99

[[events]]
date = 2008-06-02
type = "media_shock"
magnitude = 1.0
"""

KNOCKOUTS = ["no_b1", "no_b2", "no_r", "no_loops", "no_ripple", "no_ripple_loop",
             "no_ripple_quits", "no_ripple_status", "no_quits", "no_requisite_variety"]


def args_of(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    knockout.configure(p)
    return p.parse_args(list(argv))


def run_ko(*argv: str) -> int:
    return knockout.run(args_of(*argv, "--quiet"))


@pytest.fixture(scope="module")
def scenario(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("scen") / "tiny_shock.toml"
    p.write_text(TINY_SHOCK)
    return p


@pytest.fixture(scope="module")
def done(tmp_path_factory, scenario) -> Path:
    """The shipped template on the tiny scenario: 11 variants x 2 replications."""
    cpmodel.warm()
    out = tmp_path_factory.mktemp("ko") / "out"
    assert run_ko("--scenario", str(scenario), "--scale", "1", "--replications", "2",
                  "--workers", "0", "--out", str(out)) == 0
    return out


def runs_long(out: Path) -> pd.DataFrame:
    return pd.read_parquet(out / "sweep" / "summary" / "runs_long.parquet")


# --------------------------------------------------------------------------- the template

def test_template_is_a_valid_variants_spec():
    spec = load_spec(TEMPLATE)
    v = spec.design.params["variants"]
    assert list(v) == ["full", *KNOCKOUTS] and spec.reference == 0
    assert v["full"] == {}
    assert v["no_b1"] == {"mech_loop_b1": False}
    assert v["no_loops"] == {"mech_loop_b1": False, "mech_loop_b2": False, "mech_loop_r": False}
    assert v["no_ripple"] == {"quit_stress_slope": 0.0, "quit_satisfaction_slope": 0.0,
                              "mech_status": False, "ripple_gain": 0.0}
    assert v["no_ripple_loop"] == {"ripple_gain": 0.0}
    assert v["no_quits"] == {"mech_turnover": False}
    assert {m.periods for m in spec.metrics} == {("FY2009", "FY2010", "FY2011")}
    assert set(knockout.MEANINGS) == set(v)


# --------------------------------------------------------------------------- the command

def test_command_writes_the_table_report_and_figure(done):
    for f in ("report.md", "knockout_table.csv", "knockout_matrix.csv", "knockout.png",
              "knockout.json", "inputs/loop_knockout.toml", "inputs/scenario.toml"):
        assert (done / f).is_file(), f
    assert (done / "knockout.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    t = pd.read_csv(done / "knockout_table.csv")
    assert list(t["variant"].unique()) == KNOCKOUTS
    assert len(t) == len(KNOCKOUTS) * 20 and (t["n_pairs"] == 2).all()
    # contribution = full - knockout, its CI around it, and consistent with the medians
    assert (t["ci_lo"] <= t["contribution"] + 1e-12).all()
    assert (t["contribution"] <= t["ci_hi"] + 1e-12).all()
    r = t.set_index(["variant", "metric"]).loc[("no_loops", "prescription")]
    assert r["knockout_median"] == pytest.approx(1.6)  # no pull: the regime's level
    assert r["contribution"] == pytest.approx(r["full_median"] - 1.6, abs=1e-7)  # as written (7 digits)
    md = (done / "report.md").read_text()
    assert "## Contributions at a glance" in md and "### no_requisite_variety" in md
    assert "| no_ripple | `quit_stress_slope = 0.0`, `quit_satisfaction_slope = 0.0`, " \
           "`mech_status = false`, `ripple_gain = 0.0` |" in md
    # the metric window moved to the scenario's only financial year, and says so
    assert "mean per financial year over FY2008" in md
    spec = tomllib.loads((done / "inputs" / "loop_knockout.toml").read_text())
    assert spec["sweep"]["replications"] == 2 and spec["model"]["scenario"] == "scenario.toml"
    # the record of the spec is the sweep that ran: `cpabm sweep` on it resumes the same runs
    m = ResultStore(done / "sweep").manifest()
    recorded = load_spec(done / "inputs" / "loop_knockout.toml")
    assert recorded.identity_hash() == m["identity_sha256"]
    assert recorded.canonical_hash() == m["canonical_sha256"]
    assert m["spec_path"] == str(done / "inputs" / "loop_knockout.toml")
    assert m["spec_text"] == (done / "inputs" / "loop_knockout.toml").read_text()
    assert tomllib.loads((done / "inputs" / "scenario.toml").read_text())["scenario"][
        "scale"] == 1.0


def test_every_variant_of_a_replication_shares_its_seed(done):
    t = runs_long(done)
    assert (t.groupby("replication")["seed"].nunique() == 1).all()
    assert t["seed"].nunique() == 2
    assert sorted(t["variant"].unique()) == sorted(["full", *KNOCKOUTS])


def test_each_loop_knockout_zeroes_its_pull_and_moves_prescription(done):
    t = runs_long(done)
    w = t.pivot_table(index=["variant", "replication"], columns="indicator", values="value")
    full = w.loc["full"]
    # every loop pulls in the full model, in its direction (App2: B1 and R up, B2 down)
    assert (full["loop_b1_pull"] > 0).all() and (full["loop_r_pull"] > 0).all()
    assert (full["loop_b2_pull"] < 0).all()
    for variant, pull in (("no_b1", "loop_b1_pull"), ("no_b2", "loop_b2_pull"),
                          ("no_r", "loop_r_pull")):
        assert (w.loc[variant][pull] == 0).all(), variant
        others = [c for c in ("loop_b1_pull", "loop_b2_pull", "loop_r_pull") if c != pull]
        assert (w.loc[variant][others].abs().sum(axis=1) > 0).all()  # only this one stops
    # without any loop, none pulls
    assert (w.loc["no_loops"][["loop_b1_pull", "loop_b2_pull", "loop_r_pull"]] == 0).all().all()
    # replication by replication (same seed): without B1 or R prescription is lower,
    # without B2 it is higher; without any loop it stays at the regime's level
    p = w["prescription"].unstack("variant")
    assert (p["no_b1"] < p["full"]).all()
    assert (p["no_r"] < p["full"]).all()
    assert (p["no_b2"] > p["full"]).all()
    np.testing.assert_allclose(p["no_loops"], 1.6, rtol=1e-12)
    # R hides errors from B2: without R, B2 pulls harder
    b2 = w["loop_b2_pull"].unstack("variant")
    assert (b2["no_r"] < b2["full"]).all()


def test_noop_variant_is_identical_to_full(tmp_path, scenario, monkeypatch):
    """Common random numbers: a variant that sets a switch to its default value runs
    separately (its own run key), and the knockout reports it as identical to the full
    model, contributing 0, while a real knockout is not identical. (That such a variant's
    runs equal the reference's exactly, indicator by indicator, is tested for any variants
    sweep in test_batch_variants.py.) The knockout builds its spec in memory: it never reads
    a spec file back."""
    import abm.batch.spec

    def no_reading(*a, **k):
        raise AssertionError("the knockout read a spec file back instead of building it")

    monkeypatch.setattr(abm.batch.spec, "load_spec", no_reading)
    raw = tomllib.loads(TEMPLATE.read_text())
    raw["variants"] = {"full": {}, "noop": {"mech_loop_b1": True},
                       "no_b2": {"mech_loop_b2": False}}
    raw["outputs"]["indicators"] = ["referrals_children", "prescription", "turnover_rate"]
    raw["metrics"] = {k: {"indicator": k, "periods": ["FY2009"]}
                      for k in raw["outputs"]["indicators"]}
    template = tmp_path / "t.toml"
    template.write_text(tomlio.dumps(raw))
    out = tmp_path / "out"
    assert run_ko("--spec", str(template), "--scenario", str(scenario), "--scale", "1",
                  "--replications", "2", "--workers", "0", "--out", str(out)) == 0
    kt = pd.read_csv(out / "knockout_table.csv")
    noop, no_b2 = kt[kt["variant"] == "noop"], kt[kt["variant"] == "no_b2"]
    assert len(noop) == len(no_b2) == 3  # one row per metric
    assert noop["identical"].all() and (noop["contribution"] == 0).all()
    # B2 pulls prescription down in the full model: without it prescription differs
    pres = no_b2.set_index("metric").loc["prescription"]
    assert not pres["identical"] and pres["contribution"] != 0
    assert "| noop |" in (out / "report.md").read_text()
    assert len(list((out / "sweep" / "runs").glob("*.parquet"))) == 6  # no shared runs


def test_rerun_is_refused_resume_rebuilds_the_report_and_replace_runs_afresh(done, scenario, capsys):
    argv = ["--scenario", str(scenario), "--scale", "1", "--replications", "2",
            "--workers", "0", "--out", str(done)]
    before = (done / "inputs" / "loop_knockout.toml").read_text()
    with pytest.raises(ConfigError, match="already holds a knockout .*add --resume"):
        run_ko(*argv)
    with pytest.raises(ConfigError, match="holds a knockout of a different model or "
                                          "scenario .*scenario_sha256"):
        run_ko(*argv[:3], "0.5", *argv[4:], "--resume")
    assert (done / "inputs" / "loop_knockout.toml").read_text() == before  # untouched
    table = (done / "knockout_table.csv").read_text()
    (done / "report.md").unlink()
    assert run_ko(*argv, "--resume") == 0  # nothing to run; the report is rebuilt
    assert (done / "report.md").exists()
    assert (done / "knockout_table.csv").read_text() == table
    assert knockout.run(args_of("--out", str(done), "--report-only")) == 0
    assert "report.md" in capsys.readouterr().out
    assert "`cpabm knockout --scenario " in (done / "report.md").read_text()
    # --replace: a changed knockout runs afresh in the same folder
    assert run_ko(*argv[:3], "0.5", *argv[4:], "--replace") == 0
    assert len(list((done / "sweep" / "runs").glob("*.parquet"))) == 22  # 11 variants x 2
    assert tomllib.loads((done / "inputs" / "scenario.toml").read_text())["scenario"][
        "scale"] == 0.5
    assert "--scale 0.5" in (done / "report.md").read_text()


def test_posterior_draws_each_replications_parameters_in_every_variant(done, scenario,
                                                                       tmp_path):
    """--posterior FOLDER: the sweep spec draws each replication's parameters from the
    calibration (what the scenario sets is kept), and the report says so."""
    import json
    import shutil

    from conftest import write_posterior

    from abm.batch.draws import describe_text

    post = write_posterior(tmp_path / "abc", {"contact_rate": [0.0031, 0.0039],
                                              "compliance_target": [0.8, 0.9]},
                           {"contact_rate": (0.003, 0.004), "compliance_target": (0.5, 1.0)})
    out = tmp_path / "ko"
    args = args_of("--scenario", str(scenario), "--replications", "2", "--posterior",
                   str(post), "--out", str(out), "--quiet")
    knockout.prepare_inputs(args, out, lambda m: None)
    spec = load_spec(out / "inputs" / "loop_knockout.toml")
    assert spec.posterior.names == ("contact_rate",)
    assert spec.posterior.kept == ("compliance_target",)  # the scenario sets it
    assert "--posterior" in knockout._argv(args)
    # the report of a knockout that drew its parameters says so
    copy = tmp_path / "done"
    shutil.copytree(done, copy)
    mpath = copy / "sweep" / "manifest.json"
    m = json.loads(mpath.read_text())
    m["posterior"] = spec.posterior.describe(m["replications"])
    mpath.write_text(json.dumps(m))
    assert knockout.run(args_of("--out", str(copy), "--report-only", "--quiet")) == 0
    assert f"- parameters: replication r runs with {describe_text(m['posterior'])}" in \
        (copy / "report.md").read_text()


@pytest.mark.parametrize("argv, message", [
    (["--replications", "1"], "--replications = 1 is out of range: valid range is >= 2"),
    (["--scale", "0"], "--scale = 0.0 is out of range: valid range is (0, 1]"),
    (["--scale", "1.5"], "--scale = 1.5 is out of range: valid range is (0, 1]"),
    (["--scale", "nan"], "--scale = nan is out of range"),
    (["--seed", "-3"], "--seed = -3 is out of range: valid range is [0, 2**63)"),
    (["--workers", "-1"], "--workers = -1 is out of range"),
    (["--scenario", "no/such.toml"], "--scenario = 'no/such.toml': no such scenario file"),
    (["--spec", str(ROOT / "experiments" / "sweeps" / "regime_comparison.toml")],
     "the template must have a variants design"),
    (["--spec", "no/such.toml"], "--spec = 'no/such.toml': file not found"),
])
def test_bad_arguments_are_refused_and_write_nothing(tmp_path, argv, message):
    out = tmp_path / "out"
    with pytest.raises(ConfigError) as e:
        run_ko(*argv, "--out", str(out))
    assert message in str(e.value)
    assert not out.exists()


def test_bad_template_content_is_refused_naming_the_key(tmp_path, scenario):
    text = TEMPLATE.read_text().replace("mech_loop_r = false\n\n[variants.no_loops]",
                                        "mech_loop_r = 2\n\n[variants.no_loops]")
    (tmp_path / "t.toml").write_text(text)
    out = tmp_path / "out"
    with pytest.raises(ConfigError) as e:
        run_ko("--spec", str(tmp_path / "t.toml"), "--scenario", str(scenario), "--out",
               str(out))
    assert str(e.value).startswith(f"{tmp_path / 't.toml'}: variants.no_r.mech_loop_r = 2 "
                                   f"has the wrong type: expected true or false"), str(e.value)
    assert not out.exists()


def test_cli_exits_2_on_bad_arguments_and_on_report_only_without_runs(tmp_path, capsys):
    assert knockout.main(["--replications", "0", "--out", str(tmp_path / "x")]) == 2
    assert "cpabm: error: --replications = 0" in capsys.readouterr().err
    assert knockout.main(["--report-only", "--out", str(tmp_path)]) == 2
    assert "no knockout sweep here" in capsys.readouterr().err


def test_every_registry_unit_is_known_to_grow_with_the_sample_or_not():
    """The knockout rescales counts to all of England by the unit: each unit of the registry
    is either a count or sum (rescaled) or one that does not grow with the sample; a new unit
    must be placed, so that no count is shown at the sample's size."""
    from abm.core import indicators as I
    from abm.studies.knockout import EXTENSIVE_UNITS

    intensive = {"% of childhood", "0..1", "anxiety units", "applications per concluded case",
                 "cases per worker", "changes per child in need", "errors per 100k children per "
                 "year", "index", "index (0 = neutral)", "index (0 = no overload)",
                 "initial assessments per referral", "latent risk units", "multiplier",
                 "per year", "prescription per year", "weeks", "weeks per child in need",
                 "years"}
    units = {x.unit for x in I.SERIES + I.INDICATORS}
    unplaced = {u for u in units - EXTENSIVE_UNITS - intensive if not u.startswith("share")}
    assert not unplaced, unplaced
    assert EXTENSIVE_UNITS <= units  # no stale unit
