"""The exact seeded baseline and the fingerprints of seeded runs, against the golden files
in tests/golden/baseline/ (regenerate only with `make baseline`)."""

import json

import pytest

from abm.core.params import PARAMETERS
from abm.studies import baseline


def test_exact_seeded_baseline_matches():
    stored = json.loads(baseline.baseline_file().read_text())
    if stored["lock_sha256"] != baseline.lock_hash():
        pytest.fail("requirements.lock changed since tests/golden/baseline/baseline.json was made; "
                    "random streams may legitimately differ: run `make baseline` deliberately")
    lines = baseline.diff(stored["outputs"], baseline.compute())
    assert not lines, "baseline outputs moved:\n" + "\n".join(lines)


def test_baseline_diff_catches_a_ten_percent_parameter_change_and_names_the_outputs():
    """A 10% change in one influential parameter is caught, and the message names outputs."""
    stored = json.loads(baseline.baseline_file().read_text())["outputs"]
    moved = baseline.diff(stored, baseline.compute(contact_rate=PARAMETERS["contact_rate"].default * 1.1))
    assert moved
    assert any("total.referrals" in line for line in moved)


def test_seeded_runs_match_the_stored_fingerprints():
    """The quick set of ``cpabm baseline --fingerprints`` (England at 5% is left to the
    command): every recorded series, final state table and random stream's final state of
    each seeded run hashes as in tests/golden/baseline/fingerprints.json, so one extra or
    missing draw is caught even where the outputs agree."""
    stored = json.loads(baseline.fingerprints_file().read_text())
    got = baseline.fingerprints(full=False)
    assert len(got) == 9 and set(got) < set(stored)
    moved = baseline.fingerprint_diff(stored, got)
    assert not moved, ("fingerprints moved (after a change of requirements.lock, run `make "
                       "baseline` deliberately):\n" + "\n".join(moved[:40]))


def test_a_regeneration_says_what_moved():
    """``cpabm baseline --update`` reports how many baseline outputs moved and each key
    output's median over the stored seeds, before and after."""
    old_base = {"total.referrals": 100, "total.harm_events": 5, "fy.FY2008.x": None}
    new_base = {"total.referrals": 110, "total.harm_events": 5, "fy.FY2008.x": None}
    old = {"referrals_children": [1.0, 2.0, 3.0], "harm_events": [4.0, 4.0, 4.0]}
    new = {"referrals_children": [2.0, 3.0, 4.0], "harm_events": [4.0, 4.0, 4.0]}
    lines = baseline.change_summary(old_base, new_base, old, new)
    assert lines[0] == "baseline: 1 of 3 outputs moved"
    assert "  referrals_children: median 2 -> 3 (+50.0%)" in lines
    assert "  harm_events: median 4 -> 4 (+0.0%)" in lines
    assert baseline.change_summary(None, new_base, old, new) == [
        "no earlier golden files to compare with"]
    # the committed files read back as the summary's inputs
    stored = baseline._read(baseline.replicates_file())
    assert set(stored) == set(json.loads(baseline.replicates_file().read_text())["outputs"])
    now = baseline.compute()
    same = baseline.change_summary(baseline._read(baseline.baseline_file()), now, stored, stored)
    assert same[0] == f"baseline: 0 of {len(now)} outputs moved" and len(same) == 1 + len(stored)
    assert all(line.endswith("(+0.0%)") for line in same[1:])
