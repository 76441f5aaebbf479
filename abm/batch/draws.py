"""Parameter uncertainty in a sweep: each replication runs with a parameter set drawn from a
calibration's posterior (a spec's ``[posterior]``).

Without it, a sweep's replications differ only in their seeds, so its bands and confidence
intervals carry the simulator's noise at one parameter set. With ``[posterior] folder =
"..."`` (a finished ``cpabm calibrate`` folder), replication ``r`` of every design point runs
with the same particle of the final generation, drawn by weight
(:data:`DRAW_RULE`), with the calibration's own ``[fixed]`` values (the posterior is
conditional on them), and the same seed. Arms stay paired (the same parameters and random
numbers in replication ``r``), and the replications' spread now carries the parameters'
uncertainty as the calibration left it, as well as the noise: a policy effect whose interval
excludes zero holds across the calibrated parameter sets, not only at one of them.

A draw never overrides what the sweep sets itself: ``[fixed]`` values, factors and variants,
and what the adapter says the base model sets (:meth:`abm.batch.adapter.Adapter.set_by_model`:
for the child protection model, the base scenario's own parameters and the regimes'). Those
parameters keep their values and are listed as ``kept``.

Draw ``r`` depends on the sweep's seed, ``r`` and the posterior alone, so adding replications
(``--precision``) leaves the earlier draws as they were. The run identity holds the
calibration's identity and a digest of its final generation, so a sweep cannot be resumed
against another posterior.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from abm.core.errors import ConfigError

#: the keys of ``[posterior]``
POSTERIOR_KEYS = ("folder",)
#: how replication r's particle is drawn (recorded in the manifest)
DRAW_RULE = ("replication r: particle numpy.random.default_rng(SeedSequence(sweep seed, "
             "spawn_key=(3, r))).choice(particles, p=weights) of the final generation")


@dataclass(frozen=True)
class PosteriorDraws:
    folder: str
    name: str  # the calibration's
    identity_sha256: str  # the calibration run
    posterior_sha256: str  # the bytes of its posterior.parquet (the final generation)
    generation: int
    ess: float
    names: tuple[str, ...]  # the parameters a draw sets
    kept: tuple[str, ...]  # the posterior's parameters the sweep sets itself
    constants: tuple  # (name, value) of the calibration's [fixed] values a draw sets
    values: tuple  # per particle, the values of ``names`` as the model received them
    weights: tuple
    seed: int

    def index(self, replication: int) -> int:
        """The particle replication ``replication`` runs with (:data:`DRAW_RULE`)."""
        rng = np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(3, replication)))
        return int(rng.choice(len(self.weights), p=np.asarray(self.weights)))

    def point(self, replication: int) -> dict:
        """Replication ``replication``'s parameter values."""
        return {**dict(self.constants),
                **dict(zip(self.names, self.values[self.index(replication)], strict=True))}

    def identity(self) -> dict:
        """What of the posterior decides the runs' results (no machine path)."""
        return {"identity_sha256": self.identity_sha256,
                "posterior_sha256": self.posterior_sha256, "generation": self.generation,
                "parameters": list(self.names), "fixed": dict(self.constants),
                "rule": DRAW_RULE}

    def describe(self, replications: int) -> dict:
        """The manifest's record: the identity, the folder, what was kept, and each
        replication's particle."""
        return {**self.identity(), "folder": self.folder, "ess": round(self.ess, 1),
                "kept": list(self.kept),
                "particles_by_replication": [self.index(r) for r in range(replications)]}


def describe_text(desc: dict) -> str:
    """One sentence on a sweep's draws, from the manifest's record (:meth:`PosteriorDraws.describe`),
    for ``--check`` and ``summary.md``."""
    n = len(desc["parameters"])
    fixed = ", ".join(f"{k} = {v!r}" for k, v in desc.get("fixed", {}).items())
    return (f"a particle drawn by weight from the posterior in `{desc['folder']}` (calibration "
            f"{desc['identity_sha256'][:12]}, generation {desc['generation']}, ESS "
            f"{desc['ess']:g}), the same at every design point: {n} parameter"
            f"{'s' if n != 1 else ''} drawn"
            + (f", with the calibration's fixed {fixed}" if fixed else "")
            + (f"; kept as the sweep sets them: {', '.join(desc['kept'])}" if desc["kept"]
               else ""))


def load_draws(table: dict, base: Path, where: str, seed: int, adapter,
               set_elsewhere: set[str]) -> PosteriorDraws:
    """The draws a spec's ``[posterior]`` table asks for, checked: the folder is a finished
    calibration (relative paths start at the spec's folder), and every parameter of its
    posterior is a factor of the sweep's model. ``set_elsewhere``: the parameters the sweep
    sets itself, which the draws leave alone."""
    unknown = set(table) - set(POSTERIOR_KEYS)
    if unknown:
        k = sorted(unknown)[0]
        raise ConfigError(f"{where}: posterior.{k} = {table[k]!r} is not a key of [posterior]; "
                          f"allowed keys: {', '.join(POSTERIOR_KEYS)}")
    folder = table.get("folder")
    if not isinstance(folder, str) or not folder:
        raise ConfigError(f"{where}: posterior.folder = {folder!r} must be the folder of a "
                          f"finished calibration (`cpabm calibrate --out`), relative to the spec")
    root = (base / folder).resolve()
    if not root.is_dir():
        raise ConfigError(f"{where}: posterior.folder = {folder!r}: no such folder ({root}); "
                          f"the path is relative to the spec's folder")
    return from_folder(root, seed, adapter.factor, set_elsewhere,
                       f"{where}: posterior.folder = {folder!r}", shown=folder)


def from_folder(root: Path, seed: int, check, set_elsewhere: set[str], where: str,
                shown: str | None = None) -> PosteriorDraws:
    """The draws of the finished calibration in ``root``: ``check(name, where)`` refuses a
    parameter the model does not have (a ConfigError); ``set_elsewhere`` are left alone;
    ``shown`` is the folder as the user gave it."""
    import json

    from abm.batch.abc.posterior import load_posterior, particle

    try:
        post = load_posterior(root)
    except ConfigError as e:
        raise ConfigError(f"{where}: {e}") from None
    fixed = json.loads((root / "manifest.json").read_text())["spec"]["identity"].get("fixed", {})
    for name in [*post.names, *fixed]:
        check(name, f"{where}: its parameter '{name}'")
    names = tuple(n for n in post.names if n not in set_elsewhere)
    kept = tuple(n for n in [*post.names, *fixed] if n in set_elsewhere)
    constants = tuple((k, v) for k, v in fixed.items()
                      if k not in set_elsewhere and k not in post.names)
    if not names:
        raise ConfigError(f"{where}: the sweep sets every parameter of the posterior itself "
                          f"({', '.join(kept)}); a draw would change nothing")
    values = tuple(tuple(particle(post, i)[n] for n in names) for i in range(len(post.frame)))
    digest = hashlib.sha256((root / "posterior.parquet").read_bytes()).hexdigest()
    return PosteriorDraws(str(shown if shown is not None else root), post.name,
                          post.identity_sha256,
                          digest, post.generation, post.ess, names, kept, constants, values,
                          tuple(float(w) for w in post.weights), seed)
