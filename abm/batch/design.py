"""Experimental designs: full factorial, Latin hypercube, Sobol' (Saltelli), Morris, and
named variants.

Continuous designs are drawn in the unit hypercube and mapped to factor values with each
factor's inverse CDF; the unit coordinates are kept (the manifest stores them) because
SALib's analyses work on them. Every design is a deterministic function of the spec.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from abm.batch.factors import Factor

DESIGN_KEYS = {
    "factorial": ("type",),
    "lhs": ("type", "samples", "seed"),
    "sobol": ("type", "samples", "second_order", "seed"),
    "morris": ("type", "trajectories", "levels", "seed"),
    "variants": ("type", "reference"),
}
#: the column that names a variants design's points in every result table
VARIANT = "variant"


@dataclass
class Design:
    type: str
    factors: list[Factor]
    points: list[dict]
    unit: np.ndarray | None = None  # n_points x n_factors, for continuous designs
    params: dict = field(default_factory=dict)
    #: what each point's run receives, when it differs from the point (variants designs)
    run_inputs: list[dict] | None = None

    @property
    def inputs(self) -> list[dict]:
        """Each design point's model input: the overrides a run of that point receives."""
        return self.points if self.run_inputs is None else self.run_inputs

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.factors]

    def salib_problem(self) -> dict:
        return {"num_vars": len(self.factors), "names": self.names,
                "bounds": [[0.0, 1.0]] * len(self.factors)}

    def as_dict(self) -> dict:
        d = {"type": self.type, "params": self.params,
             "factors": {f.name: f.as_dict() for f in self.factors},
             "points": self.points}
        if self.unit is not None:
            d["unit"] = self.unit.tolist()
        return d


def build_design(factors: list[Factor], params: dict) -> Design:
    kind = params["type"]
    names = [f.name for f in factors]
    if kind == "factorial":
        grids = [f.grid() for f in factors]
        points = [dict(zip(names, combo, strict=True)) for combo in itertools.product(*grids)]
        return Design(kind, factors, points, None, params)
    if kind == "variants":
        return variants_design(params["variants"], params["reference"], factors)
    problem = {"num_vars": len(factors), "names": names, "bounds": [[0.0, 1.0]] * len(factors)}
    if kind == "lhs":
        from scipy.stats import qmc
        unit = qmc.LatinHypercube(d=len(factors), rng=np.random.default_rng(params["seed"])
                                  ).random(params["samples"])
    elif kind == "sobol":
        from SALib.sample import sobol
        unit = sobol.sample(problem, params["samples"], calc_second_order=params["second_order"],
                            scramble=True, seed=params["seed"])
    elif kind == "morris":
        from SALib.sample import morris
        unit = morris.sample(problem, params["trajectories"], num_levels=params["levels"],
                             seed=params["seed"])
    else:  # the spec loader only lets known types through
        raise ValueError(kind)
    unit = np.asarray(unit, float)
    columns = [f.ppf(unit[:, j]) for j, f in enumerate(factors)]
    points = [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]
    return Design(kind, factors, points, unit, params)


def variants_design(variants: dict[str, dict], reference: str,
                    crossed: list[Factor] = ()) -> Design:
    """Named override sets (arms), in the order given; ``variants`` maps name -> {key:
    value} (already validated; ``{}`` is the unchanged model). With ``crossed`` factors,
    every arm runs at every combination of their levels (arm-major)."""
    names = list(variants)
    factor = Factor(VARIANT, "category", values=tuple(names))
    params = {"type": "variants", "reference": reference,
              "variants": {n: dict(v) for n, v in variants.items()}}
    crossed = list(crossed)
    combos = [dict(zip([f.name for f in crossed], c, strict=True))
              for c in itertools.product(*[f.grid() for f in crossed])]
    if crossed:
        params["crossed"] = [f.name for f in crossed]
    points = [{VARIANT: n, **c} for n in names for c in combos]
    inputs = [{**variants[n], **c} for n in names for c in combos]
    return Design("variants", [factor, *crossed], points, None, params, inputs)


def reference_points(design_dict: dict) -> dict[int, int]:
    """Each point's reference point in a design (as stored in a manifest): in a variants
    design, the reference arm at the same levels of the crossed factors; else point 0's
    role is played by ``summary.reference`` and this returns {}."""
    params = design_dict["params"]
    if design_dict["type"] != "variants":
        return {}
    crossed = params.get("crossed", [])
    points = design_dict["points"]
    key = lambda p: tuple(repr(p[c]) for c in crossed)  # noqa: E731
    ref = {key(p): i for i, p in enumerate(points) if p[VARIANT] == params["reference"]}
    return {i: ref[key(p)] for i, p in enumerate(points)}
