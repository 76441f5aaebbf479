"""Summaries of a results folder, from its manifest and run files alone (no model needed).

Writes ``OUT/summary/`` (replaced whole, atomically):

* ``runs_long.parquet|csv``  -- every row of every finished run: run, point, replication,
  seed, factor values, indicator, period, value, unit;
* ``bands.parquet|csv``      -- per design point, indicator and period: replicate median,
  the band quantiles (default 10% and 90%), mean, sd and n, unit;
* ``metrics_runs.csv``       -- each run's scalar metrics (one column per metric);
* ``metrics_bands.csv``      -- per design point: median and band of each metric, unit;
* ``paired_differences.parquet|csv`` -- factorial and variants designs: each point minus
  the reference point (a variants design: the reference variant), paired by
  replication (same seed, common random numbers): mean difference with a t confidence
  interval, next to the unpaired standard error and the variance ratio
  var(paired difference) / (var(a) + var(b)) (below 1: CRN made the comparison sharper),
  and, for counts, the events behind it (``events_reference``, ``events_point``: totals over
  the pairs); unit;
* ``precision.csv``          -- per design point and metric: the CI half-width of the mean,
  relative to the mean, and for counts the events behind it and the replications needed to
  detect a 20% change (:mod:`abm.batch.precision`); unit;
* ``summary.md``             -- the metric bands and paired differences as Markdown;
* ``sensitivity.csv|md|png`` -- Morris or Sobol' indices, for those designs.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from abm.batch.design import reference_points
from abm.batch.store import SUMMARY, ResultStore
from abm.core.errors import ConfigError
from abm.core.io import atomic_dir, atomic_write_text

MAX_MD_ROWS = 60


def load_runs(store: ResultStore, manifest: dict) -> tuple[pd.DataFrame, list[float], int]:
    """The tidy table of finished runs in (point, replication) order, with each run's design
    point index from the manifest; the run times; the number of runs not finished."""
    from concurrent.futures import ThreadPoolExecutor

    import pyarrow as pa
    import pyarrow.parquet as pq

    runs = sorted(manifest["runs"], key=lambda r: (r["point"], r["replication"]))
    done = store.done_keys()
    have = [r for r in runs if r["key"] in done]
    keys = list(dict.fromkeys(r["key"] for r in have))
    for key, problem in store.verify_runs(keys).items():  # refused, never summarised
        raise ConfigError(f"{store.run_path(key)}: {problem}; the summary refuses a folder "
                          f"with a corrupt or duplicated run file. `cpabm sweep SPEC --out "
                          f"{store.root} --resume` sets it aside and runs it again")
    with ThreadPoolExecutor(8) as ex:  # pyarrow reads without the GIL
        tables = dict(zip(keys, ex.map(lambda k: pq.read_table(store.run_path(k)), keys),
                          strict=True))
    seconds = []
    for t in tables.values():
        meta = (t.schema.metadata or {}).get(b"cpabm.run")
        if meta:
            seconds.append(json.loads(meta)["seconds"])
    parts = []
    for r in have:
        t = tables[r["key"]].replace_schema_metadata(None)
        parts.append(t.add_column(1, "point", pa.array([r["point"]] * len(t), pa.int32())))
    if not parts:
        return pd.DataFrame(), seconds, len(runs)
    # runs written under a spec whose factors were listed in another order (a resume after
    # an edit of the spec) hold the same columns in another order
    names = parts[0].column_names
    parts = [t if t.column_names == names else t.select(names) for t in parts]
    df = pa.concat_tables(parts).to_pandas()
    for c in ("run", "indicator", "period"):
        df[c] = df[c].astype(str)
    if m_type(manifest) == "variants":  # names from the manifest: a renamed variant's runs
        names = [p["variant"] for p in manifest["design"]["points"]]  # are reused
        df["variant"] = np.asarray(names, dtype=object)[df["point"].to_numpy()]
    return df, seconds, len(runs) - len(have)


def m_type(manifest: dict) -> str:
    return manifest["design"]["type"]


#: designs with a natural reference point, summarised with paired differences
PAIRED_DESIGNS = ("factorial", "variants")


def _q(p: float) -> str:
    return f"q{100 * p:g}"


def bands(df: pd.DataFrame, keys: list[str], value: str, band: tuple) -> pd.DataFrame:
    g = df.groupby(keys, sort=False)[value]
    out = pd.DataFrame({"n": g.count(), "median": g.median(), _q(band[0]): g.quantile(band[0]),
                        _q(band[1]): g.quantile(band[1]), "mean": g.mean(), "sd": g.std()})
    return out.reset_index()


def metric_table(df: pd.DataFrame, metrics: list[dict], id_cols: list[str]) -> pd.DataFrame:
    """One row per (design point, replication), one column per metric."""
    keys = ["point", "replication"]
    runs = df.drop_duplicates(keys)[id_cols].set_index(keys)
    for m in metrics:
        sub = df[df["indicator"] == m["indicator"]]
        if m["periods"] != "all":
            sub = sub[sub["period"].isin(m["periods"])]
        stat = m["stat"]
        if stat in ("first", "last"):  # the value at the first / last selected period that
            # has one (a stock has none in a last period the run ends before census day)
            v = sub.dropna(subset=["value"]).drop_duplicates(keys, keep=stat).set_index(
                keys)["value"]
        else:
            g = sub.groupby(keys, sort=False)["value"]
            v = g.sum(min_count=1) if stat == "sum" else getattr(g, stat)()
        runs[m["name"]] = v.reindex(runs.index).to_numpy(dtype=float)
    return runs.reset_index()[[*id_cols, *[m["name"] for m in metrics]]]


def paired_differences(wide: pd.DataFrame, ref: int, confidence: float,
                       per: float = math.nan) -> pd.DataFrame:
    """``wide``: index replication, columns design points. Each point minus ``ref``, paired
    by replication (the same seed); ``per``: the events behind one unit of value (1 for a
    count, NaN for anything else)."""
    import warnings

    from scipy import stats

    cols = [c for c in wide.columns if c != ref]
    if ref not in wide.columns or not cols:
        return pd.DataFrame()
    X = wide[cols].to_numpy(float)
    a = wide[ref].to_numpy(float)
    valid = ~np.isnan(X) & ~np.isnan(a)[:, None]
    A = np.where(valid, a[:, None], np.nan)
    B = np.where(valid, X, np.nan)
    D = B - A
    n = valid.sum(axis=0)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(D, axis=0)
        sd = np.where(n > 1, np.nanstd(D, axis=0, ddof=1), np.nan)
        se = sd / np.sqrt(n)
        t = np.where(n > 1, stats.t.ppf(0.5 + confidence / 2, np.maximum(n - 1, 1)), np.nan)
        va = np.nanvar(A, axis=0, ddof=1)
        vb = np.nanvar(B, axis=0, ddof=1)
        na, nb = (~np.isnan(a)).sum(), (~np.isnan(X)).sum(axis=0)
        se_u = np.sqrt(np.nanvar(a, ddof=1) / na + np.nanvar(X, axis=0, ddof=1) / nb)
        ref_mean = np.nanmean(A, axis=0)
        out = pd.DataFrame({
            "point": cols, "n_pairs": n, "reference_mean": ref_mean,
            "point_mean": np.nanmean(B, axis=0), "diff_mean": mean,
            "ci_lo": mean - t * se, "ci_hi": mean + t * se, "sd_diff": sd, "se_paired": se,
            "se_unpaired": np.where((na > 1) & (nb > 1), se_u, np.nan),
            "variance_ratio": np.where((n > 1) & (va + vb > 0), sd**2 / (va + vb), np.nan),
            "relative_diff": mean / np.abs(ref_mean)})
    out["relative_diff"] = out["relative_diff"].replace([np.inf, -np.inf], np.nan)
    # the events behind the difference: totals over the pairs (``per``: events per unit of
    # value, NaN when the value does not count events)
    out["events_reference"] = np.nansum(A, axis=0) * per
    out["events_point"] = np.nansum(B, axis=0) * per
    return out


def _fmt(x) -> str:
    if isinstance(x, str):
        return x
    if isinstance(x, (list, tuple)):  # a structured value (e.g. a list of event tables)
        return "; ".join(_fmt(v) for v in x) or "(none)"
    if isinstance(x, dict):
        return " ".join(_fmt(v) for v in x.values())
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    if isinstance(x, (bool, np.bool_)):
        return str(bool(x)).lower()
    if isinstance(x, (int, np.integer)):
        return f"{x:,}" if abs(x) >= 10000 else str(x)
    return f"{x:,.4g}" if abs(x) < 1e4 else f"{x:,.0f}"


def _md_table(header: list[str], rows: list[list], note_total: int | None = None) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows[:MAX_MD_ROWS]:
        out.append("| " + " | ".join(_fmt(v) for v in r) + " |")
    total = note_total if note_total is not None else len(rows)
    if total > MAX_MD_ROWS:
        out.append(f"\n_{total - MAX_MD_ROWS} more rows in the CSV files._")
    return out


def summarise(out: str | Path, log=None) -> Path:
    """Summarise a results folder; returns the summary folder."""
    log = log or (lambda msg: print(msg, file=sys.stderr))
    store = ResultStore(out)
    if not store.root.is_dir():
        raise ConfigError(f"--summarise {str(out)!r}: no such folder")
    m = store.manifest()
    if m is None:
        raise ConfigError(f"--summarise {str(out)!r}: not a sweep results folder (no "
                          f"manifest.json)")
    df, seconds, missing = load_runs(store, m)
    if df.empty:
        raise ConfigError(f"--summarise {str(out)!r}: no finished runs yet (0 of "
                          f"{len(m['runs'])}); run or resume the sweep first")
    factors = [f["name"] for f in m["factors"]]
    band = tuple(m["summary"]["band"])
    conf = m["summary"]["confidence"]
    ref = m["summary"]["reference"]
    points = pd.DataFrame(m["design"]["points"]) if factors else pd.DataFrame(
        index=range(len(m["design"]["points"])))
    points.index.name = "point"
    extra = len(store.done_keys() - {r["key"] for r in m["runs"]})

    # ---- bands per point x indicator x period
    b = bands(df, ["point", "indicator", "period"], "value", band)
    b = b.merge(points.reset_index(), on="point", how="left")
    b = b[["point", *factors, "indicator", "period", *[c for c in b.columns
                                                       if c not in ("point", "indicator", "period", *factors)]]]
    b["unit"] = b["indicator"].map(m["units"])
    df["unit"] = df["indicator"].map(m["units"])
    # ---- metrics per run, and their bands
    id_cols = ["run", "point", "replication", "seed", *factors]
    mt = metric_table(df, m["metrics"], id_cols)
    names = [x["name"] for x in m["metrics"]]
    mlong = mt.melt(id_vars=id_cols, value_vars=names, var_name="metric", value_name="value")
    mb = bands(mlong, ["point", "metric"], "value", band).merge(points.reset_index(), on="point",
                                                                how="left")
    metric_units = {x["name"]: m["units"].get(x["indicator"], "") for x in m["metrics"]}
    mb["unit"] = mb["metric"].map(metric_units)
    from abm.batch import precision
    counts = m.get("counts", [])
    n_periods = df["period"].nunique()
    # ---- paired differences vs the reference point (replication = seed = pair); for
    # factorial and variants designs (sampled designs have no natural reference point)
    pieces = []
    factorial = m_type(m) in PAIRED_DESIGNS
    # each point's reference: the reference arm at the same levels of any crossed factors
    # (variants designs), else the one reference point
    ref_of = reference_points(m["design"]) or {i: ref for i in range(len(points))}
    groups = {r: [i for i, x in ref_of.items() if x == r] for r in sorted(set(ref_of.values()))}

    def paired(wide, per):
        out = [paired_differences(wide[[c for c in cols if c in wide.columns]], r, conf, per)
               for r, cols in groups.items()]
        out = [d for d in out if not d.empty]
        if out:
            d = pd.concat(out, ignore_index=True)
            d.insert(1, "reference_point", d["point"].map(ref_of))
            return d
        return pd.DataFrame()

    for (ind, per), g in (df.groupby(["indicator", "period"], sort=False) if factorial else ()):
        w = g.pivot(index="replication", columns="point", values="value")
        d = paired(w, 1.0 if ind in counts else math.nan)
        if d.empty:
            continue
        d.insert(2, "kind", "indicator")
        d.insert(3, "name", ind)
        d.insert(4, "period", per)
        pieces.append(d)
    for metric in m["metrics"] if factorial else ():
        name = metric["name"]
        w = mt.pivot(index="replication", columns="point", values=name)
        d = paired(w, precision.events_per_value(metric, counts, n_periods))
        if d.empty:
            continue
        d.insert(2, "kind", "metric")
        d.insert(3, "name", name)
        d.insert(4, "period", "")
        pieces.append(d)
    pdiff = pd.concat(pieces, ignore_index=True) if pieces else pd.DataFrame()
    if not pdiff.empty:
        pdiff = pdiff.merge(points.reset_index(), on="point", how="left")
        pdiff["unit"] = [(m["units"].get(n, "") if k == "indicator" else metric_units[n])
                         for k, n in zip(pdiff["kind"], pdiff["name"], strict=True)]

    # ---- precision of each point's metric means; warnings for metrics with few events
    prec = precision.precision_table(mt, m["metrics"], conf, counts, n_periods)
    prec["unit"] = prec["metric"].map(metric_units)
    few = precision.warnings(prec)
    for w in few:
        log(f"warning: {w}")

    # ---- sensitivity (Morris / Sobol')
    sens = None
    dtype = m["design"]["type"]
    if dtype in ("sobol", "morris"):
        from abm.batch.sensitivity import analyse
        sens = analyse(m, mt, names, log)

    summary_dir = store.root / SUMMARY
    with atomic_dir(summary_dir) as tmp:
        df.to_parquet(tmp / "runs_long.parquet", index=False)
        df.to_csv(tmp / "runs_long.csv", index=False, float_format="%.17g")
        b.to_parquet(tmp / "bands.parquet", index=False)
        b.to_csv(tmp / "bands.csv", index=False, float_format="%.10g")
        mt.to_csv(tmp / "metrics_runs.csv", index=False, float_format="%.17g")
        mb.to_csv(tmp / "metrics_bands.csv", index=False, float_format="%.10g")
        prec.to_csv(tmp / "precision.csv", index=False, float_format="%.10g")
        if not pdiff.empty:
            pdiff.to_parquet(tmp / "paired_differences.parquet", index=False)
            pdiff.to_csv(tmp / "paired_differences.csv", index=False, float_format="%.10g")
        if sens is not None:
            sens.write(tmp)
        md = _markdown(m, factors, points, mb, pdiff, names, band, conf, ref, missing, extra,
                       seconds, len(df), sens, prec, few)
        atomic_write_text(tmp / "summary.md", md)
    if missing:
        log(f"summary is PARTIAL: {missing} of {len(m['runs'])} runs are not finished")
    return summary_dir


def _posterior_line(post: dict) -> str:
    """The summary's line for a sweep whose replications draw their parameters from a
    posterior (:mod:`abm.batch.draws`)."""
    from abm.batch.draws import describe_text

    return (f"- parameters: replication r runs with {describe_text(post)}. Bands and "
            f"intervals over replications carry the parameters' uncertainty as well as the "
            f"noise")


def _markdown(m, factors, points, mb, pdiff, names, band, conf, ref, missing, extra, seconds,
              n_rows, sens, prec, few) -> str:
    lo, hi = _q(band[0]), _q(band[1])
    d = m["design"]
    n_runs = len(m["runs"])
    lines = [f"# Sweep {m['name']}", ""]
    if m.get("description"):
        lines += [m["description"], ""]
    shown = f"`{m['spec_path']}`" if m.get("spec_path") else "built in memory"
    lines += [f"- spec: {shown} (canonical SHA-256 {m['canonical_sha256'][:12]})",
              f"- design: {d['type']}, {len(d['points'])} design points x {m['replications']} "
              f"replications = {n_runs} runs; finished: {n_runs - missing}"
              + (" **(PARTIAL)**" if missing else ""),
              f"- seeds: root {m['seeds']['root']}; replication r has the same seed at every "
              f"design point (common random numbers)",
              *([_posterior_line(m["posterior"])] if m.get("posterior") else []),
              f"- outputs: {len(m['indicators'])} indicators per {m['period']}; {n_rows:,} rows"]
    if d["type"] in PAIRED_DESIGNS and len(points) > 1:
        lines.append(f"- reference point for paired differences: {ref} "
                     f"{points.loc[ref].to_dict()}")
    if seconds:
        lines.append(f"- run time: median {np.median(seconds):.3g} s per run "
                     f"(sum {sum(seconds):,.0f} s of compute)")
    if extra:
        lines.append(f"- {extra} run file(s) in runs/ belong to an earlier design of this "
                     f"sweep and are not used")
    env = m["environment"]
    lines += [f"- environment: Python {env['python']}, numpy {env['versions'].get('numpy')}, "
              f"numba {env['versions'].get('numba')}, mesa {env['versions'].get('mesa')}; "
              f"requirements.lock SHA-256 {str(env.get('lock_sha256'))[:12]}", ""]
    if d["type"] == "variants":
        lines += ["## Variants", "", "Each variant's overrides of the base model "
                  "(everything else as in the base):", ""]
        lines += _md_table(["point", "variant", "overrides"],
                           [[i, name, ", ".join(f"{k} = {_fmt(v)}" for k, v in ov.items())
                             or "(none)"]
                            for i, (name, ov) in enumerate(d["params"]["variants"].items())])
        lines.append("")
    # metric bands
    lines += [f"## Metrics by design point: median [{lo}, {hi}] over replications", ""]
    metric_desc = {x["name"]: x for x in m["metrics"]}
    lines += [f"- `{n}`: {metric_desc[n]['stat']} of `{metric_desc[n]['indicator']}` over "
              f"{'all periods' if metric_desc[n]['periods'] == 'all' else ', '.join(metric_desc[n]['periods'])}"
              f" ({m['units'].get(metric_desc[n]['indicator'], '')})" for n in names]
    lines.append("")
    piv = {n: mb[mb["metric"] == n].set_index("point") for n in names}
    rows = []
    for p in points.index[:MAX_MD_ROWS]:
        r = [p, *[points.loc[p, f] for f in factors]]
        for n in names:
            x = piv[n].loc[p] if p in piv[n].index else None
            r.append("" if x is None or x["n"] == 0 else
                     f"{_fmt(x['median'])} [{_fmt(x[lo])}, {_fmt(x[hi])}]")
        rows.append(r)
    lines += _md_table(["point", *factors, *names], rows, len(points))
    lines.append("")
    # paired differences
    if not pdiff.empty and len(points) > 1:
        pct = f"{100 * conf:g}%"
        vs = (f"point {ref}" if pdiff["reference_point"].nunique() == 1 else
              "the reference arm at the same levels of the crossed factors")
        lines += [f"## Paired differences vs {vs}: mean [{pct} CI]", "",
                  "Each replication's value minus the reference's value with the same seed; "
                  "the variance ratio var(paired)/(var(a)+var(b)) shows what common random "
                  "numbers saved (below 1 is better).", ""]
        pm = pdiff[pdiff["kind"] == "metric"]
        rows = []
        compared = set(pm["point"])
        for p in points.index[:MAX_MD_ROWS + 1]:
            if p not in compared:  # a reference point
                continue
            r = [p, *[points.loc[p, f] for f in factors]]
            for n in names:
                x = pm[(pm["point"] == p) & (pm["name"] == n)]
                if x.empty or x.iloc[0]["n_pairs"] == 0:
                    r.append("")
                    continue
                x = x.iloc[0]
                s = f"{_fmt(x['diff_mean'])}"
                if x["n_pairs"] > 1:
                    s += f" [{_fmt(x['ci_lo'])}, {_fmt(x['ci_hi'])}]"
                    if not math.isnan(x["variance_ratio"]):
                        s += f" (ratio {x['variance_ratio']:.2g})"
                if not math.isnan(x["events_reference"]):
                    s += (f"; events {_fmt(x['events_point'])} vs "
                          f"{_fmt(x['events_reference'])}")
                r.append(s)
            rows.append(r)
        lines += _md_table(["point", *factors, *names], rows, len(points) - 1)
        lines.append("")
    # precision of the means
    pct = f"{100 * conf:g}%"
    lines += [f"## Precision: {pct} CI half-width of each mean, relative to the mean", "",
              "For metrics that count events (referrals, missed harms, ...), the events behind the mean "
              "follow in brackets.", ""]
    rows = []
    for p in points.index[:MAX_MD_ROWS]:
        r = [p, *[points.loc[p, f] for f in factors]]
        for n in names:
            x = prec[(prec["point"] == p) & (prec["metric"] == n)]
            if x.empty or x.iloc[0]["n"] < 2:
                r.append("")
                continue
            x = x.iloc[0]
            cell = f"{x['relative_half_width']:.1%}" if math.isfinite(
                x["relative_half_width"]) else "(mean 0)"
            if x["counts_events"]:
                cell += f" ({_fmt(x['events'])} events)"
            r.append(cell)
        rows.append(r)
    lines += _md_table(["point", *factors, *names], rows, len(points))
    lines.append("")
    if few:
        lines += ["**Few events:**", "", *[f"- {w}" for w in few], ""]
    if sens is not None:
        lines += ["## Sensitivity", "", *sens.markdown_lines(), ""]
    lines += ["## Files", "",
              "`runs_long` (every row), `bands` (per point, indicator and period), "
              "`metrics_runs`, `metrics_bands`, `precision`"
              + (", `paired_differences`" if not pdiff.empty else "")
              + (", `sensitivity.csv|md|png`" if sens is not None else "") + "."]
    return "\n".join(lines) + "\n"
