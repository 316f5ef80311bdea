"""The run directory: designs, simulation batches and wave analyses on disk.

Layout::

    RUN/config.json                 what the run is (parameters, summaries, records, seed, design settings)
    RUN/wave_K/design.parquet       the wave's thetas (unit cube), written before any of its batches runs
    RUN/wave_K/batch_JJJJ.parquet   a finished batch: design index, thetas, seed ids, raw summaries
    RUN/wave_K/emulator.npz         the wave's emulator (plain arrays)
    RUN/wave_K/posterior_u.npy ...  the wave's posterior draws and non-implausible pool
    RUN/wave_K/analysis.json        written last: the wave's analysis is complete
    RUN/posterior.parquet, posterior_summary.csv, run_report.json    the final outputs

Every file is written atomically (temporary file, fsync, ``os.replace``), so a batch counts as done
exactly when its file exists. Batch ``J`` is the ``J``-th chunk of the design's rows, so a resumed
run simulates exactly the chunks whose rows are not yet on disk, and never one twice.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..io import jsonable, write_json, write_npz, write_parquet


class RunStore:
    def __init__(self, root: str | Path):
        self.root = Path(root)

    def wave_dir(self, k: int) -> Path:
        return self.root / f"wave_{k}"

    # -- config
    def check_config(self, config: dict, resume: bool) -> None:
        path = self.root / "config.json"
        config = jsonable(config)
        if path.exists():
            if not resume:
                raise FileExistsError(
                    f"{self.root}: a run exists here; pass resume=True to continue it, or use another directory"
                )
            old = json.loads(path.read_text())
            diff = sorted(k for k in set(old) | set(config) if old.get(k) != config.get(k))
            if diff:
                raise ValueError(f"{self.root}: the run on disk differs from this one in {diff}; use another directory")
            return
        if not resume and any(self.root.glob("wave_*/batch_*.parquet")) and not (self.root / "wave_0" / "imported").exists():
            raise FileExistsError(f"{self.root}: simulations exist here; pass resume=True or use another directory")
        write_json(path, config)

    # -- designs and batches
    def load_design(self, k: int) -> pd.DataFrame | None:
        p = self.wave_dir(k) / "design.parquet"
        return pd.read_parquet(p) if p.exists() else None

    def save_design(self, k: int, design: pd.DataFrame) -> None:
        write_parquet(self.wave_dir(k) / "design.parquet", design)

    def batch_path(self, k: int, j: int) -> Path:
        return self.wave_dir(k) / f"batch_{j:04d}.parquet"

    def done_indices(self, k: int) -> set[int]:
        done: set[int] = set()
        for p in sorted(self.wave_dir(k).glob("batch_*.parquet")):
            done.update(pd.read_parquet(p, columns=["index"])["index"].astype(int).tolist())
        return done

    def save_batch(self, k: int, j: int, df: pd.DataFrame) -> None:
        write_parquet(self.batch_path(k, j), df)

    def load_wave(self, k: int) -> pd.DataFrame:
        files = sorted(self.wave_dir(k).glob("batch_*.parquet"))
        if not files:
            return pd.DataFrame()
        df = pd.concat([pd.read_parquet(p) for p in files], ignore_index=True)
        return df.drop_duplicates("index").sort_values("index").reset_index(drop=True)

    # -- wave analyses
    def analysis_done(self, k: int) -> bool:
        return (self.wave_dir(k) / "analysis.json").exists()

    def save_analysis(self, k: int, analysis: dict, arrays: dict[str, np.ndarray]) -> None:
        d = self.wave_dir(k)
        write_npz(d / "arrays.npz", **arrays)
        write_json(d / "analysis.json", jsonable(analysis))

    def load_analysis(self, k: int) -> tuple[dict, dict[str, np.ndarray]]:
        d = self.wave_dir(k)
        with np.load(d / "arrays.npz") as z:
            arrays = {key: z[key] for key in z.files}
        return json.loads((d / "analysis.json").read_text()), arrays

    def emulator_path(self, k: int) -> Path:
        return self.wave_dir(k) / "emulator.npz"
