"""Transfers inside real Airflow (``dag.test()``): a retried try resumes from its checkpoint; mapped Kodo loads."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from airflow_provider_pandora.emulator.testing import PandoraEmulator
from tests.common import assert_succeeded
from tests.common import run_module_dag as run_dag
from tests.moto_s3 import KodoBucket
from tests.transfers.conftest import jsonl, users, write_lines

pytestmark = [pytest.mark.usefixtures("airflow_db"), pytest.mark.timeout(60)]


def test_retry_resumes_after_the_checkpoint(pandora: PandoraEmulator, tmp_path: Path) -> None:
    points = jsonl({"user": f"u{i}", "hits": i} for i in range(3000))
    points[2500] = '{"user": "bad", "hits": "not a number"}'
    source = write_lines(tmp_path / "in.jsonl", points)
    dagrun, tis = run_dag("pandora_test_transfer", {"source": str(source)})
    assert_succeeded(dagrun)
    load = tis["load"]
    assert load.try_number == 2
    result = load.xcom_pull(task_ids="load", key="return_value")
    assert (result["points"], result["bad_lines"], result["sources"]) == (2999, 1, 1)
    # the first try delivered the 2500 points before the bad line; the retry sent only the rest
    assert Counter(users(pandora, "t_transfer")) == Counter(f"u{i}" for i in range(3000) if i != 2500)
    assert leftover_checkpoints() == []  # deleted on success (a Variable below Airflow 3.3)


def leftover_checkpoints() -> list[str]:
    from airflow.models import Variable
    from airflow.utils.session import create_session

    with create_session() as session:
        return [v.key for v in session.query(Variable) if v.key.startswith("pandora_transfer")]


def test_mapped_kodo_loads_one_task_per_object(pandora: PandoraEmulator, kodo_conn: KodoBucket) -> None:
    for n in range(3):
        body = "".join(f'{{"user": "k{n}-{i}", "hits": {i}}}\n' for i in range(50))
        kodo_conn.put(f"logs/part-{n}.jsonl", body.encode())
    dagrun, _ = run_dag("pandora_test_transfer_kodo", {"bucket": kodo_conn.bucket, "prefix": "logs/"})
    assert_succeeded(dagrun)
    loads = [ti for ti in dagrun.get_task_instances() if ti.task_id == "load"]
    assert sorted(ti.map_index for ti in loads) == [0, 1, 2]
    assert sorted(users(pandora, "t_kodo")) == sorted(f"k{n}-{i}" for n in range(3) for i in range(50))
