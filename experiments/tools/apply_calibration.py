"""Write a calibration's posterior into the single parameter table, by script (no hand edits).

    .venv/bin/python experiments/tools/apply_calibration.py results/calibration/abc [--dry-run]
                     [--table abm/data/parameters.toml] [--summary results/calibration/calibrated_values.md]
                     [--threshold 0.8] [--keep-unidentified] [--point median|mode|particle=N]
                     [--point-from results/calibration/point_summaries.json] [--no-docs]

For every calibrated parameter of the ABC-SMC run in the folder (``cpabm calibrate``):

* every parameter: ``default`` = the **weighted posterior median** of the final generation
  (rounded to 4 significant figures; whole numbers for integer parameters),
  ``calibrated = true``, and ``source`` = the run (folder, run identity, generation, ESS,
  10-90% interval, width ratio, prior) and whether the run identified the parameter alone
  (width ratio below ``--threshold``, default 0.8, the engine's "not identified" line),
  followed by the evidence the entry held before (``evidence: ...``; a later run replaces
  only the run part). A parameter the targets do not identify alone still takes its
  posterior median: its marginal is then close to its prior, so the median is near the
  documented prior's centre, while the combinations of parameters the targets do constrain
  (the calibration report's "combinations" table) are kept. Keeping such a parameter at
  the table's value instead would mix a value from before the calibration (for most
  parameters of this model, a hand search's) with the posterior's values of the others,
  a point on neither;
* with ``--keep-unidentified`` (for a table whose values of the parameters the targets leave
  open are independent published figures): a parameter not identified keeps its
  ``default``, with ``calibrated = false`` and a source saying the run did not identify it;
* **fixed by the calibration scenario** (the ``[parameters]`` of the run's ``[model]
  scenario``, e.g. households renewing at the demographic rate): the posterior is
  conditional on them, so ``default`` = the scenario's value, ``calibrated`` unchanged, and
  ``source`` says so, with the evidence kept;
* **held**: a parameter the table flags ``calibrated = true`` that the run neither calibrates
  nor fixes (a value an earlier calibration set, say): the posterior is conditional on its
  value, which no longer comes from a calibration, so ``default`` stays, ``calibrated =
  false`` and ``source`` says the run held it, with the evidence kept. Such an entry needs an
  evidence part (``...; evidence: ...``), or its earlier provenance would survive as its
  basis: the script refuses it, naming the entry.

Why the median by default: it is defined by the weighted particles alone, is unchanged by
the log transform of loguniform priors, stays inside the prior, and is stable with a few
hundred effective particles. Its weakness: on a posterior that is curved, or concentrated
near a ridge of combinations, the point of the marginal medians may lie off it, where the
run accepted no particle. ``--point mode`` writes instead the values of the final
generation's particle at the highest kernel density of the particles
(:func:`abm.batch.abc.mode`): one point the run accepted, its values taken together, though
in many dimensions it depends on the bandwidth. ``--point particle=N`` writes the final
generation's particle N whole (its row in posterior.parquet), for the best-fitting particle
``experiments/tools/point_summaries.py`` picks on seeds of its own. That script runs every
candidate on fresh seeds and scores them as the calibration scores a particle, so the choice
is made on evidence (docs/calibration_method.md, "Calibrated values"); ``--point-from`` its
``point_summaries.json`` writes the candidate it chose (refused if that file scored another
run).

It edits the table as text (comments and layout stay), writes ``--summary`` (a Markdown
table of every parameter: prior, posterior, width ratio, what was done), then regenerates
docs/parameters.md and the ODD table (``experiments/tools/make_docs.py``) unless ``--no-docs``.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from abm.batch.abc.posterior import (  # noqa: E402
    SUMMARY,
    load_posterior,
    mode,
    particle,
    summarise,
)
from abm.batch.abc.report import WEAK  # noqa: E402
from abm.core.errors import ConfigError  # noqa: E402
from abm.core.io import atomic_write_text  # noqa: E402

TABLE = ROOT / "abm" / "data" / "parameters.toml"
SUMMARY_FILE = ROOT / "results" / "calibration" / "calibrated_values.md"
#: how the sources this script writes begin (so that a later run replaces them)
PREFIXES = ("ABC-SMC ", "not identified by ABC-SMC",
            "fixed in the calibration scenario", "held at this value by the calibration")
EVIDENCE = "; evidence: "
SIGNATURE = "<!-- written by experiments/tools/apply_calibration.py -->"


def _round(v, kind: str):
    if kind == "int":
        return int(round(v))
    return float(f"{v:.4g}")


def _where(root: Path) -> str:
    try:
        return str(root.resolve().relative_to(ROOT))
    except ValueError:
        return str(root)


def evidence(source: str) -> str:
    """The evidence part of a source: what this script keeps when it rewrites the entry.
    A source reads "how the value was set; evidence: its basis" (the table's convention for
    set values), so the part after the first "; evidence: " is the basis; a source without
    it is all basis, unless this script wrote it."""
    if EVIDENCE in source:
        return source.split(EVIDENCE, 1)[1]
    return "" if source.startswith(PREFIXES) else source


#: the point summaries ``--point`` can write (``point_summaries.py`` compares them), and
#: ``particle=N``, one particle of the final generation
POINTS = ("median", "mode")


def point_from(path: str | Path, post) -> str | dict:
    """The ``--point`` that ``experiments/tools/point_summaries.py`` chose, from its
    ``point_summaries.json`` (for its search point, ``{"values", "what"}``); refused if it
    was not written by that script or scored another run than ``post``."""
    p = Path(path)
    try:
        data = json.loads(p.read_text())
    except (OSError, ValueError) as e:
        raise ConfigError(f"--point-from {p}: cannot be read as JSON ({e})") from None
    if not isinstance(data, dict) or data.get("written_by") != "experiments/tools/point_summaries.py":
        raise ConfigError(f"--point-from {p} was not written by experiments/tools/"
                          f"point_summaries.py")
    if data.get("identity_sha256") != post.identity_sha256:
        raise ConfigError(f"--point-from {p} scored the run {str(data.get('identity_sha256'))[:12]}"
                          f", not this one ({post.identity_sha256[:12]}); run point_summaries.py "
                          f"on this folder")
    if data["chosen"] == "search":
        found = [c for c in data.get("candidates", []) if c.get("arg") == "search"]
        if not found or "values" not in found[0]:
            raise ConfigError(f"--point-from {p} chose the search point but holds no values "
                              f"for it")
        names = {q.name for q in post.priors}
        if set(found[0]["values"]) != names:
            raise ConfigError(f"--point-from {p}: the search point's parameters are not the "
                              f"run's")
        f = found[0]
        return {"values": f["values"],
                "what": (f"point of the acceptance region closest to the review's figures "
                         f"(emulator search, point_summaries.json; scored distance "
                         f"{f['distance']:.2f}, within the tolerance "
                         f"{f['search']['tolerance']:.3g})")}
    return str(data["chosen"])


def chosen_particle(point: str, post) -> dict | None:
    """``{"index", "values", "what"}`` of the particle ``point`` names (``mode`` or
    ``particle=N``); None for the median. Anything else is refused."""
    if isinstance(point, dict):  # the search point of --point-from (point_from)
        return {"index": None, **point}
    if point == "median":
        return None
    if point == "mode":
        m = mode(post)
        return {**m, "what": f"posterior mode (particle {m['index']}, the highest kernel "
                             f"density)"}
    key, _, n = point.partition("=")
    if key != "particle" or not n.strip().isdigit():
        raise ConfigError(f"--point = {point!r} is not one of {', '.join(POINTS)} or "
                          f"particle=N (N a row of the final generation)")
    i = int(n)
    return {"index": i, "values": particle(post, i),
            "what": f"posterior particle {i} (one the run accepted, written whole)"}


def plan(post, threshold: float, keep_unidentified: bool = False,
         point: str = "median") -> list[dict]:
    """Per parameter: the posterior summary and what to write: the weighted marginal median
    (``point = "median"``), the value at the posterior's mode (``"mode"``, one particle:
    :func:`abm.batch.abc.mode`) or that of one named particle (``"particle=N"``)."""
    run = (f"{_where(post.root)}, run {post.identity_sha256[:12]}: generation "
           f"{post.generation}, ESS {post.ess:.0f}")
    at = chosen_particle(point, post)
    if at is not None and keep_unidentified:
        raise ConfigError(f"--point {point} writes one particle whole; --keep-unidentified "
                          f"would mix it with the table's values")
    what = "posterior median" if at is None else at["what"]
    rows = []
    for r in summarise(post, threshold):
        value = r["value"] if at is None else at["values"][r["parameter"]]
        prior = f"prior {r['prior']} [{r['low']:g}, {r['high']:g}]"
        band = f"10-90% [{r['q10']:.4g}, {r['q90']:.4g}], width ratio {r['width_ratio']:.2f}"
        if r["identified"]:
            r["action"] = f"set to the {what}"
            r["new"] = _round(value, r["kind"])
            r["note"] = f"ABC-SMC {what} ({run}; {band}; {prior})"
        elif not keep_unidentified:
            r["action"] = f"set to the {what} (not identified alone)"
            r["new"] = _round(value, r["kind"])
            r["note"] = (f"ABC-SMC {what}, not identified alone ({run}; {band} >= "
                         f"{threshold:g}; {prior}): the targets constrain only combinations "
                         f"it enters")
        else:
            r["action"] = "not identified: left at its documented value"
            r["new"] = None
            r["note"] = (f"not identified by ABC-SMC ({run}; {band} >= {threshold:g}; {prior}); "
                         f"the value is the documented prior value")
        rows.append(r)
    return rows


def fixed(post) -> list[dict]:
    """Rows for the parameters the run's calibration scenario sets (its ``[parameters]``,
    read through its ``base`` chain): the posterior is conditional on them. None if the
    manifest does not record the spec (``spec_text``, ``spec_path``)."""
    from abm.core.scenario import load_scenario

    man = json.loads((post.root / "manifest.json").read_text())
    if "spec_text" not in man or "spec_path" not in man:
        return []
    spec = tomllib.loads(man["spec_text"])
    scenario = spec.get("model", {}).get("scenario")
    if scenario is None:
        return []
    spec_path = Path(man["spec_path"])
    path = (spec_path if spec_path.is_absolute() else ROOT / spec_path).parent / scenario
    if not path.is_file():
        raise ConfigError(f"{post.root}: the calibration scenario {path} (the spec's [model] "
                          f"scenario) is not there")
    rel = _where(path.resolve())
    return [{"parameter": k, "new": v, "calibrated": None,
             "action": "fixed by the calibration scenario",
             "note": f"fixed in the calibration scenario {rel} (the posterior of "
                     f"{_where(post.root)} is conditional on it)"}
            for k, v in sorted(load_scenario(path).overrides.items())]


def held(post, text: str, others: list[dict], where: str = "parameters.toml") -> list[dict]:
    """Rows for the parameters ``text`` (the table) flags ``calibrated = true`` that are not
    among ``others`` (the run's calibrated and fixed parameters): the run held them at their
    values. Refused (ConfigError naming it) if such an entry's source has no evidence part."""
    from abm.core import tomlio

    table = tomlio.loads(text, where)
    done = {r["parameter"] for r in others}
    rows = []
    for name, entry in table.items():
        if not isinstance(entry, dict) or entry.get("calibrated") is not True or name in done:
            continue
        source = str(entry.get("source", ""))
        if EVIDENCE not in source and not source.startswith(PREFIXES):
            raise ConfigError(
                f"{where}: [{name}] is flagged calibrated, but the run {_where(post.root)} "
                f"neither calibrates nor fixes it, and its source has no '{EVIDENCE.strip()}' "
                f"part to keep (source = {source!r}); write its basis as '...; evidence: ...' "
                f"or add it to the calibration's priors")
        rows.append({"parameter": name, "new": None, "calibrated": False,
                     "action": "held at its value (not in the run)",
                     "note": f"held at this value by the calibration ({_where(post.root)}, run "
                             f"{post.identity_sha256[:12]}: not among its priors, so the "
                             f"posterior is conditional on it)"})
    return rows


def apply(rows: list[dict], text: str, where: str = "parameters.toml") -> str:
    """``text`` (the parameter table) with every row's default, calibrated flag and source
    rewritten. Raises ConfigError for a parameter the table does not hold."""
    for r in rows:
        name = r["parameter"]
        block = re.search(rf"(?ms)^\[{re.escape(name)}\]\n(.*?)(?=^\[|\Z)", text)
        if block is None:
            raise ConfigError(f"{where}: no [{name}] entry; the calibration's parameter is not "
                              f"in the table")
        body = block.group(1)
        if r["new"] is not None:
            v = r["new"]
            body = re.sub(r"(?m)^default = .*$", f"default = {v!r}", body, count=1)
        # a fixed value leaves the flag as it is (calibrated: None)
        calibrated = r.get("calibrated", r["new"] is not None)
        flag = "true" if calibrated else "false"
        if calibrated is None:
            pass
        elif re.search(r"(?m)^calibrated = ", body):
            body = re.sub(r"(?m)^calibrated = .*$", f"calibrated = {flag}", body)
        elif flag == "true":
            body = body.rstrip("\n") + "\ncalibrated = true\n\n"
        src = re.search(r'(?m)^source = "(.*)"$', body)
        if src is None:
            raise ConfigError(f"{where}: [{name}] has no one-line source")
        ev = evidence(src.group(1))
        new_src = r["note"] + (EVIDENCE + ev if ev else "")
        body = body[:src.start(1)] + new_src.replace('"', "'") + body[src.end(1):]
        text = text[:block.start(1)] + body + text[block.end(1):]
    return text


def summary_markdown(post, rows: list[dict], threshold: float,
                     fixed_rows: list[dict] = (), keep_unidentified: bool = False,
                     point: str = "median", held_rows: list[dict] = ()) -> str:
    res = post.result
    lines = [
        SIGNATURE,
        f"# Calibrated values from `{_where(post.root)}`", "",
        f"Run {post.identity_sha256[:12]} ({post.name}): final generation {post.generation}, "
        f"{len(post.weights)} particles, ESS {post.ess:.0f}; stopped: "
        f"{res.get('stop_reason', 'n/a')}. Identified: the width ratio (posterior 10-90% "
        f"over the prior's, transformed space) is below {threshold:g}. Value = "
        + (f"the {SUMMARY}" + ("; a parameter not identified keeps its documented value."
                               if keep_unidentified else
                               " for every parameter (one not identified alone is then near "
                               "its prior's centre, and the combinations the targets "
                               "constrain are kept).")
           if point == "median" else
           "the posterior's mode: the values of the final generation's particle at the "
           "highest kernel density of the particles, for every parameter (one point the run "
           "accepted, its values taken together)."
           if point == "mode" else
           f"the values of the {point['what']}, for every parameter (`point_summaries.md` "
           f"says how it was found and checked)."
           if isinstance(point, dict) else
           f"the values of the final generation's particle {point.partition('=')[2]} "
           f"(`--point {point}`), for every parameter (one point the run accepted, its values "
           f"taken together; `point_summaries.md` says how it was chosen)."), "",
        "| parameter | prior | posterior median | 5-95% | width ratio | identifiability | "
        "written |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| `{r['parameter']}` | {r['prior']} [{r['low']:g}, {r['high']:g}] | "
                     f"{r['median']:.4g} | [{r['q05']:.4g}, {r['q95']:.4g}] | "
                     f"{r['width_ratio']:.2f} | {r['identifiability']} | "
                     f"{r['new'] if r['new'] is not None else 'kept'} |")
    if fixed_rows:
        lines += ["", "Fixed by the calibration scenario (the posterior is conditional on "
                  "them), written as defaults:", ""]
        lines += [f"* `{r['parameter']}` = {r['new']!r}" for r in fixed_rows]
    if held_rows:
        lines += ["", "Held at their values (flagged calibrated before, not in this run; the "
                  "posterior is conditional on them), now `calibrated = false`:", ""]
        lines += [f"* `{r['parameter']}`" for r in held_rows]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", help="a finished calibration folder (cpabm calibrate --out)")
    ap.add_argument("--table", default=str(TABLE), help="the parameter table to edit")
    ap.add_argument("--summary", default=str(SUMMARY_FILE), help="Markdown summary to write")
    ap.add_argument("--threshold", type=float, default=WEAK,
                    help=f"width ratio at or above which a parameter is not identified "
                         f"(default {WEAK})")
    ap.add_argument("--keep-unidentified", action="store_true",
                    help="leave a parameter the run does not identify at the table's value "
                         "(for values that are independent published figures)")
    ap.add_argument("--point", default=None, metavar="median|mode|particle=N",
                    help="the posterior summary to write (default: median), or one particle "
                         "of the final generation; experiments/tools/point_summaries.py "
                         "compares them")
    ap.add_argument("--point-from", metavar="JSON",
                    help="write the point that experiments/tools/point_summaries.py chose "
                         "(its point_summaries.json); not with --point")
    ap.add_argument("--dry-run", action="store_true", help="print what would change; write nothing")
    ap.add_argument("--no-docs", action="store_true", help="do not regenerate the docs")
    args = ap.parse_args(argv)
    try:
        post = load_posterior(args.folder)
        if args.point_from is not None:
            if args.point is not None:
                raise ConfigError("give --point or --point-from, not both")
            args.point = point_from(args.point_from, post)
        args.point = args.point or "median"
        rows = plan(post, args.threshold, args.keep_unidentified, args.point)
        fixed_rows = fixed(post)
        clash = sorted({r["parameter"] for r in rows} & {r["parameter"] for r in fixed_rows})
        if clash:
            raise ConfigError(f"{args.folder}: the calibration scenario fixes calibrated "
                              f"parameters: {', '.join(clash)}")
        table = Path(args.table)
        held_rows = held(post, table.read_text(), rows + fixed_rows, table.name)
        text = apply(rows + fixed_rows + held_rows, table.read_text(), table.name)
    except ConfigError as e:
        print(f"apply_calibration: error: {e}", file=sys.stderr)
        return 2
    for r in rows:
        print(f"{r['parameter']:32s} {r['identifiability']:36s} "
              f"{'-> ' + repr(r['new']) if r['new'] is not None else 'kept'}")
    for r in fixed_rows:
        print(f"{r['parameter']:32s} {'fixed by the calibration scenario':36s} -> {r['new']!r}")
    for r in held_rows:
        print(f"{r['parameter']:32s} {'held (not in the run)':36s} calibrated = false")
    if args.dry_run:
        return 0
    summ = Path(args.summary)
    if summ.exists() and not summ.read_text().startswith(SIGNATURE):
        print(f"apply_calibration: error: --summary {summ} exists and was not written by this "
              f"script; choose another path", file=sys.stderr)
        return 2
    atomic_write_text(table, text)
    summ.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(summ, summary_markdown(post, rows, args.threshold, fixed_rows,
                                               args.keep_unidentified, args.point, held_rows))
    n = sum(r["new"] is not None for r in rows)
    n_id = sum(bool(r["identified"]) for r in rows)
    print(f"set {n} calibrated values in {table} ({n_id} identified alone, "
          f"{len(rows) - n_id} not); {len(rows) - n} kept; wrote {summ}")
    if not args.no_docs:
        subprocess.run([sys.executable, str(ROOT / "experiments" / "tools" / "make_docs.py")],
                       check=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
