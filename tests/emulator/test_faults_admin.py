"""Injected faults (error, drop, delay, commit_then_error) and the admin endpoints, over real HTTP."""

from __future__ import annotations

import time

import pytest
import requests

from airflow_provider_pandora.emulator.core.faults import Fault
from airflow_provider_pandora.emulator.testing import PandoraEmulator
from tests.emulator.conftest import Api, error_code


def admin(emulator: PandoraEmulator, method: str, path: str, body: object = None) -> requests.Response:
    return requests.request(method, emulator.url + "/_emulator" + path, json=body, timeout=10)


def test_error_fault_answers_its_status_count_times_then_stops(api: Api, pandora_emulator: PandoraEmulator):
    pandora_emulator.add_fault("error", method="GET", path="/v2/groups", status=503, count=2)
    first, second, third = (api.get("/v2/groups") for _ in range(3))
    assert (first.status_code, second.status_code, third.status_code) == (503, 503, 200)
    assert error_code(first) == "E9000"
    assert [r["fault"] for r in pandora_emulator.requests_log() if "fault" in r] == ["error", "error"]


def test_error_fault_does_nothing(api: Api, pandora_emulator: PandoraEmulator):
    pandora_emulator.add_fault("error", method="POST", path="/v2/groups/", count=1)
    assert api.post("/v2/groups/g", {"region": "nb", "container": {"type": "M16C4", "count": 1}}).status_code == 503
    assert api.get("/v2/groups/g").status_code == 404


def test_commit_then_error_applies_the_request_then_fails(api: Api, pandora_emulator: PandoraEmulator):
    api.repo("r", [{"key": "s", "valtype": "string"}])
    pandora_emulator.add_fault("commit_then_error", method="POST", path="/v2/repos/r/data", count=1)
    response = api.push("r", "s=once\n")
    assert response.status_code == 503
    assert error_code(response) == "E9000"
    assert pandora_emulator.points("r") == [{"s": "once"}]  # a client that retries now duplicates it


def test_drop_closes_the_connection_without_an_answer(api: Api, pandora_emulator: PandoraEmulator):
    pandora_emulator.add_fault("drop", path="/v2/repos", count=1)
    with pytest.raises(requests.ConnectionError):
        api.get("/v2/repos")
    assert api.get("/v2/repos").status_code == 200
    dropped = [r for r in pandora_emulator.requests_log() if r.get("fault") == "drop"]
    assert dropped[0]["status"] == 0


def test_delay_then_normal_answer(api: Api, pandora_emulator: PandoraEmulator):
    pandora_emulator.add_fault("delay", method="GET", path="/v2/groups", delay_s=0.3, count=1)
    started = time.monotonic()
    assert api.get("/v2/groups").status_code == 200
    assert time.monotonic() - started >= 0.3
    pandora_emulator.add_fault("delay", path="/v2/groups", delay_s=1.0, count=1)
    with pytest.raises(requests.Timeout):
        api.session.get(pandora_emulator.url + "/v2/groups", timeout=0.2)


def test_path_regex_rate_and_method_matching(api: Api, pandora_emulator: PandoraEmulator):
    pandora_emulator.add_fault("error", path=r"/v2/repos/[a-z]+/data", status=500, rate=1.0)
    api.repo("abc", [{"key": "s", "valtype": "string"}])  # POST /v2/repos/abc: no match
    assert api.push("abc", "s=x\n").status_code == 500
    assert api.push("abc", "s=x\n").status_code == 500  # no count: until cleared
    pandora_emulator.clear_faults()
    assert api.push("abc", "s=x\n").status_code == 200
    pandora_emulator.add_fault("error", method="DELETE", count=1)
    assert api.get("/v2/repos/abc").status_code == 200


@pytest.mark.parametrize(
    "bad",
    [{"action": "explode"}, {"action": "error", "count": 0}, {"action": "delay"}, {"action": "error", "rate": 2}],
)
def test_fault_validation(bad: dict[str, object], pandora_emulator: PandoraEmulator):
    response = admin(pandora_emulator, "POST", "/faults", bad)
    assert response.status_code == 400
    assert error_code(response) == "E18007"
    with pytest.raises(ValueError, match=r"\w"):
        Fault.from_dict(bad)


def test_faults_over_http(api: Api, pandora_emulator: PandoraEmulator):
    added = admin(
        pandora_emulator, "POST", "/faults", {"method": "GET", "path": "/v2/groups", "action": "error", "status": 502}
    )
    assert added.json()["action"] == "error"
    assert admin(pandora_emulator, "GET", "/faults").json()["faults"][0]["status"] == 502
    assert api.get("/v2/groups").status_code == 502
    assert admin(pandora_emulator, "DELETE", "/faults").status_code == 200
    assert api.get("/v2/groups").status_code == 200
    # admin calls are never faulted
    admin(pandora_emulator, "POST", "/faults", {"action": "drop"})
    assert admin(pandora_emulator, "GET", "/stats").status_code == 200


def test_requests_stats_and_reset_over_http(api: Api, pandora_emulator: PandoraEmulator):
    api.repo("r", [{"key": "s", "valtype": "string"}])
    api.ok(api.push("r", "s=a\ns=b\n"))
    log = admin(pandora_emulator, "GET", "/requests").json()["requests"]
    assert [(r["method"], r["path"], r["status"]) for r in log] == [
        ("POST", "/v2/repos/r", 200),
        ("POST", "/v2/repos/r/data", 200),
    ]
    assert log[1]["reqid"]
    stats = admin(pandora_emulator, "GET", "/stats").json()
    assert (stats["points"], stats["bytes"], stats["batches"], stats["requests"]) == (2, 8, 1, 2)
    assert admin(pandora_emulator, "POST", "/reset").status_code == 200
    assert api.get("/v2/repos/r").status_code == 404
    assert admin(pandora_emulator, "GET", "/stats").json()["points"] == 0
    assert admin(pandora_emulator, "GET", "/health").json()["ok"] is True


def test_reset_in_process_forgets_everything(api: Api, pandora_emulator: PandoraEmulator):
    api.group("g")
    pandora_emulator.add_fault("error", path="/v2/x")
    pandora_emulator.reset()
    assert api.ok(api.get("/v2/groups")) == {"groups": []}
    assert pandora_emulator.requests_log()[-1]["path"] == "/v2/groups"
    assert admin(pandora_emulator, "GET", "/faults").json() == {"faults": []}
