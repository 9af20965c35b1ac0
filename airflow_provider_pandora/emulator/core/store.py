"""The emulator's durable state: one SQLite database (WAL) under ``--data-dir``.

* ``meta``: every resource (group, repo, transform, export, plugin, job) as a JSON document keyed by
  ``(kind, scope, name)``; ``scope`` is the repo for transforms, exports and jobs.
* ``runs``: offline job runs (the history endpoint).
* ``blobs``: plugin jars.
* one ``pts_<hex(repo)>`` table per repo holding each accepted point as its validated wire line.

Why raw lines: a push is validated once (that is what the service guarantees) and stored with a single
``executemany`` in one transaction, which keeps ingest above 100k points/s; points are decoded to typed
values only when something reads them (a transform, an export, a test). Repo schemas only ever gain
fields, so a stored line always decodes with the repo's current schema.

Concurrency: one writer connection behind one re-entrant lock (SQLite allows one writer anyway), and a
small pool of reader connections that see committed snapshots (WAL), so a long read never blocks a push.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS meta (
    kind TEXT NOT NULL, scope TEXT NOT NULL, name TEXT NOT NULL, doc TEXT NOT NULL,
    PRIMARY KEY (kind, scope, name)
);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, repo TEXT NOT NULL, job TEXT NOT NULL, doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_by_job ON runs (repo, job, id);
CREATE TABLE IF NOT EXISTS blobs (name TEXT PRIMARY KEY, content BLOB NOT NULL);
"""


def points_table(repo: str) -> str:
    """Table of a repo's points; hex keeps names case-sensitive (SQLite's identifiers are not)."""
    return "pts_" + repo.encode("utf-8").hex()


class Store:
    """SQLite-backed state; every method is thread-safe."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.lock = threading.RLock()
        self._writer = self._connect()
        self._writer.execute("PRAGMA journal_mode=WAL")
        self._writer.executescript(SCHEMA_SQL)
        self._depth = 0
        self._readers: list[sqlite3.Connection] = []
        self._all_readers: list[sqlite3.Connection] = []
        self._pool_lock = threading.Lock()
        self._closed = False

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        # NORMAL in WAL mode: a committed push survives a crash of the emulator (not a power cut).
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=30000")
        return conn

    # ---- transactions --------------------------------------------------------------------------------
    @contextmanager
    def atomic(self) -> Iterator[sqlite3.Connection]:
        """Hold the writer lock in one transaction; nested uses join the outer transaction."""
        with self.lock:
            outer = self._depth == 0
            if outer:
                self._writer.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield self._writer
            except BaseException:
                self._depth -= 1
                if outer:
                    self._writer.execute("ROLLBACK")
                raise
            self._depth -= 1
            if outer:
                self._writer.execute("COMMIT")

    @contextmanager
    def reader(self) -> Iterator[sqlite3.Connection]:
        """A pooled read-only connection (a committed snapshot per statement)."""
        with self._pool_lock:
            conn = self._readers.pop() if self._readers else None
        if conn is None:
            conn = self._connect()
            with self._pool_lock:
                self._all_readers.append(conn)
        try:
            yield conn
        finally:
            with self._pool_lock:
                if not self._closed:
                    self._readers.append(conn)

    # ---- resources ------------------------------------------------------------------------------------
    def get(self, kind: str, name: str, scope: str = "") -> dict[str, Any] | None:
        """The stored document, or ``None``; ``scope`` is the owning repo for transforms, exports and jobs."""
        with self.lock:
            row = self._writer.execute(
                "SELECT doc FROM meta WHERE kind = ? AND scope = ? AND name = ?", (kind, scope, name)
            ).fetchone()
        return json.loads(row[0]) if row else None

    def docs(self, kind: str, scope: str | None = None) -> list[dict[str, Any]]:
        """Documents of a kind in creation order, optionally within one scope."""
        with self.lock:
            if scope is None:
                rows = self._writer.execute("SELECT doc FROM meta WHERE kind = ? ORDER BY rowid", (kind,)).fetchall()
            else:
                rows = self._writer.execute(
                    "SELECT doc FROM meta WHERE kind = ? AND scope = ? ORDER BY rowid", (kind, scope)
                ).fetchall()
        return [json.loads(row[0]) for row in rows]

    def put(self, kind: str, name: str, doc: dict[str, Any], scope: str = "") -> None:
        """Insert or replace the document in one transaction."""
        with self.atomic() as conn:
            updated = conn.execute(
                "UPDATE meta SET doc = ? WHERE kind = ? AND scope = ? AND name = ?",
                (json.dumps(doc), kind, scope, name),
            ).rowcount
            if not updated:
                conn.execute(
                    "INSERT INTO meta (kind, scope, name, doc) VALUES (?, ?, ?, ?)",
                    (kind, scope, name, json.dumps(doc)),
                )

    def update_state(self, kind: str, name: str, patch: dict[str, Any], scope: str = "") -> bool:
        """Merge ``patch`` into the document's ``state``; a document deleted meanwhile stays deleted."""
        with self.atomic():
            doc = self.get(kind, name, scope)
            if doc is None:
                return False
            doc.setdefault("state", {}).update(patch)
            self.put(kind, name, doc, scope)
            return True

    def delete(self, kind: str, name: str, scope: str = "") -> None:
        """Remove the document if it exists (deleting a missing one is not an error here)."""
        with self.atomic() as conn:
            conn.execute("DELETE FROM meta WHERE kind = ? AND scope = ? AND name = ?", (kind, scope, name))

    # ---- points ------------------------------------------------------------------------------------------
    def create_points(self, repo: str) -> None:
        """Create the repo's points table if it is missing."""
        with self.atomic() as conn:
            conn.execute(
                f'CREATE TABLE IF NOT EXISTS "{points_table(repo)}" (seq INTEGER PRIMARY KEY, line BLOB NOT NULL)'
            )

    def drop_points(self, repo: str) -> None:
        """Drop the repo's points table, with every point in it."""
        with self.atomic() as conn:
            conn.execute(f'DROP TABLE IF EXISTS "{points_table(repo)}"')

    def append(self, repo: str, lines: Sequence[bytes]) -> int:
        """Store lines in one transaction; returns the new highest sequence number."""
        table = points_table(repo)
        with self.atomic() as conn:
            conn.executemany(f'INSERT INTO "{table}" (line) VALUES (?)', [(line,) for line in lines])
            row = conn.execute(f'SELECT max(seq) FROM "{table}"').fetchone()
        return int(row[0] or 0)

    def max_seq(self, repo: str) -> int:
        """The highest sequence number stored for the repo (0 when it has no points)."""
        with self.reader() as conn:
            row = conn.execute(f'SELECT max(seq) FROM "{points_table(repo)}"').fetchone()
        return int(row[0] or 0)

    def count(self, repo: str, *, after: int = 0) -> int:
        """How many points the repo holds after sequence ``after`` (all of them by default)."""
        with self.reader() as conn:
            row = conn.execute(f'SELECT count(*) FROM "{points_table(repo)}" WHERE seq > ?', (after,)).fetchone()
        return int(row[0])

    def lines(self, repo: str, *, after: int = 0, offset: int = 0, limit: int | None = None) -> list[tuple[int, bytes]]:
        """``(seq, line)`` in arrival order, after sequence ``after``, skipping ``offset`` rows."""
        sql = f'SELECT seq, line FROM "{points_table(repo)}" WHERE seq > ? ORDER BY seq LIMIT ? OFFSET ?'
        with self.reader() as conn:
            rows = conn.execute(sql, (after, -1 if limit is None else limit, offset)).fetchall()
        return [(int(seq), bytes(line)) for seq, line in rows]

    # ---- job runs ---------------------------------------------------------------------------------------
    def add_run(self, repo: str, job: str, doc: dict[str, Any]) -> int:
        """Record a job run; returns its id (the ``runId`` clients see)."""
        with self.atomic() as conn:
            cursor = conn.execute("INSERT INTO runs (repo, job, doc) VALUES (?, ?, ?)", (repo, job, json.dumps(doc)))
            return int(cursor.lastrowid or 0)

    def get_run(self, run_id: int) -> dict[str, Any] | None:
        """The run record by id, or ``None``."""
        with self.lock:
            row = self._writer.execute("SELECT doc FROM runs WHERE id = ?", (run_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def put_run(self, run_id: int, doc: dict[str, Any]) -> None:
        """Replace the run record (status and times as the run progresses)."""
        with self.atomic() as conn:
            conn.execute("UPDATE runs SET doc = ? WHERE id = ?", (json.dumps(doc), run_id))

    def runs(self, repo: str, job: str, *, offset: int = 0, limit: int = -1) -> list[tuple[int, dict[str, Any]]]:
        """Runs of a job, newest first."""
        with self.lock:
            rows = self._writer.execute(
                "SELECT id, doc FROM runs WHERE repo = ? AND job = ? ORDER BY id DESC LIMIT ? OFFSET ?",
                (repo, job, limit, offset),
            ).fetchall()
        return [(int(run_id), json.loads(doc)) for run_id, doc in rows]

    def running_runs(self) -> list[tuple[int, str, str, dict[str, Any]]]:
        """``(run id, repo, job, record)`` of each run still ``Running``, oldest first (recovery, group status)."""
        with self.lock:
            rows = self._writer.execute("SELECT id, repo, job, doc FROM runs ORDER BY id").fetchall()
        out = []
        for run_id, repo, job, doc in rows:
            parsed = json.loads(doc)
            if parsed.get("status") == "Running":
                out.append((int(run_id), repo, job, parsed))
        return out

    def delete_runs(self, repo: str, job: str) -> None:
        """Forget every run of the job (when the job is deleted)."""
        with self.atomic() as conn:
            conn.execute("DELETE FROM runs WHERE repo = ? AND job = ?", (repo, job))

    # ---- blobs -------------------------------------------------------------------------------------------
    def put_blob(self, name: str, content: bytes) -> None:
        """Store (or replace) a binary, such as a plugin jar, under ``name``."""
        with self.atomic() as conn:
            conn.execute("INSERT OR REPLACE INTO blobs (name, content) VALUES (?, ?)", (name, content))

    def delete_blob(self, name: str) -> None:
        """Remove the binary if it exists."""
        with self.atomic() as conn:
            conn.execute("DELETE FROM blobs WHERE name = ?", (name,))

    # ---- lifecycle ---------------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget everything (tables of points included)."""
        with self.atomic() as conn:
            tables = [
                row[0]
                for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'pts_%'")
            ]
            for table in tables:
                conn.execute(f'DROP TABLE "{table}"')
            conn.execute("DELETE FROM meta")
            conn.execute("DELETE FROM runs")
            conn.execute("DELETE FROM blobs")

    def close(self) -> None:
        """Close every pooled reader and the writer; later readers are not pooled."""
        with self._pool_lock:
            self._closed = True
            readers, self._all_readers, self._readers = self._all_readers, [], []
        for conn in readers:
            conn.close()
        with self.lock:
            self._writer.close()
