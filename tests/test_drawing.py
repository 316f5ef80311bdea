"""The drawing process of a run (experiments/drawing.py): jobs run, failures surface, a cancelled run leaves no process."""

from __future__ import annotations

import os
import time

import pytest

from bordersim.experiments.drawing import Drawer


def _write(path, text):
    path.write_text(text)


def _fail(path):
    raise ValueError("a figure that cannot be drawn")


def test_jobs_are_drawn_side_by_side_and_joined(tmp_path):
    with Drawer() as d:
        d.draw(_write, tmp_path / "a.txt", "a")
        d.draw(_write, tmp_path / "b.txt", "b")
        d.join()
    assert (tmp_path / "a.txt").read_text() == "a" and (tmp_path / "b.txt").read_text() == "b"


def test_a_failed_job_is_an_error_of_the_run(tmp_path):
    with Drawer() as d:
        d.draw(_write, tmp_path / "a.txt", "a")
        d.draw(_fail, tmp_path)
        with pytest.raises(RuntimeError, match="drawing the run's figures failed"):
            d.join()


def test_a_cancelled_drawer_leaves_no_process_and_a_disabled_one_draws_nothing(tmp_path):
    d = Drawer()
    pid = d._proc.pid if d._proc is not None else None
    d.cancel()
    if pid is not None:
        time.sleep(0.1)
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    off = Drawer(enabled=False)
    off.draw(_write, tmp_path / "c.txt", "c")
    off.join()
    assert not (tmp_path / "c.txt").exists()
