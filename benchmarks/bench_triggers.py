"""Sensors at scale (issue 6): 1,000 ``PandoraJobTrigger``s in one event loop against the emulator.

The emulator runs as its own process (as in ``make demo``), so the triggers' loop has the interpreter to
itself. 1,000 jobs are started whose runs end 1, 2 or 3 intervals after the triggers start, plus a phase
spread evenly over the interval (``benchmarks/_fire_latency.py``); one trigger per job polls every
``INTERVAL`` (5 s; Airflow sensors default to 10 s) in a single ``asyncio`` loop until every one has fired.
All 1,000 start together, the worst case: their polls arrive in bursts of 1,000. Polls are counted from the
emulator's request log (its clock), fire times from the loop. The run is made twice: once plain (latency,
polling, RSS) and once under ``tracemalloc`` (Python memory per trigger), which slows the loop down.

Rows (``ratio = value / baseline``): fire latency p50/p95/max from the run's end to the trigger's event
against the poll interval (over evenly spread ends: expected ratio 0.5, 0.95 and 1, plus one request), the
shortest gap between two polls of one trigger against the interval (>= 1: never twice within one
interval), the most polls any trigger made after its run ended (1: it fires on the first), and memory per
trigger (lower is better; baseline 64 KiB is a budget, not a measurement).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import requests

from airflow_provider_pandora.emulator.http.server import DEMO_ACCESS_KEY, DEMO_SECRET_KEY
from benchmarks.bench_emulator import _emulator

TRIGGERS = int(os.environ.get("BENCH_TRIGGERS_COUNT", "1000"))
INTERVAL = 5.0
CYCLES = (1, 2, 3)
"""Runs end this many whole intervals after the triggers start, plus their phase."""
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
    from benchmarks import _fire_latency
    from tests.hardening import trigger_load

    with _emulator() as url:
        os.environ[f"AIRFLOW_CONN_{CONN_ID.upper()}"] = json.dumps(
            {"conn_type": "pandora", "host": url, "login": DEMO_ACCESS_KEY, "password": DEMO_SECRET_KEY}
        )
        setup = PandoraHook(CONN_ID)
        plan = _fire_latency.prepare(setup, TRIGGERS, INTERVAL, CYCLES)
        setup.close()
        late = _fire_latency.wait_for(plan)
        since = time.time()
        rss_before = _rss_kib()
        load = trigger_load.run_triggers(CONN_ID, plan.run_ids, INTERVAL, trace_memory=trace_memory)
        rss_after = _rss_kib()
        log = requests.get(f"{url}/_emulator/requests", timeout=60).json()["requests"]
    stats = trigger_load.analyse(log, load, since)
    if len(load.events) != TRIGGERS or {e["status"] for e in load.events.values()} != {"success"}:
        raise RuntimeError(f"{len(load.events)} of {TRIGGERS} triggers fired successfully")
    return {
        "latency": _fire_latency.summarise(stats, load, INTERVAL),
        "set_up_s": plan.set_up_s,
        "set_up_late_s": late,
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
    from benchmarks import _fire_latency

    plain = _measure(trace_memory=False)
    traced = _measure(trace_memory=True)
    prefix = f"triggers_{TRIGGERS}_{INTERVAL:g}s"
    return [
        *_fire_latency.latency_rows(
            prefix,
            plain["latency"],
            INTERVAL,
            set_up_s=round(plain["set_up_s"], 1),
            set_up_late_s=round(plain["set_up_late_s"], 1),
        ),
        _row(f"{prefix}_min_poll_gap_s", plain["min_gap"], "s", INTERVAL),
        _row(f"{prefix}_polls_after_run_end_max", plain["polls_after_end"], "polls", 1, 0),
        _row(f"{prefix}_python_heap_per_trigger_kib", traced["heap_kib_per_trigger"], "KiB", MEMORY_BUDGET_KIB, 1),
        _row(f"{prefix}_rss_per_trigger_kib", plain["rss_kib_per_trigger"], "KiB", MEMORY_BUDGET_KIB, 1),
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
