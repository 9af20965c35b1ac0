"""Soak under faults (issue 6, item 3): four concurrent ``LocalFilesystemToPandoraOperator`` transfers while
the emulator injects every kind of fault into the pushes; nothing may be lost and every duplicate accounted for.

This module holds the harness the suite's soak test (``tests/hardening/test_soak.py``, small size) and
``make bench`` (full size) both run:

* each transfer reads its own ``jsonl`` file; every point carries a unique ``id`` so the repo's content can be
  compared with the sources as sets and as counts;
* the emulator fails each action (``error``, ``drop``, ``delay``, ``commit_then_error``) on
  :data:`FAULT_RATE` of the data pushes each, so about 40 % of pushes see a fault and 30 % fail;
* every push the transfers make is recorded client-side (points in the body, request id, outcome) and joined
  with the emulator's request log by request id, which says what the server did with it. That tells the
  points of pushes stored but answered with an error (``commit_then_error``: the only real duplicates) from
  those of pushes that failed without being stored (``error``, ``drop``), which a client cannot tell apart
  and the transfer therefore reports as *possible* duplicates too.

The emulator's ``delay`` stays far below the client timeout, so a delayed push is never also a timeout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import requests

from airflow_provider_pandora.emulator.core.faults import ACTIONS

REPO = "soak"
SCHEMA: list[dict[str, Any]] = [
    {"key": "id", "valtype": "string", "required": True},
    {"key": "transfer", "valtype": "long"},
    {"key": "n", "valtype": "long"},
    {"key": "ratio", "valtype": "float"},
    {"key": "ok", "valtype": "boolean"},
    {"key": "at", "valtype": "date"},
    {"key": "msg", "valtype": "string"},
]
FAULT_RATE = 0.10
"""Fraction of data pushes hit by each action (four actions: about 40 % of pushes see a fault)."""
DELAY_S = 0.05
"""A ``delay`` fault's wait: far below the connection timeout, so it slows a push without failing it."""
TRANSFERS = 4
FULL_POINTS = 250_000
FULL_BATCH_BYTES = 256 * 1024
"""Full-size batches: 256 KiB (not 2 MiB) so that 1M points make ~500 pushes and each action fires ~50 times."""
CONNECTION_EXTRA: dict[str, Any] = {"retry_delay": 0.01, "retry_limit": 15, "timeout": 30}
"""Fast back-off, and enough attempts that no batch runs out of them (0.3 ** 15: a try never fails)."""


# ---- sources ----------------------------------------------------------------------------------------------
def point_id(transfer: int, i: int) -> str:
    return f"t{transfer}-{i:07d}"


def write_sources(directory: Path, transfers: int, points: int) -> list[Path]:
    """One ``jsonl`` file per transfer, ``points`` lines each, every point with a unique ``id``."""
    paths = []
    for t in range(transfers):
        path = directory / f"soak-{t}.jsonl"
        with path.open("w", encoding="utf-8") as out:
            for i in range(points):
                point = {
                    "id": point_id(t, i),
                    "transfer": t,
                    "n": i,
                    "ratio": i / 7,
                    "ok": i % 3 == 0,
                    "at": f"2026-11-25T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}+08:00",
                    "msg": f"line {i} of transfer {t}\twith a tab",
                }
                out.write(json.dumps(point) + "\n")
        paths.append(path)
    return paths


def expected_ids(transfers: int, points: int) -> set[str]:
    return {point_id(t, i) for t in range(transfers) for i in range(points)}


# ---- the emulator, through its admin endpoints (works in-process and across processes) --------------------
class Admin:
    """The emulator's unsigned ``/_emulator/...`` endpoints."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.session = requests.Session()

    def add_fault(self, **fault: Any) -> None:
        self.session.post(f"{self.url}/_emulator/faults", json=fault, timeout=30).raise_for_status()

    def clear_faults(self) -> None:
        self.session.delete(f"{self.url}/_emulator/faults", timeout=30).raise_for_status()

    def requests_log(self) -> list[dict[str, Any]]:
        answer = self.session.get(f"{self.url}/_emulator/requests", timeout=60)
        answer.raise_for_status()
        return list(answer.json()["requests"])

    def ids(self, repo: str, page: int = 50_000) -> Counter[str]:
        """How many times each ``id`` is stored in ``repo``."""
        counts: Counter[str] = Counter()
        offset = 0
        while True:
            answer = self.session.get(
                f"{self.url}/_emulator/repos/{repo}/points", params={"offset": offset, "limit": page}, timeout=300
            )
            answer.raise_for_status()
            points = answer.json()["points"]
            counts.update(str(p["id"]) for p in points)
            offset += len(points)
            if len(points) < page:
                return counts


def inject_faults(admin: Admin, repo: str, rate: float = FAULT_RATE, actions: Iterable[str] = ACTIONS) -> None:
    """Each action on ``rate`` of the repo's pushes.

    The emulator tries faults in order and the first that fires wins, so the k-th is given
    ``rate / (1 - k * rate)`` of what the earlier ones let through.
    """
    for k, action in enumerate(actions):
        fault: dict[str, Any] = {
            "action": action,
            "method": "POST",
            "path": f"/v2/repos/{repo}/data",
            "rate": rate / (1 - k * rate),
        }
        if action == "delay":
            fault["delay_s"] = DELAY_S
        admin.add_fault(**fault)


# ---- the transfers ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Push:
    """One data push as the transfer made it: how many points, the server's request id, how it ended."""

    points: int
    reqid: str | None
    status: int | None  # HTTP status of an error answer; None: acknowledged (200) or no answer at all
    transport: bool = False  # no answer: dropped connection or timeout


def _soak_operator(**kwargs: Any) -> Any:
    """A ``LocalFilesystemToPandoraOperator`` with small batches that records every push of its hook."""
    import requests as requests_module

    from airflow_provider_pandora.exceptions import PandoraApiError
    from airflow_provider_pandora.transfers.local_to_pandora import LocalFilesystemToPandoraOperator

    class SoakOperator(LocalFilesystemToPandoraOperator):
        def __init__(self, *, max_batch_bytes: int, pushes: list[Push], **kw: Any) -> None:
            super().__init__(**kw)
            self.max_batch_bytes = max_batch_bytes
            self.pushes = pushes

        def transfer_options(self) -> Any:
            options = super().transfer_options()
            options.max_batch_bytes = self.max_batch_bytes  # more pushes, so every fault fires often
            return options

        def execute(self, context: Any) -> Any:
            push = self.hook.push_batch
            pushes = self.pushes

            def recorded(repo: str, body: bytes, **kw: Any) -> str | None:
                points = body.count(b"\n")
                try:
                    reqid = push(repo, body, **kw)
                except PandoraApiError as err:
                    pushes.append(Push(points, err.reqid, err.status_code))
                    raise
                except requests_module.RequestException:
                    pushes.append(Push(points, None, None, transport=True))
                    raise
                pushes.append(Push(points, reqid, None))
                return reqid

            self.hook.push_batch = recorded  # type: ignore[method-assign]
            return super().execute(context)

    SoakOperator.__qualname__ = SoakOperator.__name__  # a readable logger name
    return SoakOperator(**kwargs)


def _execute(operator: Any, context: Mapping[str, Any]) -> dict[str, Any]:
    """``operator.execute(context)`` on a worker thread.

    Airflow 2's ``ExecutorSafeguard`` keeps its state in a thread-local set up only on the thread that
    imported it (Airflow runs each task in a process of its own), so a thread of ours sets it up first.
    """
    try:
        from airflow.models.baseoperator import ExecutorSafeguard
    except ImportError:  # Airflow 3
        pass
    else:
        sentinel = ExecutorSafeguard._sentinel
        if not hasattr(sentinel, "callers"):
            sentinel.callers = {}
    result: dict[str, Any] = operator.execute(context)
    return result


@dataclass
class SoakReport:
    """What a soak run found. ``lost`` must be 0 and ``duplicates`` must equal ``committed_unacked``."""

    expected: int
    stored: int
    lost: int
    unexpected: int
    duplicates: int
    committed_unacked: int
    """Points of pushes the server stored but answered with an error (``commit_then_error``)."""
    ambiguous: int
    """Points of every failed push that *might* have been stored (5xx answers, no answer)."""
    reported: int
    """The transfers' own count: the sum of their ``possible_duplicates``."""
    transferred: int
    """The sum of the transfers' ``points``."""
    seconds: float
    points_per_s: float
    pushes: int
    retries: int
    faults: dict[str, int] = field(default_factory=dict)
    """Data pushes the emulator hit with each action."""
    results: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_soak(
    url: str,
    sources: list[Path],
    points_per_source: int,
    *,
    repo: str = REPO,
    max_batch_bytes: int = FULL_BATCH_BYTES,
    faults: bool = True,
    actions: Iterable[str] = ACTIONS,
    context: Callable[[], Mapping[str, Any]] = dict,
) -> SoakReport:
    """Create ``repo``, run one transfer per source concurrently (faults on), and compare the repo with the sources.

    ``AIRFLOW_CONN_PANDORA_DEFAULT`` must point at the emulator at ``url`` (see :data:`CONNECTION_EXTRA`).
    ``context`` makes each task's context (e.g. one holding a ``task_state_store``).
    """
    from airflow_provider_pandora.hooks.pandora import PandoraHook

    admin = Admin(url)
    PandoraHook().create_repo(repo, schema=SCHEMA)
    if faults:
        inject_faults(admin, repo, actions=actions)
    pushes: list[Push] = []  # list.append is atomic: the push threads of all transfers share it
    operators = [
        _soak_operator(
            task_id=f"soak_{k}",
            source_path=str(path),
            repo=repo,
            max_batch_bytes=max_batch_bytes,
            pushes=pushes,
        )
        for k, path in enumerate(sources)
    ]
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(operators), thread_name_prefix="soak") as pool:
        futures = [pool.submit(_execute, op, context()) for op in operators]
        results: list[dict[str, Any]] = [f.result() for f in futures]
    seconds = time.perf_counter() - started
    admin.clear_faults()

    data_path = f"/v2/repos/{repo}/data"
    log = [entry for entry in admin.requests_log() if entry["method"] == "POST" and entry["path"] == data_path]
    fault_of = {entry["reqid"]: entry.get("fault") for entry in log}
    committed_unacked = sum(
        p.points for p in pushes if p.status is not None and fault_of.get(p.reqid) == "commit_then_error"
    )
    ambiguous = sum(p.points for p in pushes if p.transport or (p.status is not None and p.status >= 500))
    stored = admin.ids(repo)
    expected = expected_ids(len(sources), points_per_source)
    total = len(sources) * points_per_source
    return SoakReport(
        expected=total,
        stored=sum(stored.values()),
        lost=len(expected - stored.keys()),
        unexpected=len(stored.keys() - expected),
        duplicates=sum(stored.values()) - len(stored),
        committed_unacked=committed_unacked,
        ambiguous=ambiguous,
        reported=sum(int(r["possible_duplicates"]) for r in results),
        transferred=sum(int(r["points"]) for r in results),
        seconds=round(seconds, 3),
        points_per_s=round(total / seconds, 1),
        pushes=len(pushes),
        retries=sum(int(r["retries"]) for r in results),
        faults=dict(Counter(str(entry["fault"]) for entry in log if entry.get("fault"))),
        results=results,
    )


# ---- make bench ---------------------------------------------------------------------------------------------
def _child(url: str, directory: str, points: int, faults: bool) -> None:
    """``python -m benchmarks.bench_soak URL DIR POINTS FAULTS``: one soak, its report as the last stdout line."""
    sources = sorted(Path(directory).glob("soak-*.jsonl"))
    report = run_soak(url, sources, points, faults=faults)
    print(json.dumps(report.to_dict()))


def _soak_in_child(url: str, directory: Path, points: int, *, faults: bool) -> SoakReport:
    """Run the transfers in their own process with a throwaway AIRFLOW_HOME (the emulator runs in another)."""
    with tempfile.TemporaryDirectory(prefix="pandora-soak-home-") as home:
        from airflow_provider_pandora.emulator.http.server import DEMO_ACCESS_KEY, DEMO_SECRET_KEY

        env = dict(
            os.environ,
            AIRFLOW_HOME=home,
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            AIRFLOW__CORE__UNIT_TEST_MODE="True",
            AIRFLOW__LOGGING__LOGGING_LEVEL="ERROR",
            AIRFLOW_CONN_PANDORA_DEFAULT=json.dumps(
                {
                    "conn_type": "pandora",
                    "host": url,
                    "login": DEMO_ACCESS_KEY,
                    "password": DEMO_SECRET_KEY,
                    "extra": {"region": "nb", **CONNECTION_EXTRA},
                }
            ),
        )
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.bench_soak", url, str(directory), str(points), str(int(faults))],
            env=env,
            cwd=Path(__file__).resolve().parent.parent,
            capture_output=True,
            text=True,
            timeout=3600,
            check=False,
        )
    if done.returncode != 0:
        raise RuntimeError(f"the soak process failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return SoakReport(**json.loads(done.stdout.strip().splitlines()[-1]))


def run() -> list[dict[str, Any]]:
    """Full size: 4 transfers x 250,000 points with faults, and the same without faults as the baseline."""
    from benchmarks.bench_emulator import _emulator

    with tempfile.TemporaryDirectory(prefix="pandora-soak-") as tmp:
        directory = Path(tmp)
        write_sources(directory, TRANSFERS, FULL_POINTS)
        with _emulator() as url:
            clean = _soak_in_child(url, directory, FULL_POINTS, faults=False)
        with _emulator() as url:
            soak = _soak_in_child(url, directory, FULL_POINTS, faults=True)
    print(
        f"soak: {soak.expected:,} points in {soak.seconds:.1f} s under faults ({clean.seconds:.1f} s without); "
        f"{soak.pushes:,} pushes, faults fired {soak.faults}, {soak.retries:,} retries; lost {soak.lost}, "
        f"stored {soak.duplicates:,} duplicates (commit_then_error points {soak.committed_unacked:,}), "
        f"transfers reported {soak.reported:,} possible duplicates (points of every ambiguous failure: "
        f"{soak.ambiguous:,})"
    )
    rows: list[dict[str, Any]] = [
        {
            "name": "soak_points_per_s_under_faults",
            "value": round(soak.points_per_s),
            "unit": "points/s",
            "baseline": round(clean.points_per_s),
            "ratio": round(soak.points_per_s / clean.points_per_s, 2),
        },
        {"name": "soak_lost_points", "value": soak.lost, "unit": "points", "baseline": 0, "ratio": None},
        {
            "name": "soak_duplicates_vs_commit_then_error",
            "value": soak.duplicates,
            "unit": "points",
            "baseline": soak.committed_unacked,
            "ratio": round(soak.duplicates / soak.committed_unacked, 2) if soak.committed_unacked else None,
        },
        {
            "name": "soak_reported_vs_duplicates",
            "value": soak.reported,
            "unit": "points",
            "baseline": soak.duplicates,
            "ratio": round(soak.reported / soak.duplicates, 2) if soak.duplicates else None,
        },
    ]
    problems = []
    if soak.lost or soak.unexpected or clean.lost or clean.duplicates:
        problems.append(f"lost {soak.lost} (without faults {clean.lost}), unexpected ids {soak.unexpected}")
    if soak.duplicates != soak.committed_unacked:
        problems.append(f"{soak.duplicates} duplicates stored but {soak.committed_unacked} from commit_then_error")
    if soak.reported != soak.ambiguous or soak.reported < soak.duplicates:
        problems.append(f"reported {soak.reported} possible duplicates, ambiguous failures {soak.ambiguous}")
    if problems:
        raise RuntimeError("soak invariants broken: " + "; ".join(problems) + f"\nrows: {rows}")
    return rows


if __name__ == "__main__":
    _child(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1")
