"""Serve the workshop app's front end with no internet: fill Solara's CDN cache from npm.

Solara 1.64.1 serves its browser files through ``/_solara/cdn/<pkg>@<version>/...`` and, on
first use, fetches them from a public CDN into a cache folder
(``solara.server.settings.assets.proxy_cache_dir``, i.e. ``<venv>/share/solara/cdn``). A
file already in that folder is served from it and the CDN is never asked. This script puts
the three packages the app's page needs there, from the npm registry (``npm pack``, the
ordinary client), and checks each tarball against the integrity hash pinned below, so the
set-up is reproducible from the project's own files:

    .venv/bin/python viz/offline_assets.py          # install what is missing, then verify
    .venv/bin/python viz/offline_assets.py --check  # verify only (exit 1 if incomplete)
    .venv/bin/python viz/offline_assets.py --force  # fetch everything again

``make viz-assets`` runs the first form (``make test`` does too, before the browser tests).

The pins follow the installed Solara: ``required_from_solara()`` reads the versions its page
template asks for, and the script stops with a message when they differ from
``PACKAGES`` (after a Solara upgrade, update the pins with ``npm view PKG@VER dist.integrity``).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

#: npm package -> (version, npm integrity). What the browser loads: the Vuetify app bundle
#: (page shell, CSS, fonts), RequireJS (the page's module loader) and Font Awesome (icons).
#: (Solara's vue-grid-layout is not among them: the app lays its views out with CSS.)
PACKAGES: dict[str, tuple[str, str]] = {
    "@widgetti/solara-vuetify-app": (
        "10.1.1",
        "sha512-Cdu6G7KIBeohT2jyeQUEDr61dhEozY23St+iDwfA3+ZyPZyoIza/nS4W2g8+dbs0Xhb+WQnXlaRI92TLgeY/Jw=="),
    "requirejs": (
        "2.3.6",
        "sha512-ipEzlWQe6RK3jkzikgCupiTbTvm4S0/CAU5GlgptkN5SO6F3u0UD0K18wy6ErDqiCyP4J4YYe1HuAShvsxePLg=="),
    "font-awesome": (
        "4.5.0",
        "sha512-XGGY8CN/NT8e5fKOC/K7CESNQ3+2oYOfZqwZcKgEMtcmTiHtFIH+XZWRoU0HtcdwhtSkpWXLfTIUlTdJ4PhX8A=="),
}
#: One file per package that the page requests (checked after unpacking).
KEY_FILES = {
    "@widgetti/solara-vuetify-app": ["dist/solara-vuetify-app8.min.js", "dist/main8.css",
                                     "dist/fonts.css"],
    "requirejs": ["require.js"],
    "font-awesome": ["css/font-awesome.min.css", "fonts/fontawesome-webfont.woff2"],
}
MARKER = ".cpabm-complete"  # written last into each package folder, holds the integrity


def cache_dir() -> Path:
    """Solara's CDN cache folder, exactly as the server computes it."""
    from solara.server import settings
    return Path(settings.assets.proxy_cache_dir)


def required_from_solara() -> dict[str, str]:
    """The versions the installed Solara's page asks for."""
    import solara
    root = Path(solara.__file__).parent
    text = (root / "server/templates/solara.html.j2").read_text()
    text += f"/font-awesome@{_fontawesome_version()}/"
    found = {}
    for name in PACKAGES:
        m = re.search(re.escape(name) + r"@([0-9][\w.\-]*)/", text)
        if m:
            found[name] = m.group(1)
    return found


def _fontawesome_version() -> str:
    from solara.server import settings
    m = re.search(r"font-awesome@([\w.\-]+)/", settings.assets.fontawesome_path)
    return m.group(1) if m else "?"


def _integrity(path: Path) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()


def _folder(base: Path, name: str, version: str) -> Path:
    return base / f"{name}@{version}"


def status(base: Path | None = None) -> dict[str, str]:
    """Package -> "ok" or what is wrong with its cached copy."""
    base = cache_dir() if base is None else base
    out = {}
    for name, (version, integrity) in PACKAGES.items():
        d = _folder(base, name, version)
        marker = d / MARKER
        if not marker.exists():
            out[name] = f"missing ({d})"
        elif marker.read_text().strip() != integrity:
            out[name] = f"stale (integrity differs) ({d})"
        else:
            missing = [f for f in KEY_FILES[name] if not (d / f).is_file()]
            out[name] = f"incomplete: {', '.join(missing)} ({d})" if missing else "ok"
    return out


def complete(base: Path | None = None) -> bool:
    return all(v == "ok" for v in status(base).values())


def _npm() -> str:
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("viz-assets: npm not found on PATH; install Node.js/npm (Debian: "
                         "apt-get install -y npm) and run `make viz-assets` again")
    return npm


def fetch(name: str, version: str, integrity: str, base: Path) -> None:
    """npm pack NAME@VERSION, check its integrity, unpack into the cache folder."""
    target = _folder(base, name, version)
    with tempfile.TemporaryDirectory(prefix="cpabm-npm-") as tmp:
        tmp = Path(tmp)
        cmd = [_npm(), "pack", f"{name}@{version}", "--json", "--silent",
               "--pack-destination", str(tmp)]
        r = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True,
                           env={**os.environ, "npm_config_update_notifier": "false",
                                "npm_config_fund": "false", "npm_config_audit": "false"})
        if r.returncode != 0:
            raise SystemExit(f"viz-assets: `{' '.join(cmd[1:4])}` failed (exit {r.returncode}):\n"
                             f"{r.stderr.strip()[-2000:]}")
        tarballs = list(tmp.glob("*.tgz"))
        if len(tarballs) != 1:
            raise SystemExit(f"viz-assets: npm pack {name}@{version} left {len(tarballs)} "
                             f"tarballs in {tmp}")
        got = _integrity(tarballs[0])
        if got != integrity:
            raise SystemExit(f"viz-assets: {name}@{version}: tarball integrity {got} differs "
                             f"from the pinned {integrity}; refusing to install it")
        staging = target.with_name(target.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        with tarfile.open(tarballs[0], "r:gz") as tf:
            for member in tf.getmembers():
                parts = Path(member.name).parts
                if len(parts) < 2 or ".." in parts or member.issym() or member.islnk():
                    continue  # strip the leading "package/" folder (tar --strip-components=1)
                member.name = str(Path(*parts[1:]))
                tf.extract(member, staging, filter="data")
        missing = [f for f in KEY_FILES[name] if not (staging / f).is_file()]
        if missing:
            raise SystemExit(f"viz-assets: {name}@{version} has no {', '.join(missing)}")
        (staging / MARKER).write_text(integrity + "\n")
        shutil.rmtree(target, ignore_errors=True)
        os.replace(staging, target)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="verify only; exit 1 if incomplete")
    ap.add_argument("--force", action="store_true", help="fetch every package again")
    args = ap.parse_args(argv)
    base = cache_dir()
    wanted = required_from_solara()
    drift = {n: (wanted.get(n), v) for n, (v, _) in PACKAGES.items() if wanted.get(n) != v}
    if drift:
        lines = [f"  {n}: Solara asks for {w}, pinned {v}" for n, (w, v) in drift.items()]
        print("viz-assets: the installed Solara asks for other front-end versions than "
              "viz/offline_assets.py pins:\n" + "\n".join(lines) +
              "\nupdate PACKAGES (npm view PKG@VERSION dist.integrity)", file=sys.stderr)
        return 1
    st = status(base)
    if args.check:
        for n, s in st.items():
            print(f"{n}@{PACKAGES[n][0]}: {s}")
        return 0 if all(s == "ok" for s in st.values()) else 1
    for name, (version, integrity) in PACKAGES.items():
        if st[name] == "ok" and not args.force:
            continue
        print(f"viz-assets: fetching {name}@{version} from the npm registry ...", file=sys.stderr)
        fetch(name, version, integrity, base)
    st = status(base)
    bad = {n: s for n, s in st.items() if s != "ok"}
    if bad:
        print(f"viz-assets: still incomplete: {json.dumps(bad)}", file=sys.stderr)
        return 1
    size = sum(f.stat().st_size for n, (v, _) in PACKAGES.items()
               for f in _folder(base, n, v).rglob("*") if f.is_file())
    print(f"viz-assets: offline front end ready in {base} ({size / 1e6:.0f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
