"""The README's Python example runs as written (it is read from README.md, so it cannot drift)."""

from __future__ import annotations

import re
import shutil

from .conftest import ROOT


def readme_python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), flags=re.S)


def test_the_readme_python_example_runs(monkeypatch, capsys):
    blocks = readme_python_blocks()
    assert len(blocks) == 1, "the README has one Python example"
    out = ROOT / "outputs" / "example"
    existed = out.exists()
    monkeypatch.chdir(ROOT)  # the example's paths are relative to the repository, as the README says
    try:
        namespace: dict = {}
        exec(compile(blocks[0], "README.md", "exec"), namespace)
        assert (out / "flows.csv").exists() and (out / "fit.csv").exists()
        fit = namespace["fit"]
        assert {"id", "observed", "predicted_median", "inside_90"} <= set(fit.columns) and len(fit) >= 30
        assert len(namespace["results"]) == 2
    finally:
        if not existed:
            shutil.rmtree(out, ignore_errors=True)
    assert "practice_1961" in capsys.readouterr().out
