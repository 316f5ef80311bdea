"""The package version (one place: ``bordersim.__version__``, manifests and sweep run keys)."""

__version__ = "0.1.0"
