"""Sensors at scale (issue 6): 1,000 ``PandoraJobTrigger``s in one event loop against the emulator.

The emulator runs as its own process (as in ``make demo``), so the triggers' loop has the interpreter to
itself. 1,000 jobs are started whose runs last 5, 10 or 15 s; one trigger per job polls every ``INTERVAL``
(5 s; Airflow sensors default to 10 s) in a single ``asyncio`` loop until every one has fired. All 1,000
start together, the worst case: their polls arrive in bursts of 1,000. Polls are counted from the
emulator's request log (its clock), fire times from the loop. The run is made twice: once plain (latency,
polling, RSS) and once under ``tracemalloc`` (Python memory per trigger), which slows the loop down.

Rows (``ratio = value / baseline``): fire latency after the run's end against the poll interval (the
requirement is "within one interval": ratio <= 1, plus one request's time), the shortest gap between two
polls of one trigger against the interval (>= 1: never twice within one interval), the most polls any
trigger made after its run ended (1: it fires on the first), and memory per trigger (lower is better;
baseline 64 KiB is a budget, not a measurement).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import requests

from airflow_provider_pandora.emulator.testing import DEMO_ACCESS_KEY, DEMO_SECRET_KEY
from benchmarks.bench_emulator import _emulator

TRIGGERS = 1_000
INTERVAL = 5.0
DURATIONS = (5.0, 10.0, 15.0)
MEMORY_BUDGET_KIB = 64.0
CONN_ID = "pandora_bench_triggers"


def _rss_kib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return float(line.split()[1])
    return float("nan")


def _measure(trace_memory: bool) -> dict[str, Any]:
    # Imported here: the harness imports Airflow, which reads the environment set by run().
    from airflow_provider_pandora.hooks.pandora import PandoraHook
    from tests.hardening import trigger_load

    with _emulator() as url:
        os.environ[f"AIRFLOW_CONN_{CONN_ID.upper()}"] = json.dumps(
            {"conn_type": "pandora", "host": url, "login": DEMO_ACCESS_KEY, "password": DEMO_SECRET_KEY}
        )
        setup = PandoraHook(CONN_ID)
        run_ids = trigger_load.prepare(setup, TRIGGERS, DURATIONS)
        setup.close()
        since = time.time()
        rss_before = _rss_kib()
        load = trigger_load.run_triggers(CONN_ID, run_ids, INTERVAL, trace_memory=trace_memory)
        rss_after = _rss_kib()
        log = requests.get(f"{url}/_emulator/requests", timeout=60).json()["requests"]
    stats = trigger_load.analyse(log, load, since)
    if len(load.events) != TRIGGERS or {e["status"] for e in load.events.values()} != {"success"}:
        raise RuntimeError(f"{len(load.events)} of {TRIGGERS} triggers fired successfully")
    latencies = [s.fire_latency for s in stats.values()]
    return {
        "latency_p50": trigger_load.percentile(latencies, 0.5),
        "latency_max": max(latencies),
        "min_gap": min(s.min_gap for s in stats.values()),
        "polls_after_end": max(s.polls_after_end for s in stats.values()),
        "rss_kib_per_trigger": (rss_after - rss_before) / TRIGGERS,
        "heap_kib_per_trigger": (load.memory_per_trigger or 0.0) / 1024,
    }


def _row(name: str, value: float, unit: str, baseline: float | None, digits: int = 3) -> dict[str, Any]:
    return {
        "name": name,
        "value": round(value, digits),
        "unit": unit,
        "baseline": baseline,
        "ratio": round(value / baseline, 2) if baseline else None,
    }


def run() -> list[dict[str, Any]]:
    """Rows ``{"name", "value", "unit", "baseline", "ratio"}`` for 1,000 triggers polling every 5 s."""
    plain = _measure(trace_memory=False)
    traced = _measure(trace_memory=True)
    return [
        _row("triggers_1000_5s_fire_latency_p50_s", plain["latency_p50"], "s", INTERVAL),
        _row("triggers_1000_5s_fire_latency_max_s", plain["latency_max"], "s", INTERVAL),
        _row("triggers_1000_5s_min_poll_gap_s", plain["min_gap"], "s", INTERVAL),
        _row("triggers_1000_5s_polls_after_run_end_max", plain["polls_after_end"], "polls", 1, 0),
        _row(
            "triggers_1000_5s_python_heap_per_trigger_kib", traced["heap_kib_per_trigger"], "KiB", MEMORY_BUDGET_KIB, 1
        ),
        _row("triggers_1000_5s_rss_per_trigger_kib", plain["rss_kib_per_trigger"], "KiB", MEMORY_BUDGET_KIB, 1),
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
