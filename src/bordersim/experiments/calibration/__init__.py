"""Calibration with pyabc's ABC-SMC: the configuration (:mod:`.config`), the simulator
(:mod:`.simulator`), the distance (:mod:`.distance`, from the archive's observation model), running
(:mod:`.run`) and the outputs (:mod:`.report`)."""
