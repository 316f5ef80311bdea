"""Atomic file writes: a temporary file in the destination's directory, fsynced, then ``os.replace``.

A reader (or a resumed sweep or calibration) sees either the old file or the complete new one, never
a half-written file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd


def _replace(tmp: str, dest: Path) -> None:
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, dest)


def write_text(dest: str | Path, text: str) -> None:
    """Write ``text`` to ``dest`` atomically."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        _replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_parquet(dest: str | Path, df: pd.DataFrame) -> None:
    """Write ``df`` to ``dest`` as Parquet, atomically."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    try:
        df.to_parquet(tmp, index=False)
        _replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
