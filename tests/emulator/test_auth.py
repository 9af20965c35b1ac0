"""The emulator's signature and token checks, against the independent vectors of docs/sdk-facts.md §1 (not our client).

The server's auth clock is pinned to the vectors' Date so that the exact Authorization values from the
official SDKs' algorithm (docs/sdk-facts.md §1.1 and 1.2) are sent byte for byte.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from airflow_provider_pandora import auth
from airflow_provider_pandora.emulator.testing import PandoraEmulator
from tests.common import CONTAINER
from tests.emulator.conftest import Api

DATE = "Thu, 01 Jun 2017 08:00:00 GMT"
DATE_TS = 1496304000.0
TOKEN = (
    "Pandora ak:UI18ux_2AjNGh6nzjXt9oWjrBbw=:eyJyZXNvdXJjZSI6Ii92Mi9yZXBvcy90ZXN0X3JlcG8vZGF0YSIsImV4cGlyZXMiOjQxMDI0"
    "NDQ4MDAsImNvbnRlbnRNRDUiOiIiLCJjb250ZW50VHlwZSI6InRleHQvcGxhaW4iLCJoZWFkZXJzIjoiIiwibWV0aG9kIjoiUE9TVCJ9"
)


@pytest.fixture
def vector_emulator() -> Iterator[PandoraEmulator]:
    with PandoraEmulator(credentials={"ak": "sk"}) as emulator:
        emulator.server.engine.auth_clock = lambda: DATE_TS
        yield emulator


def send(emulator: PandoraEmulator, method: str, path: str, authorization: str, **kwargs: object) -> requests.Response:
    headers = {"Date": DATE, "Authorization": authorization, **kwargs.pop("headers", {})}  # type: ignore[dict-item]
    return requests.request(method, emulator.url + path, headers=headers, timeout=10, **kwargs)  # type: ignore[arg-type]


def signed(method: str, path: str, content_type: str = "") -> str:
    return auth.authorization("ak", "sk", method, path, date=DATE, content_type=content_type)


def test_sdk_vectors_are_accepted_byte_for_byte(vector_emulator: PandoraEmulator):
    em = vector_emulator
    # 1: GET /v2/repos
    assert send(em, "GET", "/v2/repos", "Pandora ak:V99-jl7J4r0y58krNFPkXgVXz_Y=").status_code == 200
    # 3: POST /v2/repos/test_repo, application/json (the body is not signed)
    body = b'{"region": "nb", "schema": [{"key": "s", "valtype": "string"}]}'
    created = send(
        em,
        "POST",
        "/v2/repos/test_repo",
        "Pandora ak:Td7AsYOTuIS_TkNP25-Cyxgj20A=",
        headers={"Content-Type": "application/json"},
        data=body,
    )
    assert created.status_code == 200, created.text
    # 2: the query string (?tags=) is never signed
    pushed = send(
        em,
        "POST",
        "/v2/repos/test_repo/data?tags=",
        "Pandora ak:KpbOMP47BY_VFX6ABttO93KbOIU=",
        headers={"Content-Type": "text/plain"},
        data=b"s=hello\n",
    )
    assert pushed.status_code == 200, pushed.text
    # 4: plugin upload signs Content-MD5 (of "qiniu")
    plugin = send(
        em,
        "POST",
        "/v2/plugins/com.qiniu.MyParser",
        "Pandora ak:sbzY7wcSvkB6AlAkk703GfiRNH4=",
        headers={"Content-Type": "application/java-archive", "Content-MD5": "gLL29S04bTCxYd2kCqsEIQ=="},
        data=b"qiniu",
    )
    assert plugin.status_code == 200, plugin.text
    # 5: X-Qiniu-* headers are signed, sorted, lower-cased
    group = send(
        em,
        "POST",
        "/v2/groups/g1",
        signed("POST", "/v2/groups/g1", "application/json"),
        headers={"Content-Type": "application/json"},
        json={"region": "nb", "container": CONTAINER},
    )
    assert group.status_code == 200, group.text
    updated = send(
        em,
        "PUT",
        "/v2/groups/g1",
        "Pandora ak:-PwdKbCM65nMIcqVQiq-ATayCK0=",
        headers={"Content-Type": "application/json", "X-Qiniu-Zeta": "z", "X-Qiniu-Alpha": "a b"},
        data=b'{"container": {"type": "M32C8", "count": 2}}',
    )
    assert updated.status_code == 200, updated.text
    assert em.points("test_repo") == [{"s": "hello"}]


def test_sdk_token_vector_pushes_without_a_date(vector_emulator: PandoraEmulator):
    em = vector_emulator
    assert (
        send(
            em,
            "POST",
            "/v2/repos/test_repo",
            signed("POST", "/v2/repos/test_repo", "application/json"),
            headers={"Content-Type": "application/json"},
            json={"region": "nb", "schema": [{"key": "s", "valtype": "string"}]},
        ).status_code
        == 200
    )
    response = requests.post(
        em.url + "/v2/repos/test_repo/data",
        data=b"s=via-token\n",
        headers={"Authorization": TOKEN, "Content-Type": "text/plain"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    assert em.points("test_repo") == [{"s": "via-token"}]
    # bound to its resource and method
    other = requests.get(em.url + "/v2/repos/test_repo", headers={"Authorization": TOKEN}, timeout=10)
    assert other.status_code == 401


def test_token_expiry_is_checked_against_the_server_clock(vector_emulator: PandoraEmulator):
    vector_emulator.server.engine.auth_clock = lambda: 4102444800 + 1.0
    response = requests.post(
        vector_emulator.url + "/v2/repos/test_repo/data",
        data=b"s=late\n",
        headers={"Authorization": TOKEN, "Content-Type": "text/plain"},
        timeout=10,
    )
    assert response.status_code == 401
    assert response.json() == {"error": "bad token"}
    assert response.headers["X-Emulator-Reason"] == "token expired"


@pytest.mark.parametrize(
    "authorization",
    [
        "Pandora ak:V99-jl7J4r0y58krNFPkXgVXz_X=",  # one character off
        "Pandora nobody:V99-jl7J4r0y58krNFPkXgVXz_Y=",  # unknown access key
        "Pandora ak:",  # malformed
        "Bearer V99-jl7J4r0y58krNFPkXgVXz_Y=",  # wrong scheme
        TOKEN[:-4] + "fQ==",  # tampered token description
    ],
)
def test_bad_credentials_are_the_services_401_bad_token(vector_emulator: PandoraEmulator, authorization: str):
    """The documented answer, with no E-code (the Go SDK maps a 401 without a known code to UnauthorizedError)."""
    response = send(vector_emulator, "GET", "/v2/repos", authorization)
    assert response.status_code == 401
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["X-Reqid"]
    assert response.json() == {"error": "bad token"}
    reason = response.headers["X-Emulator-Reason"]  # why, for humans; the same in the request log
    assert reason
    assert [e.get("reason") for e in vector_emulator.requests_log()][-1] == reason
    assert authorization.split(":")[-1] not in reason or authorization.endswith(":")


def test_signature_covers_method_path_and_content_type(vector_emulator: PandoraEmulator):
    good = "Pandora ak:V99-jl7J4r0y58krNFPkXgVXz_Y="  # for GET /v2/repos, no content type
    assert send(vector_emulator, "GET", "/v2/groups", good).status_code == 401
    assert send(vector_emulator, "DELETE", "/v2/repos", good).status_code == 401
    assert send(vector_emulator, "GET", "/v2/repos", good, headers={"Content-Type": "text/plain"}).status_code == 401
    # an X-Qiniu-* header that was not signed changes the string to sign
    assert send(vector_emulator, "GET", "/v2/repos", good, headers={"X-Qiniu-Extra": "1"}).status_code == 401
    # headers that are not signed (docs/sdk-facts.md §1.1) do not
    extra = {"User-Agent": "x", "X-Resource-Owner": "1", "Content-Encoding": "identity"}
    assert send(vector_emulator, "GET", "/v2/repos", good, headers=extra).status_code == 200


@pytest.mark.parametrize(("offset", "status"), [(899, 200), (-899, 200), (901, 401), (-901, 401)])
def test_date_must_be_within_fifteen_minutes(vector_emulator: PandoraEmulator, offset: float, status: int):
    vector_emulator.server.engine.auth_clock = lambda: DATE_TS + offset
    assert send(vector_emulator, "GET", "/v2/repos", "Pandora ak:V99-jl7J4r0y58krNFPkXgVXz_Y=").status_code == status


def test_missing_or_unreadable_date_is_401(vector_emulator: PandoraEmulator):
    url = vector_emulator.url + "/v2/repos"
    authorization = "Pandora ak:V99-jl7J4r0y58krNFPkXgVXz_Y="
    assert requests.get(url, headers={"Authorization": authorization}, timeout=10).status_code == 401
    bad = {"Authorization": authorization, "Date": "yesterday"}
    assert requests.get(url, headers=bad, timeout=10).status_code == 401


def test_several_key_pairs_and_admin_endpoints_need_no_signature():
    with PandoraEmulator(credentials={"ak1": "sk1", "ak2": "sk2"}) as em:
        for ak, sk in (("ak1", "sk1"), ("ak2", "sk2")):
            headers = auth.sign_headers(ak, sk, "GET", em.url + "/v2/groups", {})
            assert requests.get(em.url + "/v2/groups", headers=headers, timeout=10).status_code == 200
        headers = auth.sign_headers("ak1", "sk2", "GET", em.url + "/v2/groups", {})
        assert requests.get(em.url + "/v2/groups", headers=headers, timeout=10).status_code == 401
        assert requests.get(em.url + "/_emulator/stats", timeout=10).json()["requests"] == 3


def test_request_log_never_holds_the_authorization(api: Api, pandora_emulator: PandoraEmulator):
    api.ok(api.get("/v2/repos"))
    text = requests.get(pandora_emulator.url + "/_emulator/requests", timeout=10).text
    assert "Pandora " not in text
    assert pandora_emulator.secret_key not in text
    entry = pandora_emulator.requests_log()[-1]
    assert {"method", "path", "status", "reqid", "user_agent"} <= set(entry)
    assert (entry["method"], entry["path"], entry["status"]) == ("GET", "/v2/repos", 200)
