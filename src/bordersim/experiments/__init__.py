"""Experiments: replicates, output directories, comparisons, ablations, sweeps, calibration, sensitivity."""
