"""Property-based fuzzing of scenario, regime and sweep files, and of the ``events`` of a
policy design's arms (Hypothesis), with the
invariant of docs/reliability.md: a refused input exits 2 with one line naming the field,
never a traceback, and writes nothing -- not even into an --out folder holding a user's
files, nor into ./results.

Hypothesis runs derandomized (the same examples every time), so the figures it produces
are reproducible; :func:`test_reliability_figures_in_the_docs_are_the_measured_ones` checks
that docs/reliability.md quotes them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import tempfile
from pathlib import Path

import pytest
from conftest import TINY_SCENARIO
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from abm.cli import main
from abm.core import tomlio
from abm.core.errors import ConfigError
from abm.core.params import PARAMETERS

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "reliability.md"
FUZZ = settings(max_examples=100, derandomize=True, database=None, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.filter_too_much, HealthCheck.too_slow])

#: what every fuzzer counts (figures quoted in docs/reliability.md)
FIGURES = {"inputs tried": 0, "clear errors": 0, "tracebacks": 0, "files destroyed": 0,
           "files written": 0}

HOSTILE_STRINGS = ["", ".", "..", "../../x", "../../../../elsewhere/x", "/etc/passwd",
                   "/dev/zero", "a/b", "a\\b", "\x00", "E001", "england", "ü" * 3, " ",
                   "prescriptive", "x" * 300, "nan", "1e9"]
TEXT = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=20)
VALUES = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.sampled_from([0, -1, 1, 10**9, 10**18, 2**63 - 1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e-9, 1e308, -0.0, 100.0]),
    TEXT,
    st.sampled_from(HOSTILE_STRINGS),
    st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31)),
    st.lists(st.one_of(st.integers(-5, 5), st.sampled_from(HOSTILE_STRINGS)), max_size=3),
    st.dictionaries(st.sampled_from(["children", "name", "x", ""]),
                    st.one_of(st.integers(-10, 10**7), TEXT), max_size=2),
)
SCENARIO_KEYS = ["name", "description", "start", "end", "regime", "places", "scale", "base"]
EVENT_TYPES = ["media_shock", "regime_switch", "set_parameter", "scale_parameter", "x"]


def _snapshot(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _workspace(tmp_path: Path, user_files: bool) -> tuple[Path, Path]:
    """A fresh folder (the working directory) and an --out folder that holds a user's
    thesis (or does not exist yet)."""
    work = Path(tempfile.mkdtemp(dir=tmp_path))
    out = work / "out"
    if user_files:
        out.mkdir()
        (out / "thesis.tex").write_text("irreplaceable")
    return work, out


def check_refused(argv: list[str], work: Path, fields: list[str], capsys,
                  monkeypatch) -> None:
    """Run the CLI in ``work``; assert exit 2, one line naming one of ``fields``, and no
    file created or changed anywhere under ``work``."""
    monkeypatch.chdir(work)
    before = _snapshot(work)
    code = main(argv)
    err = capsys.readouterr().err
    after = _snapshot(work)
    FIGURES["inputs tried"] += 1
    FIGURES["tracebacks"] += "Traceback" in err
    FIGURES["files destroyed"] += sum(1 for k, v in before.items() if after.get(k) != v)
    FIGURES["files written"] += len(set(after) - set(before))
    assert after == before, f"{argv}: files changed: {err}"
    assert code == 2, f"{argv}: exit {code}: {err}"
    assert err.startswith("cpabm: error: ") and err.count("\n") == 1, err
    assert any(f in err for f in fields), f"none of {fields} named in {err!r}"
    FIGURES["clear errors"] += 1


def _is_refused(load, *args) -> bool:
    try:
        load(*args)
    except ConfigError:
        return True
    return False


# ------------------------------------------------------------------ scenarios
@st.composite
def scenarios(draw):
    """The tiny valid scenario with one hostile change; returns (document, fields that the
    error may name)."""
    doc = tomlio.loads(TINY_SCENARIO, "tiny")
    where = draw(st.sampled_from(["scenario", "parameters", "events", "section"]))
    if where == "scenario":
        key = draw(st.sampled_from(SCENARIO_KEYS))
        doc["scenario"][key] = draw(VALUES)
        fields = [key] + (["start", "end"] if key in ("start", "end") else []) + (
            ["places", "scale"] if key in ("places", "scale") else [])
    elif where == "parameters":
        key = draw(st.one_of(st.sampled_from(sorted(PARAMETERS)), TEXT))
        doc["parameters"][key] = draw(VALUES)
        fields = [key, "share"]
    elif where == "events":
        ev = {"date": draw(st.one_of(st.dates(min_value=dt.date(1, 1, 1)), VALUES)),
              "type": draw(st.sampled_from(EVENT_TYPES))}
        for k in draw(st.lists(st.sampled_from(["magnitude", "regime", "parameter", "value",
                                                "factor", "extra"]), max_size=3)):
            ev[k] = draw(VALUES)
        doc["events"] = [ev]
        fields = ["events[0]"]
    else:
        section = draw(st.sampled_from(["scenario", "parameters", "events", "extra"]))
        doc[section] = draw(VALUES)
        fields = [section, "missing [scenario]"]
    return doc, fields


@FUZZ
@given(case=scenarios(), user_files=st.booleans())
def test_fuzzed_scenarios_exit_2_naming_the_field_and_write_nothing(
        tmp_path, capsys, monkeypatch, case, user_files):
    doc, fields = case
    work, out = _workspace(tmp_path, user_files)
    path = work / "scenario.toml"
    try:
        path.write_text(tomlio.dumps(doc))
    except (TypeError, ValueError):
        assume(False)  # not writable as TOML (e.g. a list of mixed tables)
    assume(_is_refused(__import__("abm.core.scenario", fromlist=["x"]).load_scenario, path))
    argv = ["run", str(path), "--quiet"] + (["--out", str(out)] if user_files else [])
    check_refused(argv, work, [*fields, str(path)], capsys, monkeypatch)


# ------------------------------------------------------------------ regimes
@FUZZ
@given(key=st.one_of(st.sampled_from(sorted(PARAMETERS)), TEXT), value=VALUES,
       section=st.sampled_from(["parameters", "regime", "other"]))
def test_fuzzed_regime_files_exit_2_naming_the_field_and_write_nothing(
        tmp_path, capsys, monkeypatch, key, value, section):
    from abm.core import scenario as sc

    work, out = _workspace(tmp_path, True)
    regimes = work / "regimes"
    regimes.mkdir()
    try:
        (regimes / "fuzzed.toml").write_text(tomlio.dumps({section: {key: value}}))
    except (TypeError, ValueError):
        assume(False)
    monkeypatch.setattr(sc, "REGIME_DIRS", [regimes])
    path = work / "scenario.toml"
    path.write_text(TINY_SCENARIO.replace('"prescriptive"', '"fuzzed"'))
    assume(_is_refused(sc.load_scenario, path))
    check_refused(["run", str(path), "--quiet", "--out", str(out)], work,
                  [key, section, "fuzzed.toml"], capsys, monkeypatch)


# ------------------------------------------------------------------ sweep specs
SPEC = """\
[sweep]
name = "ishi"
replications = 2
seed = 3

[model]
adapter = "abm.batch.testfunctions:Ishigami"

[fixed]
x2 = 1.0
x3 = 1.0

[factors.x1]
values = [0.0, 1.0]

[outputs]
indicators = ["y"]
"""
SPEC_FIELDS = [("sweep", "name"), ("sweep", "replications"), ("sweep", "seed"),
               ("sweep", "description"), ("factors.x1", "values"), ("factors.x1", "range"),
               ("factors.x1", "levels"), ("design", "type"), ("design", "samples"),
               ("design", "levels"), ("outputs", "indicators"), ("fixed", "x2")]


@FUZZ
@given(field=st.sampled_from(SPEC_FIELDS), value=VALUES,
       dtype=st.sampled_from([None, "factorial", "lhs", "sobol", "morris"]))
def test_fuzzed_sweep_specs_exit_2_naming_the_field_and_write_nothing(
        tmp_path, capsys, monkeypatch, field, value, dtype):
    from abm.batch.spec import load_spec

    doc = tomlio.loads(SPEC, "spec")
    section, key = field
    table = doc
    for part in section.split("."):
        table = table.setdefault(part, {})
    table[key] = value
    if dtype is not None:
        doc.setdefault("design", {}).setdefault("type", dtype)
    work, out = _workspace(tmp_path, False)
    path = work / "spec.toml"
    try:
        path.write_text(tomlio.dumps(doc))
    except (TypeError, ValueError):
        assume(False)
    assume(_is_refused(load_spec, path))
    check_refused(["sweep", str(path), "--out", str(out), "--quiet"], work,
                  [key, section, "design", "factors", str(path)], capsys, monkeypatch)


# ------------------------------------------------------------------ policy-design arms
ARMS = """\
[sweep]
name = "arms"
replications = 2
seed = 3

[model]
scenario = "scenario.toml"

[design]
type = "variants"
reference = "stay"

[variants.stay]

[variants.switch]
events = [{ date = 2008-10-06, type = "regime_switch", regime = "professional_judgment" }]

[outputs]
indicators = ["referrals_children"]
"""


@st.composite
def arm_events(draw):
    """The ``events`` of a policy-design arm: a hostile value, or a list of one event table
    with hostile fields (the scenario fuzzer's events)."""
    if draw(st.booleans()):
        return draw(VALUES)
    ev = {"date": draw(st.one_of(st.dates(min_value=dt.date(1, 1, 1)), VALUES)),
          "type": draw(st.sampled_from(EVENT_TYPES))}
    for k in draw(st.lists(st.sampled_from(["magnitude", "regime", "parameter", "value",
                                            "factor", "extra"]), max_size=3)):
        ev[k] = draw(VALUES)
    return [ev]


@FUZZ
@given(events=arm_events(), where=st.sampled_from(["switch", "stay", "fixed"]))
def test_fuzzed_policy_arm_events_exit_2_naming_the_field_and_write_nothing(
        tmp_path, capsys, monkeypatch, events, where):
    from abm.batch.spec import load_spec

    doc = tomlio.loads(ARMS, "spec")
    (doc.setdefault("fixed", {}) if where == "fixed" else doc["variants"][where])["events"] = events
    if where == "fixed":
        del doc["variants"]["switch"]["events"]
    work, out = _workspace(tmp_path, True)
    (work / "scenario.toml").write_text(TINY_SCENARIO)
    path = work / "spec.toml"
    try:
        path.write_text(tomlio.dumps(doc))
    except (TypeError, ValueError):
        assume(False)
    assume(_is_refused(load_spec, path))
    check_refused(["sweep", str(path), "--out", str(out), "--quiet"], work,
                  ["events", str(path)], capsys, monkeypatch)


# ------------------------------------------------------------------ the figures
def _doc_figures() -> dict[str, int]:
    text = DOC.read_text()
    out = {}
    for name in FIGURES:
        m = re.search(rf"^\| {name} \| (\d[\d,]*) \|", text, re.M)
        assert m, f"docs/reliability.md has no row '| {name} | N |'"
        out[name] = int(m.group(1).replace(",", ""))
    return out


def test_reliability_figures_in_the_docs_are_the_measured_ones(tmp_path, capsys, monkeypatch):
    """The fuzzing figures docs/reliability.md quotes are what the fuzzers above measure
    (run here if they have not run in this process)."""
    if FIGURES["inputs tried"] == 0:
        for fuzz in (test_fuzzed_scenarios_exit_2_naming_the_field_and_write_nothing,
                     test_fuzzed_regime_files_exit_2_naming_the_field_and_write_nothing,
                     test_fuzzed_sweep_specs_exit_2_naming_the_field_and_write_nothing,
                     test_fuzzed_policy_arm_events_exit_2_naming_the_field_and_write_nothing):
            with monkeypatch.context() as m:
                fuzz(tmp_path=tmp_path, capsys=capsys, monkeypatch=m)
    measured = dict(FIGURES)
    assert measured["tracebacks"] == 0 and measured["files destroyed"] == 0
    assert measured["files written"] == 0
    assert measured["clear errors"] == measured["inputs tried"] > 0
    assert _doc_figures() == measured, (
        f"docs/reliability.md quotes {_doc_figures()}, the fuzzers measured {measured}")


@pytest.fixture(autouse=True)
def _no_real_simulation(monkeypatch):
    """A fuzzed input that slipped through validation must not start a long simulation:
    reaching the model fails the example instead."""
    import abm.core.model as model

    def refuse(*a, **k):
        raise AssertionError("a fuzzed input reached the simulation")

    monkeypatch.setattr(model, "ChildProtectionModel", refuse)
