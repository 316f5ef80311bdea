"""The simulation: one day per step (:class:`BorderModel`), the households and their decision, rumours,
the border, the DPRK's settlement agent, the Chinese authorities, the world's schedule, the recorder.

``BorderModel`` is imported on first use (``bordersim.model.BorderModel``), so that reading the measures
(:mod:`.recorder`) does not load Mesa.
"""

__all__ = ["BorderModel"]


def __getattr__(name: str):
    if name != "BorderModel":
        raise AttributeError(f"module 'bordersim.model' has no attribute {name!r}")
    import importlib

    value = importlib.import_module(".model", __name__).BorderModel
    globals()[name] = value
    return value
