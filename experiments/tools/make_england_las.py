"""Generate abm/data/england_las.csv: 152 English LAs with child populations and courts.

No per-LA population table can be fetched offline, so the sizes are SYNTHETIC: a
lognormal spread (median ~55,000 children, clipped to 8,000..330,000 before rescaling;
after rescaling so England totals 11.0 million children aged 0-17, the ONS mid-2005
estimate rounded, they run from about 13,000 to 240,000). LAs are grouped, in order, into
44 family court centres serving 1-9 LAs each. Deterministic: run it again and the file is identical.

    python experiments/tools/make_england_las.py
"""

from pathlib import Path

import numpy as np

N_LA, TOTAL, N_COURTS = 152, 11_000_000, 44
rng = np.random.default_rng(20101001)
raw = np.exp(rng.normal(np.log(55_000), 0.62, N_LA))
raw = np.clip(raw, 8_000, 330_000)
sizes = np.round(raw / raw.sum() * TOTAL).astype(int)
sizes[np.argmax(sizes)] += TOTAL - sizes.sum()
court = np.sort(rng.integers(0, N_COURTS, N_LA))
court[:N_COURTS] = np.arange(N_COURTS)  # every court serves at least one LA
court = np.sort(court)
out = Path(__file__).resolve().parents[2] / "abm" / "data" / "england_las.csv"
with open(out, "w") as f:
    f.write("code,name,children,court\n")
    for i in range(N_LA):
        f.write(f"E{i + 1:03d},Synthetic LA {i + 1},{sizes[i]},{court[i]}\n")
print(f"wrote {out}: {N_LA} LAs, {sizes.sum():,} children, {N_COURTS} courts")
