"""Build the web app (``web/``) into ``web/dist`` when it is missing or older than its sources."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

WEB = Path(__file__).resolve().parents[2] / "web"
_SOURCES = ("src", "public", "index.html", "package-lock.json", "vite.config.ts", "tsconfig.json")


def _newest(paths: list[Path]) -> float:
    stamps = [0.0]
    for path in paths:
        if path.is_dir():
            stamps.extend(p.stat().st_mtime for p in path.rglob("*") if p.is_file())
        elif path.exists():
            stamps.append(path.stat().st_mtime)
    return max(stamps)


def is_stale(web: Path = WEB) -> bool:
    """True when ``dist/index.html`` is missing or older than any source of the app."""
    built = web / "dist" / "index.html"
    if not built.exists():
        return True
    return _newest([web / name for name in _SOURCES]) > built.stat().st_mtime


def install(web: Path = WEB) -> None:
    """``npm ci`` when the lock file changed since the last install."""
    lock, marker = web / "package-lock.json", web / "node_modules" / ".mrbill-installed-lock"
    if marker.exists() and marker.read_bytes() == lock.read_bytes():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is missing: run ./mrbill (it installs Node.js) or install it")
    subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=web, check=True)
    shutil.copyfile(lock, marker)


def ensure_built(web: Path = WEB, *, say: Callable[[str], None] = print) -> bool:
    """Install and build the app if needed; return whether it was built."""
    install(web)
    if not is_stale(web):
        return False
    say("building the web app (vite build → web/dist)")
    subprocess.run([shutil.which("npm") or "npm", "run", "build"], cwd=web, check=True)
    return True
