"""The Dask worker plugin that ties a ``dask-local`` cluster's workers to the cpabm process
(kept apart from :mod:`abm.batch.executors` so that only a Dask run imports Dask)."""

from __future__ import annotations

from distributed.diagnostics.plugin import WorkerPlugin

from abm.batch.executors import die_with_parent


class DieWithParent(WorkerPlugin):
    """:func:`die_with_parent` in every worker process of a ``dask-local`` cluster (given
    to ``LocalCluster(plugins=...)``, so restarted workers get it too). The cluster's
    scheduler and nannies live in the cpabm process itself, so they end with it."""

    name = "cpabm-die-with-parent"

    def __init__(self, parent: int):
        self.parent = parent

    def setup(self, worker) -> None:
        die_with_parent(self.parent)
