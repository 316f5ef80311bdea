"""Files: the one atomic writer, atomic output directories, YAML reading and the figure back end.

Every file the package writes goes through :func:`write_text`, :func:`write_json` or
:func:`write_parquet` (always ``(dest, content)``): a temporary file in the destination's directory,
fsynced, then ``os.replace``. A reader (or a resumed sweep or calibration) sees either the old file or
the complete new one, never a half-written file. :func:`atomic_dir` does the same for a whole output
directory: it is filled beside the destination and renamed into place.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from .errors import ScenarioError


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory file descriptors
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _replace(tmp: str, dest: Path) -> None:
    """Sync the temporary file, rename it onto ``dest`` and sync the directory (the rename is durable)."""
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, dest)
    _fsync_dir(dest.parent)


def _atomic(dest: str | Path, write: Callable[[str], None]) -> None:
    """Call ``write(tmp_path)``, then sync the file and rename it to ``dest``."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    try:
        write(tmp)
        _replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(dest: str | Path, text: str) -> None:
    """Write ``text`` to ``dest`` atomically (UTF-8, ``\\n`` line endings)."""

    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)

    _atomic(dest, write)


def jsonable(obj: Any) -> Any:
    """A deep copy of ``obj`` with numpy scalars and arrays as plain Python, NaN and infinities as None."""
    import numpy as np

    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, np.integer | np.bool_):
        return obj.item()
    if isinstance(obj, float | np.floating):
        return float(obj) if np.isfinite(obj) else None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def write_json(dest: str | Path, data: Any) -> None:
    """Write ``data`` as indented JSON (with a final newline) to ``dest`` atomically."""
    write_text(dest, json.dumps(jsonable(data), indent=2, default=str) + "\n")


def write_npz(dest: str | Path, **arrays) -> None:
    """Write numpy arrays to ``dest`` (``.npz``, uncompressed, no pickles), atomically."""
    import numpy as np

    def write(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)

    _atomic(dest, write)


def write_parquet(dest: str | Path, df) -> None:
    """Write the DataFrame ``df`` to ``dest`` as Parquet (without its index), atomically."""
    _atomic(dest, lambda tmp: df.to_parquet(tmp, index=False))


def atomic_dir(dest: str | Path, fill: Callable[[Path], None], force: bool = False) -> Path:
    """Create ``dest`` atomically: ``fill(tmpdir)`` writes into a temporary sibling that is renamed into place."""
    dest = Path(dest)
    if dest.exists() and not force:
        raise FileExistsError(f"{dest} exists (use --force to replace it)")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=dest.parent))
    try:
        fill(tmp)
        if dest.exists():
            old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
            dest.rename(old)
            tmp.rename(dest)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


def read_yaml(path: str | Path) -> dict:
    """Read a YAML mapping with ``yaml.safe_load``; a missing file or bad YAML is a one-line ScenarioError."""
    path = Path(path)
    if not path.exists():
        raise ScenarioError(path, "file not found")
    try:
        with path.open(encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise ScenarioError(path, f"{where}not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(data, dict):
        raise ScenarioError(path, "expected a mapping at the top level")
    return data


def pyplot():
    """matplotlib's pyplot on the non-interactive Agg back end (imported on first use: the CLI starts fast)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
