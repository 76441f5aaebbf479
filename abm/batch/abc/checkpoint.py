"""A calibration folder in one file, to carry a run that is not finished to another machine
or sitting (``cpabm calibrate SPEC --out DIR --save-checkpoint FILE``, then
``--from-checkpoint FILE --resume`` there).

A long ABC-SMC run outlives the machine it started on when that machine is lent for a few
hours at a time. The folder is what makes it resumable (``store.py``: the manifest, every
finished simulation, the generations, the log), so a checkpoint is that folder packed into
one ``.tar.xz``: its simulations compress about nine-fold (about 1.1 kB a candidate), and it
is written atomically, so a checkpoint is whole or absent. Restoring unpacks it into a new or
empty folder; the engine then checks the run identity as for any resume, so a checkpoint of
another spec, model or environment is refused there, and finished simulations are reused by
their keys wherever the folder lives.

The first member, ``checkpoint.json``, names what the archive holds; a file without it is not
a checkpoint, and is never written over.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
import tempfile
import time
from pathlib import Path

from abm.batch.abc.store import GENS, LOG, MANIFEST, SIMS, AbcStore, _temp
from abm.core.errors import ConfigError

HEADER = "checkpoint.json"
#: what a checkpoint carries: the folder's records (outputs are derived, and rebuilt)
TOP_FILES = (MANIFEST, LOG, "checksums.jsonl")
TOP_DIRS = (SIMS, GENS)


def _members(root: Path) -> list[tuple[str, Path]]:
    out = [(name, root / name) for name in TOP_FILES if (root / name).is_file()]
    for d in TOP_DIRS:
        if (root / d).is_dir():
            out += [(f"{d}/{p.name}", p) for p in sorted((root / d).iterdir())
                    if p.is_file() and not _temp(p.name)]
    return out


def read_header(archive: Path) -> dict | None:
    """The checkpoint's header, or None when ``archive`` is not a cpabm checkpoint."""
    try:
        with tarfile.open(archive, "r:xz") as tar:
            first = tar.next()
            if first is None or first.name != HEADER or not first.isfile():
                return None
            head = json.loads(tar.extractfile(first).read())
    except (OSError, tarfile.TarError, ValueError, EOFError):
        return None
    return head if isinstance(head, dict) and head.get("kind") == "cpabm calibration checkpoint" else None


def _add(tar, name: str, data: bytes, mtime: float) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), int(mtime), 0o644
    tar.addfile(info, io.BytesIO(data))


def save(root, archive) -> dict:
    """Pack the calibration folder ``root`` into ``archive`` (atomically). Refused when
    ``root`` holds no calibration, or when ``archive`` exists and is not a checkpoint of this
    same calibration holding no more than the folder (it is then replaced: the folder only
    grows, so the new checkpoint holds everything the old one did). Returns the header.
    Safe beside a run writing the folder: its files are written whole, and a log line being
    appended is left out."""
    root, archive = Path(root), Path(archive)
    manifest = AbcStore(root).manifest()
    if manifest is None:
        raise ConfigError(f"--out = {str(root)!r} holds no calibration (no {MANIFEST}); "
                          f"nothing to save")
    members = _members(root)
    n_sims = sum(1 for n, _ in members if n.startswith(f"{SIMS}/"))
    if archive.exists():
        old = read_header(archive)
        if old is None:
            raise ConfigError(f"--save-checkpoint = {str(archive)!r} exists and is not a cpabm "
                              f"calibration checkpoint; nothing was written. Choose another file")
        if old.get("identity_sha256") != manifest["identity_sha256"]:
            raise ConfigError(f"--save-checkpoint = {str(archive)!r} is a checkpoint of another "
                              f"calibration ({old.get('name')}, identity "
                              f"{str(old.get('identity_sha256'))[:12]}); nothing was written")
        if old.get("simulation_files", 0) > n_sims:
            raise ConfigError(f"--save-checkpoint = {str(archive)!r} holds more of this "
                              f"calibration ({old['simulation_files']} simulation files) than "
                              f"--out ({n_sims}); nothing was written. Restore it elsewhere, or "
                              f"choose another file")
    head = {"kind": "cpabm calibration checkpoint", "name": manifest.get("name"),
            "identity_sha256": manifest["identity_sha256"],
            "simulation_files": n_sims,
            "generations": sum(1 for n, _ in members if n.startswith(f"{GENS}/")),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    archive.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=archive.parent, prefix=f".{archive.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f, tarfile.open(fileobj=f, mode="w:xz", preset=9) as tar:
            _add(tar, HEADER, json.dumps(head, indent=1).encode(), time.time())
            for name, path in members:
                data = path.read_bytes()
                if name.endswith(".jsonl"):  # a line being appended is left out, not torn
                    data = data[:data.rfind(b"\n") + 1]
                _add(tar, name, data, path.stat().st_mtime)
        os.chmod(tmp, 0o644)
        os.replace(tmp, archive)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return head


def restore(archive, root) -> dict:
    """Unpack the checkpoint ``archive`` into ``root``, a new or empty folder (nothing is
    written over). Returns the checkpoint's header."""
    archive, root = Path(archive), Path(root)
    if not archive.is_file():
        raise ConfigError(f"--from-checkpoint = {str(archive)!r} does not exist")
    head = read_header(archive)
    if head is None:
        raise ConfigError(f"--from-checkpoint = {str(archive)!r} is not a cpabm calibration "
                          f"checkpoint (no {HEADER} first)")
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise ConfigError(f"--out = {str(root)!r} is not an empty folder; a checkpoint is "
                          f"restored only into a new or empty one (nothing was written)")
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=root.parent, prefix=f".{root.name}.restore-"))
    try:
        with tarfile.open(archive, "r:xz") as tar:
            members = [m for m in tar.getmembers() if m.name != HEADER]
            for m in members:
                parts = Path(m.name).parts
                ok = m.isfile() and (m.name in TOP_FILES or (
                    len(parts) == 2 and parts[0] in TOP_DIRS and not parts[1].startswith(".")))
                if not ok:
                    raise ConfigError(f"--from-checkpoint = {str(archive)!r} holds {m.name!r}, "
                                      f"which no calibration folder has; nothing was written")
            for d in TOP_DIRS:
                (staging / d).mkdir()
            for m in members:
                (staging / m.name).write_bytes(tar.extractfile(m).read())
                os.utime(staging / m.name, (m.mtime, m.mtime))  # wall time is read off them
        os.chmod(staging, 0o755)
        if root.exists():
            root.rmdir()  # empty, checked above
        os.rename(staging, root)  # the folder appears whole, or not at all
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return head
