"""A sweep whose replications draw their parameters from a calibration's posterior
(``[posterior]``, abm/batch/draws.py): replication r runs one particle, drawn by weight, at
every design point (arms stay paired); what the sweep sets itself is never drawn; the
posterior enters the run identity; more replications keep the earlier draws; bad input is
refused before anything runs.

The model is the Gaussian toy with no noise (y = mu), so a run's output shows the value it
was given. The posterior is a synthetic finished calibration folder over mu and nuisance.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest
from conftest import write_posterior

from abm.batch.draws import DRAW_RULE
from abm.batch.runner import run_sweep
from abm.batch.spec import load_spec
from abm.cli import main
from abm.core.errors import ConfigError

SPEC = """\
[sweep]
name = "posterior_toy"
replications = {reps}
seed = 31

[model]
adapter = "abm.batch.testfunctions:Gaussian"
sigma = 0.0

{fixed}
[factors.{factor}]
values = {values}

[outputs]
indicators = ["y", "log_rate"]

[metrics.y]
indicator = "y"

[posterior]
folder = "{folder}"
"""


def quiet(msg):
    pass


def posterior_folder(root, mu, identity="ab" * 32, extra=None, fixed=None):
    """A finished calibration folder: particles over mu (and nuisance; ``extra``: more
    parameters at 1.0 in [0, 2]), unequal weights, and the calibration's ``fixed`` values."""
    n = len(mu)
    cols = {"mu": mu, "nuisance": np.linspace(0.1, 0.9, n), **{k: np.ones(n) for k in extra or ()}}
    priors = {"mu": (-10.0, 10.0), "nuisance": (0.0, 1.0), **{k: (0.0, 2.0) for k in extra or ()}}
    return write_posterior(root, cols, priors, fixed, identity, weights=np.arange(1, n + 1))


def spec_file(tmp_path, folder, reps=5, factor="rate", values="[1.0, 100.0]", fixed="",
              name="spec.toml"):
    p = tmp_path / name
    p.write_text(SPEC.format(reps=reps, factor=factor, values=values, fixed=fixed,
                             folder=folder))
    return p


def runs(out):
    df = pq.read_table(out / "runs").to_pandas()
    return df[df["indicator"] == "y"]


def test_each_replication_runs_one_posterior_draw_at_every_design_point(tmp_path, capsys):
    mu = np.linspace(-4.0, 4.0, 9)
    posterior_folder(tmp_path / "abc", mu)
    path = spec_file(tmp_path, "abc")
    spec = load_spec(path)
    assert spec.posterior.names == ("mu", "nuisance") and spec.posterior.kept == ()
    out = tmp_path / "out"
    run_sweep(spec, out, workers=0, progress=False, log=quiet)
    y = runs(out)
    # the rule, recomputed independently: replication r's particle, at both arms
    w = np.arange(1, 10, dtype=float)
    want = [int(np.random.default_rng(np.random.SeedSequence(31, spawn_key=(3, r)))
                .choice(9, p=w / w.sum())) for r in range(5)]
    assert len(set(want)) > 1  # the replications do differ in their parameters
    for r in range(5):
        got = y[y["replication"] == r]
        assert sorted(got["rate"]) == [1.0, 100.0]
        assert np.allclose(got["value"], mu[want[r]])  # y = mu: the drawn value, both arms
    m = json.loads((out / "manifest.json").read_text())
    assert m["posterior"]["particles_by_replication"] == want
    assert m["posterior"]["rule"] == DRAW_RULE and m["posterior"]["kept"] == []
    assert main(["sweep", str(path), "--check"]) == 0
    assert f"2 parameters drawn; particles {want[:3]} ..." in capsys.readouterr().out
    assert main(["sweep", "--summarise", str(out)]) == 0
    md = (out / "summary" / "summary.md").read_text()
    assert "drawn by weight from the posterior in `abc` (calibration abababababab, " \
           "generation 4" in md
    assert "carry the parameters' uncertainty" in md


def test_draws_leave_alone_what_the_sweep_sets(tmp_path):
    """A [fixed] value or a factor wins over the draw; the posterior's parameter is then
    listed as kept and not drawn."""
    posterior_folder(tmp_path / "abc", np.linspace(-4.0, 4.0, 9))
    spec = load_spec(spec_file(tmp_path, "abc", fixed="[fixed]\nmu = 3.0\n", name="f.toml"))
    assert spec.posterior.names == ("nuisance",) and spec.posterior.kept == ("mu",)
    run_sweep(spec, tmp_path / "fixed", workers=0, progress=False, log=quiet)
    assert np.allclose(runs(tmp_path / "fixed")["value"], 3.0)
    spec = load_spec(spec_file(tmp_path, "abc", factor="mu", values="[-1.0, 2.0]",
                               name="g.toml"))
    assert spec.posterior.kept == ("mu",)
    run_sweep(spec, tmp_path / "factor", workers=0, progress=False, log=quiet)
    y = runs(tmp_path / "factor")
    assert np.allclose(y["value"], y["mu"])


def test_the_posterior_is_part_of_the_run_identity(tmp_path):
    """A sweep without [posterior] has the identity it always had (no posterior key); two
    posteriors that differ in one particle give different identities, so a folder run with
    one cannot be resumed with the other."""
    posterior_folder(tmp_path / "a", np.linspace(-4.0, 4.0, 9))
    posterior_folder(tmp_path / "b", np.r_[np.linspace(-4.0, 4.0, 8), 5.0])
    sa, sb = load_spec(spec_file(tmp_path, "a", name="a.toml")), load_spec(
        spec_file(tmp_path, "b", name="b.toml"))
    assert sa.identity()["posterior"]["posterior_sha256"] != \
        sb.identity()["posterior"]["posterior_sha256"]
    assert sa.identity_hash() != sb.identity_hash()
    plain = spec_file(tmp_path, "a", name="plain.toml")
    plain.write_text(plain.read_text().split("[posterior]")[0])
    assert "posterior" not in load_spec(plain).identity()
    run_sweep(sa, tmp_path / "out", workers=0, progress=False, log=quiet)
    with pytest.raises(ConfigError, match="holds results of a different sweep"):
        run_sweep(sb, tmp_path / "out", workers=0, resume=True, progress=False, log=quiet)


def test_a_draw_carries_the_calibrations_fixed_values(tmp_path):
    """The posterior is conditional on the calibration's [fixed] values: each draw sets them
    too, unless the sweep sets them itself."""
    posterior_folder(tmp_path / "abc", np.linspace(-4.0, 4.0, 9), fixed={"count": 7})
    spec = load_spec(spec_file(tmp_path, "abc"))
    assert spec.posterior.constants == (("count", 7),)
    assert spec.run_input(0, 1) == {"count": 7, **spec.posterior.point(1), "rate": 1.0}
    assert spec.identity()["posterior"]["fixed"] == {"count": 7}
    spec = load_spec(spec_file(tmp_path, "abc", fixed="[fixed]\ncount = 2\n", name="c.toml"))
    assert spec.posterior.constants == () and spec.posterior.kept == ("count",)


def test_more_replications_keep_the_earlier_draws(tmp_path):
    posterior_folder(tmp_path / "abc", np.linspace(-4.0, 4.0, 9))
    three = load_spec(spec_file(tmp_path, "abc", reps=3, name="three.toml"))
    eight = load_spec(spec_file(tmp_path, "abc", reps=8, name="eight.toml"))
    assert [three.run_input(1, r) for r in range(3)] == [eight.run_input(1, r) for r in range(3)]
    assert eight.run_input(0, 2) == {**eight.posterior.point(2), "rate": 1.0}


@pytest.mark.parametrize("case, message", [
    ("missing", "posterior.folder = 'nowhere': no such folder"),
    ("unfinished", "not a finished calibration"),
    ("unknown parameter", "its parameter 'zeta': unknown factor 'zeta'"),
    ("unknown key", "posterior.draws = 4 is not a key of [posterior]; allowed keys: folder"),
    ("all set", "the sweep sets every parameter of the posterior itself (mu, nuisance)"),
])
def test_bad_posteriors_are_refused_before_anything_runs(tmp_path, case, message):
    folder = "abc"
    fixed = ""
    if case == "missing":
        folder = "nowhere"
    elif case == "unfinished":
        (tmp_path / "abc").mkdir()
        (tmp_path / "abc" / "manifest.json").write_text("{}")
    elif case == "unknown parameter":
        posterior_folder(tmp_path / "abc", np.zeros(4), extra=["zeta"])
    else:
        posterior_folder(tmp_path / "abc", np.zeros(4))
        if case == "all set":
            fixed = "[fixed]\nmu = 1.0\nnuisance = 0.5\n"
    p = spec_file(tmp_path, folder, fixed=fixed)
    if case == "unknown key":
        p.write_text(p.read_text() + "draws = 4\n")
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")
                       .replace("[", r"\[").replace("]", r"\]")):
        load_spec(p)
    assert not (tmp_path / "out").exists()


def test_the_child_protection_model_keeps_its_scenarios_and_regimes_values(tmp_path):
    """With the model's own adapter, a draw changes neither a parameter the base scenario
    sets (its deliberate value) nor one a regime prescribes; the rest is drawn, and the
    drawn values reach the model's input."""
    from conftest import TINY_SCENARIO

    (tmp_path / "tiny.toml").write_text(TINY_SCENARIO + "contact_rate = 0.0036\n")
    write_posterior(tmp_path / "abc", {"contact_rate": [0.0031, 0.0039],
                                       "close_threshold": [0.41, 0.62],
                                       "scope_for_judgment": [0.2, 0.8]},
                    {"contact_rate": (0.003, 0.004), "close_threshold": (0.3, 0.7),
                     "scope_for_judgment": (0.1, 0.9)})
    p = tmp_path / "cp.toml"
    p.write_text('[sweep]\nname = "cp"\nreplications = 4\nseed = 5\n\n[model]\n'
                 'scenario = "tiny.toml"\n\n[factors.regime]\n'
                 'values = ["prescriptive", "professional_judgment"]\n\n[outputs]\n'
                 'indicators = ["referrals"]\n\n[posterior]\nfolder = "abc"\n')
    spec = load_spec(p)
    assert spec.posterior.names == ("close_threshold",)
    assert spec.posterior.kept == ("contact_rate", "scope_for_judgment")
    for r in range(4):
        want = [0.41, 0.62][spec.posterior.index(r)]
        assert spec.run_input(1, r) == {"close_threshold": want,
                                        "regime": "professional_judgment"}
    # and the model runs with them, every design point and replication
    from abm.batch.runner import run_sweep
    from abm.studies import adapter as cpmodel

    cpmodel.warm()
    run_sweep(spec, tmp_path / "out", workers=0, progress=False, log=quiet)
    m = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert m["posterior"]["kept"] == ["contact_rate", "scope_for_judgment"]
    assert len(pq.read_table(tmp_path / "out" / "runs").to_pandas()["run"].unique()) == 8
