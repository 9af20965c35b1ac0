"""Every PandoraHook call over real HTTP against the emulator: happy paths, errors and retries."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from airflow_provider_pandora.exceptions import (
    PandoraAlreadyExistsError,
    PandoraApiError,
    PandoraAuthError,
    PandoraConflictError,
    PandoraInvalidRequestError,
    PandoraNotFoundError,
    PandoraServerError,
    PandoraTooLargeError,
    PandoraValidationError,
)
from airflow_provider_pandora.hooks.pandora import PandoraHook
from airflow_provider_pandora.hooks.polling import PollPolicy
from airflow_provider_pandora.hooks.runs import JobRun, JobStatus
from airflow_provider_pandora.wire import PointError
from tests.common import CONTAINER, SCHEMA


def _hook(monkeypatch: pytest.MonkeyPatch, emulator: Any, conn_id: str = "pandora_it", **extra: Any) -> PandoraHook:
    extra.setdefault("retry_delay", 0.01)
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", emulator.connection_json(**extra))
    return PandoraHook(conn_id)


@pytest.fixture
def hook(monkeypatch: pytest.MonkeyPatch, pandora_emulator: Any) -> Iterator[PandoraHook]:
    h = _hook(monkeypatch, pandora_emulator)
    yield h
    h.close()


def _wait_for_run(hook: PandoraHook, repo: str, job: str, timeout: float = 15.0) -> JobRun:
    return hook.wait_for_job_run(repo, job, policy=PollPolicy.within(0.1, timeout))


# ---- groups ----------------------------------------------------------------------------------
def test_group_lifecycle(hook: PandoraHook):
    hook.create_group("g_life", container=CONTAINER)
    with pytest.raises(PandoraAlreadyExistsError) as dup:
        hook.create_group("g_life", container=CONTAINER)
    assert dup.value.status_code == 409
    assert dup.value.reqid
    assert hook.group_status(hook.get_group("g_life")) == "idle"
    assert "g_life" in [g["name"] for g in hook.list_groups()]
    hook.update_group("g_life", container={"type": "M32C8", "count": 2})
    assert hook.get_group("g_life")["container"]["type"] == "M32C8"
    hook.start_group("g_life")
    assert hook.group_status(hook.get_group("g_life")) == "running"
    hook.stop_group("g_life")
    assert hook.group_status(hook.get_group("g_life")) == "idle"
    assert hook.group_exists("g_life")
    hook.delete_group("g_life")
    assert not hook.group_exists("g_life")
    with pytest.raises(PandoraNotFoundError) as missing:
        hook.get_group("g_life")
    assert missing.value.code == "E18120"


def test_group_in_use_cannot_be_deleted(hook: PandoraHook):
    hook.create_group("g_used", container=CONTAINER)
    hook.create_repo("r_in_group", schema=SCHEMA, group="g_used")
    with pytest.raises(PandoraConflictError) as info:
        hook.delete_group("g_used")
    assert info.value.code == "E18215"


async def test_async_group_read_uses_the_same_signing(hook: PandoraHook):
    hook.create_group("g_async", container=CONTAINER, allocate_on_start=True)
    async with hook:
        info = await hook.aget_group("g_async")
        again = await hook.aget_group("g_async")
    assert info["name"] == again["name"] == "g_async"


# ---- repos and data ------------------------------------------------------------------------------
def test_repo_lifecycle_and_schema_extension(hook: PandoraHook):
    hook.create_repo("r_life", schema=SCHEMA)
    with pytest.raises(PandoraAlreadyExistsError) as dup:
        hook.create_repo("r_life", schema=SCHEMA)
    assert dup.value.code == "E18101"
    assert [f.key for f in hook.get_repo_schema("r_life")] == [e["key"] for e in SCHEMA]
    assert "r_life" in [r["name"] for r in hook.list_repos()]
    hook.update_repo("r_life", schema=[*SCHEMA, {"key": "extra", "valtype": "string"}])
    assert hook.get_repo_schema("r_life")[-1].key == "extra"
    hook.delete_repo("r_life")
    assert not hook.repo_exists("r_life")
    with pytest.raises(PandoraNotFoundError) as missing:
        hook.delete_repo("r_life")
    assert missing.value.code == "E18102"


def test_push_points_round_trips_typed_values(hook: PandoraHook, pandora_emulator: Any):
    hook.create_repo("r_push", schema=SCHEMA)
    at = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    points: list[dict[str, Any]] = [
        {"user": "a\tb\nc\\d", "hits": 2**62, "ratio": 0.25, "ok": True, "at": at, "tags": ["x", "y=z"]},
        {"user": "é", "meta": {"zone": "nb"}},
    ]
    result = hook.push_data("r_push", points)
    assert (result.points, result.batches) == (2, 1)
    assert result.reqids
    stored = pandora_emulator.points("r_push")
    assert stored[0]["user"] == "a\tb\nc\\d"
    assert stored[0]["hits"] == 2**62
    assert stored[0]["tags"] == ["x", "y=z"]
    assert stored[1]["meta"] == {"zone": "nb"}


def test_push_many_points_splits_batches_below_the_limit(hook: PandoraHook, pandora_emulator: Any):
    hook.create_repo("r_many", schema=[{"key": "s", "valtype": "string"}])
    points = [{"s": "x" * 1000} for _ in range(5000)]  # ~5 MB of points
    result = hook.push_data("r_many", points, gzip=True)
    assert result.batches >= 3
    assert len(pandora_emulator.points("r_many")) == 5000


def test_bad_point_is_named_before_anything_is_sent(hook: PandoraHook, pandora_emulator: Any):
    hook.create_repo("r_bad", schema=SCHEMA)
    with pytest.raises(PointError) as info:
        hook.push_data("r_bad", [{"user": "ok"}, {"user": "x", "hits": "many"}])
    assert info.value.index == 1
    assert info.value.field == "hits"
    assert pandora_emulator.points("r_bad") == []


def test_server_rejects_pre_encoded_bad_lines_whole(hook: PandoraHook, pandora_emulator: Any):
    hook.create_repo("r_raw", schema=SCHEMA)
    with pytest.raises(PandoraInvalidRequestError) as info:
        hook.push_data("r_raw", b"user=a\thits=1\nuser=b\thits=notanumber\n")
    assert info.value.code in {"E18110", "E18111"}
    assert pandora_emulator.points("r_raw") == []


def test_oversized_body_is_refused_locally(hook: PandoraHook):
    with pytest.raises(PandoraValidationError, match="below"):
        hook.push_batch("r_any", b"s=" + b"x" * (2 * 1024 * 1024) + b"\n")


def test_server_answers_413_for_bodies_over_two_mib(hook: PandoraHook):
    hook.create_repo("r_big", schema=[{"key": "s", "valtype": "string"}])
    body = b"".join(b"s=" + b"y" * 50_000 + b"\n" for _ in range(45))
    with pytest.raises(PandoraTooLargeError) as info:
        hook.request("POST", "/v2/repos/r_big/data", data=body, headers={"Content-Type": "text/plain"})
    assert info.value.status_code == 413


# ---- transforms, plugins, exports ----------------------------------------------------------------
def test_transform_lifecycle(hook: PandoraHook, pandora_emulator: Any):
    hook.create_repo("t_src", schema=SCHEMA)
    hook.create_transform(
        "t_src", "t_count", "t_dest", code="select user, hits from t_src", interval="5m", container=CONTAINER
    )
    with pytest.raises(PandoraAlreadyExistsError) as dup:
        hook.create_transform("t_src", "t_count", "t_dest", code="select user from t_src", interval="5m")
    assert dup.value.code == "E18201"
    assert hook.transform_exists("t_src", "t_count")
    assert [t["name"] for t in hook.list_transforms("t_src")] == ["t_count"]
    hook.update_transform("t_src", "t_count", interval="10m")
    assert hook.get_transform("t_src", "t_count")["interval"] == "10m"
    hook.push_data("t_src", [{"user": "u1", "hits": 3}])
    pandora_emulator.run_transforms()
    assert pandora_emulator.points("t_dest") == [{"user": "u1", "hits": 3}]
    with pytest.raises(PandoraInvalidRequestError) as into_dest:
        hook.push_data("t_dest", [{"user": "u2", "hits": 1}])
    assert into_dest.value.code == "E18223"
    with pytest.raises(PandoraApiError) as cascade:
        hook.delete_repo("t_src")
    assert cascade.value.code == "E18112"
    hook.delete_transform("t_src", "t_count")
    assert not hook.transform_exists("t_src", "t_count")


def test_bad_sql_is_rejected_by_the_server(hook: PandoraHook):
    hook.create_repo("t_sql", schema=SCHEMA)
    with pytest.raises(PandoraInvalidRequestError) as info:
        hook.create_transform("t_sql", "t_bad", "t_sql_out", code="selec nothing frm", interval="5m")
    assert info.value.code == "E18209"


def test_plugin_upload_signs_the_md5(hook: PandoraHook, tmp_path: Any):
    jar = tmp_path / "parser.jar"
    jar.write_bytes(b"PK\x03\x04 not really a jar")
    hook.upload_plugin("com.example.Parser", jar)
    assert hook.plugin_exists("com.example.Parser")
    assert "com.example.Parser" in [p["name"] for p in hook.list_plugins()]
    with pytest.raises(PandoraAlreadyExistsError) as dup:
        hook.upload_plugin("com.example.Parser", b"again")
    assert dup.value.code == "E18217"
    hook.get_plugin("com.example.Parser")
    hook.delete_plugin("com.example.Parser")
    with pytest.raises(PandoraNotFoundError) as missing:
        hook.get_plugin("com.example.Parser")
    assert missing.value.code == "E18216"


def test_plugin_md5_mismatch_is_refused(hook: PandoraHook):
    headers = {"Content-Type": "application/java-archive", "Content-MD5": "gLL29S04bTCxYd2kCqsEIQ=="}
    with pytest.raises(PandoraInvalidRequestError) as info:
        hook.request("POST", "/v2/plugins/com.example.Broken", data=b"other bytes", headers=headers)
    assert info.value.code == "E18220"


@pytest.mark.parametrize(
    ("export_type", "spec"),
    [
        ("tsdb", {"destRepoName": "tsdb_r", "series": "s", "tags": {"u": "#user"}, "fields": {"h": "#hits"}}),
        ("logDB", {"destRepoName": "logdb_r", "doc": {"user": "#user"}}),
        ("mongo", {"host": "127.0.0.1:27017", "dbName": "d", "collName": "c", "mode": "UPSERT", "doc": {"u": "#user"}}),
    ],
)
def test_recorded_exports(hook: PandoraHook, export_type: str, spec: dict[str, Any]):
    hook.create_repo("e_src", schema=SCHEMA)
    hook.create_export("e_src", "e_one", export_type=export_type, spec=spec)
    with pytest.raises(PandoraAlreadyExistsError) as dup:
        hook.create_export("e_src", "e_one", export_type=export_type, spec=spec)
    assert dup.value.code == "E18301"
    assert hook.export_exists("e_src", "e_one")
    assert [e["name"] for e in hook.list_exports("e_src")] == ["e_one"]
    hook.update_export("e_src", "e_one", spec=spec)
    assert hook.get_export("e_src", "e_one")["spec"]
    hook.delete_export("e_src", "e_one")
    with pytest.raises(PandoraNotFoundError) as missing:
        hook.get_export("e_src", "e_one")
    assert missing.value.code == "E18302"


# ---- offline jobs ----------------------------------------------------------------------------------
def test_job_runs_to_success_with_params(hook: PandoraHook, pandora_emulator: Any):
    hook.create_repo("j_src", schema=SCHEMA)
    hook.push_data("j_src", [{"user": "a", "hits": 1}, {"user": "b", "hits": 5}])
    hook.submit_job(
        "j_src",
        "j_sum",
        "j_dest",
        code="select user, hits from j_src where hits >= ${min_hits}",
        container=CONTAINER,
        scheduler={"type": "once"},
        params={"min_hits": 2},
    )
    assert hook.job_exists("j_src", "j_sum")
    hook.get_job("j_src", "j_sum")
    hook.start_job("j_src", "j_sum", params={"min_hits": 3})
    run = _wait_for_run(hook, "j_src", "j_sum")
    assert run.status is JobStatus.SUCCESS
    assert pandora_emulator.points("j_dest") == [{"user": "b", "hits": 5}]
    history = hook.get_job_history("j_src", "j_sum", page=1, size=5)
    assert history[0].status is JobStatus.SUCCESS
    assert history[0].end_time is not None


def test_failing_job_reports_its_message_and_stop_cancels(hook: PandoraHook):
    hook.create_repo("j_fail", schema=SCHEMA)
    hook.submit_job(
        "j_fail",
        "j_boom",
        "j_fail_out",
        code='-- emulator: fail="division by zero in stage 2"\nselect user from j_fail',
        container=CONTAINER,
        scheduler={"type": "once"},
    )
    hook.start_job("j_fail", "j_boom")
    run = _wait_for_run(hook, "j_fail", "j_boom")
    assert run.status is JobStatus.FAIL
    assert "division by zero" in (run.message or "")

    hook.submit_job(
        "j_fail",
        "j_slow",
        "j_slow_out",
        code="-- emulator: sleep=30\nselect user from j_fail",
        container=CONTAINER,
        scheduler={"type": "once"},
    )
    hook.start_job("j_fail", "j_slow")
    hook.stop_job("j_fail", "j_slow")
    assert _wait_for_run(hook, "j_fail", "j_slow").status is JobStatus.CANCEL


async def test_async_job_history(hook: PandoraHook):
    hook.create_repo("j_async", schema=SCHEMA)
    hook.submit_job(
        "j_async",
        "j_a",
        "j_async_out",
        code="select user from j_async",
        container=CONTAINER,
        scheduler={"type": "once"},
    )
    hook.start_job("j_async", "j_a")
    async with hook:
        for _ in range(100):
            run = await hook.aget_latest_job_run("j_async", "j_a")
            if run is not None and run.status.is_terminal:
                break
            await __import__("asyncio").sleep(0.1)
        assert run is not None
        assert run.status is JobStatus.SUCCESS
        assert await hook.aget_job("j_async", "j_a")
        assert (await hook.aget_job_history("j_async", "j_a"))[0].status is JobStatus.SUCCESS


def test_datasource_schema_reads_kodo_root(hook: PandoraHook, pandora_emulator: Any):
    bucket = pandora_emulator.kodo_root / "logs"
    (bucket / "2024").mkdir(parents=True)
    (bucket / "2024" / "a.json").write_text(json.dumps({"user": "u", "hits": 3, "ratio": 0.5}) + "\n")
    fields = hook.get_datasource_schema(bucket="logs", key_prefix="2024/", file_type="json")
    assert {f["key"]: f["valtype"] for f in fields} == {"user": "string", "hits": "long", "ratio": "float"}


# ---- auth, errors and retries ------------------------------------------------------------------------
def test_wrong_secret_key_is_a_clear_auth_error(monkeypatch: pytest.MonkeyPatch, pandora_emulator: Any):
    conn = json.loads(pandora_emulator.connection_json())
    conn["password"] = "definitely-not-the-secret"
    monkeypatch.setenv("AIRFLOW_CONN_PANDORA_WRONG", json.dumps(conn))
    hook = PandoraHook("pandora_wrong")
    with pytest.raises(PandoraAuthError) as info:
        hook.list_groups()
    assert info.value.status_code == 401
    assert "definitely-not-the-secret" not in str(info.value)
    ok, message = hook.test_connection()
    assert not ok
    assert "secret key" in message.lower()
    assert "clock" in message.lower()
    # a 401 is never retried: one request reached the server per call
    assert sum(1 for r in pandora_emulator.requests_log() if r["status"] == 401) == 2


def test_connection_test_succeeds(hook: PandoraHook):
    ok, message = hook.test_connection()
    assert ok, message


def test_idempotent_reads_are_retried_through_5xx_and_drops(hook: PandoraHook, pandora_emulator: Any):
    hook.create_group("g_retry", container=CONTAINER)
    pandora_emulator.add_fault("error", method="GET", path="/v2/groups/g_retry", status=503, count=1)
    pandora_emulator.add_fault("drop", method="GET", path="/v2/groups/g_retry", count=1)
    assert hook.get_group("g_retry")["name"] == "g_retry"
    statuses = [r["status"] for r in pandora_emulator.requests_log() if r["path"] == "/v2/groups/g_retry"]
    assert statuses[-1] == 200
    assert len(statuses) >= 2


def test_creating_post_is_not_retried(hook: PandoraHook, pandora_emulator: Any):
    pandora_emulator.add_fault("error", method="POST", path="/v2/groups/g_once", status=503, count=1)
    with pytest.raises(PandoraServerError):
        hook.create_group("g_once", container=CONTAINER)
    posts = [r for r in pandora_emulator.requests_log() if r["method"] == "POST" and r["path"] == "/v2/groups/g_once"]
    assert len(posts) == 1


def test_retries_stop_at_the_connection_limit(monkeypatch: pytest.MonkeyPatch, pandora_emulator: Any):
    hook = _hook(monkeypatch, pandora_emulator, "pandora_limit", retry_limit=2)
    pandora_emulator.add_fault("error", method="GET", path="/v2/repos", status=500, count=5)
    with pytest.raises(PandoraServerError):
        hook.list_repos()
    gets = [r for r in pandora_emulator.requests_log() if r["method"] == "GET" and r["path"] == "/v2/repos"]
    assert len(gets) == 2


def test_invalid_names_never_leave_the_client(hook: PandoraHook, pandora_emulator: Any):
    before = len(pandora_emulator.requests_log())
    with pytest.raises(PandoraValidationError) as info:
        hook.create_repo("9-bad name", schema=SCHEMA)
    assert info.value.parameter == "repo"
    assert len(pandora_emulator.requests_log()) == before


def test_server_validates_names_too(hook: PandoraHook):
    with pytest.raises(PandoraInvalidRequestError) as info:
        hook.request("POST", "/v2/repos/9bad", json_body={"region": "nb", "schema": SCHEMA})
    assert info.value.code == "E18103"


def test_repo_and_job_reads_and_deletes(hook: PandoraHook):
    hook.create_repo("rd_src", schema=SCHEMA)
    assert [entry["key"] for entry in hook.get_repo("rd_src")["schema"]] == [entry["key"] for entry in SCHEMA]
    hook.submit_job(
        "rd_src", "rd_job", "rd_out", code="select user from rd_src", container=CONTAINER, scheduler={"type": "once"}
    )
    assert hook.job_exists("rd_src", "rd_job")
    hook.delete_job("rd_src", "rd_job")
    assert not hook.job_exists("rd_src", "rd_job")
    with pytest.raises(PandoraNotFoundError):
        hook.delete_job("rd_src", "rd_job")
    with pytest.raises(PandoraNotFoundError):
        hook.get_repo("rd_missing")


async def test_async_stop_cancels_a_running_job_and_aclose_releases_the_client(hook: PandoraHook):
    hook.create_repo("as_src", schema=SCHEMA)
    hook.submit_job(
        "as_src",
        "as_job",
        "as_out",
        code="-- emulator: sleep=30\nselect user from as_src",
        container=CONTAINER,
        scheduler={"type": "once"},
    )
    hook.start_job("as_src", "as_job")
    await hook.astop_job("as_src", "as_job")
    await hook.aclose()
    assert _wait_for_run(hook, "as_src", "as_job").status is JobStatus.CANCEL
    # A closed hook opens a fresh client on the next async call.
    assert (await hook.aget_job("as_src", "as_job"))["scheduler"]["type"] == "once"
    await hook.aclose()
