"""Medians of repeated runs and a least-squares line, for the engine benchmark."""

from __future__ import annotations

import statistics


def median_fields(runs: list[dict]) -> dict:
    """The median of every numeric field of the first run, over all runs."""
    keys = [k for k, v in runs[0].items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return {k: statistics.median(r[k] for r in runs) for k in keys}


def linear_fit(x: list[float], y: list[float]) -> dict:
    """Least-squares y = a + b x, with R^2 and the largest relative residual."""
    n = len(x)
    if n < 2 or len(y) != n:
        raise ValueError("linear_fit needs two or more (x, y) pairs of equal length")
    mx, my = sum(x) / n, sum(y) / n
    sxx = sum((xi - mx) ** 2 for xi in x)
    b = sum((xi - mx) * (yi - my) for xi, yi in zip(x, y, strict=True)) / sxx if sxx else 0.0
    a = my - b * mx
    ss_res = sum((yi - a - b * xi) ** 2 for xi, yi in zip(x, y, strict=True))
    ss_tot = sum((yi - my) ** 2 for yi in y)
    worst = max(abs(yi - a - b * xi) / abs(yi) for xi, yi in zip(x, y, strict=True) if yi)
    return {"intercept": a, "slope": b, "r2": 1.0 - ss_res / ss_tot if ss_tot else 1.0,
            "max_rel_residual": worst}
