"""Trigger fire latency over job ends spread evenly across the poll interval (bench_triggers, bench_scaling).

**What is measured.** From a job run's end (its ``endTime``, as the emulator records it when the run
ends) to the trigger's event being yielded (``time.time()`` in the triggers' loop right after
``PandoraJobTrigger.run()`` yields it). A trigger learns of the end at its first poll after it, so for an
end that falls ``phase`` seconds after one of its polls the latency is ``interval - phase`` plus one
request (and whatever makes the poll late: a busy loop, a busy server).

**Why the ends are placed.** Where the ends fall in the poll cycle is otherwise an accident of how long
the set-up took (run ``i`` lasted a fixed time from its own start, the triggers started after the last
one): the same code measured p50 = 1.4 s in one run and 9.3 s in another (100 triggers, 10 s interval).
Here job ``i`` ends at ``T0 + cycles[i % len(cycles)] * interval + phase[i]``, ``T0`` being the moment the
triggers start (all together, as before: polls still come in bursts of ``count``), and the phases
``(k + 0.5) / count * interval`` for ``k`` in a seeded shuffle of ``0 .. count-1``: evenly spread, and not
in the order the triggers poll in a burst (which would line the ends up with the queue). Over evenly
spread ends the latency is uniform on ``(0, interval)`` plus a request: **expected p50 ≈ interval / 2,
p95 ≈ 0.95 * interval, max ≈ interval**; more than that is lateness of the polls.

**How.** The emulator's ``-- emulator: sleep=`` counts from the run's start, so each job is submitted and
started right after its sleep is computed (``end - now``); ``T0`` is planned from the set-up's pace,
measured on a few throwaway jobs first, with room to spare, and the loop waits for it. If the set-up
overruns ``T0`` all ends shift by the same amount against the polls, which keeps them evenly spread
(``end_phase_ks``, from the real end times, says how evenly they fell: the Kolmogorov-Smirnov distance of
``(end - T0) mod interval`` from uniform, ``0.5 / count`` for a perfect grid); an end before ``T0``
fails the run.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_pandora.hooks.pandora import PandoraHook
    from tests.hardening.trigger_load import LoadRun, TriggerStats

CALIBRATION_JOBS = 5
"""Throwaway jobs set up first to measure the set-up's pace (two requests per job)."""
HEADROOM = 1.5
"""``T0`` allows this many times the measured set-up time (plus ``HEAD_EXTRA_S``)."""
HEAD_EXTRA_S = 2.0
PERCENTILES = {"p50": 0.50, "p95": 0.95, "max": 1.0}
"""Rows per latency figure, and the fraction of the interval each is expected to be over evenly spread ends."""


@dataclass
class Plan:
    run_ids: dict[str, int]
    """Job name -> the run its trigger watches."""
    start_at: float
    """``T0``: when the triggers are to start (``time.time()``)."""
    planned_end: dict[str, float]
    set_up_s: float
    """How long the set-up (calibration included) took."""


def phases(count: int, interval: float, seed: int = 0) -> list[float]:
    """``count`` phases evenly spread over ``(0, interval)``, in a seeded shuffled order."""
    slots = list(range(count))
    random.Random(seed).shuffle(slots)
    return [(k + 0.5) / count * interval for k in slots]


def _set_up_job(hook: PandoraHook, name: str, sleep: float) -> int:
    from airflow_provider_pandora.hooks.runs import run_id_of
    from tests.hardening import trigger_load

    code = f"-- emulator: sleep={max(0.0, sleep):.3f}\nselect s from {trigger_load.REPO}"
    container = {"type": "M16C4", "count": 1}
    hook.submit_job(
        trigger_load.REPO, name, trigger_load.DEST, code=code, container=container, scheduler={"type": "once"}
    )
    run_id = run_id_of(hook.start_job(trigger_load.REPO, name))
    assert run_id is not None
    return run_id


def prepare(hook: PandoraHook, count: int, interval: float, cycles: Sequence[int], *, seed: int = 0) -> Plan:
    """The source repo and ``count`` started jobs whose runs end as the module docstring says."""
    from tests.hardening import trigger_load

    begun = time.time()
    hook.create_repo(trigger_load.REPO, schema=trigger_load.SCHEMA)
    hook.push_data(trigger_load.REPO, [{"s": "x"}], schema=trigger_load.SCHEMA)
    started = time.perf_counter()
    for index in range(CALIBRATION_JOBS):
        _set_up_job(hook, f"calibrate_{index}", 0.0)
    pace = (time.perf_counter() - started) / CALIBRATION_JOBS
    start_at = time.time() + HEADROOM * pace * count + HEAD_EXTRA_S
    run_ids: dict[str, int] = {}
    planned: dict[str, float] = {}
    for index, phase in enumerate(phases(count, interval, seed)):
        name = trigger_load.job_name(index)
        end = start_at + cycles[index % len(cycles)] * interval + phase
        run_ids[name] = _set_up_job(hook, name, end - time.time())
        planned[name] = end
    return Plan(run_ids, start_at, planned, time.time() - begun)


def wait_for(plan: Plan) -> float:
    """Sleep until ``T0``; returns how late the set-up finished against it (s, 0 when on time)."""
    late = time.time() - plan.start_at
    if late < 0:
        time.sleep(-late)
    return max(0.0, late)


def _ks_uniform(values: Sequence[float]) -> float:
    """Kolmogorov-Smirnov distance of ``values`` (in ``[0, 1)``) from the uniform distribution."""
    ordered = sorted(values)
    n = len(ordered)
    return max(max((i + 1) / n - v, v - i / n) for i, v in enumerate(ordered))


def percentile(values: Sequence[float], fraction: float) -> float:
    """The ``fraction`` quantile (nearest rank; 1.0 is the maximum)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(fraction * len(ordered) + 0.5) - 1))]


def summarise(stats: Mapping[str, TriggerStats], load: LoadRun, interval: float) -> dict[str, Any]:
    """Latency p50/p95/max from the runs' ends to the events, how evenly the ends fell, and the checks."""
    ends = {job: load.fired_at[job] - s.fire_latency for job, s in stats.items()}
    early = sorted(job for job, end in ends.items() if end < load.started)
    if early:
        raise RuntimeError(
            f"{len(early)} of {len(ends)} runs ended before the triggers started (e.g. {early[0]}): the set-up "
            f"overran its plan by more than the shortest run; their latency would not mean what it says"
        )
    latencies = [s.fire_latency for s in stats.values()]
    figures: dict[str, Any] = {name: percentile(latencies, q) for name, q in PERCENTILES.items()}
    figures["end_phase_ks"] = _ks_uniform([((end - load.started) % interval) / interval for end in ends.values()])
    return figures


def latency_rows(prefix: str, figures: Mapping[str, Any], interval: float, **extra: Any) -> list[dict[str, Any]]:
    """``<prefix>_fire_latency_{p50,p95,max}_s`` rows: value in s, baseline the interval, ratio value / interval,
    ``expected_s`` what evenly spread ends give with instant polls (the fraction of the interval)."""
    rows = []
    for name, fraction in PERCENTILES.items():
        value = float(figures[name])
        rows.append(
            {
                "name": f"{prefix}_fire_latency_{name}_s",
                "value": round(value, 3),
                "unit": "s",
                "baseline": interval,
                "ratio": round(value / interval, 3),
                "expected_s": round(fraction * interval, 3),
                "target": f"~{fraction:g} (evenly spread ends)" if name != "max" else "<= 1 (+ one request)",
                "measured": "from the run's endTime (emulator) to the trigger's event being yielded",
                "end_phase_ks": round(float(figures["end_phase_ks"]), 4),
                **extra,
            }
        )
    return rows
