"""The calibration's results folder, which makes a calibration resumable.

``OUT/manifest.json`` (the spec, its run identity, the seeds rule, the environment),
``OUT/sims/*.json`` (every finished simulation, in files written whole or not at all),
``OUT/generations/``, the outputs, ``OUT/log.jsonl``, and ``OUT/.lock`` while a run writes.
:func:`prepare` decides whether a folder may be written or resumed, and refuses a folder
holding another calibration, or this one without ``--resume``.
"""

from __future__ import annotations

import json
import math
import os
import socket
import time
from pathlib import Path

from abm.batch.abc.spec import FORMAT, CalibrationSpec
from abm.batch.adapter import recorded_environment
from abm.batch.store import ResultFolder
from abm.core.errors import ConfigError
from abm.core.io import atomic_write_text, sha256_bytes

MANIFEST, SIMS, GENS, LOG, LOCK = "manifest.json", "sims", "generations", "log.jsonl", ".lock"
OUTPUTS = ("posterior.parquet", "posterior.md", "calibrated.toml", "best_particle.csv",
           "history.csv", "marginals.png", "result.json", "cost.json")
OURS = {MANIFEST, SIMS, GENS, LOG, LOCK, *OUTPUTS, "checksums.jsonl", "quarantine"}


class AbcStore(ResultFolder):
    """``OUT/``: manifest.json, sims/<key>.json (one per simulation, atomic),
    generations/gen_NNN.parquet, the outputs, log.jsonl, and .lock while a run writes."""

    KIND = "calibration"
    FORMAT = FORMAT
    OURS = OURS
    REQUIRED = ("identity_sha256", "canonical_sha256", "spec")

    def __init__(self, root):
        super().__init__(root)
        self.sims = self.root / SIMS

    def sim_files(self) -> list[Path]:
        if not self.sims.exists():
            return []
        return sorted(p for p in self.sims.iterdir()
                      if p.name.endswith(".json") and not p.name.startswith("."))

    def load_sims(self, log=None, costs: dict | None = None) -> dict[str, list[float]]:
        """Every finished simulation on disk: key -> target statistics (and, into ``costs``
        if given, key -> (generation, wall seconds, CPU seconds)). A file whose SHA-256
        is not the one recorded when it was written, or (unrecorded) that does not read as
        simulation records, is moved to quarantine/ and reported; its simulations are done
        again."""
        out = {}
        recorded = self.checksums()
        for f in self.sim_files():
            data = f.read_bytes()
            name = f"{SIMS}/{f.name}"
            try:
                sound = recorded.get(name) == sha256_bytes(data)
                if not sound and name in recorded:
                    raise ValueError("its SHA-256 differs from the one recorded")
                recs = json.loads(data)
                got = {str(r["key"]): [float(x) for x in r["stats"]] for r in recs}
            except (ValueError, KeyError, TypeError) as e:
                dest = self.quarantine(f)
                if log:
                    log(f"{f}: corrupt ({type(e).__name__}: {str(e)[:80]}); moved to {dest}; "
                        f"its simulations are done again")
                continue
            if not sound:
                self.record_checksum(name, data)
            out.update(got)
            if costs is not None:
                costs.update({str(r["key"]): sim_cost(r) for r in recs})
        return out

    def clean_temp(self) -> int:
        n = 0
        for d in (self.root, self.sims, self.root / GENS):
            if d.exists():
                for p in d.iterdir():
                    if _temp(p.name) and p.is_file():
                        p.unlink(missing_ok=True)
                        n += 1
        return n

    def write_sims(self, records: list[dict]) -> None:
        """Finished simulations, as one file written atomically (whole or not at all),
        named after its first record's key."""
        text = json.dumps(records, allow_nan=True)
        atomic_write_text(self.sims / f"{records[0]['key']}.json", text)
        self.record_checksum(f"{SIMS}/{records[0]['key']}.json", text.encode())

    def log(self, **event) -> None:
        event = {"time": time.strftime("%Y-%m-%dT%H:%M:%S"), "pid": os.getpid(), **event}
        with open(self.root / LOG, "a") as f:
            f.write(json.dumps(event, default=str) + "\n")


def sim_cost(record: dict) -> tuple[int, float, float]:
    """(generation, wall seconds, CPU seconds) of one stored simulation record."""
    meta = record.get("meta") or {}
    return (int(record.get("generation", -1)), float(meta.get("seconds", math.nan)),
            float(meta.get("cpu_seconds", math.nan)))


def session_walls(root: Path) -> list[dict]:
    """Every session of a calibration folder, from its log.jsonl: ``start``, wall
    ``seconds``, ``executed`` (simulations run; None if not logged) and ``ended``.

    A session that ended has its wall time in the log (``ended`` True). One that was killed
    (a run spanning several sittings ends each one so) has none there; its wall is taken
    from its start to the last simulation file written before the next session started
    (the engine writes finished simulations at least every second), with ``ended`` False.
    That estimate reads the files' times, so copy a folder with them kept (``cp -a``, or a
    checkpoint); in a fresh clone a killed session has no file in its time and counts 0 s."""
    import datetime as dt

    import numpy as np

    rows: list[dict] = []
    f = root / LOG
    if not f.exists():
        return rows
    for line in f.read_text().splitlines():
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        if ev.get("event") == "start":
            rows.append({"start": ev.get("time"), "seconds": None, "executed": None,
                         "ended": False})
        elif ev.get("event") == "end" and rows and not rows[-1]["ended"]:
            rows[-1].update(seconds=ev.get("seconds"), executed=ev.get("executed"), ended=True)
    if all(r["ended"] for r in rows):
        return rows
    starts = [dt.datetime.fromisoformat(r["start"]).timestamp() for r in rows]
    sims = root / SIMS
    mtimes = np.sort([p.stat().st_mtime for p in sims.glob("*.json")] if sims.is_dir() else [])
    for i, r in enumerate(rows):
        if r["ended"]:
            continue
        until = starts[i + 1] if i + 1 < len(rows) else math.inf
        inside = mtimes[(mtimes >= starts[i]) & (mtimes < until)]
        r["seconds"] = round((float(inside[-1]) if len(inside) else starts[i]) - starts[i], 3)
    return rows


def _temp(name: str) -> bool:
    return name.startswith(".") and name.endswith(".tmp")


def build_manifest(spec: CalibrationSpec) -> dict:
    env = recorded_environment()
    env["lock_sha256"] = spec.identity()["environment"].get("lock_sha256")
    return {"format": FORMAT, "name": spec.name, "description": spec.description,
            "spec_path": str(spec.path), "spec_text": spec.text,
            "identity_sha256": spec.identity_hash(), "canonical_sha256": spec.canonical_hash(),
            "spec": spec.canonical(), "environment": env,
            "seeds": {"root": spec.seed,
                      "proposals": "chunk b of generation t: SeedSequence(seed, spawn_key="
                                   "(0, t, b))",
                      "simulations": "simulation (t, c, r): int(SeedSequence(seed, spawn_key="
                                     "(1, t, c, r)).generate_state(1, uint64)[0] >> 1)"},
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "host": socket.gethostname()}


def topped_up(store: AbcStore) -> dict | None:
    """The ``top_up`` record of the finished run in ``store`` (its result.json), if its final
    generation was topped up (:mod:`abm.batch.abc.topup`); None otherwise."""
    path = store.root / "result.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text()).get("top_up")
    except (OSError, ValueError, AttributeError):
        return None


def prepare(store: AbcStore, spec: CalibrationSpec, resume: bool, log) -> None:
    """Make ``store`` ready for ``spec``: a new manifest in an empty folder; the same
    calibration only with ``resume`` (the manifest updated if only the budget changed), and
    not once its final generation was topped up (a resume would drop the top-up); anything
    else refused with a ConfigError."""
    from abm.batch.runner import diff_keys

    m = store.manifest()
    root = store.root
    if m is None:
        foreign = store.foreign_entries()
        if foreign or store.sim_files():
            shown = ", ".join(foreign[:3]) or f"{SIMS}/"
            raise ConfigError(f"--out = {str(root)!r} is not empty ({shown}) and holds no "
                              f"calibration manifest; choose a new or empty folder")
        store.clean_temp()
        store.write_manifest(build_manifest(spec))
        return
    new = build_manifest(spec)
    if m["identity_sha256"] != new["identity_sha256"]:
        changed = ", ".join(diff_keys(m["spec"]["identity"], new["spec"]["identity"])[:6])
        raise ConfigError(
            f"--out = {str(root)!r} holds a calibration with a different run identity "
            f"(differs in: {changed or 'the identity'}); cannot "
            f"{'resume' if resume else 'write'} into it, because its simulations would not "
            f"match. Choose another --out (spec there: {m.get('spec_path')})")
    if not resume:
        raise ConfigError(f"--out = {str(root)!r} already holds this calibration "
                          f"({len(store.load_sims())} simulations); add --resume to continue "
                          f"or finish it (finished simulations are reused), or choose another "
                          f"--out")
    top = topped_up(store)
    if top is not None:
        raise ConfigError(
            f"--out = {str(root)!r} holds a finished calibration whose final generation "
            f"{top['generation']} was topped up from {top['particles_before']} to "
            f"{top['particles']} particles (--top-up {top['target_ess']:g}); --resume would "
            f"rewrite it from the run's own {top['particles_before']} particles and drop the "
            f"top-up, so it is refused and nothing was changed. To top it up further: "
            f"--top-up ESS. To run more generations from the run's own particles: --resume a "
            f"copy of the folder without its result.json")
    n = store.clean_temp()
    if n:
        log(f"removed {n} temporary file(s) left by an interrupted writer")
    if m["canonical_sha256"] != new["canonical_sha256"]:
        changed = ", ".join(diff_keys(m["spec"], new["spec"])[:6])
        log(f"settings changed ({changed}); manifest updated, simulations reused")
        new["created"] = m.get("created", new["created"])
        store.write_manifest(new)
