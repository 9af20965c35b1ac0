"""A failed run explains itself: the failure message carries the failed task's log tail and the components' errors.

One short run of a DAG that raises on purpose, on the running CeleryExecutor deployment (the Airflow 2.11 twin of
this check is in test_airflow2.py; both go through tests/system/support.py).
"""

from __future__ import annotations

from tests.system.deployment import Deployment
from tests.system.support import check_failure_explains_itself


def test_a_failed_run_explains_itself(deployment: Deployment) -> None:
    report = check_failure_explains_itself(deployment)
    # the log came from the API, with the worker that ran the task named
    assert "(the REST API did not serve this log" not in report
    assert "system_pandora_failure.explode[-1]: failed on worker" in report
    assert "task.stdout: about to fail on purpose" in report
