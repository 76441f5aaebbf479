"""Replication seeds from one root seed: common random numbers across design points.

Replication ``r`` of *every* design point gets the same seed::

    seed_r = int(SeedSequence(root).spawn(R)[r].generate_state(1, uint64)[0] >> 1)

``SeedSequence(root).spawn(R)[r]`` is ``SeedSequence(root, spawn_key=(r,))``, so a
replication's seed does not depend on how many replications there are: raising
``replications`` from 10 to 30 keeps the first 10 seeds (and their result files). The
shift keeps seeds in [0, 2**63), so they fit a signed 64-bit column and ``cpabm run --seed``.
"""

from __future__ import annotations

import numpy as np


def replication_seeds(root: int, n: int) -> list[int]:
    children = np.random.SeedSequence(root).spawn(n)
    return [int(c.generate_state(1, np.uint64)[0] >> np.uint64(1)) for c in children]
