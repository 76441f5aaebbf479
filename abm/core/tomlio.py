"""The project's one TOML reader and one TOML writer.

* :func:`read` (and :func:`read_with_text`, :func:`loads`) parse a file or text with
  :mod:`tomllib`. A missing file, a folder, a device, a file over :data:`MAX_BYTES`, text
  that is not UTF-8, nested too deeply or not valid TOML raises
  :class:`abm.core.errors.ConfigError` with one line naming the file.
* :func:`dumps` writes a document of nested dicts: tables as ``[a.b]`` sections, lists of
  tables as ``[[a.b]]``, other values inline. Strings, booleans, integers, floats (written
  with ``repr``, so they read back bit for bit, ``inf`` and ``nan`` included), dates, times
  and date-times, lists and inline tables. ``tomllib.loads(dumps(doc)) == doc`` for every
  document of those types. :func:`write` writes one atomically, with an optional comment.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import tomllib
from pathlib import Path

from abm.core.errors import ConfigError

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f",
            "\r": "\\r"}
_INT64 = (-(2**63), 2**63 - 1)
#: the largest input file read (scenario, regime, spec); a larger one (or a device such
#: as /dev/zero) is refused before it fills the memory
MAX_BYTES = 4 * 1024 * 1024


# ------------------------------------------------------------------ reading
def loads(text: str, where: str) -> dict:
    """Parse TOML text; ``where`` names its source in the error."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{where}: not valid TOML: {e}") from None
    except RecursionError:
        raise ConfigError(f"{where}: not valid TOML here: tables or arrays nested too "
                          f"deeply") from None


def read_with_text(path: str | Path, where: str | None = None) -> tuple[dict, str]:
    """The parsed document and the file's text. ``where`` (default: the path) names the
    file in the one-line error for a missing file, a folder or invalid TOML."""
    path = Path(path)
    where = str(path) if where is None else where
    try:
        if path.exists() and not path.is_file() and not path.is_dir():
            raise ConfigError(f"{where}: not a regular file (a device or pipe); expected a "
                              f".toml file")
        with open(path, "rb") as f:
            data = f.read(MAX_BYTES + 1)
        if len(data) > MAX_BYTES:
            raise ConfigError(f"{where}: file is larger than the limit of {MAX_BYTES} bytes")
    except FileNotFoundError:
        raise ConfigError(f"{where}: file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{where}: is a directory, expected a .toml file") from None
    except PermissionError:
        raise ConfigError(f"{where}: cannot read the file (permission denied)") from None
    except OSError as e:
        raise ConfigError(f"{where}: cannot read the file ({e.strerror or e})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"{where}: not valid TOML: not UTF-8 text ({e.reason} at byte "
                          f"{e.start})") from None
    return loads(text, where), text


def read(path: str | Path, where: str | None = None) -> dict:
    """The parsed document of a TOML file (see :func:`read_with_text` for the errors)."""
    return read_with_text(path, where)[0]


# ------------------------------------------------------------------ writing
def key(k: str) -> str:
    """A key: bare when it can be, else a quoted string."""
    if not isinstance(k, str):
        raise TypeError(f"TOML keys are strings, not {type(k).__name__} ({k!r})")
    return k if _BARE_KEY.match(k) else _string(k)


def _string(s: str) -> str:
    out = []
    for ch in s:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def value(v) -> str:
    """One value written inline."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        if not _INT64[0] <= v <= _INT64[1]:
            raise ValueError(f"cannot write {v} to TOML: integers are 64-bit")
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        return repr(v)  # shortest form that reads back to the same float; 'inf', '-inf'
    if isinstance(v, str):
        return _string(v)
    if isinstance(v, dt.datetime):
        if v.utcoffset() is not None and v.utcoffset().seconds % 60:
            raise ValueError(f"cannot write {v!r} to TOML: offsets are whole minutes")
        return v.isoformat()
    if isinstance(v, (dt.date, dt.time)):
        if isinstance(v, dt.time) and v.tzinfo is not None:
            raise ValueError(f"cannot write {v!r} to TOML: a local time has no offset")
        return v.isoformat()
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(value(x) for x in v) + "]"
    if isinstance(v, dict):
        if not v:
            return "{}"
        return "{ " + ", ".join(f"{key(k)} = {value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {type(v).__name__} to TOML ({v!r})")


def _is_table_array(v) -> bool:
    return isinstance(v, (list, tuple)) and bool(v) and all(isinstance(x, dict) for x in v)


def _section(doc: dict, path: list[str], out: list[str], header: str | None) -> None:
    inline = [(k, v) for k, v in doc.items()
              if not isinstance(v, dict) and not _is_table_array(v)]
    tables = [(k, v) for k, v in doc.items() if isinstance(v, dict)]
    arrays = [(k, v) for k, v in doc.items() if _is_table_array(v)]
    # a table that holds only tables is created by their headers; an empty one needs its own
    if header is not None and (inline or not (tables or arrays) or header.startswith("[[")):
        if out:
            out.append("")
        out.append(header)
    out.extend(f"{key(k)} = {value(v)}" for k, v in inline)
    for k, v in tables:
        name = ".".join(key(p) for p in [*path, k])
        _section(v, [*path, k], out, f"[{name}]")
    for k, v in arrays:
        name = ".".join(key(p) for p in [*path, k])
        for item in v:
            _section(item, [*path, k], out, f"[[{name}]]")


def dumps(doc: dict) -> str:
    """A TOML document from nested dicts: see the module's docstring."""
    if not isinstance(doc, dict):
        raise TypeError(f"a TOML document is a dict, not {type(doc).__name__}")
    out: list[str] = []
    _section(doc, [], out, None)
    return "\n".join(out) + "\n" if out else ""


def comment(text: str) -> str:
    """``text`` as TOML comment lines (each line prefixed with '# ')."""
    return "".join(f"# {line}".rstrip() + "\n" for line in text.splitlines())


def write(path: str | Path, doc: dict, note: str = "") -> None:
    """Write ``doc`` to ``path`` atomically (whole or not at all), after ``note`` as a
    comment."""
    from abm.core.io import atomic_write_text

    atomic_write_text(Path(path), comment(note) + dumps(doc))
