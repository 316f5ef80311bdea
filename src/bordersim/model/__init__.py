"""The simulation: one day per step (:class:`BorderModel`), the households and their decision, rumours,
the border, the DPRK's settlement agent, the Chinese authorities, the world's schedule, the recorder."""

from .model import BorderModel

__all__ = ["BorderModel"]
