"""The model's compiled passes and their cache: :func:`compiled` is ``numba.njit(cache=True)`` with the machine
code cached under a key of the model's sources.

numba keys a cached function on its own file only (its modification time and size). A compiled pass that calls
another module's pass (the day's transitions call the settlement agent's, the border's, the households'; the clocks
call the common random numbers' ``_uniforms``) holds that pass's code in its own cache entry, so after an edit of
the callee alone it would go on running the old code. The cache here sits in a directory named after a digest of
every module of :mod:`bordersim.model`: any edit of any of them starts a fresh cache (compiled again on first use,
a few seconds once), and the directories of earlier digests are removed. The directory is ``__pycache__`` beside
the sources, or the user's cache (``~/.cache/bordersim``) where the package's own is not writable.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numba

_HERE = Path(__file__).resolve().parent


def source_key(folder: Path) -> str:
    """A digest of the Python sources of ``folder`` (names and contents), with the interpreter's version."""
    digest = hashlib.sha256(f"{sys.version_info.major}.{sys.version_info.minor}".encode())
    for path in sorted(folder.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def cache_dir(folder: Path = _HERE) -> str:
    """The cache directory of ``folder``'s current sources (created; earlier ones removed), or "" if none is
    writable (numba then uses its own locations)."""
    name = f"numba-{source_key(folder)}"
    for root in _roots(folder):
        here = root / name
        try:
            here.mkdir(parents=True, exist_ok=True)
            tempfile.TemporaryFile(dir=here).close()  # writable
        except OSError:
            continue
        for old in root.glob("numba-*"):
            if old != here:
                shutil.rmtree(old, ignore_errors=True)
        return str(here)
    return ""


def _roots(folder: Path) -> tuple[Path, Path]:
    return folder / "__pycache__", Path(os.path.expanduser("~")) / ".cache" / "bordersim"


CACHE_DIR = cache_dir()


def compiled(fn: Callable | None = None, **options):
    """``numba.njit(cache=True, **options)``, cached in :data:`CACHE_DIR` (use as ``@compiled`` or
    ``@compiled(inline="always")``).

    ``@compiled(cache=False)`` for a pass that only other compiled passes call: a cached caller holds the machine
    code of the passes it calls, so a run that finds it in the cache compiles nothing, and the first run does not
    write the callee's own entry (numba writes each entry's code again with all it calls: for the day's
    transitions, :mod:`.transitions`, that was about a quarter of their compile time)."""

    def wrap(f: Callable):
        before = numba.config.CACHE_DIR
        numba.config.CACHE_DIR = CACHE_DIR or before  # read when the dispatcher is made, here
        try:
            return numba.njit(**{"cache": True, **options})(f)
        finally:
            numba.config.CACHE_DIR = before

    return wrap(fn) if fn is not None else wrap
