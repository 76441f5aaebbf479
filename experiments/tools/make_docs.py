"""Regenerate the generated documentation from its single sources.

Writes ``docs/parameters.md`` and refreshes the generated block of ``docs/ODD.md`` (between
``<!-- parameter-table:start -->`` and ``<!-- parameter-table:end -->``), both from
``abm/data/parameters.toml`` (``abm.core.params.parameter_table_markdown()``, split into one
table per mechanism group, so each parameter appears exactly once in each file); and
``docs/outputs.md``, every output of the indicator registry (``abm/core/indicators.py``).
Deterministic and idempotent: a second run changes nothing.

    python experiments/tools/make_docs.py            # write both files
    python experiments/tools/make_docs.py --check    # exit 1 and name each stale file
    python experiments/tools/make_docs.py --root DIR # work on DIR/docs (tests use this)
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # run as a script from anywhere without installing
    sys.path.insert(0, str(REPO))

from abm.core.params import PARAMETERS, parameter_table_markdown  # noqa: E402

START = "<!-- parameter-table:start -->"
END = "<!-- parameter-table:end -->"
GENERATOR = "experiments/tools/make_docs.py"

#: Mechanism groups in the order of the ODD's submodels: (mechanism, title, ODD anchor).
#: A mechanism missing from this list still gets its own group (after these, in table
#: order), so a new mechanism never drops parameters; give it a title and anchor here.
GROUPS: tuple[tuple[str, str, str], ...] = (
    ("family_risk", "Family risk and need", "sm-family-risk"),
    ("harm_events", "Severe harm events", "sm-harm"),
    ("contacts", "Contacts with universal services", "sm-contacts"),
    ("referral_decision", "Referral decision", "sm-contacts"),
    ("early_help", "Early help", "sm-early-help"),
    ("front_door", "Front-door screening", "sm-front-door"),
    ("front_door_variants", "Front-door variants (Case Studies 1-2)", "sm-front-door"),
    ("decisions", "Taylor-Russell decisions", "sm-decisions"),
    ("anxiety", "Anxiety after a media shock", "sm-anxiety"),
    ("workforce", "Workforce structure", "sm-allocation"),
    ("workload", "Workload, time use and the squeeze rule", "sm-workload"),
    ("timescales", "Timescales", "sm-assessment"),
    ("assessment", "Assessment decisions", "sm-assessment"),
    ("conference", "Child protection conference", "sm-plans"),
    ("plans", "Plans and reviews", "sm-plans"),
    ("court_decision", "The LA's decision to apply to court", "sm-plans"),
    ("closure", "Closure, re-referral and care episodes", "sm-plans"),
    ("help", "Help", "sm-help"),
    ("requisite_variety", "Requisite variety", "sm-help"),
    ("turnover", "Satisfaction, stress and quits", "sm-turnover"),
    ("recruitment", "Recruitment and professional status", "sm-recruitment"),
    ("agency", "Agency cover", "sm-recruitment"),
    ("loop_b1", "Loop B1 (single-loop compliance)", "sm-loops"),
    ("loop_b2", "Loop B2 (double-loop learning)", "sm-loops"),
    ("loop_r", "Loop R (addiction to prescription)", "sm-loops"),
    ("loops", "Prescription dynamics shared by the loops", "sm-loops"),
    ("courts", "Care proceedings: courts, guardians, hearings, outcomes", "sm-courts"),
    ("experts", "Care proceedings: expert assessments", "sm-courts"),
    ("fdac", "Family Drug and Alcohol Court", "sm-courts"),
    ("reunification", "Reunification from care", "sm-outcomes"),
    ("outcomes", "Outcomes for children: drift and delay", "sm-outcomes"),
    ("engine", "Engine: warm-up and event sampling", "init"),
    ("switches", "Mechanism switches", "switches"),
)

_ROW = re.compile(r"^\| `([^`]+)` \|")


def grouped_tables(level: int, odd_href: str) -> str:
    """The parameter table, one Markdown table per mechanism group.

    ``level`` is the heading level of each group; ``odd_href`` is the path of the ODD
    relative to the output file ("" inside the ODD itself, "ODD.md" from docs/).
    """
    lines = parameter_table_markdown().rstrip("\n").split("\n")
    header, rows = lines[:2], lines[2:]
    by_name: dict[str, str] = {}
    for row in rows:
        m = _ROW.match(row)
        if m is None or m.group(1) not in PARAMETERS or m.group(1) in by_name:
            raise SystemExit(f"{GENERATOR}: unexpected row in parameter_table_markdown(): {row!r}")
        by_name[m.group(1)] = row
    if set(by_name) != set(PARAMETERS):
        missing = sorted(set(PARAMETERS) - set(by_name))
        raise SystemExit(f"{GENERATOR}: parameters missing from the table: {missing}")

    known = {mech: (title, anchor) for mech, title, anchor in GROUPS}
    order = [mech for mech, _, _ in GROUPS]
    for spec in PARAMETERS.values():  # new mechanisms, in table order
        if spec.mechanism not in order:
            order.append(spec.mechanism)

    out: list[str] = []
    placed = 0
    for mech in order:
        names = [n for n, s in PARAMETERS.items() if s.mechanism == mech]
        if not names:
            continue
        title, anchor = known.get(mech, (mech.replace("_", " ").capitalize(), None))
        noun = "parameter" if len(names) == 1 else "parameters"
        out.append(f"{'#' * level} Mechanism `{mech}`: {title} ({len(names)} {noun})")
        out.append("")
        if anchor is not None:
            out.append(f"Described in [{_section_label(anchor)}]({odd_href}#{anchor}).")
            out.append("")
        out.extend(header)
        out.extend(by_name[n] for n in names)
        out.append("")
        placed += len(names)
    assert placed == len(PARAMETERS)
    return "\n".join(out)


def _section_label(anchor: str) -> str:
    return {"init": "ODD section 5 (Initialization)",
            "switches": "ODD section 3 (mechanism switches)"}.get(
        anchor, "the ODD submodel")


def _counts() -> str:
    n = len(PARAMETERS)
    cal = sum(1 for s in PARAMETERS.values() if s.calibrated)
    mechs = len({s.mechanism for s in PARAMETERS.values()})
    return (f"{n} parameters in {mechs} mechanism groups; {cal} marked calibrated "
            f"(`calibrated = true` in the table).")


def render_parameters_md() -> str:
    return "\n".join([
        "# Parameters",
        "",
        f"Generated from [`abm/data/parameters.toml`](../abm/data/parameters.toml) by "
        f"[`{GENERATOR}`](../{GENERATOR}) (`python {GENERATOR}`); do not edit this file by "
        f"hand: change the TOML and rerun the script. `python {GENERATOR} --check` fails "
        f"when this file is stale.",
        "",
        f"{_counts()} Every parameter appears exactly once, under the mechanism that uses it. "
        "Columns: the parameter's unit, default value, valid range (inclusive; values "
        "outside it are refused on load), calibrated status (\"no\" = the default is an "
        "assumption or a published figure, not yet fitted), description and source. "
        "Paragraph numbers (§1.47, App2 ¶16) point into the Munro Review Part One (2010). "
        "How each parameter enters the model is described in [ODD.md](ODD.md).",
        "",
        grouped_tables(level=2, odd_href="ODD.md"),
    ]).rstrip("\n") + "\n"


def render_odd_block() -> str:
    """The text between the markers in docs/ODD.md (markers excluded)."""
    return "\n".join([
        "",
        f"<!-- Generated by {GENERATOR} from abm/data/parameters.toml; do not edit by hand. -->",
        "",
        _counts(),
        "",
        grouped_tables(level=3, odd_href=""),
    ]).rstrip("\n") + "\n"


def refresh_odd(text: str, where: str = "docs/ODD.md") -> str:
    """``text`` with the generated block replaced by the current one."""
    if text.count(START) != 1 or text.count(END) != 1:
        raise SystemExit(f"{where}: needs exactly one '{START}' and one '{END}' marker")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return head + START + "\n" + render_odd_block() + END + tail


#: What `cpabm run` writes into its folder (abm/cli/__init__.py, cmd_run), one line each;
#: tests/integration/test_cli.py checks that a run writes exactly these files.
RUN_FILES_DOC = (
    "* `national_weekly.parquet`: every series week by week, national (long: week, date, la "
    "= -1, month, quarter, fy, indicator, value, unit, scenario, seed);",
    "* `la_weekly.parquet`: the per-LA series (flows, stocks, workforce) per LA and week "
    "(skipped with `--no-per-la`);",
    "* `national_monthly.parquet`: every series and derived indicator per calendar month, "
    "calendar-true (each week's flows apportioned to the days it covers; long);",
    "* `summary_fy.csv`, `summary_fy.md`: one row per financial year, every series aggregated "
    "by its rule, `weeks`, and every derived indicator; `summary_fy.parquet`: the same, long "
    "(with units);",
    "* `la_summary_fy.parquet`: the same per LA (long: la, la_code, fy, indicator, value, unit);",
    "* `care_quarter.csv`, `care_month.csv`: the care-proceedings indicators side by side "
    "(docs/courts.md);",
    "* `decisions_by_fy.csv`: per financial year and decision point, true and false positives "
    "and negatives, sensitivity, specificity and AUC;",
    "* `reunification_by_skill.csv`: reunifications and their breakdowns within 52 weeks by "
    "the decile of the worker's skill;",
    "* `workforce_distributions.parquet`: workers per bin of caseload (cases) and of "
    "experience (whole years), week by week (long: week, date, variable, bin, workers);",
    "* `caseflow.png`, `workforce.png`, `decisions.png`: the run's figures;",
    "* `run.json`: the scenario, seed, regime, its size (LAs, children, families, posts, "
    "courts, weeks), the overrides and the seconds it took; `.cpabm-output.json`: the "
    "folder's marker (docs/reliability.md).",
)


def render_outputs_md() -> str:
    """Every output of the indicator registry, with its unit and definition."""
    from abm.core import indicators as I

    def esc(s: str) -> str:
        return s.replace("|", "\\|")

    out = ["# Outputs", "",
           f"Generated from the indicator registry [`abm/core/indicators.py`]"
           f"(../abm/core/indicators.py) by [`{GENERATOR}`](../{GENERATOR}); do not edit by "
           f"hand. {len(I.SERIES)} series and {len(I.INDICATORS)} derived indicators; "
           f"`cpabm outputs` lists them. A sweep records those its spec lists "
           f"(`[outputs] indicators`, at `period = \"fy\"`, `\"quarter\"` or "
           f"`\"month\"`). `cpabm run` writes:", "", *RUN_FILES_DOC, ""]
    tables = (("Flows (per LA, per week)", "flow"), ("Stocks (per LA)", "stock"),
              ("Workforce (per LA, per week)", "work"), ("Courts (per court centre)", "court"),
              ("Cohorts (national, counted at the week a care case started)", "cohort"),
              ("National (one value a week)", "national"))
    assert {t for _, t in tables} == {s.table for s in I.SERIES}, "a series table is not shown"
    for title, table in tables:
        rows = [s for s in I.SERIES if s.table == table]
        rules = sorted({s.aggregation for s in rows})
        if len(rules) == 1:
            out += [f"## {title}", "", f"Aggregated over a period: {rules[0]}.", "",
                    "| name | unit | mechanism | definition |", "|---|---|---|---|"]
            out += [f"| `{s.name}` | {esc(s.unit)} | {s.mechanism} | {esc(s.description)} |"
                    for s in rows]
        else:
            out += [f"## {title}", "",
                    "| name | unit | mechanism | aggregated over a period | definition |",
                    "|---|---|---|---|---|"]
            out += [f"| `{s.name}` | {esc(s.unit)} | {s.mechanism} | {s.aggregation} | "
                    f"{esc(s.description)} |" for s in rows]
        out.append("")
    out += ["## Derived indicators", "",
            "Computed from the period's aggregates, in this order (a formula may use the ones "
            "above it; `weeks` is the number of weeks in the period).", "",
            "| name | unit | formula | definition |", "|---|---|---|---|"]
    out += [f"| `{i.name}` | {esc(i.unit)} | `{i.formula}` | {esc(i.description)} |"
            for i in I.INDICATORS]
    return "\n".join(out) + "\n"


def targets(root: Path) -> dict[Path, str]:
    """Each generated file and the content it should have."""
    docs = root / "docs"
    odd = docs / "ODD.md"
    if not odd.exists():
        raise SystemExit(f"{odd}: not found (the ODD is hand-written; only its parameter "
                         f"block is generated)")
    return {docs / "parameters.md": render_parameters_md(),
            docs / "outputs.md": render_outputs_md(),
            odd: refresh_odd(odd.read_text(encoding="utf-8"), str(odd))}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true",
                    help="write nothing; exit 1 if a generated file is stale")
    ap.add_argument("--root", type=Path, default=REPO, help="project root (default: this repo)")
    args = ap.parse_args(argv)
    stale = []
    for path, content in targets(args.root).items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == content:
            continue
        if args.check:
            stale.append(path)
        else:
            path.write_text(content, encoding="utf-8")
            print(f"wrote {path}")
    if stale:
        for path in stale:
            print(f"stale: {path} differs from what {GENERATOR} generates; run "
                  f"`python {GENERATOR}`", file=sys.stderr)
        return 1
    if args.check:
        print("docs up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
