"""Fields of many records held in a few 2-D arrays, one per dtype (issue 10).

The households (:mod:`.households`) and the northward direction's households and trips (:mod:`.north_people`)
are structures of arrays: one numpy array per field, one entry per record. Numpy code reads them field by field
(``hh.state[idx]``) and that does not change. A compiled pass (:mod:`.compiled`) that works on many fields,
though, pays for every array it is handed: numba types, unboxes and reference-counts each one at every call and
in every function it calls, and its compile time grows with the number of arrays handed down. A synthetic pass
of five nested functions over 60 fields (``python benchmarks/bench_compile.py --fields 60 --repeats 3``,
``results/compile.json``) compiled in 8.5 s with the fields in a namedtuple, 7.2 s as separate arguments and
2.4 s in four 2-D arrays, one per dtype; a call cost 28, 11 and 2.8 us.

So the fields live in :class:`FieldBlocks`, laid out by a :class:`Layout`: every field of one dtype is a row of
one C-ordered 2-D array (the *block*), and the owner's attribute for a field is a view of its row (contiguous:
numpy is as fast on it as on a separate array). A compiled pass takes the blocks and picks its rows by the
:class:`enum.IntEnum` of each block (``Layout.rows``, constants to numba): ``state = i8[I8.state]``.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np


class Layout:
    """Which block and row each field has: ``{field: (dtype, fill)}`` in row order.

    ``rows[dtype]`` is an :class:`~enum.IntEnum` of the fields of one dtype, in row order (named ``{name}_{dtype}``).
    Make a layout once, at module level, and give the compiled passes its enums as module globals: numba reads an
    enum member as a constant, so ``block[Rows.state]`` costs nothing more than ``block[3]``.
    """

    def __init__(self, spec: dict[str, tuple], name: str = "Rows"):
        self.spec = {f: (np.dtype(dt), fill) for f, (dt, fill) in spec.items()}
        by_dtype: dict[np.dtype, list[str]] = {}
        for field, (dtype, _) in self.spec.items():
            by_dtype.setdefault(dtype, []).append(field)
        self.rows = {dt: IntEnum(f"{name}_{dt.name}", {f: i for i, f in enumerate(fs)}) for dt, fs in by_dtype.items()}
        self.where = {f: (dt, i) for dt, fs in by_dtype.items() for i, f in enumerate(fs)}

    def filled(self, dtype: np.dtype, n: int) -> np.ndarray:
        """A block of ``dtype`` for ``n`` records, each row holding its field's fill value."""
        fields = list(self.rows[dtype].__members__)
        block = np.empty((len(fields), n), dtype=dtype)
        for i, f in enumerate(fields):
            block[i] = self.spec[f][1]
        return block


class FieldBlocks:
    """``n`` records' fields laid out by ``layout``: one 2-D array (``blocks[dtype]``, shape ``(fields, n)``) per
    dtype."""

    def __init__(self, n: int, layout: Layout):
        self.n = n
        self.layout = layout
        self.blocks: dict[np.dtype, np.ndarray] = {dt: layout.filled(dt, n) for dt in layout.rows}

    def view(self, field: str) -> np.ndarray:
        """The row of ``field`` (a view: writing to it writes the block)."""
        dtype, row = self.layout.where[field]
        return self.blocks[dtype][row]

    def views(self) -> dict[str, np.ndarray]:
        """Every field's row, by field."""
        return {f: self.view(f) for f in self.layout.spec}

    def reorder(self, order: np.ndarray) -> None:
        """Store the records in ``order`` (every field alike). The views of the old blocks no longer see the
        fields: take them again."""
        for dtype, block in self.blocks.items():
            self.blocks[dtype] = np.ascontiguousarray(block[:, order])

    def grow(self, n: int) -> None:
        """Room for ``n`` records (``n`` at least the present number): the first keep their fields, the new ones
        hold each field's fill value. The views of the old blocks no longer see the fields: take them again."""
        if n < self.n:
            raise ValueError(f"cannot shrink {self.n} records to {n}")
        for dtype, block in self.blocks.items():
            new = self.layout.filled(dtype, n)
            new[:, : self.n] = block
            self.blocks[dtype] = new
        self.n = n
