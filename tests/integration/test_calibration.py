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


#: SHA-256 of the shared targets file (../shared/targets/england_2005_2011.toml beside the
#: checkout), taken from it, so that the packaged copy is checked where the shared file is
#: not present too. A new version of the shared file needs a new copy and a new hash.
SHARED_TARGETS_SHA256 = "43add25541cb70f6b3ac68a331d7b17b0d21af2b5e0b383dd5b6afb5f4638bbf"


def test_the_copied_targets_are_verbatim():
    import hashlib

    from conftest import ROOT as PROJECT_ROOT
    copy = C.TARGETS_FILE.read_bytes()
    assert hashlib.sha256(copy).hexdigest() == SHARED_TARGETS_SHA256
    shared = PROJECT_ROOT.parent / "shared" / "targets" / "england_2005_2011.toml"
    if shared.exists():  # beside the checkout: the copy is that file, byte for byte
        assert copy == shared.read_bytes()


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


def _record_runs(monkeypatch) -> list:
    """Keep every run's statistics as ``(point, seed, rows)``: ``cpabm validate`` looks up
    ``evaluate_targets`` when it runs, and with ``--workers 1`` runs it in this process."""
    runs, real = [], C.evaluate_targets

    def evaluate(point, seed, context):
        rows = real(point, seed, context)
        runs.append((dict(point), seed, rows))
        return rows
    monkeypatch.setattr(C, "evaluate_targets", evaluate)
    return runs


def _by_target(runs) -> dict:
    import numpy as np
    out = {}
    for _, _, rows in runs:
        for tid, _, v in rows:
            out.setdefault(tid, []).append(float(v))
    return {k: np.array(v) for k, v in out.items()}


def test_validate_prints_json_and_exits_nonzero_on_a_miss_and_zero_on_a_pass(
        tmp_path, capsys, monkeypatch):
    """Each row's median and 10-90% band are those of the replicates' own statistics; a
    fitted target outside its band exits 1, and the same replicates judged against a band
    that holds their median exit 0 (replayed: no more runs)."""
    import dataclasses

    import numpy as np

    from abm.batch.seeds import replication_seeds
    p = tmp_path / "cal_tiny.toml"
    p.write_text(SPEC_SCENARIO)
    runs = _record_runs(monkeypatch)
    code = main(["validate", str(p), "--replicates", "2", "--workers", "1", "--no-variants",
                 "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert [(pt, s) for pt, s, _ in runs] == [({}, s) for s in replication_seeds(2010, 2)]
    ids = {r["id"] for r in doc["targets"]}
    assert "care_duration_q2_fy2010" in ids and "triage_referral_share" not in ids
    values = _by_target(runs)
    for r in doc["targets"]:
        x = values[r["id"]]
        assert r["replicates"] == np.isfinite(x).sum(), r["id"]
        if not np.isnan(x).any():  # the median of every replicate, as the calibration's
            assert r["median"] == np.median(x), r["id"]
            # interpolated, or the nearest observed values where a ratio had nothing to
            # divide by (an infinite replicate: interpolating between infinities is undefined)
            method = "inverted_cdf" if np.isinf(x).any() else "linear"
            assert [r["p10"], r["p90"]] == list(np.nanquantile(x, [0.1, 0.9], method=method)), (
                r["id"])
        else:  # a replicate without a value: no median, never a pass
            assert np.isnan(r["median"]) and not r["pass"], r["id"]
        assert r["pass"] == (r["lo"] <= r["median"] <= r["hi"]), r["id"]
    rows = {r["id"]: r for r in doc["targets"]}
    r = rows["referrals_fy2008"]
    assert r["replicates"] == 2 and r["p10"] < r["p90"]  # two replicates that differ
    # a 20,000-child LA is not England: its referrals are under a tenth of the band's floor
    assert r["fitted"] and not r["pass"] and r["median"] < r["lo"] / 10
    assert code == 1 and doc["meta"]["ok"] is False

    # the same replicates, replayed, against the referrals target alone with a band that
    # holds their median, beside a target outside its band that is checked but not fitted
    by_seed = {s: rows_ for _, s, rows_ in runs}
    monkeypatch.setattr(C, "evaluate_targets", lambda point, seed, context: by_seed[seed])
    real = {t.id: t for t in C.load_targets()}
    med, cp = r["median"], rows["cp_plan_share"]["median"]

    def judged(lo, hi):
        targets = [dataclasses.replace(real["referrals_fy2008"], lo=lo, hi=hi),
                   dataclasses.replace(real["cp_plan_share"], weight=0.0, lo=cp + 1, hi=cp + 2)]
        monkeypatch.setattr(C, "load_targets", lambda *a, **k: targets)
        code = main(["validate", str(p), "--replicates", "2", "--workers", "1",
                     "--no-variants", "--json"])
        return code, {x["id"]: x for x in json.loads(capsys.readouterr().out)["targets"]}

    code, got = judged(0.9 * med, 1.1 * med)
    assert got["referrals_fy2008"]["median"] == med and got["referrals_fy2008"]["pass"]
    assert not got["cp_plan_share"]["pass"]  # outside, but not fitted: not a failure
    assert code == 0
    code, got = judged(1.001 * med, 1.1 * med)  # just above the median: a miss again
    assert not got["referrals_fy2008"]["pass"] and code == 1
    # --exit-zero records the same table and exits 0 (make calibration-outputs)
    code = main(["validate", str(p), "--replicates", "2", "--workers", "1", "--no-variants",
                 "--json", "--exit-zero"])
    again = {x["id"]: x for x in json.loads(capsys.readouterr().out)["targets"]}
    assert code == 0 and not again["referrals_fy2008"]["pass"]


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
        tmp_path, capsys, monkeypatch):
    """Posterior draws with four times the contact rate must move the referral band far
    above the seed-only band of the scenario as it is; every main target gets both bands."""
    import numpy as np

    p = tmp_path / "cal_tiny.toml"
    p.write_text(SPEC_SCENARIO)
    folder = _posterior_folder(tmp_path / "abc", 0.0144)
    runs = _record_runs(monkeypatch)
    code = main(["validate", str(p), "--replicates", "2", "--workers", "1", "--no-variants",
                 "--posterior", str(folder), "--draws", "3", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 1
    assert doc["meta"]["posterior"]["draws"] == 3 and doc["meta"]["posterior"]["ess"] == 50
    seed_only = _by_target([x for x in runs if not x[0]])
    drawn = [x for x in runs if x[0]]
    assert len(drawn) == 3 and len(runs) == 5
    assert all(0.0144 * 0.98 <= pt["contact_rate"] <= 0.0144 * 1.02 for pt, _, _ in drawn)
    post = _by_target(drawn)
    rows = {r["id"]: r for r in doc["targets"]}
    r = rows["referrals_fy2008"]
    assert r["post_draws"] == 3 and r["replicates"] == 2
    # the two 5-95% bands are those of the seed-only replicates' and the draws' statistics
    x, y = seed_only["referrals_fy2008"], post["referrals_fy2008"]
    assert [r["p05"], r["p95"]] == list(np.quantile(x, [0.05, 0.95]))
    assert [r["post_p05"], r["post_median"], r["post_p95"]] == list(
        np.quantile(y, [0.05, 0.5, 0.95]))
    assert r["post_p05"] > 2.5 * r["p95"]  # 4x the contacts: far more referrals
    assert all("post_median" in x for x in doc["targets"])
    from abm.studies.validate import markdown
    md = markdown(doc["targets"], doc["meta"])
    assert "Posterior predictive: 3 draws" in md and "| `referrals_fy2008` |" in md.split(
        "Posterior predictive")[1]
    # a folder that is not a calibration's: refused before anything runs
    assert main(["validate", str(p), "--posterior", str(tmp_path), "--workers", "1"]) == 2
    assert "not a finished calibration" in capsys.readouterr().err
