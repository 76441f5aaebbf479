"""Data safety and hostile input (docs/reliability.md): every case found by trying the tool
as a hostile new user would is here, and must stay refused with one clear line, exit 2 and
nothing written; folders the tool did not write are never changed; corrupt results are
never trusted.

Everything here is fast: a refused input stops before any simulation, and the folder and
sweep cases use tiny stand-ins (a few bytes, the Ishigami test function). The kill -9 cases
are in test_reliability_kill.py (slow tier).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import TINY_SCENARIO

from abm.cli import main
from abm.core import io
from abm.core.errors import ConfigError

CPABM = Path(sys.executable).with_name("cpabm")


def snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` with its SHA-256 (the 'nothing changed' check)."""
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def refused(capsys, argv, *fragments) -> str:
    """Run the CLI in-process; assert exit 2 and one line naming ``fragments``."""
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("cpabm: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    for f in fragments:
        assert f in err, f"{f!r} not in {err!r}"
    return err


def scenario(tmp_path: Path, text: str = TINY_SCENARIO, name: str = "s.toml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


@pytest.fixture
def user_folder(tmp_path):
    """A folder holding a user's own work, including a sub-folder."""
    d = tmp_path / "thesis"
    (d / "chapters").mkdir(parents=True)
    (d / "thesis.tex").write_text("\\documentclass{article}")
    (d / "chapters" / "one.tex").write_text("irreplaceable")
    return d


# ------------------------------------------------------------------ data destroyed
def test_run_into_a_folder_it_did_not_write_is_refused_and_nothing_changes(
        tmp_path, user_folder, capsys):
    before = snapshot(user_folder)
    refused(capsys, ["run", str(scenario(tmp_path)), "--out", str(user_folder), "--quiet"],
            f"--out = '{user_folder}' is not empty", "was not written by cpabm")
    assert snapshot(user_folder) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_run_into_the_scenarios_own_folder_is_refused(tmp_path, capsys):
    s = scenario(tmp_path)
    refused(capsys, ["run", str(s), "--out", str(tmp_path), "--quiet"], "not written by cpabm")
    assert s.read_text() == TINY_SCENARIO


def test_compare_runs_into_a_folder_it_did_not_write_is_refused(tmp_path, user_folder, capsys):
    runs = []
    for name in ("a", "b"):  # two folders that look like runs
        d = tmp_path / name
        d.mkdir()
        (d / "run.json").write_text(json.dumps({"seed": 1, "scenario": name}))
        (d / "summary_fy.csv").write_text("fy,x\n2008-09,1.0\n")
        runs.append(str(d))
    before = snapshot(user_folder)
    refused(capsys, ["compare-runs", *runs, "--out", str(user_folder)], "not written by cpabm")
    assert snapshot(user_folder) == before


@pytest.mark.parametrize("name,fragment", [
    ('""', "name = '' is not a valid name"),
    ('"../../x"', "name = '../../x' is not a valid name"),
    ('".."', "name = '..' is not a valid name"),
    ('"a/b"', "name = 'a/b' is not a valid name"),
    ("123", "name = 123 is not a valid name"),
])
def test_unsafe_scenario_names_are_refused_and_results_is_untouched(
        tmp_path, monkeypatch, capsys, name, fragment):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "results" / "other").mkdir(parents=True)
    (tmp_path / "results" / "other" / "keep.txt").write_text("keep")
    s = scenario(tmp_path, TINY_SCENARIO.replace('name = "tiny"', f"name = {name}"))
    before = snapshot(tmp_path)
    refused(capsys, ["run", str(s), "--quiet"], fragment)
    assert snapshot(tmp_path) == before
    assert not (tmp_path.parent / "x").exists()  # results/../../x


def test_empty_out_is_refused_not_defaulted(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    refused(capsys, ["run", str(scenario(tmp_path)), "--out", "", "--quiet"],
            "--out = '' is empty")
    assert not (tmp_path / "results").exists()


def test_overwrite_needs_the_flag_and_keeps_nothing_foreign(tmp_path, capsys):
    out = tmp_path / "out"
    with io.output_folder(out, "run") as tmp:
        (tmp / "a.txt").write_text("1")
        (tmp / "sub").mkdir()
        (tmp / "sub" / "b.txt").write_text("2")
    assert (out / io.MARKER).exists()
    with pytest.raises(ConfigError, match="add --overwrite"):
        with io.output_folder(out, "run"):
            pass
    (out / "notes.md").write_text("mine")  # the user adds a file to a run folder
    with pytest.raises(ConfigError, match=r"holds files cpabm did not write \(notes.md\)"):
        with io.output_folder(out, "run", overwrite=True):
            pass
    (out / "notes.md").unlink()
    (out / "a.txt").write_text("edited by hand")
    with pytest.raises(ConfigError, match="a.txt was changed after cpabm wrote it"):
        with io.output_folder(out, "run", overwrite=True):
            pass
    (out / "a.txt").write_text("1")
    with io.output_folder(out, "run", overwrite=True) as tmp:
        (tmp / "c.txt").write_text("3")
    assert sorted(snapshot(out)) == [io.MARKER, "c.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no staging or old folder left


def test_a_failed_run_changes_nothing(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(RuntimeError):
        with io.output_folder(out, "run") as tmp:
            (tmp / "half.txt").write_text("half")
            raise RuntimeError("simulation failed")
    assert list(tmp_path.iterdir()) == []  # not even the empty folder it created


def test_a_file_added_to_the_folder_during_the_run_is_kept_and_so_is_the_result(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(ConfigError, match="the new result is in"):
        with io.output_folder(out, "run") as tmp:
            (tmp / "a.txt").write_text("result")
            (out / "notes.md").write_text("typed meanwhile")
    assert snapshot(out) == {"notes.md": hashlib.sha256(b"typed meanwhile").hexdigest()}
    beside = [p for p in tmp_path.iterdir() if p.name.startswith("out.cpabm-")]
    assert len(beside) == 1 and (beside[0] / "a.txt").read_text() == "result"


def test_a_second_writer_is_refused_while_the_first_holds_the_folder(tmp_path):
    out = tmp_path / "out"
    with io.output_folder(out, "run") as tmp:
        (tmp / "a.txt").write_text("1")
        with pytest.raises(ConfigError, match="another cpabm command is writing into"):
            with io.output_folder(out, "run", overwrite=True):
                pass
    assert snapshot(out).keys() == {io.MARKER, "a.txt"}


def test_concurrent_writers_and_a_reader_never_see_a_missing_or_half_folder(tmp_path):
    """Two writers replacing one folder 500 times each while a reader lists it: every
    write either lands whole or is refused as busy; the reader always finds a complete
    result (its marker and the files it lists)."""
    out = tmp_path / "out"
    with io.output_folder(out, "run") as tmp:
        (tmp / "x.txt").write_text("start")
    errors, counts, stop = [], {"ok": 0, "busy": 0, "reads": 0}, threading.Event()

    def writer(tag):
        for i in range(500):
            try:
                with io.output_folder(out, "run", overwrite=True) as tmp:
                    (tmp / "x.txt").write_text(f"{tag}{i}")
                    (tmp / "y.txt").write_text(f"{tag}{i}")
                counts["ok"] += 1
            except ConfigError as e:
                if "another cpabm command" not in str(e):
                    errors.append(e)
                counts["busy"] += 1
            except Exception as e:  # noqa: BLE001 - any other failure is the bug
                errors.append(e)

    def reader():
        while not stop.is_set():
            try:
                m = json.loads((out / io.MARKER).read_text())
                x = (out / "x.txt").read_text()
                assert set(m["files"]) >= {"x.txt"} and x
            except Exception as e:  # noqa: BLE001
                errors.append(e)
            counts["reads"] += 1

    threads = [threading.Thread(target=writer, args=(t,)) for t in "ab"]
    r = threading.Thread(target=reader)
    r.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    r.join()
    assert errors == []
    assert counts["ok"] + counts["busy"] == 1000 and counts["ok"] > 0 and counts["reads"] > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_stale_staging_folders_are_removed_only_when_provably_ours_and_dead(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    out = tmp_path / "out"

    def staging(tag, record):
        p = tmp_path / f".out.cpabm-{tag}.tmp"
        p.mkdir()
        (p / "partial.parquet").write_text("half")
        if record is not None:
            (p / io.STAGING).write_text(json.dumps(record))
        return p

    host = __import__("socket").gethostname()
    gone = staging("gone", {"pid": dead.pid, "host": host, "start": "1"})
    alive = staging("alive", {"pid": os.getpid(), "host": host,
                              "start": io._start_time(os.getpid())})
    elsewhere = staging("other", {"pid": dead.pid, "host": host + "-other", "start": "1"})
    unproven = staging("norecord", None)
    with io.output_folder(out, "run") as tmp:
        (tmp / "a.txt").write_text("1")
    assert not gone.exists()
    assert alive.exists() and elsewhere.exists() and unproven.exists()


def test_disk_full_while_writing_is_one_line_and_leaves_nothing(tmp_path, monkeypatch, capsys):
    """ENOSPC from the disk (simulated) while the outputs are written."""
    real = io.atomic_write_bytes

    def full(path, data):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    out = tmp_path / "out"
    monkeypatch.setattr(io, "atomic_write_bytes", full)
    with pytest.raises(ConfigError, match="cannot write there \\(No space left on device\\)"):
        with io.output_folder(out, "run") as tmp:
            (tmp / "a.txt").write_text("1")
    monkeypatch.setattr(io, "atomic_write_bytes", real)
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ wrongly accepted
@pytest.mark.parametrize("old,new,fragment", [
    ('regime = "prescriptive"', 'regime = "../../../../elsewhere/x"',
     "regime = '../../../../elsewhere/x' must be the name of a regime"),
    ("places = { children = 3000 }", 'places = ["E001", "E001"]', "places lists 'E001' twice"),
    ("places = { children = 3000 }", "places = { children = 3000 }\nscale = 1e-9",
     "scale = 1e-09 leaves Synthetic LA (3000 children) with"),
    ("warmup_weeks = 26", 'warmup_weeks = 26\n\n[[events]]\ndate = 2008-06-02\n'
     'type = "scale_parameter"\nparameter = "police_share"\nfactor = 100',
     "makes police_share ="),
    ('start = 2008-04-07', "start = 0001-04-07", "'start' = 0001-04-07 is out of range"),
    ("end = 2009-03-31", "end = 9999-03-31", "'end' = 9999-03-31 is out of range"),
    ("warmup_weeks = 26", 'warmup_weeks = 26\n\n[[events]]\ndate = 2008-06-02\n'
     'type = "set_parameter"\nparameter = 5\nvalue = 1', "parameter = 5 must be the name"),
])
def test_values_once_accepted_are_refused(tmp_path, capsys, old, new, fragment):
    assert old in TINY_SCENARIO
    s = scenario(tmp_path, TINY_SCENARIO.replace(old, new))
    before = snapshot(tmp_path)
    refused(capsys, ["run", str(s), "--out", str(tmp_path / "o"), "--quiet"], fragment)
    assert snapshot(tmp_path) == before and not (tmp_path / "o").exists()


@pytest.mark.parametrize("seed", [str(2**63), str(2**64), "-1"])
@pytest.mark.parametrize("command", ["run", "figures", "validate"])
def test_seed_outside_the_documented_range_is_refused_before_the_run(tmp_path, capsys, seed,
                                                                      command):
    args = {"run": ["run", str(scenario(tmp_path)), "--quiet"], "figures": ["figures"],
            "validate": ["validate", str(scenario(tmp_path))]}[command]
    refused(capsys, [*args, "--seed", seed, "--out", str(tmp_path / "o")],
            f"--seed = {seed} is out of range")
    assert not (tmp_path / "o").exists()


def test_regime_file_with_parameters_not_a_table_is_one_line(tmp_path, monkeypatch, capsys):
    from abm.core import scenario as sc
    regimes = tmp_path / "regimes"
    regimes.mkdir()
    (regimes / "odd.toml").write_text("parameters = 5\n")
    monkeypatch.setattr(sc, "REGIME_DIRS", [regimes])
    s = scenario(tmp_path, TINY_SCENARIO.replace('"prescriptive"', '"odd"'))
    refused(capsys, ["run", str(s), "--quiet", "--out", str(tmp_path / "o")],
            "parameters = 5: [parameters] must be a table")


# ------------------------------------------------------------------ tracebacks
def test_non_utf8_deep_nesting_long_base_chains_and_devices_are_one_line(tmp_path, capsys):
    bad = tmp_path / "bytes.toml"
    bad.write_bytes(b"[scenario]\nname = \"\xff\xfe\"\n")
    refused(capsys, ["run", str(bad), "--quiet"], "not UTF-8")
    deep = scenario(tmp_path, "x = " + "[" * 5000 + "]" * 5000 + "\n", "deep.toml")
    refused(capsys, ["run", str(deep), "--quiet"], "nested too deeply")
    prev = "s.toml"
    scenario(tmp_path)
    for i in range(40):  # a chain of base files longer than the limit
        scenario(tmp_path, f'[scenario]\nbase = "{prev}"\n', f"b{i}.toml")
        prev = f"b{i}.toml"
    refused(capsys, ["run", str(tmp_path / prev), "--quiet"], "'base' chain is longer than")
    dev = scenario(tmp_path, '[scenario]\nbase = "/dev/zero"\n', "dev.toml")
    refused(capsys, ["run", str(dev), "--quiet"], "base = '/dev/zero' is not a scenario file (not a regular file)")
    big = tmp_path / "big.toml"
    big.write_bytes(b"# " + b"x" * (5 * 1024 * 1024) + b"\n")
    refused(capsys, ["run", str(big), "--quiet"], "larger than the limit")


def test_out_under_a_file_or_read_only_is_refused_before_the_run(tmp_path, monkeypatch,
                                                                 capsys):
    (tmp_path / "afile").write_text("x")
    refused(capsys, ["run", str(scenario(tmp_path)), "--out", str(tmp_path / "afile" / "o"),
                     "--quiet"], "cannot write there")
    real = os.mkdir

    def read_only(path, *a, **k):  # a read-only file system (EROFS), also for root
        if str(path).startswith(str(tmp_path / "ro")):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real(path, *a, **k)

    monkeypatch.setattr(os, "mkdir", read_only)
    refused(capsys, ["run", str(scenario(tmp_path)), "--out", str(tmp_path / "ro"), "--quiet"],
            "cannot write there (Read-only file system)")
    assert not (tmp_path / "ro").exists()


@pytest.mark.parametrize("content", ["", "{not json", "[]", '{"seed": 1}'])
def test_compare_runs_with_a_corrupt_run_json_is_one_line(tmp_path, capsys, content):
    dirs = []
    for name in ("a", "b"):
        d = tmp_path / name
        d.mkdir()
        (d / "run.json").write_text(json.dumps({"seed": 1, "scenario": name}))
        (d / "summary_fy.csv").write_text("fy,x\n2008-09,1.0\n")
        dirs.append(str(d))
    (tmp_path / "b" / "run.json").write_text(content)
    refused(capsys, ["compare-runs", *dirs, "--out", str(tmp_path / "c")],
            f"{tmp_path / 'b' / 'run.json'}: not")
    assert not (tmp_path / "c").exists()


def test_an_unexpected_exception_is_one_line_exit_1_and_the_traceback_only_with_debug(
        monkeypatch, capsys):
    import abm.cli as cli

    def boom(args):
        raise KeyError("deep inside")

    monkeypatch.setattr(cli, "cmd_params", boom)
    assert main(["params"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "KeyError" in err and "Traceback" not in err
    assert main(["--debug", "params"]) == 1
    assert "Traceback" in capsys.readouterr().err


ISHI = """\
[sweep]
name = "{name}"
replications = {reps}
seed = 3

[model]
adapter = "abm.batch.testfunctions:Ishigami"

[fixed]
x2 = 1.0
x3 = 1.0

[factors.x1]
{factor}

[outputs]
indicators = ["y"]
"""


@pytest.mark.parametrize("name,reps,factor,fragment", [
    ("ok", "1000000000", "values = [0.0, 1.0]", "sweep.replications = 1000000000 is out of range"),
    ("ok", "2", "range = [0.0, 1.0]\nlevels = 100000000", "levels = 100000000 is out of range"),
    ("..", "2", "values = [0.0, 1.0]", "sweep.name = '..' is not a valid name"),
    ("a/b", "2", "values = [0.0, 1.0]", "sweep.name = 'a/b' is not a valid name"),
])
def test_sweep_sizes_and_names_are_bounded(tmp_path, capsys, name, reps, factor, fragment):
    spec = scenario(tmp_path, ISHI.format(name=name, reps=reps, factor=factor), "spec.toml")
    refused(capsys, ["sweep", str(spec), "--out", str(tmp_path / "o"), "--quiet"], fragment)
    assert not (tmp_path / "o").exists()


def test_lhs_samples_are_bounded(tmp_path, capsys):
    text = ISHI.format(name="ok", reps=2, factor="range = [0.0, 1.0]") + (
        '\n[design]\ntype = "lhs"\nsamples = 100000000\n')
    spec = scenario(tmp_path, text, "spec.toml")
    refused(capsys, ["sweep", str(spec), "--quiet"], "design.samples = 100000000 is out of range")


# ------------------------------------------------------------------ corrupt results
@pytest.fixture
def sweep(tmp_path):
    """A finished 2 x 2 sweep of the Ishigami function, serial, and its spec file."""
    spec = scenario(tmp_path, ISHI.format(name="ishi", reps=2, factor="values = [0.0, 1.0]"),
                    "spec.toml")
    out = tmp_path / "sweep"
    assert main(["sweep", str(spec), "--out", str(out), "--workers", "0", "--quiet",
                 "--no-summary"]) == 0
    return spec, out


def _runs(out: Path) -> list[Path]:
    return sorted((out / "runs").glob("*.parquet"))


@pytest.mark.parametrize("damage", ["truncate", "empty", "copy", "flip"])
def test_corrupt_run_files_are_refused_by_the_summary_and_rerun_by_resume(
        sweep, capsys, damage):
    spec, out = sweep
    first, second = _runs(out)[:2]
    good = first.read_bytes()
    good_rows = pq.read_table(first).replace_schema_metadata(None)
    if damage == "truncate":
        first.write_bytes(good[: len(good) // 2])
    elif damage == "empty":
        first.write_bytes(b"")
    elif damage == "copy":
        first.write_bytes(second.read_bytes())
    else:  # one byte changed inside, file still readable or not
        b = bytearray(good)
        b[len(b) // 3] ^= 0xFF
        first.write_bytes(bytes(b))
    refused(capsys, ["sweep", "--summarise", str(out), "--quiet"], f"{first}: ",
            "refuses a folder with a corrupt or duplicated run file")
    assert main(["sweep", str(spec), "--out", str(out), "--resume", "--workers", "0"]) == 0
    err = capsys.readouterr().err
    assert f"{first}: " in err and "the run is done again" in err
    # rerun: the same rows, bit for bit (the file's metadata holds the run's timing)
    assert pq.read_table(first).replace_schema_metadata(None).equals(good_rows)
    assert len(list((out / "quarantine").iterdir())) == 1  # the damaged file is kept aside
    assert main(["sweep", "--summarise", str(out), "--quiet"]) == 0


def test_an_unrecorded_but_sound_run_file_is_adopted(sweep, capsys):
    """A writer killed between the file and its checksum line: the file is whole, reads
    back as its own run, and is kept (not rerun)."""
    spec, out = sweep
    before = snapshot(out / "runs")
    (out / "checksums.jsonl").unlink()
    assert main(["sweep", str(spec), "--out", str(out), "--resume", "--workers", "0",
                 "--no-summary"]) == 0
    err = capsys.readouterr().err
    assert "0 to run" in err and "done again" not in err
    assert snapshot(out / "runs") == before
    assert main(["sweep", "--summarise", str(out), "--quiet"]) == 0
    assert len((out / "checksums.jsonl").read_text().splitlines()) == len(_runs(out))


@pytest.mark.parametrize("key", ["identity_sha256", "runs", "design"])
def test_a_manifest_missing_keys_is_a_clear_error(sweep, capsys, key):
    spec, out = sweep
    m = json.loads((out / "manifest.json").read_text())
    del m[key]
    (out / "manifest.json").write_text(json.dumps(m))
    refused(capsys, ["sweep", "--summarise", str(out), "--quiet"], f"missing '{key}'")
    refused(capsys, ["sweep", str(spec), "--out", str(out), "--resume", "--quiet"],
            f"missing '{key}'")


def test_sweep_into_a_folder_it_did_not_write_writes_nothing(tmp_path, user_folder, capsys):
    spec = scenario(tmp_path, ISHI.format(name="ishi", reps=2, factor="values = [0.0, 1.0]"),
                    "spec.toml")
    before = snapshot(user_folder)
    refused(capsys, ["sweep", str(spec), "--out", str(user_folder), "--quiet"],
            "holds no cpabm sweep manifest")
    assert snapshot(user_folder) == before
    assert sorted(p.name for p in user_folder.iterdir()) == ["chapters", "thesis.tex"]


def test_a_failed_sweep_run_is_one_line_with_the_traceback_only_under_debug(tmp_path, capsys):
    text = ISHI.format(name="ishi", reps=2, factor="values = [0.0, 1.0]").replace(
        'adapter = "abm.batch.testfunctions:Ishigami"',
        'adapter = "abm.batch.testfunctions:Ishigami"\nfail_above = 0.5')
    spec = scenario(tmp_path, text, "spec.toml")
    assert main(["sweep", str(spec), "--out", str(tmp_path / "o"), "--workers", "0",
                 "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert "test function asked to fail" in err and "--resume" in err and "--debug" in err
    assert main(["--debug", "sweep", str(spec), "--out", str(tmp_path / "o"), "--workers", "0",
                 "--quiet", "--resume"]) == 1
    assert "Traceback" in capsys.readouterr().err


CALIBRATION = """\
[calibration]
name = "small"
particles = 20
generations = 2
replicates = 2
seed = 5

[model]
adapter = "abm.batch.testfunctions:Gaussian"

[priors.mu]
low = -5.0
high = 5.0

[targets.y]
value = 1.0
lo = 0.0
hi = 2.0
"""


@pytest.mark.parametrize("damage", ["truncate", "empty", "flip"])
def test_a_corrupt_calibration_file_is_set_aside_and_simulated_again(tmp_path, capsys, damage):
    spec = scenario(tmp_path, CALIBRATION, "cal.toml")
    ref, out = tmp_path / "ref", tmp_path / "out"
    for folder in (ref, out):
        assert main(["calibrate", str(spec), "--out", str(folder), "--workers", "0",
                     "--quiet"]) == 0
    victim = sorted((out / "sims").glob("*.json"))[0]
    data = victim.read_bytes()
    victim.write_bytes({"truncate": data[: len(data) // 2], "empty": b"",
                        "flip": data.replace(b"1", b"2", 1)}[damage])
    assert main(["calibrate", str(spec), "--out", str(out), "--workers", "0",
                 "--resume"]) == 0
    err = capsys.readouterr().err
    assert f"{victim}: corrupt" in err and "done again" in err
    assert len(list((out / "quarantine").iterdir())) == 1
    import pandas as pd
    pd.testing.assert_frame_equal(pd.read_parquet(ref / "posterior.parquet"),
                                  pd.read_parquet(out / "posterior.parquet"), check_exact=True)


def test_calibration_manifest_missing_keys_is_a_clear_error(tmp_path, capsys):
    spec = scenario(tmp_path, CALIBRATION, "cal.toml")
    out = tmp_path / "out"
    assert main(["calibrate", str(spec), "--out", str(out), "--workers", "0", "--quiet"]) == 0
    m = json.loads((out / "manifest.json").read_text())
    del m["identity_sha256"]
    (out / "manifest.json").write_text(json.dumps(m))
    refused(capsys, ["calibrate", str(spec), "--out", str(out), "--resume", "--quiet"],
            "missing 'identity_sha256'")


@pytest.mark.parametrize("argv", [
    ["figures", "--out", ""],
    ["sweep", "{spec}", "--out", ""],
    ["sweep", "--summarise", ""],
    ["calibrate", "{cal}", "--out", ""],
    ["knockout", "--out", ""],
    ["validate", "--out", ""],
    ["compare-runs", "{a}", "{b}", "--out", ""],
])
def test_an_empty_out_is_refused_by_every_command(tmp_path, monkeypatch, capsys, argv):
    monkeypatch.chdir(tmp_path)
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "run.json").write_text(json.dumps({"seed": 1, "scenario": name}))
        (tmp_path / name / "summary_fy.csv").write_text("fy,x\n2008-09,1.0\n")
    paths = {"spec": str(scenario(tmp_path, ISHI.format(name="i", reps=2, factor="values = [0.0]"),
                                  "spec.toml")),
             "cal": str(scenario(tmp_path, CALIBRATION, "cal.toml")),
             "a": str(tmp_path / "a"), "b": str(tmp_path / "b")}
    before = snapshot(tmp_path)
    refused(capsys, [a.format(**paths) for a in argv], "= '' is empty")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("out", [".", "..", "{work}", "{tmp}", "sub/.."])
def test_out_equal_to_or_holding_the_working_directory_is_refused(tmp_path, monkeypatch,
                                                                 capsys, out):
    """Replacing the working directory would leave the user's shell in a deleted folder."""
    work = tmp_path / "work"
    (work / "sub").mkdir(parents=True)
    (work / "notes.txt").write_text("mine")
    monkeypatch.chdir(work)
    before = snapshot(tmp_path)
    out = out.format(work=work, tmp=tmp_path)
    refused(capsys, ["run", str(scenario(tmp_path / "work" / "sub", name="s.toml")), "--out",
                     out, "--quiet"], "the current directory", "Give a folder below it")
    (work / "sub" / "s.toml").unlink()
    assert snapshot(tmp_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["work"]
    with pytest.raises(ConfigError, match="the current directory"):
        with io.output_folder(out, "run"):
            pass


def test_out_below_the_working_directory_is_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with io.output_folder("res/..//res2", "run") as tmp:
        (tmp / "a.txt").write_text("1")
    assert snapshot(tmp_path / "res2").keys() == {io.MARKER, "a.txt"}


# ------------------------------------------------------------------ regimes from the command line
def test_a_regime_file_on_the_command_line_is_read_and_checked_like_a_packaged_one(tmp_path):
    from abm.core.scenario import DATA_DIR, load_scenario

    mine = tmp_path / "mine.toml"
    mine.write_text((DATA_DIR / "regimes" / "early_help.toml").read_text())
    a = load_scenario(scenario(tmp_path))
    b = load_scenario(scenario(tmp_path), regime_file=mine)
    packaged = load_scenario(scenario(tmp_path, TINY_SCENARIO.replace("prescriptive",
                                                                      "early_help")))
    assert (a.regime, b.regime) == ("prescriptive", "mine")
    assert b.regime_params == packaged.regime_params != a.regime_params
    assert b.params() == packaged.params()


@pytest.mark.parametrize("text, name, fragment", [
    ("[parameters]\nno_such_parameter = 1.0\n", "r.toml", "no_such_parameter"),
    ("[parameters]\nprescription = 1e9\n", "r.toml", "'prescription' = 1000000000.0 is out of range"),
    ("parameters = 5\n", "r.toml", "[parameters] must be a table"),
    ("[oops]\n", "r.toml", "unknown section 'oops'"),
    ("[parameters]\n", "r.txt", "must be a .toml file"),
    (None, "missing.toml", "file not found"),
    (b"\xff\xfe", "r.toml", "not UTF-8"),
])
def test_a_bad_regime_file_is_refused_naming_it_and_nothing_is_written(
        tmp_path, monkeypatch, capsys, text, name, fragment):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    elif text is not None:
        path.write_text(text)
    s = scenario(tmp_path)
    before = snapshot(tmp_path)
    refused(capsys, ["run", str(s), "--regime-file", str(path), "--quiet"], str(path), fragment)
    assert snapshot(tmp_path) == before and not (tmp_path / "results").exists()


# ------------------------------------------------------------------ validate, knockout
def test_validate_scale_follows_the_scenarios_minimum_children_rule(tmp_path, capsys):
    s = scenario(tmp_path)  # one LA of 3,000 children: scale >= 100/3000
    refused(capsys, ["validate", str(s), "--scale", "0.01", "--replicates", "1"],
            "--scale = 0.01 leaves", "at least 100 children per LA", "[0.0333, 1]")
    refused(capsys, ["validate", str(s), "--scale", "1.5"], "--scale = 1.5 is out of range")


def test_knockout_report_only_refuses_a_folder_that_is_not_its_own(tmp_path, user_folder,
                                                                    capsys):
    before = snapshot(user_folder)
    refused(capsys, ["knockout", "--report-only", "--out", str(user_folder), "--quiet"],
            "holds no cpabm knockout")
    assert snapshot(user_folder) == before


# ------------------------------------------------------------------ the research API's surfaces
@pytest.mark.parametrize("extra, fragment", [
    (["--precision", "nan"], "--precision = nan is out of range: valid range is (0, 1)"),
    (["--precision", "0"], "--precision = 0.0 is out of range"),
    (["--precision", "1"], "--precision = 1.0 is out of range"),
    (["--precision=-inf"], "--precision = -inf is out of range"),
    (["--precision", "0.05", "--max-replications", "1"],
     "--max-replications = 1 is out of range: valid range is [2, 100000]"),
    (["--precision", "0.05", "--max-replications", "-5"], "--max-replications = -5"),
    (["--precision", "0.05", "--max-replications", str(10**12)],
     f"--max-replications = {10**12} is out of range"),
    (["--scheduler", "dask-local:0"], "with N in [1, 256]"),
    (["--scheduler", "dask-local:-1"], "--scheduler = 'dask-local:-1'"),
    (["--scheduler", "dask-local:1.5"], "dask-local:N"),
    (["--scheduler", "dask-local:\u00b2"], "dask-local:N"),
    (["--scheduler", "dask-local:100000"], "with N in [1, 256]"),
    (["--workers", "-1"], "--workers = -1 is out of range: valid range is [0, 256]"),
    (["--workers", "100000"], "--workers = 100000 is out of range"),
])
def test_precision_replication_cap_and_worker_counts_are_refused_before_any_run(
        tmp_path, monkeypatch, capsys, extra, fragment):
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    spec = scenario(tmp_path, ISHI.format(name="ishi", reps=2, factor="values = [0.0, 1.0]"),
                    "ishi.toml")
    before = snapshot(tmp_path)
    refused(capsys, ["sweep", str(spec), "--out", str(tmp_path / "out"), "--quiet", *extra],
            fragment)
    assert snapshot(tmp_path) == before and not (tmp_path / "out").exists()


@pytest.mark.parametrize("call, fragment", [
    (lambda abm: abm.load_scenario(5), "path_or_name = 5 must be a path"),
    (lambda abm: abm.load_scenario("small_la", nope=1), "unknown parameter 'nope' = 1"),
    (lambda abm: abm.load_scenario("small_la", hearing_slots_per_100k=1e9),
     "'hearing_slots_per_100k' = 1000000000.0 is out of range: valid range is [0.0, 200.0]"),
    (lambda abm: abm.run("small_la", seed=-1),
     "run: seed = -1 is out of range: valid range is whole numbers in [0, 2**63)"),
    (lambda abm: abm.run("small_la", seed=2**64), "seed = 18446744073709551616 is out of range"),
    (lambda abm: abm.run("small_la", seed=1.5), "seed = 1.5 has the wrong type"),
    (lambda abm: abm.run("small_la", seed=True), "seed = True has the wrong type"),
    (lambda abm: abm.run(5), "scenario = 5 must be an abm.Scenario"),
    (lambda abm: abm.run("small_la", regime="../x"), "regime = '../x' must be the name"),
    (lambda abm: abm.run("small_la", events=5), "events = 5 must be a list"),
    (lambda abm: abm.run("small_la", events={"type": "media_shock"}), "must be a list"),
    (lambda abm: abm.run("small_la", events=[{"date": "2010-04-05", "type": "media_shock",
                                              "magnitude": 1e300}]),
     "magnitude = 1e+300 is out of range: valid range is [0, 10]"),
    (lambda abm: abm.evaluate(5, scenario="small_la"), "params = 5 must be a mapping"),
    (lambda abm: abm.evaluate({5: 1}, scenario="small_la"), "params key 5 must be"),
    (lambda abm: abm.evaluate({"nope": 1}, scenario="small_la"), "unknown parameter 'nope'"),
    (lambda abm: abm.evaluate({"hearing_slots_per_100k": float("nan")}, scenario="small_la"),
     "'hearing_slots_per_100k' = nan is not a finite number; valid range is [0.0, 200.0]"),
    (lambda abm: abm.evaluate({}, scenario="small_la", seed=None), "seed = None has the wrong type"),
    (lambda abm: abm.evaluate({}, scenario=123), "scenario = 123 must be"),
    (lambda abm: abm.evaluate({"regime": 5}, scenario="small_la"), "regime = 5 must be"),
])
def test_the_public_api_refuses_bad_values_with_its_own_error_before_any_run(
        monkeypatch, call, fragment):
    import abm
    import abm.core.model as model

    def refuse(*a, **k):
        raise AssertionError("a refused value reached the simulation")

    monkeypatch.setattr(model, "ChildProtectionModel", refuse)
    with pytest.raises(abm.ConfigError) as e:
        call(abm)
    assert isinstance(e.value, ValueError)
    assert fragment in str(e.value), str(e.value)


def test_cpabm_run_with_a_regime_file_records_it(tmp_path):
    from abm.core.scenario import DATA_DIR

    mine = tmp_path / "mine.toml"
    mine.write_text((DATA_DIR / "regimes" / "early_help.toml").read_text())
    out = tmp_path / "out"
    assert main(["run", str(scenario(tmp_path)), "--regime-file", str(mine), "--out", str(out),
                 "--quiet", "--no-per-la"]) == 0
    meta = json.loads((out / "run.json").read_text())
    assert (meta["regime"], meta["regime_file"]) == ("mine", str(mine.resolve()))
