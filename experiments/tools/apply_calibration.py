"""Write a calibration's values into the single parameter table as the new defaults.

    .venv/bin/python experiments/tools/apply_calibration.py results/calibration/abc/calibrated.toml [--use best_particle|parameters]

For every calibrated parameter it sets ``default`` to the chosen value (rounded to 4
significant figures: the posterior is far wider than that), ``calibrated = true``, and notes
the calibration in ``source``. It edits ``abm/data/parameters.toml`` in place as text, so
comments and layout stay, then regenerates docs/parameters.md and the ODD table.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from abm.core import tomlio  # noqa: E402
from abm.core.errors import ConfigError  # noqa: E402
from abm.core.io import atomic_write_text  # noqa: E402

TABLE = ROOT / "abm" / "data" / "parameters.toml"
NOTE = "calibrated by ABC-SMC to the review's figures (results/calibration/report.md)"


def _round(v):
    if isinstance(v, bool) or isinstance(v, int):
        return v
    return float(f"{v:.4g}")


def apply(values: dict, text: str) -> str:
    for name, value in values.items():
        block = re.search(rf"(?ms)^\[{re.escape(name)}\]\n(.*?)(?=^\[|\Z)", text)
        if block is None:
            raise SystemExit(f"{name}: not in {TABLE}")
        body = block.group(1)
        kind = re.search(r'(?m)^type = "(\w+)"', body).group(1)
        v = int(round(value)) if kind == "int" else _round(value)
        new = re.sub(r"(?m)^default = .*$", f"default = {v!r}", body, count=1)
        if re.search(r"(?m)^calibrated = ", new):
            new = re.sub(r"(?m)^calibrated = .*$", "calibrated = true", new)
        else:
            new = new.rstrip("\n") + "\ncalibrated = true\n\n"
        src = re.search(r'(?m)^source = "(.*)"$', new)
        if src and NOTE not in src.group(1):
            old = src.group(1)
            new = new.replace(f'source = "{old}"', f'source = "{NOTE}; before calibration: {old}"')
        text = text[:block.start(1)] + new + text[block.end(1):]
    return text


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("calibrated", help="calibrated.toml written by cpabm calibrate")
    ap.add_argument("--use", default="best_particle", choices=("best_particle", "parameters"),
                    help="which candidate: the best particle (lowest distance) or the "
                         "posterior medians ([parameters])")
    args = ap.parse_args(argv)
    try:
        doc = tomlio.read(args.calibrated)
    except ConfigError as e:
        raise SystemExit(f"apply_calibration: error: {e}") from None
    values = doc[args.use]
    values = {k: v for k, v in values.items() if not isinstance(v, dict)}
    atomic_write_text(TABLE, apply(values, TABLE.read_text()))
    print(f"set {len(values)} calibrated defaults in {TABLE.relative_to(ROOT)}: "
          + ", ".join(f"{k}={_round(v)}" for k, v in values.items()))
    subprocess.run([sys.executable, str(ROOT / "experiments" / "tools" / "make_docs.py")], check=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
