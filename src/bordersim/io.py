"""Files: the one atomic writer, atomic output directories, YAML reading and the figure back end.

Every file the package writes goes through :func:`write_text`, :func:`write_json` or
:func:`write_parquet` (always ``(dest, content)``): a temporary file in the destination's directory,
fsynced, then ``os.replace``. A reader (or a resumed sweep or calibration) sees either the old file or
the complete new one, never a half-written file. :func:`atomic_dir` does the same for a whole output
directory: it is filled beside the destination and renamed into place.

Files and directories get the modes the user's umask gives (0644 and 0755 under the usual 022), like
any file a program writes, not the private 0600/0700 of ``tempfile``: a colleague on a shared machine
can read a run.
"""

from __future__ import annotations

import copy
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


def _umask() -> int:
    """The process's umask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def public_mode(path: str | Path, directory: bool = False) -> None:
    """Give a file (0666) or directory (0777) made by ``tempfile`` the mode the umask allows."""
    os.chmod(path, (0o777 if directory else 0o666) & ~_umask())


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
        public_mode(tmp)
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
        public_mode(tmp, directory=True)
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


class _UniqueKeyLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """The safe loader (libyaml's where installed) refusing a key given twice in a mapping (PyYAML keeps the last)."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.setdefault(key, key_node.start_mark.line + 1)
                except TypeError:  # an unhashable key: the constructor's own error says so
                    break
                if first != key_node.start_mark.line + 1:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key!r} (first on line {first})", key_node.start_mark
                    )
        return super().construct_mapping(node, deep=deep)


#: Contexts whose mark is where the mistake is (an unclosed bracket or quote, a key without its colon);
#: for the others (a block mapping or sequence) the problem's own mark is nearer to it.
_CONTEXT_FIRST = ("while scanning a simple key", "while parsing a flow", "while scanning a quoted")


def yaml_error_message(exc: yaml.YAMLError, text: str | None = None) -> str:
    """One line for a YAML syntax error: the line where the mistake is, and what is wrong."""
    problem = getattr(exc, "problem", None) or getattr(exc, "reason", None) or str(exc).splitlines()[0]
    pmark = getattr(exc, "problem_mark", None)
    context = getattr(exc, "context", None)
    cmark = getattr(exc, "context_mark", None)
    line = pmark.line + 1 if pmark is not None else None
    if line is None and isinstance(getattr(exc, "position", None), int) and text is not None:  # a ReaderError
        line = text[: exc.position].count("\n") + 1
        char = getattr(exc, "character", None)
        if char is not None:
            problem += f" (character #x{ord(char) if isinstance(char, str) else int(char):04x})"
    what = problem
    if context and cmark is not None and context.startswith(_CONTEXT_FIRST):
        what = f"{problem} {context}"
        if cmark.line + 1 != line:
            what += f" (noticed on line {line})"
            line = cmark.line + 1
    if "constructor for the tag" in problem:
        what += " (YAML tags are not allowed in a scenario)"
    where = f"line {line}: " if line is not None else "(file): "
    return f"{where}not valid YAML: {' '.join(what.split())}"


def read_yaml(path: str | Path) -> dict:
    """Read a YAML mapping safely (no tags run, no key twice); a missing file or bad YAML is a one-line ScenarioError."""
    path = Path(path)
    if not path.exists():
        raise ScenarioError(path, "file not found")
    if not path.is_file():
        raise ScenarioError(path, "not a file")
    st = path.stat()
    key = (str(path.resolve()), st.st_mtime_ns, st.st_size)
    if key not in _YAML_CACHE:
        try:
            raw = path.read_bytes()
            text = raw.decode("utf-8")
            data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a safe loader)
        except yaml.YAMLError as exc:
            raise ScenarioError(path, yaml_error_message(exc, text)) from None
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            raise ScenarioError(path, f"line {line}: not UTF-8 text (byte {raw[exc.start]:#04x})") from None
        except OSError as exc:
            raise ScenarioError(path, f"(file): cannot be read ({exc.strerror or exc})") from None
        if not isinstance(data, dict):
            what = "the file is empty" if data is None else f"got {type(data).__name__} {str(data)[:40]!r}"
            raise ScenarioError(path, f"(top level): expected a mapping of keys and values; {what}")
        if len(_YAML_CACHE) > 64:
            _YAML_CACHE.clear()
        _YAML_CACHE[key] = data
    return copy.deepcopy(_YAML_CACHE[key])  # callers may change what they get


#: Parsed YAML files by (path, modification time, size): scenarios, rule sets and targets are read often.
_YAML_CACHE: dict[tuple, dict] = {}


def pyplot():
    """matplotlib's pyplot on the non-interactive Agg back end (imported on first use: the CLI starts fast)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plain_numbers(axis) -> None:
    """Tick labels of a log or symlog ``axis`` (``ax.xaxis``, ``ax.yaxis``) as plain numbers (1,000; 0.5)
    instead of matplotlib's 10^3: easier to read, and no mathtext to typeset (its first use costs a second)."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}" if abs(v) >= 1 or v == 0 else f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())
