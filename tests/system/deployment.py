"""A real Airflow 3 deployment on loopback: Postgres, Redis, the emulator, moto S3 and every Airflow component.

Each service is its own process group under one temporary folder, on free 127.0.0.1 ports; :meth:`Deployment.stop`
(called by the session fixture's finalizer, also when a test fails) kills every group and removes the folder.

Postgres runs from Debian's server binaries as the ``postgres`` system user (``runuser``), because ``initdb``
refuses to run as root and the package already created that unprivileged account; a private cluster in the temp
folder with ``trust`` auth on 127.0.0.1 keeps it away from any system cluster.
"""

from __future__ import annotations

import contextlib
import json
import linecache
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import requests

from tests.common import CARETS

ROOT = Path(__file__).resolve().parents[2]
PG_BIN = Path("/usr/lib/postgresql/15/bin")
VENV_BIN = Path(sys.executable).parent
AIRFLOW = str(VENV_BIN / "airflow")

CANARY_AK = "AK-canary-system"
CANARY_SK = "SK-canary-sys-5c2e9a71d3"
KODO_AK = "kodo-system-ak"
KODO_CANARY_SK = "KODO-SK-canary-sys-8f31b6"
CANARIES = (CANARY_SK, KODO_CANARY_SK)
ADMIN_PASSWORD = "system-admin-pw"
WORKERS = ("worker1", "worker2")
TRIGGERER = "triggerer"
SUPERVISED = ("api-server", "scheduler", "dag-processor")  # the tests kill workers and the triggerer
OPENLINEAGE_NAMESPACE = "pandora-system"  # [openlineage] namespace: the namespace of the Airflow jobs' events


#: set to 1 to keep the deployment's folder (every component's and task's log) after the tests
KEEP_ENV = "PANDORA_SYSTEM_KEEP"


def keep_folder() -> bool:
    return os.environ.get(KEEP_ENV, "") not in ("", "0")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(what: str | Callable[[], str], check: Callable[[], Any], timeout: float, interval: float = 0.5) -> Any:
    """Poll ``check`` until it returns something truthy; on timeout fail saying what was awaited.

    ``what`` may be a callable, to say what was still missing when the time ran out.
    """
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except Exception as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(interval)
    said = what() if callable(what) else what
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {said} (last: {last!r})")


@dataclass
class Component:
    name: str
    argv: list[str]
    log: Path
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.argv, stdout=out, stderr=subprocess.STDOUT, env=self.env, start_new_session=True, cwd=ROOT
            )

    def kill(self, sig: int = signal.SIGTERM, grace: float = 15.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(timeout=grace)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@dataclass
class Deployment:
    base: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="pandora-system-")))
    components: dict[str, Component] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    emulator_url: str = ""
    token: str = ""
    #: components the watchdog restarted after they died on their own (as a process manager would)
    crashes: list[str] = field(default_factory=list)
    _stopping: threading.Event = field(default_factory=threading.Event)

    # ---- paths -------------------------------------------------------------------------------------------
    @property
    def logs(self) -> Path:
        return self.base / "logs"

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.ports['api']}"

    @property
    def moto_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['moto']}"

    @property
    def openlineage_file(self) -> Path:
        """Where the OpenLineage provider's file transport appends every event (one JSON object a line)."""
        return self.base / "openlineage.jsonl"

    # ---- lifecycle -------------------------------------------------------------------------------------
    def _spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> Component:
        comp = Component(name, argv, self.logs / f"{name}.log", env or self.env)
        self.components[name] = comp
        comp.start()
        return comp

    def start(self) -> None:
        self.base.chmod(0o755)
        self.logs.mkdir()
        for name in ("pg", "redis", "api", "moto", "w1log", "w2log", "trlog"):
            self.ports[name] = free_port()
        self._start_postgres()
        self._spawn(
            "redis",
            [
                "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.ports["redis"]),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.base),
            ],
            env=dict(os.environ),
        )
        self._start_emulator()
        self._start_moto()
        self.env = self._airflow_env()
        wait_for("redis to answer PING", self._redis_ping, 30)
        wait_for("moto S3 to answer", lambda: requests.get(self.moto_url, timeout=2).status_code < 500, 60)
        migrate = subprocess.run(
            [AIRFLOW, "db", "migrate"], env=self.env, capture_output=True, text=True, timeout=300, check=False
        )
        (self.logs / "db-migrate.log").write_text(migrate.stdout + migrate.stderr)
        if migrate.returncode != 0:
            raise RuntimeError(f"airflow db migrate failed:\n{(migrate.stdout + migrate.stderr)[-3000:]}")
        self._spawn(
            "api-server",
            [AIRFLOW, "api-server", "--host", "127.0.0.1", "--port", str(self.ports["api"]), "--workers", "1"],
        )
        self._spawn("scheduler", [AIRFLOW, "scheduler"])
        self._spawn("dag-processor", [AIRFLOW, "dag-processor"])
        self.start_triggerer()
        for n, name in enumerate(WORKERS, start=1):
            self.start_worker(name, self.ports[f"w{n}log"])
        wait_for("the API server to issue a token", self._login, 120, interval=1)
        for name in WORKERS:
            wait_for(f"celery {name} to be ready", partial(self._worker_ready, name), 120, interval=1)
        threading.Thread(target=self._watchdog, name="deployment-watchdog", daemon=True).start()

    def _watchdog(self) -> None:
        """Restart the control plane when it dies by itself (seen once: the API server segfaulted under load)."""
        while not self._stopping.wait(1.0):
            for name in SUPERVISED:
                comp = self.components.get(name)
                if comp is None or comp.alive() or self._stopping.is_set():
                    continue
                code = comp.proc.returncode if comp.proc else None
                self.crashes.append(f"{name} exited with {code} at {time.strftime('%H:%M:%S')}")
                print(f"\nwatchdog: {self.crashes[-1]}; restarting it", file=sys.stderr, flush=True)
                comp.start()

    def _worker_ready(self, name: str) -> bool:
        return "ready" in self.log_text(name)

    def start_triggerer(self) -> None:
        self._spawn("triggerer", [AIRFLOW, "triggerer"], env={**self.env, "PANDORA_SYSTEM_HOSTNAME": TRIGGERER})

    def kill_hard(self, name: str) -> None:
        """SIGKILL a component's whole process group (a lost machine: no cleanup, no goodbye to the broker)."""
        self.components[name].kill(signal.SIGKILL, grace=10)

    def start_worker(self, name: str, log_port: int) -> None:
        env = {
            **self.env,
            "PANDORA_SYSTEM_HOSTNAME": name,
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(log_port),
        }
        self._spawn(
            name,
            [
                AIRFLOW,
                "celery",
                "worker",
                "--celery-hostname",
                f"{name}@127.0.0.1",
                "--concurrency",
                "4",
                "--without-mingle",
                "--without-gossip",
            ],
            env=env,
        )

    def stop(self) -> None:
        """Stop everything; raise if a process of this deployment survived (after SIGKILLing it)."""
        self._stopping.set()
        for comp in reversed(list(self.components.values())):
            comp.kill()
        if (self.base / "pgdata" / "postmaster.pid").exists():
            self._pg(["pg_ctl", "-D", str(self.base / "pgdata"), "-m", "immediate", "stop"], check=False)
        left = self.leftovers()
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if not keep_folder():
            shutil.rmtree(self.base, ignore_errors=True)
        if left:
            raise RuntimeError(f"processes of the deployment outlived stop() and were killed: {left}")

    def leftovers(self) -> list[int]:
        """Pids of live processes that belong to this deployment (its folder in their command line or env)."""
        mark = str(self.base).encode()
        pids = []
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit() or int(proc.name) == os.getpid():
                continue
            try:
                ours = mark in (proc / "cmdline").read_bytes() or mark in (proc / "environ").read_bytes()
                if ours and (proc / "stat").read_text().split(") ", 1)[1][0] != "Z":  # zombies hold nothing
                    pids.append(int(proc.name))
            except OSError:
                continue
        return pids

    # ---- services --------------------------------------------------------------------------------------
    def _pg(self, argv: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [str(PG_BIN / argv[0]), *argv[1:]]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=check)

    def _start_postgres(self) -> None:
        data = self.base / "pgdata"
        data.mkdir()
        if os.geteuid() == 0:
            shutil.chown(data, "postgres", "postgres")
        self._pg(["initdb", "-D", str(data), "-A", "trust", "-U", "airflow", "--no-sync"])
        opts = f"-h 127.0.0.1 -p {self.ports['pg']} -k {data} -c max_connections=300 -c fsync=off"
        self._pg(["pg_ctl", "-D", str(data), "-o", opts, "-l", str(data / "postgres.log"), "-w", "start"])

    def _start_moto(self) -> None:
        """moto's S3 server standing in for Kodo (it runs from this virtualenv on either Airflow line)."""
        self._spawn(
            "moto",
            [str(VENV_BIN / "python"), "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.ports["moto"])],
            env=dict(os.environ),
        )

    def _start_emulator(self) -> None:
        comp = self._spawn(
            "emulator",
            [
                str(VENV_BIN / "python"),
                "-u",
                "-m",
                "airflow_provider_pandora.emulator",
                "--port",
                "0",
                "--credentials",
                f"{CANARY_AK}:{CANARY_SK}",
                "--data-dir",
                str(self.base / "emulator"),
                "--tick",
                "0.2",
                # http exports go to the tests' receivers (support.http_receiver), on free loopback ports picked
                # after the deployment is up: every port of 127.0.0.1 (the emulator's own is refused always)
                "--export-allow",
                "127.0.0.1",
            ],
            env=dict(os.environ),
        )
        (self.base / "emulator").mkdir(exist_ok=True)

        def url() -> str:
            for line in comp.log.read_text().splitlines():
                if line.startswith("PANDORA_EMULATOR_URL="):
                    return line.split("=", 1)[1]
            return ""

        self.emulator_url = wait_for("the emulator to print its URL", url, 30, interval=0.2)

    def _redis_ping(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.ports["redis"]), timeout=2) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")

    def _airflow_env(self) -> dict[str, str]:
        dags = self.base / "dags"
        dags.mkdir()
        for folder in (ROOT / "example_dags", ROOT / "tests" / "system" / "dags"):
            for path in sorted(folder.glob("*.py")):
                (dags / path.name).symlink_to(path)
        (self.base / "passwords.json").write_text(json.dumps({"admin": ADMIN_PASSWORD}))
        pg = f"postgresql+psycopg2://airflow@127.0.0.1:{self.ports['pg']}/postgres"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTEST"))}
        pandora = {
            "conn_type": "pandora",
            "host": self.emulator_url,
            "login": CANARY_AK,
            "password": CANARY_SK,
            "extra": {"region": "nb"},
        }
        kodo = {
            "conn_type": "kodo",
            "host": self.moto_url,
            "login": KODO_AK,
            "password": KODO_CANARY_SK,
            "extra": {"region": "cn-east-1"},
        }
        env.update(
            {
                "PYTHONPATH": str(ROOT),
                "AIRFLOW_HOME": str(self.base / "home"),
                "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
                "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
                "AIRFLOW__CORE__HOSTNAME_CALLABLE": "tests.system.hostname.get",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.base / "passwords.json"),
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.api}/execution/",
                "AIRFLOW__CORE__PARALLELISM": "64",
                "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "64",
                "AIRFLOW__API__BASE_URL": self.api,
                "AIRFLOW__API__SECRET_KEY": "system-test-secret-key",
                "AIRFLOW__API_AUTH__JWT_SECRET": "system-test-jwt-secret-0123456789abcdef",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": pg,
                "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{self.ports['redis']}/0",
                "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql+psycopg2://airflow@127.0.0.1:{self.ports['pg']}/postgres",
                "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.logs / "tasks"),
                "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(self.ports["trlog"]),
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(self.ports["w1log"]),
                "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
                "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "30",
                "AIRFLOW__TRIGGERER__CAPACITY": "200",
                # a restarted triggerer takes over a killed one's triggers once its heartbeat is this old
                "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "10",
                # OpenLineage: every component appends its events to one file the tests read (the events of the
                # example DAGs' data-moving tasks are checked in test_deployment.py, and searched for secrets)
                "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
                    {"type": "file", "log_file_path": str(self.openlineage_file), "append": True}
                ),
                "AIRFLOW__OPENLINEAGE__NAMESPACE": OPENLINEAGE_NAMESPACE,
                # pandora_repo_asset() names repos behind the emulator, as the pandora_default connection does
                "AIRFLOW__PANDORA__ASSET_ENDPOINT": self.emulator_url,
                "AIRFLOW_CONN_PANDORA_DEFAULT": json.dumps(pandora),
                "AIRFLOW_CONN_KODO_DEFAULT": json.dumps(kodo),
                "PANDORA_SYSTEM_HOSTNAME": "control",
            }
        )
        return env

    # ---- REST API ----------------------------------------------------------------------------------------
    def _login(self) -> bool:
        resp = requests.post(
            f"{self.api}/auth/token", json={"username": "admin", "password": ADMIN_PASSWORD}, timeout=10
        )
        if resp.status_code not in (200, 201):
            return False
        self.token = resp.json()["access_token"]
        return True

    def request(self, method: str, path: str, **kw: Any) -> requests.Response:
        for _ in range(2):
            resp = requests.request(
                method, f"{self.api}/api/v2{path}", headers={"Authorization": f"Bearer {self.token}"}, timeout=30, **kw
            )
            if resp.status_code != 401:
                break
            self._login()
        return resp

    def get(self, path: str, **params: Any) -> Any:
        resp = self.request("GET", path, params=params)
        resp.raise_for_status()
        return resp.json()

    def trigger(self, dag_id: str, conf: dict[str, Any], logical_date: str | None = None) -> str:
        resp = self.request("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": logical_date, "conf": conf})
        if resp.status_code >= 300:
            raise RuntimeError(f"triggering {dag_id} failed: {resp.status_code} {resp.text}")
        return str(resp.json()["dag_run_id"])

    def wait_dags(self, dag_ids: set[str], timeout: float = 180) -> None:
        def parsed() -> bool:
            found = {d["dag_id"] for d in self.get("/dags", limit=100)["dags"]}
            errors = self.get("/importErrors")["import_errors"]
            if errors:
                raise AssertionError(f"DAG import errors: {errors}")
            return dag_ids <= found

        wait_for(f"the DAG processor to parse {sorted(dag_ids)}", parsed, timeout, interval=2)

    def wait_run(self, dag_id: str, run_id: str, timeout: float = 300) -> str:
        def done() -> str:
            state = self.get(f"/dags/{dag_id}/dagRuns/{run_id}")["state"]
            return state if state in ("success", "failed") else ""

        return str(wait_for(f"run {dag_id}/{run_id} to finish", done, timeout, interval=2))

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        return list(self.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", limit=1000)["task_instances"])

    def _get_task_log(self, ti: dict[str, Any], try_number: int, accept: str = "application/json") -> requests.Response:
        path = f"/dags/{ti['dag_id']}/dagRuns/{ti['dag_run_id']}/taskInstances/{ti['task_id']}/logs/{try_number}"
        resp = requests.get(
            f"{self.api}/api/v2{path}",
            params={"full_content": "true", "map_index": ti["map_index"]},
            headers={"Authorization": f"Bearer {self.token}", "Accept": accept},
            timeout=30,
        )
        resp.raise_for_status()
        return resp

    def task_log(self, ti: dict[str, Any], try_number: int) -> str:
        """The API's answer for one try's log, as JSON text (for checks that a string is, or is not, in it)."""
        return json.dumps(self._get_task_log(ti, try_number).json())

    def _api_log_lines(self, ti: dict[str, Any], try_number: int) -> list[str]:
        """Airflow 3 serves structured events (the worker's and the triggerer's merged), rendered here."""
        events = self._get_task_log(ti, try_number).json()["content"]
        return [line for event in events for line in log_event_lines(event)]

    def task_log_lines(self, ti: dict[str, Any], try_number: int) -> list[str]:
        """One try's log as a person reads it: from the REST API, or from the logs folder when the API cannot
        answer (both Airflow lines write ``dag_id=/run_id=/task_id=/[map_index=/]attempt=N.log`` there)."""
        try:
            return self._api_log_lines(ti, try_number)
        except (requests.RequestException, ValueError, KeyError) as exc:
            folder = self.logs / "tasks" / f"dag_id={ti['dag_id']}" / f"run_id={ti['dag_run_id']}"
            folder /= f"task_id={ti['task_id']}"
            if ti["map_index"] >= 0:
                folder /= f"map_index={ti['map_index']}"
            path = folder / f"attempt={try_number}.log"
            said = f"(the REST API did not serve this log: {exc!r}; read from {path})"
            if not path.exists():
                return [said, "(no such file)"]
            return [said, *(line for raw in path.read_text(errors="replace").splitlines() for line in file_line(raw))]

    def xcom(self, ti: dict[str, Any], key: str = "return_value") -> Any:
        path = f"/dags/{ti['dag_id']}/dagRuns/{ti['dag_run_id']}/taskInstances/{ti['task_id']}/xcomEntries/{key}"
        return self.get(path, map_index=ti["map_index"], deserialize="true")["value"]

    # ---- the emulator's public admin surface (unsigned, loopback) ------------------------------------
    def repo_total(self, repo: str) -> int:
        resp = requests.get(f"{self.emulator_url}/_emulator/repos/{repo}/points", params={"limit": 1}, timeout=30)
        resp.raise_for_status()
        return int(resp.json()["total"])

    def repo_points(self, repo: str, page: int = 50000) -> list[dict[str, Any]]:
        points: list[dict[str, Any]] = []
        while True:
            resp = requests.get(
                f"{self.emulator_url}/_emulator/repos/{repo}/points",
                params={"offset": len(points), "limit": page},
                timeout=120,
            )
            resp.raise_for_status()
            got = resp.json()["points"]
            points += got
            if len(got) < page:
                return points

    def add_fault(self, **fault: Any) -> None:
        requests.post(f"{self.emulator_url}/_emulator/faults", json=fault, timeout=10).raise_for_status()

    def clear_faults(self) -> None:
        requests.delete(f"{self.emulator_url}/_emulator/faults", timeout=10).raise_for_status()

    # ---- diagnostics -------------------------------------------------------------------------------------
    def log_text(self, name: str) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def all_log_files(self) -> list[Path]:
        files = [p for p in self.logs.rglob("*") if p.is_file()]
        files.append(self.base / "pgdata" / "postgres.log")
        return [p for p in files if p.exists()]

    def error_lines(self, name: str, last: int = 20) -> list[str]:
        """The last ``last`` lines of a component's log that say something went wrong (tracebacks whole)."""
        return error_lines(self.log_text(name).splitlines())[-last:]

    def tails(self, lines: int = 40) -> str:
        out = []
        for name in [*self.components, "db-migrate"]:
            text = self.log_text(name).splitlines()[-lines:]
            out.append(f"===== {name} (last {len(text)} lines) =====\n" + "\n".join(text))
        return "\n".join(out)


# ---- reading logs ------------------------------------------------------------------------------------------
# a log line that says something went wrong, in either Airflow line's format ("ERROR -", "[error    ]"), or an
# exception's own line ("RuntimeError: ...", "airflow.exceptions.AirflowException: ...")
ERROR_LINE = re.compile(
    r"Traceback \(most recent|\bException\b|^[\w.]*(Error|Exception)\b:"
    r"|\b(ERROR|CRITICAL|FATAL)\b|\[(error|critical) *\]"
)
CHAINED = ("During handling of the above exception", "The above exception was the direct cause")


def error_lines(lines: list[str]) -> list[str]:
    """The lines of a log that say something went wrong, with every traceback kept whole up to its exception."""
    picked: list[str] = []
    in_traceback = False
    for line in lines:
        if CARETS.match(line):
            continue
        if line.startswith(("Traceback (most recent call last)", *CHAINED)):
            in_traceback = True
            picked.append(line)
        elif in_traceback and (not line.strip() or line[0].isspace()):
            picked.append(line)
        elif in_traceback:  # the exception's own line ends the traceback
            in_traceback = False
            picked.append(line)
        elif ERROR_LINE.search(line):
            picked.append(line)
    return picked


# what every line of a task's structured log repeats: left out of the rendered line
_CONTEXT = {"timestamp", "level", "event", "logger", "filename", "lineno", "error_detail", "exception"}
_CONTEXT |= {"run_id", "map_index", "dag_id", "task_id", "ti_id", "try_number"}


def log_event_lines(event: Any) -> list[str]:
    """One event of an Airflow 3 task log (a JSON object) as text, its ``error_detail`` as a Python traceback."""
    if not isinstance(event, dict):
        return [line for line in str(event).splitlines() if not CARETS.match(line)]
    head = " ".join(
        str(part)
        for part in (event.get("timestamp", ""), f"[{event['level']}]" if "level" in event else "", event.get("logger"))
        if part
    )
    extra = " ".join(f"{k}={v!r}" for k, v in event.items() if k not in _CONTEXT)
    lines = [" ".join(p for p in (head + ":" if head else "", str(event.get("event", "")), extra) if p)]
    if isinstance(event.get("exception"), str):
        lines += event["exception"].splitlines()
    if isinstance(event.get("error_detail"), list):
        lines += traceback_lines(event["error_detail"])
    return lines


def traceback_lines(stacks: list[dict[str, Any]]) -> list[str]:
    """structlog's dict traceback (outermost exception first, each followed by its cause or context) as Python
    prints it: innermost first, each frame with its source line when the file is on this machine."""
    lines: list[str] = []
    for n, stack in enumerate(reversed(stacks)):
        if n:
            lines.append("")
            lines.append(
                "The above exception was the direct cause of the following exception:"
                if stacks[len(stacks) - n].get("is_cause")
                else "During handling of the above exception, another exception occurred:"
            )
            lines.append("")
        lines.append("Traceback (most recent call last):")
        for frame in stack.get("frames") or []:
            lines.append(f'  File "{frame.get("filename")}", line {frame.get("lineno")}, in {frame.get("name")}')
            source = linecache.getline(str(frame.get("filename")), int(frame.get("lineno") or 0)).strip()
            if source:
                lines.append(f"    {source}")
        value = stack.get("exc_value")
        lines.append(f"{stack.get('exc_type')}: {value}" if value else str(stack.get("exc_type")))
    return lines


def file_line(raw: str) -> list[str]:
    """A line of a task log file: a JSON event on Airflow 3, plain text on Airflow 2."""
    if raw.startswith("{"):
        try:
            return log_event_lines(json.loads(raw))
        except ValueError:
            pass
    return [] if CARETS.match(raw) else [raw]
