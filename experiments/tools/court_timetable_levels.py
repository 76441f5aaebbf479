"""Keep the timetable sweep's capacity levels at 0.8, 1.0, 1.2 and 1.5 of the default hearing
slots (experiments/sweeps/court_timetable.toml): after a recalibration moves the default, this
rewrites the levels and the reference point (the spec's text, its comments and layout kept).

    python experiments/tools/court_timetable_levels.py [--check]

``--check`` changes nothing and exits 1 when the levels are not those multiples
(tests/integration/test_court_timetable_doc.py checks the same).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from abm.core.io import atomic_write_text  # noqa: E402

SPEC = ROOT / "experiments" / "sweeps" / "court_timetable.toml"
MULTIPLES = (0.8, 1.0, 1.2, 1.5)


def levels(default: float) -> list[float]:
    """The capacity levels: the multiples of the default, to 4 significant figures."""
    return [float(f"{m * default:.4g}") for m in MULTIPLES]


def rewrite(text: str, default: float) -> str:
    """``text`` (the spec) with the slots' values and the reference's slots set from ``default``."""
    lv = levels(default)
    values = ", ".join(f"{v!r}" for v in lv)
    text, n = re.subn(r"(?ms)(^\[factors\.hearing_slots_per_100k\]\s*\nvalues = )\[[^\]]*\]",
                      lambda m: f"{m.group(1)}[{values}]", text)
    text, k = re.subn(r"(hearing_slots_per_100k = )[0-9.eE+-]+(\s*,\s*timetable_enforcement)",
                      lambda m: f"{m.group(1)}{lv[1]!r}{m.group(2)}", text)
    if n != 1 or k != 1:
        raise ValueError(f"{SPEC}: expected one [factors.hearing_slots_per_100k] values list and "
                         f"one reference slots entry (found {n} and {k})")
    return text


def main(argv=None) -> int:
    from abm.core.params import PARAMETERS

    check = "--check" in (argv if argv is not None else sys.argv[1:])
    default = float(PARAMETERS["hearing_slots_per_100k"].default)
    old = SPEC.read_text()
    new = rewrite(old, default)
    if new == old:
        print(f"{SPEC.name}: levels {levels(default)} (default {default:g}); unchanged")
        return 0
    if check:
        print(f"{SPEC.name}: levels are not {MULTIPLES} x the default {default:g}; run "
              f"python experiments/tools/court_timetable_levels.py")
        return 1
    atomic_write_text(SPEC, new)
    print(f"{SPEC.name}: levels set to {levels(default)} (default {default:g})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
