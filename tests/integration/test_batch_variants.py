"""The 'variants' design: named override sets (scenarios as data), e.g. a mechanism knockout.

Validation (no runs), then the Ishigami test function through the whole machinery (serial,
local processes and Dask give the same table; resume; summaries with paired differences),
then one tiny model sweep (common random numbers: a no-op variant equals the reference;
another variant reaches its runs).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import TINY_SCENARIO

from abm.batch.runner import plan_runs, run_sweep
from abm.batch.spec import load_spec
from abm.batch.summary import summarise
from abm.cli import main
from abm.core.errors import ConfigError
from abm.studies import adapter as cpmodel

ISHI = """\
[sweep]
name = "ishi_variants"
replications = {reps}
seed = 5

[model]
adapter = "abm.batch.testfunctions:Ishigami"
noise_sd = 0.5

[fixed]
x3 = 1.0

[design]
type = "variants"
{design}

{variants}

[outputs]
indicators = ["y"]
"""

VARIANTS = """\
[variants.base]
x1 = 0.0
x2 = 0.5

[variants.x1_up]
x1 = 1.0
x2 = 0.5

[variants.x2_up]
x1 = 0.0
x2 = 1.5
"""

MODEL = """\
[sweep]
name = "tiny_variants"
replications = 2
seed = 8

[model]
scenario = "tiny.toml"

[design]
type = "variants"
reference = "full"

[variants.full]

[variants.noop]
mech_loop_b1 = true

[variants.no_loops]
mech_loop_b1 = false
mech_loop_b2 = false
mech_loop_r = false

[outputs]
indicators = ["referrals", "vacancy_rate", "prescription", "loop_b2_pull", "loop_r_pull"]
"""


def quiet(_msg):
    pass


def ishi(tmp_path: Path, reps=3, design='reference = "base"', variants=VARIANTS) -> Path:
    p = tmp_path / "ishi.toml"
    p.write_text(ISHI.format(reps=reps, design=design, variants=variants))
    return p


def error_of(path: Path) -> str:
    with pytest.raises(ConfigError) as e:
        load_spec(path)
    msg = str(e.value)
    assert str(path) in msg, f"the message must name the spec file: {msg}"
    return msg


def ishigami(x1, x2, x3=1.0, a=7.0, b=0.1):
    return np.sin(x1) + a * np.sin(x2) ** 2 + b * x3**4 * np.sin(x1)


# --------------------------------------------------------------------------- the design

def test_variants_design_has_a_point_per_variant_with_its_inputs_and_reference(tmp_path):
    spec = load_spec(ishi(tmp_path, design='reference = "x1_up"'))
    d = spec.design
    assert d.type == "variants"
    assert d.points == [{"variant": "base"}, {"variant": "x1_up"}, {"variant": "x2_up"}]
    assert d.inputs == [{"x1": 0.0, "x2": 0.5}, {"x1": 1.0, "x2": 0.5},
                        {"x1": 0.0, "x2": 1.5}]
    assert [f.name for f in spec.factors] == ["variant"]
    assert spec.reference == 1
    assert spec.canonical()["summary"]["reference"] == {"variant": "x1_up"}
    # default reference: the first variant
    assert load_spec(ishi(tmp_path, design="")).reference == 0
    # replication r has the same seed in every variant (common random numbers)
    runs = plan_runs(spec)
    by_rep = {}
    for r in runs:
        by_rep.setdefault(r.replication, set()).add(r.seed)
    assert all(len(s) == 1 for s in by_rep.values()) and len(by_rep) == 3
    assert len({r.key for r in runs}) == 9


def test_empty_variant_allowed_and_values_typed(tmp_path):
    p = ishi(tmp_path, design="", variants="[variants.unchanged]\n\n[variants.moved]\nx1 = 2\n")
    p.write_text(p.read_text().replace("[fixed]\n", "[fixed]\nx2 = 0.5\n"))
    spec = load_spec(p)
    assert spec.design.inputs == [{}, {"x1": 2.0}]
    assert isinstance(spec.design.inputs[1]["x1"], float)  # a whole number, typed as the factor


def test_renaming_a_variant_keeps_its_run_keys(tmp_path):
    a = {r.point: r.key for r in plan_runs(load_spec(ishi(tmp_path)))}
    renamed = VARIANTS.replace("[variants.x1_up]", "[variants.x1_higher]")
    b = {r.point: r.key for r in plan_runs(load_spec(ishi(tmp_path, variants=renamed)))}
    assert a == b


@pytest.mark.parametrize("variants, design, expected", [
    (VARIANTS + "[variants.bad]\nx1 = 9.0\n", "", "variants.bad.x1 = 9.0 is out of range: "
     "valid range is [-3.14"),
    (VARIANTS + "[variants.bad]\nx1 = \"high\"\n", "", "variants.bad.x1 = 'high' has the "
     "wrong type"),
    (VARIANTS + "[variants.bad]\nx4 = 1.0\n", "", "variants.bad.x4 = 1.0: unknown factor "
     "'x4'"),
    (VARIANTS + "[variants.bad]\nx3 = 0.5\n", "", "variants.bad.x3 = 0.5: 'x3' is also in "
     "[fixed]"),
    (VARIANTS + "[variants.again]\nx2 = 0.5\nx1 = 0.0\n", "", "variants.again = "),
    (VARIANTS, 'reference = "bsae"', "design.reference = 'bsae' is not a variant (did you "
     "mean 'base'?); valid options: base, x1_up, x2_up"),
    (VARIANTS, "reference = 1", "design.reference = 1 is not a variant"),
    (VARIANTS, "samples = 4", "design.samples = 4 is not a key of a variants design"),
    ("", "", "a variants design needs at least one [variants.NAME] table"),
    ("variants = 3", "", "design.variants = 3 is not a key of a variants design"),
    ("[variants]\nfull = 1", "", "variants.full = 1 must be a table of overrides"),
    (VARIANTS + "[factors.x3]\nrange = [0.0, 1.0]\n", "", "a variants design crosses its "
     "arms with fixed levels"),
    (VARIANTS + "[summary]\nreference = { variant = \"base\" }\n", "",
     "a variants design names its reference as design.reference"),
])
def test_bad_variants_are_refused_with_a_clear_message(tmp_path, variants, design, expected):
    if "[factors.x3]" in variants:  # x3 would be both fixed and a factor: drop [fixed]
        path = ishi(tmp_path, design=design, variants=variants)
        path.write_text(path.read_text().replace("[fixed]\nx3 = 1.0\n", ""))
    else:
        path = ishi(tmp_path, design=design, variants=variants)
    msg = error_of(path)
    assert expected in msg, msg
    if "same values" in expected or expected == "variants.again = ":
        assert "sets the same values as variants.base" in msg


def test_duplicate_variant_name_refused(tmp_path):
    msg = error_of(ishi(tmp_path, variants=VARIANTS + "[variants.base]\nx1 = 2.0\n"))
    assert "not valid TOML: Cannot declare ('variants', 'base') twice" in msg, msg


def test_variants_without_variants_design_refused(tmp_path):
    p = ishi(tmp_path, design="")
    p.write_text(p.read_text().replace('type = "variants"', 'type = "factorial"'))
    assert "[variants] is only read by a variants design" in error_of(p)


def test_model_variants_validated_against_parameters(tmp_path):
    (tmp_path / "tiny.toml").write_text(TINY_SCENARIO)
    p = tmp_path / "m.toml"
    p.write_text(MODEL.replace("mech_loop_b1 = true", "mech_loop_b1 = 1"))
    msg = error_of(p)
    assert "variants.noop.mech_loop_b1 = 1 has the wrong type: expected true or false" in msg
    p.write_text(MODEL.replace("mech_loop_b1 = true", "mech_loop_b = true"))
    msg = error_of(p)
    assert "variants.noop.mech_loop_b = True: unknown factor 'mech_loop_b' (did you mean " \
           "'mech_loop_b" in msg
    p.write_text(MODEL.replace("mech_loop_b1 = true", "prescription = 7.0"))
    msg = error_of(p)
    assert "variants.noop.prescription = 7.0 is out of range: valid range is [0.0, 5.0]" in msg
    p.write_text(MODEL.replace("mech_loop_b1 = true", 'regime = "laissez_faire"'))
    assert "variants.noop.regime = 'laissez_faire' is not a valid option" in error_of(p)


# --------------------------------------------------------------------------- running

def test_variants_give_identical_tables_on_every_executor_and_exact_paired_differences(tmp_path):
    from distributed import LocalCluster

    spec = load_spec(ishi(tmp_path, reps=4))
    run_sweep(spec, tmp_path / "serial", workers=0, progress=False, log=quiet)
    with LocalCluster(processes=False, n_workers=1, threads_per_worker=2,
                      dashboard_address=":0") as cluster:
        run_sweep(spec, tmp_path / "dask", scheduler=cluster.scheduler_address,
                  progress=False, log=quiet)
    # a half-finished sweep (2 replications), resumed to 4 in local processes
    (tmp_path / "h").mkdir()
    half = load_spec(ishi(tmp_path / "h", reps=2))
    run_sweep(half, tmp_path / "procs", workers=0, progress=False, log=quiet)
    res = run_sweep(spec, tmp_path / "procs", workers=2, resume=True, progress=False, log=quiet)
    assert (res.done_before, res.executed) == (6, 6)

    tables = {k: pd.read_parquet(summarise(tmp_path / k, log=quiet) / "runs_long.parquet")
              for k in ("serial", "dask", "procs")}
    pd.testing.assert_frame_equal(tables["serial"], tables["dask"])
    pd.testing.assert_frame_equal(tables["serial"], tables["procs"])
    t = tables["serial"]
    assert list(t["variant"].unique()) == ["base", "x1_up", "x2_up"]
    # each run got its variant's overrides (plus [fixed]); noise is the same in every
    # variant of one replication (the seed), so the paired differences are exact
    noise = t[t.variant == "base"].set_index("replication")["value"] - ishigami(0.0, 0.5)
    for name, (x1, x2) in {"x1_up": (1.0, 0.5), "x2_up": (0.0, 1.5)}.items():
        v = t[t.variant == name].set_index("replication")["value"]
        np.testing.assert_allclose(v - noise, ishigami(x1, x2), atol=1e-12)

    summ = tmp_path / "serial" / "summary"
    pdiff = pd.read_parquet(summ / "paired_differences.parquet")
    pm = pdiff[pdiff.kind == "metric"].set_index("variant")
    assert set(pm.index) == {"x1_up", "x2_up"}
    for name, (x1, x2) in {"x1_up": (1.0, 0.5), "x2_up": (0.0, 1.5)}.items():
        exact = ishigami(x1, x2) - ishigami(0.0, 0.5)
        assert pm.loc[name, "diff_mean"] == pytest.approx(exact, abs=1e-12)
        assert pm.loc[name, "sd_diff"] == pytest.approx(0.0, abs=1e-12)  # CRN: no noise
        assert pm.loc[name, "n_pairs"] == 4
    bands = pd.read_csv(summ / "metrics_bands.csv")
    assert set(bands["variant"]) == {"base", "x1_up", "x2_up"}
    assert (bands["n"] == 4).all() and (bands["q10"] <= bands["q90"]).all()
    md = (summ / "summary.md").read_text()
    assert "## Variants" in md and "| 1 | x1_up | x1 = 1, x2 = 0.5 |" in md
    assert "reference point for paired differences: 0 {'variant': 'base'}" in md
    m = json.loads((tmp_path / "serial" / "manifest.json").read_text())
    assert m["design"]["params"]["variants"]["x2_up"] == {"x1": 0.0, "x2": 1.5}


def test_renamed_variant_resumes_with_new_name(tmp_path):
    run_sweep(load_spec(ishi(tmp_path, reps=2)), tmp_path / "out", workers=0,
              progress=False, log=quiet)
    renamed = VARIANTS.replace("[variants.x1_up]", "[variants.x1_higher]")
    res = run_sweep(load_spec(ishi(tmp_path, reps=2, variants=renamed)), tmp_path / "out",
                    workers=0, resume=True, progress=False, log=quiet)
    assert res.executed == 0
    t = pd.read_parquet(summarise(tmp_path / "out", log=quiet) / "runs_long.parquet")
    assert list(t["variant"].unique()) == ["base", "x1_higher", "x2_up"]


def test_noop_model_variant_equals_full_and_variants_reach_their_runs(tmp_path, capsys):
    """A tiny model sweep through ``cpabm sweep``: 'noop' sets a switch to its default, so
    it must equal 'full' exactly (common random numbers), in the runs and in the summary's
    paired differences; 'no_loops' must reach its runs (it differs from 'full', by the
    paired differences the summary reports). What the knockouts do to the loops (their
    pulls 0, prescription at the regime's level) is tested in test_knockout.py, on a
    scenario in which every loop pulls; here B2 and R do not."""
    cpmodel.warm()
    (tmp_path / "tiny.toml").write_text(TINY_SCENARIO)
    p = tmp_path / "m.toml"
    p.write_text(MODEL)
    assert main(["sweep", str(p), "--check", "--workers", "0"]) == 0
    assert "variants: 3 points x 2 replications = 6 runs" in capsys.readouterr().out
    out = tmp_path / "out"
    assert main(["sweep", str(p), "--out", str(out), "--workers", "0", "--quiet"]) == 0
    t = pd.read_csv(out / "summary" / "runs_long.csv")
    w = t.pivot_table(index=["indicator", "period", "replication"], columns="variant",
                      values="value")
    assert len(w) == 5 * 2 and w.notna().all().all()  # 5 indicators x FY2008 x 2 replications
    np.testing.assert_array_equal(w["full"].to_numpy(), w["noop"].to_numpy())
    pdiff = pd.read_csv(out / "summary" / "paired_differences.csv")
    noop = pdiff[(pdiff.variant == "noop")]
    assert len(noop) == 10 and (noop["diff_mean"] == 0).all()
    # the paired differences are the runs' own, replication by replication (no_loops - full)
    off = pdiff[(pdiff.variant == "no_loops") & (pdiff.kind == "indicator")]
    own = (w["no_loops"] - w["full"]).groupby(level=["indicator", "period"]).mean()
    got = off.set_index(["name", "period"])["diff_mean"]
    assert len(got) == 5
    for key, value in own.items():  # the summary's CSV keeps 10 significant digits
        assert got[key] == pytest.approx(value, rel=1e-9, abs=1e-12), key
    # B1 moves prescription in 'full' here (it ends above 1.6), so with the loops off it
    # differs: the variant's overrides reached its runs
    assert own[("prescription", "FY2008")] != 0
