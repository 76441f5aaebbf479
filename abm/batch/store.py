"""A sweep's results folder: manifest, lock, and one atomically written parquet file per run.

    OUT/
      manifest.json        spec (raw text and canonical form), design, seeds, run list,
                           package versions, SHA-256 of requirements.lock, code fingerprint
      runs/<key>.parquet   one per (design point, replication); key = hash of (run
                           identity, point, replication); written whole or not at all
      summary/             written by --summarise (replaced whole)
      log.jsonl            one line per session start/end (informative only)
      checksums.jsonl      one line per run file written: its key and SHA-256
      quarantine/          run files that failed the check at a resume or a summary (kept,
                           never read; the run is done again)
      .lock                held while a sweep writes here (a second sweep is refused)

Only the parent process writes files: workers return tables. A worker left behind by a
killed parent cannot write a stale or duplicate file, and Dask workers need no shared disk.
A temporary file (``runs/.<key>.parquet.*.tmp``) is never read as a result and is removed at
the next start. A run file is trusted only when its SHA-256 is the one recorded when it
was written, or, unrecorded (a writer killed between the two, or a folder older than the
record), when it reads whole and holds the run its name says; :meth:`ResultStore.verify_runs`
checks every file (see docs/reliability.md).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import time
from contextlib import contextmanager
from pathlib import Path

from abm.core.errors import ConfigError
from abm.core.io import (
    atomic_write_bytes,
    atomic_write_text,
    is_temp_name,
    refuse_foreign,
    sha256_bytes,
    sha256_file,
)

MANIFEST = "manifest.json"
RUNS = "runs"
SUMMARY = "summary"
LOG = "log.jsonl"
LOCK = ".lock"
CHECKSUMS = "checksums.jsonl"
QUARANTINE = "quarantine"
OURS = {MANIFEST, RUNS, SUMMARY, LOG, LOCK, CHECKSUMS, QUARANTINE}
FORMAT = "cpabm-sweep/1"


@contextmanager
def folder_lock(root: Path, what: str):
    """Hold an exclusive lock on the results folder ``root`` (created if need be) while a
    ``what`` ("sweep", "calibration") writes into it; a second writer is refused, naming the
    pid that holds it. Closing the file, or any death of this process, releases the lock."""
    if root.exists() and not root.is_dir():
        raise ConfigError(f"--out = {str(root)!r} exists and is not a folder")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"--out = {str(root)!r}: cannot write there ({e.strerror or e}); "
                          f"nothing was written") from None
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: no lock
        yield
        return
    try:
        fd = os.open(root / LOCK, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as e:
        raise ConfigError(f"--out = {str(root)!r}: cannot write there ({e.strerror or e}); "
                          f"nothing was written") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
            raise ConfigError(f"--out = {str(root)!r}: another {what} (pid {other}) is "
                              f"writing into this folder; wait for it or choose another "
                              f"--out") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)


class ResultFolder:
    """A results folder written by one run at a time: a locked folder with a versioned
    manifest; subclasses say what kind of run (``KIND``), the manifest format (``FORMAT``)
    and which entries belong to them (``OURS``)."""

    KIND = "sweep"
    FORMAT = FORMAT
    OURS = OURS
    #: manifest keys every reader relies on
    REQUIRED = ("identity_sha256", "canonical_sha256", "spec", "runs", "design", "factors",
                "metrics", "summary")

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def locked(self):
        if not (self.root / MANIFEST).exists():  # refused before anything is written
            refuse_foreign(self.root, self.OURS, what=f"{self.KIND} manifest")
        return folder_lock(self.root, self.KIND)

    def manifest(self) -> dict | None:
        p = self.root / MANIFEST
        if not p.exists():
            return None
        try:
            m = json.loads(p.read_text())
        except (ValueError, OSError) as e:
            raise ConfigError(f"{p}: not a valid {self.KIND} manifest ({e})") from None
        if not isinstance(m, dict):
            raise ConfigError(f"{p}: not a valid {self.KIND} manifest (not a JSON object)")
        if m.get("format") != self.FORMAT:
            raise ConfigError(f"{p}: format = {m.get('format')!r}; this is not a {self.KIND} "
                              f"folder of this version ({self.FORMAT!r}); choose another --out")
        missing = [k for k in self.REQUIRED if k not in m]
        if missing:
            raise ConfigError(f"{p}: not a valid {self.KIND} manifest: missing "
                              f"{', '.join(repr(k) for k in missing)}; the folder was changed "
                              f"by hand or damaged; choose another --out")
        return m

    def write_manifest(self, m: dict) -> None:
        atomic_write_text(self.root / MANIFEST, json.dumps(m, indent=1, allow_nan=True) + "\n")

    def record_checksum(self, name: str, data: bytes) -> None:
        """Append the SHA-256 of the file ``name`` (relative to the folder) to the record,
        durably, after the file itself is in place."""
        line = json.dumps({"file": name, "sha256": sha256_bytes(data),
                           "bytes": len(data)}) + "\n"
        with open(self.root / CHECKSUMS, "a") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())

    def checksums(self) -> dict[str, str]:
        """file -> SHA-256 as recorded (the last line wins; a torn last line is skipped)."""
        out = {}
        try:
            text = (self.root / CHECKSUMS).read_text(errors="replace")
        except FileNotFoundError:
            return out
        for line in text.splitlines():
            try:
                rec = json.loads(line)
                out[str(rec["file"])] = str(rec["sha256"])
            except (ValueError, KeyError, TypeError):
                continue
        return out

    def quarantine(self, path: Path) -> Path:
        """Move a result file that failed its check out of the way (never deleted)."""
        q = self.root / QUARANTINE
        q.mkdir(exist_ok=True)
        dest = q / f"{path.name}.{time.strftime('%Y%m%dT%H%M%S')}.{os.getpid()}"
        os.replace(path, dest)
        return dest

    def foreign_entries(self) -> list[str]:
        """Entries of the folder that no run of this kind wrote (refused before writing)."""
        if not self.root.exists():
            return []
        return sorted(p.name for p in self.root.iterdir()
                      if p.name not in self.OURS and not _is_our_temp(p.name))


class ResultStore(ResultFolder):
    """``OUT/`` of a sweep: manifest.json, runs/<key>.parquet, summary/, log.jsonl."""

    def __init__(self, root: str | Path):
        super().__init__(root)
        self.runs = self.root / RUNS

    def run_path(self, key: str) -> Path:
        return self.runs / f"{key}.parquet"

    def done_keys(self) -> set[str]:
        if not self.runs.exists():
            return set()
        return {p.name[:-8] for p in self.runs.iterdir()
                if p.name.endswith(".parquet") and not p.name.startswith(".")}

    def clean_temp(self) -> int:
        """Remove temporary files left by a killed writer (never results)."""
        n = 0
        if self.runs.exists():
            for p in self.runs.iterdir():
                if p.name.startswith(".") and p.name.endswith(".tmp"):
                    p.unlink(missing_ok=True)
                    n += 1
        if self.root.exists():
            for p in self.root.iterdir():
                if _is_our_temp(p.name):
                    (shutil.rmtree if p.is_dir() else os.unlink)(p)
                    n += 1
        return n

    def discard(self) -> None:
        """Remove this sweep folder whole, for ``--replace``: refused (and nothing removed)
        when it, or its ``runs/``, holds an entry no sweep wrote, or while a sweep writes
        there. A missing folder is left as it is."""
        if not self.root.exists():
            return
        foreign = self.foreign_entries()
        if self.runs.is_dir():
            foreign += [f"{RUNS}/{p.name}" for p in self.runs.iterdir()
                        if not p.name.endswith(".parquet") and not _is_our_temp(p.name)]
        if foreign:
            raise ConfigError(f"--replace: {str(self.root)!r} holds entries that no sweep wrote "
                              f"({', '.join(sorted(foreign)[:3])}); nothing was removed. Move "
                              f"them elsewhere, or choose another --out")
        with self.locked():  # refused while a sweep is writing here
            shutil.rmtree(self.root)

    def write_run(self, key: str, table) -> None:
        import pyarrow.parquet as pq

        buf = io.BytesIO()
        pq.write_table(table, buf)
        atomic_write_bytes(self.run_path(key), buf.getvalue())
        self.record_checksum(f"{RUNS}/{key}.parquet", buf.getvalue())

    def run_problem(self, key: str, recorded: dict[str, str]) -> str | None:
        """None when the file of run ``key`` is sound, else what is wrong with it."""
        import pyarrow.parquet as pq

        path = self.run_path(key)
        name = f"{RUNS}/{key}.parquet"
        digest = sha256_file(path)
        if recorded.get(name) == digest:
            return None
        if name in recorded:
            return "its SHA-256 differs from the one recorded when it was written"
        try:  # unrecorded: sound only if it reads whole and is the run its name says
            runs = set(pq.read_table(path, columns=["run"]).column("run").to_pylist())
        except Exception as e:  # noqa: BLE001 - any failure to read is a corrupt file
            return f"unreadable ({type(e).__name__}: {' '.join(str(e).split())[:120]})"
        if runs != {key}:
            return f"holds run {sorted(runs)[:1]}, not {key} (a copied or renamed file)"
        self.record_checksum(name, path.read_bytes())
        return None

    def verify_runs(self, keys=None) -> dict[str, str]:
        """key -> problem, for every run file on disk (or those of ``keys``) that fails."""
        recorded = self.checksums()
        keys = self.done_keys() if keys is None else set(keys) & self.done_keys()
        bad = {}
        for k in sorted(keys):
            problem = self.run_problem(k, recorded)
            if problem:
                bad[k] = problem
        return bad

    def log(self, **event) -> None:
        event = {"time": time.strftime("%Y-%m-%dT%H:%M:%S"), "pid": os.getpid(), **event}
        with open(self.root / LOG, "a") as f:
            f.write(json.dumps(event, default=str) + "\n")


def _is_our_temp(name: str) -> bool:
    # atomic_write_* temp files (".manifest.json.*.tmp") and atomic_dir leftovers
    return is_temp_name(name)
