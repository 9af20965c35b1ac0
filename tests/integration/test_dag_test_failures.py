"""A dag.test() run that fails says why: tests.common.explain() shows what each failed task raised.

The shared helpers (tests.common.dag_test / run_module_dag / assert_succeeded) are what the example, operator and
transfer DAG tests run through, so their failure messages carry the exception, not only a state.
"""

from __future__ import annotations

import re

import pytest

from tests.common import assert_succeeded, run_module_dag

pytestmark = [pytest.mark.usefixtures("airflow_db"), pytest.mark.timeout(120)]


def test_a_failing_task_shows_its_exception_and_traceback_in_the_failure_message() -> None:
    dagrun, tis = run_module_dag("pandora_test_deliberate_failure")
    with pytest.raises(AssertionError) as failed:
        assert_succeeded(dagrun)
    message = str(failed.value)
    print(message)
    assert f"dag run pandora_test_deliberate_failure / {dagrun.run_id}: failed" in message
    assert "task states: after: upstream_failed, explode: failed" in message
    assert "----- explode: failed, try 1 raised -----" in message
    assert "RuntimeError: deliberate failure 7f3a" in message
    assert re.search(r'File ".*pandora_test_deliberate_failure\.py", line \d+, in explode', message), message
    assert 'raise RuntimeError("deliberate failure 7f3a")' in message  # the source line under it
    assert "----- after: upstream_failed, never ran (an upstream task failed) -----" in message
    assert str(tis["explode"].state) == "failed"
