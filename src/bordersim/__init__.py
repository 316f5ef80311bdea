"""bordersim: an agent-based simulation of migration across the China-North Korea border, 1957-1970.

Built from NKIDP e-Dossier No. 11 ("Explaining North Korean Migration to China"): eleven Chinese
documents, 1957-1970. See README.md and docs/ODD.md.
"""

__version__ = "0.1.0"

from .model import BorderModel  # noqa: E402
from .scenario import Scenario, load_scenario  # noqa: E402

__all__ = ["BorderModel", "Scenario", "load_scenario", "__version__"]
