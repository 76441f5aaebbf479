"""Writing results without ever destroying what the tool did not write.

* :func:`atomic_write_bytes` / :func:`atomic_write_text`: one file, whole or not at all.
* :func:`output_folder`: the one way a command writes a result folder it replaces whole
  (``cpabm run``, ``compare-runs``, ``figures``). The folder is claimed before any work
  starts: refused (exit 2) when it is a file, when it cannot be created or written, when it
  is not empty and not a folder cpabm wrote (known by the :data:`MARKER` file cpabm writes
  last, listing every file with its SHA-256), when a file cpabm wrote there has been
  changed or a file cpabm did not write has been added, and, without ``overwrite``, when it
  holds an earlier result. The new result is built in a hidden staging folder beside it and
  swapped in by one atomic exchange of the two folders (Linux ``renameat2``), so a reader
  sees the old result or the new one, never a missing or half-written folder. A second
  writer to the same folder is refused while the first holds the lock. Staging folders
  left by a killed writer are removed at the next claim only when their own record shows
  they belong to a process of this host that has gone.
* :func:`refuse_foreign`: the ownership check of folders a command fills incrementally
  (a sweep, a calibration, a knockout): entries the command did not write are refused.
* :func:`output_file`: a single result file (``validate --out``).
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import re
import shutil
import socket
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from abm.core.errors import ConfigError

#: the file cpabm writes last into every folder it replaces whole: its signature
MARKER = ".cpabm-output.json"
SIGNATURE = "cpabm output folder"
#: the record inside a staging folder: who is building it
STAGING = ".cpabm-staging.json"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@contextmanager
def atomic_dir(final: Path):
    """Build a sub-folder of a folder this command owns (a sweep's ``summary/``, a
    knockout's ``inputs/``) under a temporary name; on success it replaces ``final`` whole,
    by an atomic exchange where the platform has one."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.", suffix=".tmp"))
    os.chmod(tmp, 0o777 & ~_umask())
    try:
        yield tmp
        if not final.exists():
            os.replace(tmp, final)
        elif not exchange(tmp, final):
            old = tmp.with_name(tmp.name[:-4] + ".old.tmp")
            os.replace(final, old)
            os.replace(tmp, final)
            tmp = old
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ------------------------------------------------------------------ paths and processes
#: a name that is safe as a file or folder name: letters, digits, '_', '-', '.', not
#: starting with '.' (so never '', '.', '..' nor a path)
SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")


def safe_name(value, key: str, where: str) -> str:
    """``value`` if it is a file-name-safe name (see :data:`SAFE_NAME`), else refused."""
    if not isinstance(value, str) or not SAFE_NAME.match(value):
        raise ConfigError(f"{where}: {key} = {value!r} is not a valid name: use 1-100 letters, "
                          f"digits, '_', '-' or '.', not starting with '.' (it names the "
                          f"output folder)")
    return value


def out_path(value, option: str = "--out") -> Path:
    """``value`` as an output path; an empty or blank value is refused (never a default)."""
    if not isinstance(value, (str, os.PathLike)) or not str(value).strip():
        raise ConfigError(f"{option} = {value!r} is empty: give the folder to write into")
    if "\0" in str(value):
        raise ConfigError(f"{option} = {value!r} contains a NUL character")
    return Path(value)


def _start_time(pid: int) -> str | None:
    """The start time of process ``pid`` (Linux /proc), to tell a reused pid apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def _process_record() -> dict:
    return {"pid": os.getpid(), "host": socket.gethostname(), "start": _start_time(os.getpid())}


def process_gone(rec: dict) -> bool:
    """True when the process a record names provably no longer runs (same host only)."""
    if not isinstance(rec, dict) or rec.get("host") != socket.gethostname():
        return False
    pid = rec.get("pid")
    if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return rec.get("start") is not None and _start_time(pid) != rec.get("start")


# ------------------------------------------------------------------ ownership
def _files(root: Path) -> list[str]:
    """Every file under ``root`` (relative, '/'-separated), without the marker."""
    out = []
    for dirpath, dirs, files in os.walk(root):
        dirs.sort()
        for f in sorted(files):
            rel = Path(dirpath, f).relative_to(root).as_posix()
            if rel != MARKER:
                out.append(rel)
    return out


def read_marker(root: Path) -> dict | None:
    """The marker of a folder cpabm wrote, or None (absent, unreadable or not ours)."""
    try:
        m = json.loads((Path(root) / MARKER).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(m, dict) or m.get("signature") != SIGNATURE or not isinstance(
            m.get("files"), dict):
        return None
    return m


def _check_owned(root: Path, option: str, overwrite: bool) -> None:
    """Refuse ``root`` unless it is empty, or (with ``overwrite``) exactly a folder cpabm
    wrote: every file listed in its marker with its checksum, and nothing else."""
    entries = sorted(os.listdir(root))
    if not entries:
        return
    shown = ", ".join(entries[:3]) + (", ..." if len(entries) > 3 else "")
    m = read_marker(root)
    if m is None:
        older = (" (a run of a cpabm older than the ownership marker? Remove it yourself to "
                 "reuse the name)" if (root / "run.json").exists() else "")
        raise ConfigError(f"{option} = {str(root)!r} is not empty ({shown}) and was not written "
                          f"by cpabm; nothing was written. Choose a new or empty folder{older}")
    files = _files(root)
    foreign = [f for f in files if f not in m["files"]]
    if foreign:
        raise ConfigError(f"{option} = {str(root)!r} holds files cpabm did not write "
                          f"({', '.join(foreign[:3])}); nothing was written. Move them away "
                          f"or choose another folder")
    if not overwrite:
        raise ConfigError(f"{option} = {str(root)!r} holds an earlier cpabm {m.get('kind')} "
                          f"(written {m.get('created')}); add --overwrite to replace it, or "
                          f"choose another folder")
    for f in files:
        if sha256_file(root / f) != m["files"][f]:
            raise ConfigError(f"{option} = {str(root)!r}: {f} was changed after cpabm wrote it; "
                              f"nothing was written. Move it away or choose another folder")


def refuse_foreign(root: Path, ours, option: str = "--out", what: str = "result") -> None:
    """Refuse a folder holding entries that are not in ``ours`` (names a command writes)
    nor its temporary files; nothing is created or changed."""
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise ConfigError(f"{option} = {str(root)!r} exists and is not a folder")
    if not root.exists():
        return
    foreign = sorted(p.name for p in root.iterdir()
                     if p.name not in ours and not is_temp_name(p.name))
    if foreign:
        raise ConfigError(f"{option} = {str(root)!r} is not empty ({', '.join(foreign[:3])}) and "
                          f"holds no cpabm {what}; nothing was written. Choose a new or empty "
                          f"folder")


def is_temp_name(name: str) -> bool:
    """Names of the temporary files atomic_write_* leaves when killed."""
    return name.startswith(".") and name.endswith(".tmp")


# ------------------------------------------------------------------ the folder swap
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def exchange(a: Path, b: Path) -> bool:
    """Swap two folders atomically (Linux renameat2 RENAME_EXCHANGE). False when the
    platform or file system cannot."""
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    r = fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if r == 0:
        return True
    err = ctypes.get_errno()
    if err in (22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: not supported here
        return False
    raise OSError(err, os.strerror(err), str(b))


def _lock_dir(root: Path, option: str) -> int:
    """An exclusive, non-blocking lock on the folder ``root`` itself; refused when another
    writer holds it. Retries when the folder was swapped while waiting."""
    import fcntl

    for _ in range(20):
        fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ConfigError(f"{option} = {str(root)!r}: another cpabm command is writing into "
                              f"this folder; wait for it to finish or choose another "
                              f"folder") from None
        st, now = os.fstat(fd), os.stat(root)
        if (st.st_ino, st.st_dev) == (now.st_ino, now.st_dev):
            return fd
        os.close(fd)  # swapped by the writer we waited for: lock the new folder
    raise ConfigError(f"{option} = {str(root)!r}: the folder keeps changing; another cpabm "
                      f"command is writing into it")


def clean_stale_staging(parent: Path, name: str) -> list[Path]:
    """Remove staging folders of ``name`` in ``parent`` whose writer has gone (proved by
    the record inside: same host, pid not running or reused). Returns those removed."""
    removed = []
    try:
        candidates = [p for p in parent.iterdir()
                      if p.name.startswith(f".{name}.cpabm-") and p.name.endswith(".tmp")]
    except OSError:
        return removed
    for p in candidates:
        try:
            rec = json.loads((p / STAGING).read_text())
        except (OSError, ValueError):
            continue
        if process_gone(rec):
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
    return removed


def _os_error(option: str, path: Path, e: OSError) -> ConfigError:
    return ConfigError(f"{option} = {str(path)!r}: cannot write there ({e.strerror or e}); "
                       f"nothing was written")


def _refuse_working_directory(final: Path, option: str) -> None:
    """Refuse an output folder that is the current directory or holds it: replacing it
    would leave the user's shell in a folder that no longer exists."""
    try:
        cwd = Path.cwd().resolve()
    except OSError:  # the working directory itself is gone: nothing to protect
        return
    target = final.resolve()
    if target == cwd or target in cwd.parents:
        where = "is" if target == cwd else "holds"
        raise ConfigError(f"{option} = {str(final)!r} {where} the current directory "
                          f"({cwd}); cpabm replaces its output folder whole, which would leave "
                          f"your shell in a folder that no longer exists. Give a folder below "
                          f"it (for example {option} results/run) or run from elsewhere")


@contextmanager
def output_folder(out, kind: str, *, overwrite: bool = False, option: str = "--out",
                  log=None):
    """Claim the result folder ``out`` for a ``kind`` result and yield a staging folder to
    fill; on success it replaces ``out`` whole (see the module's docstring). Everything is
    checked at entry, before any work; on an error nothing in ``out`` changes."""
    final = out_path(out, option)
    _refuse_working_directory(final, option)
    if final.name in ("", ".", ".."):  # 'a/..': the staging folder goes beside it, not inside
        final = final.resolve()
    if final.exists() and not final.is_dir():
        raise ConfigError(f"{option} = {str(final)!r} exists and is not a folder")
    created = False
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.mkdir(final)
            created = True
        except FileExistsError:
            if not final.is_dir():
                raise
    except OSError as e:
        raise _os_error(option, final, e) from None
    fd, staging = None, None
    try:
        fd = _lock_dir(final, option)
        _check_owned(final, option, overwrite)
        for p in clean_stale_staging(final.parent, final.name):
            if log:
                log(f"removed {p}, left by a cpabm process that has gone")
        try:
            staging = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.cpabm-",
                                            suffix=".tmp"))
            os.chmod(staging, 0o777 & ~_umask())
            (staging / STAGING).write_text(json.dumps(_process_record()))
        except OSError as e:
            raise _os_error(option, final, e) from None
        yield staging
        (staging / STAGING).unlink()
        files = {f: sha256_file(staging / f) for f in _files(staging)}
        atomic_write_text(staging / MARKER, json.dumps(
            {"signature": SIGNATURE, "kind": kind, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
             "files": files}, indent=1) + "\n")
        try:
            _check_owned(final, option, True)  # unchanged since the claim?
        except ConfigError as e:  # changed by hand meanwhile: keep both, touch nothing
            beside = final.with_name(f"{final.name}.cpabm-{time.strftime('%Y%m%dT%H%M%S')}")
            os.replace(staging, beside)
            staging = None
            raise ConfigError(f"{e}; it changed while cpabm was writing, so the new result "
                              f"is in {str(beside)!r} instead") from None
        _replace(final, staging)
        staging = None
    except OSError as e:
        if e.errno in (28, 27, 30, 13, 122):  # ENOSPC, EFBIG, EROFS, EACCES, EDQUOT
            raise _os_error(option, final, e) from None
        raise
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        if created and final.is_dir() and not any(final.iterdir()):
            final.rmdir()
        if fd is not None:
            os.close(fd)


def _replace(final: Path, staging: Path) -> None:
    """Swap the new result in; then delete what the old one's marker lists (and only
    that) from the folder it now sits in."""
    if not exchange(staging, final):  # not Linux: a short moment without the folder
        old = staging.with_name(staging.name[:-4] + ".old.tmp")
        os.replace(final, old)
        os.replace(staging, final)
        staging = old
    old_marker = read_marker(staging)
    listed = set(old_marker["files"]) if old_marker else set()
    for f in _files(staging):
        if f in listed:
            (staging / f).unlink()
    (staging / MARKER).unlink(missing_ok=True)
    folders = sorted((d for d, _, _ in os.walk(staging)), key=lambda d: -d.count(os.sep))
    for dirpath in folders:  # deepest first
        try:
            os.rmdir(dirpath)
        except OSError:
            pass  # not empty: a file added while we wrote; kept
    if staging.exists():
        kept = final.with_name(f"{final.name}.kept-{time.strftime('%Y%m%dT%H%M%S')}")
        os.replace(staging, kept)


@contextmanager
def output_file(path, *, overwrite: bool = False, option: str = "--out", signed=None):
    """Claim a single result file: refused when it exists, unless ``overwrite`` and
    ``signed(text)`` says cpabm wrote it. Yields the path; write it with atomic_write_*."""
    p = out_path(path, option)
    if p.is_dir():
        raise ConfigError(f"{option} = {str(p)!r} is a folder; give a file name")
    if p.exists():
        try:
            ours = signed is not None and signed(p.read_text(errors="replace")[:4096])
        except OSError:
            ours = False
        if not ours:
            raise ConfigError(f"{option} = {str(p)!r} exists and was not written by cpabm; "
                              f"nothing was written. Choose another file")
        if not overwrite:
            raise ConfigError(f"{option} = {str(p)!r} holds an earlier cpabm result; add "
                              f"--overwrite to replace it, or choose another file")
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp")
        probe.close()
    except OSError as e:
        raise _os_error(option, p, e) from None
    yield p


def project_root() -> Path | None:
    """The cpabm checkout in use, if any: the nearest folder, from the working directory
    upward, whose ``pyproject.toml`` names the project ``cpabm``; else the checkout this
    package was installed from (an editable install). ``None`` for an installed package used
    outside a checkout: the developer files (the exact baseline, ``requirements.lock``, the
    research scenarios in ``experiments/``) are then not available."""
    here = Path.cwd().resolve()
    package_parent = Path(__file__).resolve().parents[2]
    for folder in (here, *here.parents, package_parent):
        f = folder / "pyproject.toml"
        try:
            if f.is_file() and 'name = "cpabm"' in f.read_text():
                return folder
        except OSError:
            continue
    return None
