"""A ``numpy.random.Generator`` handed to compiled code by its addresses, for a pass that draws from it every day.

numba takes a Generator as an argument and draws numpy's very numbers from it (``random()``, ``geometric(p)``,
``binomial(n, p)``, ``poisson(lam)``: the same values, the generator left in the same state as numpy's own
calls), but unboxing one costs about 17 microseconds a call (three ``ctypes.cast`` calls and a type built from
the object), more than a day of the northward direction's work. :func:`handle` reads the bit generator's
addresses once (its state and its ``next_*`` functions, as numba's unboxing does) into a small array, and
:func:`generator` rebuilds numba's Generator from that array inside compiled code, for the cost of passing
an array. The compiled code then draws from, and advances, the very generator the numpy code uses.

The addresses are those of the live bit generator: the handle is valid while the generator lives (its owner
keeps both) and is checked against the generator before each use (:func:`current`), so a copied or unpickled
owner builds its own.
"""

from __future__ import annotations

import ctypes

import numpy as np
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

_BIT_GENERATOR = types.NumPyRandomBitGeneratorType("bit_generator")
_GENERATOR = types.NumPyRandomGeneratorType("generator")


def handle(rng: np.random.Generator) -> np.ndarray:
    """The addresses numba's Generator holds, read from ``rng``'s bit generator: its state's address, the state,
    ``next_uint64``, ``next_uint32``, ``next_double`` and the bitgen struct (numba's unboxing, in its order)."""
    c = rng.bit_generator.ctypes

    def address(fn) -> int:
        return ctypes.cast(fn, ctypes.c_void_p).value

    words = [c.state_address, c.state.value, address(c.next_uint64), address(c.next_uint32), address(c.next_double)]
    return np.array([*words, c.bit_generator.value], dtype=np.uint64)


def current(h: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
    """``h`` if it is the handle of ``rng``'s bit generator, else a new handle (a copied owner, or none yet)."""
    if h is None or int(h[0]) != rng.bit_generator.ctypes.state_address:
        return handle(rng)
    return h


@intrinsic
def generator(typingctx, h):
    """numba's Generator over the bit generator whose :func:`handle` is ``h`` (no Python object behind it: it is
    not returned to Python, only drawn from)."""

    def codegen(context, builder, sig, args):
        words = context.make_array(sig.args[0])(context, builder, args[0]).data
        bit_gen = cgutils.create_struct_proxy(_BIT_GENERATOR)(context, builder)
        bit_gen.parent = cgutils.get_null_value(bit_gen.parent.type)
        for i, name in enumerate(
            ("state_address", "state", "fnptr_next_uint64", "fnptr_next_uint32", "fnptr_next_double", "bit_generator")
        ):
            setattr(bit_gen, name, builder.load(cgutils.gep(builder, words, i)))
        gen = cgutils.create_struct_proxy(_GENERATOR)(context, builder)
        gen.bit_generator = bit_gen._getvalue()
        gen.meminfo = cgutils.get_null_value(gen.meminfo.type)
        gen.parent = cgutils.get_null_value(gen.parent.type)
        return gen._getvalue()

    if not (isinstance(h, types.Array) and h.dtype == types.uint64 and h.ndim == 1):
        return None
    return _GENERATOR(h), codegen
