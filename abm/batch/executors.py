"""Where runs execute. Everything goes through ``concurrent.futures.Executor``:

* ``--workers 0`` or ``1``: :class:`SerialExecutor`, in this process (no pickling at all);
* ``--workers N`` (default: the CPUs this process may use): a ``ProcessPoolExecutor`` with
  N local processes;
* ``--scheduler ADDRESS`` or ``DASK_SCHEDULER_ADDRESS``: a Dask distributed cluster, through
  ``Client(address).get_executor()``. ``--scheduler local`` ignores the variable;
* ``--scheduler dask-local[:N]``: a Dask ``LocalCluster`` of N single-threaded worker
  processes on this machine (default: --workers, else the CPUs), started and closed here.

Start method of the local pool: **forkserver** where the platform has it (Linux), else
spawn. Plain fork copies the parent *with its threads' locks* (tqdm's monitor thread, the
thread pools pyarrow starts when the parent writes results, Numba's threading layer), and a
child can deadlock on a lock held by a thread that no longer exists. forkserver forks
workers from a fresh single-threaded server (started by exec, so it inherits none of the
parent's threads), which preloads the model's modules once, so a worker starts without
re-importing NumPy/Numba/Mesa as spawn would. Workers load the Numba kernels from the
on-disk cache the parent has just warmed.

No orphans: every local worker, and every worker of a ``dask-local`` cluster, watches the
process that opened the pool (:func:`die_with_parent`; for Dask the worker plugin
:class:`abm.batch.dask_plugin.DieWithParent`) and kills
itself when that process ends, however it ends (kill -9 included), so a killed sweep or
calibration leaves no worker running.

One run's memory at a time: a worker frees each run's objects as soon as the run returns
(:func:`release_run_garbage`), so a long-lived worker does not pile up dead models.
"""

from __future__ import annotations

import gc
import multiprocessing as mp
import os
import re
import signal
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

from abm.core.errors import ConfigError

#: the most worker processes started on this machine (each holds a model in memory)
MAX_LOCAL_WORKERS = 256


def default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class SerialExecutor(Executor):
    """Runs each call at submission, in this process. Same interface, no parallelism."""

    def submit(self, fn, /, *args, **kwargs):
        f: Future = Future()
        if f.set_running_or_notify_cancel():
            try:
                f.set_result(fn(*args, **kwargs))
            except Exception as e:  # KeyboardInterrupt propagates to the caller
                f.set_exception(e)
        return f


#: set in a worker of this module's own process pool (by its initializer)
_POOL_WORKER = False
_frozen = False


def release_run_garbage() -> None:
    """Free a finished run's objects now, in a worker process (nothing in the main one).

    A model is a web of reference cycles (a Mesa model and its components point at each
    other), which only the cyclic collector frees, and a process holding as many long-lived
    objects as a worker does (NumPy, pandas, Numba, the kernels) runs full collections
    rarely: dead models piled up, and the England calibration's two workers held 4.3 GB
    each where one live model of its scenario takes about 0.45 GB. So a worker collects
    after every run. In a worker of our own pool, what is left after the first run's
    collection (the modules and the kernels, alive for the worker's life) is then frozen out
    of later collections (``gc.freeze``), which makes each one cost a few milliseconds rather
    than 100-150 ms."""
    global _frozen
    if mp.parent_process() is None:
        return
    gc.collect()
    if _POOL_WORKER and not _frozen:
        gc.freeze()
        _frozen = True


def run_and_release(fn: Callable, *args):
    """``fn(*args)``, then :func:`release_run_garbage`: how a worker runs one evaluation."""
    out = fn(*args)
    release_run_garbage()
    return out


def die_with_parent(parent: int) -> None:
    """Pool initializer: a daemon thread that kills this worker as soon as the process
    ``parent`` has ended (pidfd on Linux; elsewhere a poll every half second)."""
    global _POOL_WORKER
    _POOL_WORKER = True
    def watch():
        try:
            import select
            fd = os.pidfd_open(parent)
            select.select([fd], [], [])  # readable once the parent has exited
        except (AttributeError, OSError):
            import time
            while _alive(parent):
                time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="die-with-parent", daemon=True).start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def process_context(preload: tuple[str, ...] = ()):
    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        if preload:
            ctx.set_forkserver_preload(list(preload))
        return ctx
    return mp.get_context("spawn")


@dataclass
class Plan:
    kind: str  # "serial" | "processes" | "dask" | "dask-local"
    workers: int = 1
    address: str | None = None

    def describe(self) -> str:
        if self.kind == "serial":
            return "serial (in this process)"
        if self.kind == "processes":
            return f"{self.workers} local processes ({process_context().get_start_method()})"
        if self.kind == "dask-local":
            return f"Dask LocalCluster of {self.workers} worker processes"
        return f"Dask cluster at {self.address}"


def choose(workers: int | None = None, scheduler: str | None = None) -> Plan:
    """Pick the executor from --workers, --scheduler and DASK_SCHEDULER_ADDRESS."""
    address = scheduler if scheduler is not None else os.environ.get("DASK_SCHEDULER_ADDRESS")
    if address and address.split(":")[0] == "dask-local":
        n = address.partition(":")[2] or (workers if workers else
                                          min(default_workers(), MAX_LOCAL_WORKERS))
        if (isinstance(n, str) and not re.fullmatch(r"[0-9]{1,9}", n)
                or not 1 <= int(n) <= MAX_LOCAL_WORKERS):
            raise ConfigError(f"--scheduler = {address!r}: write dask-local or dask-local:N "
                              f"with N in [1, {MAX_LOCAL_WORKERS}] worker processes")
        return Plan("dask-local", int(n))
    if address and address != "local":
        return Plan("dask", 0, address)
    if workers is None:
        workers = min(default_workers(), MAX_LOCAL_WORKERS)
    if (isinstance(workers, bool) or not isinstance(workers, int)
            or not 0 <= workers <= MAX_LOCAL_WORKERS):
        raise ConfigError(f"--workers = {workers!r} is out of range: valid range is [0, "
                          f"{MAX_LOCAL_WORKERS}] (0 or 1: serial in this process)")
    return Plan("serial", 1) if workers <= 1 else Plan("processes", workers)


@contextmanager
def open_executor(plan: Plan, preload: tuple[str, ...] = (), warm: Callable | None = None,
                  warm_args: tuple = ()):
    """Yield ``(executor, slots)``; slots is how many runs can execute at once."""
    if plan.kind == "serial":
        yield SerialExecutor(), 1
        return
    if plan.kind == "processes":
        ex = ProcessPoolExecutor(max_workers=plan.workers, mp_context=process_context(preload),
                                 initializer=die_with_parent, initargs=(os.getpid(),))
        ok = False
        try:
            yield ex, plan.workers
            ok = True
        finally:
            ex.shutdown(wait=ok, cancel_futures=not ok)
        return
    cluster = None
    if plan.kind == "dask-local":
        from distributed import LocalCluster

        from abm.batch.dask_plugin import DieWithParent
        cluster = LocalCluster(n_workers=plan.workers, threads_per_worker=1, processes=True,
                               dashboard_address=None, plugins={DieWithParent(os.getpid())})
    client = connect(cluster.scheduler_address if cluster else plan.address)
    try:
        slots = sum(w["nthreads"] for w in client.scheduler_info()["workers"].values())
        if warm is not None:
            warm_dask_workers(client, warm, warm_args)
        ex = client.get_executor()
        yield ex, max(1, slots)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def connect(address: str):
    try:
        from distributed import Client
    except ImportError:  # pragma: no cover - dask is in the lock file
        raise ConfigError("--scheduler needs dask[distributed] (pip install 'cpabm[batch]')") from None
    try:  # connect timeout: dask config distributed.comm.timeouts.connect (default 30 s)
        client = Client(address)
    except (OSError, TimeoutError, ValueError) as e:
        raise ConfigError(f"--scheduler / DASK_SCHEDULER_ADDRESS = {address!r}: cannot connect "
                          f"to a Dask scheduler ({type(e).__name__}: {e}); start one with "
                          f"`dask scheduler` and workers with `dask worker ADDRESS`, or use "
                          f"--scheduler local") from None
    try:
        client.wait_for_workers(1, timeout=60)
    except TimeoutError:
        client.close()
        raise ConfigError(f"Dask scheduler {address!r} has no workers after 60 s; start some "
                          f"with `dask worker {address}`") from None
    return client


def warm_dask_workers(client, warm: Callable, args: tuple) -> None:
    """Warm caches on every worker: one worker per host first, then the rest in parallel,
    so no two workers on one host build the on-disk cache at the same moment."""
    from urllib.parse import urlparse

    by_host: dict[str, list[str]] = {}
    for addr in client.scheduler_info()["workers"]:
        by_host.setdefault(urlparse(addr).hostname or addr, []).append(addr)
    first = [v[0] for v in by_host.values()]
    rest = [a for v in by_host.values() for a in v[1:]]
    client.run(warm, *args, workers=first)
    if rest:
        client.run(warm, *args, workers=rest)
