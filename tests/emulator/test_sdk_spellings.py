"""What Qiniu's official SDKs and later docs send, answered as the service does (issue 18, items 3 and 4).

* The quickstart, flow.md and the Go SDK's pipeline tests read the source table as ``stream``: a transform's
  or job's SQL may say ``from stream`` as well as ``from <repo>``.
* An export created without ``whence`` is shown without one (it still starts at the oldest point).
"""

from __future__ import annotations

from typing import Any

from airflow_provider_pandora.emulator.testing import PandoraEmulator
from tests.common import CONTAINER
from tests.emulator.conftest import Api, error_code
from tests.emulator.test_execution import LONGS, finished, history, wait_for


# ---- from stream -----------------------------------------------------------------------------------
def test_a_transform_reads_from_stream(api: Api, pandora_emulator: PandoraEmulator) -> None:
    api.repo("src", LONGS)
    api.transform("src", "t", "dest", "select user, hits * 2 as double_hits from stream where hits > 1")
    api.ok(api.push("src", "user=a\thits=1\nuser=b\thits=5\n"))
    assert pandora_emulator.run_transforms() == 1
    assert pandora_emulator.points("dest") == [{"user": "b", "double_hits": 10}]
    # ...and from the repo's own name, as before, in any case
    api.transform("src", "t2", "dest2", "SELECT user FROM SRC")
    api.ok(api.push("src", "user=c\thits=3\n"))
    pandora_emulator.run_transforms()
    assert pandora_emulator.points("dest2") == [{"user": "c"}]


def test_a_job_reads_from_stream(api: Api, pandora_emulator: PandoraEmulator) -> None:
    api.repo("src", LONGS)
    api.ok(api.push("src", "user=a\thits=1\nuser=b\thits=5\n"))
    api.job(
        "src", "j", "out", "select user, hits from stream where hits > ${min}", params=[{"name": "min", "value": "2"}]
    )
    api.ok(api.post("/v2/repos/src/jobs/j/actions/start", {}))
    run = wait_for(lambda: finished(api, "src", "j"))
    assert run["status"] == "Success", run
    assert [f["key"] for f in api.ok(api.get("/v2/repos/out"))["schema"]] == ["user", "hits"]
    assert pandora_emulator.points("out") == [{"user": "b", "hits": 5}]


def test_stream_columns_are_checked_and_other_tables_still_refused(api: Api) -> None:
    api.repo("src", LONGS)
    unknown = api.post("/v2/repos/src/transforms/t/to/d", {"mode": "sql", "code": "select nope from stream"})
    assert unknown.status_code == 400
    assert error_code(unknown) == "E18209"
    assert "nope" in unknown.json()["error"]
    other = api.post("/v2/repos/src/transforms/t/to/d", {"mode": "sql", "code": "select user from elsewhere"})
    assert error_code(other) == "E18209"
    assert "read from the source repo's name or from 'stream'" in other.json()["error"]


def test_a_repo_named_stream_is_read_as_itself(api: Api, pandora_emulator: PandoraEmulator) -> None:
    api.repo("stream", LONGS)
    api.transform("stream", "t", "dest", "select user from stream")
    api.ok(api.push("stream", "user=s\thits=1\n"))
    pandora_emulator.run_transforms()
    assert pandora_emulator.points("dest") == [{"user": "s"}]


# ---- whence of an export ---------------------------------------------------------------------------
def _export(api: Api, name: str, **body: Any) -> dict[str, Any]:
    api.export("src", name, "logdb", {"destRepoName": "logs"}, **body)
    return api.ok(api.get(f"/v2/repos/src/exports/{name}"))  # type: ignore[no-any-return]


def test_an_export_without_whence_is_echoed_without_one_and_starts_at_the_oldest(
    api: Api, pandora_emulator: PandoraEmulator
) -> None:
    api.repo("src", LONGS)
    api.ok(api.push("src", "user=before\thits=1\n"))
    shown = _export(api, "plain")
    assert "whence" not in shown
    assert [e.get("whence", "absent") for e in api.ok(api.get("/v2/repos/src/exports"))["exports"]] == ["absent"]
    pandora_emulator.deliver_exports()
    assert pandora_emulator.export_status("src", "plain")["delivered"] == 1  # the point pushed before it
    # acting as oldest: updating with whence "oldest" is no change, "newest" is
    assert api.put("/v2/repos/src/exports/plain", {"spec": {"destRepoName": "logs"}, "whence": "oldest"}).ok
    changed = api.put("/v2/repos/src/exports/plain", {"spec": {"destRepoName": "logs"}, "whence": "newest"})
    assert error_code(changed) == "E18305"
    assert "whence" not in api.ok(api.get("/v2/repos/src/exports/plain"))


def test_an_export_with_whence_is_echoed_as_sent(api: Api) -> None:
    api.repo("src", LONGS)
    assert _export(api, "old", whence="oldest")["whence"] == "oldest"
    assert _export(api, "new", whence="newest")["whence"] == "newest"


# ---- emulator directives where users write them -----------------------------------------------------
def test_a_trailing_sleep_directive_keeps_a_job_running(api: Api) -> None:
    api.repo("src", LONGS)
    api.job("src", "slow", "out", "select user from src -- emulator: sleep=30")
    api.ok(api.post("/v2/repos/src/jobs/slow/actions/start", {}))
    assert history(api, "src", "slow")[0]["status"] == "Running"  # it used to finish at once
    api.ok(api.post("/v2/repos/src/jobs/slow/actions/stop"))
    body = {"code": "select user from src -- emulator sleep=3", "container": CONTAINER, "scheduler": {"type": "once"}}
    misspelt = api.post("/v2/repos/src/jobs/bad/to/out2", body)
    assert error_code(misspelt) == "E18209"
    assert '-- emulator: sleep=3 fail=\\"message\\"' in misspelt.text
