"""The archive: targets from the dossier, the observation model, reading a run against them, the fit report."""
