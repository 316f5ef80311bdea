from bordersim.model import BorderModel
from bordersim.world.loader import validate_scenario


def test_small_run_conserves_people(small_dict):
    sc = validate_scenario(small_dict)
    m = BorderModel(sc).run()
    assert abs(m.persons_accounted() - m.initial_persons) < 1e-6
    assert m.recorder.data.min() >= 0
