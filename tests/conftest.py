"""Test-wide Airflow isolation: a throwaway AIRFLOW_HOME and no example DAGs, set before Airflow loads."""

from __future__ import annotations

import os
import tempfile
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_HOME = tempfile.mkdtemp(prefix="pandora-airflow-home-")

os.environ["AIRFLOW_HOME"] = _HOME
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")
# DAGs run by dag.test() must live under DAGS_FOLDER: the root holds example_dags/ and tests/dags/;
# .airflowignore (glob syntax on both Airflow lines) keeps the walk out of the virtualenvs.
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(ROOT))
os.environ.setdefault("AIRFLOW__CORE__DAG_IGNORE_FILE_SYNTAX", "glob")
os.environ.setdefault("AIRFLOW__CORE__TEST_CONNECTION", "Enabled")
os.environ.setdefault("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{_HOME}/airflow.db")
os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "INFO")
# Unit-test mode makes Airflow 2 default to the LocalExecutor, which refuses SQLite as soon as a
# sensor reschedules or a task defers inside dag.test(); Airflow 3 has no SequentialExecutor.
if version("apache-airflow").startswith("2."):
    os.environ.setdefault("AIRFLOW__CORE__EXECUTOR", "SequentialExecutor")


import pytest  # noqa: E402

# moto's S3 server standing in for Kodo (fixtures moto_s3, kodo_conn); boto3 loads only when they are used.
pytest_plugins = ["tests.moto_s3"]


@pytest.fixture(scope="session")
def airflow_db() -> str:
    """Migrate the throwaway metadata DB once per session, for tests that run DAGs."""
    from airflow.utils import db

    db.initdb()
    return os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
