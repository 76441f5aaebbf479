"""Calibrated values come from the posterior by script: abm.batch.abc.posterior reads a
calibration folder (weighted medians, width ratios, draws) and
experiments/tools/apply_calibration.py writes the posterior medians into a parameter table,
labelling the parameters the run does not identify alone (or, asked, leaving them at their
documented values). Checked on a small synthetic
calibration folder with a known posterior."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from abm.batch.abc import load_posterior, summarise, weighted_quantile
from abm.core.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "experiments" / "tools" / "apply_calibration.py"
REPORT = ROOT / "experiments" / "tools" / "calibration_report.py"

TABLE = '''# a parameter table
[rate]
type = "float"
unit = "per week"
default = 0.5
range = [0.0, 10.0]
source = "assumption (a report, p. 3)"

[lag]
type = "float"
unit = "weeks"
default = 12.0
range = [1.0, 100.0]
source = "a study"
calibrated = true

[slots]
type = "int"
unit = "slots"
default = 4
range = [0, 20]
source = "guess"
'''


def tool(path=TOOL, name="apply_calibration"):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _table(root, tmp_path, text=TABLE):
    """A parameter table with ``text``, a summary path, and the script's arguments for them."""
    table, summ = tmp_path / "parameters.toml", tmp_path / "values.md"
    table.write_text(text)
    return table, summ, [str(root), "--table", str(table), "--summary", str(summ), "--no-docs"]


@pytest.fixture
def folder(tmp_path):
    """A finished calibration: rate identified (narrow around 2), lag not identified (its
    loguniform prior back), slots identified (whole numbers around 7)."""
    rng = np.random.default_rng(0)
    n = 400
    root = tmp_path / "abc"
    root.mkdir()
    priors = {"rate": {"dist": "uniform", "low": 0.0, "high": 5.0, "kind": "float"},
              "lag": {"dist": "loguniform", "low": 2.0, "high": 80.0, "kind": "float"},
              "slots": {"dist": "uniform", "low": 0, "high": 20, "kind": "int"}}
    (root / "manifest.json").write_text(json.dumps({
        "name": "synthetic", "identity_sha256": "ab" * 32,
        "spec": {"identity": {"priors": priors}}}))
    w = rng.uniform(0.5, 1.5, n)
    df = pd.DataFrame({"generation": 5, "particle": np.arange(n), "candidate": np.arange(n),
                       "weight": w / w.sum(), "distance": rng.uniform(0, 1, n),
                       "rate": rng.normal(2.0, 0.1, n),
                       "lag": np.exp(rng.uniform(np.log(2), np.log(80), n)),
                       "slots": np.clip(np.round(rng.normal(7, 1, n)), 0, 20).astype(int)})
    df.to_parquet(root / "posterior.parquet", index=False)
    (root / "result.json").write_text(json.dumps({"stop_reason": "acceptance fell"}))
    return root, df


def test_summary_is_the_weighted_median_and_flags_the_unidentified(folder):
    root, df = folder
    post = load_posterior(root)
    assert post.ess == pytest.approx(1 / np.sum(post.weights**2))
    rows = {r["parameter"]: r for r in summarise(post)}
    assert rows["rate"]["value"] == pytest.approx(
        weighted_quantile(df["rate"], df["weight"], 0.5), rel=1e-12)
    assert abs(rows["rate"]["value"] - 2.0) < 0.03
    assert rows["rate"]["identified"] and rows["rate"]["width_ratio"] < 0.1
    assert not rows["lag"]["identified"] and rows["lag"]["width_ratio"] > 0.85
    assert rows["slots"]["identified"] and rows["slots"]["value"] == 7
    assert isinstance(rows["slots"]["value"], int)
    # draws by weight (abm.batch.draws): a posterior sample of the points the model received
    from abm.batch.draws import from_folder

    def sample(seed):
        draws = from_folder(root, seed, lambda name, where: None, set(), "test")
        return [draws.point(r) for r in range(300)]

    d = sample(1)
    assert len(d) == 300 and set(d[0]) == {"rate", "lag", "slots"}
    assert abs(np.mean([x["rate"] for x in d]) - 2.0) < 0.03
    assert all(isinstance(x["slots"], int) for x in d)
    assert d == sample(1) and d != sample(2)


def test_script_writes_every_posterior_median_labels_the_unidentified_and_is_idempotent(
        folder, tmp_path):
    import tomllib

    root, df = folder
    mod = tool()
    table, summ, args = _table(root, tmp_path)
    assert mod.main(args) == 0
    got = tomllib.loads(table.read_text())
    med = float(f"{weighted_quantile(df['rate'], df['weight'], 0.5):.4g}")
    assert got["rate"]["default"] == med and got["rate"]["calibrated"] is True
    assert got["rate"]["source"].startswith("ABC-SMC posterior median (")
    assert got["rate"]["source"].endswith("; evidence: assumption (a report, p. 3)")
    assert got["slots"]["default"] == 7 and got["slots"]["calibrated"] is True
    # not identified alone: its posterior median too (no value from before the run), labelled
    lag = float(f"{weighted_quantile(df['lag'], df['weight'], 0.5):.4g}")
    assert got["lag"]["default"] == lag != 12.0 and got["lag"]["calibrated"] is True
    assert got["lag"]["source"].startswith("ABC-SMC posterior median, not identified alone (")
    assert got["lag"]["source"].endswith("; evidence: a study")
    assert table.read_text().startswith("# a parameter table\n")  # layout kept
    first = table.read_text()
    assert "| `rate` |" in summ.read_text() and "for every parameter" in summ.read_text()
    # a second application replaces the run's note instead of nesting it
    assert mod.main(args) == 0
    assert table.read_text() == first
    # --keep-unidentified: the table's value stays, the flag is cleared, the reason is given
    table.write_text(TABLE)
    assert mod.main([*args, "--keep-unidentified"]) == 0
    got = tomllib.loads(table.read_text())
    assert got["rate"]["default"] == med and got["lag"]["default"] == 12.0
    assert got["lag"]["calibrated"] is False
    assert got["lag"]["source"].startswith("not identified by ABC-SMC (")
    assert got["lag"]["source"].endswith("; evidence: a study")
    assert "keeps its documented value" in summ.read_text()


def test_script_refuses_a_foreign_summary_an_unknown_parameter_and_a_non_calibration(
        folder, tmp_path, capsys):
    root, _ = folder
    mod = tool()
    table = tmp_path / "parameters.toml"
    table.write_text(TABLE)
    mine = tmp_path / "mine.md"
    mine.write_text("my notes")
    assert mod.main([str(root), "--table", str(table), "--summary", str(mine), "--no-docs"]) == 2
    assert mine.read_text() == "my notes" and table.read_text() == TABLE
    table.write_text(TABLE.replace("[slots]", "[other]"))
    assert mod.main([str(root), "--table", str(table), "--summary", str(tmp_path / "s.md"),
                     "--no-docs"]) == 2
    assert "no [slots] entry" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="not a finished calibration"):
        load_posterior(tmp_path)


def test_a_value_an_earlier_calibration_set_and_this_run_did_not_is_held_not_calibrated(
        folder, tmp_path, capsys):
    """A parameter flagged calibrated that the run neither calibrates nor fixes keeps its
    value, loses the flag and says the run held it, its evidence kept; one with no evidence
    part to keep is refused, naming it, and nothing is written."""
    import tomllib

    root, _ = folder
    mod = tool()
    extra = ('\n[switch]\ntype = "bool"\nunit = "switch"\ndefault = true\n'
             'range = [false, true]\nsource = "set by a search after an earlier run; '
             'evidence: assumption (hearings within days)"\ncalibrated = true\n')
    table, summ, args = _table(root, tmp_path, TABLE + extra)
    assert mod.main(args) == 0
    got = tomllib.loads(table.read_text())
    assert got["switch"]["default"] is True and got["switch"]["calibrated"] is False
    assert got["switch"]["source"] == (
        f"held at this value by the calibration ({root}, run {'ab' * 6}: not among its priors, "
        f"so the posterior is conditional on it); evidence: assumption (hearings within days)")
    assert "* `switch`" in summ.read_text()
    first = table.read_text()
    assert mod.main(args) == 0 and table.read_text() == first  # idempotent
    # an entry whose provenance has no evidence part: refused, nothing written
    table.write_text(TABLE + extra.replace("; evidence: ", "; before calibration: "))
    before, summ_before = table.read_text(), summ.read_text()
    assert mod.main(args) == 2
    assert table.read_text() == before and summ.read_text() == summ_before
    err = capsys.readouterr().err
    assert "[switch] is flagged calibrated" in err and "before calibration" in err


def test_report_identifiability_section_reads_the_folder(folder, monkeypatch, tmp_path):
    """The calibration report's identifiability section: every parameter's width ratio and
    label, sorted from the best identified, the strongest correlations, the constrained
    combinations, and the table of identify_rest.md once that is written."""
    from abm.batch.abc import constrained_directions, load_posterior

    root, _ = folder
    rep = tool(REPORT, "calibration_report")
    monkeypatch.setattr(rep, "ABC", root)
    monkeypatch.setattr(rep, "OUT", tmp_path)
    text = {"identifiability": "WIDTHS", "identify_rest": "REST"}
    md = "\n".join(rep.identifiability_section(text))
    rows = [ln for ln in md.splitlines() if ln.startswith("| `")]
    assert [r.split("`")[1] for r in rows[:3]] == ["rate", "slots", "lag"]
    assert "not identified" in rows[2] and "ESS" in md
    assert md.rstrip().endswith("is not written yet: `python experiments/tools/identify_rest.py`.)")
    axes = constrained_directions(load_posterior(root))["axes"]
    listed = [ln for ln in md.splitlines() if ln[:3] in {f"| {k}" for k in range(1, 10)}]
    assert len(listed) == len(axes) and ("None is." in md) == (not axes)
    (tmp_path / "identify_rest.md").write_text("<!-- x -->\n# What would identify the rest\n\n"
                                               "Written by the tool.\n\n| a | b |\n")
    md = "\n".join(rep.identifiability_section(text))
    assert md.rstrip().endswith("From `identify_rest.md`, written by the tool.\n\n| a | b |")
    assert "REST" in md
    pairs = [ln for ln in md.splitlines() if ln.startswith("| `") and "` - `" in ln]
    assert len(pairs) == 3  # every pair of the 3 parameters, strongest first
    r = [abs(float(ln.split("|")[2])) for ln in pairs]
    assert r == sorted(r, reverse=True) and max(r) <= 1
    monkeypatch.setattr(rep, "ABC", root / "missing")
    assert "no posterior in" in "\n".join(rep.identifiability_section(text))


def test_script_writes_what_the_calibration_scenario_fixed(folder, tmp_path, capsys):
    """A parameter the run's calibration scenario sets (its [parameters]) becomes the table's
    default beside the calibrated values, with its calibrated flag left alone and a source
    naming the scenario; a missing scenario is refused."""
    import tomllib

    root, _ = folder
    packaged = ROOT / "abm" / "data" / "scenarios" / "small_la.toml"
    scen = tmp_path / "spec" / "scen.toml"
    scen.parent.mkdir()
    scen.write_text(f'[scenario]\nbase = "{packaged}"\nname = "fixed"\n\n'
                    f'[parameters]\nhousehold_renewal_rate = 0.056\n')
    man = json.loads((root / "manifest.json").read_text())
    man["spec_path"] = str(scen.parent / "cal.toml")
    man["spec_text"] = '[model]\nscenario = "scen.toml"\n'
    (root / "manifest.json").write_text(json.dumps(man))
    renewal = ('\n[household_renewal_rate]\ntype = "float"\nunit = "per year"\ndefault = 0.0\n'
               'range = [0.0, 0.5]\nsource = "demography"\n')
    table, summ, args = _table(root, tmp_path, TABLE + renewal)
    assert tool().main(args) == 0
    got = tomllib.loads(table.read_text())["household_renewal_rate"]
    assert got["default"] == 0.056 and "calibrated" not in got
    assert got["source"].startswith("fixed in the calibration scenario ")
    assert got["source"].endswith("; evidence: demography")
    assert "`household_renewal_rate` = 0.056" in summ.read_text()
    first = table.read_text()
    assert tool().main(args) == 0 and table.read_text() == first  # idempotent
    scen.unlink()  # the scenario is gone: refused, nothing written
    assert tool().main(args) == 2 and table.read_text() == first
    assert "is not there" in capsys.readouterr().err


def test_report_placeholders_fill_from_the_results_and_an_unknown_one_stops_the_report(folder):
    """The report's hand-written text quotes model figures as placeholders, filled from the
    result files; every placeholder of the committed text names a figure that exists."""
    from abm.core import tomlio

    root, _ = folder
    rep = tool(REPORT, "calibration_report")
    src = {"1to1": {"referrals_fy2008": {"median": 570359.857, "pass": False, "p10": 0.1234567}},
           "post": {"rate": {"width_ratio": 0.93, "identifiability": "not identified"}},
           "run": {"ess": 212.4, "stop_reason": "acceptance fell"}}
    text = ("{{1to1:referrals_fy2008:median|,.0f}} referrals ({{ 1to1:referrals_fy2008:pass }}; "
            "p10 {{1to1:referrals_fy2008:p10}}); rate {{post:rate:identifiability}} "
            "({{post:rate:width_ratio|.2f}}); ESS {{run:ess|.0f}}, {{run:stop_reason}}")
    assert rep.fill(text, src) == ("570,360 referrals (fails; p10 0.1235); rate not identified "
                                   "(0.93); ESS 212, acceptance fell")
    for bad in ("{{1to1:referrals_fy2009:median}}", "{{post:rate:median}}", "{{run:x}}",
                "{{nowhere:a:b}}", "{{1to1:referrals_fy2008}}"):
        with pytest.raises(KeyError, match="names no figure"):
            rep.fill(f"x {bad} y", src, "misses_discussion")
    assert rep.fill("no placeholder {not one}", src) == "no placeholder {not one}"
    src["1to1"]["series:workforce_context:vacancy_rate.y2006"] = {"median": 0.1289}
    assert rep.fill("{{1to1:series:workforce_context:vacancy_rate.y2006:median|.2f}}", src) == "0.13"
    # the committed text against the committed results
    sources = rep.fill_sources()
    for key, value in tomlio.read(rep.TEXT).items():
        for k, v in (value.items() if isinstance(value, dict) else [(key, value)]):
            rep.fill(v, sources, k)


def test_report_run_figures_count_the_parameters_and_say_what_a_top_up_began_from(
        folder, monkeypatch):
    root, df = folder
    rep = tool(REPORT, "calibration_report")
    monkeypatch.setattr(rep, "ABC", root)
    run = rep.fill_sources()["run"]
    assert (run["parameters"], run["particles"], run["generation"]) == (3, len(df), 5)
    assert "ess_before" not in run  # no top-up: the placeholder would stop the report
    result = json.loads((root / "result.json").read_text())
    result["top_up"] = {"particles_before": 300, "ess_before": 171.3, "particles": 400}
    (root / "result.json").write_text(json.dumps(result))
    run = rep.fill_sources()["run"]
    assert (run["particles_before"], run["ess_before"]) == (300, 171.3)
    assert rep.fill("{{run:particles_before}} -> {{run:particles}} particles, ESS "
                    "{{run:ess_before|.0f}} -> {{run:ess|.0f}}", rep.fill_sources()) == \
        f"300 -> {len(df)} particles, ESS 171 -> {run['ess']:.0f}"


def test_report_counts_the_review_s_own_figures_apart():
    """The report's headline counts the checked targets passing, and apart those of the seed
    file (the review's own figures): a target not fitted on the main scenario is not
    counted; one measured on a variant is."""
    from abm.studies.targets import load_targets, seed_ids

    rep = tool(REPORT, "calibration_report")
    seed = sorted(seed_ids())
    extra = [t.id for t in load_targets() if t.id not in set(seed)]
    row = lambda i, ok, fitted=True, scen="main": {"id": i, "pass": ok, "fitted": fitted,  # noqa: E731
                                                   "scenario": scen}
    val = {"targets": [row(seed[0], True), row(seed[1], False), row(seed[2], True, False),
                       row(seed[3], False, False), row(seed[4], True, False, "triage"),
                       row(extra[0], True), row(extra[1], False)]}
    assert rep.pass_counts(val) == (3, 5, 2, 3)


def test_point_summaries_count_the_review_s_own_figures_apart():
    """A candidate's score counts the targets met and, apart, those of the seed file."""
    from abm.batch.abc.targets import Target
    from abm.studies.targets import load_targets, seed_ids

    ps = tool(ROOT / "experiments" / "tools" / "point_summaries.py", "point_summaries")
    seed = sorted(seed_ids())
    extra = [t.id for t in load_targets() if t.id not in set(seed)]
    targets = [Target(seed[0], 1.0, 0.0, 2.0, 1.0), Target(seed[1], 1.0, 0.0, 2.0, 1.0),
               Target(extra[0], 1.0, 0.0, 2.0, 1.0), Target(seed[2], 1.0, 0.0, 2.0, 0.0)]
    got = ps.score(np.array([[1.5, 3.0, 0.5, 9.0], [1.5, 3.0, 0.5, 9.0]]), targets)
    assert (got["met"], got["of"], got["seed_met"], got["seed_of"]) == (2, 3, 1, 2)
    line = ps.report([{"summary": "s", "arg": "median", "worst": [], **got}], Path("f"), 2)
    assert "| s | " in line and " | 2 of 3 (1 of 2) | " in line


def test_point_summaries_keep_the_published_durations_first(monkeypatch):
    """The choice keeps the required figures (the three published durations) first, then
    counts the review's figures met, then the distance on them; the score counts the
    required apart."""
    from abm.batch.abc.targets import Target
    from abm.studies.targets import seed_ids

    ps = tool(ROOT / "experiments" / "tools" / "point_summaries.py", "point_summaries")
    assert set(ps.REQUIRED) <= seed_ids() and len(ps.REQUIRED) == 3
    seed = sorted(seed_ids())
    monkeypatch.setattr(ps, "REQUIRED", (seed[0],))
    targets = [Target(seed[0], 1.0, 0.0, 2.0, 1.0), Target(seed[1], 1.0, 0.0, 2.0, 1.0),
               Target(seed[2], 1.0, 0.0, 2.0, 1.0)]
    assert ps.required(targets).tolist() == [True, False, False]
    keeps = ps.score(np.array([[1.0, 5.0, 5.0]]), targets)
    misses = ps.score(np.array([[5.0, 1.0, 1.0]]), targets)
    assert (keeps["required_met"], keeps["required_of"], keeps["seed_met"]) == (1, 1, 1)
    assert (misses["required_met"], misses["seed_met"]) == (0, 2)
    one = {"summary": "a", "arg": "median", **keeps}
    two = {"summary": "b", "arg": "mode", **misses}
    assert ps.choose([two, one]) == "median"  # fewer figures, but the durations kept
    three = {**two, "arg": "particle=3", "decisive_distance": 0.1}
    assert ps.choose([two, three]) == "particle=3"  # none keeps them: the count, the distance
    line = ps.report([{**one, "worst": []}], Path("f"), 1)
    assert " | 1 of 3 (1 of 3; durations 1 of 1) | " in line


def test_report_court_figure_takes_the_published_durations_from_the_targets():
    rep = tool(REPORT, "calibration_report")
    got = {t.periods[0]: (t.value, t.lo, t.hi) for t in rep.published_durations()}
    from abm.studies.targets import load_targets
    by_id = {t.id: t for t in load_targets()}
    for fy, quarter in ((2008, "2008-Q3"), (2009, "2009-Q3"), (2010, "2010-Q3")):
        t = by_id[f"care_duration_q2_fy{fy}"]
        assert got[quarter] == (t.value, t.lo, t.hi)
    assert len(got) == 3


def test_a_set_values_provenance_is_dropped_and_its_evidence_kept(folder, tmp_path):
    """The table's sources read "how the value was set; evidence: its basis": a calibration
    replaces how it was set and keeps the basis, so no earlier grid or hand search survives
    in the source of a value the posterior now sets."""
    import tomllib

    root, _ = folder
    table, summ = tmp_path / "parameters.toml", tmp_path / "values.md"
    table.write_text(TABLE.replace('source = "assumption (a report, p. 3)"',
                                   'source = "set by a grid (0.4, 0.5); evidence: a report, p. 3"'))
    assert tool().main([str(root), "--table", str(table), "--summary", str(summ), "--no-docs"]) == 0
    src = tomllib.loads(table.read_text())["rate"]["source"]
    assert src.startswith("ABC-SMC posterior median (") and "set by a grid" not in src
    assert src.endswith("; evidence: a report, p. 3")


def test_every_file_path_the_report_text_names_exists():
    """The hand-written text of the calibration report names files by path: each exists."""
    import re

    text = (ROOT / "experiments" / "tools" / "calibration_explanations.toml").read_text()
    paths = set(re.findall(r"`((?:abm|experiments|results|docs|tests)/[^`\s]+?)`", text))
    assert len(paths) > 10
    missing = sorted(p for p in paths
                     if not (ROOT / p.split("::")[0].rstrip(",.;")).exists()
                     and not (ROOT / "results" / "calibration" / p).exists())
    assert not missing, missing


def test_report_copies_the_tables_of_the_analyses_it_names(monkeypatch, tmp_path):
    """The report copies the tables of the files the analyses write (so every number in it
    comes from a run), under their own headings where asked, and names the producer of a
    file that is missing; a section whose text is not written is left out."""
    rep = tool(REPORT, "calibration_report")
    monkeypatch.setattr(rep, "OUT", tmp_path)
    assert rep.copied_tables("tensions.md", "experiments/tools/target_tensions.py") == [
        "(`tensions.md` not found: run `experiments/tools/target_tensions.py`.)", ""]
    assert rep.tensions_section({}) == []
    (tmp_path / "tensions.md").write_text("# Targets in tension\n\nWritten by x.\n\n"
                                          "| target | weight |\n|---|---|\n| `a` | 1 |\n")
    md = rep.tensions_section({"tensions": "WHY"})
    assert md == ["### Targets in tension", "", "WHY", "", "| target | weight |", "|---|---|",
                  "| `a` | 1 |", ""]
    (tmp_path / "plans.md").write_text("# Plans\n\nintro\n\n## Starts\n\n| a |\n|---|\n| 1 |\n\n"
                                       "## Bands\n\ntext only\n\n## Stock\n\n| b |\n|---|\n")
    md = rep.plans_section({"plans": "P"})
    assert md[4:] == ["### Starts", "", "| a |", "|---|", "| 1 |", "",
                      "### Stock", "", "| b |", "|---|", ""]
    (tmp_path / "court_indicators.md").write_text("| before |\n## Arrivals per closure\n| j |\n")
    (tmp_path / "court_tradeoff.md").write_text("# T\n\n| kept | 12 |\n")
    md = rep.court_indicators_section({"court_indicators": "C", "court_tradeoff": "T"})
    assert "| before |" not in md and md.index("| j |") < md.index("T") < md.index("| kept | 12 |")
    assert rep.point_section({}) == ["### Which point was written", "",
                                     "(`point_summaries.md` not found: run "
                                     "`experiments/tools/point_summaries.py`.)", ""]
    (tmp_path / "point_summaries.md").write_text(
        "<!-- sig -->\n# One point\n\nWritten by x.\n\n| summary | distance |\n|---|---|\n"
        "| median | 2.1 |\n\n`written by`: ... **Chosen** ... `--point median`\n\n"
        "## How the best-fitting particle was chosen\n\nThe 2 particles ...\n\n"
        "| particle | d |\n|---|---|\n| 4 | 1.9 |\n")
    assert rep.point_section({"point_summaries": "WHY"}) == [
        "### Which point was written", "", "WHY", "", "| summary | distance |", "|---|---|",
        "| median | 2.1 |", "", "`written by`: ... **Chosen** ... `--point median`", "",
        "#### How the best-fitting particle was chosen", "", "The 2 particles ...", "",
        "| particle | d |", "|---|---|", "| 4 | 1.9 |", ""]


def test_script_writes_the_posterior_mode_as_one_particle_when_asked(folder, tmp_path, capsys):
    """--point mode writes the values of one particle, the one at the highest kernel
    density, for every parameter, says so in the sources and the summary, and refuses to
    mix that particle with the table's values (--keep-unidentified)."""
    import tomllib

    from abm.batch.abc import mode

    root, df = folder
    mod = tool()
    table, summ, args = _table(root, tmp_path)
    assert mod.main([*args, "--point", "mode"]) == 0
    got = tomllib.loads(table.read_text())
    m = mode(load_posterior(root))
    row = df.iloc[m["index"]]
    assert got["rate"]["default"] == float(f"{row['rate']:.4g}")
    assert got["lag"]["default"] == float(f"{row['lag']:.4g}")
    assert got["slots"]["default"] == int(row["slots"])
    assert got["rate"]["source"].startswith(f"ABC-SMC posterior mode (particle {m['index']}")
    assert "the posterior's mode" in summ.read_text()
    table.write_text(TABLE)
    assert mod.main([*args, "--point", "mode", "--keep-unidentified"]) == 2
    assert "would mix it with the table's values" in capsys.readouterr().err
    assert table.read_text() == TABLE


def test_script_writes_a_named_particle_whole_and_refuses_a_bad_one(folder, tmp_path, capsys):
    """--point particle=N writes the final generation's particle N for every parameter (the
    best-fitting particle point_summaries.py chooses); a particle that does not exist or a
    point that is not a summary is refused and the table is left as it was."""
    import tomllib

    root, df = folder
    mod = tool()
    table, summ, args = _table(root, tmp_path)
    assert mod.main([*args, "--point", "particle=3"]) == 0
    got = tomllib.loads(table.read_text())
    row = df.iloc[3]
    assert got["rate"]["default"] == float(f"{row['rate']:.4g}")
    assert got["slots"]["default"] == int(row["slots"])
    assert got["rate"]["source"].startswith("ABC-SMC posterior particle 3 (")
    assert "particle 3 (`--point particle=3`)" in summ.read_text()
    for bad, msg in [("particle=999", "is not one of the final generation's 0-"),
                     ("particle=x", "is not one of median, mode or particle=N"),
                     ("mean", "is not one of median, mode or particle=N")]:
        table.write_text(TABLE)
        assert mod.main([*args, "--point", bad]) == 2
        assert msg in capsys.readouterr().err and table.read_text() == TABLE


def test_script_writes_the_point_that_point_summaries_chose_for_this_run(folder, tmp_path,
                                                                           capsys):
    """--point-from point_summaries.json writes the candidate point_summaries.py chose by its
    rule (the posterior candidate meeting the most of the review's figures, then the smallest
    distance on them); a file another tool
    wrote, one that scored another run, or --point given too is refused, and the table is
    left as it was."""
    import tomllib

    root, df = folder
    mod = tool()
    summaries = tool(ROOT / "experiments" / "tools" / "point_summaries.py", "point_summaries")
    own = {"seed_met": 1, "seed_of": 2}
    results = [{"summary": "posterior median", "arg": "median", "distance": 2.5,
                "decisive_distance": 2.0, "met": 3, "of": 5, **own},
               {"summary": "posterior mode (particle 7)", "arg": "mode", "distance": 2.4,
                "decisive_distance": 2.0, "met": 2, "of": 5, **own},
               {"summary": "best-fitting particle 3", "arg": "particle=3", "distance": 1.9,
                "decisive_distance": 1.7, "met": 2, "of": 5, **own},
               {"summary": "particle 5, closest to the review's figures", "arg": "particle=5",
                "distance": 2.2, "decisive_distance": 1.6, "met": 2, "of": 5, **own},
               {"summary": "the parameter table as it stands", "arg": None, "distance": 1.0,
                "decisive_distance": 1.0, "met": 5, "of": 5, **own}]
    # the table is not a candidate; with the review's figures met equally, the smallest
    # distance on them wins (not the smallest distance on all targets), ties to the earlier
    assert summaries.choose(results) == "particle=5"
    assert summaries.choose(results[:2]) == "median"
    # more of the review's figures met beats a smaller distance on them
    more = {**results[2], "seed_met": 2}
    assert summaries.choose([*results[:2], more, results[3]]) == "particle=3"
    # a spec without seed-file targets counts all its targets
    plain = [{**r, "seed_of": 0} for r in results]
    assert summaries.choose(plain) == "median"
    js = tmp_path / "point_summaries.json"
    js.write_text(summaries.choice_json(results, {}, "ab" * 32, root, 4, 7301))
    assert json.loads(js.read_text())["chosen"] == "particle=5"
    table, summ, args = _table(root, tmp_path)
    assert mod.main([*args, "--point-from", str(js)]) == 0
    assert tomllib.loads(table.read_text())["rate"]["default"] == float(f"{df.iloc[5]['rate']:.4g}")
    other = tmp_path / "other.json"
    for text, msg in [(summaries.choice_json(results, {}, "cd" * 32, root, 4, 1),
                       "scored the run cdcdcdcdcdcd, not this one (abababababab)"),
                      ('{"chosen": "mode"}', "was not written by experiments/tools/point_summaries.py"),
                      ("not json", "cannot be read as JSON")]:
        other.write_text(text)
        table.write_text(TABLE)
        assert mod.main([*args, "--point-from", str(other)]) == 2
        assert msg in capsys.readouterr().err and table.read_text() == TABLE
    assert mod.main([*args, "--point-from", str(js), "--point", "mode"]) == 2
    assert "not both" in capsys.readouterr().err and table.read_text() == TABLE
    # the search point: chosen only within the run's tolerance; its values are written
    values = {"rate": 2.05, "lag": 9.5, "slots": 6.6}
    search = {"summary": "the acceptance region's point closest to the review's figures "
                         "(emulator search)", "arg": "search", "distance": 1.8,
              "decisive_distance": 1.2, "met": 4, "of": 5, **own, "point": values,
              "search": {"tolerance": 2.0, "fitted": 300}, "eligible": True}
    assert summaries.choose([*results, search]) == "search"
    assert summaries.choose([*results, {**search, "eligible": False}]) == "particle=5"
    js.write_text(summaries.choice_json([*results, search], {}, "ab" * 32, root, 4, 7301))
    assert mod.main([*args, "--point-from", str(js)]) == 0
    got = tomllib.loads(table.read_text())
    assert (got["rate"]["default"], got["lag"]["default"], got["slots"]["default"]) == (2.05, 9.5, 7)
    assert got["rate"]["source"].startswith("ABC-SMC point of the acceptance region closest")
    assert "emulator search" in summ.read_text()
    bad = json.loads(js.read_text())
    bad["candidates"][-1]["values"] = {"rate": 1.0}
    js.write_text(json.dumps(bad))
    table.write_text(TABLE)
    assert mod.main([*args, "--point-from", str(js)]) == 2
    assert "not the run's" in capsys.readouterr().err and table.read_text() == TABLE
