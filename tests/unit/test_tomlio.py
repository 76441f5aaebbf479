"""abm.core.tomlio: the one TOML reader and writer. Every type the project writes reads back
equal (floats bit for bit), and every way a file can be unreadable gives one clear line."""

from __future__ import annotations

import datetime as dt
import math
import struct
import tomllib

import pytest
from conftest import ROOT

from abm.core import tomlio
from abm.core.errors import ConfigError


def round_trip(doc: dict) -> dict:
    return tomllib.loads(tomlio.dumps(doc))


def test_scalars_round_trip():
    doc = {"t": True, "f": False, "i": 0, "neg": -7, "big": 2**63 - 1, "small": -(2**63),
           "s": "plain", "empty": "", "u": "¶ é 😀", "esc": 'q " \\ \t \n \r \b \f \x01 \x7f'}
    assert round_trip(doc) == doc


@pytest.mark.parametrize("x", [0.0, -0.0, 1.0, 0.1, 1 / 3, 2.5e-05, 1e-300, 5e-324, 1e16,
                               1.7976931348623157e308, -123456.789, 1.9000000000000001,
                               math.inf, -math.inf])
def test_floats_round_trip_bit_for_bit(x):
    back = round_trip({"x": x})["x"]
    assert isinstance(back, float)
    assert struct.pack("<d", back) == struct.pack("<d", x)


def test_nan_round_trips_as_nan():
    assert math.isnan(round_trip({"x": math.nan})["x"])


def test_dates_and_times_round_trip():
    doc = {"d": dt.date(2008, 11, 12), "t": dt.time(9, 30, 15, 250),
           "local": dt.datetime(2011, 4, 1, 12, 0),
           "utc": dt.datetime(2011, 4, 1, 12, 0, tzinfo=dt.UTC),
           "off": dt.datetime(2011, 4, 1, 12, 0, 0, 5,
                              tzinfo=dt.timezone(dt.timedelta(hours=-5, minutes=-30)))}
    back = round_trip(doc)
    assert back == doc
    assert type(back["d"]) is dt.date and type(back["local"]) is dt.datetime
    assert back["local"].tzinfo is None and back["off"].utcoffset() == doc["off"].utcoffset()


def test_tables_arrays_of_tables_and_inline_values_round_trip_as_sections():
    doc = {
        "top": 1,
        "sweep": {"name": "x", "seed": 3},
        "variants": {"full": {}, "no_b1": {"mech_loop_b1": False},
                     "key with space": {"a.b": 1.5}},
        "summary": {"reference": {"regime": "prescriptive", "x": 1.9}, "band": [0.1, 0.9]},
        "events": [{"date": dt.date(2008, 11, 12), "type": "media_shock",
                    "detail": {"k": [1, 2]}},
                   {"date": dt.date(2010, 4, 5), "type": "regime_switch"}],
        "mixed": [1, "a", [2.0, True], {"inline": {"deep": []}}],
        "nested": {"only": {"tables": {"leaf": 1}}},
        "empty": {},
        "empty_list": [],
    }
    text = tomlio.dumps(doc)
    assert tomllib.loads(text) == doc
    # tables are sections, lists of tables are arrays of tables, empty tables are kept
    assert "[variants.full]\n" in text and '[variants."key with space"]\n' in text
    assert "[[events]]\n" in text and "[events.detail]\n" in text
    assert "[empty]\n" in text
    assert "[nested]" not in text and "[nested.only]" not in text  # made by [nested.only.tables]
    assert text.startswith("top = 1\n")  # a value before any header belongs to the root


def test_shipped_toml_files_round_trip():
    """Every TOML file of the project reads back equal after writing."""
    files = [*(ROOT / "abm" / "data").rglob("*.toml"), *(ROOT / "experiments").rglob("*.toml")]
    assert len(files) > 10
    for f in files:
        doc = tomlio.read(f)
        assert tomllib.loads(tomlio.dumps(doc)) == doc, f


def test_writer_refuses_what_toml_cannot_hold():
    with pytest.raises(ValueError, match="64-bit"):
        tomlio.dumps({"x": 2**63})
    with pytest.raises(TypeError, match="cannot write set"):
        tomlio.dumps({"x": {1, 2}})
    with pytest.raises(TypeError, match="keys are strings"):
        tomlio.dumps({1: 2})
    with pytest.raises(TypeError, match="a TOML document is a dict"):
        tomlio.dumps([1])


def test_write_is_atomic_and_writes_the_note_as_comments(tmp_path):
    p = tmp_path / "sub" / "x.toml"
    tomlio.write(p, {"a": {"b": 1}}, note="line one\n\nline three")
    text = p.read_text()
    assert text.startswith("# line one\n#\n# line three\n[a]\nb = 1\n")
    assert tomlio.read(p) == {"a": {"b": 1}}
    assert [q.name for q in p.parent.iterdir()] == ["x.toml"]  # no temporary file left


def test_read_errors_are_one_clear_line(tmp_path):
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as e:
        tomlio.read(missing)
    assert str(e.value) == f"{missing}: file not found"
    with pytest.raises(ConfigError) as e:
        tomlio.read(tmp_path)
    assert str(e.value) == f"{tmp_path}: is a directory, expected a .toml file"
    bad = tmp_path / "bad.toml"
    bad.write_text("[a]\nx = 1\n[a]\n")
    with pytest.raises(ConfigError) as e:
        tomlio.read(bad, "--spec = 'bad.toml'")
    assert str(e.value).startswith("--spec = 'bad.toml': not valid TOML: ")
    assert "line 3" in str(e.value) and "\n" not in str(e.value)
    latin = tmp_path / "latin.toml"
    latin.write_bytes('x = "caf\xe9"\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match=r"latin.toml: not valid TOML: not UTF-8 text"):
        tomlio.read(latin)
    with pytest.raises(ConfigError, match=r"^inline: not valid TOML: "):
        tomlio.loads("x = ", "inline")


def test_read_with_text_returns_the_file_text(tmp_path):
    p = tmp_path / "x.toml"
    p.write_text("# comment\nx = 1\n")
    assert tomlio.read_with_text(p) == ({"x": 1}, "# comment\nx = 1\n")
