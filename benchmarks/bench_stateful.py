"""The stateful transfer suite, longer (issue 17, item 5): ``BENCH_STATEFUL_EXAMPLES`` examples (default 1,000) of
``tests/transfers/test_stateful_transfers.py``'s state machine, with violations counted instead of raised.

Each example makes sources, runs tries of the transfer operators through the fault proxy with wire faults and
kills, changes the sources between tries, and checks the oracle (see ``tests/transfers/stateful_harness.py``).
The run happens in a child process with a throwaway ``AIRFLOW_HOME``; it writes:

* rows into ``benchmarks/results.json``: examples and seconds per example, faults the proxy injected by kind,
  refused-connection pauses, kills (planned and fired), the ``possible_duplicates`` the transfers reported against
  the points in flight when faults hit (the oracle's bound, ratio <= 1) and against the duplicates really stored
  (ratio >= 1), how long a trickled answer kept a client whose timeout is 0.4 s, and the examples that broke each
  invariant (target 0, with the first one described);
* every example (its steps, the faults that fired, each try's outcome, the violations) into
  ``benchmarks/stateful_examples.json``.

``BENCH_STATEFUL_SEED`` (default 1) picks the examples; the same seed gives the same examples.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
EXAMPLES_FILE = HERE / "stateful_examples.json"
DEFAULT_EXAMPLES = 1000
STEPS = 6
VIOLATIONS = ("Corrupted", "Lost", "PhantomBadLines", "UncountedDuplicates", "OverCounted", "Stuck", "TryFailedOddly")
FAULT_LABELS = (
    "drop_before_body",
    "drop_after_body",
    "cut_answer",
    "trickle",
    "status_500",
    "status_503",
    "status_429",
    "refuse",
    "none+kill_before_forward",
    "none+kill_after_forward",
)
"""Every label the suite's faults have (tests/transfers/stateful_harness.py): one row each, 0 when none fired."""
KILLS = ("save_before", "save_after", "request_before", "request_after")


def _child(examples: int, seed_value: int, out: str) -> None:
    """``python -m benchmarks.bench_stateful EXAMPLES SEED OUT``: run the examples, write the report to OUT."""
    import logging
    import uuid

    from hypothesis import HealthCheck, Phase, seed, settings
    from hypothesis.stateful import run_state_machine_as_test

    from airflow_provider_pandora.emulator.testing import PandoraEmulator
    from tests.transfers.stateful_harness import Kodo, TransferMachine, world

    logging.getLogger("airflow_provider_pandora.emulator.http.server").setLevel(logging.CRITICAL)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    kodo: Kodo | None = None
    moto_server: Any = None
    try:
        from moto.server import ThreadedMotoServer

        from tests.moto_s3 import MotoS3
    except ImportError:
        pass
    else:
        moto_server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        moto_server.start()
        host, port = moto_server.get_host_and_port()
        moto = MotoS3(endpoint_url=f"http://{host}:{port}")
        client = moto.client()
        bucket = f"stateful-{uuid.uuid4().hex[:12]}"
        client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "cn-east-1"})
        kodo = Kodo(moto.endpoint_url, moto.access_key, moto.secret_key, bucket, client=client)
    started = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="pandora-stateful-") as workdir,
        PandoraEmulator() as emulator,
        world(Path(workdir), emulator, kodo) as shared,
    ):
        shared.log = []
        TransferMachine.world = shared
        TransferMachine.strict = False
        profile = settings(
            max_examples=examples,
            stateful_step_count=STEPS,
            deadline=None,
            database=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        run_state_machine_as_test(seed(seed_value)(TransferMachine), settings=profile)
        stats = shared.stats
        report = {
            "examples": stats.examples,
            "seconds": round(time.monotonic() - started, 1),
            "example_seconds": round(stats.seconds, 1),
            "tries": dict(stats.tries),
            "faults": dict(stats.faults),
            "refusals": len(shared.proxy.refusals),
            "kills": dict(stats.kills),
            "instances": stats.instances,
            "points_in_flight": stats.points_in_flight,
            "duplicates_stored": stats.duplicates_stored,
            "duplicates_reported": stats.duplicates_reported,
            "violations": dict(stats.violations),
            "first_violations": stats.first_violations,
            "trickle_seconds": sorted(stats.trickle_seconds),
            "log": shared.log,
        }
    if moto_server is not None:
        moto_server.stop()
    Path(out).write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")


def _in_child(examples: int, seed_value: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="pandora-stateful-home-") as home:
        out = Path(home) / "report.json"
        env = dict(
            os.environ,
            AIRFLOW_HOME=home,
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            AIRFLOW__CORE__UNIT_TEST_MODE="True",
            AIRFLOW__LOGGING__LOGGING_LEVEL="ERROR",
        )
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.bench_stateful", str(examples), str(seed_value), str(out)],
            env=env,
            cwd=HERE.parent,
            capture_output=True,
            text=True,
            timeout=max(3600, examples * 10),
            check=False,
        )
        if done.returncode != 0 or not out.exists():
            raise RuntimeError(f"the stateful run failed ({done.returncode}):\n{done.stderr[-4000:]}")
        report: dict[str, Any] = json.loads(out.read_text())
    return report


def _row(name: str, value: Any, unit: str, baseline: Any = None, **extra: Any) -> dict[str, Any]:
    ratio = round(value / baseline, 2) if isinstance(baseline, (int, float)) and baseline else None
    return {"name": name, "value": value, "unit": unit, "baseline": baseline, "ratio": ratio, **extra}


def rows_of(report: dict[str, Any], seed_value: int) -> list[dict[str, Any]]:
    """The benchmark rows of one run's report."""
    examples = int(report["examples"]) or 1
    trickles = report.get("trickle_seconds") or []
    rows = [
        _row(
            "stateful_examples",
            report["examples"],
            "examples",
            None,
            seed=seed_value,
            seconds=report["seconds"],
            tries=report["tries"],
            examples_file=EXAMPLES_FILE.name,
        ),
        _row("stateful_seconds_per_example", round(report["example_seconds"] / examples, 3), "s"),
        *(_row(f"stateful_faults_{kind}", report["faults"].get(kind, 0), "exchanges") for kind in FAULT_LABELS),
        _row("stateful_refused_pauses", report["refusals"], "pauses"),
        # tries planned to be killed, by where; a save_* kill fires only if the try reaches that many saves
        *(_row(f"stateful_kill_plans_{kind}", report["kills"].get(kind, 0), "tries") for kind in KILLS),
        _row("stateful_tries_killed", report["tries"].get("killed", 0), "tries"),
        # the count may not exceed what was in flight: lower is better here, ratio <= 1
        _row(
            "stateful_reported_vs_in_flight",
            report["duplicates_reported"],
            "points",
            report["points_in_flight"],
            target="<= 1",
        ),
        # every stored duplicate must be counted: ratio >= 1
        _row(
            "stateful_reported_vs_duplicates_stored",
            report["duplicates_reported"],
            "points",
            report["duplicates_stored"],
            target=">= 1",
        ),
    ]
    # a trickled answer must not keep the client past its timeout (the connection's, 0.4 s) by much
    rows.append(
        _row(
            "stateful_trickled_answer_max_s",
            trickles[-1] if trickles else None,
            "s",
            None,
            timeout_s=0.4,
            trickles=len(trickles),
            median_s=trickles[len(trickles) // 2] if trickles else None,
        )
    )
    for kind in VIOLATIONS:
        rows.append(
            _row(
                f"stateful_violations_{kind}",
                int(report["violations"].get(kind, 0)),
                "examples",
                0,
                target="0",
                first=report["first_violations"].get(kind),
            )
        )
    return rows


def run() -> list[dict[str, Any]]:
    examples = int(os.environ.get("BENCH_STATEFUL_EXAMPLES", DEFAULT_EXAMPLES))
    seed_value = int(os.environ.get("BENCH_STATEFUL_SEED", "1"))
    report = _in_child(examples, seed_value)
    EXAMPLES_FILE.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    broken = {kind: n for kind, n in report["violations"].items() if n}
    print(
        f"stateful: {report['examples']} examples in {report['seconds']} s; tries {report['tries']}; faults "
        f"{report['faults']}, {report['refusals']} refusal pauses, kills {report['kills']}; in flight "
        f"{report['points_in_flight']}, duplicates stored {report['duplicates_stored']}, reported "
        f"{report['duplicates_reported']}; examples written to {EXAMPLES_FILE}"
    )
    if broken:
        print(f"stateful: VIOLATIONS (examples per invariant): {broken}")
    return rows_of(report, seed_value)


if __name__ == "__main__":
    _child(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
