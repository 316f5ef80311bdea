"""The run ledger of a sweep: one SQLite database (WAL mode) with one row per run.

A row is keyed by the run's hash (the resolved scenario, the factor values, the seed, the outcomes and
the package version) and records the run's status (``pending``, ``running``, ``done``, ``failed``),
the error of a failed run, its timing and the worker that ran it. Only the sweep's coordinator
process writes to the ledger, one transaction per state change (or per batch of state changes that
happen together: the runs submitted in one round, the runs that finished by one wake-up), so a sweep
killed at any moment
(even by SIGKILL) leaves a consistent ledger: a run is ``done`` only after its result file has been
renamed into place; a run left ``running`` by a dead coordinator has no result and is run again.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass
from pathlib import Path

STATUSES = ("pending", "running", "done", "failed")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    run_key       TEXT PRIMARY KEY,
    run_id        INTEGER NOT NULL UNIQUE,
    point_id      INTEGER NOT NULL,
    replicate     INTEGER NOT NULL,
    seed          TEXT NOT NULL,
    params        TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed')),
    attempts      INTEGER NOT NULL DEFAULT 0,
    error         TEXT,
    traceback     TEXT,
    worker        TEXT,
    submitted_utc TEXT,
    started_utc   TEXT,
    finished_utc  TEXT,
    seconds       REAL,
    result_file   TEXT
);
CREATE INDEX IF NOT EXISTS runs_status ON runs (status);
"""

COLUMNS = (
    "run_key",
    "run_id",
    "point_id",
    "replicate",
    "seed",
    "params",
    "status",
    "attempts",
    "error",
    "traceback",
    "worker",
    "submitted_utc",
    "started_utc",
    "finished_utc",
    "seconds",
    "result_file",
)


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class PlannedRun:
    run_key: str
    run_id: int
    point_id: int
    replicate: int
    seed: str
    params: str


class Ledger:
    """The SQLite run ledger of one sweep directory."""

    def __init__(self, path: Path):
        self.path = Path(path)
        # isolation_level=None: we open every transaction ourselves (BEGIN IMMEDIATE ... COMMIT).
        self.con = sqlite3.connect(self.path, isolation_level=None, timeout=30.0)
        self.con.execute("PRAGMA journal_mode=WAL")
        # FULL: each commit is synced to the WAL, so a finished run survives even a machine crash.
        self.con.execute("PRAGMA synchronous=FULL")
        self.con.executescript(_SCHEMA)

    # -- transactions ------------------------------------------------------------------------------
    def _tx(self, sql: str, args=(), many: bool = False) -> None:
        cur = self.con.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            if many:
                cur.executemany(sql, args)
            else:
                cur.execute(sql, args)
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self.con.close()

    # -- metadata ----------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self.con.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self._tx(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value)
        )

    # -- the plan ----------------------------------------------------------------------------------
    def sync_plan(self, planned: list[PlannedRun]) -> int:
        """Insert the planned runs that are not in the ledger (as ``pending``); return how many stale rows were replaced.

        A stale row has a planned ``run_id`` but another key: its scenario, seed, outcomes or the
        package version changed since it ran, so its result no longer answers the sweep.
        """
        known = dict(self.con.execute("SELECT run_id, run_key FROM runs").fetchall())
        stale = [known[p.run_id] for p in planned if p.run_id in known and known[p.run_id] != p.run_key]
        new = [p for p in planned if known.get(p.run_id) != p.run_key]
        cur = self.con.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            cur.executemany("DELETE FROM runs WHERE run_key = ?", [(k,) for k in stale])
            cur.executemany(
                "INSERT INTO runs (run_key, run_id, point_id, replicate, seed, params, status) "
                "VALUES (?, ?, ?, ?, ?, ?, 'pending')",
                [(p.run_key, p.run_id, p.point_id, p.replicate, p.seed, p.params) for p in new],
            )
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        return len(stale)

    # -- batches: state changes that happen together, in one transaction ------------------------------
    def mark_running_many(self, run_keys: list[str]) -> None:
        now = utc_now()
        self._tx(
            "UPDATE runs SET status = 'running', attempts = attempts + 1, submitted_utc = ?, error = NULL, traceback = NULL "
            "WHERE run_key = ?",
            [(now, k) for k in run_keys],
            many=True,
        )

    def finish_many(self, done: list[tuple], failed: list[tuple]) -> None:
        """``done``: (run_key, result_file, worker, started, finished, seconds); ``failed``: (run_key, error, traceback, worker,
        started, finished, seconds). One transaction for all of them."""
        now = utc_now()
        cur = self.con.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            cur.executemany(
                "UPDATE runs SET status = 'done', result_file = ?, worker = ?, started_utc = ?, finished_utc = ?, "
                "seconds = ?, error = NULL, traceback = NULL WHERE run_key = ?",
                [(f, w, s, e, sec, k) for k, f, w, s, e, sec in done],
            )
            cur.executemany(
                "UPDATE runs SET status = 'failed', error = ?, traceback = ?, worker = ?, started_utc = ?, "
                "finished_utc = COALESCE(?, ?), seconds = ? WHERE run_key = ?",
                [(err, tb, w, s, e, now, sec, k) for k, err, tb, w, s, e, sec in failed],
            )
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise

    # -- queries -----------------------------------------------------------------------------------
    def statuses(self) -> dict[str, str]:
        return dict(self.con.execute("SELECT run_key, status FROM runs").fetchall())

    def counts(self, keys: set[str] | None = None) -> dict[str, int]:
        out = dict.fromkeys(STATUSES, 0)
        for key, status in self.con.execute("SELECT run_key, status FROM runs"):
            if keys is None or key in keys:
                out[status] += 1
        return out

    def rows(self) -> list[dict]:
        cur = self.con.execute(f"SELECT {', '.join(COLUMNS)} FROM runs ORDER BY run_id")
        return [dict(zip(COLUMNS, r)) for r in cur.fetchall()]


def read_ledger(path: Path) -> list[dict]:
    """The ledger's rows, read-only (another process may be writing: WAL lets readers in)."""
    con = sqlite3.connect(f"file:{Path(path)}?mode=ro", uri=True, timeout=30.0)
    try:
        cur = con.execute(f"SELECT {', '.join(COLUMNS)} FROM runs ORDER BY run_id")
        return [dict(zip(COLUMNS, r)) for r in cur.fetchall()]
    finally:
        con.close()
