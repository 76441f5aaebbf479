"""The documentation cannot drift from the code or the records: docs/ODD.md,
docs/parameters.md, and the benchmark figures the README and docs quote.

* The generated parameter tables are exactly what experiments/tools/make_docs.py produces
  now, and contain every parameter exactly once.
* The ODD names every ``mech_*`` switch, lists only real parameters in its submodels'
  ``**Parameters:**`` / ``**Switch:**`` lines, and between them covers every parameter.
* Every code name and path the ODD quotes in backticks exists; every relative link and
  in-page anchor resolves.
* Every parameter in the table is read somewhere in the code.
* Every benchmark figure quoted in README.md or docs/*.md carries a marker naming its source
  in the latest record of results/benchmarks/, and matches it; README.md and
  docs/performance.md quote no benchmark figure without one (they link the records).

Fast: no simulation, only text, the parameter table and the recorded JSON.
"""

from __future__ import annotations

import datetime
import importlib.util
import json
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from conftest import ROOT

from abm.core.params import PARAMETERS

DOCS = ROOT / "docs"
ODD = DOCS / "ODD.md"
PARAMS_MD = DOCS / "parameters.md"
GENERATOR = ROOT / "experiments" / "tools" / "make_docs.py"


def _load_generator():
    spec = importlib.util.spec_from_file_location("make_docs", GENERATOR)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


make_docs = _load_generator()
ODD_TEXT = ODD.read_text(encoding="utf-8")


def _hand_written(text: str = ODD_TEXT) -> str:
    """The ODD without its generated parameter block (which names every parameter)."""
    head, rest = text.split(make_docs.START, 1)
    _, tail = rest.split(make_docs.END, 1)
    return head + tail


def _without_fences(text: str) -> str:
    return re.sub(r"```.*?```", "", text, flags=re.S)


PROSE = _hand_written()
TABLE_ROW = re.compile(r"^\| `([^`]+)` \|", re.M)


# ------------------------------------------------------------------ (a) generated = current
def test_generated_files_are_exactly_what_the_generator_produces():
    for path, expected in make_docs.targets(ROOT).items():
        assert path.read_text(encoding="utf-8") == expected, (
            f"{path.relative_to(ROOT)} is stale: run `python experiments/tools/make_docs.py`")


def test_refreshing_the_odd_twice_changes_nothing_the_second_time():
    """Refreshing twice changes nothing the second time. (Deterministic across processes:
    the committed files, written by another process with another hash seed, equal what this
    one renders, in test_generated_files_are_exactly_what_the_generator_produces and the
    subprocess of test_check_mode_names_the_stale_file.)"""
    once = make_docs.refresh_odd(ODD_TEXT)
    assert make_docs.refresh_odd(once) == once


@pytest.mark.parametrize("text", [PARAMS_MD.read_text(encoding="utf-8"),
                                  ODD_TEXT.split(make_docs.START, 1)[1].split(make_docs.END, 1)[0]],
                         ids=["parameters.md", "ODD appendix"])
def test_generated_tables_hold_every_parameter_exactly_once(text):
    counts = Counter(TABLE_ROW.findall(text))
    assert set(counts) == set(PARAMETERS), (
        f"missing: {sorted(set(PARAMETERS) - set(counts))}; "
        f"unknown: {sorted(set(counts) - set(PARAMETERS))}")
    assert all(n == 1 for n in counts.values()), {k: n for k, n in counts.items() if n != 1}
    # with a calibrated-status column, filled from the table
    header = next(line for line in text.splitlines() if line.startswith("| name |"))
    assert "| calibrated |" in header
    for line in text.splitlines():
        m = TABLE_ROW.match(line)
        if m:
            cells = [c.strip() for c in line.strip("|").split("|")]
            want = "yes" if PARAMETERS[m.group(1)].calibrated else "no"
            assert cells[5].startswith(want), (m.group(1), cells[5])


def test_check_mode_names_the_stale_file(tmp_path):
    (tmp_path / "docs").mkdir()
    shutil.copy(ODD, tmp_path / "docs" / "ODD.md")
    shutil.copy(PARAMS_MD, tmp_path / "docs" / "parameters.md")
    shutil.copy(ROOT / "docs" / "outputs.md", tmp_path / "docs" / "outputs.md")
    cmd = [sys.executable, str(GENERATOR), "--check", "--root", str(tmp_path)]
    ok = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr

    # a hand edit inside the generated block of the ODD, and a stale parameters.md
    odd = (tmp_path / "docs" / "ODD.md")
    odd.write_text(odd.read_text().replace("| `risk_reversion` |", "| `risk_reversion_x` |"))
    (tmp_path / "docs" / "parameters.md").write_text("# Parameters\n")
    bad = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0
    assert "ODD.md" in bad.stderr and "parameters.md" in bad.stderr
    assert odd.read_text().count("risk_reversion_x") == 1  # --check writes nothing

    # without --check it repairs both, and a second run changes nothing
    fix = [sys.executable, str(GENERATOR), "--root", str(tmp_path)]
    assert subprocess.run(fix, capture_output=True, timeout=120).returncode == 0
    assert subprocess.run(cmd, capture_output=True, timeout=120).returncode == 0
    assert odd.read_text() == ODD_TEXT


def test_missing_markers_are_an_error():
    with pytest.raises(SystemExit, match="marker"):
        make_docs.refresh_odd("# ODD without markers\n")


# ------------------------------------------------------------------ (b) every switch named
@pytest.mark.parametrize("name", sorted(n for n in PARAMETERS if n.startswith("mech_")))
def test_every_mech_switch_is_described_in_the_odd(name):
    assert f"`{name}`" in PROSE, f"docs/ODD.md (outside the generated table) never names `{name}`"


# ------------------------------------------------------------------ (c) claimed parameters exist
LIST_LINE = re.compile(r"^\*\*(Parameters|Switch):\*\*(.*)$", re.M)


def _claimed() -> list[tuple[str, str]]:
    """(kind, name) for every backticked name in a **Parameters:** or **Switch:** line, and
    in the first column of the mechanism-switch table of section 3."""
    out = [(kind, n) for kind, rest in LIST_LINE.findall(PROSE) for n in re.findall(r"`([^`]+)`", rest)]
    out += [("switch table", n) for n in re.findall(r"^\| `(mech_[a-z0-9_]+)` \|", PROSE, re.M)]
    return out


def test_submodel_parameter_lists_name_only_real_parameters():
    claimed = _claimed()
    assert len(claimed) > len(PARAMETERS) / 2  # the lists are really there
    unknown = sorted({n for _, n in claimed if n not in PARAMETERS})
    assert not unknown, f"docs/ODD.md lists names that are not parameters: {unknown}"
    # a switch line names mech_* switches (and, in prose, on/off levers): booleans only
    switches = [n for kind, n in claimed if kind != "Parameters"]
    assert all(PARAMETERS[n].type == "bool" for n in switches), switches


def test_submodel_parameter_lists_cover_every_parameter():
    listed = {n for _, n in _claimed()}
    missing = sorted(set(PARAMETERS) - listed)
    assert not missing, (f"parameters no ODD submodel lists (add them to a **Parameters:** line "
                         f"in docs/ODD.md): {missing}")


def _submodels() -> list[tuple[str, str]]:
    parts = re.split(r"^### (7\.\d+ .*)$", PROSE, flags=re.M)
    return list(zip(parts[1::2], parts[2::2], strict=True))


def test_every_submodel_links_its_code_and_lists_parameters_and_switch():
    subs = _submodels()
    assert len(subs) >= 15
    for title, body in subs:
        if "Simplifications" in title:
            continue
        assert re.search(r"\]\(\.\./abm/[^)]+\.py\)", body), f"{title}: no link to its code"
        assert "**Parameters:**" in body, f"{title}: no **Parameters:** line"
        assert "**Switch:**" in body, f"{title}: no **Switch:** line"
        for _, rest in LIST_LINE.findall(body):
            for n in re.findall(r"`(mech_[a-z0-9_]+)`", rest):
                assert PARAMETERS[n].type == "bool"


def test_odd_has_the_seven_odd_sections_in_order():
    heads = re.findall(r"^## (\d)\. (.*)$", PROSE, re.M)
    assert [h[0] for h in heads] == list("1234567")
    assert [h[1].split()[0] for h in heads] == ["Purpose", "Entities,", "Process", "Design",
                                               "Initialization", "Input", "Submodels"]
    assert PROSE.rstrip().split("\n## ")[-1].startswith("Known limitations and open issues")


# ------------------------------------------------------------------ quoted code names exist
CODE_FILES = ([p for p in (ROOT / "abm").rglob("*.py")]
              + [p for p in (ROOT / "experiments").rglob("*.py")]
              + [p for p in (ROOT / "experiments").rglob("*.toml")]
              + [p for p in (ROOT / "abm" / "data").rglob("*") if p.is_file()])
CODE_WORDS = set()
for _p in CODE_FILES:
    CODE_WORDS.update(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", _p.read_text(encoding="utf-8")))
IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*(\(\))?$")
SNAKE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")


def test_backticked_code_names_and_paths_exist():
    """A name the ODD quotes as code (`move`, `self.pk`, `FL_HARM_KNOWN`) must exist in the
    code or the parameter table, and a quoted repository path must exist."""
    bad = []
    for token in re.findall(r"`([^`\n]+)`", _without_fences(PROSE)):
        if "/" in token and " " not in token and not token.startswith("/"):
            if not (ROOT / token.rstrip("/")).exists():
                bad.append(token)
        elif IDENT.match(token):
            parts = token.removesuffix("()").split(".")
            if any(p not in CODE_WORDS and p not in PARAMETERS for p in parts):
                bad.append(token)
    assert not bad, f"docs/ODD.md quotes names or paths that do not exist: {sorted(set(bad))}"


def test_names_in_formulas_exist():
    """snake_case names in the indented formula blocks are parameters or code names."""
    formulas = "\n".join(line for line in PROSE.splitlines() if line.startswith("    "))
    assert "harm_hazard_base" in formulas  # the formula blocks are really there
    unknown = sorted({w for w in SNAKE.findall(formulas)
                      if w not in PARAMETERS and w not in CODE_WORDS})
    assert not unknown, f"formulas in docs/ODD.md use unknown names: {unknown}"


# ------------------------------------------------------------------ (d) links resolve
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _anchors(text: str) -> set[str]:
    ids = set(re.findall(r'<a id="([^"]+)"></a>', text))
    for head in re.findall(r"^#+ (.*)$", text, re.M):  # GitHub heading slugs
        slug = re.sub(r"[^\w\- ]", "", head.strip().lower()).replace(" ", "-")
        ids.add(slug)
    return ids


@pytest.mark.parametrize("doc", [ODD, PARAMS_MD, DOCS / "performance.md", DOCS / "CHANGELOG.md"],
                         ids=lambda p: p.name)
def test_relative_links_and_anchors_resolve(doc):
    text = doc.read_text(encoding="utf-8")
    links = LINK.findall(_without_fences(text))
    assert links
    bad = []
    for target in links:
        if re.match(r"^[a-z]+:", target):  # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        dest = (doc.parent / path).resolve() if path else doc
        if not dest.exists():
            bad.append(target)
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest.read_text(encoding="utf-8")):
            bad.append(target)
    assert not bad, f"{doc.name}: broken links: {bad}"


# ------------------------------------------------------------------ (e) every parameter is read
def test_every_parameter_is_read_by_the_code():
    """The model reads parameters as attributes of the ``Params`` namedtuple: ``p.name``,
    ``pk.name``, ``self.p.name``, ``self.pk.name`` (or ``getattr(p, "name")``). A bare
    ``.name`` would also match unrelated fields (``cases.fdac``), so it does not count."""
    sources = [p.read_text(encoding="utf-8") for p in (ROOT / "abm").rglob("*.py")
               if p.name != "params.py"]  # the loader itself reads no parameter by name
    text = "\n".join(sources)

    def read(name):
        return (re.search(rf"\b(?:p|pk|params|self\.p|self\.pk|model\.p|m\.p)\.{name}\b", text)
                or re.search(rf"getattr\([^)]*[\"']{name}[\"']", text))

    unused = [name for name in PARAMETERS if not read(name)]
    assert not unused, f"parameters never read in abm/**/*.py: {unused}"


# ------------------------------------------------------------------ the regime table is true
def test_regime_table_matches_the_regime_files():
    from abm.core.scenario import REGIME_DIRS, load_regime

    rows = re.findall(r"^\| \[`([a-z_]+)`\]\(\.\./abm/data/regimes/\1\.toml\) \|(.*)$", PROSE, re.M)
    files = sorted(p.stem for d in REGIME_DIRS for p in d.glob("*.toml"))
    assert sorted(name for name, _ in rows) == files, "every regime file has one row"
    cols = ("prescription", "compliance_priority", "scope_for_judgment", "supervision_quality")
    for name, rest in rows:
        cells = [c.strip() for c in rest.strip().strip("|").split("|")]
        documented = {k: v for k, v in zip(cols, cells[:4], strict=True)}
        documented.update(re.findall(r"`([a-z0-9_]+)`\s*=?\s*([^,`\s]+)", cells[4]))
        actual = {k: _norm(v) for k, v in load_regime(name, "test").items()}
        assert {k: _norm(v) for k, v in documented.items()} == actual, name


def _norm(v):
    s = str(v).lower()
    try:
        return float(s)
    except ValueError:
        return s


# ------------------------------------------------------------------ the batch and calibration docs
BATCH_DOCS = [DOCS / "batch.md", DOCS / "knockout.md", DOCS / "calibration_method.md",
              DOCS / "reliability.md"]
REPO_PATH = re.compile(r"^(abm|experiments|tests|docs)/[^\s:]*$")
MODULE_TABLE = re.compile(r"^\| module of `([^`]+)` \|", re.M)


def _resolves(dotted: str) -> bool:
    """``abm.x.y.name`` or ``abm.x.y:Name``: a module, then attributes of it."""
    import importlib

    parts = dotted.replace(":", ".").split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


def _doc_code_refs(text: str) -> list[str]:
    """Repository paths and ``abm.`` names the text quotes, and the modules its "module of
    `folder/`" tables list (as paths under that folder)."""
    refs = []
    for token in re.findall(r"`([^`\n]+)`", _without_fences(text)):
        name = token.split("(")[0]
        if REPO_PATH.match(token) or re.match(r"^abm\.[A-Za-z_][\w.:]*$", name):
            refs.append(name)
    for table in re.finditer(r"^\| module of `([^`]+)` \|.*\n\|[-|]+\|\n((?:\|.*\n)+)", text,
                             re.M):
        folder = table.group(1)
        for row in table.group(2).splitlines():
            first = row.strip("|").split("|")[0]
            refs += [folder.rstrip("/") + "/" + m for m in re.findall(r"`([^`]+)`", first)]
    return refs


@pytest.mark.parametrize("doc", BATCH_DOCS, ids=lambda p: p.name)
def test_batch_docs_quote_real_code_and_links(doc):
    """docs/batch.md, knockout.md and calibration_method.md: every repository path they
    quote exists (a glob matches something), every ``abm.`` name imports, every module their
    module tables list exists, and every relative link and anchor resolves."""
    text = doc.read_text(encoding="utf-8")
    refs = _doc_code_refs(text)
    assert any(r.startswith("abm.") for r in refs) and any("/" in r for r in refs)
    bad = []
    for ref in refs:
        if "/" in ref:
            if not (list(ROOT.glob(ref.rstrip("/"))) if "*" in ref else (ROOT / ref).exists()):
                bad.append(ref)
        elif not _resolves(ref):
            bad.append(ref)
    for target in LINK.findall(_without_fences(text)):
        if re.match(r"^[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        dest = (doc.parent / path).resolve() if path else doc
        if not dest.exists() or (anchor and dest.suffix == ".md" and anchor not in
                                 _anchors(dest.read_text(encoding="utf-8"))):
            bad.append(target)
    assert not bad, f"{doc.name} quotes code or links that do not exist: {bad}"


def test_batch_docs_check_sees_stale_references():
    refs = _doc_code_refs("`abm/batch/abc_toy.py` and `abm.batch.abc_toy:Gaussian`\n\n"
                          "| module of `abm/batch/` | role |\n|---|---|\n"
                          "| `cpmodel.py` | gone |\n| `spec.py`, `seeds.py` | here |\n")
    assert refs == ["abm/batch/abc_toy.py", "abm.batch.abc_toy:Gaussian", "abm/batch/",
                    "abm/batch/cpmodel.py", "abm/batch/spec.py", "abm/batch/seeds.py"]
    assert [r for r in refs if "/" in r and not (ROOT / r).exists()] == [
        "abm/batch/abc_toy.py", "abm/batch/cpmodel.py"]
    assert not _resolves("abm.batch.abc_toy:Gaussian")
    assert _resolves("abm.batch.testfunctions:Gaussian") and _resolves("abm.batch.abc.Target")


# ------------------------------------------------------------------ quoted benchmark figures
# A doc may quote a recorded benchmark figure only with a marker at the end of the quote's
# line, naming the record and the JSON path of each of the line's last numbers, in order:
#     | first render | 3.2 s (4.0 s) <!-- bench: viz.json render.first_render_s.median render.first_render_s.max --> |
# The record is a file of results/benchmarks/, or "engine" for the latest <date>.json.
BENCH = ROOT / "results" / "benchmarks"
FIGURE_DOCS = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
MARKER = re.compile(r"<!-- bench: (\S+) ([^>]*?) -->")
NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?")
#: a number with a unit of time, memory or a ratio: what a benchmark figure looks like
FIGURE = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?\s?(?:ns|us|µs|ms|s|seconds?|min|minutes?"
                    r"|MiB|GiB|MB|GB|x)(?![\w])")


def latest_engine_record(folder: Path = BENCH) -> Path:
    dated = []
    for p in folder.glob("*.json"):
        try:
            dated.append((datetime.date.fromisoformat(p.stem), p))
        except ValueError:
            continue
    assert dated, f"no engine record (<date>.json) in {folder}"
    return max(dated)[1]


def _lookup(data, path: str):
    for part in path.split("."):
        data = data[int(part)] if isinstance(data, list) else data[part]
    return data


def _marked(text: str, marker: re.Pattern, number: re.Pattern) -> list[tuple[int, str, str, str]]:
    """(line number, quoted number, record, spec) for every figure a ``marker`` names: the
    marker's specs go, in order, with the last numbers of the text before it on its line."""
    out = []
    for no, line in enumerate(text.splitlines(), 1):
        for m in marker.finditer(line):
            specs = m.group(2).split()
            numbers = number.findall(line[:m.start()])
            assert len(numbers) >= len(specs), f"line {no}: fewer numbers than figures: {line}"
            out += [(no, q, m.group(1), sp)
                    for q, sp in zip(numbers[len(numbers) - len(specs):], specs, strict=True)]
    return out


def quoted_figures(text: str) -> list[tuple[int, str, str, str]]:
    """(line number, quoted number, record, JSON path) for every marked figure in ``text``."""
    return _marked(text, MARKER, NUMBER)


def _quote_differs(quoted: str, value: float) -> bool:
    """Whether ``value`` rounds to something other than ``quoted`` at its decimals."""
    q = quoted.replace(",", "").replace("−", "-")
    decimals = len(q.split(".")[1]) if "." in q else 0
    return abs(value - float(q)) > 0.5 * 10.0 ** -decimals + 1e-9


def _in_every_doc(check) -> list[str]:
    return [f"{doc.relative_to(ROOT)} {b}" for doc in FIGURE_DOCS
            for b in check(doc.read_text(encoding="utf-8"))]


def figure_mismatches(text: str, folder: Path = BENCH) -> list[str]:
    """Every marked figure in ``text`` that its record does not give (to its decimals)."""
    bad, records = [], {}
    for no, quoted, name, path in quoted_figures(text):
        file = latest_engine_record(folder) if name == "engine" else folder / name
        if file not in records:
            records[file] = json.loads(file.read_text())
        try:
            value = float(_lookup(records[file], path))
        except (KeyError, IndexError, TypeError, ValueError):
            bad.append(f"line {no}: {path} is not in {file.name}")
            continue
        if _quote_differs(quoted, value):
            bad.append(f"line {no}: quotes {quoted}, {file.name} {path} is {value:.4g}")
    return bad


def test_a_stale_or_unknown_quoted_figure_is_caught(tmp_path):
    (tmp_path / "2026-01-01.json").write_text(json.dumps({"cases": {"x": {"wall_s": 15.49}}}))
    (tmp_path / "2026-02-01.json").write_text(json.dumps({"cases": {"x": {"wall_s": 17.2}}}))
    (tmp_path / "viz.json").write_text(json.dumps({"steps": [{"ms": 3.04}]}))
    ok = ("England took 17.2 s <!-- bench: engine cases.x.wall_s -->\n"
          "| 75,000 children | 3.0 ms <!-- bench: viz.json steps.0.ms --> |\n")
    assert figure_mismatches(ok, tmp_path) == []
    stale = "England took 15.5 s <!-- bench: engine cases.x.wall_s -->"  # an older record's
    assert figure_mismatches(stale, tmp_path) == ["line 1: quotes 15.5, 2026-02-01.json "
                                                  "cases.x.wall_s is 17.2"]
    assert "not in" in figure_mismatches("3 s <!-- bench: viz.json steps.1.ms -->", tmp_path)[0]


# ------------------------------------------------------------------ quoted result figures
# A doc may quote a figure of a committed result table (CSV under results/) with a marker at
# the end of the quote's line naming the file and, for each of the line's last numbers in
# order, the row (column=value pairs joined by &) and the column, times a scale if given:
#     B2 raises turnover by −61% <!-- result: knockout/knockout_table.csv variant=no_b2&metric=turnover_rate:relative*100 -->
# Numbers may carry a sign (+, -, or the typographic minus); they must equal the table's
# value to the decimals quoted. A rerun that moves a figure fails here, naming the line.
RESULTS = ROOT / "results"
RESULT_MARKER = re.compile(r"<!-- result: (\S+) ([^>]*?) -->")
SIGNED = re.compile(r"(?<![\w.])[+\-−]?\d[\d,]*(?:\.\d+)?")


def quoted_results(text: str) -> list[tuple[int, str, str, str]]:
    """(line number, quoted number, table, row:column[*scale]) for every marked figure."""
    return _marked(text, RESULT_MARKER, SIGNED)


def result_mismatches(text: str, folder: Path = RESULTS) -> list[str]:
    """Every marked result figure in ``text`` that its table does not give (to its decimals)."""
    import pandas as pd

    bad, tables = [], {}
    for no, quoted, name, spec in quoted_results(text):
        if name not in tables:
            tables[name] = pd.read_csv(folder / name, dtype=str)
        t = tables[name]
        where, _, column = spec.partition(":")
        column, _, scale = column.partition("*")
        rows = t
        for cond in where.split("&"):
            key, _, value = cond.partition("=")
            rows = rows[rows[key] == value] if key in rows else rows.iloc[0:0]
        if len(rows) != 1 or column not in t:
            bad.append(f"line {no}: {name} has {len(rows)} rows for {where} (column {column})")
            continue
        value = float(rows[column].iloc[0]) * (float(scale) if scale else 1.0)
        if _quote_differs(quoted, value):
            bad.append(f"line {no}: quotes {quoted}, {name} {spec} is {value:.4g}")
    return bad


@pytest.mark.parametrize("check", [figure_mismatches, result_mismatches],
                         ids=["benchmark figures", "result-table figures"])
def test_every_quoted_figure_matches_its_record(check):
    bad = _in_every_doc(check)
    assert not bad, "quoted figures differ from their records:\n" + "\n".join(bad)


def test_a_stale_or_unknown_quoted_result_is_caught(tmp_path):
    (tmp_path / "t.csv").write_text("variant,metric,relative\nno_b2,turnover,-0.612\n"
                                    "no_r,turnover,0.51\n")
    m = "<!-- result: t.csv variant=no_b2&metric=turnover:relative*100 -->"
    assert result_mismatches(f"turnover −61% {m}", tmp_path) == []
    assert result_mismatches(f"turnover −61.2% and +51% {m[:-4]} "
                             f"variant=no_r&metric=turnover:relative*100 -->", tmp_path) == []
    assert result_mismatches(f"turnover −41% {m}", tmp_path) == [
        "line 1: quotes −41, t.csv variant=no_b2&metric=turnover:relative*100 is -61.2"]
    assert "0 rows" in result_mismatches(
        "x 3 <!-- result: t.csv variant=none:relative -->", tmp_path)[0]


def _unmarked_figures(text: str) -> list[str]:
    """Benchmark-like figures outside code, outside marked lines and outside goal statements
    (a section headed Goals, or a paragraph or bullet naming a goal)."""
    found = []
    for section in re.split(r"^(?=#+ )", _without_fences(text), flags=re.M):
        if re.match(r"#+ .*goal", section, re.I):
            continue
        for block in re.split(r"\n\s*\n|\n(?=\s*[*-] )", section):
            if re.search(r"\bgoals?\b", block, re.I):
                continue
            for line in block.splitlines():
                if MARKER.search(line):
                    continue
                line = re.sub(r"`[^`]*`|\]\([^)]*\)", "", line)
                found += [f"{m.group(0)!r} in: {line.strip()}" for m in FIGURE.finditer(line)]
    return found


@pytest.mark.parametrize("doc", [ROOT / "README.md", DOCS / "performance.md"],
                         ids=lambda p: p.name)
def test_readme_and_performance_notes_link_the_records_instead_of_quoting_figures(doc):
    found = _unmarked_figures(doc.read_text(encoding="utf-8"))
    assert not found, (f"{doc.name} quotes benchmark figures without a marker (link the "
                       "record, or mark the figure):\n" + "\n".join(found))


def test_the_unmarked_figure_guard_sees_a_figure_and_spares_goals_and_code():
    text = ("## Speed\n\nEngland runs in 15.5 s.\n\n* the goal is 30 s\n\n"
            "```\nmake bench  # 60x\n```\n\n## Goals\n\n* at most 4 GiB\n")
    assert [f.split(" in:")[0] for f in _unmarked_figures(text)] == ["'15.5 s'"]
