"""Sweep specs: validation errors, designs, factor distributions and replication seeds.

No model runs here (fast): specs are only loaded and their designs built.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, TINY_SCENARIO

from abm.batch.seeds import replication_seeds
from abm.batch.spec import build_spec, load_spec
from abm.cli import main
from abm.core.errors import ConfigError

SWEEPS = ROOT / "experiments" / "sweeps"

SCENARIO = TINY_SCENARIO

SPEC = """\
[sweep]
name = "t"
replications = 3
seed = 11

[model]
scenario = "tiny.toml"

[factors.regime]
values = ["prescriptive", "professional_judgment"]

[factors.referrer_threshold]
values = [1.7, 1.9]

[design]
type = "factorial"

[outputs]
indicators = ["referrals_children", "vacancy_rate"]
"""


def write(tmp_path: Path, spec: str, scenario: str = SCENARIO) -> Path:
    (tmp_path / "tiny.toml").write_text(scenario)
    p = tmp_path / "spec.toml"
    p.write_text(spec)
    return p


def error_of(tmp_path, spec, scenario=SCENARIO) -> str:
    path = write(tmp_path, spec, scenario)
    with pytest.raises(ConfigError) as e:
        load_spec(path)
    msg = str(e.value)
    assert str(path) in msg, f"the message must name the spec file: {msg}"
    return msg


# --------------------------------------------------------------------------- good specs

def test_example_specs_load_with_the_sizes_their_comments_promise():
    """Every shipped example spec loads as it is, with the size its comment promises."""
    sizes = {"regime_comparison": (2, 30), "workforce_morris": (112, 3),
             "workforce_sobol": (448, 1), "court_capacity": (15, 10)}
    found = {p.stem for p in SWEEPS.glob("*.toml")}
    assert set(sizes) <= found
    for name, (points, reps) in sizes.items():
        spec = load_spec(SWEEPS / f"{name}.toml")
        assert (len(spec.design.points), spec.replications) == (points, reps), name
        assert spec.n_runs == points * reps


def test_factorial_design_crosses_the_values_and_fills_the_defaults(tmp_path):
    spec = load_spec(write(tmp_path, SPEC))
    assert spec.name == "t" and spec.replications == 3 and spec.seed == 11
    assert spec.period == "fy"  # the adapter's default resolution
    assert spec.design.points == [
        {"regime": "prescriptive", "referrer_threshold": 1.7},
        {"regime": "prescriptive", "referrer_threshold": 1.9},
        {"regime": "professional_judgment", "referrer_threshold": 1.7},
        {"regime": "professional_judgment", "referrer_threshold": 1.9}]
    # without [metrics], each indicator is a metric: its mean over all periods
    assert [(m.name, m.indicator, m.periods, m.stat) for m in spec.metrics] == [
        ("referrals_children", "referrals_children", None, "mean"), ("vacancy_rate", "vacancy_rate", None, "mean")]
    assert spec.reference == 0
    # canonical form ignores comments and formatting
    again = load_spec(write(tmp_path, "# a comment\n" + SPEC.replace(" = ", "=")))
    assert again.canonical_hash() == spec.canonical_hash()
    assert again.identity_hash() == spec.identity_hash()


def test_lhs_sobol_and_morris_designs_have_their_structure_and_are_deterministic(tmp_path):
    base = SPEC.split("[factors.regime]")[0]
    factors = """
[factors.quit_hazard_base]
range = [0.001, 0.004]
distribution = "loguniform"

[factors.team_size]
range = [4, 10]

[factors.prescription]
range = [0.5, 2.0]
distribution = "triangular"
mode = 1.0
"""
    out = "\n[outputs]\nindicators = [\"referrals\"]\n"
    lhs = load_spec(write(tmp_path, base + factors + '\n[design]\ntype = "lhs"\nsamples = 20\n' + out))
    assert len(lhs.design.points) == 20
    # Latin hypercube: each factor has one point in each of the 20 equal strata
    for j in range(3):
        strata = np.floor(lhs.design.unit[:, j] * 20).astype(int)
        assert sorted(strata) == list(range(20))
    for p in lhs.design.points:
        assert 0.001 <= p["quit_hazard_base"] <= 0.004
        assert isinstance(p["team_size"], int) and 4 <= p["team_size"] <= 10
        assert 0.5 <= p["prescription"] <= 2.0
    sob = load_spec(write(tmp_path, base + factors + '\n[design]\ntype = "sobol"\nsamples = 16\n' + out))
    assert len(sob.design.points) == 16 * (3 + 2)
    mor = load_spec(write(tmp_path, base + factors
                          + '\n[design]\ntype = "morris"\ntrajectories = 5\nlevels = 4\n' + out))
    assert len(mor.design.points) == 5 * (3 + 1)
    # Morris moves one factor at a time by one grid step within a trajectory
    u = mor.design.unit
    for t in range(5):
        steps = np.abs(np.diff(u[4 * t: 4 * t + 4], axis=0))
        assert ((steps > 1e-12).sum(axis=1) == 1).all()
    # the design is a deterministic function of the spec
    again = load_spec(write(tmp_path, base + factors + '\n[design]\ntype = "sobol"\nsamples = 16\n' + out))
    assert again.design.points == sob.design.points


def test_factor_distributions_map_quantiles_to_known_values():
    from abm.batch.factors import Factor

    f = Factor("x", "float", lo=0.001, hi=0.1, distribution="loguniform")
    assert f.ppf(np.array([0.0, 0.5, 1.0])) == [0.001, pytest.approx(0.01), 0.1]
    g = Factor("n", "int", lo=1, hi=4)  # every whole number gets the same mass
    u = (np.arange(4000) + 0.5) / 4000
    assert np.bincount(g.ppf(u))[1:].tolist() == [1000, 1000, 1000, 1000]
    t = Factor("t", "float", lo=0.0, hi=2.0, distribution="triangular", mode=0.5)
    assert t.ppf(np.array([0.25]))[0] == pytest.approx(0.5)  # F(mode) = (mode-lo)/(hi-lo)
    n = Factor("z", "float", lo=-1.0, hi=3.0, distribution="truncnormal", mean=1.0, sd=1.0)
    assert n.ppf(np.array([0.5]))[0] == pytest.approx(1.0)
    lv = Factor("r", "float", lo=1.0, hi=100.0, levels=3, distribution="loguniform")
    assert lv.grid() == [1.0, pytest.approx(10.0), 100.0]


def test_replication_seeds_follow_the_documented_rule_whatever_the_count():
    s = replication_seeds(2024, 5)
    assert len(set(s)) == 5 and all(0 <= x < 2**63 for x in s)
    # documented rule: SeedSequence(root).spawn(R)[r], first 64-bit word, shifted right
    ss = np.random.SeedSequence(2024).spawn(5)[3]
    assert s[3] == int(ss.generate_state(1, np.uint64)[0]) >> 1
    # a replication's seed does not depend on how many replications there are
    assert replication_seeds(2024, 8)[:5] == s
    assert replication_seeds(2025, 5) != s


# --------------------------------------------------------------------------- bad specs

BAD = [
    # (description, replace old -> new in SPEC, expected fragments of the message)
    ("unknown factor, with a suggestion", ("[factors.referrer_threshold]", "[factors.referer_threshold]"),
     ["factors.referer_threshold", "unknown factor 'referer_threshold'",
      "did you mean 'referrer_threshold'"]),
    ("empty range", ("values = [1.7, 1.9]", "range = [1.9, 1.9]\nlevels = 2"),
     ["factors.referrer_threshold.range = [1.9, 1.9] is empty", "[-3.0, 6.0]"]),
    ("reversed range", ("values = [1.7, 1.9]", "range = [2.0, 1.0]\nlevels = 2"),
     ["factors.referrer_threshold.range = [2.0, 1.0] is empty"]),
    ("zero replications", ("replications = 3", "replications = 0"),
     ["sweep.replications = 0 is out of range", "valid range is [1, 100001)"]),
    ("negative replications", ("replications = 3", "replications = -4"),
     ["sweep.replications = -4 is out of range"]),
    ("fractional replications", ("replications = 3", "replications = 2.5"),
     ["sweep.replications = 2.5 has the wrong type"]),
    ("negative seed", ("seed = 11", "seed = -1"), ["sweep.seed = -1 is out of range"]),
    ("missing seed", ("seed = 11\n", ""), ["[sweep] needs 'seed'"]),
    ("Sobol' with a categorical factor", ('type = "factorial"', 'type = "sobol"\nsamples = 8'),
     ["factors.regime", "a sobol design samples every factor from a range", "category"]),
    ("Morris with a fixed list of values",
     ('[factors.regime]\nvalues = ["prescriptive", "professional_judgment"]\n', ""),
     ["factors.referrer_threshold", "a morris design samples every factor from a range",
      "a factor with a fixed list of values"]),
    ("LHS with a categorical factor", ('type = "factorial"', 'type = "lhs"\nsamples = 10'),
     ["factors.regime", "a lhs design samples every factor from a range"]),
    ("factorial range without levels", ("values = [1.7, 1.9]", "range = [1.0, 2.0]"),
     ["factors.referrer_threshold", "add 'levels = N'"]),
    ("unknown design", ('type = "factorial"', 'type = "latin"'),
     ["design.type = 'latin' is unknown", "factorial, lhs, sobol, morris"]),
    ("Sobol' N not a power of 2", ('type = "factorial"', 'type = "sobol"\nsamples = 100'),
     ["design.samples = 100 must be a power of 2", "64 or 128"]),
    ("Morris with odd levels", ('type = "factorial"', 'type = "morris"\ntrajectories = 4\nlevels = 3'),
     ["design.levels = 3 is out of range", "even"]),
    ("levels in a sampled design", ('type = "factorial"', 'type = "lhs"\nsamples = 8'),
     ["factors.referrer_threshold.levels: 'levels' is for factorial designs"]),
    ("unknown output, with a suggestion", ('"referrals_children", "vacancy_rate"', '"referals"'),
     ["outputs.indicators[0] = 'referals' is not an output", "did you mean 'referrals'"]),
    ("unknown output period", ('[outputs]\n', '[outputs]\nperiod = "week"\n'),
     ["outputs.period = 'week'", "fy, quarter, month"]),
    ("bad base scenario path", ('scenario = "tiny.toml"', 'scenario = "no_such.toml"'),
     ["model.scenario = 'no_such.toml': no such file"]),
    ("value out of the parameter's range", ("values = [1.7, 1.9]", "values = [1.7, 9.0]"),
     ["factors.referrer_threshold.values[1] = 9.0 is out of range", "[-3.0, 6.0]"]),
    ("unknown regime", ('"professional_judgment"]', '"laissez_faire"]'),
     ["factors.regime.values[1] = 'laissez_faire' is not a valid option", "prescriptive"]),
    ("duplicate value", ("values = [1.7, 1.9]", "values = [1.7, 1.7]"), ["lists 1.7 twice"]),
    ("unknown section", ("[design]", "[desing]"), ["unknown section [desing]", "did you mean 'design'"]),
    ("unknown factor key", ("values = [1.7, 1.9]", "values = [1.7, 1.9]\nstep = 0.1"),
     ["factors.referrer_threshold.step", "allowed keys"]),
    ("reference matching no point", ('[outputs]', '[summary]\nreference = { regime = "prescriptive", '
                                    'referrer_threshold = 1.8 }\n\n[outputs]'),
     ["summary.reference", "matches 0 design points"]),
    ("metric of an indicator not in outputs", ('[outputs]', '[metrics.m]\nindicator = "contacts"\n\n[outputs]'),
     ["metrics.m.indicator = 'contacts' is not among outputs.indicators"]),
    ("metric over a period the runs do not have",
     ('[outputs]', '[metrics.m]\nindicator = "referrals_children"\nperiods = ["FY2020"]\n\n[outputs]'),
     ["metrics.m.periods: 'FY2020' is not a period", "FY2008"]),
    ("factor both fixed and varied", ('[design]', '[fixed]\nreferrer_threshold = 1.8\n\n[design]'),
     ["'referrer_threshold' is also in [fixed]"]),
    ("fixed value out of range", ('[design]', '[fixed]\nwarmup_weeks = -5\n\n[design]'),
     ["fixed.warmup_weeks = -5 is out of range", "[0, 2000]"]),
]


@pytest.mark.parametrize("what,change,fragments", BAD, ids=[b[0] for b in BAD])
def test_bad_spec_is_refused_with_a_clear_message(tmp_path, what, change, fragments):
    old, new = change
    assert old in SPEC or old in SPEC.replace("[factors.regime]", ""), what
    spec = SPEC.replace(old, new)
    if what in ("Sobol' N not a power of 2", "Morris with odd levels", "levels in a sampled design"):
        # a spec whose only factor is a range, so the design keys are what is wrong
        spec = spec.replace('[factors.regime]\nvalues = ["prescriptive", "professional_judgment"]\n',
                            "").replace("values = [1.7, 1.9]", "range = [1.5, 2.0]"
                                        + ("\nlevels = 3" if what == "levels in a sampled design" else ""))
    if what == "Morris with a fixed list of values":
        spec = spec.replace('type = "factorial"', 'type = "morris"\ntrajectories = 4')
    msg = error_of(tmp_path, spec)
    for frag in fragments:
        assert frag in msg, f"{what}: {frag!r} not in {msg!r}"


def test_bad_scenario_and_a_regime_masked_by_scenario_parameters_are_refused(tmp_path):
    msg = error_of(tmp_path, SPEC, SCENARIO.replace("warmup_weeks = 26", "warmup_weekz = 26"))
    assert "model.scenario = 'tiny.toml' is not a valid scenario" in msg
    assert "did you mean 'warmup_weeks'" in msg
    # a scenario's [parameters] win over its regime: varying the regime would not move them
    msg = error_of(tmp_path, SPEC, SCENARIO + "prescription = 1.2\n")
    assert "sets prescription" in msg and "regime factor would not change them" in msg


def test_unknown_adapter_and_adapter_keys_are_refused(tmp_path):
    msg = error_of(tmp_path, SPEC.replace("[model]\n", '[model]\nadapter = "no.such.module"\n'))
    assert "model.adapter = 'no.such.module'" in msg
    msg = error_of(tmp_path, SPEC.replace("[model]\n", "[model]\nscale = 0.5\n"))
    assert "model.scale = 0.5 is not a key of this adapter" in msg


def test_cli_bad_spec_exit_2(tmp_path, capsys):
    path = write(tmp_path, SPEC.replace("replications = 3", "replications = 0"))
    assert main(["sweep", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cpabm: error: ") and "sweep.replications = 0" in err
    assert not (tmp_path / "out").exists()  # nothing written
    assert main(["sweep"]) == 2
    assert "needs a sweep spec" in capsys.readouterr().err
    assert main(["sweep", str(write(tmp_path, SPEC)), "--workers", "-2", "--check"]) == 2
    assert "--workers = -2" in capsys.readouterr().err


def test_cli_check_prints_plan(tmp_path, capsys):
    out_dir = tmp_path / "out"
    assert main(["sweep", str(write(tmp_path, SPEC)), "--check", "--workers", "0", "--out",
                 str(out_dir)]) == 0
    out = capsys.readouterr().out
    assert "factorial: 4 points x 3 replications = 12 runs" in out
    assert "serial" in out and str(replication_seeds(11, 3)[0]) in out
    assert "factor     regime: values ['prescriptive', 'professional_judgment']" in out
    assert f"out        {out_dir}" in out
    assert not out_dir.exists()  # --check runs nothing and writes nothing


def test_code_fingerprint_covers_the_model_not_the_front_ends():
    """The run identity fingerprints the code a run executes: the model, everything it
    imports (kernels included), the data files; not post-processing or front ends."""
    from abm.studies.adapter import code_files

    files = {p.relative_to(ROOT / "abm").as_posix() for p in code_files()}
    for f in ("core/model.py", "outputs/tables.py", "core/scenario.py", "core/params.py",
              "core/state.py", "core/kernels.py", "mechanisms/casework.py",
              "data/parameters.toml", "data/regimes/prescriptive.toml",
              "studies/adapter.py", "batch/runner.py", "batch/seeds.py"):
        assert f in files, f
    mechanisms = {p.relative_to(ROOT / "abm").as_posix()
                  for p in (ROOT / "abm" / "mechanisms").glob("*.py")}
    # every mechanism module is reached through the imports
    assert mechanisms <= files
    for f in ("cli/__init__.py", "outputs/plots.py", "batch/summary.py", "cli/sweep.py"):
        assert f not in files, f


def test_docs_examples_are_true(tmp_path):
    """docs/batch.md's annotated spec is valid, and its sample error is the real message."""
    import re

    doc = (ROOT / "docs" / "batch.md").read_text()
    block = re.search(r"```toml\n(\[sweep\].*?)```", doc, re.S).group(1)
    scenario = ROOT / "experiments" / "scenarios" / "england_2011_2015_s10.toml"
    block = block.replace('"../scenarios/england_2011_2015_s10.toml"', f'"{scenario}"')
    block = block.replace('"../../results/calibration/abc"',
                          f'"{ROOT / "results" / "calibration" / "abc"}"')
    p = tmp_path / "doc_spec.toml"
    p.write_text(block)
    spec = load_spec(p)
    assert spec.posterior is not None and spec.posterior.names  # the project's calibration
    assert len(spec.design.points) == 2 * 5 and spec.replications == 30
    assert spec.design.points[spec.reference] == {"regime": "prescriptive",
                                                  "referrer_threshold": pytest.approx(1.9)}
    assert spec.fixed == {"warmup_weeks": 104}
    shown = re.search(r"cpabm: error: (experiments/sweeps/x\.toml: factors\.quit_hazrd_base.*)",
                      doc).group(1)
    bad = block.replace("[factors.referrer_threshold]", "[factors.quit_hazrd_base]").replace(
        "range = [1.5, 2.3]", "range = [0.001, 0.002]")
    p.write_text(bad)
    with pytest.raises(ConfigError) as e:
        load_spec(p)
    assert str(e.value).replace(str(p), "experiments/sweeps/x.toml") == shown


# --------------------------------------------------------------------------- specs in memory

def test_spec_built_in_memory_equals_the_file(tmp_path):
    """build_spec takes the document and a base folder: the same spec as the file, with the
    same run identity and canonical form; errors name what the caller calls it."""
    path = write(tmp_path, SPEC)
    from_file = load_spec(path)
    doc = tomllib.loads(SPEC)
    built = build_spec(doc, tmp_path, where="in memory")
    assert built.path is None and tomllib.loads(built.text) == doc
    assert built.identity_hash() == from_file.identity_hash()
    assert built.canonical_hash() == from_file.canonical_hash()
    assert built.design.points == from_file.design.points
    # the base folder resolves the scenario; paths relative to the current folder do not
    with pytest.raises(ConfigError, match=r"^in memory: model.scenario = 'tiny.toml': no such"):
        build_spec(doc, tmp_path / "elsewhere", where="in memory")
    # without a file there is no name to fall back on
    del doc["sweep"]["name"]
    with pytest.raises(ConfigError, match=r"^mine: \[sweep\] needs 'name'"):
        build_spec(doc, tmp_path, where="mine")
    assert build_spec(doc, tmp_path, where="mine", name="given").name == "given"
    assert load_spec(write(tmp_path, SPEC.replace('name = "t"\n', ""))).name == "spec"
    with pytest.raises(ConfigError, match=r"^x: sweep.replications = 0 is out of range"):
        build_spec({**tomllib.loads(SPEC), "sweep": {"replications": 0, "seed": 1}},
                   tmp_path, where="x", name="n")


def test_spec_built_in_memory_runs_and_records_itself(tmp_path):
    from abm.batch.runner import run_sweep
    from abm.batch.store import ResultStore

    doc = {"sweep": {"name": "mem", "replications": 2, "seed": 4},
           "model": {"adapter": "abm.batch.testfunctions:Ishigami"},
           "fixed": {"x2": 0.5, "x3": 1.0},
           "factors": {"x1": {"values": [0.0, 1.0]}},
           "outputs": {"indicators": ["y"]}}
    spec = build_spec(doc, tmp_path, where="mem")
    res = run_sweep(spec, tmp_path / "out", workers=0, progress=False, log=lambda m: None)
    assert res.executed == 4
    m = ResultStore(tmp_path / "out").manifest()
    assert m["spec_path"] is None and tomllib.loads(m["spec_text"]) == doc
    from abm.batch.summary import summarise

    summary = summarise(tmp_path / "out", log=lambda m: None)
    assert "- spec: built in memory" in (summary / "summary.md").read_text()
