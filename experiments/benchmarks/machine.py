"""The machine a benchmark ran on, and how busy it was: every record carries both."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo ("unknown" where it cannot be read)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def memory_gib() -> float | None:
    """Total memory in GiB from /proc/meminfo (None where it cannot be read)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return int(line.split()[1]) / 2**20
    except (OSError, ValueError, IndexError):
        pass
    return None


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages, rounded (empty where the OS has none)."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return []


def reference_loop_s(repeats: int = 5) -> float:
    """Seconds a fixed workload takes on this machine (median of ``repeats``): a pure-Python
    loop, a NumPy sort and a matrix product, about 0.2 s on the project's machine. Wall times
    divided by it are comparable across machines (covasim's practice), as far as the
    engine's mix of work resembles the workload's."""
    import statistics
    import time

    import numpy as np

    rng = np.random.default_rng(0)
    x, a = rng.random(1_000_000), rng.random((300, 300))
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        s = 0
        for i in range(1_000_000):
            s += i & 7
        np.sort(x)
        for _ in range(10):
            a @ a
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def machine() -> dict:
    """CPU, cores, memory, platform and the versions that decide the engine's speed."""
    import mesa
    import numba
    import numpy

    mem = memory_gib()
    return {"cpu": cpu_model(), "cores": os.cpu_count(),
            "memory": f"{mem:.1f} GiB" if mem is not None else "unknown",
            "python": platform.python_version(), "platform": platform.platform(),
            "numpy": numpy.__version__, "numba": numba.__version__, "mesa": mesa.__version__,
            "reference_loop_s": round(reference_loop_s(), 4)}
