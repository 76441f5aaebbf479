"""Which targets the calibration cannot meet together: for every target the posterior mostly
misses, the other targets that the candidates meeting it miss more often. Evidence for the
calibration report's explanations of its misses, from the simulations, not from judgement.

    python experiments/tools/target_tensions.py [results/calibration/abc] [--out results/calibration]

It reads a calibration folder (read only): the final generation's particles and weights
(``generations/``) and every candidate's replicate-median statistics (``sims/``, scored as
the ABC scores them). A target is *met* by a statistic inside its tolerance.

* The posterior's share: the weight of the final generation's particles that meet a target.
  A target met by under half of it is a miss here.
* The final generation's candidates (its proposals, accepted or not: the neighbourhood of the
  posterior) are the reference set. For a missed target T and another target U, the
  *cost* of meeting T to U is P(U met) - P(U met | T met) over that set: how much less
  often U is met by the candidates that meet T. Large costs name the targets T is in
  tension with; a target that no candidate meets is out of the model's reach there.

Writes ``tensions.md`` (the misses, each with the targets it is in tension with) and
``tensions.csv`` (every ordered pair of targets over the reference set).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from abm.batch.abc.status import candidates, folder_tool_main  # noqa: E402
from abm.core.errors import ConfigError  # noqa: E402
from abm.core.io import atomic_write_text, output_file  # noqa: E402

SIGNATURE = "<!-- written by experiments/tools/target_tensions.py -->"
#: a target met by less than this weight of the posterior is a miss
MISS_BELOW = 0.5
#: fewer candidates meeting a target than this, and no tension is computed for it
MIN_MET = 10
#: a cost of meeting T to U at least this large is reported
MIN_COST = 0.1


def analyse(folder: Path) -> dict:
    c = candidates(folder)
    gens = sorted((folder / "generations").glob("gen_*.parquet"))
    if not gens:
        raise ConfigError(f"{folder} has no finished generation")
    post = pd.read_parquet(gens[-1], columns=["generation", "candidate", "weight"])
    g = int(post["generation"].iloc[0])
    lo = np.array([t["lo"] for t in c.targets])
    hi = np.array([t["hi"] for t in c.targets])
    met = np.isfinite(c.stats) & (c.stats >= lo) & (c.stats <= hi)
    row = {(a, b): i for i, (a, b) in enumerate(zip(c.generation, c.candidate, strict=True))}
    idx = np.array([row[(g, int(k))] for k in post["candidate"]])
    w = post["weight"].to_numpy(float)
    share = (w[:, None] * met[idx]).sum(axis=0) / w.sum()
    ref = met[c.generation == g]
    p = ref.mean(axis=0)
    n_met = ref.sum(axis=0)
    pairs = []
    for i, ti in enumerate(c.targets):
        cond = ref[ref[:, i]]
        for j, tj in enumerate(c.targets):
            if i != j:
                pij = float(cond[:, j].mean()) if len(cond) else np.nan
                pairs.append({"target": ti["id"], "other": tj["id"], "n_reference": len(ref),
                              "n_target_met": int(n_met[i]), "p_other": float(p[j]),
                              "p_other_given_target": pij, "cost": float(p[j]) - pij})
    done = met[c.generation <= g]  # the finished generations' candidates (a running
    # calibration has more on disk, of a generation not yet judged)
    return {"folder": folder, "generation": g, "targets": c.targets, "share": share,
            "p": p, "n_met": n_met, "n_ref": len(ref), "pairs": pd.DataFrame(pairs),
            "all_met": done.mean(axis=0), "n_all": len(done)}


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%" if np.isfinite(x) else "n/a"


def tensions_of(a: dict, target_id: str) -> pd.DataFrame:
    """The targets that meeting ``target_id`` costs, largest cost first."""
    d = a["pairs"]
    d = d[(d["target"] == target_id) & (d["cost"] >= MIN_COST)]
    return d.sort_values("cost", ascending=False)


def report(a: dict) -> str:
    lines = [SIGNATURE, "# Targets in tension", "",
             f"Written by `experiments/tools/target_tensions.py` from `{a['folder']}`: the "
             f"posterior is generation {a['generation']}; the reference set is that "
             f"generation's {a['n_ref']:,} candidates (its proposals, accepted or not), and "
             f"{a['n_all']:,} candidates were simulated in all up to it. A target is met when the "
             f"median of a candidate's replicates is inside its tolerance.", "",
             f"A target that less than {MISS_BELOW:.0%} of the posterior's weight meets is "
             f"listed, with the targets that the candidates meeting it meet less often (by "
             f"at least {MIN_COST * 100:.0f} points: P(U met) -> P(U met | this target "
             f"met)).", "",
             "| target | weight | posterior meeting it | reference candidates meeting it | "
             "all candidates meeting it | met less often when it is met |",
             "|---|---|---|---|---|---|"]
    order = np.argsort(a["share"], kind="stable")
    n = 0
    for i in order:
        if a["share"][i] >= MISS_BELOW:
            continue
        n += 1
        t = a["targets"][i]
        if a["n_met"][i] < MIN_MET:
            why = (f"too few candidates meet it to say ({int(a['n_met'][i])})"
                   if a["n_met"][i] else "no candidate near the posterior meets it")
        else:
            d = tensions_of(a, t["id"]).head(3)
            why = "; ".join(f"`{r.other}` {_pct(r.p_other)} -> {_pct(r.p_other_given_target)}"
                            for r in d.itertuples()) or "none by that much"
        lines.append(f"| `{t['id']}` | {t['weight']:g} | {_pct(a['share'][i])} | "
                     f"{_pct(a['p'][i])} ({int(a['n_met'][i]):,}) | {_pct(a['all_met'][i])} | "
                     f"{why} |")
    if n == 0:
        lines.append("| (none: the posterior meets every target) | | | | | |")
    return "\n".join(lines) + "\n"


def write(folder: Path, out: Path) -> list[Path]:
    def ours(text: str) -> bool:
        return text.startswith(SIGNATURE)

    def csv_ours(_text: str) -> bool:  # the table is ours when the report beside it is
        report_md = out / "tensions.md"
        return report_md.exists() and ours(report_md.read_text())

    with output_file(out / "tensions.csv", overwrite=True, signed=csv_ours) as csv, \
            output_file(out / "tensions.md", overwrite=True, signed=ours) as md:
        a = analyse(folder)
        atomic_write_text(csv, a["pairs"].to_csv(index=False, float_format="%.4g"))
        atomic_write_text(md, report(a))
    return [md, csv]


def main(argv=None) -> int:
    return folder_tool_main("target_tensions", __doc__, argv, ROOT / "results" / "calibration"
                            / "abc", ROOT / "results" / "calibration", write)


if __name__ == "__main__":
    raise SystemExit(main())
