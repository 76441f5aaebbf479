"""Does any configuration that keeps the three published care-case durations give a month
near the review's "nearly five" arrivals per closure (June 2010, §2.32)? Answered over every
parameter set the calibration simulated, not a hand-picked few.

    python experiments/tools/court_tradeoff.py [results/calibration/abc] [--out results/calibration]

It reads the calibration folder's simulations (``sims/``, every candidate of every
generation, each the median of its replicates, as the ABC scores it), and writes
``court_tradeoff.md`` and ``figures/court_tradeoff.png``: how many candidates keep all
three quarterly durations (Q2 of 2008-09, 2009-10, 2010-11) inside their tolerance, the
June 2010 ratio among them against all candidates, and the ratio against the duration of
Q2 2010-11. The candidates cover the prior and, generation by generation, the region the
targets favour, so they are a wide search of the mechanisms' parameter space; they are
not a posterior sample (the posterior's own band is in the posterior-predictive check).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from abm.batch.abc.status import candidates, folder_tool_main  # noqa: E402
from abm.core.errors import ConfigError  # noqa: E402
from abm.core.io import atomic_write_text, output_file  # noqa: E402

DURATIONS = ("care_duration_q2_fy2008", "care_duration_q2_fy2009", "care_duration_q2_fy2010")
RATIO = "care_arrivals_per_closure_2010_06"
SIGNATURE = "<!-- written by experiments/tools/court_tradeoff.py -->"


def analyse(folder: Path) -> dict:
    c = candidates(folder)
    tid = {t["id"]: (i, t) for i, t in enumerate(c.targets)}
    S, gens = c.stats, c.generation
    missing = [k for k in (*DURATIONS, RATIO) if k not in tid]
    if missing:
        raise ConfigError(f"{folder} has no target {missing[0]}")
    d = np.column_stack([S[:, tid[k][0]] for k in DURATIONS])
    lo = np.array([tid[k][1]["lo"] for k in DURATIONS])
    hi = np.array([tid[k][1]["hi"] for k in DURATIONS])
    ratio = S[:, tid[RATIO][0]]
    # a June with arrivals and no closure has an infinite ratio: above any threshold, kept
    ok = np.isfinite(d).all(axis=1) & ~np.isnan(ratio)
    keep = ok & ((d >= lo) & (d <= hi)).all(axis=1)
    rising = keep & (d[:, 0] < d[:, 1]) & (d[:, 1] < d[:, 2])
    finished = len(list((folder / "generations").glob("gen_*.parquet")))
    return {"folder": folder, "n": int(ok.sum()), "generations": int(gens.max()) + 1 if len(gens)
            else 0, "finished": finished, "keep": keep, "rising": rising, "ok": ok,
            "ratio": ratio, "d": d,
            "lo": lo, "hi": hi, "published_ratio": tid[RATIO][1]["value"],
            "ratio_lo": tid[RATIO][1]["lo"]}


def _q(x: np.ndarray) -> str:
    if len(x) == 0:
        return "none"
    p90 = np.quantile(x, 0.9, method="inverted_cdf")  # no interpolation with an infinite one
    return f"median {np.median(x):.2f}, 90th percentile {p90:.2f}, highest {x.max():.2f}"


def report(a: dict) -> str:
    r, ok, keep, rising = a["ratio"], a["ok"], a["keep"], a["rising"]
    near = keep & (r >= a["ratio_lo"])
    lines = [SIGNATURE, "# Arrivals per closure against the three published durations", "",
             f"Written by `experiments/tools/court_tradeoff.py` from the simulations of "
             f"`{a['folder']}` ({a['n']:,} candidates over {a['generations']} generations, "
             f"{a['finished']} of them finished; each the median of its replicates; England at "
             f"10%; a June with no closure counts as an infinite ratio).", "",
             "| candidates | how many | June 2010 arrivals per closure |", "|---|---|---|",
             f"| all | {ok.sum():,} | {_q(r[ok])} |",
             f"| the three Q2 durations inside tolerance | {keep.sum():,} | {_q(r[keep])} |",
             f"| ... and rising year on year | {rising.sum():,} | {_q(r[rising])} |", "",
             f"Published: nearly {a['published_ratio']:g} (tolerance from "
             f"{a['ratio_lo']:g}). Candidates keeping the three durations with a June ratio "
             f"of {a['ratio_lo']:g} or more: {near.sum():,}.", "",
             "![tradeoff](figures/court_tradeoff.png)", ""]
    return "\n".join(lines)


def figure(a: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok, keep = a["ok"], a["keep"]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    fin = np.isfinite(a["ratio"])
    ax.scatter(a["d"][ok & ~keep & fin, 2], a["ratio"][ok & ~keep & fin], s=6, alpha=0.3,
               color="tab:gray", label="a published duration outside tolerance")
    ax.scatter(a["d"][keep & fin, 2], a["ratio"][keep & fin], s=10, alpha=0.8, color="tab:blue",
               label="all three Q2 durations inside tolerance")
    ax.axvspan(a["lo"][2], a["hi"][2], color="tab:green", alpha=0.1,
               label="Q2 2010-11 duration tolerance")
    ax.axhline(a["published_ratio"], color="tab:red", lw=1, label="published: nearly 5")
    shown = ok & np.isfinite(a["ratio"])  # an infinite ratio has no place on the axis
    ax.set_xlim(min(40.0, float(a["d"][shown, 2].min(initial=40.0))),
                max(100.0, float(a["d"][shown, 2].max(initial=100.0))))
    ax.set_xscale("log")
    ax.set_xlabel("mean duration of care cases concluded in Q2 2010-11 (weeks)")
    ax.set_ylabel("care arrivals per closure, June 2010")
    ax.set_yscale("log")
    ax.legend(fontsize=7, loc="upper left")
    ax.set_title("Every candidate of the calibration (England 10%)", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write(folder: Path, out: Path) -> list[Path]:
    with output_file(out / "court_tradeoff.md", overwrite=True,
                     signed=lambda text: text.startswith(SIGNATURE)) as md:
        a = analyse(folder)
        figure(a, out / "figures" / "court_tradeoff.png")
        atomic_write_text(md, report(a))
    return [md]


def main(argv=None) -> int:
    return folder_tool_main("court_tradeoff", __doc__, argv, ROOT / "results" / "calibration"
                            / "abc", ROOT / "results" / "calibration", write)


if __name__ == "__main__":
    raise SystemExit(main())
