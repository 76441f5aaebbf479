"""How much of the engine's time is Numba's atomic reference counting (docs/performance.md
section 8). Runs the England 1:1 engine benchmark (``benchmarks.engine child engine``) in fresh
processes, alternately with Numba's diagnostic switch that makes reference counts plain
increments (``numba.core.runtime.nrtdynmod._disable_atomicity``) and without it, and prints
each run. A measurement only: the switch is private and process-wide, and the model never
sets it.

    python experiments/tools/nrt_overhead.py [--pairs 2] [--scenario PATH]
"""

import argparse
import json
import subprocess
import sys

CHILD = """
import sys, runpy
import numba.core.runtime.nrtdynmod as n
n._disable_atomicity = int(sys.argv[1])
sys.argv = ["benchmarks.engine", "child", "engine", sys.argv[2]]
runpy.run_module("benchmarks.engine", run_name="__main__")
"""


def run(non_atomic: bool, scenario: str) -> dict:
    desc = json.dumps({"path": scenario})
    out = subprocess.run([sys.executable, "-c", CHILD, str(int(non_atomic)), desc],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", type=int, default=2)
    ap.add_argument("--scenario", default="experiments/scenarios/england_default.toml")
    a = ap.parse_args()
    for _ in range(a.pairs):
        for non_atomic in (True, False):
            r = run(non_atomic, a.scenario)
            print(f"{'non-atomic' if non_atomic else 'atomic    '}  calendar weeks "
                  f"{r['run_s']:6.2f} s  wall {r['wall_s']:6.2f} s", flush=True)


if __name__ == "__main__":
    main()
