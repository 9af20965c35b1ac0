"""The Airflow 2.11 deployment: Postgres, the emulator, moto S3, a scheduler (LocalExecutor), a triggerer and the
webserver, driven through the stable REST API ``/api/v1`` with basic auth.

It reuses :class:`~tests.system.deployment.Deployment`'s services, ports, temp folder and clean-up, and must run
under the Airflow 2 virtualenv's Python (``make system-test`` does), because the components are that venv's
``airflow``. Without Celery the scheduler runs the tasks itself, so there is no worker to start.
"""

from __future__ import annotations

import subprocess
from typing import Any

import requests

from tests.system.deployment import ADMIN_PASSWORD, AIRFLOW, ROOT, Deployment, file_line, free_port, wait_for

# Settings only Airflow 3 (or Celery) reads; dropped so the 2.x config shows what this deployment really uses.
AIRFLOW3_ONLY = (
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS",
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE",
    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
    "AIRFLOW__API__BASE_URL",
    "AIRFLOW__API__SECRET_KEY",
    "AIRFLOW__API_AUTH__JWT_SECRET",
    "AIRFLOW__CELERY__BROKER_URL",
    "AIRFLOW__CELERY__RESULT_BACKEND",
    "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT",
)

# System DAGs that import on Airflow 2.11 too: the deliberately failing one the failure report is proved with.
AIRFLOW2_SYSTEM_DAGS = ("system_pandora_failure.py",)

USER = ("--email", "admin@example.invalid", "--firstname", "System", "--lastname", "Test")


class Airflow2Deployment(Deployment):
    """Airflow 2.11 with the LocalExecutor; the REST helpers of the base class speak ``/api/v1`` here."""

    def start(self) -> None:
        self.base.chmod(0o755)
        self.logs.mkdir()
        for name in ("pg", "redis", "api", "moto", "w1log", "trlog"):  # redis: unused, the base env names it
            self.ports[name] = free_port()
        self._start_postgres()
        self._start_emulator()
        self._start_moto()
        self.env = self._airflow_env()
        self._run("db-migrate", [AIRFLOW, "db", "migrate"])
        self._run(
            "users-create",
            [AIRFLOW, "users", "create", "--role", "Admin", "--username", "admin", "--password", ADMIN_PASSWORD, *USER],
        )
        self._spawn(
            "webserver",
            [AIRFLOW, "webserver", "--hostname", "127.0.0.1", "--port", str(self.ports["api"]), "--workers", "1"],
        )
        self._spawn("scheduler", [AIRFLOW, "scheduler"])
        self.start_triggerer()
        wait_for("moto S3 to answer", lambda: requests.get(self.moto_url, timeout=2).status_code < 500, 60)
        wait_for("the webserver to answer /api/v1 with basic auth", self._api_ready, 180, interval=1)
        wait_for("the scheduler to heartbeat", self._scheduler_healthy, 120, interval=1)

    def _run(self, name: str, argv: list[str]) -> None:
        done = subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=300, check=False)
        (self.logs / f"{name}.log").write_text(done.stdout + done.stderr)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv[1:3])} failed:\n{(done.stdout + done.stderr)[-3000:]}")

    def _airflow_env(self) -> dict[str, str]:
        env = super()._airflow_env()
        for path in (self.base / "dags").iterdir():  # the examples, and the system DAGs that import on 2.11
            if path.resolve().parent != (ROOT / "example_dags") and path.name not in AIRFLOW2_SYSTEM_DAGS:
                path.unlink()
        for key in AIRFLOW3_ONLY:
            env.pop(key, None)
        env.update(
            {
                "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
                "AIRFLOW__CORE__PARALLELISM": "16",
                "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "16",
                "AIRFLOW__API__AUTH_BACKENDS": "airflow.providers.fab.auth_manager.api.auth.backend.basic_auth",
                "AIRFLOW__WEBSERVER__SECRET_KEY": "system-test-webserver-secret",
                "AIRFLOW__WEBSERVER__WORKERS": "1",
                "AIRFLOW__WEBSERVER__WORKER_REFRESH_BATCH_SIZE": "0",
                "AIRFLOW__WEBSERVER__BASE_URL": self.api,
                "AIRFLOW__SCHEDULER__DAG_DIR_LIST_INTERVAL": "5",
                "AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL": "30",
                "AIRFLOW__SCHEDULER__SCHEDULER_ZOMBIE_TASK_THRESHOLD": "120",
                "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            }
        )
        return env

    # ---- REST API v1 ---------------------------------------------------------------------------------------
    @property
    def auth(self) -> tuple[str, str]:
        return ("admin", ADMIN_PASSWORD)

    def _api_ready(self) -> bool:
        resp = requests.get(f"{self.api}/api/v1/dags", auth=self.auth, params={"limit": 1}, timeout=10)
        return resp.status_code == 200

    def _scheduler_healthy(self) -> bool:
        health = requests.get(f"{self.api}/health", timeout=10).json()
        return bool(health["scheduler"]["status"] == "healthy")

    def request(self, method: str, path: str, **kw: Any) -> requests.Response:
        return requests.request(method, f"{self.api}/api/v1{path}", auth=self.auth, timeout=30, **kw)

    def _get_task_log(self, ti: dict[str, Any], try_number: int, accept: str = "application/json") -> requests.Response:
        path = f"/dags/{ti['dag_id']}/dagRuns/{ti['dag_run_id']}/taskInstances/{ti['task_id']}/logs/{try_number}"
        resp = requests.get(
            f"{self.api}/api/v1{path}",
            params={"full_content": "true", "map_index": ti["map_index"]},
            auth=self.auth,
            headers={"Accept": accept},
            timeout=30,
        )
        resp.raise_for_status()
        return resp

    def _api_log_lines(self, ti: dict[str, Any], try_number: int) -> list[str]:
        """Airflow 2 answers JSON with the log as a Python repr of (host, text) pairs; plain text reads better."""
        text = self._get_task_log(ti, try_number, "text/plain").text
        return [line for raw in text.splitlines() for line in file_line(raw)]

    def tails(self, lines: int = 40) -> str:
        users = self.log_text("users-create").splitlines()[-lines:]
        return super().tails(lines) + f"\n===== users-create (last {len(users)} lines) =====\n" + "\n".join(users)
