"""Every example DAG on a real CeleryExecutor deployment, driven and read back through the REST API v2 only."""

from __future__ import annotations

import base64
import copy
import importlib
import json
import os
import pkgutil
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.system.deployment import (
    CANARIES,
    CANARY_AK,
    KODO_AK,
    TRIGGERER,
    WORKERS,
    Deployment,
    wait_for,
)
from tests.system.support import assert_runs_succeeded, example_confs, http_receiver, kodo_objects

EXAMPLES = {
    "example_pandora_pipeline",
    "example_pandora_exports",
    "example_pandora_push_data",
    "example_pandora_scheduled_job",
    "example_pandora_sensors",
    "example_pandora_plugin",
    "example_pandora_kodo_mapped",
    "example_pandora_assets_producer",
    "system_pandora_asset_transfer",
}
# DAG scheduled on an asset -> the DAG whose task writes it (the example's upstream is a push; the system DAG's a
# transfer): their runs are not triggered by the test but by the upstream run's asset event
ASSET_CONSUMERS = {
    "example_pandora_assets_consumer": "example_pandora_assets_producer",
    "system_pandora_asset_downstream": "system_pandora_asset_transfer",
}
# the consumer's task that returns the extra of the events its run was triggered by
EVENT_READER = {
    "example_pandora_assets_consumer": "what_was_written",
    "system_pandora_asset_downstream": "triggered_by",
}
JOB_TRIGGER = "airflow_provider_pandora.triggers.jobs.PandoraJobTrigger"
GROUP_TRIGGER = "airflow_provider_pandora.triggers.groups.PandoraGroupStatusTrigger"
# (dag, task, map index) -> the trigger it must have handed its wait to. The examples' other deferrable tasks
# mostly find their condition met on the first check (the emulator is fast) and finish without deferring.
MUST_DEFER = {
    ("system_pandora_deferred", "run_job", -1): JOB_TRIGGER,  # the deferrable job operator
    ("system_pandora_deferred", "job_done", 0): JOB_TRIGGER,
    ("system_pandora_deferred", "job_done", 1): JOB_TRIGGER,
    ("system_pandora_deferred", "group_idle", -1): GROUP_TRIGGER,
    ("example_pandora_sensors", "job_done_deferred", -1): JOB_TRIGGER,
}
KODO_OBJECTS, KODO_LINES = 6, 50
ASSET_USERS = 20  # points the assets example's producer pushes
ASSET_LINES = 40  # lines system_pandora_asset_transfer loads
RUNS: dict[str, str] = {}


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[str, list[bytes]]]:
    with http_receiver() as received:
        yield received


def watch_runs(dep: Deployment, runs: dict[str, str], timeout: float) -> dict[tuple[str, str, int], dict[str, Any]]:
    """Wait for every run to finish, noting each task instance seen deferred: its trigger and triggerer job."""
    deferred: dict[tuple[str, str, int], dict[str, Any]] = {}
    pending = dict(runs)

    def step() -> bool:
        for dag_id, run_id in list(pending.items()):
            for ti in dep.task_instances(dag_id, run_id):
                if ti["state"] == "deferred" and ti.get("trigger"):
                    deferred[(dag_id, ti["task_id"], ti["map_index"])] = {
                        "classpath": ti["trigger"]["classpath"],
                        "triggerer_job": ti.get("triggerer_job") or {},
                        "worker": ti["hostname"],
                    }
            if dep.get(f"/dags/{dag_id}/dagRuns/{run_id}")["state"] in ("success", "failed"):
                del pending[dag_id]
        return not pending

    wait_for(lambda: f"runs to finish: {sorted(pending)}", step, timeout, interval=1.5)
    return deferred


def asset_source(dep: Deployment) -> Path:
    """The JSONL file system_pandora_asset_transfer loads: :data:`ASSET_LINES` clicks."""
    path = dep.base / "asset-clicks.jsonl"
    path.write_text("".join(json.dumps({"user": f"a{i}", "hits": i}) + "\n" for i in range(ASSET_LINES)))
    return path


def test_every_example_dag_succeeds(deployment: Deployment, receiver: tuple[str, list[bytes]]) -> None:
    dep = deployment
    dep.wait_dags({*EXAMPLES, *ASSET_CONSUMERS, "system_pandora_deferred"})
    url, bodies = receiver
    confs: dict[str, dict[str, Any]] = {
        # a job long enough for the deferrable sensor to find it still running
        **example_confs(dep, "s", url, sensors=120, sensor_job_seconds=15),
        "example_pandora_kodo_mapped": {"prefix": "skm", "bucket": kodo_objects(dep, "sys", KODO_OBJECTS, KODO_LINES)},
        # the job runs long enough for group_idle to start while the group still runs (20 s was lost to a loaded
        # machine once the asset DAGs ran beside it: group_running resumed 25 s after its trigger fired)
        "system_pandora_deferred": {"prefix": "sd", "sleep": 40, "sensors": 2},
        "example_pandora_assets_producer": {"users": ASSET_USERS},
        "system_pandora_asset_transfer": {"source_path": str(asset_source(dep))},
    }
    for dag_id, conf in confs.items():
        # No logical date: Airflow 3's default for runs triggered through the UI or the REST API.
        RUNS[dag_id] = dep.trigger(dag_id, conf)
    deferred = watch_runs(dep, RUNS, timeout=480)
    assert_runs_succeeded(dep, RUNS)
    assert sum(b.count(b"\n") for b in bodies) >= 300  # the pipeline's HTTP export delivered its points

    print("task instances seen deferred:", {f"{d}.{t}[{m}]": v["classpath"] for (d, t, m), v in deferred.items()})
    for (dag_id, task_id, map_index), trigger in MUST_DEFER.items():
        name = f"{dag_id}.{task_id}[{map_index}]"
        seen = deferred.get((dag_id, task_id, map_index))
        assert seen is not None, f"{name} was never seen deferred"
        assert seen["classpath"] == trigger, (name, seen)
        # the trigger was assigned to the triggerer process, not run inline
        assert seen["triggerer_job"].get("job_type") == "TriggererJob", (name, seen)
        assert seen["triggerer_job"].get("hostname") == TRIGGERER, (name, seen)
        (ti,) = [
            t
            for t in dep.task_instances(dag_id, RUNS[dag_id])
            if t["task_id"] == task_id and t["map_index"] == map_index
        ]
        assert ti["state"] == "success"
        assert ti["hostname"] in WORKERS, f"{name} resumed on {ti['hostname']!r}, not a Celery worker"
        log = dep.task_log(ti, ti["try_number"])
        # What Airflow 3.3 writes: the worker pauses the task, the triggerer's own log file (merged in by the
        # API) says the trigger started and fired our event, then a worker runs the task again.
        assert "Pausing task as DEFERRED" in log, f"{name}: no deferral in its log:\n{log[-3000:]}"
        assert ".trigger." in log, f"{name}: no triggerer log in its log:\n{log[-3000:]}"
        assert "Trigger fired event" in log, f"{name}: the trigger never fired:\n{log[-3000:]}"
        fired = log.index("Trigger fired event")
        assert "'status': 'success'" in log[fired : fired + 400], log[fired : fired + 400]
        assert log.count("Pre Execute") >= 2, f"{name}: not resumed on a worker:\n{log[-3000:]}"
    trigger_files = sorted(dep.logs.rglob("*.trigger.*.log"))
    assert len(trigger_files) >= len(MUST_DEFER), trigger_files


def pandora_namespace(dep: Deployment) -> str:
    """``pandora://<host>:<port>`` of the emulator, spelled here from its URL (not by the code under test)."""
    return f"pandora://{urlsplit(dep.emulator_url).netloc}"


def test_asset_scheduled_dags_run_after_their_upstream(deployment: Deployment) -> None:
    """The push (the example) and the transfer (a system DAG) with a ``pandora`` outlet each record one asset event
    with what they wrote in ``extra``, and that event starts a run of the DAG scheduled on the repo."""
    dep = deployment
    if not set(ASSET_CONSUMERS.values()) <= set(RUNS):
        pytest.skip("needs the example runs")
    ns = pandora_namespace(dep)
    expected_extra: dict[str, tuple[str, dict[str, Any]]] = {
        "example_pandora_assets_producer": ("assets_clicks", {"points": ASSET_USERS}),
        "system_pandora_asset_transfer": (
            "sys_asset_loaded",
            {"points": ASSET_LINES, "bad_lines": 0, "sources": 1, "source": f"file://{dep.base}/asset-clicks.jsonl"},
        ),
    }
    for consumer, upstream in ASSET_CONSUMERS.items():
        repo, extra = expected_extra[upstream]

        def triggered_run(consumer: str = consumer) -> dict[str, Any] | None:
            runs = dep.get(f"/dags/{consumer}/dagRuns")["dag_runs"]
            return next((r for r in runs if r["state"] in ("success", "failed")), None) if runs else None

        run = wait_for(f"a finished run of {consumer}", triggered_run, 300, interval=2)
        RUNS[consumer] = run["dag_run_id"]  # the secrets and lineage tests read it too
        assert_runs_succeeded(dep, {consumer: run["dag_run_id"]})
        assert (run["run_type"], run["triggered_by"]) == ("asset_triggered", "asset"), run
        assert len(dep.get(f"/dags/{consumer}/dagRuns")["dag_runs"]) == 1, f"{consumer} ran more than once"

        events = dep.get("/assets/events", source_dag_id=upstream, source_run_id=RUNS[upstream])["asset_events"]
        print(f"{upstream} -> {consumer}: asset events {[(e['uri'], e['extra']) for e in events]}")
        (event,) = [e for e in events if e["uri"].startswith("pandora://")]
        assert event["uri"] == f"{ns}/{repo}", event
        assert {k: event["extra"].get(k) for k in extra} == extra, event["extra"]
        assert int(event["extra"]["bytes"]) > 0, event["extra"]
        assert int(event["extra"]["batches"]) >= 1, event["extra"]
        created = [(r["dag_id"], r["run_id"], r["triggering"]) for r in event["created_dagruns"]]
        assert created == [(consumer, run["dag_run_id"], True)], event["created_dagruns"]

        # the downstream task saw the same event
        (ti,) = [t for t in dep.task_instances(consumer, run["dag_run_id"]) if t["task_id"] == EVENT_READER[consumer]]
        seen = dep.xcom(ti)
        seen_extras = [e["extra"] for e in seen] if isinstance(seen, list) else seen["events"]
        assert seen_extras == [event["extra"]], (ti["task_id"], seen)
        if isinstance(seen, list):
            assert [e["uri"] for e in seen] == [event["uri"]], seen

    # the example consumer's job run puts its run on its own outlet's event
    (totals,) = dep.get("/assets/events", source_dag_id="example_pandora_assets_consumer")["asset_events"]
    assert totals["uri"] == f"{ns}/assets_click_totals", totals
    assert (totals["extra"]["job"], totals["extra"]["status"]) == ("assets_click_totals", "Success"), totals
    assert totals["extra"]["run_id"] is not None, totals["extra"]


# ---- OpenLineage -------------------------------------------------------------------------------------------
OL_METHODS = (
    "get_openlineage_facets_on_start",
    "get_openlineage_facets_on_complete",
    "get_openlineage_facets_on_failure",
)
#: operators that report lineage but that no DAG run here uses; every other one is checked at least once
NOT_IN_EXAMPLES = {"PandoraUpdateTransformOperator"}
Names = set[tuple[str, str]]  # (namespace, name) of OpenLineage datasets


@dataclass
class Expected:
    """What one task instance's COMPLETE event must say (``None`` instead of this: empty inputs and outputs)."""

    inputs: Names
    outputs: Names
    lifecycle: str | None = None  # the output's lifecycleStateChange
    schema: list[str] | None = None  # the output's schema field names
    rows: int | None = None  # the output's outputStatistics
    size: int | None = None
    sql: str | None = None  # the sql job facet, on COMPLETE (and on START when sql_on_start)
    sql_on_start: bool = False
    external_query: str | None = None  # the externalQuery run facet's id ("" = present, id not known)
    transfer: dict[str, int] = field(default_factory=dict)  # pandora_transfer run facet fields


@dataclass
class Task:
    """A task instance of a run, with what the REST API says it rendered and returned."""

    ti: dict[str, Any]
    cls: str
    fields: dict[str, Any]
    xcom: Any
    run_tasks: list[Task]


def lineage_operator_classes() -> set[str]:
    """The provider's operators that report OpenLineage: a class of ours in their MRO defines an OL method."""
    import airflow_provider_pandora.operators as operators
    import airflow_provider_pandora.transfers as transfers

    found = set()
    for package in (operators, transfers):
        for info in pkgutil.iter_modules(package.__path__, f"{package.__name__}."):
            module = importlib.import_module(info.name)
            for name, obj in vars(module).items():
                ours = [k for k in getattr(obj, "__mro__", ()) if k.__module__.startswith("airflow_provider_pandora")]
                if (
                    isinstance(obj, type)
                    and obj.__module__ == module.__name__
                    and not name.startswith(("Base", "_"))
                    and any(m in vars(k) for k in ours for m in OL_METHODS)
                ):
                    found.add(name)
    return found


def sql_repos(code: str, repo: str) -> set[str]:
    """The repos SQL reads as the docs say: the names after FROM or JOIN, ``stream`` being the source repo."""
    names = re.findall(r"\b(?:from|join)\s+([A-Za-z_][A-Za-z0-9_]*)", code, flags=re.IGNORECASE)
    return {repo, *(repo if n == "stream" else n for n in names)}


def export_output(dep: Deployment, export_type: str, spec: dict[str, Any]) -> tuple[str, str]:
    """Where an export delivers, named as docs/howto/assets.rst says (never with credentials)."""
    authority = urlsplit(dep.emulator_url).netloc
    if export_type == "http":
        host = urlsplit(spec["host"])
        return f"{host.scheme}://{host.netloc}", host.path.rstrip("/") + spec["uri"]
    if export_type == "tsdb":
        return f"pandora-tsdb://{authority}", f"{spec['destRepoName']}/{spec['series']}"
    if export_type == "logdb":
        return f"pandora-logdb://{authority}", spec["destRepoName"]
    if export_type == "kodo":
        return f"kodo://{spec['bucket']}", spec["keyPrefix"].split("$(", 1)[0] or "/"
    if export_type == "mongo":
        return f"mongodb://{spec['host']}", f"{spec['dbName']}.{spec['collName']}"
    raise AssertionError(f"no expected name for a {export_type} export")


def expected_lineage(dep: Deployment, task: Task) -> Expected | None:
    """What the task's operator must have reported, from its rendered fields and its XCom (what it did)."""
    ns, f, xcom, cls = pandora_namespace(dep), task.fields, task.xcom or {}, task.cls
    changed = xcom.get("action") in ("created", "updated")
    if cls in ("PandoraCreateRepoOperator", "PandoraUpdateRepoOperator"):
        if not changed:
            return None
        kodo = f.get("repo_type") == "kodo" and f.get("bucket")
        return Expected(
            inputs={(f"kodo://{f['bucket']}", f.get("key_prefix") or "/")} if kodo else set(),
            outputs={(ns, f["repo"])},
            lifecycle="CREATE" if xcom["action"] == "created" else "ALTER",
            schema=[field["key"] for field in f["schema"]],
        )
    if cls == "PandoraDeleteRepoOperator":
        return Expected(set(), {(ns, f["repo"])}, lifecycle="DROP") if xcom.get("deleted") else None
    if cls == "PandoraPushDataOperator":
        return Expected(set(), {(ns, f["repo"])}, rows=xcom["points"], size=xcom["bytes"])
    if cls in ("LocalFilesystemToPandoraOperator", "KodoToPandoraOperator"):
        source = (
            ("file", os.path.abspath(f["source_path"])) if "source_path" in f else (f"kodo://{f['bucket']}", f["key"])
        )
        counts = {"points": xcom["points"], "bytes": xcom["bytes"], "badLines": xcom["bad_lines"], "sources": 1}
        return Expected({source}, {(ns, f["repo"])}, rows=xcom["points"], size=xcom["bytes"], transfer=counts)
    if cls in ("PandoraCreateTransformOperator", "PandoraSubmitJobOperator"):
        if not changed:
            return None
        inputs = {(ns, r) for r in sql_repos(f["code"], f["repo"])}
        return Expected(inputs, {(ns, f["dest_repo"])}, sql=f["code"], sql_on_start=True)
    if cls == "PandoraStartJobOperator":
        (submit,) = [
            t
            for t in task.run_tasks
            if t.cls == "PandoraSubmitJobOperator" and (t.fields["repo"], t.fields["job"]) == (f["repo"], f["job"])
        ]
        code = submit.fields["code"]
        run_id = (xcom.get("run") or {}).get("run_id")
        inputs = {(ns, r) for r in sql_repos(code, f["repo"])}
        return Expected(
            inputs, {(ns, submit.fields["dest_repo"])}, sql=code, external_query="" if run_id is None else str(run_id)
        )
    if cls in ("PandoraCreateExportOperator", "PandoraUpdateExportOperator"):
        if cls == "PandoraCreateExportOperator" and not changed:
            return None
        return Expected({(ns, f["repo"])}, {export_output(dep, f["export_type"], f["spec"])})
    raise AssertionError(f"{cls} reports lineage but this test has no expectation for it: add one")


def event_key(event: dict[str, Any]) -> tuple[str, str, int, int]:
    """(job name, run id, map index, try number) of a task's OpenLineage event."""
    airflow = event["run"]["facets"].get("airflow") or {}
    ti = airflow.get("taskInstance") or {}
    map_index = ti.get("map_index")
    run_id = (airflow.get("dagRun") or {}).get("run_id", "")
    return event["job"]["name"], run_id, -1 if map_index is None else int(map_index), int(ti.get("try_number") or 0)


def lineage_problems(
    expected: Expected | None, starts: list[dict[str, Any]], completes: list[dict[str, Any]]
) -> list[str]:
    """What is wrong with one task instance's START and COMPLETE events (nothing: an empty list)."""
    if not starts or len(completes) != 1:
        return [f"{len(starts)} START and {len(completes)} COMPLETE events (want >= 1 and 1)"]
    done = completes[0]
    got_in = {(d["namespace"], d["name"]) for d in done.get("inputs") or []}
    got_out = {(d["namespace"], d["name"]) for d in done.get("outputs") or []}
    if expected is None:
        return [] if not got_in and not got_out else [f"did nothing, yet reports inputs {got_in} outputs {got_out}"]
    problems = []
    if got_in != expected.inputs:
        problems.append(f"inputs {sorted(got_in)} != {sorted(expected.inputs)}")
    if got_out != expected.outputs:
        problems.append(f"outputs {sorted(got_out)} != {sorted(expected.outputs)}")
    out = (done.get("outputs") or [{}])[0]
    facets, stats = out.get("facets") or {}, (out.get("outputFacets") or {}).get("outputStatistics") or {}
    checks: list[tuple[str, Any, Any]] = []
    if expected.lifecycle is not None:
        checks.append(
            ("lifecycle", (facets.get("lifecycleStateChange") or {}).get("lifecycleStateChange"), expected.lifecycle)
        )
    if expected.schema is not None:
        checks.append(("schema", [x["name"] for x in (facets.get("schema") or {}).get("fields", [])], expected.schema))
    if expected.rows is not None:
        checks.append(("rowCount", stats.get("rowCount"), expected.rows))
    if expected.size is not None:
        checks.append(("size", stats.get("size"), expected.size))
    if expected.sql is not None:
        checks.append(("sql", (done["job"].get("facets", {}).get("sql") or {}).get("query"), expected.sql))
    if expected.sql_on_start:
        checks.append(
            ("sql on START", (starts[0]["job"].get("facets", {}).get("sql") or {}).get("query"), expected.sql)
        )
    run_facets = done["run"]["facets"]
    if expected.external_query is not None:
        external = run_facets.get("externalQuery") or {}
        checks.append(("externalQuery source", external.get("source"), next(iter(expected.outputs))[0]))
        if expected.external_query:
            checks.append(("externalQuery id", external.get("externalQueryId"), expected.external_query))
    for key, value in expected.transfer.items():
        checks.append((f"pandora_transfer.{key}", (run_facets.get("pandora_transfer") or {}).get(key), value))
    problems += [f"{what}: {got!r} != {want!r}" for what, got, want in checks if got != want]
    return problems


# ways to break an event that the check must notice (proof that it can fail)
MUTATIONS: dict[str, Any] = {
    "an input dropped": lambda e: e["inputs"].pop(),
    "an output renamed": lambda e: e["outputs"][0].update(namespace="pandora://elsewhere:1"),
    "outputStatistics dropped": lambda e: e["outputs"][0]["outputFacets"].pop("outputStatistics"),
    "schema dropped": lambda e: e["outputs"][0]["facets"].pop("schema"),
    "lifecycleStateChange dropped": lambda e: e["outputs"][0]["facets"].pop("lifecycleStateChange"),
    "sql dropped": lambda e: e["job"]["facets"].pop("sql"),
    "externalQuery dropped": lambda e: e["run"]["facets"].pop("externalQuery"),
    "pandora_transfer dropped": lambda e: e["run"]["facets"].pop("pandora_transfer"),
}


def test_openlineage_events_of_every_data_moving_task(deployment: Deployment) -> None:
    """Every example task whose operator reports lineage emitted START and COMPLETE (file transport, written by
    the Celery workers) with the inputs, outputs and facets that its rendered fields and XCom say it moved."""
    dep = deployment
    if not RUNS:
        pytest.skip("needs the example runs")
    lines = dep.openlineage_file.read_text().splitlines()
    events = [json.loads(line) for line in lines if line.strip()]  # a torn line (interleaved writes) fails here
    by_key: dict[tuple[str, str, int, int], dict[str, list[dict[str, Any]]]] = {}
    for event in events:
        by_key.setdefault(event_key(event), {}).setdefault(event["eventType"], []).append(event)
    reporting = lineage_operator_classes()
    assert reporting >= {"PandoraPushDataOperator", "LocalFilesystemToPandoraOperator", "KodoToPandoraOperator"}

    checked: dict[str, int] = {}
    problems: list[str] = []
    cases: list[tuple[Expected | None, list[dict[str, Any]], list[dict[str, Any]]]] = []
    for dag_id, run_id in RUNS.items():
        classes = {t["task_id"]: t["class_ref"]["class_name"] for t in dep.get(f"/dags/{dag_id}/tasks")["tasks"]}
        tasks: list[Task] = []
        for ti in dep.task_instances(dag_id, run_id):
            cls = classes[ti["task_id"]]
            if cls in reporting:
                tasks.append(Task(ti, cls, ti["rendered_fields"], dep.xcom(ti), tasks))
        for task in tasks:
            ti = task.ti
            name = f"{dag_id}.{ti['task_id']}[{ti['map_index']}] ({task.cls})"
            expected = expected_lineage(dep, task)
            seen = by_key.get((f"{dag_id}.{ti['task_id']}", run_id, ti["map_index"], ti["try_number"]), {})
            starts, completes = seen.get("START", []), seen.get("COMPLETE", [])
            problems += [f"{name}: {p}" for p in lineage_problems(expected, starts, completes)]
            cases.append((expected, starts, completes))
            checked[task.cls] = checked.get(task.cls, 0) + 1
    print(f"checked the OpenLineage events ({len(events)} in the file) of {sum(checked.values())} tasks: {checked}")
    assert not problems, "\n".join(problems)
    assert set(checked) == reporting - NOT_IN_EXAMPLES, (sorted(checked), sorted(reporting))

    # the check is not vacuous: each way of breaking an event it checks is noticed
    for what, mutate in MUTATIONS.items():
        caught = tried = 0
        for expected, starts, completes in cases:
            if expected is None:
                continue
            broken = copy.deepcopy(completes)
            try:
                mutate(broken[0])
            except (KeyError, IndexError):
                continue  # this event has nothing of that kind
            tried += 1
            caught += bool(lineage_problems(expected, starts, broken))
        assert tried, f"no checked event has what {what!r} breaks"
        assert caught == tried, f"{what}: noticed in {caught} of {tried} events"


def derived_forms(secret: str) -> list[str]:
    """The secret and encodings a leak would take (HMAC signatures are caught by the Authorization prefix)."""
    raw = secret.encode()
    forms = {secret, raw.hex(), base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()}
    return sorted(forms | {f.rstrip("=") for f in forms})


# Any Authorization value would carry these: the signature after "Pandora AK:" is derived from the SK.
SIGNED = [f"Pandora {CANARY_AK}:", "AWS4-HMAC-SHA256 Credential=", f"Credential={KODO_AK}"]
NEEDLES = [n for secret in CANARIES for n in derived_forms(secret)] + SIGNED


def test_no_secret_in_logs_task_logs_or_xcoms(deployment: Deployment) -> None:
    dep = deployment
    if not RUNS:
        pytest.skip("needs the example runs")
    leaks = []
    # the OpenLineage events too: they carry each task's attributes and the DAG run's conf
    assert dep.openlineage_file.stat().st_size > 0, "no OpenLineage events were written"
    for path in [*dep.all_log_files(), dep.openlineage_file]:
        text = path.read_text(errors="replace")
        leaks += [f"{path}: {s}" for s in NEEDLES if s in text]
    checked_logs = checked_xcoms = 0
    for dag_id, run_id in RUNS.items():
        for ti in dep.task_instances(dag_id, run_id):
            leaks += [f"rendered fields {ti['task_id']}: {s}" for s in NEEDLES if s in json.dumps(ti)]
            for attempt in range(1, int(ti["try_number"] or 0) + 1):
                log = dep.task_log(ti, attempt)
                checked_logs += 1
                leaks += [f"task log {ti['task_id']}: {s}" for s in NEEDLES if s in log]
            base = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{ti['task_id']}/xcomEntries"
            for entry in dep.get(base, map_index=ti["map_index"])["xcom_entries"]:
                value = dep.get(f"{base}/{entry['key']}", map_index=ti["map_index"], stringify="true")
                checked_xcoms += 1
                leaks += [f"xcom {ti['task_id']}/{entry['key']}: {s}" for s in NEEDLES if s in json.dumps(value)]
    print(
        f"checked {len(dep.all_log_files())} log files, {checked_logs} API task logs, {checked_xcoms} XComs "
        f"for {len(NEEDLES)} secret forms"
    )
    assert checked_logs > 40
    assert checked_xcoms > 5
    assert not leaks, leaks


def test_mapped_kodo_spreads_over_both_workers(deployment: Deployment) -> None:
    dep = deployment
    if "example_pandora_kodo_mapped" not in RUNS:
        pytest.skip("needs the example runs")
    tis = [
        t
        for t in dep.task_instances("example_pandora_kodo_mapped", RUNS["example_pandora_kodo_mapped"])
        if t["task_id"] == "load_object"
    ]
    hosts = {t["map_index"]: t["hostname"] for t in tis}
    print("mapped load_object hosts:", hosts)
    assert sorted(hosts) == list(range(KODO_OBJECTS))
    assert set(hosts.values()) == set(WORKERS), hosts
    points = dep.repo_points("skm_clicks")
    print(f"skm_clicks holds {len(points)} points")
    assert len(points) == KODO_OBJECTS * KODO_LINES
    expected = {f"u{n}-{i}" for n in range(KODO_OBJECTS) for i in range(KODO_LINES)}
    assert sorted(p["user"] for p in points) == sorted(expected)
