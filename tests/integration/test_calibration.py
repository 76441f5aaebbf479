"""The calibration targets, their measurement on runs, the ABC adapter and `cpabm validate`."""

import json
import tomllib

import pytest

from abm.cli import main
from abm.core.errors import ConfigError
from abm.studies import targets as C

SPEC_SCENARIO = """\
[scenario]
name = "cal_tiny"
start = 2008-04-07
end = 2010-10-03
regime = "prescriptive"
places = { children = 20000 }
scale = 0.5

[parameters]
warmup_weeks = 52

[[events]]
date = 2008-11-12
type = "media_shock"
magnitude = 1.0
"""


def test_every_target_in_the_copied_file_is_mapped_and_tolerances_follow_it():
    raw = tomllib.loads(C.TARGETS_FILE.read_text())
    targets = {t.id: t for t in C.load_targets()}
    mapped = {t.id for t in targets.values()} | {
        m.get("from_target") for m in tomllib.loads(C.MAP_FILE.read_text()).values()}
    assert {t["id"] for t in raw["target"]} <= mapped
    r = targets["referrals_fy2008"]
    assert (r.lo, r.hi) == pytest.approx((547000 * 0.97, 547000 * 1.03))
    ca = targets["core_assessment_share"]  # value_range widened by tolerance_abs
    assert (ca.lo, ca.hi) == pytest.approx((0.205, 0.245))
    assert targets["care_duration_q2_fy2010"].periods == ("2010-Q3",)  # Jul-Sep = calendar Q3


def test_the_copied_targets_are_verbatim():
    from conftest import ROOT as PROJECT_ROOT
    shared = PROJECT_ROOT.parent / "shared" / "targets" / "england_2005_2011.toml"
    if not shared.exists():
        pytest.skip("the shared targets are not beside this checkout")
    assert C.TARGETS_FILE.read_bytes() == shared.read_bytes()


def test_bad_map_entries_are_refused(tmp_path):
    bad = tmp_path / "map.toml"
    bad.write_text('[referrals_fy2008]\ntable = "fy"\nindicator = "referrals_children"\nperiod = ["FY2008"]\n')
    with pytest.raises(ConfigError, match="unknown key 'period'"):
        C.load_targets(C.TARGETS_FILE, bad)
    bad.write_text('[no_such]\ntable = "fy"\nindicator = "referrals_children"\n')
    with pytest.raises(ConfigError, match="no \\[\\[target\\]\\] with id 'no_such'"):
        C.load_targets(C.TARGETS_FILE, bad)
    bad.write_text('[referrals_fy2008]\ntable = "week"\nindicator = "referrals_children"\n')
    with pytest.raises(ConfigError, match="table = 'week'"):
        C.load_targets(C.TARGETS_FILE, bad)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    from abm.core.model import ChildProtectionModel
    from abm.core.scenario import load_scenario
    p = tmp_path_factory.mktemp("cal") / "cal_tiny.toml"
    p.write_text(SPEC_SCENARIO)
    return p, ChildProtectionModel(load_scenario(p), rng=3, agent_views=False).run()


def test_statistics_follow_the_official_definitions(tiny_run):
    from abm.outputs.tables import summary
    _, m = tiny_run
    targets = C.load_targets()
    st = C.target_statistics(m, targets)
    fy = summary(m, "fy")
    # counts are rescaled from the 1-in-2 sample to 1:1
    assert st["referrals_fy2008"] == pytest.approx(fy.at["FY2008", "referrals_children"] / 0.5)
    assert st["cp_plan_share"] == pytest.approx(fy.loc[["FY2008", "FY2009"], "cp_plan_share"].mean())
    assert fy.at["FY2008", "court_applications"] > 0
    rise = fy.at["FY2009", "court_applications"] / fy.at["FY2008", "court_applications"] - 1
    assert st["care_applications_rise_fy2009"] == pytest.approx(rise)
    q = summary(m, "quarter")
    assert st["care_duration_q2_fy2009"] == pytest.approx(q.at["2009-Q3", "care_mean_duration_weeks"],
                                                          nan_ok=True)
    # periods before the run are missing, not zero
    assert st["series:referrals_by_year:FY2005"] != st["series:referrals_by_year:FY2005"]


def test_a_rise_from_nothing_is_missing_not_an_error():
    """A run with no care applications in the base year has no rise (NaN: an infinite ABC
    distance), rather than stopping the calibration with a division by zero."""
    import math

    import pandas as pd

    (rise,) = [t for t in C.load_targets() if t.id == "care_applications_rise_fy2009"]
    fy = pd.DataFrame({"court_applications": [0.0, 4.0]}, index=["FY2008", "FY2009"])
    assert math.isnan(C._measure(rise, {"fy": fy}, 0.5))
    fy.loc["FY2008", "court_applications"] = 2.0
    assert C._measure(rise, {"fy": fy}, 0.5) == pytest.approx(1.0)


def _spec(tmp_path, extra=""):
    (tmp_path / "cal_tiny.toml").write_text(SPEC_SCENARIO)
    spec = tmp_path / "spec.toml"
    spec.write_text(f"""
[calibration]
name = "t"
particles = 4
generations = 1
replicates = 1
seed = 1
[model]
adapter = "abm.studies.targets:CalibrationAdapter"
scenario = "cal_tiny.toml"
[targets]
use = ["referrals_fy2008", "cp_plan_share", "care_applications_rise_fy2009"]
{extra}
[priors.contact_rate]
dist = "uniform"
low = 0.003
high = 0.004
""")
    return spec


def test_adapter_plugs_targets_into_the_abc_engine(tmp_path):
    from abm.batch.abc import load_calibration_spec
    spec = load_calibration_spec(_spec(tmp_path))
    assert [t.id for t in spec.targets] == ["referrals_fy2008", "cp_plan_share",
                                            "care_applications_rise_fy2009"]
    rows = C.evaluate_targets({"contact_rate": 0.0035}, 5, spec.context)
    assert [r[0] for r in rows] == [t.id for t in spec.targets]
    assert all(r[2] == r[2] for r in rows)  # all measured
    with pytest.raises(ConfigError, match="targets.use: 'nope' is not a target"):
        load_calibration_spec(_bad_use(tmp_path))
    with pytest.raises(ConfigError, match="one-LA variant check"):
        load_calibration_spec(_bad_use(tmp_path, "triage_referral_share"))


def _bad_use(tmp_path, tid="nope"):
    p = _spec(tmp_path)
    p.write_text(p.read_text().replace('use = ["referrals_fy2008",', f'use = ["{tid}",'))
    return p


def test_validate_prints_json_and_exits_nonzero_on_a_miss(tmp_path, capsys):
    p = tmp_path / "cal_tiny.toml"
    p.write_text(SPEC_SCENARIO)
    code = main(["validate", str(p), "--replicates", "2", "--workers", "1", "--no-variants",
                 "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 1 and doc["meta"]["ok"] is False  # a 6,000-child LA is not England
    ids = {r["id"] for r in doc["targets"]}
    assert "care_duration_q2_fy2010" in ids and "triage_referral_share" not in ids
    r = next(r for r in doc["targets"] if r["id"] == "referrals_fy2008")
    assert r["replicates"] == 2 and r["p10"] <= r["median"] <= r["p90"]
    assert r["pass"] == (r["lo"] <= r["median"] <= r["hi"])


def test_validate_refuses_bad_arguments(tmp_path, capsys):
    p = tmp_path / "cal_tiny.toml"
    p.write_text(SPEC_SCENARIO)
    assert main(["validate", str(p), "--scale", "1.5"]) == 2
    assert "--scale = 1.5 is out of range" in capsys.readouterr().err
    assert main(["validate", str(p), "--replicates", "0"]) == 2
    assert "--replicates = 0 is out of range" in capsys.readouterr().err
    assert main(["validate", str(tmp_path / "missing.toml")]) == 2


def test_timeliness_targets_are_mapped_checked_and_sourced():
    """The published on-time shares of initial and core assessments (a file of their own)
    are read with the main targets and mapped to the model's shares: those of 2007-08
    fitted (weight > 0), the later years checked (weight 0), as each entry says."""
    raw = tomllib.loads((C.TARGETS_DIR / "casework_2006_2010.toml").read_text())
    targets = {t.id: t for t in C.load_targets()}
    for t in raw["target"]:
        assert t["source"] and t["definition"], t["id"]
        assert t["fitted"] is (t["period"] == "FY2007"), t["id"]
        spec = targets[t["id"]]
        assert (spec.weight > 0) is t["fitted"]
        assert spec.indicator in ("ia_on_time_share", "ca_on_time_share")
        assert spec.periods == (t["period"],) and spec.lo < t["value"] < spec.hi
    assert targets["ia_on_time_fy2009"].value == pytest.approx(0.67)
    assert targets["ca_on_time_fy2007"].value == pytest.approx(0.80)


def _posterior_folder(root, rate):
    """A synthetic ABC-SMC result whose posterior puts contact_rate at ``rate``."""
    import numpy as np
    import pandas as pd

    root.mkdir()
    (root / "manifest.json").write_text(json.dumps({
        "name": "synthetic", "identity_sha256": "cd" * 32,
        "spec": {"identity": {"fixed": {"warmup_weeks": 52}, "priors": {
            "contact_rate": {"dist": "uniform", "low": 0.001, "high": 0.05, "kind": "float"}}}}}))
    n = 50
    pd.DataFrame({"generation": 4, "particle": np.arange(n), "candidate": np.arange(n),
                  "weight": np.full(n, 1 / n), "distance": 0.5,
                  "contact_rate": rate * np.linspace(0.98, 1.02, n)}).to_parquet(
        root / "posterior.parquet", index=False)
    return root


def test_validate_posterior_shows_the_band_over_posterior_draws_beside_the_seed_band(
        tmp_path, capsys):
    """Posterior draws with four times the contact rate must move the referral band far
    above the seed-only band of the scenario as it is; every main target gets both bands."""
    p = tmp_path / "cal_tiny.toml"
    p.write_text(SPEC_SCENARIO)
    folder = _posterior_folder(tmp_path / "abc", 0.0144)
    code = main(["validate", str(p), "--replicates", "2", "--workers", "1", "--no-variants",
                 "--posterior", str(folder), "--draws", "3", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 1
    assert doc["meta"]["posterior"]["draws"] == 3 and doc["meta"]["posterior"]["ess"] == 50
    rows = {r["id"]: r for r in doc["targets"]}
    r = rows["referrals_fy2008"]
    assert r["post_draws"] == 3 and r["replicates"] == 2
    assert r["p05"] <= r["median"] <= r["p95"] and r["post_p05"] <= r["post_median"] <= r["post_p95"]
    assert r["post_p05"] > 2.5 * r["p95"]  # 4x the contacts: far more referrals
    assert all("post_median" in x for x in doc["targets"])
    from abm.studies.validate import markdown
    md = markdown(doc["targets"], doc["meta"])
    assert "Posterior predictive: 3 draws" in md and "| `referrals_fy2008` |" in md.split(
        "Posterior predictive")[1]
    # a folder that is not a calibration's: refused before anything runs
    assert main(["validate", str(p), "--posterior", str(tmp_path), "--workers", "1"]) == 2
    assert "not a finished calibration" in capsys.readouterr().err
