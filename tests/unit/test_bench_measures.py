"""The benchmarks' measuring code: fire latency over evenly spread job ends; the decoder check of jsonl rows."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from benchmarks import _fire_latency, bench_transfer


@dataclass
class _Stats:
    fire_latency: float


@dataclass
class _Load:
    started: float
    fired_at: dict[str, float] = field(default_factory=dict)


def test_phases_are_evenly_spread_over_the_interval_but_not_in_order() -> None:
    got = _fire_latency.phases(200, 10.0)
    assert sorted(got) == pytest.approx([(k + 0.5) / 20 for k in range(200)])
    assert got != sorted(got)  # not the order the triggers poll in
    assert got == _fire_latency.phases(200, 10.0)  # seeded: the same plan every run


def test_percentiles_are_nearest_rank_and_max_is_the_maximum() -> None:
    values = [float(v) for v in range(1, 101)]
    assert _fire_latency.percentile(values, 0.5) == 50.0
    assert _fire_latency.percentile(values, 0.95) == 95.0
    assert _fire_latency.percentile(values, 1.0) == 100.0
    assert _fire_latency.percentile([3.0], 0.5) == 3.0


def _load(latencies: list[float], phases: list[float], interval: float) -> tuple[dict[str, _Stats], _Load]:
    load = _Load(started=1000.0)
    stats = {}
    for i, (latency, phase) in enumerate(zip(latencies, phases, strict=True)):
        end = load.started + interval + phase
        load.fired_at[f"j{i}"] = end + latency
        stats[f"j{i}"] = _Stats(latency)
    return stats, load


def test_summary_gives_p50_p95_max_and_how_evenly_the_ends_fell() -> None:
    """Instant polls every interval from T0: an end at phase p waits interval - p, so p50 is half the interval."""
    interval, n = 10.0, 100
    phases = _fire_latency.phases(n, interval)
    stats, load = _load([interval - p for p in phases], phases, interval)
    figures = _fire_latency.summarise(stats, load, interval)  # type: ignore[arg-type]
    assert figures["p50"] == pytest.approx(4.95)
    assert figures["p95"] == pytest.approx(9.45)
    assert figures["max"] == pytest.approx(9.95)
    assert figures["end_phase_ks"] == pytest.approx(0.5 / n, abs=1e-9)

    bunched = [0.1] * n  # every end just after a poll: what an unplanned run can give
    stats, load = _load([interval - 0.1] * n, bunched, interval)
    assert _fire_latency.summarise(stats, load, interval)["end_phase_ks"] > 0.9  # type: ignore[arg-type]


def test_a_run_that_ended_before_the_triggers_started_fails_the_measurement() -> None:
    stats, load = _load([1.0, 1.0], [1.0, 2.0], 10.0)
    load.fired_at["j1"] = load.started - 5.0  # so its end was before T0
    with pytest.raises(RuntimeError, match="1 of 2 runs ended before the triggers started"):
        _fire_latency.summarise(stats, load, 10.0)  # type: ignore[arg-type]


def test_latency_rows_name_count_interval_and_figure() -> None:
    figures = {"p50": 5.2, "p95": 9.6, "max": 10.3, "end_phase_ks": 0.01}
    rows = _fire_latency.latency_rows("triggers_100_10s", figures, 10.0)
    assert [r["name"] for r in rows] == [
        "triggers_100_10s_fire_latency_p50_s",
        "triggers_100_10s_fire_latency_p95_s",
        "triggers_100_10s_fire_latency_max_s",
    ]
    assert [(r["value"], r["baseline"], r["ratio"], r["expected_s"]) for r in rows] == [
        (5.2, 10.0, 0.52, 5.0),
        (9.6, 10.0, 0.96, 9.5),
        (10.3, 10.0, 1.03, 10.0),
    ]


def test_a_jsonl_row_fails_loudly_unless_its_decoder_decoded_every_line() -> None:
    bench_transfer._check_decoder({"decoded": {"msgspec": 5}, "points": 5}, "msgspec", "encode_processes=0")
    bench_transfer._check_decoder({"decoded": {"stdlib": 5}, "points": 5}, "stdlib", "encode_processes=2")
    for decoded in ({"stdlib": 5}, {"msgspec": 4, "stdlib": 1}, {}, {"msgspec": 4}):
        with pytest.raises(RuntimeError, match="meant to measure the msgspec decoder"):
            bench_transfer._check_decoder({"decoded": decoded, "points": 5}, "msgspec", "encode_processes=0")
