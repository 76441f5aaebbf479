"""A catalogue of bad inputs and the messages they must produce.

Every bad scenario here is the valid minimal scenario ``VALID`` with exactly one change, so
each case tests one thing. Each case asserts the parts of the message a user needs to fix
the file: the file name, the key, the offending value and the valid range or allowed values.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from conftest import ROOT

import abm.core.scenario as scenario_mod
from abm.core.errors import ConfigError
from abm.core.params import PARAMETERS, parse_assignment
from abm.core.scenario import load_scenario

SCENARIO_DIR = ROOT / "experiments" / "scenarios"
PACKAGED_SCENARIOS = scenario_mod.SCENARIO_DIR
SCENARIO_FILES = sorted([*SCENARIO_DIR.glob("*.toml"), *PACKAGED_SCENARIOS.glob("*.toml")])

# The valid minimal scenario every bad case is derived from. Every line that a case changes
# occurs exactly once (checked in _mutate), so each case differs from VALID in one thing.
VALID = """\
[scenario]
name = "valid_minimal"
start = 2008-04-07
end = 2009-04-06
regime = "prescriptive"
places = { children = 3000 }
scale = 1.0

[parameters]
referrer_threshold = 1.9
team_size = 8
compliance_priority = true
warmup_weeks = 26

[[events]]
date = 2008-11-12
type = "media_shock"
magnitude = 1.0

[[events]]
date = 2008-06-02
type = "set_parameter"
parameter = "team_size"
value = 9

[[events]]
date = 2008-07-07
type = "scale_parameter"
parameter = "prescription"
factor = 0.8

[[events]]
date = 2009-01-05
type = "regime_switch"
regime = "professional_judgment"
"""

KNOWN_EVENT_TYPES = "media_shock, regime_switch, scale_parameter, set_parameter"
KNOWN_REGIMES = ", ".join(sorted(p.stem for p in scenario_mod.REGIME_DIRS[0].glob("*.toml")))
SCENARIO_KEYS = "base, description, end, name, places, regime, scale, start"


def _mutate(*pairs: tuple[str, str]) -> str:
    """VALID with each ``old`` (which must occur exactly once) replaced by ``new``."""
    text = VALID
    for old, new in pairs:
        assert text.count(old) == 1, f"{old!r} must occur exactly once in VALID"
        text = text.replace(old, new)
    assert text != VALID
    return text


def _write(tmp_path: Path, text: str, name: str = "bad_case.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _message(path: Path) -> str:
    with pytest.raises(ConfigError) as exc:
        load_scenario(path)
    return str(exc.value)


# --------------------------------------------------------------------------- positive controls

def test_valid_minimal_scenario_loads(tmp_path):
    sc = load_scenario(_write(tmp_path, VALID, "valid.toml"))
    assert sc.name == "valid_minimal"
    assert (sc.start, sc.end) == (dt.date(2008, 4, 7), dt.date(2009, 4, 6))
    assert sc.regime == "prescriptive"
    assert sc.n_children == 3000
    assert sc.scale == 1.0
    assert sc.overrides == {"referrer_threshold": 1.9, "team_size": 8,
                            "compliance_priority": True, "warmup_weeks": 26}
    assert isinstance(sc.overrides["team_size"], int)
    # events come back sorted by date, one of each type
    assert [e.type for e in sc.events] == ["set_parameter", "scale_parameter", "media_shock",
                                           "regime_switch"]
    assert [e.date for e in sc.events] == sorted(e.date for e in sc.events)
    p = sc.params()
    assert p.prescription == 1.6  # from the prescriptive regime
    assert p.team_size == 8 and p.warmup_weeks == 26


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=[p.stem for p in SCENARIO_FILES])
def test_every_shipped_scenario_loads(path):
    sc = load_scenario(path)
    assert sc.source == str(path)
    assert sc.n_children > 0
    assert sc.start < sc.end
    assert sc.regime in KNOWN_REGIMES.split(", ")
    assert all(sc.start <= e.date < sc.end for e in sc.events)


def test_shipped_scenarios_present():
    # guard against the positive control silently testing nothing
    assert {p.stem for p in SCENARIO_FILES} >= {"england_default", "small_la",
                                                "england_counterfactual_pj"}


# --------------------------------------------------------------------------- the bad catalogue

# (id, bad text, fragments that must all appear in the message). The file name is checked for
# every case in the test itself.
SCENARIO_CASES = [
    ("invalid_toml",
     _mutate(('regime = "prescriptive"', "regime = prescriptive")),
     ["not valid TOML", "line 5"]),
    ("unknown_top_level_section",
     _mutate(("[parameters]", "[paramters]")),
     ["unknown section 'paramters'", "[scenario], [parameters] and [[events]]"]),
    ("missing_scenario_section",
     _mutate(('[scenario]\nname = "valid_minimal"\nstart = 2008-04-07\nend = 2009-04-06\n'
              'regime = "prescriptive"\nplaces = { children = 3000 }\nscale = 1.0\n', "")),
     ["missing [scenario] section"]),
    ("unknown_key_in_scenario",
     _mutate(('name = "valid_minimal"', 'nmae = "valid_minimal"')),
     ["unknown key 'nmae' in [scenario]", f"allowed keys: {SCENARIO_KEYS}"]),
    ("missing_start",
     _mutate(("start = 2008-04-07\n", "")),
     ["[scenario] needs 'start'"]),
    ("missing_places",
     _mutate(("places = { children = 3000 }\n", "")),
     ["[scenario] needs 'places'"]),
    ("start_not_a_date",
     _mutate(("start = 2008-04-07", 'start = "7 April 2008"')),
     ["'start' = '7 April 2008' is not a date", "YYYY-MM-DD"]),
    ("end_impossible_date_string",
     _mutate(("end = 2009-04-06", 'end = "2009-13-01"')),
     ["'end' = '2009-13-01' is not a date", "YYYY-MM-DD"]),
    ("end_before_start",
     _mutate(("end = 2009-04-06", "end = 2008-01-01")),
     ["end = 2008-01-01 must be at least a week after start = 2008-04-07"]),
    ("unknown_regime",
     _mutate(('regime = "prescriptive"', 'regime = "prescriptve"')),
     ["unknown regime 'prescriptve'", f"known regimes: {KNOWN_REGIMES}"]),
    ("regime_not_a_string",
     _mutate(('regime = "prescriptive"', "regime = 3")),
     ["regime = 3 must be the name of a regime"]),
    ("unknown_parameter_near_miss",
     _mutate(("referrer_threshold = 1.9", "referer_threshold = 1.9")),
     ["unknown parameter 'referer_threshold' = 1.9", "(did you mean 'referrer_threshold'?)",
      "cpabm params"]),
    ("string_for_float",
     _mutate(("referrer_threshold = 1.9", 'referrer_threshold = "high"')),
     ["parameter 'referrer_threshold' = 'high' has the wrong type",
      "expected a number in [-3.0, 6.0] (latent units)"]),
    ("float_for_int",
     _mutate(("team_size = 8", "team_size = 8.5")),
     ["parameter 'team_size' = 8.5 has the wrong type",
      "expected a whole number in [1, 100] (posts)"]),
    ("number_for_bool",
     _mutate(("compliance_priority = true", "compliance_priority = 1")),
     ["parameter 'compliance_priority' = 1 has the wrong type", "expected true or false"]),
    ("string_for_bool",
     _mutate(("compliance_priority = true", 'compliance_priority = "true"')),
     ["parameter 'compliance_priority' = 'true' has the wrong type", "expected true or false"]),
    ("float_out_of_range",
     _mutate(("referrer_threshold = 1.9", "referrer_threshold = 7.5")),
     ["parameter 'referrer_threshold' = 7.5 is out of range",
      "valid range is [-3.0, 6.0] (latent units)"]),
    ("int_out_of_range",
     _mutate(("team_size = 8", "team_size = 0")),
     ["parameter 'team_size' = 0 is out of range", "valid range is [1, 100] (posts)"]),
    ("float_infinite",
     _mutate(("referrer_threshold = 1.9", "referrer_threshold = inf")),
     ["parameter 'referrer_threshold' = inf is not a finite number", "valid range is [-3.0, 6.0]"]),
    ("float_nan",
     _mutate(("referrer_threshold = 1.9", "referrer_threshold = nan")),
     ["parameter 'referrer_threshold' = nan is not a finite number", "valid range is [-3.0, 6.0]"]),
    ("unknown_event_type",
     _mutate(('type = "media_shock"', 'type = "media_shok"')),
     ["events[0]: type = 'media_shok' is unknown", f"event types are {KNOWN_EVENT_TYPES}"]),
    ("unknown_event_key",
     _mutate(("magnitude = 1.0", "magnitude = 1.0\nsize = 2")),
     ["events[0]: unknown key 'size' for a media_shock event",
      "allowed keys: date, magnitude, note, type"]),
    ("event_missing_date",
     _mutate(("date = 2008-11-12\n", "")),
     ["events[0]: a media_shock event needs 'date'"]),
    ("event_missing_required_key",
     _mutate(("magnitude = 1.0\n", "")),
     ["events[0]: a media_shock event needs 'magnitude'"]),
    ("set_parameter_missing_value",
     _mutate(("value = 9\n", "")),
     ["events[1]: a set_parameter event needs 'value'"]),
    ("event_date_not_a_date",
     _mutate(("date = 2008-11-12", 'date = "12/11/2008"')),
     ["events[0]", "'date' = '12/11/2008' is not a date", "YYYY-MM-DD"]),
    ("event_date_after_calendar",
     _mutate(("date = 2008-11-12", "date = 2010-01-01")),
     ["events[0]: date = 2010-01-01 is outside the scenario's calendar "
      "[2008-04-07, 2009-04-06]"]),
    ("event_date_after_end_is_outside",  # the calendar includes its end date, no more
     _mutate(("date = 2009-01-05", "date = 2009-04-07")),
     ["events[3]: date = 2009-04-07 is outside the scenario's calendar "
      "[2008-04-07, 2009-04-06]"]),
    ("media_shock_magnitude_too_big",
     _mutate(("magnitude = 1.0", "magnitude = 11.0")),
     ["events[0]: magnitude = 11.0 is out of range", "valid range is [0, 10] (anxiety units)"]),
    ("media_shock_magnitude_negative",
     _mutate(("magnitude = 1.0", "magnitude = -0.5")),
     ["events[0]: magnitude = -0.5 is out of range", "valid range is [0, 10]"]),
    ("media_shock_magnitude_string",
     _mutate(("magnitude = 1.0", 'magnitude = "big"')),
     ["events[0]: magnitude = 'big'", "valid range is [0, 10]"]),
    ("set_parameter_unknown_parameter",
     _mutate(('parameter = "team_size"', 'parameter = "referral_threshold"'),
             ("value = 9", "value = 1.0")),
     ["events[1]: unknown parameter 'referral_threshold' = 1.0",
      "(did you mean 'referrer_threshold'?)"]),
    ("set_parameter_value_out_of_range",
     _mutate(("value = 9", "value = 101")),
     ["events[1]: parameter 'team_size' = 101 is out of range", "valid range is [1, 100] (posts)"]),
    ("scale_parameter_on_bool",
     _mutate(('parameter = "prescription"', 'parameter = "compliance_priority"')),
     ["events[2]: parameter = 'compliance_priority' must name a numeric (float) parameter"]),
    ("scale_parameter_factor_out_of_range",
     _mutate(("factor = 0.8", "factor = 150")),
     ["events[2]: factor = 150 is out of range", "valid range is [0, 100]"]),
    ("regime_switch_unknown_regime",
     _mutate(('regime = "professional_judgment"', 'regime = "profesional_judgment"')),
     ["events[3]: unknown regime 'profesional_judgment'", f"known regimes: {KNOWN_REGIMES}"]),
    ("unknown_la_code",
     _mutate(("places = { children = 3000 }", 'places = ["E001", "E999"]')),
     ["places contains unknown LA code 'E999'", "E001 .. E152"]),
    ("places_bad_value",
     _mutate(("places = { children = 3000 }", 'places = "englnd"')),
     ["places = 'englnd' must be \"england\", a list of LA codes, or { children = N }"]),
    ("places_unknown_key",
     _mutate(("places = { children = 3000 }", "places = { children = 3000, kids = 5 }")),
     ["places has unknown key 'kids'", "'children' and optional 'name'"]),
    ("places_children_too_few",
     _mutate(("places = { children = 3000 }", "places = { children = 50 }")),
     ["places.children = 50 is out of range", "valid range is [100, 2000000]"]),
    ("places_children_too_many",
     _mutate(("places = { children = 3000 }", "places = { children = 3000000 }")),
     ["places.children = 3000000 is out of range", "valid range is [100, 2000000]"]),
    ("scale_zero",
     _mutate(("scale = 1.0", "scale = 0")),
     ["scale = 0 is out of range", "valid range is (0, 1]"]),
    ("scale_above_one",
     _mutate(("scale = 1.0", "scale = 1.5")),
     ["scale = 1.5 is out of range", "valid range is (0, 1]"]),
]


@pytest.mark.parametrize("text, fragments", [c[1:] for c in SCENARIO_CASES],
                         ids=[c[0] for c in SCENARIO_CASES])
def test_bad_scenario_message_names_the_file_key_value_and_range(tmp_path, text, fragments):
    path = _write(tmp_path, text)
    msg = _message(path)
    assert msg.startswith(f"{path}: "), msg  # names the file first
    for frag in fragments:
        assert frag in msg, f"{frag!r} not in message:\n{msg}"


def test_bad_scenario_catalogue_is_big_and_has_no_duplicates():
    ids = [c[0] for c in SCENARIO_CASES]
    texts = [c[1] for c in SCENARIO_CASES]
    assert len(ids) >= 18
    assert len(set(ids)) == len(ids)
    assert len(set(texts)) == len(texts)


def test_missing_scenario_file_is_one_clear_line(tmp_path):
    path = tmp_path / "no_such_scenario.toml"
    msg = _message(path)
    assert msg == f"{path}: file not found"


def test_directory_given_as_scenario_is_one_clear_line(tmp_path):
    msg = _message(tmp_path)
    assert msg == f"{tmp_path}: is a directory, expected a .toml file"


def test_overrides_argument_is_applied_after_validation(tmp_path):
    # the CLI passes --set values here; they win over the file's [parameters]
    sc = load_scenario(_write(tmp_path, VALID, "valid.toml"), {"team_size": 12})
    assert sc.overrides["team_size"] == 12 and sc.params().team_size == 12


# --------------------------------------------------------------------------- regime files

@pytest.fixture
def regime_dir(tmp_path, monkeypatch):
    d = tmp_path / "regimes"
    d.mkdir()
    monkeypatch.setattr(scenario_mod, "REGIME_DIRS", [d, *scenario_mod.REGIME_DIRS])
    return d


VALID_REGIME = """\
[regime]
name = "custom"
description = "test regime"

[parameters]
prescription = 1.2
compliance_priority = false
supervision_quality = 0.5
"""

REGIME_CASES = [
    ("unknown_parameter",
     VALID_REGIME.replace("prescription = 1.2", "prescripton = 1.2"),
     ["unknown parameter 'prescripton' = 1.2", "(did you mean 'prescription'?)"]),
    ("out_of_range",
     VALID_REGIME.replace("supervision_quality = 0.5", "supervision_quality = 2.0"),
     ["parameter 'supervision_quality' = 2.0 is out of range", "valid range is [0.0, 1.0]"]),
    ("wrong_type_bool",
     VALID_REGIME.replace("compliance_priority = false", 'compliance_priority = "no"'),
     ["parameter 'compliance_priority' = 'no' has the wrong type", "expected true or false"]),
    ("unknown_section",
     VALID_REGIME.replace("[parameters]", "[params]"),
     ["unknown section 'params'", "expected [regime] and [parameters]"]),
    ("invalid_toml",
     VALID_REGIME.replace("prescription = 1.2", "prescription = "),
     ["not valid TOML"]),
]


def _scenario_using(tmp_path: Path, regime: str) -> Path:
    return _write(tmp_path, _mutate(('regime = "prescriptive"', f'regime = "{regime}"')),
                  "uses_custom.toml")


def test_valid_custom_regime_loads(tmp_path, regime_dir):
    (regime_dir / "custom.toml").write_text(VALID_REGIME)
    sc = load_scenario(_scenario_using(tmp_path, "custom"))
    assert sc.regime_params == {"prescription": 1.2, "compliance_priority": False,
                                "supervision_quality": 0.5}
    assert sc.params().prescription == 1.2


@pytest.mark.parametrize("text, fragments", [c[1:] for c in REGIME_CASES],
                         ids=[c[0] for c in REGIME_CASES])
def test_bad_regime_file_message_names_the_regime_file(tmp_path, regime_dir, text, fragments):
    rpath = regime_dir / "custom.toml"
    rpath.write_text(text)
    msg = _message(_scenario_using(tmp_path, "custom"))
    assert msg.startswith(f"{rpath}: "), msg  # names the regime file, not the scenario
    for frag in fragments:
        assert frag in msg, f"{frag!r} not in message:\n{msg}"


def test_bad_regime_in_regime_switch_event_names_regime_file(tmp_path, regime_dir):
    rpath = regime_dir / "custom.toml"
    rpath.write_text(VALID_REGIME.replace("prescription = 1.2", "prescripton = 1.2"))
    text = _mutate(('regime = "professional_judgment"', 'regime = "custom"'))
    msg = _message(_write(tmp_path, text))
    assert msg.startswith(f"{rpath}: ")
    assert "unknown parameter 'prescripton' = 1.2" in msg


def test_unknown_regime_lists_added_regime_dir(tmp_path, regime_dir):
    (regime_dir / "custom.toml").write_text(VALID_REGIME)
    msg = _message(_scenario_using(tmp_path, "nosuch"))
    known = ", ".join(sorted(["custom", *KNOWN_REGIMES.split(", ")]))
    assert f"unknown regime 'nosuch'; known regimes: {known}" in msg


# --------------------------------------------------------------------------- --set strings

SET_BAD = [
    ("missing_equals", "referrer_threshold 1.5",
     ["--set: 'referrer_threshold 1.5' is not of the form key=value"]),
    ("unknown_key", "referer_threshold=1.5",
     ["--set: unknown parameter 'referer_threshold' = '1.5'",
      "(did you mean 'referrer_threshold'?)"]),
    ("unknown_key_no_suggestion", "zzzz=1",
     ["--set: unknown parameter 'zzzz' = '1'"]),
    ("non_numeric", "referrer_threshold=high",
     ["--set: parameter 'referrer_threshold' = 'high' has the wrong type",
      "expected a number in [-3.0, 6.0] (latent units)"]),
    ("empty_value", "referrer_threshold=",
     ["--set: parameter 'referrer_threshold' = '' has the wrong type", "[-3.0, 6.0]"]),
    ("bool_yes_refused", "compliance_priority=yes",
     ["--set: parameter 'compliance_priority' = 'yes' has the wrong type",
      "expected true or false"]),
    ("bool_one_refused", "compliance_priority=1",
     ["--set: parameter 'compliance_priority' = '1' has the wrong type",
      "expected true or false"]),
    ("float_out_of_range", "referrer_threshold=7",
     ["--set: parameter 'referrer_threshold' = 7.0 is out of range",
      "valid range is [-3.0, 6.0] (latent units)"]),
    ("int_out_of_range", "team_size=101",
     ["--set: parameter 'team_size' = 101 is out of range", "valid range is [1, 100] (posts)"]),
    ("int_not_whole", "team_size=8.5",
     ["--set: parameter 'team_size' = 8.5 has the wrong type",
      "expected a whole number in [1, 100] (posts)"]),
    ("float_nan", "referrer_threshold=nan",
     ["--set: parameter 'referrer_threshold' = nan is not a finite number", "valid range is [-3.0, 6.0]"]),
]


@pytest.mark.parametrize("text, fragments", [c[1:] for c in SET_BAD], ids=[c[0] for c in SET_BAD])
def test_parse_assignment_refuses_bad_set_strings_clearly(text, fragments):
    with pytest.raises(ConfigError) as exc:
        parse_assignment(text)
    msg = str(exc.value)
    for frag in fragments:
        assert frag in msg, f"{frag!r} not in message:\n{msg}"


@pytest.mark.parametrize("text, expected", [
    ("compliance_priority=true", ("compliance_priority", True)),
    ("compliance_priority=false", ("compliance_priority", False)),
    ("compliance_priority=TRUE", ("compliance_priority", True)),
    ("compliance_priority=False", ("compliance_priority", False)),
    (" team_size = 12 ", ("team_size", 12)),
    ("team_size=12.0", ("team_size", 12)),
    ("referrer_threshold=-1.5", ("referrer_threshold", -1.5)),
    ("referrer_threshold=6", ("referrer_threshold", 6.0)),  # range is inclusive
])
def test_parse_assignment_accepts_and_types_valid_set_strings(text, expected):
    key, value = parse_assignment(text)
    assert (key, value) == expected
    assert type(value) is {"bool": bool, "int": int, "float": float}[PARAMETERS[key].type]


def test_parse_assignment_prefixes_its_messages_with_where():
    with pytest.raises(ConfigError, match=r"^--flag: unknown parameter 'nope'"):
        parse_assignment("nope=1", where="--flag")


# --------------------------------------------------------------------------- former gaps
# Each of these was a package bug found while writing the catalogue (a crash instead of a
# ConfigError, or a base file's mistake ignored or blamed on the child file). They are fixed
# and stay here as regression tests.

GAP_CASES = [
    pytest.param(
        _mutate(("team_size = 8", "team_size = nan")),
        ["parameter 'team_size' = nan", "[1, 100]"],
        id="int_param_nan"),
    pytest.param(
        _mutate(("team_size = 8", "team_size = inf")),
        ["parameter 'team_size' = inf", "[1, 100]"],
        id="int_param_inf"),
    pytest.param(
        _mutate(("[scenario]", "parameters = 3\n[scenario]"),
                ("[parameters]\nreferrer_threshold = 1.9\nteam_size = 8\n"
                 "compliance_priority = true\nwarmup_weeks = 26\n", "")),
        ["[parameters] must be a table"],
        id="parameters_not_a_table"),
    pytest.param(
        _mutate(("[scenario]", "events = 3\n[scenario]"),
                (VALID[VALID.index("[[events]]"):], "")),
        ["events"],
        id="events_not_an_array"),
    pytest.param(
        _mutate(('name = "valid_minimal"', 'name = "valid_minimal"\nbase = 3')),
        ["base = 3"],
        id="base_not_a_string"),
]


@pytest.mark.parametrize("text, fragments", GAP_CASES)
def test_former_crashes_are_config_errors_naming_the_file(tmp_path, text, fragments):
    path = _write(tmp_path, text)
    msg = _message(path)
    assert msg.startswith(f"{path}: "), msg
    for frag in fragments:
        assert frag in msg, f"{frag!r} not in message:\n{msg}"


def test_set_int_parameter_to_nan_is_refused():
    with pytest.raises(ConfigError, match=r"team_size"):
        parse_assignment("team_size=nan")


def _base_and_child(tmp_path: Path, base_text: str) -> tuple[Path, Path]:
    base = _write(tmp_path, base_text, "the_base.toml")
    child = _write(tmp_path, '[scenario]\nbase = "the_base.toml"\nname = "child"\n', "child.toml")
    return base, child


def test_child_scenario_inherits_a_valid_base(tmp_path):
    _, child = _base_and_child(tmp_path, VALID)
    sc = load_scenario(child)
    assert sc.name == "child" and sc.n_children == 3000 and len(sc.events) == 4


def test_unknown_scenario_key_in_a_base_is_blamed_on_the_base(tmp_path):
    base, child = _base_and_child(
        tmp_path, _mutate(('name = "valid_minimal"', 'nmae = "valid_minimal"')))
    msg = _message(child)
    assert "unknown key 'nmae' in [scenario]" in msg
    assert str(base) in msg


def test_unknown_section_in_a_base_is_blamed_on_the_base(tmp_path):
    base, child = _base_and_child(tmp_path, _mutate(("[parameters]", "[paramters]")))
    msg = _message(child)
    assert "unknown section 'paramters'" in msg
    assert str(base) in msg


def test_bad_parameter_in_a_base_is_blamed_on_the_base(tmp_path):
    base, child = _base_and_child(
        tmp_path, _mutate(("referrer_threshold = 1.9", "referer_threshold = 1.9")))
    msg = _message(child)
    assert "unknown parameter 'referer_threshold' = 1.9" in msg
    assert str(base) in msg


def test_a_scaled_value_out_of_range_is_refused_never_capped_even_past_the_scenario_check():
    """A scenario's scale_parameter events are checked when it is read; an event that reaches
    a model some other way (built by hand) still cannot set a value out of range: the model
    refuses it (it used to cap it at the range's top, silently)."""
    import dataclasses

    from conftest import small

    from abm.core.model import ChildProtectionModel
    from abm.core.params import PARAMETERS
    from abm.core.scenario import Event
    from abm.reference.model import ReferenceModel

    sc = small(children=2000, years=0.3, warmup=0)
    hi = PARAMETERS["hearing_slots_per_100k"].hi
    ev = Event(sc.start, "scale_parameter", parameter="hearing_slots_per_100k", value=1000.0)
    bad = dataclasses.replace(sc, events=[ev])
    for cls in (ChildProtectionModel, ReferenceModel):
        with pytest.raises(ConfigError, match=rf"out of range|valid range is \[.*{hi}"):
            m = cls(bad, rng=1, **({"agent_views": False} if cls is ChildProtectionModel else {}))
            m.run()
