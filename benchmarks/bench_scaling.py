"""Cost as the work grows (issue 12): input size, encoding processes, deferred triggers; rows and PNG curves.

* **Size**: ``pandora`` pass-through of 10 MiB, 100 MiB and 1 GiB into the nginx sink (benchmarks/_sinks.py),
  each transfer in its own process: seconds and peak RSS. Time should be linear (``seconds_per_gib_1gib_vs
  _100mib``: 100 MiB's s/GiB over 1 GiB's, ~1) and memory flat (``rss_1gib_minus_10mib_mib`` <= 64 MiB).
* **Encoding processes**: a ``jsonl`` file through ``encode_processes`` 0 (the task's process), 1 and 2 on
  this 2-core machine; ``encode_processes_2_speedup`` is 2's lines/s over 0's.
* **Triggers**: 100, 1,000 and 5,000 ``PandoraJobTrigger``s in one event loop (a child process each) against
  the emulator (another process), ``INTERVAL`` s polls: fire latency p50/p95/max from a run's end to the
  trigger's event over ends spread evenly across the interval (``benchmarks/_fire_latency.py``; expected
  p50 about half the interval), polls per trigger per interval, the shortest gap between two polls of one
  trigger, RSS per trigger. Rows are ``triggers_<count>_10s_*``.

Curves go to ``benchmarks/scaling_*.png`` (matplotlib, dev extra). ``BENCH_SCALING_PARTS`` (default
``size,processes,triggers``) runs only some parts; the runner keeps the other rows already in ``results.json``.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import bench_transfer
from benchmarks._sinks import nginx_sink

HERE = Path(__file__).resolve().parent
MIB = 1 << 20
SIZES = [10 * MIB, 100 * MIB, 1024 * MIB]
JSONL_BYTES = int(os.environ.get("BENCH_SCALING_JSONL_BYTES", str(64 * MIB)))
PROCESSES = [0, 1, 2]
TRIGGER_COUNTS = [int(n) for n in os.environ.get("BENCH_SCALING_TRIGGERS", "100,1000,5000").split(",")]
INTERVAL = 10.0
"""Seconds between polls of one trigger (Airflow's deferrable sensors commonly poll every 10-60 s)."""
CYCLES = (1, 2)
"""Runs end this many whole intervals after the triggers start, plus their phase (``_fire_latency``)."""
RSS_TARGET_MIB = 64.0
PARTS = [part.strip() for part in os.environ.get("BENCH_SCALING_PARTS", "size,processes,triggers").split(",")]


def _row(
    name: str, value: float | None, unit: str, baseline: float | None, ratio: float | None, **extra: Any
) -> dict[str, Any]:
    return {
        "name": name,
        "value": None if value is None else round(value, 3),
        "unit": unit,
        "baseline": None if baseline is None else round(baseline, 3),
        "ratio": None if ratio is None else round(ratio, 3),
        **extra,
    }


# ---- triggers (child process) ---------------------------------------------------------------------------
def _child_triggers(count: int) -> dict[str, Any]:
    os.environ["PANDORA_EMULATOR_REQUEST_LOG_SIZE"] = str(20 * count + 10_000)  # every poll, for the gaps
    from benchmarks.bench_emulator import _emulator
    from benchmarks.bench_triggers import CONN_ID, _rss_kib

    with _emulator() as url:
        from airflow_provider_pandora.emulator.http.server import DEMO_ACCESS_KEY, DEMO_SECRET_KEY

        os.environ[f"AIRFLOW_CONN_{CONN_ID.upper()}"] = json.dumps(
            {"conn_type": "pandora", "host": url, "login": DEMO_ACCESS_KEY, "password": DEMO_SECRET_KEY}
        )
        import requests

        from airflow_provider_pandora.hooks.pandora import PandoraHook
        from benchmarks import _fire_latency
        from tests.hardening import trigger_load

        setup = PandoraHook(CONN_ID)
        # Runs end a whole number of intervals after the triggers start plus an evenly spread phase, so the
        # latency does not depend on how long the set-up took (it once gave p50 1.4 s, once 9.3 s)
        plan = _fire_latency.prepare(setup, count, INTERVAL, CYCLES)
        setup.close()
        late = _fire_latency.wait_for(plan)
        since = time.time()
        rss_before = _rss_kib()
        peak: list[float] = []

        import threading

        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.5):
                peak.append(_rss_kib())

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        load = trigger_load.run_triggers(CONN_ID, plan.run_ids, INTERVAL)
        done.set()
        sampler.join()
        ended = time.time()
        log = requests.get(f"{url}/_emulator/requests", timeout=120).json()["requests"]
    stats = trigger_load.analyse(log, load, since)
    fired = sum(1 for e in load.events.values() if e.get("status") == "success")
    intervals = max(1.0, (ended - since) / INTERVAL)
    return {
        "count": count,
        "fired": fired,
        "latency": _fire_latency.summarise(stats, load, INTERVAL),  # raises if a run ended before the triggers
        "min_gap": min(s.min_gap for s in stats.values()),
        "set_up_s": plan.set_up_s,
        "set_up_late_s": late,
        "polls_per_interval": sum(s.polls for s in stats.values()) / count / intervals,
        "polls_after_end_max": max(s.polls_after_end for s in stats.values()),
        "rss_kib_per_trigger": (max(peak or [rss_before]) - rss_before) / count,
    }


def _run_child(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_scaling", "--child", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=HERE.parent,
    )
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])  # type: ignore[no-any-return]
    raise RuntimeError(f"scaling child {args} failed ({done.returncode}): {done.stderr[-2000:]}")


# ---- plots ----------------------------------------------------------------------------------------------
def _save(plt: Any, fig: Any, name: str) -> str:
    """Write one curve next to this file and free its figure; the file's name, for the report."""
    fig.tight_layout()
    fig.savefig(HERE / name, dpi=90)
    plt.close(fig)
    return name


def _plot(sizes: list[dict[str, Any]], procs: list[dict[str, Any]], triggers: list[dict[str, Any]]) -> list[str]:
    """The curves of the parts that ran (the others' PNGs are left as they are)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    if sizes:
        fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
        mib = [s["mib"] for s in sizes]
        left.plot(mib, [s["seconds"] for s in sizes], "o-")
        left.set(xscale="log", yscale="log", xlabel="input (MiB)", ylabel="seconds", title="pass-through time")
        right.plot(mib, [s["rss_mib"] for s in sizes], "o-")
        right.set(xscale="log", xlabel="input (MiB)", ylabel="peak RSS (MiB)", title="pass-through peak RSS")
        right.set_ylim(bottom=0)
        written.append(_save(plt, fig, "scaling_size.png"))

    if procs:
        fig, ax = plt.subplots(figsize=(5, 3.5))
        ax.plot([p["processes"] for p in procs], [p["lines_per_s"] / 1000 for p in procs], "o-")
        ax.set(xlabel="encode_processes", ylabel="k lines/s", title="jsonl transfer speed", xticks=PROCESSES)
        ax.set_ylim(bottom=0)
        written.append(_save(plt, fig, "scaling_encode_processes.png"))

    if triggers:
        fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
        counts = [t["count"] for t in triggers]
        for key, marker in (("max", "s-"), ("p95", "^-"), ("p50", "o-")):
            left.plot(counts, [t["latency"][key] for t in triggers], marker, label=key)
        left.axhline(INTERVAL, color="grey", linestyle=":", label="poll interval")
        left.axhline(INTERVAL / 2, color="grey", linestyle="--", label="expected p50")
        left.set(
            xscale="log",
            xlabel="triggers in one loop",
            ylabel="s from the run's end to the event",
            title="fire latency, ends spread over the interval",
        )
        left.set_ylim(bottom=0)
        left.legend(fontsize="small")
        right.plot(counts, [t["rss_kib_per_trigger"] for t in triggers], "o-")
        right.set(xscale="log", xlabel="triggers in one loop", ylabel="KiB", title="RSS per trigger")
        right.set_ylim(bottom=0)
        written.append(_save(plt, fig, "scaling_triggers.png"))
    return written


# ---- run ------------------------------------------------------------------------------------------------
def _size_and_process_rows(
    work: Path, sizes: list[dict[str, Any]], procs: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Measure the size and encoding-process curves (into ``sizes`` and ``procs``) and return their rows."""
    rows: list[dict[str, Any]] = []
    with nginx_sink() as url:
        if "size" in PARTS:
            block = bench_transfer._block("pandora")
            for size in SIZES:
                path = bench_transfer._write(work / f"in-{size}.txt", block, size)
                result = bench_transfer._run_child("transfer", url, str(path), "pandora")
                path.unlink()
                sizes.append(
                    {
                        "mib": size / MIB,
                        "seconds": result["seconds"],
                        "rss_mib": result["rss_mib"],
                        "s_per_gib": result["seconds"] / (result["bytes"] / (1 << 30)),
                        "cpu_s_per_gib": result["cpu_s"] / (result["bytes"] / (1 << 30)),
                        "startup_s": result["startup_s"],
                    }
                )
        if "processes" in PARTS:
            points = bench_transfer._write(work / "points.jsonl", bench_transfer._block("jsonl", 8 << 20), JSONL_BYTES)
            for n in PROCESSES:
                result = bench_transfer._run_child("transfer", url, str(points), "jsonl", str(n))
                procs.append(
                    {
                        "processes": n,
                        "lines_per_s": result["points"] / result["seconds"],
                        "cpu_s": result["cpu_s"],
                        "rss_mib": result["rss_mib"],
                    }
                )
    if sizes:
        for s in sizes:
            label = f"{s['mib']:.0f}mib" if s["mib"] < 1024 else "1gib"
            rows.append(
                _row(f"scaling_passthrough_{label}_s", s["seconds"], "s", None, None, peak_rss_mib=s["rss_mib"])
            )
        small, mid, big = sizes
        diff = big["rss_mib"] - small["rss_mib"]
        rows.append(
            _row(
                "rss_1gib_minus_10mib_mib",
                diff,
                "MiB",
                RSS_TARGET_MIB,
                RSS_TARGET_MIB / max(diff, 1.0),
                target=f"<= {RSS_TARGET_MIB:g} MiB",
                rss_1gib_mib=round(big["rss_mib"], 1),
                rss_10mib_mib=round(small["rss_mib"], 1),
            )
        )
        rows.append(
            _row(
                "seconds_per_gib_1gib_vs_100mib",
                big["s_per_gib"],
                "s/GiB",
                mid["s_per_gib"],
                mid["s_per_gib"] / big["s_per_gib"],
                target="0.9 - 1.1 (within 10 %)",
                cpu_s_per_gib_100mib=round(mid["cpu_s_per_gib"], 2),
                cpu_s_per_gib_1gib=round(big["cpu_s_per_gib"], 2),
                startup_s=[round(s["startup_s"], 2) for s in sizes],
                note="from Transfer.run (the Airflow connection is resolved before the clock; startup_s)",
            )
        )
    if procs:
        base = procs[0]["lines_per_s"]
        for p in procs:
            rows.append(
                _row(
                    f"scaling_encode_processes_{p['processes']}_lines_per_s",
                    p["lines_per_s"],
                    "lines/s",
                    base,
                    p["lines_per_s"] / base,
                    cpu_s=round(p["cpu_s"], 2),
                )
            )
        rows.append(
            _row(
                "encode_processes_2_speedup",
                procs[2]["lines_per_s"] / base,
                "x",
                1.0,
                procs[2]["lines_per_s"] / base,
                lines_per_s_0=round(base),
                lines_per_s_1=round(procs[1]["lines_per_s"]),
                lines_per_s_2=round(procs[2]["lines_per_s"]),
                cores=os.cpu_count(),
            )
        )
    return rows


def _trigger_rows(triggers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from benchmarks import _fire_latency

    rows: list[dict[str, Any]] = []
    for t in triggers:
        n = t["count"]
        if t["fired"] != n:
            raise RuntimeError(f"{t['fired']} of {n} triggers fired successfully")
        prefix = f"triggers_{n}_{INTERVAL:g}s"
        rows += [
            *_fire_latency.latency_rows(
                prefix,
                t["latency"],
                INTERVAL,
                set_up_s=round(t["set_up_s"], 1),
                set_up_late_s=round(t["set_up_late_s"], 1),
            ),
            _row(f"{prefix}_polls_per_interval", t["polls_per_interval"], "polls", 1.0, t["polls_per_interval"]),
            _row(
                f"{prefix}_min_poll_gap_s",
                t["min_gap"] if math.isfinite(t["min_gap"]) else None,
                "s",
                INTERVAL,
                t["min_gap"] / INTERVAL if math.isfinite(t["min_gap"]) else None,
                note="null: no trigger polled twice at all",
            ),
            _row(f"{prefix}_rss_per_trigger_kib", t["rss_kib_per_trigger"], "KiB", 64.0, None),
        ]
    return rows


def run() -> list[dict[str, Any]]:
    """Rows for the curves of ``BENCH_SCALING_PARTS``; their PNGs are written next to this file."""
    unknown = set(PARTS) - {"size", "processes", "triggers"}
    if unknown:
        raise ValueError(f"BENCH_SCALING_PARTS: unknown part(s) {sorted(unknown)}; known: size, processes, triggers")
    work = Path(tempfile.mkdtemp(prefix="pandora-bench-scaling-"))
    try:
        sizes: list[dict[str, Any]] = []
        procs: list[dict[str, Any]] = []
        rows = _size_and_process_rows(work, sizes, procs) if {"size", "processes"} & set(PARTS) else []
        triggers = [_run_child("triggers", str(n)) for n in TRIGGER_COUNTS] if "triggers" in PARTS else []
        rows += _trigger_rows(triggers)
        plots = _plot(sizes, procs, triggers)
        print(f"curves: {', '.join(plots)}")
        return rows
    finally:
        import shutil

        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        if sys.argv[2] == "triggers":
            print("RESULT " + json.dumps(_child_triggers(int(sys.argv[3]))), flush=True)
        else:
            raise SystemExit(f"unknown child {sys.argv[2]!r}")
    else:
        for row in run():
            print(row)
