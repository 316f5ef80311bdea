"""Calibration against the archive: the configuration (:mod:`.config`), its checked setup (:mod:`.setup`), the
simulator (:mod:`.simulator`), running the waves of :mod:`bordersim.inference` (:mod:`.run`), the checks with
real runs (:mod:`.validation`) and the outputs (:mod:`.report`)."""
