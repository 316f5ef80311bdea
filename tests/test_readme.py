"""The README's Python example and its command blocks run as written (read from README.md, so they cannot drift)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

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


# -- the README's command blocks -------------------------------------------------------------------------
#: Each ```bash block of the README runs, in order, in one shell, in a copy of the repository's data. The
#: documented substitutions: the install line is replaced by this test's environment (a `.venv/` whose
#: `bordersim` runs this interpreter's package and whose `pip` does nothing), and `bordersim run` and
#: `bordersim ablations` are shortened by the flags below (later flags override earlier ones; figures are
#: tested elsewhere); a run ends on 31 March 1961, or on 31 March 1993 for the 1990s scenarios.
SHORT = "--scale 0.005 --replicates 2 --quiet --no-figures"
SUBSTITUTIONS = {"python3.12 -m venv .venv": "true"}
SKIP = re.compile(r"<!-- readme-test: skip \((.+?)\) -->\s*$")


def readme_bash_blocks() -> list[tuple[str, str | None]]:
    """(block, reason to skip it or None), in the README's order."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = []
    for m in re.finditer(r"```bash\n(.*?)```", text, flags=re.S):
        before = text[: m.start()].rstrip("\n").rsplit("\n", 1)[-1]
        skip = SKIP.match(before.strip())
        blocks.append((m.group(1), skip.group(1) if skip else None))
    return blocks


def _sandbox(tmp_path: Path) -> tuple[Path, dict]:
    clone = tmp_path / "clone"
    clone.mkdir()
    for name in ("scenarios", "calibration", "sweeps"):
        shutil.copytree(ROOT / name, clone / name, ignore=shutil.ignore_patterns("abc.db*", "flows.csv"))
    shutil.copy(ROOT / "README.md", clone / "README.md")
    venv_bin = clone / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    py = shlex.quote(sys.executable)
    shim = {
        "bordersim": f"""#!/bin/sh
case "$1" in
  run|ablations)
    case "$2" in *1990s*) end=1993-03-31 ;; *) end=1961-03-31 ;; esac
    exec {py} -m bordersim.cli "$@" {SHORT} --end "$end" ;;
  *) exec {py} -m bordersim.cli "$@" ;;
esac
""",
        "pip": "#!/bin/sh\nexit 0\n",
        "activate": f'PATH="{venv_bin}:$PATH"; export PATH\n',
    }
    for name, body in shim.items():
        (venv_bin / name).write_text(body)
        (venv_bin / name).chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in ("BORDERSIM_DEBUG",)}
    env["PATH"] = "/usr/bin:/bin:/usr/local/bin"  # no bordersim on the PATH until the README activates .venv
    return clone, env


def test_the_readme_commands_run_in_order(tmp_path):
    blocks = readme_bash_blocks()
    skipped = [reason for _, reason in blocks if reason]
    # the tests, the half-hour calibration, the page's server, the long sweeps: every other block runs, and
    # each skipped one names the test that runs it in small
    assert len(skipped) == 4 and "the test suite itself" in skipped[0], skipped
    for reason, test in zip(skipped[1:], ["test_calibrate.py", "test_explore_browser.py", "test_sweep.py"], strict=True):
        assert f"tests/{test}" in reason, skipped
    clone, env = _sandbox(tmp_path)
    script = ["set -euo pipefail"]
    for i, (block, reason) in enumerate(blocks):
        if reason:
            continue
        for old, new in SUBSTITUTIONS.items():
            block = block.replace(old, new)
        script += [f"echo '::readme block {i}::' >&2", block]
    r = subprocess.run(["bash", "-c", "\n".join(script)], cwd=clone, env=env, capture_output=True, text=True, timeout=1200)
    where = (r.stderr.rsplit("::readme block ", 1) + [""])[1][:3000]
    assert r.returncode == 0, f"README block {where}\n--- stdout ---\n{r.stdout[-2000:]}"
    assert "Traceback" not in r.stderr + r.stdout and "internal error" not in r.stderr
    out = clone / "outputs"
    for d in ("baseline_1960_1962", "famine_under_protocol_1964", "double_guards"):
        assert (out / d / "flows.csv").exists() and (out / d / "fit.csv").exists(), d
    assert (out / "compare-guards" / "compare.md").exists()
    assert (out / "baseline_1960_1962-ablations" / "ablations.md").exists()
    assert "bordersim --version" not in r.stdout and re.search(r"^bordersim \d", r.stdout, flags=re.M)
    assert ": ok (double_guards;" in r.stdout
