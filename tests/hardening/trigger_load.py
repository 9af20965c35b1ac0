"""Many ``PandoraJobTrigger``s in one event loop against one emulator: the harness the test and the benchmark share.

``prepare`` creates a source repo and ``count`` jobs whose runs last ``durations[i % len(durations)]`` seconds
(the emulator's ``-- emulator: sleep=`` directive) and starts them; ``run_triggers`` runs one trigger per job
in a single loop until every one has fired; ``analyse`` reads the emulator's request log and says, per
trigger, how many polls it made, the shortest gap between two of them, how many came after its run ended,
and how long after the end its event fired.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import tracemalloc
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from airflow_provider_pandora.hooks.pandora import PandoraHook
from airflow_provider_pandora.hooks.runs import run_id_of
from airflow_provider_pandora.triggers.jobs import PandoraJobTrigger

REPO = "load_src"
DEST = "load_out"
SCHEMA = [{"key": "s", "valtype": "string", "required": True}]


def job_name(index: int) -> str:
    return f"wait_{index:05d}"


def prepare(hook: PandoraHook, count: int, durations: Sequence[float]) -> dict[str, int]:
    """Create the repo and ``count`` jobs, start them all; returns job name -> run id."""
    hook.create_repo(REPO, schema=SCHEMA)
    hook.push_data(REPO, [{"s": "x"}], schema=SCHEMA)
    container = {"type": "M16C4", "count": 1}
    for index in range(count):
        sleep = durations[index % len(durations)]
        code = f"-- emulator: sleep={sleep}\nselect s from {REPO}"
        hook.submit_job(REPO, job_name(index), DEST, code=code, container=container, scheduler={"type": "once"})
    run_ids: dict[str, int] = {}
    for index in range(count):
        run_id = run_id_of(hook.start_job(REPO, job_name(index)))
        assert run_id is not None
        run_ids[job_name(index)] = run_id
    return run_ids


@dataclass
class LoadRun:
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    fired_at: dict[str, float] = field(default_factory=dict)
    started: float = 0.0
    memory_per_trigger: float | None = None


async def _run(conn_id: str, run_ids: dict[str, int], interval: float, trace_memory: bool, result: LoadRun) -> None:
    baseline = 0
    if trace_memory:
        tracemalloc.start()
        baseline = tracemalloc.get_traced_memory()[0]
    triggers = {
        job: PandoraJobTrigger(REPO, job, pandora_conn_id=conn_id, poll_interval=interval, run_id=run_id)
        for job, run_id in run_ids.items()
    }

    async def watch(job: str, trigger: PandoraJobTrigger) -> None:
        async for event in trigger.run():
            result.fired_at[job] = time.time()
            result.events[job] = dict(event.payload)

    result.started = time.time()
    tasks = [asyncio.create_task(watch(job, trigger)) for job, trigger in triggers.items()]
    if trace_memory:
        # Half an interval in, every trigger has made its first poll and sleeps: the steady state.
        await asyncio.sleep(interval / 2)
        result.memory_per_trigger = (tracemalloc.get_traced_memory()[0] - baseline) / len(triggers)
        tracemalloc.stop()
    await asyncio.gather(*tasks)


def run_triggers(conn_id: str, run_ids: dict[str, int], interval: float, *, trace_memory: bool = False) -> LoadRun:
    result = LoadRun()
    asyncio.run(_run(conn_id, run_ids, interval, trace_memory, result))
    return result


@dataclass
class TriggerStats:
    polls: int
    min_gap: float
    polls_after_end: int
    fire_latency: float


def _ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def analyse(requests_log: Sequence[dict[str, Any]], load: LoadRun, since: float) -> dict[str, TriggerStats]:
    """Per job: polls counted from the emulator's request log (its own clock, millisecond precision)."""
    polls: dict[str, list[float]] = defaultdict(list)
    prefix = f"/v2/repos/{REPO}/jobs/"
    for entry in requests_log:
        path = str(entry["path"])
        if entry["method"] == "GET" and path.startswith(prefix) and path.endswith("/history"):
            at = _ts(str(entry["time"]))
            if at >= since - 0.001:
                polls[path[len(prefix) : -len("/history")]].append(at)
    stats = {}
    for job, event in load.events.items():
        times = sorted(polls[job])
        end = _ts(event["run"]["end_time"]) if event.get("run") and event["run"].get("end_time") else float("nan")
        gaps = [b - a for a, b in itertools.pairwise(times)]
        stats[job] = TriggerStats(
            polls=len(times),
            min_gap=min(gaps) if gaps else float("inf"),
            polls_after_end=sum(1 for t in times if t > end),
            fire_latency=load.fired_at[job] - end,
        )
    return stats


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]
